/**
 * Shared helpers of the CMS tests: write a plan to a Buffer, open and read a file completely, and a
 * synthetic Part 10-shaped content (preamble, DICM, then bytes) of any length.
 */
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { openSecureFile, type DecryptionKeys, type SecureFileResult } from '../../../src/security/cms/reader.js';
import type { SecureFilePlan } from '../../../src/security/cms/writer.js';
import { seededRandom } from '../../../src/util/random.js';

export async function* chunks(content: Buffer, size = 1 << 16): AsyncGenerator<Buffer> {
  for (let i = 0; i < content.length; i += size) yield content.subarray(i, Math.min(content.length, i + size));
}

export async function writeAll(plan: SecureFilePlan, content: Buffer, chunkSize?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of plan.stream(chunks(content, chunkSize))) parts.push(b);
  return Buffer.concat(parts);
}

export async function readAll(file: Buffer, keys: DecryptionKeys): Promise<{ content: Buffer; result: SecureFileResult }> {
  const opened = await openSecureFile(new BufferReader(file, 'test.p7m'), keys);
  const parts: Buffer[] = [];
  for await (const b of opened.content) parts.push(b);
  return { content: Buffer.concat(parts), result: await opened.result };
}

/** Preamble, DICM and deterministic filler: shaped like a Part 10 file, which is all CMS sees. */
export function part10Like(length: number, seed = 'content'): Buffer {
  const b = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), seededRandom(seed).bytes(Math.max(0, length - 132))]);
  return b.subarray(0, length);
}

export { expectCode } from '../../helpers/errors.js';
