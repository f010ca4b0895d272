/**
 * Writing a laid-out medium image (ISO 9660, FAT32, ZIP) to a file: streamed to a temporary name
 * beside the target and renamed at the end, so an interrupted run leaves no image that looks whole.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DcmsafeError } from '../errors/index.js';

export async function checkOutputFile(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (st) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${out} exists; dcmsafe does not overwrite images`, { file: out });
  const dir = await stat(path.dirname(path.resolve(out))).catch(() => undefined);
  if (!dir?.isDirectory()) throw new DcmsafeError('INPUT_NOT_FOUND', `the folder of ${out} does not exist`, { file: out });
}

/** Streams `chunks` into `out`; returns the bytes written, which must be `expected` when given. */
export async function writeImageFile(out: string, chunks: AsyncIterable<Buffer>, suffix: string, onProgress?: (bytes: number) => void, expected?: number): Promise<number> {
  await checkOutputFile(out);
  const partial = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.partial-${suffix}`);
  let written = 0;
  let reported = 0;
  const counted = Readable.from(
    (async function* () {
      for await (const c of chunks) {
        written += c.length;
        if (onProgress && written - reported >= 64 << 20) {
          reported = written;
          onProgress(written);
        }
        yield c;
      }
    })(),
  );
  try {
    await pipeline(counted, createWriteStream(partial, { flags: 'wx' }));
    if (expected !== undefined && written !== expected) {
      throw new DcmsafeError('INTERNAL', `${out}: wrote ${written} bytes, planned ${expected}`, { file: out });
    }
    await rename(partial, out);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  onProgress?.(written);
  return written;
}
