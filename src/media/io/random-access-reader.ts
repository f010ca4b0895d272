/**
 * One way to read bytes at any position of a file, an image or a member of a container. Every reader
 * of media and files goes through it, so that offsets are checked in one place and tests can count
 * what was read.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { DcmsafeError } from '../../errors/index.js';

export interface RandomAccessReader {
  /** Total size in bytes. */
  readonly size: number;
  /** A name for messages (a path, or a path inside a container). */
  readonly name: string;
  /**
   * Reads `length` bytes at `position`. Fewer bytes come back only at the end of the data; reading at
   * or past the end gives an empty buffer.
   */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Counts what a reader was asked for: the proof that scanning skips pixel data. */
/**
 * The checked length of a read of `length` bytes at `position` of something of `size` bytes: a
 * RangeError for a negative or unsafe argument (a bug, not bad input), fewer bytes at the end.
 */
export function readableLength(position: number, length: number, size: number, name: string): number {
  if (!Number.isSafeInteger(position) || position < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`bad read ${position}+${length} of ${name}`);
  }
  return Math.max(0, Math.min(length, size - position));
}

/** `n` bytes from `position` through `readInto` (a positional read), looping over short reads; fewer if the file shrank. */
export async function readFully(n: number, position: number, readInto: (buf: Buffer, offset: number, length: number, position: number) => Promise<number>): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(n);
  const done = await fillFully(buf, n, position, readInto);
  return done === n ? buf : buf.subarray(0, done);
}

/** Reads `n` bytes from `position` into the start of `buf`, looping over short reads; returns how many (fewer if the file shrank). */
export async function fillFully(buf: Buffer, n: number, position: number, readInto: (buf: Buffer, offset: number, length: number, position: number) => Promise<number>): Promise<number> {
  if (n > buf.length) throw new RangeError(`read of ${n} bytes into a buffer of ${buf.length}`);
  let done = 0;
  while (done < n) {
    const got = await readInto(buf, done, n - done, position + done);
    if (got === 0) break; // the file shrank under us
    done += got;
  }
  return done;
}

/** A reader that can also read into a buffer of the caller's (one the caller reuses from file to file). */
export interface ReadsInto {
  /** Reads up to `length` bytes at `position` into the start of `buf`; fewer only at the end. Returns how many. */
  readInto(buf: Buffer, position: number, length: number): Promise<number>;
}

export function readsInto(reader: RandomAccessReader): reader is RandomAccessReader & ReadsInto {
  return typeof (reader as Partial<ReadsInto>).readInto === 'function';
}

/**
 * `length` bytes from `position` of `reader` into the start of `buf`, as a view of `buf` (fewer at the
 * end): read in place when the reader can, else read and copied.
 */
export async function readIntoBuffer(reader: RandomAccessReader, buf: Buffer, position: number, length: number): Promise<Buffer> {
  if (readsInto(reader)) return buf.subarray(0, await reader.readInto(buf, position, length));
  const got = await reader.read(position, length);
  if (got.length > buf.length) throw new RangeError(`read of ${got.length} bytes into a buffer of ${buf.length}`);
  got.copy(buf, 0);
  return buf.subarray(0, got.length);
}

export interface ReadStats {
  bytesRead: number;
  reads: number;
}

export class FileReader implements RandomAccessReader {
  readonly stats: ReadStats = { bytesRead: 0, reads: 0 };

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  static async open(path: string): Promise<FileReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new DcmsafeError('INPUT_NOT_FOUND', `cannot open ${path}: ${err.code ?? err.message}`, { file: path }, { cause: e });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new DcmsafeError('INPUT_NOT_FOUND', `${path} is not a regular file`, { file: path });
      return new FileReader(handle, st.size, path);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    const n = readableLength(position, length, this.size, this.name);
    const buf = await readFully(n, position, async (b, off, len, pos) => (await this.handle.read(b, off, len, pos)).bytesRead);
    this.stats.bytesRead += buf.length;
    this.stats.reads += 1;
    return buf;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * A reader over bytes already in memory (small files, tests, decrypted content). With `declaredSize`
 * it stands for a longer stream of which only the first bytes are held (the header of a decrypted
 * file whose pixel data was only hashed): `size` is the stream's, reads past the held bytes come back short.
 */
export class BufferReader implements RandomAccessReader {
  readonly stats: ReadStats = { bytesRead: 0, reads: 0 };

  constructor(
    private readonly bytes: Uint8Array,
    readonly name = '<memory>',
    private readonly declaredSize?: number,
  ) {}

  get size(): number {
    return Math.max(this.declaredSize ?? 0, this.bytes.length);
  }

  read(position: number, length: number): Promise<Buffer> {
    const start = Math.min(position, this.bytes.length);
    const end = Math.min(position + length, this.bytes.length);
    this.stats.bytesRead += end - start;
    this.stats.reads += 1;
    return Promise.resolve(Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, end - start));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Streams `length` bytes from `position` in chunks, for copying without holding the whole value. */
export async function* readChunks(reader: RandomAccessReader, position: number, length: number, chunkSize = 1 << 20): AsyncGenerator<Buffer> {
  let pos = position;
  const end = position + length;
  while (pos < end) {
    const chunk = await reader.read(pos, Math.min(chunkSize, end - pos));
    if (chunk.length === 0) {
      throw new DcmsafeError('PART10_TRUNCATED', `${reader.name} ends at ${pos}, ${end - pos} bytes short`, { file: reader.name, offset: pos });
    }
    yield chunk;
    pos += chunk.length;
  }
}
