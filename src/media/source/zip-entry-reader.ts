/**
 * Random access over a ZIP entry, which the ZIP reader gives only as a forward stream (inflated and
 * checked as it goes: size, CRC-32, bomb guard). Verification reads mostly forwards (a Part 10
 * header, then values; a CMS file front to back), so a sliding window over one forward pass serves
 * it in practice:
 *  - the reader keeps the last `window` bytes streamed (4 MiB by default) and serves any read that
 *    lies in them or ahead of them (skipping forward streams and drops what lies between);
 *  - a read before the window restarts the stream from the start of the entry (a fresh local header
 *    check and inflate) and counts the restart;
 *  - after `maxRestarts` restarts (3) a further backward read buffers the whole entry in memory, if it
 *    is at most `maxBuffered` bytes (256 MiB); past that it is an IO error (a read pattern this reader
 *    cannot serve without unbounded memory or time).
 * Cost: one inflate pass per forward sweep; memory of about the window plus one chunk and the bytes
 * asked for. When a read reaches the end of the entry the stream is drained to its end, so the ZIP
 * reader's closing checks (exact size, CRC-32) run: a sweep to the end proves the entry intact. A
 * stream error (damaged, bomb) sticks: every later read fails with it.
 * Reads are serialized, so concurrent callers see the same consistent state.
 */
import { DcmsafeError } from '../../errors/index.js';
import { readableLength, type RandomAccessReader, type ReadStats } from '../io/random-access-reader.js';
import { zipError } from '../zip/errors.js';

export interface ZipEntryReaderOptions {
  /** Bytes kept behind the stream position (default 4 MiB). */
  window?: number;
  /** Restarts from the start before the entry is buffered whole (default 3). */
  maxRestarts?: number;
  /** Largest entry buffered whole once restarts run out (default 256 MiB). */
  maxBuffered?: number;
}

export interface ZipEntryReadStats extends ReadStats {
  /** Times the stream was opened again from the start. */
  restarts: number;
  /** Bytes taken from streams in all (the cost). */
  streamedBytes: number;
  /** Whether the entry ended up buffered whole. */
  buffered: boolean;
}

export const DEFAULT_ZIP_ENTRY_READER: Required<ZipEntryReaderOptions> = {
  window: 4 << 20,
  maxRestarts: 3,
  maxBuffered: 256 << 20,
};

export class ZipEntryReader implements RandomAccessReader {
  readonly stats: ZipEntryReadStats = { bytesRead: 0, reads: 0, restarts: 0, streamedBytes: 0, buffered: false };
  private readonly options: Required<ZipEntryReaderOptions>;
  private iterator: AsyncIterator<Buffer> | undefined;
  /** Bytes of the entry taken from the current stream. */
  private streamPos = 0;
  /** Whether the current stream has been drained to its end (and its checks passed). */
  private ended = false;
  /** The window: consecutive chunks ending at `streamPos`. */
  private chunks: Buffer[] = [];
  private windowStart = 0;
  private windowBytes = 0;
  private whole: Buffer | undefined;
  private failure: unknown;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly openStream: () => Promise<AsyncIterable<Buffer>>,
    readonly size: number,
    readonly name: string,
    options: ZipEntryReaderOptions = {},
  ) {
    this.options = {
      window: options.window ?? DEFAULT_ZIP_ENTRY_READER.window,
      maxRestarts: options.maxRestarts ?? DEFAULT_ZIP_ENTRY_READER.maxRestarts,
      maxBuffered: options.maxBuffered ?? DEFAULT_ZIP_ENTRY_READER.maxBuffered,
    };
  }

  read(position: number, length: number): Promise<Buffer> {
    try {
      readableLength(position, length, this.size, this.name);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.serialized(() => this.readLocked(position, Math.min(this.size, position + length)));
  }

  close(): Promise<void> {
    return this.serialized(async () => {
      if (this.closed) return;
      this.closed = true;
      this.chunks = [];
      this.whole = undefined;
      await this.stopStream();
    });
  }

  private serialized<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async readLocked(position: number, end: number): Promise<Buffer> {
    if (this.closed) throw new DcmsafeError('INTERNAL', `${this.name}: read after close`, { file: this.name });
    if (this.failure !== undefined) throw this.failure;
    this.stats.reads += 1;
    if (position >= end) return Buffer.alloc(0);
    if (this.whole) {
      this.stats.bytesRead += end - position;
      return Buffer.from(this.whole.subarray(position, end));
    }
    const restartsLeft = this.stats.restarts < this.options.maxRestarts;
    if (position < this.windowStart && !restartsLeft && this.size > this.options.maxBuffered) {
      // Not sticky: the stream is untouched, reads ahead still work.
      throw new DcmsafeError(
        'IO',
        `${this.name}: read back and forth more than ${this.options.maxRestarts} times, and at ${this.size} bytes too large to hold in memory (limit ${this.options.maxBuffered})`,
        { file: this.name, size: this.size, restarts: this.stats.restarts },
      );
    }
    try {
      if (this.iterator === undefined && !this.ended) {
        await this.startStream();
      } else if (position < this.windowStart) {
        if (!restartsLeft) {
          const whole = await this.bufferWhole();
          this.stats.bytesRead += end - position;
          return Buffer.from(whole.subarray(position, end));
        }
        this.stats.restarts += 1;
        await this.startStream();
      }
      const out = Buffer.allocUnsafe(end - position);
      // From the window...
      let at = this.windowStart;
      for (const c of this.chunks) {
        copyOverlap(c, at, out, position, end);
        at += c.length;
      }
      // ...then from the stream, keeping the last `window` bytes.
      while (this.streamPos < end) {
        const chunk = await this.next();
        const start = this.streamPos;
        this.streamPos += chunk.length;
        copyOverlap(chunk, start, out, position, end);
        this.chunks.push(chunk);
        this.windowBytes += chunk.length;
        while (this.chunks.length > 1 && this.windowBytes - (this.chunks[0] as Buffer).length >= this.options.window) {
          const dropped = this.chunks.shift() as Buffer;
          this.windowBytes -= dropped.length;
          this.windowStart += dropped.length;
        }
      }
      if (this.streamPos === this.size && !this.ended) await this.drain();
      this.stats.bytesRead += out.length;
      return out;
    } catch (e) {
      this.failure = e;
      await this.stopStream().catch(() => undefined);
      throw e;
    }
  }

  /** The next chunk of the current stream; the stream ending early is a damaged entry. */
  private async next(): Promise<Buffer> {
    const r = await (this.iterator as AsyncIterator<Buffer>).next();
    if (r.done) {
      this.iterator = undefined;
      throw zipError('ZIP_INVALID', `${this.name}: ends at ${this.streamPos} bytes, ${this.size} declared`, { file: this.name, size: this.size });
    }
    this.stats.streamedBytes += r.value.length;
    return r.value;
  }

  /** Runs the stream to its end so that the source's closing checks (size, CRC-32) are made. */
  private async drain(): Promise<void> {
    for (;;) {
      const r = await (this.iterator as AsyncIterator<Buffer>).next();
      if (r.done) break;
      if (r.value.length > 0) {
        throw zipError('ZIP_BOMB', `${this.name}: more than the ${this.size} bytes declared`, { file: this.name, size: this.size });
      }
    }
    this.iterator = undefined;
    this.ended = true;
  }

  private async startStream(): Promise<void> {
    await this.stopStream();
    this.chunks = [];
    this.windowStart = 0;
    this.windowBytes = 0;
    this.streamPos = 0;
    this.ended = false;
    this.iterator = (await this.openStream())[Symbol.asyncIterator]();
  }

  private async stopStream(): Promise<void> {
    const it = this.iterator;
    this.iterator = undefined;
    // return() runs the source generator's finally block, which destroys its streams.
    if (it?.return) await it.return();
  }

  private async bufferWhole(): Promise<Buffer> {
    await this.startStream();
    const whole = Buffer.alloc(this.size);
    while (this.streamPos < this.size) {
      const chunk = await this.next();
      if (this.streamPos + chunk.length > this.size) {
        throw zipError('ZIP_BOMB', `${this.name}: more than the ${this.size} bytes declared`, { file: this.name, size: this.size });
      }
      chunk.copy(whole, this.streamPos);
      this.streamPos += chunk.length;
    }
    await this.drain();
    this.whole = whole;
    this.chunks = [];
    this.windowBytes = 0;
    this.stats.buffered = true;
    return whole;
  }
}

/** Copies the part of `chunk` (entry bytes from `chunkStart`) that falls in [position, end) into `out`. */
function copyOverlap(chunk: Buffer, chunkStart: number, out: Buffer, position: number, end: number): void {
  const from = Math.max(chunkStart, position);
  const to = Math.min(chunkStart + chunk.length, end);
  if (from < to) chunk.copy(out, from - position, from - chunkStart, to - chunkStart);
}
