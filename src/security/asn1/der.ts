/**
 * DER encoding (ITU-T X.690 §8 and §10) for the CMS structures we write (RFC 5652), with the size of
 * every structure computed by the same code that encodes it.
 *
 * A Secure DICOM File must have a known size before the first byte is written (media layouts place
 * files before writing them), and the content can be gigabytes, so it is never held: a structure is
 * a tree of nodes in which at most one node is a `hole`, a primitive element whose header is written
 * here but whose value octets are streamed by the caller. `sizeOf` counts the hole's declared length;
 * `encodeAround` returns the octets before and after it. DER's definite lengths make this possible:
 * every length is known from the sizes of the parts.
 */

export type DerNode =
  | { readonly kind: 'primitive'; readonly tag: number; readonly value: Buffer }
  | { readonly kind: 'constructed'; readonly tag: number; readonly children: readonly DerNode[] }
  /** An element already encoded (a certificate, a Name copied from one). */
  | { readonly kind: 'raw'; readonly bytes: Buffer }
  /** A primitive element whose value octets the caller streams: only the header is encoded. */
  | { readonly kind: 'hole'; readonly tag: number; readonly length: number };

/** Identifier octets used here (X.690 §8.1.2); all tags we write fit one octet. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** [n] context-specific, constructed (EXPLICIT tags and IMPLICIT constructed types). */
export const contextConstructed = (n: number): number => 0xa0 | n;
/** [n] context-specific, primitive (IMPLICIT primitive types). */
export const contextPrimitive = (n: number): number => 0x80 | n;

/** Number of length octets for a definite length (X.690 §8.1.3: short form below 128, else long form). */
export function sizeOfLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad DER length ${length}`);
  if (length < 0x80) return 1;
  let n = 0;
  for (let l = length; l > 0; l = Math.floor(l / 256)) n++;
  return 1 + n;
}

/** Size of a whole element (one identifier octet) whose value has `contentLength` octets. */
export function sizeOfTlv(contentLength: number): number {
  return 1 + sizeOfLength(contentLength) + contentLength;
}

export function encodeLength(length: number): Buffer {
  const size = sizeOfLength(length);
  const out = Buffer.alloc(size);
  if (size === 1) {
    out[0] = length;
    return out;
  }
  out[0] = 0x80 | (size - 1);
  let l = length;
  for (let i = size - 1; i >= 1; i--) {
    out[i] = l % 256;
    l = Math.floor(l / 256);
  }
  return out;
}

export function encodeHeader(tag: number, length: number): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(length)]);
}

/** Octets of the value of a node (for a hole, its declared length). */
export function sizeOfContent(node: DerNode): number {
  switch (node.kind) {
    case 'primitive':
      return node.value.length;
    case 'constructed':
      return node.children.reduce((sum, c) => sum + sizeOf(c), 0);
    case 'raw':
      throw new RangeError('a raw node has no separate content');
    case 'hole':
      return node.length;
  }
}

/** Octets of the whole encoding of a node. */
export function sizeOf(node: DerNode): number {
  return node.kind === 'raw' ? node.bytes.length : sizeOfTlv(sizeOfContent(node));
}

type Part = Buffer | { hole: number };

function emit(node: DerNode, out: Part[]): void {
  switch (node.kind) {
    case 'primitive':
      out.push(encodeHeader(node.tag, node.value.length), node.value);
      return;
    case 'constructed':
      out.push(encodeHeader(node.tag, sizeOfContent(node)));
      for (const c of node.children) emit(c, out);
      return;
    case 'raw':
      out.push(node.bytes);
      return;
    case 'hole':
      out.push(encodeHeader(node.tag, node.length), { hole: node.length });
      return;
  }
}

/** The DER encoding of a tree without holes. */
export function encode(node: DerNode): Buffer {
  const parts: Part[] = [];
  emit(node, parts);
  return Buffer.concat(
    parts.map((p) => {
      if (Buffer.isBuffer(p)) return p;
      throw new RangeError('encode: the tree has a hole; use encodeAround');
    }),
  );
}

/** The octets before and after the single hole of a tree. */
export function encodeAround(node: DerNode): { before: Buffer; holeLength: number; after: Buffer } {
  const parts: Part[] = [];
  emit(node, parts);
  const at = parts.findIndex((p) => !Buffer.isBuffer(p));
  if (at < 0 || parts.slice(at + 1).some((p) => !Buffer.isBuffer(p))) throw new RangeError('encodeAround: the tree must have exactly one hole');
  const hole = parts[at] as { hole: number };
  return { before: Buffer.concat(parts.slice(0, at) as Buffer[]), holeLength: hole.hole, after: Buffer.concat(parts.slice(at + 1) as Buffer[]) };
}

// ---------------------------------------------------------------------------------------------
// Node builders

export const primitive = (tag: number, value: Buffer): DerNode => ({ kind: 'primitive', tag, value });
export const constructed = (tag: number, children: readonly DerNode[]): DerNode => ({ kind: 'constructed', tag, children });
export const sequence = (...children: DerNode[]): DerNode => constructed(TAG.SEQUENCE, children);
export const raw = (bytes: Buffer): DerNode => ({ kind: 'raw', bytes });
export const hole = (tag: number, length: number): DerNode => ({ kind: 'hole', tag, length });
export const octetString = (value: Buffer): DerNode => primitive(TAG.OCTET_STRING, value);
export const nullValue = (): DerNode => primitive(TAG.NULL, Buffer.alloc(0));
/** [n] EXPLICIT, or [n] IMPLICIT over a constructed type. */
export const explicit = (n: number, ...children: DerNode[]): DerNode => constructed(contextConstructed(n), children);

/**
 * SET OF in DER order (X.690 §11.6): elements sorted by their encodings as octet strings, a shorter
 * one padded with trailing zeros. `tag` lets IMPLICIT [n] SET OF (certificates, signedAttrs) share it.
 */
export function setOf(children: readonly DerNode[], tag: number = TAG.SET): DerNode {
  const encoded = children.map((c) => ({ c, bytes: encode(c) }));
  encoded.sort((a, b) => compareDerOrder(a.bytes, b.bytes));
  return constructed(
    tag,
    encoded.map((e) => e.c),
  );
}

export function compareDerOrder(a: Buffer, b: Buffer): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x - y;
  }
  return 0;
}

// Every Secure DICOM File names the same dozen OIDs: encoded once each, not once per file (the arcs
// go through BigInt). Bounded, in case OIDs from input ever pass through here.
const encodedOids = new Map<string, Buffer>();
const MAX_CACHED_OIDS = 256;

/** OBJECT IDENTIFIER (X.690 §8.19) from dotted form. The value is shared: encoders only read it. */
export function oid(dotted: string): DerNode {
  let value = encodedOids.get(dotted);
  if (!value) {
    value = encodeOidValue(dotted);
    if (encodedOids.size < MAX_CACHED_OIDS) encodedOids.set(dotted, value);
  }
  return primitive(TAG.OID, value);
}

export function encodeOidValue(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${dotted}`);
    return BigInt(s);
  });
  if (arcs.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const [a0, a1] = arcs as [bigint, bigint];
  const first = a0 * 40n + a1;
  const out: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] as number) | 0x80;
    out.push(...groups);
  }
  return Buffer.from(out);
}

/**
 * INTEGER (X.690 §8.3) of a non-negative value: a number, or the big-endian magnitude as a Buffer.
 * Minimal two's complement: leading zero octets removed, one added when the top bit is set.
 */
export function integer(value: number | bigint | Buffer): DerNode {
  return primitive(TAG.INTEGER, encodeUnsignedInteger(value));
}

export function encodeUnsignedInteger(value: number | bigint | Buffer): Buffer {
  let mag: Buffer;
  if (Buffer.isBuffer(value)) {
    mag = value;
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError('negative INTEGER');
    const bytes: number[] = [];
    do {
      bytes.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    mag = Buffer.from(bytes);
  }
  let i = 0;
  while (i < mag.length - 1 && mag[i] === 0) i++;
  mag = mag.subarray(i);
  if (mag.length === 0) return Buffer.from([0]);
  return (mag[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), mag]) : Buffer.from(mag);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** UTCTime YYMMDDHHMMSSZ (X.690 §11.8, RFC 5280 §4.1.2.5.1). */
export function utcTime(date: Date): DerNode {
  const y = date.getUTCFullYear();
  if (y < 1950 || y >= 2050) throw new RangeError(`UTCTime cannot hold year ${y}`);
  const s = `${pad(y % 100)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  return primitive(TAG.UTCTime, Buffer.from(s, 'ascii'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ, no fraction (X.690 §11.7). */
export function generalizedTime(date: Date): DerNode {
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime cannot hold year ${y}`);
  const s = `${pad(y, 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  return primitive(TAG.GeneralizedTime, Buffer.from(s, 'ascii'));
}

/** Time as RFC 5652 §11.3 (signing-time) asks: UTCTime from 1950 through 2049, GeneralizedTime otherwise. */
export function time(date: Date): DerNode {
  const y = date.getUTCFullYear();
  return y >= 1950 && y < 2050 ? utcTime(date) : generalizedTime(date);
}
