/**
 * A minimal DER reader (ITU-T X.690 §8, §10): tag, length and value of one element, definite lengths
 * only. It is used to sniff the shape of key files and to walk X.501 Names without asking a full
 * ASN.1 library to build objects for them. Anything odd throws; callers turn that into their own
 * error code.
 */

export interface Tlv {
  /** Tag class: 0 universal, 1 application, 2 context-specific, 3 private. */
  tagClass: number;
  constructed: boolean;
  tagNumber: number;
  /** The whole element (header + value). */
  raw: Buffer;
  /** The value octets. */
  value: Buffer;
  /** Offset just after the element, in the buffer it was read from. */
  end: number;
}

export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset + 2 > buf.length) throw new Error('DER: truncated header');
  const first = buf[offset] as number;
  let pos = offset + 1;
  let tagNumber = first & 0x1f;
  if (tagNumber === 0x1f) {
    // High tag numbers (X.690 §8.1.2.4): base-128, at most 4 octets here (no real structure needs more).
    tagNumber = 0;
    for (let i = 0; ; i++) {
      if (pos >= buf.length || i > 3) throw new Error('DER: bad tag');
      const b = buf[pos++] as number;
      tagNumber = (tagNumber << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }
  if (pos >= buf.length) throw new Error('DER: truncated length');
  const lenByte = buf[pos++] as number;
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else {
    const n = lenByte & 0x7f;
    // 0x80 is the BER indefinite form, which DER forbids; more than 4 length octets is absurd here.
    if (n === 0 || n > 4 || pos + n > buf.length) throw new Error('DER: bad length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[pos++] as number);
  }
  const end = pos + length;
  if (end > buf.length) throw new Error('DER: value runs past the end');
  return {
    tagClass: first >> 6,
    constructed: (first & 0x20) !== 0,
    tagNumber,
    raw: buf.subarray(offset, end),
    value: buf.subarray(pos, end),
    end,
  };
}

/** The elements inside a constructed value. */
export function children(tlv: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < tlv.value.length) {
    const child = readTlv(tlv.value, pos);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** Decodes an OBJECT IDENTIFIER value (X.690 §8.19) to dotted form. */
export function decodeOid(value: Buffer): string {
  if (value.length === 0) throw new Error('DER: empty OID');
  const parts: number[] = [];
  let n = 0;
  for (const b of value) {
    n = n * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = n < 80 ? Math.floor(n / 40) : 2;
        parts.push(first, n - first * 40);
      } else {
        parts.push(n);
      }
      n = 0;
    }
  }
  return parts.join('.');
}

export const UNIVERSAL = {
  INTEGER: 2,
  OCTET_STRING: 4,
  NULL: 5,
  OID: 6,
  UTF8String: 12,
  SEQUENCE: 16,
  SET: 17,
  NumericString: 18,
  PrintableString: 19,
  TeletexString: 20,
  IA5String: 22,
  UTCTime: 23,
  GeneralizedTime: 24,
  VisibleString: 26,
  UniversalString: 28,
  BMPString: 30,
} as const;
