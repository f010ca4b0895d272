/**
 * Parsed BER elements remembered by their bytes, for elements every file of a medium repeats: the
 * SignedData certificates (the signer's certificate and chain, the same in all 3 000 files of a
 * disc). Parsing them built a tree of about 300 objects and Buffer views per file, the largest part
 * of what reading a file left for the garbage collector; the same bytes now give the same tree.
 *
 * Only successful parses are kept (a failure is parsed, and thrown, again each time), each from a
 * private copy of the bytes (never a view into a read buffer or a pool slab), at most `max` of them,
 * each at most `maxBytes`: larger elements are parsed every time and not kept. Parsed elements are
 * read-only; callers copy what they keep (cms/intern.ts).
 */
import { parseBer, type BerElement } from './ber.js';

export class BerMemo {
  private readonly entries = new Map<string, BerElement>();

  constructor(
    private readonly max: number,
    private readonly maxBytes: number,
  ) {}

  parse(bytes: Buffer, what: string): BerElement {
    if (bytes.length > this.maxBytes) return parseBer(bytes, what);
    const key = bytes.toString('latin1');
    const hit = this.entries.get(key);
    if (hit) return hit;
    const own = Buffer.allocUnsafeSlow(bytes.length);
    bytes.copy(own);
    const element = parseBer(own, what);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, element);
    return element;
  }
}
