/**
 * A forward-only byte cursor with a small look-ahead buffer, for streaming BER (ITU-T X.690) over a
 * file or over decrypted content: the Part 10 ByteSource with CMS error codes:
 * running out of bytes is CMS_TRUNCATED for a file, and CMS_MALFORMED for decrypted content (which
 * ends where decryption says it does, so a structure running past it is inconsistent, not cut).
 */
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';
import { ByteSource } from '../../dicom/part10/byte-source.js';

/**
 * Bytes read (and decrypted) at a time. Small on purpose: every chunk a file has in flight when the
 * young generation is collected is promoted and lives until the next full GC, so with several files
 * in flight 1 MiB chunks kept 40-80 MB of dead buffers around on a 2 GB medium; 64 KiB chunks cost
 * no measurable time (verify of a 2 GB secure DVD).
 */
export const CHUNK = 64 << 10;

export type EndCode = 'CMS_TRUNCATED' | 'CMS_MALFORMED';

export class ByteCursor extends ByteSource {
  private ended = false;
  /** What the current read is for, named in the error when the data ends. */
  private what = 'data';

  constructor(
    name: string,
    /** Next chunk of the stream (non-empty), or null at its end. */
    private readonly next: () => Promise<Buffer | null>,
    /** Total length when known (a file): lengths running past it are truncation. */
    private readonly length: number | undefined,
    readonly endCode: EndCode,
    start = 0,
  ) {
    super(name, start);
  }

  get knownLength(): number | undefined {
    return this.length;
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

  protected async pull(): Promise<Buffer | null> {
    if (this.ended) return null;
    const more = await this.next();
    if (!more) this.ended = true;
    return more;
  }

  protected async advance(n: number): Promise<number> {
    let moved = 0;
    while (moved < n) {
      const more = await this.pull();
      if (!more) break;
      if (more.length > n - moved) throw new DcmsafeError('INTERNAL', 'ByteCursor cannot skip into a chunk');
      moved += more.length;
    }
    return moved;
  }

  /** Exactly `n` bytes without copying (n is small: headers and small elements). */
  override async read(n: number, what = 'data'): Promise<Buffer> {
    this.what = what;
    return this.view(n);
  }

  /** Between 1 and `max` bytes, without copying: for streaming large values. */
  override async readSome(max: number, what = 'data'): Promise<Buffer> {
    this.what = what;
    return super.readSome(max);
  }

  override truncated(wanted: number): DcmsafeError {
    return this.ends(this.what, wanted);
  }

  ends(what: string, wanted: number): DcmsafeError {
    const message =
      this.endCode === 'CMS_TRUNCATED'
        ? `${this.name}: ${what} needs ${wanted} more bytes at offset ${this.position}, the file ends first`
        : `${this.name}: ${what} runs past the end of the decrypted content (offset ${this.position})`;
    return new DcmsafeError(this.endCode, message, { file: this.name, offset: this.position });
  }
}
