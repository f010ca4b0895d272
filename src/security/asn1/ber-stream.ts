/**
 * Streaming BER decoding (ITU-T X.690 §8) for CMS (RFC 5652) files too large to hold: the caller
 * walks headers, enters and leaves constructed elements, reads small elements whole (parsed by
 * ber.ts) and streams the octets of large OCTET STRINGs, primitive or constructed, in chunks.
 *
 * Every definite length is checked against the enclosing element and against the end of the file
 * when that is known; indefinite lengths (what OpenSSL writes with -stream) must close with an
 * end-of-contents inside their parent. Nesting is bounded, small elements have a size cap, and
 * nothing is allocated from a declared length beyond those caps.
 */
import { decodeHeader, malformed, parseBer, type BerElement, type RawHeader } from './ber.js';
import type { ByteCursor } from './cursor.js';

export interface BerHeader extends RawHeader {
  /** Stream position of the first identifier octet. */
  readonly offset: number;
  /** The identifier and length octets. */
  readonly raw: Buffer;
}

interface Frame {
  /** Position just after the value, for a definite length. */
  readonly end: number | null;
  /** The nearest definite end at or above this frame (nothing inside may pass it), null if none. */
  readonly limit: number | null;
  readonly what: string;
}

const EOC = Buffer.from([0, 0]);

/** Parses an element's bytes, read whole: parseBer, or a BerMemo's parse. */
export type ElementParser = (bytes: Buffer, what: string) => BerElement;

export class BerStream {
  private readonly frames: Frame[] = [];

  constructor(
    readonly cursor: ByteCursor,
    private readonly maxDepth = 32,
  ) {}

  get position(): number {
    return this.cursor.position;
  }

  private get top(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  /** The next header in the current element without consuming it; null at its end. */
  async peekHeader(what: string): Promise<BerHeader | null> {
    const f = this.top;
    const pos = this.cursor.position;
    if (f && f.end !== null) {
      if (pos === f.end) return null;
      if (pos > f.end) throw malformed(`${f.what} overruns its length`, { offset: pos });
    }
    const have = await this.cursor.fill(16);
    if (have === 0) {
      if (!f) return null;
      throw this.cursor.ends(what, 2);
    }
    const buf = this.cursor.peek(16);
    if (f && f.end === null && have >= 2 && buf[0] === 0 && buf[1] === 0) return null;
    const h = decodeHeader(buf, 0);
    if (!h) throw this.cursor.ends(what, 2);
    if (h.tag === 0) throw malformed(`${what}: unexpected end-of-contents or tag 0`, { offset: pos });
    // Inside a definite length, running past it is an inconsistency (CMS_MALFORMED); running past
    // the end of the file where no definite length encloses is truncation (CMS_TRUNCATED).
    const limit = f?.limit ?? null;
    const valueStart = pos + h.headerLength;
    if (limit !== null && valueStart > limit) throw malformed(`${what}: header runs past the end of ${f?.what}`, { offset: pos });
    if (h.length !== null) {
      const end = valueStart + h.length;
      if (limit !== null && end > limit) throw malformed(`${what}: length ${h.length} runs past the end of ${f?.what}`, { offset: pos });
      if (this.cursor.knownLength !== undefined && end > this.cursor.knownLength) throw this.cursor.ends(what, end - this.cursor.knownLength);
    }
    // Every field named, not `{ ...h, ... }`: see element() in ber.ts (spread objects outlived the young generation).
    return { tagClass: h.tagClass, constructed: h.constructed, tagNumber: h.tagNumber, tag: h.tag, length: h.length, headerLength: h.headerLength, offset: pos, raw: Buffer.from(buf.subarray(0, h.headerLength)) };
  }

  /** Reads the next header of the current element; it must be there. */
  async readHeader(what: string): Promise<BerHeader> {
    const h = await this.peekHeader(what);
    if (!h) throw malformed(`${what} is missing: ${this.top?.what ?? 'the data'} ends`, { offset: this.cursor.position });
    await this.cursor.read(h.headerLength, what);
    return h;
  }

  /** Reads a header that must have the given identifier octet. */
  async expectHeader(tag: number, what: string): Promise<BerHeader> {
    const h = await this.readHeader(what);
    if (h.tag !== tag) throw malformed(`${what}: expected tag 0x${tag.toString(16)}, found 0x${h.tag.toString(16)}`, { offset: h.offset });
    return h;
  }

  /** Steps into a constructed element whose header was just read. */
  enter(h: BerHeader, what: string): void {
    if (!h.constructed) throw malformed(`${what} must be constructed`, { offset: h.offset });
    if (this.frames.length >= this.maxDepth) throw malformed(`${what}: nesting deeper than ${this.maxDepth}`, { offset: h.offset });
    const end = h.length === null ? null : h.offset + h.headerLength + h.length;
    this.frames.push({ end, limit: end ?? this.top?.limit ?? null, what });
  }

  /** Steps out of the current element, which must be at its end. */
  async leave(): Promise<void> {
    const f = this.top;
    if (!f) throw new RangeError('leave() without enter()');
    if (f.end !== null) {
      if (this.cursor.position !== f.end) throw malformed(`${f.what}: unexpected data before its end`, { offset: this.cursor.position });
    } else {
      const eoc = await this.cursor.read(2, `end of ${f.what}`);
      if (!eoc.equals(EOC)) throw malformed(`${f.what}: expected end-of-contents`, { offset: this.cursor.position - 2 });
    }
    this.frames.pop();
  }

  /** True when the current element has no more children. */
  async atEnd(what: string): Promise<boolean> {
    return (await this.peekHeader(what)) === null;
  }

  /** Reads the rest of an element whose header was just read, whole, and parses it. */
  async readElement(h: BerHeader, what: string, maxBytes: number, parse: ElementParser = parseBer): Promise<BerElement> {
    const parts: Buffer[] = [];
    const budget = { left: maxBytes };
    await this.capture(h, what, parts, budget);
    return parse(Buffer.concat(parts), what);
  }

  /** Reads the next element whole; `parse` parses its bytes (a BerMemo's, for elements files repeat). */
  async nextElement(what: string, maxBytes: number, tag?: number, parse: ElementParser = parseBer): Promise<BerElement> {
    const h = tag === undefined ? await this.readHeader(what) : await this.expectHeader(tag, what);
    return this.readElement(h, what, maxBytes, parse);
  }

  private async capture(h: BerHeader, what: string, parts: Buffer[], budget: { left: number }): Promise<void> {
    const take = (n: number): void => {
      budget.left -= n;
      if (budget.left < 0) throw malformed(`${what} is larger than the ${what} limit`, { offset: h.offset });
    };
    take(h.headerLength);
    parts.push(h.raw);
    if (h.length !== null) {
      take(h.length);
      parts.push(await this.cursor.read(h.length, what));
      return;
    }
    this.enter(h, what);
    for (;;) {
      const c = await this.peekHeader(what);
      if (!c) break;
      await this.cursor.read(c.headerLength, what);
      await this.capture(c, what, parts, budget);
    }
    await this.leave();
    take(2);
    parts.push(EOC);
  }

  /**
   * The value octets of a string element whose header was just read: primitive (streamed in chunks
   * of at most `chunk` bytes) or constructed from OCTET STRING segments, nested to any bounded depth.
   */
  async *octets(h: BerHeader, what: string, chunk: number): AsyncGenerator<Buffer> {
    if (!h.constructed) {
      let left = h.length as number;
      while (left > 0) {
        const b = await this.cursor.readSome(Math.min(chunk, left), what);
        left -= b.length;
        yield b;
      }
      return;
    }
    this.enter(h, what);
    for (;;) {
      const c = await this.peekHeader(what);
      if (!c) break;
      if (c.tag !== 0x04 && c.tag !== 0x24) throw malformed(`${what}: a segment of a constructed string must be an OCTET STRING`, { offset: c.offset });
      await this.cursor.read(c.headerLength, what);
      yield* this.octets(c, what, chunk);
    }
    await this.leave();
  }
}
