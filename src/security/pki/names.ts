/**
 * X.501 Names in certificates (RFC 5280 §4.1.2.4): a readable form and the comparison used when
 * building chains (RFC 5280 §7.1).
 *
 * The readable form lists the RDNs in the order they are encoded (most significant first, e.g.
 * `C=DE, O=Hospital, CN=Media signer`), which is how people and `openssl x509 -subject` read them;
 * multi-valued RDNs are joined with `+`, and special characters are escaped as in RFC 4514 §2.4.
 * Values that are not character strings are written as `#` + hex of their DER (RFC 4514 §2.4).
 */
import { children, decodeOid, readTlv, UNIVERSAL, type Tlv } from './der.js';

/** Short names for the attribute types seen in practice (RFC 4514 §3, RFC 5280 Appendix A). */
export const NAME_ATTRIBUTES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.17': 'postalCode',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

export interface NameAttribute {
  oid: string;
  /** Short name (CN, O...) or the dotted OID when unknown. */
  type: string;
  /** The decoded string, or undefined when the value is not a character string. */
  value: string | undefined;
  /** The value element's DER. */
  der: Buffer;
}

/** Decodes a character-string value; undefined for other types. */
function decodeString(tlv: Tlv): string | undefined {
  if (tlv.tagClass !== 0 || tlv.constructed) return undefined;
  switch (tlv.tagNumber) {
    case UNIVERSAL.UTF8String:
      return tlv.value.toString('utf8');
    case UNIVERSAL.PrintableString:
    case UNIVERSAL.IA5String:
    case UNIVERSAL.VisibleString:
    case UNIVERSAL.NumericString:
      return tlv.value.toString('latin1');
    case UNIVERSAL.TeletexString:
      // T.61 is in practice used for Latin-1 text (as OpenSSL does).
      return tlv.value.toString('latin1');
    case UNIVERSAL.BMPString: {
      const swapped = Buffer.from(tlv.value);
      if (swapped.length % 2 !== 0) return undefined;
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case UNIVERSAL.UniversalString: {
      if (tlv.value.length % 4 !== 0) return undefined;
      let s = '';
      for (let i = 0; i < tlv.value.length; i += 4) s += String.fromCodePoint(tlv.value.readUInt32BE(i));
      return s;
    }
    default:
      return undefined;
  }
}

/** The RDNs of a Name, each a list of attributes. Throws on malformed DER. */
export function parseName(nameDer: Buffer): NameAttribute[][] {
  const name = readTlv(nameDer);
  if (name.tagNumber !== UNIVERSAL.SEQUENCE || !name.constructed) throw new Error('Name is not a SEQUENCE');
  return children(name).map((rdn) => {
    if (rdn.tagNumber !== UNIVERSAL.SET) throw new Error('RDN is not a SET');
    return children(rdn).map((atv) => {
      const [typeTlv, valueTlv] = children(atv);
      if (!typeTlv || !valueTlv || typeTlv.tagNumber !== UNIVERSAL.OID) throw new Error('bad AttributeTypeAndValue');
      const oid = decodeOid(typeTlv.value);
      return { oid, type: NAME_ATTRIBUTES[oid] ?? oid, value: decodeString(valueTlv), der: valueTlv.raw };
    });
  });
}

function escapeValue(value: string): string {
  // RFC 4514 §2.4: escape the specials everywhere, a leading '#' or space and a trailing space.
  let s = value.replace(/[\\,+"<>;]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.endsWith(' ') && s.length > 1) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/** `C=DE, O=Hospital, CN=Signer` (encoding order). An empty Name gives an empty string. */
export function formatName(nameDer: Buffer): string {
  return parseName(nameDer)
    .map((rdn) =>
      rdn
        .map((a) => `${a.type}=${a.value === undefined ? `#${a.der.toString('hex')}` : escapeValue(a.value)}`)
        .join('+'),
    )
    .join(', ');
}

/** RFC 5280 §7.1 in its common simplified form (RFC 4518 "insignificant space" and case folding). */
function normalizeValue(a: NameAttribute): string {
  if (a.value === undefined) return `#${a.der.toString('hex')}`;
  return a.value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * True when two Names are the same: byte-equal DER, or the same RDNs (in order) whose attribute
 * sets match after normalization. The second rule accepts a CA that re-encoded its name as
 * UTF8String where the issued certificate says PrintableString, which RFC 5280 §7.1 allows.
 */
export function namesEqual(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  let ra: NameAttribute[][];
  let rb: NameAttribute[][];
  try {
    ra = parseName(a);
    rb = parseName(b);
  } catch {
    return false;
  }
  if (ra.length !== rb.length) return false;
  for (let i = 0; i < ra.length; i++) {
    const x = (ra[i] ?? []).map((v) => `${v.oid}=${normalizeValue(v)}`).sort();
    const y = (rb[i] ?? []).map((v) => `${v.oid}=${normalizeValue(v)}`).sort();
    if (x.length !== y.length || x.some((v, j) => v !== y[j])) return false;
  }
  return true;
}
