/**
 * BER decoding in memory (ITU-T X.690 §8) for the small parts of CMS (RFC 5652): recipient infos,
 * algorithm identifiers, certificates, signer infos. Accepts what BER allows and OpenSSL writes
 * (indefinite lengths, constructed strings); the bulk content never comes here (see ber-stream.ts).
 *
 * Hostile input is expected: every length is checked against the bytes present, nesting depth and
 * element count are bounded, and every failure is a CMS_MALFORMED DcmsafeError.
 */
import { DcmsafeError } from '../../errors/index.js';

export interface BerElement {
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  readonly tagClass: number;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** The first identifier octet when the tag number is below 31, else -1: compare with TAG values. */
  readonly tag: number;
  readonly indefinite: boolean;
  /** The whole element as encoded (header, value and, for indefinite lengths, the end-of-contents). */
  readonly raw: Buffer;
  /** The value octets (without the end-of-contents of an indefinite length). */
  readonly content: Buffer;
  /** Elements inside a constructed value; empty for a primitive. */
  readonly children: readonly BerElement[];
}

export interface BerLimits {
  maxDepth: number;
  maxElements: number;
}

export const DEFAULT_LIMITS: BerLimits = { maxDepth: 48, maxElements: 200_000 };

export function malformed(message: string, data: Record<string, unknown> = {}): DcmsafeError {
  return new DcmsafeError('CMS_MALFORMED', message, data);
}

export interface RawHeader {
  tagClass: number;
  constructed: boolean;
  tagNumber: number;
  tag: number;
  /** null for the indefinite form. */
  length: number | null;
  headerLength: number;
}

/**
 * Decodes the identifier and length octets at `pos` of `buf`. Returns undefined when the bytes end
 * inside the header (the streaming reader then asks for more); throws on impossible headers.
 */
export function decodeHeader(buf: Buffer, pos: number, end = buf.length): RawHeader | undefined {
  let p = pos;
  if (p >= end) return undefined;
  const first = buf[p++] as number;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // High tag number (X.690 §8.1.2.4): base 128. Nothing in CMS needs more than 4 octets.
    tagNumber = 0;
    for (let i = 0; ; i++) {
      if (p >= end) return undefined;
      if (i >= 4) throw malformed('BER tag number too long');
      const b = buf[p++] as number;
      tagNumber = tagNumber * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= end) return undefined;
  const lb = buf[p++] as number;
  let length: number | null;
  if (lb < 0x80) {
    length = lb;
  } else if (lb === 0x80) {
    if ((first & 0x20) === 0) throw malformed('BER indefinite length on a primitive element');
    length = null;
  } else {
    const n = lb & 0x7f;
    // 0xFF is reserved (X.690 §8.1.3.5); 6 octets reach 2^48, far beyond any file here.
    if (n > 6) throw malformed(`BER length with ${n} length octets`);
    if (p + n > end) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[p++] as number);
  }
  return {
    tagClass: first >> 6,
    constructed: (first & 0x20) !== 0,
    tagNumber,
    tag: tagNumber < 31 ? first : -1,
    length,
    headerLength: p - pos,
  };
}

/** Parses exactly one element filling `buf`. */
export function parseBer(buf: Buffer, what = 'element', limits: BerLimits = DEFAULT_LIMITS): BerElement {
  const state = { elements: 0 };
  const el = parseAt(buf, 0, buf.length, 0, what, limits, state);
  if (el.raw.length !== buf.length) throw malformed(`${what}: ${buf.length - el.raw.length} stray bytes after the element`);
  return el;
}

function parseAt(buf: Buffer, pos: number, end: number, depth: number, what: string, limits: BerLimits, state: { elements: number }): BerElement {
  if (depth > limits.maxDepth) throw malformed(`${what}: nesting deeper than ${limits.maxDepth}`);
  if (++state.elements > limits.maxElements) throw malformed(`${what}: more than ${limits.maxElements} elements`);
  const h = decodeHeader(buf, pos, end);
  if (!h) throw malformed(`${what}: ends inside an element header`, { offset: pos });
  if (h.tag === 0 && h.length === 0) throw malformed(`${what}: unexpected end-of-contents`, { offset: pos });
  const start = pos + h.headerLength;
  if (h.length !== null) {
    if (start + h.length > end) throw malformed(`${what}: element length ${h.length} runs past its container`, { offset: pos });
    const content = buf.subarray(start, start + h.length);
    const children: BerElement[] = [];
    if (h.constructed) {
      let p = start;
      while (p < start + h.length) {
        const c = parseAt(buf, p, start + h.length, depth + 1, what, limits, state);
        children.push(c);
        p += c.raw.length;
      }
    }
    return element(h, false, buf.subarray(pos, start + h.length), content, children);
  }
  const children: BerElement[] = [];
  let p = start;
  for (;;) {
    if (p + 2 <= end && buf[p] === 0 && buf[p + 1] === 0) break;
    if (p >= end) throw malformed(`${what}: indefinite length without end-of-contents`, { offset: pos });
    const c = parseAt(buf, p, end, depth + 1, what, limits, state);
    children.push(c);
    p += c.raw.length;
  }
  return element(h, true, buf.subarray(pos, p + 2), buf.subarray(start, p), children);
}

/**
 * An element as one object literal with every field named, never `{ ...header, ... }`: in Node 20's
 * V8 the objects of such a spread outlived the young generation (measured: 99 % of what survived one
 * scavenge was promoted), so every element of every file went to the old generation, with the Buffers
 * it points into, and stayed until a full collection: tens of MB of heap during a verify of a 2 GB
 * secure DVD. Named fields: 0 % promoted.
 */
function element(h: RawHeader, indefinite: boolean, raw: Buffer, content: Buffer, children: BerElement[]): BerElement {
  return { tagClass: h.tagClass, constructed: h.constructed, tagNumber: h.tagNumber, tag: h.tag, indefinite, raw, content, children };
}

// ---------------------------------------------------------------------------------------------
// Value decoding

export function expectTag(el: BerElement | undefined, tag: number, what: string): BerElement {
  if (!el) throw malformed(`${what} is missing`);
  if (el.tag !== tag) throw malformed(`${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  return el;
}

/** Children of a constructed element of the given tag, with a count check. */
export function childrenOf(el: BerElement | undefined, tag: number, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): readonly BerElement[] {
  const e = expectTag(el, tag, what);
  if (!e.constructed) throw malformed(`${what} must be constructed`);
  if (e.children.length < min || e.children.length > max) throw malformed(`${what}: ${e.children.length} elements, expected ${min}..${max === Number.MAX_SAFE_INTEGER ? 'n' : max}`);
  return e.children;
}

export function decodeOidValue(value: Buffer): string {
  if (value.length === 0 || value.length > 128) throw malformed('OBJECT IDENTIFIER of bad length');
  if (((value[value.length - 1] as number) & 0x80) !== 0) throw malformed('OBJECT IDENTIFIER ends inside an arc');
  const arcs: bigint[] = [];
  let n = 0n;
  let start = true;
  for (const b of value) {
    if (start && b === 0x80) throw malformed('OBJECT IDENTIFIER arc with a leading 0x80 octet');
    n = (n << 7n) | BigInt(b & 0x7f);
    start = (b & 0x80) === 0;
    if (start) {
      if (arcs.length === 0) {
        const first = n < 40n ? 0n : n < 80n ? 1n : 2n;
        arcs.push(first, n - first * 40n);
      } else {
        arcs.push(n);
      }
      n = 0n;
    }
  }
  return arcs.join('.');
}

export function decodeOid(el: BerElement | undefined, what: string): string {
  const e = expectTag(el, 0x06, what);
  if (e.constructed) throw malformed(`${what}: constructed OBJECT IDENTIFIER`);
  return decodeOidValue(e.content);
}

/** INTEGER value (X.690 §8.3) as a bigint: non-empty, minimal, two's complement. */
export function integerValue(v: Buffer, what: string): bigint {
  if (v.length === 0) throw malformed(`${what}: empty INTEGER`);
  if (v.length > 1 && ((v[0] === 0 && ((v[1] as number) & 0x80) === 0) || (v[0] === 0xff && ((v[1] as number) & 0x80) !== 0))) {
    throw malformed(`${what}: INTEGER not minimally encoded`);
  }
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  if (((v[0] as number) & 0x80) !== 0) n -= 1n << BigInt(8 * v.length);
  return n;
}

/** A small non-negative INTEGER (versions, iteration counts, key lengths). */
export function decodeSmallInteger(el: BerElement | undefined, what: string, max = 0x7fffffff): number {
  const e = expectTag(el, 0x02, what);
  if (e.content.length > 8) throw malformed(`${what}: INTEGER too large`);
  const n = integerValue(e.content, what);
  if (n < 0n || n > BigInt(max)) throw malformed(`${what}: ${n} is out of range 0..${max}`);
  return Number(n);
}

/** Octets of an OCTET STRING, primitive or constructed (BER, X.690 §8.7), with the tag given. */
export function octetsOf(el: BerElement | undefined, what: string, tag = 0x04): Buffer {
  if (!el) throw malformed(`${what} is missing`);
  if ((el.tag & 0xdf) !== (tag & 0xdf)) throw malformed(`${what}: expected an OCTET STRING (tag 0x${tag.toString(16)}), found 0x${el.tag.toString(16)}`);
  if (!el.constructed) return el.content;
  return Buffer.concat(el.children.map((c) => octetsOf(c, what, 0x04)));
}

/** AlgorithmIdentifier (RFC 5280 §4.1.1.2): the OID and the parameters element, if any. */
export interface AlgorithmIdentifier {
  readonly oid: string;
  readonly parameters?: BerElement;
}

export function decodeAlgorithmIdentifier(el: BerElement | undefined, what: string): AlgorithmIdentifier {
  const c = childrenOf(el, 0x30, what, 1, 2);
  const algorithm = decodeOid(c[0], `${what} algorithm`);
  return c[1] ? { oid: algorithm, parameters: c[1] } : { oid: algorithm };
}

/** True when parameters are absent or NULL: the two encodings RFC 4055 §2.1 / RFC 5754 accept as equal. */
export function absentOrNull(params: BerElement | undefined): boolean {
  return params === undefined || (params.tag === 0x05 && params.content.length === 0);
}

/** UTCTime or GeneralizedTime (RFC 5652 §11.3 Time) to a Date; undefined when not a valid time. */
export function decodeTime(el: BerElement): Date | undefined {
  if (el.constructed) return undefined;
  const s = el.content.toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  let rest: string;
  if (el.tag === 0x17) {
    m = /^(\d{2})(\d{8})(\d{2})?Z$/.exec(s);
    if (!m) return undefined;
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = (m[2] as string) + (m[3] ?? '00');
  } else if (el.tag === 0x18) {
    m = /^(\d{4})(\d{10})(?:\.\d+)?Z$/.exec(s);
    if (!m) return undefined;
    year = Number(m[1]);
    rest = m[2] as string;
  } else {
    return undefined;
  }
  const num = (i: number): number => Number(rest.slice(i, i + 2));
  const d = new Date(Date.UTC(year, num(0) - 1, num(2), num(4), num(6), num(8)));
  if (Number.isNaN(d.getTime()) || d.getUTCMonth() !== num(0) - 1 || d.getUTCDate() !== num(2)) return undefined;
  if (year < 100) d.setUTCFullYear(year);
  return d;
}

/**
 * DER re-encoding of a BER element (X.690 §10): definite lengths, constructed strings made primitive,
 * SET OF sorted. Only needed for signed attributes sent in BER (RFC 5652 §5.4 signs their DER).
 */
export function toDer(el: BerElement, setTag = 0x31): Buffer {
  const header = (tag: number, len: number): Buffer => {
    const lenBytes: number[] = [];
    if (len < 0x80) lenBytes.push(len);
    else {
      const v: number[] = [];
      for (let l = len; l > 0; l = Math.floor(l / 256)) v.unshift(l % 256);
      lenBytes.push(0x80 | v.length, ...v);
    }
    return Buffer.from([tag, ...lenBytes]);
  };
  if (el.tag < 0) return Buffer.from(el.raw); // high tag numbers: not in signed attributes; keep as is
  const stringTag = el.tagClass === 0 && [3, 4, 12, 19, 20, 22, 26, 30].includes(el.tagNumber);
  if (!el.constructed) return Buffer.concat([header(el.tag, el.content.length), el.content]);
  if (stringTag) {
    const octets = (e: BerElement): Buffer => (e.constructed ? Buffer.concat(e.children.map(octets)) : e.content);
    const v = octets(el);
    return Buffer.concat([header(el.tag & 0xdf, v.length), v]);
  }
  let parts = el.children.map((c) => toDer(c));
  if (el.tag === setTag || el.tag === 0x31) parts = [...parts].sort((a, b) => Buffer.compare(a, b));
  const v = Buffer.concat(parts);
  return Buffer.concat([header(el.tag, v.length), v]);
}

/**
 * A DER value without what follows its own end: in a DICOM OB element (Certificate of Signer,
 * Encrypted Content) an odd-length DER value is followed by a padding byte (PS3.5 §7.1.1) that is
 * not part of it. A value whose header cannot be read, or that claims more than it holds, is
 * returned as it is (its parser will say what is wrong).
 */
export function derPrefix(value: Buffer): Buffer {
  let h: RawHeader | undefined;
  try {
    h = decodeHeader(value, 0);
  } catch {
    return value;
  }
  if (!h || h.length === null) return value;
  const end = h.headerLength + h.length;
  return end <= value.length ? value.subarray(0, end) : value;
}
