/** Shared helpers of the ZIP tests: files to put in ZIPs, and the ZIP bytes written to disk. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { encodeFileMeta } from '../../../src/dicom/part10/writer.js';
import type { MediaFile } from '../../../src/media/media-file.js';
import type { ZipVolume } from '../../../src/media/zip/index.js';

export const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** Deterministic, moderately compressible bytes (a smooth 16-bit signal with a little noise, like CT pixels). */
export function signal(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i + 1 < size; i += 2) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const v = 1000 + Math.round(400 * Math.sin(i / 4000)) + ((x >>> 24) & 0x0f);
    b.writeUInt16LE(v, i);
  }
  return b;
}

/** A Part 10 file: preamble, DICM, File Meta Information naming `ts`, then `body` as the data set. */
export function part10(ts: string, body: Buffer, sop = '1.2.3.4'): Buffer {
  return Buffer.concat([encodeFileMeta({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: sop, transferSyntaxUID: ts }), body]);
}

/** The first bytes of a Secure DICOM File: ContentInfo SEQUENCE, envelopedData OID, then anything. */
export function secureFile(size: number): Buffer {
  const head = Buffer.from([0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80]);
  return Buffer.concat([head, signal(size - head.length, 7)]);
}

export interface FileEvent {
  readonly event: 'open' | 'close';
  readonly name: string;
}

/** A MediaFile over `bytes`, yielded in `chunk`-byte pieces, that logs when it is opened and closed. */
export function loggedFile(path: string[], bytes: Buffer, log: FileEvent[], extra: { compressible?: boolean; chunk?: number; lie?: number } = {}): MediaFile & { compressible?: boolean } {
  const name = path.join('/');
  const chunk = extra.chunk ?? 16 * 1024;
  return {
    path,
    size: bytes.length + (extra.lie ?? 0),
    ...(extra.compressible === undefined ? {} : { compressible: extra.compressible }),
    open: () => {
      log.push({ event: 'open', name });
      return Promise.resolve({
        stream: (async function* () {
          for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
        })(),
        close: () => {
          log.push({ event: 'close', name });
          return Promise.resolve();
        },
      });
    },
  };
}

/** A `size`-byte MediaFile generated on the fly in 64 KiB pieces (never whole in memory). */
export function generatedFile(path: string[], size: number, seed = 3): MediaFile {
  return {
    path,
    size,
    open: () =>
      Promise.resolve({
        stream: generate(size, seed),
        close: () => Promise.resolve(),
      }),
  };
}

export async function* generate(size: number, seed = 3): AsyncGenerator<Buffer> {
  const piece = 64 * 1024;
  for (let at = 0, n = 0; at < size; at += piece, n++) {
    yield signal(Math.min(piece, size - at), seed + n);
  }
}

export async function sha256(chunks: AsyncIterable<Buffer>): Promise<string> {
  const h = createHash('sha256');
  for await (const c of chunks) h.update(c);
  return h.digest('hex');
}

export async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

export async function writeTo(file: string, chunks: AsyncIterable<Buffer>): Promise<void> {
  await pipeline(Readable.from(chunks), createWriteStream(file));
}

/** Every file entry of a volume: path → bytes. */
export async function readAll(volume: ZipVolume): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of volume.entries) {
    if (e.isDirectory) continue;
    out.set(e.path.join('/'), await collect(await volume.openFile(e)));
  }
  return out;
}
