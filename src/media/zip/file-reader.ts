/**
 * The file under yauzl: its RandomAccessReader over one file handle, with a small read window.
 * yauzl reads the central directory (PKWARE APPNOTE 4.3.12) one header at a time, two small reads per
 * entry; through its default fd-slicer that cost about 50 µs an entry (3 s for 65 536 entries). Here
 * a miss loads a 64 KiB window, so sequential header reads are served from memory, and file data
 * streams straight from the handle.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';

const WINDOW = 64 * 1024;

type ReadCallback = (err: Error | null, bytesRead?: number) => void;

export class FileRandomAccessReader extends yauzl.RandomAccessReader {
  private windowStart = 0;
  private window: Buffer = Buffer.alloc(0);

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {
    super();
  }

  static async open(path: string): Promise<FileRandomAccessReader> {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw Object.assign(new Error(`${path} is not a file`), { code: 'EISDIR', syscall: 'open' });
      return new FileRandomAccessReader(handle, st.size);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // Positioned reads on the shared handle: the handle belongs to the reader and is closed once, in close().
    return new RangeReadable(this.handle, start, end);
  }

  // yauzl calls back with (err, bytesRead) and checks bytesRead itself (short read: "unexpected EOF").
  override read(buffer: Buffer, offset: number, length: number, position: number, callback: ReadCallback): void {
    this.readAsync(buffer, offset, length, position).then(
      (n) => callback(null, n),
      (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
    );
  }

  private async readAsync(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const inWindow = (): boolean => position >= this.windowStart && position + length <= this.windowStart + this.window.length;
    if (!inWindow()) {
      if (length > WINDOW) {
        const { bytesRead } = await this.handle.read(buffer, offset, length, position);
        return bytesRead;
      }
      const window = Buffer.alloc(Math.max(0, Math.min(WINDOW, this.size - position)));
      const { bytesRead } = window.length > 0 ? await this.handle.read(window, 0, window.length, position) : { bytesRead: 0 };
      this.windowStart = position;
      this.window = window.subarray(0, bytesRead);
    }
    const from = position - this.windowStart;
    const n = Math.max(0, Math.min(length, this.window.length - from));
    this.window.copy(buffer, offset, from, from + n);
    return n;
  }

  override close(callback: (err: Error | null) => void): void {
    this.handle.close().then(
      () => callback(null),
      (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
    );
  }
}

/** Bytes [start, end) of the file, read with positioned reads (several may run at once on one handle). */
class RangeReadable extends Readable {
  private position: number;

  constructor(
    private readonly handle: FileHandle,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: WINDOW });
    this.position = start;
  }

  override _read(size: number): void {
    const n = Math.min(Math.max(size, WINDOW), this.end - this.position);
    if (n <= 0) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafe(n);
    this.handle.read(buffer, 0, n, this.position).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          this.push(null); // end of file: yauzl's byte counter reports the short read
          return;
        }
        this.position += bytesRead;
        this.push(buffer.subarray(0, bytesRead));
      },
      (e: unknown) => this.destroy(e instanceof Error ? e : new Error(String(e))),
    );
  }
}
