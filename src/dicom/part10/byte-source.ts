/**
 * A forward-only cursor over a byte stream, with a small look-ahead buffer. Data sets are parsed
 * through it: from a file (skipping a value costs nothing, so pixel data is never read) or from a
 * stream of chunks, such as an inflating one (deflated transfer syntax, PS3.5 §A.5).
 */
import { createInflateRaw } from 'node:zlib';
import { Readable } from 'node:stream';
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';

const CHUNK = 64 * 1024;

export abstract class ByteSource {
  private buf: Buffer = Buffer.alloc(0);
  private bufPos = 0; // offset of the next unconsumed byte within buf
  protected streamPos: number; // stream position of buf[0]

  protected constructor(
    readonly name: string,
    start: number,
  ) {
    this.streamPos = start;
  }

  /** Stream position of the next byte to be consumed. */
  get position(): number {
    return this.streamPos + this.bufPos;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.buf.length - this.bufPos;
  }

  /** Appends more bytes, at least `min` unless the stream ends; null at the end. */
  protected abstract pull(min: number): Promise<Buffer | null>;

  /** Moves the underlying stream forward by `n` bytes that are not buffered; returns how many it moved. */
  protected abstract advance(n: number): Promise<number>;

  /** Buffers up to `n` bytes; returns how many are available (fewer only at the end). */
  async fill(n: number): Promise<number> {
    while (this.buffered < n) {
      const more = await this.pull(n - this.buffered);
      if (!more || more.length === 0) break;
      const rest = this.buf.subarray(this.bufPos);
      this.streamPos += this.bufPos;
      this.buf = rest.length === 0 ? more : Buffer.concat([rest, more]);
      this.bufPos = 0;
    }
    return Math.min(n, this.buffered);
  }

  /** Buffered bytes without consuming them; call fill first. */
  peek(n: number): Buffer {
    return this.buf.subarray(this.bufPos, this.bufPos + Math.min(n, this.buffered));
  }

  /** Reads exactly `n` bytes (a copy that survives later reads). */
  async read(n: number): Promise<Buffer> {
    const have = await this.fill(n);
    if (have < n) throw this.truncated(n);
    const out = Buffer.from(this.buf.subarray(this.bufPos, this.bufPos + n));
    this.bufPos += n;
    return out;
  }

  /** Exactly `n` buffered bytes without copying: valid until the next read (headers, small values). */
  async view(n: number): Promise<Buffer> {
    const have = await this.fill(n);
    if (have < n) throw this.truncated(n);
    const out = this.buf.subarray(this.bufPos, this.bufPos + n);
    this.bufPos += n;
    return out;
  }

  /** Between 1 and `max` bytes without copying, for streaming large values; throws at the end. */
  async readSome(max: number): Promise<Buffer> {
    if (this.buffered === 0 && (await this.fill(1)) === 0) throw this.truncated(max);
    const n = Math.min(max, this.buffered);
    const out = this.buf.subarray(this.bufPos, this.bufPos + n);
    this.bufPos += n;
    // Drop a fully consumed buffer so a large chunk is not kept alive by a small tail.
    if (this.bufPos === this.buf.length) {
      this.streamPos += this.bufPos;
      this.buf = Buffer.alloc(0);
      this.bufPos = 0;
    }
    return out;
  }

  /** Skips `n` bytes. Throws if the stream ends first. */
  async skip(n: number): Promise<void> {
    const inBuf = Math.min(n, this.buffered);
    this.bufPos += inBuf;
    let rest = n - inBuf;
    if (rest === 0) return;
    this.streamPos += this.buf.length;
    this.buf = Buffer.alloc(0);
    this.bufPos = 0;
    const moved = await this.advance(rest);
    this.streamPos += moved;
    rest -= moved;
    if (rest > 0) throw this.truncated(rest);
  }

  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  truncated(wanted: number): DcmsafeError {
    return new DcmsafeError('PART10_TRUNCATED', `${this.name}: needed ${wanted} more bytes at offset ${this.position}, the data ends first`, {
      file: this.name,
      offset: this.position,
    });
  }

  /** Stream length when known in advance (files), else undefined. */
  abstract get knownLength(): number | undefined;
}

/**
 * A reader whose first bytes were read in one go (a file's header, typically all of it): reads within
 * them cost no system call, others go to the reader underneath.
 */
export class PrefixedReader implements RandomAccessReader {
  constructor(
    private readonly inner: RandomAccessReader,
    /**
     * The reader's first bytes (all of them when shorter than asked for). Only ReaderByteSource reads
     * them in place (and copies what it keeps); reads get copies.
     */
    readonly head: Buffer,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  get name(): string {
    return this.inner.name;
  }

  /** Reads `n` first bytes of `reader` (fewer if it is shorter) and serves later reads of them from memory. */
  static async over(reader: RandomAccessReader, n: number): Promise<PrefixedReader> {
    return new PrefixedReader(reader, await reader.read(0, Math.min(n, reader.size)));
  }

  read(position: number, length: number): Promise<Buffer> {
    const held = this.head.length === this.inner.size ? Infinity : this.head.length;
    if (position + length <= held || (held === Infinity && position >= 0)) {
      // A copy: the head may be a buffer its owner reuses for the next file.
      const start = Math.min(position, this.head.length);
      return Promise.resolve(Buffer.from(this.head.subarray(start, Math.min(position + length, this.head.length))));
    }
    return this.inner.read(position, length);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Closes with a blocking call, when the reader underneath can. */
  closeSync(): void {
    const inner = this.inner as RandomAccessReader & { closeSync?: () => void };
    if (!inner.closeSync) throw new DcmsafeError('INTERNAL', `${this.name}: no blocking close`);
    inner.closeSync();
  }
}

/** Bytes of a random-access reader from `start`; skipping moves the read position without reading. */
export class ReaderByteSource extends ByteSource {
  private next: number;
  private readonly head: Buffer | undefined;

  constructor(
    private readonly reader: RandomAccessReader,
    start = 0,
    /**
     * Smallest read past the head. 64 KiB suits parsing, which skips values; a source that streams
     * whole values (an import sending pixel data) asks for more, so that each read's round trip to the
     * thread pool carries more bytes.
     */
    private readonly chunkSize = CHUNK,
  ) {
    super(reader.name, start);
    this.next = start;
    this.head = reader instanceof PrefixedReader ? reader.head : undefined;
  }

  get knownLength(): number {
    return this.reader.size;
  }

  protected async pull(min: number): Promise<Buffer | null> {
    if (this.next >= this.reader.size) return null;
    // What is left of bytes already in memory, if it is enough.
    if (this.head && this.next < this.head.length && this.head.length - this.next >= min) {
      const chunk = this.head.subarray(this.next);
      this.next = this.head.length;
      return chunk;
    }
    const chunk = await this.reader.read(this.next, Math.max(min, this.chunkSize));
    this.next += chunk.length;
    return chunk.length > 0 ? chunk : null;
  }

  protected advance(n: number): Promise<number> {
    const moved = Math.max(0, Math.min(n, this.reader.size - this.next));
    this.next += moved;
    return Promise.resolve(moved);
  }
}

/**
 * A ByteSource over chunks that come one at a time (`nextChunk`, null at the end) and cannot be
 * skipped without being produced: an inflater, decrypted content, a network stream. What a skip
 * leaves of a chunk is kept for the next read.
 */
export abstract class ChunkedByteSource extends ByteSource {
  private pending: Buffer | undefined;

  /** The next chunk of the stream, or null at its end. */
  protected abstract nextChunk(): Promise<Buffer | null>;

  private async take(): Promise<Buffer | null> {
    if (this.pending) {
      const p = this.pending;
      this.pending = undefined;
      return p;
    }
    return this.nextChunk();
  }

  protected async pull(min: number): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < min) {
      const c = await this.take();
      if (!c) break;
      parts.push(c);
      got += c.length;
    }
    return parts.length === 0 ? null : parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  protected async advance(n: number): Promise<number> {
    let moved = 0;
    while (moved < n) {
      const c = await this.take();
      if (!c) break;
      const use = Math.min(c.length, n - moved);
      moved += use;
      if (use < c.length) this.pending = c.subarray(use);
    }
    return moved;
  }
}

export interface InflateOptions {
  /** Stream position of the first inflated byte (so offsets line up with the data set start); 0 by default. */
  readonly logicalStart?: number;
  /** Most inflated bytes (PART10_LIMIT beyond). */
  readonly maxInflated: number;
  /**
   * Rethrow a DcmsafeError that the compressed input throws (a decryptor's, a truncated source's)
   * as it is; by default every failure while inflating is PART10_INFLATE.
   */
  readonly keepSourceErrors?: boolean;
}

/**
 * The inflated bytes of a raw deflate stream (PS3.5 §A.5: the data set after the File Meta
 * Information), the compressed bytes coming from `compressed`.
 */
export class InflateByteSource extends ChunkedByteSource {
  private readonly iterator: AsyncIterator<Buffer>;
  private readonly maxInflated: number;
  private readonly keepSourceErrors: boolean;
  private inflated = 0;

  constructor(compressed: AsyncIterable<Buffer>, name: string, options: InflateOptions) {
    super(name, options.logicalStart ?? 0);
    this.maxInflated = options.maxInflated;
    this.keepSourceErrors = options.keepSourceErrors ?? false;
    const input = Readable.from(compressed);
    const inflate = createInflateRaw({ chunkSize: CHUNK });
    input.on('error', (e) => inflate.destroy(e));
    this.iterator = input.pipe(inflate)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The deflate stream starting at `start` of a reader; positions count from `logicalStart`. */
  static fromReader(reader: RandomAccessReader, start: number, logicalStart: number, maxInflated: number): InflateByteSource {
    const compressed = async function* (): AsyncGenerator<Buffer> {
      let pos = start;
      while (pos < reader.size) {
        const chunk = await reader.read(pos, CHUNK * 4);
        if (chunk.length === 0) return;
        pos += chunk.length;
        yield chunk;
      }
    };
    return new InflateByteSource(compressed(), reader.name, { logicalStart, maxInflated });
  }

  get knownLength(): undefined {
    return undefined;
  }

  protected async nextChunk(): Promise<Buffer | null> {
    let r: IteratorResult<Buffer>;
    try {
      r = await this.iterator.next();
    } catch (e) {
      if (this.keepSourceErrors && e instanceof DcmsafeError) throw e;
      throw new DcmsafeError('PART10_INFLATE', `${this.name}: deflated data set is corrupt (${(e as Error).message})`, { file: this.name, offset: this.position }, { cause: e });
    }
    if (r.done) return null;
    this.inflated += r.value.length;
    if (this.inflated > this.maxInflated) {
      throw new DcmsafeError('PART10_LIMIT', `${this.name}: deflated data set inflates beyond ${this.maxInflated} bytes`, { file: this.name, limit: this.maxInflated });
    }
    return r.value;
  }

  /** Stops inflating (when a caller is done before the end). */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}
