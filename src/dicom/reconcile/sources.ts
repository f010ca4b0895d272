/**
 * Forward-only byte sources for rewriting a Part 10 file (PS3.10 §7.1) that may come straight out
 * of a decryption stream (PS3.10 §7.4): nothing here seeks back, so a 1 GB file passes through
 * with a bounded amount in memory.
 *
 *   IterableByteSource   a ByteSource over an async iterator of chunks (decrypted content, a socket)
 *   remainingChunks      what is left of a source, as the input of an InflateByteSource (part10/byte-source.ts)
 *                        for a deflated data set (PS3.5 §A.5)
 *   RecordingByteSource  keeps a copy of the bytes that pass while recording: the "tape" from which
 *                        values the parser does not load (bulk values, encapsulated fragments inside
 *                        sequences) are taken, since a stream cannot be read twice
 */
import { DcmsafeError } from '../../errors/index.js';
import { ByteSource, ChunkedByteSource } from '../part10/byte-source.js';

/** Size of the reads that stream values through. */
export const STREAM_CHUNK = 1 << 20;

/** Most bytes a recording pull takes beyond what the parser asked for, when they are already buffered. */
const RECORD_AHEAD = 16 * 1024;

/** A ByteSource over chunks as they come: decrypted content, a network stream, a file read stream. */
export class IterableByteSource extends ChunkedByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private ended = false;

  constructor(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    name: string,
    /** Total length when the producer knows it: lengths running past it are then truncation. */
    private readonly length?: number,
  ) {
    super(name, 0);
    this.iterator = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : toAsync(chunks[Symbol.iterator]());
  }

  get knownLength(): number | undefined {
    return this.length;
  }

  protected async nextChunk(): Promise<Buffer | null> {
    while (!this.ended) {
      const r = await this.iterator.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const u8 = r.value;
      if (u8.length > 0) return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.length);
    }
    return null;
  }

  /** Tells the producer we are done (a decryptor can then release its resources). */
  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }
}

function toAsync(it: Iterator<Uint8Array>): AsyncIterator<Uint8Array> {
  return { next: () => Promise.resolve(it.next()) };
}

/**
 * The bytes of `src` from its current position to its end, in chunks of up to STREAM_CHUNK: the
 * compressed input of an InflateByteSource for a deflated data set (PS3.5 §A.5) read from another
 * source. Positions of the inflated source count from 0, the first inflated byte, as the header
 * reader does.
 */
export async function* remainingChunks(src: ByteSource): AsyncGenerator<Buffer> {
  while (!(await src.atEnd())) yield await src.readSome(STREAM_CHUNK);
}

/**
 * Passes the bytes of `inner` through and, while recording, keeps a copy of each one consumed, up
 * to `limit` bytes. While recording it asks `inner` for what the reader needs, plus at most
 * RECORD_AHEAD bytes that `inner` already holds, so the tape holds the header and not a large
 * look-ahead into the pixel data; otherwise it reads in large chunks.
 */
export class RecordingByteSource extends ByteSource {
  private recording = false;
  private tapeStart = 0;
  private tapeLength = 0;
  private tapeChunks: Buffer[] = [];
  private tape: Buffer | undefined;

  constructor(
    private readonly inner: ByteSource,
    private readonly limit: number,
  ) {
    super(inner.name, inner.position);
  }

  get knownLength(): number | undefined {
    return this.inner.knownLength;
  }

  /** Starts a new tape at the current position (bytes already buffered here are on it). */
  startRecording(): void {
    this.recording = true;
    this.tapeStart = this.position;
    this.tapeChunks = [];
    this.tapeLength = 0;
    this.tape = undefined;
    if (this.buffered > 0) this.record(this.peek(this.buffered));
  }

  /** Stops recording; the tape stays readable until the next startRecording or dropTape. */
  stopRecording(): void {
    this.recording = false;
  }

  dropTape(): void {
    this.recording = false;
    this.tapeChunks = [];
    this.tape = undefined;
    this.tapeLength = 0;
  }

  /** `length` recorded bytes from stream position `offset` (a view of the tape). */
  slice(offset: number, length: number): Buffer {
    const from = offset - this.tapeStart;
    if (from < 0 || from + length > this.tapeLength) {
      throw new DcmsafeError('INTERNAL', `${this.name}: bytes ${offset}+${length} are not on the tape (${this.tapeStart}+${this.tapeLength})`, { file: this.name, offset });
    }
    if (!this.tape || this.tape.length !== this.tapeLength) {
      this.tape = Buffer.concat(this.tapeChunks, this.tapeLength);
      this.tapeChunks = [this.tape];
    }
    return this.tape.subarray(from, from + length);
  }

  /** Puts a copy of `bytes` (which may be a view of a buffer reused later) on the tape. */
  private record(bytes: Buffer): void {
    this.keep(Buffer.from(bytes));
  }

  /** Puts `bytes` on the tape as they are: the caller made them a copy of their own. */
  private keep(bytes: Buffer): void {
    this.tapeLength += bytes.length;
    if (this.tapeLength > this.limit) {
      throw new DcmsafeError('PART10_LIMIT', `${this.name}: the data set before the pixel data is larger than ${this.limit} bytes, the most a streamed rewrite holds in memory`, {
        file: this.name,
        offset: this.tapeStart,
        limit: this.limit,
      });
    }
    this.tapeChunks.push(bytes);
  }

  protected async pull(min: number): Promise<Buffer | null> {
    if (this.inner.buffered === 0 && (await this.inner.atEnd())) return null;
    if (!this.recording) return this.inner.readSome(Math.max(min, STREAM_CHUNK));
    // While recording, take a little more than asked when `inner` already holds it (no read for it):
    // a header parsed element by element then costs one pull and one copy per RECORD_AHEAD bytes, not
    // two per element. The look-ahead stays within the limit, so it never makes a header too large.
    const ahead = Math.max(min, Math.min(RECORD_AHEAD, this.limit - this.tapeLength));
    const parts: Buffer[] = [];
    let got = 0;
    while (got < min && (this.inner.buffered > 0 || !(await this.inner.atEnd()))) {
      const b = await this.inner.readSome(Math.max(min - got, Math.min(this.inner.buffered, ahead - got)));
      parts.push(b);
      got += b.length;
    }
    if (parts.length === 0) return null;
    const out = parts.length === 1 ? Buffer.from(parts[0] as Buffer) : Buffer.concat(parts);
    this.keep(out);
    return out;
  }

  protected async advance(n: number): Promise<number> {
    let moved = 0;
    while (moved < n && !(await this.inner.atEnd())) {
      const b = await this.inner.readSome(Math.min(n - moved, STREAM_CHUNK));
      if (this.recording) this.record(b);
      moved += b.length;
    }
    return moved;
  }
}
