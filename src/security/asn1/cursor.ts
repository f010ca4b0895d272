/**
 * A forward-only byte cursor with a small look-ahead buffer, for streaming BER (ITU-T X.690) over a
 * file or over decrypted content. It mirrors src/dicom/part10/byte-source.ts, with CMS error codes:
 * running out of bytes is CMS_TRUNCATED for a file, and CMS_MALFORMED for decrypted content (which
 * ends where decryption says it does, so a structure running past it is inconsistent, not cut).
 */
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';

export const CHUNK = 1 << 20;

export type EndCode = 'CMS_TRUNCATED' | 'CMS_MALFORMED';

export class ByteCursor {
  private buf: Buffer = Buffer.alloc(0);
  private bufPos = 0;
  private base: number; // stream position of buf[0]
  private ended = false;

  constructor(
    readonly name: string,
    /** Next chunk of the stream (non-empty), or null at its end. */
    private readonly pull: () => Promise<Buffer | null>,
    /** Total length when known (a file): lengths running past it are truncation. */
    readonly knownLength: number | undefined,
    readonly endCode: EndCode,
    start = 0,
  ) {
    this.base = start;
  }

  static fromReader(reader: RandomAccessReader, start = 0, chunk = CHUNK): ByteCursor {
    let next = start;
    return new ByteCursor(
      reader.name,
      async () => {
        if (next >= reader.size) return null;
        const b = await reader.read(next, Math.min(chunk, reader.size - next));
        if (b.length === 0) return null;
        next += b.length;
        return b;
      },
      reader.size,
      'CMS_TRUNCATED',
      start,
    );
  }

  static fromIterator(name: string, it: AsyncIterator<Buffer>, endCode: EndCode): ByteCursor {
    return new ByteCursor(
      name,
      async () => {
        for (;;) {
          const r = await it.next();
          if (r.done) return null;
          if (r.value.length > 0) return r.value;
        }
      },
      undefined,
      endCode,
    );
  }

  /** Stream position of the next unconsumed byte. */
  get position(): number {
    return this.base + this.bufPos;
  }

  get buffered(): number {
    return this.buf.length - this.bufPos;
  }

  /** Buffers up to `n` bytes; returns how many are available (fewer only at the end). */
  async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.ended) {
      const more = await this.pull();
      if (!more) {
        this.ended = true;
        break;
      }
      const rest = this.buf.subarray(this.bufPos);
      this.base += this.bufPos;
      this.buf = rest.length === 0 ? more : Buffer.concat([rest, more]);
      this.bufPos = 0;
    }
    return Math.min(n, this.buffered);
  }

  /** Buffered bytes, not consumed; call fill first. */
  peek(n: number): Buffer {
    return this.buf.subarray(this.bufPos, this.bufPos + Math.min(n, this.buffered));
  }

  /** Exactly `n` bytes (n is small: headers and small elements). */
  async read(n: number, what = 'data'): Promise<Buffer> {
    if ((await this.fill(n)) < n) throw this.ends(what, n);
    const out = this.buf.subarray(this.bufPos, this.bufPos + n);
    this.bufPos += n;
    return out;
  }

  /** Between 1 and `max` bytes, without copying: for streaming large values. */
  async readSome(max: number, what = 'data'): Promise<Buffer> {
    if (this.buffered === 0 && (await this.fill(1)) === 0) throw this.ends(what, max);
    const n = Math.min(max, this.buffered);
    const out = this.buf.subarray(this.bufPos, this.bufPos + n);
    this.bufPos += n;
    // Drop a fully consumed buffer so a large chunk is not kept alive by a small tail.
    if (this.bufPos === this.buf.length) {
      this.base += this.bufPos;
      this.buf = Buffer.alloc(0);
      this.bufPos = 0;
    }
    return out;
  }

  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  ends(what: string, wanted: number): DcmsafeError {
    const message =
      this.endCode === 'CMS_TRUNCATED'
        ? `${this.name}: ${what} needs ${wanted} more bytes at offset ${this.position}, the file ends first`
        : `${this.name}: ${what} runs past the end of the decrypted content (offset ${this.position})`;
    return new DcmsafeError(this.endCode, message, { file: this.name, offset: this.position });
  }
}
