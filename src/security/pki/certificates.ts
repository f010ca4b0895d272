/**
 * Reading X.509 certificates and CRLs (RFC 5280 §4 and §5): PEM bundles or DER in, DER out, and a
 * plain description of a certificate for reports and trust decisions.
 *
 * node:crypto's X509Certificate does the signature and fingerprint work, but it does not expose the
 * key usage bits, basic constraints or key identifiers (its `keyUsage` property is in fact the
 * *extended* key usage), so the TBSCertificate is walked here with a small DER reader.
 */
import { constants, createHash, verify as cryptoVerify, X509Certificate, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { children, decodeOid, readTlv, UNIVERSAL, type Tlv } from './der.js';
import { formatName } from './names.js';
import { looksLikePem, parsePem } from './pem.js';

export interface CertificateIdentity {
  /** RFC 4514-style, in encoding order: `C=DE, O=Hospital, CN=Media signer`. */
  subject: string;
  issuer: string;
  /** Upper-case hex, whole bytes, no leading zero bytes (as `openssl x509 -serial` prints it). */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** RFC 5280 §4.2.1.3 names, e.g. digitalSignature, nonRepudiation, keyEncipherment. Empty when absent. */
  keyUsage: string[];
  /** RFC 5280 §4.2.1.12 names (serverAuth, clientAuth, emailProtection...) or dotted OIDs. */
  extendedKeyUsage: string[];
  isCA: boolean;
  pathLength?: number;
  /** Lower-case hex. */
  subjectKeyIdentifier?: string;
  authorityKeyIdentifier?: string;
  /** node:crypto's key type: rsa, rsa-pss, ec, ed25519... */
  publicKeyAlgorithm: string;
  publicKeyBits?: number;
  /** Signature algorithm name (sha256WithRSAEncryption...) or dotted OID. */
  signatureAlgorithm: string;
  subjectAltNames?: { dns: string[]; ip: string[]; email: string[]; uri: string[] };
  /** Lower-case hex of SHA-256 over the DER. */
  fingerprintSha256: string;
}

/** What trust evaluation needs from a certificate; built once per certificate. */
export interface ParsedCertificate {
  der: Buffer;
  x509: X509Certificate;
  tbs: Buffer;
  version: number;
  serial: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  extensions: { oid: string; critical: boolean; value: Buffer }[];
  /** undefined when the extension is absent (which is not the same as "no bits set"). */
  keyUsage?: Set<string>;
  basicConstraints?: { cA: boolean; pathLength?: number };
  extendedKeyUsage?: string[];
  subjectKeyIdentifier?: Buffer;
  authorityKeyIdentifier?: Buffer;
  identity: CertificateIdentity;
}

export const EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  nameConstraints: '2.5.29.30',
  cRLDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;

/** RFC 5280 §4.2.1.3, bit 0 first. */
export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

export const EXTENDED_KEY_USAGES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

/** Signature algorithms (RFC 4055, RFC 5758, RFC 8410) and what node:crypto.verify needs for them. */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { name: string; digest: string | null }>> = {
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', digest: 'sha1' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', digest: 'sha224' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', digest: 'sha256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', digest: 'sha384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', digest: 'sha512' },
  '1.2.840.113549.1.1.10': { name: 'rsassaPss', digest: null },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', digest: 'sha1' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', digest: 'sha256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', digest: 'sha384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', digest: 'sha512' },
  '1.3.101.112': { name: 'Ed25519', digest: null },
  '1.3.101.113': { name: 'Ed448', digest: null },
};

const CURVE_BITS: Readonly<Record<string, number>> = {
  prime256v1: 256,
  secp256k1: 256,
  secp384r1: 384,
  secp521r1: 521,
  'P-256': 256,
  'P-384': 384,
  'P-521': 521,
};

// ---------------------------------------------------------------------------------------------
// DER field helpers

function expect(tlv: Tlv | undefined, tagNumber: number, what: string): Tlv {
  if (!tlv || tlv.tagClass !== 0 || tlv.tagNumber !== tagNumber) throw new Error(`${what} expected`);
  return tlv;
}

/** UTCTime / GeneralizedTime (RFC 5280 §4.1.2.5): only the Z forms DER allows. */
export function decodeTime(tlv: Tlv): Date {
  const s = tlv.value.toString('latin1');
  let m: RegExpMatchArray | null;
  let year: number;
  if (tlv.tagNumber === UNIVERSAL.UTCTime) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s);
    if (!m) throw new Error(`bad UTCTime ${s}`);
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // RFC 5280 §4.1.2.5.1
  } else if (tlv.tagNumber === UNIVERSAL.GeneralizedTime) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(s);
    if (!m) throw new Error(`bad GeneralizedTime ${s}`);
    year = Number(m[1]);
  } else {
    throw new Error('Time expected');
  }
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
}

/** Upper-case hex of an INTEGER's magnitude, whole bytes (negative values get a '-'). */
export function integerHex(value: Buffer): string {
  if (value.length === 0) return '00';
  if (((value[0] as number) & 0x80) !== 0) {
    // Negative serials are not allowed (RFC 5280 §4.1.2.2) but exist; show them rather than fail.
    const n = BigInt.asIntN(value.length * 8, BigInt(`0x${value.toString('hex')}`));
    let hex = (-n).toString(16).toUpperCase();
    if (hex.length % 2) hex = `0${hex}`;
    return `-${hex}`;
  }
  let i = 0;
  while (i < value.length - 1 && value[i] === 0) i++;
  return value.subarray(i).toString('hex').toUpperCase();
}

function parseKeyUsage(value: Buffer): Set<string> {
  const bits = readTlv(value);
  if (bits.tagNumber !== 3 || bits.value.length === 0) throw new Error('KeyUsage is not a BIT STRING');
  const out = new Set<string>();
  for (let i = 0; i < KEY_USAGE_BITS.length; i++) {
    const byte = bits.value[1 + (i >> 3)];
    if (byte !== undefined && (byte & (0x80 >> (i & 7))) !== 0) out.add(KEY_USAGE_BITS[i] as string);
  }
  return out;
}

function parseBasicConstraints(value: Buffer): { cA: boolean; pathLength?: number } {
  const seq = expect(readTlv(value), UNIVERSAL.SEQUENCE, 'BasicConstraints');
  let cA = false;
  let pathLength: number | undefined;
  for (const c of children(seq)) {
    if (c.tagNumber === 1) cA = c.value[0] !== 0;
    else if (c.tagNumber === UNIVERSAL.INTEGER) pathLength = c.value.length > 4 ? Number.MAX_SAFE_INTEGER : c.value.readUIntBE(0, c.value.length || 1);
  }
  return pathLength === undefined ? { cA } : { cA, pathLength };
}

function parseAki(value: Buffer): Buffer | undefined {
  const seq = expect(readTlv(value), UNIVERSAL.SEQUENCE, 'AuthorityKeyIdentifier');
  const keyId = children(seq).find((c) => c.tagClass === 2 && c.tagNumber === 0);
  return keyId ? Buffer.from(keyId.value) : undefined;
}

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    return groups.join(':');
  }
  return bytes.toString('hex');
}

function parseSan(value: Buffer): { dns: string[]; ip: string[]; email: string[]; uri: string[] } {
  const out = { dns: [] as string[], ip: [] as string[], email: [] as string[], uri: [] as string[] };
  for (const gn of children(expect(readTlv(value), UNIVERSAL.SEQUENCE, 'GeneralNames'))) {
    if (gn.tagClass !== 2) continue;
    if (gn.tagNumber === 1) out.email.push(gn.value.toString('latin1'));
    else if (gn.tagNumber === 2) out.dns.push(gn.value.toString('latin1'));
    else if (gn.tagNumber === 6) out.uri.push(gn.value.toString('latin1'));
    else if (gn.tagNumber === 7) out.ip.push(formatIp(gn.value));
  }
  return out;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Certificates

/**
 * A small memo of parsed certificates and CRLs, by the SHA-256 of their DER: a medium of thousands of
 * files signed by one signer presents the same few certificates with every file, and parsing them each
 * time is most of the work (and garbage) of judging a file. Parsed values are never modified.
 */
class ParseMemo<T> {
  private readonly entries = new Map<string, T>();

  constructor(private readonly max: number) {}

  get(der: Buffer, parse: (own: Buffer) => T): T {
    const key = createHash('sha256').update(der).digest('base64');
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key); // most recently used last
      this.entries.set(key, hit);
      return hit;
    }
    // A copy, so that what is kept never pins a larger buffer the DER was cut from.
    const value = parse(Buffer.from(der));
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}

const certificateMemo = new ParseMemo<ParsedCertificate>(256);
const crlMemo = new ParseMemo<ParsedCrl>(16);

/**
 * Parses one DER certificate. Throws CERT_UNREADABLE when node:crypto refuses it or its TBS does
 * not have the RFC 5280 §4.1 shape.
 */
export function parseCertificate(derInput: Uint8Array): ParsedCertificate {
  return certificateMemo.get(toBuffer(derInput), parseCertificateOnce);
}

function parseCertificateOnce(der: Buffer): ParsedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (e) {
    throw new DcmsafeError('CERT_UNREADABLE', `Not a readable X.509 certificate: ${(e as Error).message}`, {}, { cause: e });
  }
  try {
    const outer = expect(readTlv(der), UNIVERSAL.SEQUENCE, 'Certificate');
    const [tbsTlv, sigAlgTlv] = children(outer);
    const tbs = expect(tbsTlv, UNIVERSAL.SEQUENCE, 'TBSCertificate');
    const fields = children(tbs);
    let i = 0;
    let version = 1;
    if (fields[0]?.tagClass === 2 && fields[0].tagNumber === 0) {
      version = Number((children(fields[0])[0]?.value[0] ?? 0) + 1);
      i++;
    }
    const serial = expect(fields[i++], UNIVERSAL.INTEGER, 'serialNumber').value;
    i++; // signature AlgorithmIdentifier (repeated outside, where we read it)
    const issuerDer = expect(fields[i++], UNIVERSAL.SEQUENCE, 'issuer').raw;
    const validity = children(expect(fields[i++], UNIVERSAL.SEQUENCE, 'validity'));
    const subjectDer = expect(fields[i++], UNIVERSAL.SEQUENCE, 'subject').raw;
    i++; // subjectPublicKeyInfo: node:crypto reads it
    const extensions: ParsedCertificate['extensions'] = [];
    for (; i < fields.length; i++) {
      const f = fields[i] as Tlv;
      if (f.tagClass !== 2 || f.tagNumber !== 3) continue;
      const list = expect(children(f)[0], UNIVERSAL.SEQUENCE, 'Extensions');
      for (const ext of children(list)) {
        const parts = children(ext);
        const oid = decodeOid(expect(parts[0], UNIVERSAL.OID, 'extnID').value);
        const critical = parts.length === 3 && parts[1]?.tagNumber === 1 && parts[1].value[0] !== 0;
        const value = expect(parts[parts.length - 1], UNIVERSAL.OCTET_STRING, 'extnValue').value;
        extensions.push({ oid, critical, value });
      }
    }
    const ext = (oid: string): Buffer | undefined => extensions.find((e) => e.oid === oid)?.value;
    const kuValue = ext(EXT.keyUsage);
    const keyUsage = kuValue ? parseKeyUsage(kuValue) : undefined;
    const bcValue = ext(EXT.basicConstraints);
    const basicConstraints = bcValue ? parseBasicConstraints(bcValue) : undefined;
    const ekuValue = ext(EXT.extKeyUsage);
    const extendedKeyUsage = ekuValue
      ? children(expect(readTlv(ekuValue), UNIVERSAL.SEQUENCE, 'ExtKeyUsage')).map((o) => {
          const oid = decodeOid(o.value);
          return EXTENDED_KEY_USAGES[oid] ?? oid;
        })
      : undefined;
    const skiValue = ext(EXT.subjectKeyIdentifier);
    const subjectKeyIdentifier = skiValue ? Buffer.from(expect(readTlv(skiValue), UNIVERSAL.OCTET_STRING, 'SKI').value) : undefined;
    const akiValue = ext(EXT.authorityKeyIdentifier);
    const authorityKeyIdentifier = akiValue ? parseAki(akiValue) : undefined;
    const sanValue = ext(EXT.subjectAltName);

    const sigOid = decodeOid(expect(children(expect(sigAlgTlv, UNIVERSAL.SEQUENCE, 'signatureAlgorithm'))[0], UNIVERSAL.OID, 'OID').value);
    const key = x509.publicKey;
    const details = key.asymmetricKeyDetails ?? {};
    const bits = details.modulusLength ?? (details.namedCurve ? CURVE_BITS[details.namedCurve] : undefined);
    const notBefore = decodeTime(validity[0] as Tlv);
    const notAfter = decodeTime(validity[1] as Tlv);

    const identity: CertificateIdentity = {
      subject: formatName(subjectDer),
      issuer: formatName(issuerDer),
      serialNumber: integerHex(serial),
      notBefore,
      notAfter,
      keyUsage: keyUsage ? KEY_USAGE_BITS.filter((k) => keyUsage.has(k)) : [],
      extendedKeyUsage: extendedKeyUsage ?? [],
      isCA: basicConstraints?.cA ?? false,
      publicKeyAlgorithm: key.asymmetricKeyType ?? 'unknown',
      signatureAlgorithm: SIGNATURE_ALGORITHMS[sigOid]?.name ?? sigOid,
      fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    };
    if (basicConstraints?.cA && basicConstraints.pathLength !== undefined) identity.pathLength = basicConstraints.pathLength;
    if (subjectKeyIdentifier) identity.subjectKeyIdentifier = subjectKeyIdentifier.toString('hex');
    if (authorityKeyIdentifier) identity.authorityKeyIdentifier = authorityKeyIdentifier.toString('hex');
    if (bits !== undefined) identity.publicKeyBits = bits;
    if (sanValue) identity.subjectAltNames = parseSan(sanValue);

    const parsed: ParsedCertificate = {
      der,
      x509,
      tbs: tbs.raw,
      version,
      serial: Buffer.from(serial),
      issuerDer: Buffer.from(issuerDer),
      subjectDer: Buffer.from(subjectDer),
      notBefore,
      notAfter,
      extensions,
      identity,
    };
    if (keyUsage) parsed.keyUsage = keyUsage;
    if (basicConstraints) parsed.basicConstraints = basicConstraints;
    if (extendedKeyUsage) parsed.extendedKeyUsage = extendedKeyUsage;
    if (subjectKeyIdentifier) parsed.subjectKeyIdentifier = subjectKeyIdentifier;
    if (authorityKeyIdentifier) parsed.authorityKeyIdentifier = authorityKeyIdentifier;
    return parsed;
  } catch (e) {
    if (e instanceof DcmsafeError) throw e;
    throw new DcmsafeError('CERT_UNREADABLE', `Malformed certificate: ${(e as Error).message}`, {}, { cause: e });
  }
}

export function describeCertificate(der: Uint8Array): CertificateIdentity {
  return parseCertificate(der).identity;
}

const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);

/** DER elements laid end to end (some .der bundles are plain concatenations). */
function splitDer(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const tlv = readTlv(bytes, pos);
    out.push(Buffer.from(tlv.raw));
    pos = tlv.end;
  }
  return out;
}

/**
 * Certificates from a PEM bundle (any text between blocks is ignored, as are keys and other
 * blocks) or from DER (one certificate or several concatenated). Each one is checked to parse.
 */
export function loadCertificates(bytes: Buffer): Buffer[] {
  let ders: Buffer[];
  if (looksLikePem(bytes)) {
    ders = parsePem(bytes.toString('latin1'))
      .filter((b) => CERT_LABELS.has(b.label))
      // OpenSSL's TRUSTED CERTIFICATE is the certificate followed by its trust settings: keep the first element.
      .map((b) => (b.label === 'TRUSTED CERTIFICATE' ? Buffer.from(readTlvSafe(b.der)) : b.der));
  } else {
    try {
      ders = splitDer(bytes);
    } catch (e) {
      throw new DcmsafeError('CERT_UNREADABLE', 'Neither PEM nor DER certificate data', {}, { cause: e });
    }
  }
  if (ders.length === 0) throw new DcmsafeError('CERT_UNREADABLE', 'No certificate found (no CERTIFICATE block in the PEM text)');
  for (const der of ders) parseCertificate(der);
  return ders;
}

function readTlvSafe(der: Buffer): Buffer {
  try {
    return readTlv(der).raw;
  } catch (e) {
    throw new DcmsafeError('CERT_UNREADABLE', 'Malformed TRUSTED CERTIFICATE block', {}, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------
// CRLs (RFC 5280 §5)

export interface RevokedEntry {
  serial: Buffer;
  revocationDate: Date;
  /** RFC 5280 §5.3.1 reason name when the entry has one. */
  reason?: string;
}

export interface ParsedCrl {
  der: Buffer;
  tbs: Buffer;
  issuerDer: Buffer;
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  revoked: RevokedEntry[];
  signatureAlgorithmOid: string;
  signatureAlgorithmParams?: Buffer;
  signature: Buffer;
  crlNumber?: string;
  /** Critical CRL extensions this code does not process (RFC 5280 §5.2: such a CRL must not be used). */
  unknownCriticalExtensions: string[];
}

const CRL_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
];

function parseExtensionList(list: Tlv): { oid: string; critical: boolean; value: Buffer }[] {
  return children(list).map((ext) => {
    const parts = children(ext);
    return {
      oid: decodeOid(expect(parts[0], UNIVERSAL.OID, 'extnID').value),
      critical: parts.length === 3 && parts[1]?.tagNumber === 1 && parts[1].value[0] !== 0,
      value: expect(parts[parts.length - 1], UNIVERSAL.OCTET_STRING, 'extnValue').value,
    };
  });
}

/** Parses a DER CRL without any size limit on the number of entries. Throws CERT_UNREADABLE. */
export function parseCrl(derInput: Uint8Array): ParsedCrl {
  return crlMemo.get(toBuffer(derInput), parseCrlOnce);
}

function parseCrlOnce(der: Buffer): ParsedCrl {
  try {
    const outer = expect(readTlv(der), UNIVERSAL.SEQUENCE, 'CertificateList');
    if (outer.end !== der.length) throw new Error('trailing bytes after the CRL');
    const [tbsTlv, algTlv, sigTlv] = children(outer);
    const tbs = expect(tbsTlv, UNIVERSAL.SEQUENCE, 'TBSCertList');
    const fields = children(tbs);
    let i = 0;
    if (fields[0]?.tagNumber === UNIVERSAL.INTEGER && fields[0].tagClass === 0) i++;
    i++; // signature AlgorithmIdentifier
    const issuerDer = expect(fields[i++], UNIVERSAL.SEQUENCE, 'issuer').raw;
    const thisUpdate = decodeTime(fields[i++] as Tlv);
    let nextUpdate: Date | undefined;
    const maybeNext = fields[i];
    if (maybeNext && maybeNext.tagClass === 0 && (maybeNext.tagNumber === UNIVERSAL.UTCTime || maybeNext.tagNumber === UNIVERSAL.GeneralizedTime)) {
      nextUpdate = decodeTime(maybeNext);
      i++;
    }
    const revoked: RevokedEntry[] = [];
    const unknownCriticalExtensions: string[] = [];
    let crlNumber: string | undefined;
    for (; i < fields.length; i++) {
      const f = fields[i] as Tlv;
      if (f.tagClass === 0 && f.tagNumber === UNIVERSAL.SEQUENCE) {
        for (const entry of children(f)) {
          const parts = children(entry);
          const e: RevokedEntry = {
            serial: Buffer.from(expect(parts[0], UNIVERSAL.INTEGER, 'userCertificate').value),
            revocationDate: decodeTime(parts[1] as Tlv),
          };
          if (parts[2]) {
            for (const x of parseExtensionList(parts[2])) {
              if (x.oid === EXT.reasonCode) {
                const code = readTlv(x.value).value[0] ?? 0;
                e.reason = CRL_REASONS[code] ?? String(code);
              } else if (x.critical) {
                unknownCriticalExtensions.push(x.oid);
              }
            }
          }
          revoked.push(e);
        }
      } else if (f.tagClass === 2 && f.tagNumber === 0) {
        const known: string[] = [EXT.cRLNumber, EXT.authorityKeyIdentifier, EXT.issuerAltName];
        for (const x of parseExtensionList(expect(children(f)[0], UNIVERSAL.SEQUENCE, 'crlExtensions'))) {
          if (x.oid === EXT.cRLNumber) crlNumber = integerHex(readTlv(x.value).value);
          else if (x.critical && !known.includes(x.oid)) unknownCriticalExtensions.push(x.oid);
        }
      }
    }
    const alg = children(expect(algTlv, UNIVERSAL.SEQUENCE, 'signatureAlgorithm'));
    const sig = expect(sigTlv, 3, 'signatureValue');
    const parsed: ParsedCrl = {
      der,
      tbs: tbs.raw,
      issuerDer: Buffer.from(issuerDer),
      issuer: formatName(issuerDer),
      thisUpdate,
      revoked,
      signatureAlgorithmOid: decodeOid(expect(alg[0], UNIVERSAL.OID, 'OID').value),
      signature: Buffer.from(sig.value.subarray(1)),
      unknownCriticalExtensions,
    };
    if (alg[1] && alg[1].tagNumber !== UNIVERSAL.NULL) parsed.signatureAlgorithmParams = Buffer.from(alg[1].raw);
    if (nextUpdate) parsed.nextUpdate = nextUpdate;
    if (crlNumber !== undefined) parsed.crlNumber = crlNumber;
    return parsed;
  } catch (e) {
    throw new DcmsafeError('CERT_UNREADABLE', `Malformed CRL: ${(e as Error).message}`, {}, { cause: e });
  }
}

/** CRLs from PEM (`X509 CRL` blocks) or DER (one or several concatenated). */
export function loadCrls(bytes: Buffer): Buffer[] {
  let ders: Buffer[];
  if (looksLikePem(bytes)) {
    ders = parsePem(bytes.toString('latin1'))
      .filter((b) => b.label === 'X509 CRL')
      .map((b) => b.der);
  } else {
    try {
      ders = splitDer(bytes);
    } catch (e) {
      throw new DcmsafeError('CERT_UNREADABLE', 'Neither PEM nor DER CRL data', {}, { cause: e });
    }
  }
  if (ders.length === 0) throw new DcmsafeError('CERT_UNREADABLE', 'No CRL found (no X509 CRL block in the PEM text)');
  for (const der of ders) parseCrl(der);
  return ders;
}

/** RSASSA-PSS parameters (RFC 4055 §3.1): hash and salt length, with their SHA-1/20 defaults. */
function pssOptions(params: Buffer | undefined): { digest: string; saltLength: number } {
  const hashes: Record<string, string> = {
    '1.3.14.3.2.26': 'sha1',
    '2.16.840.1.101.3.4.2.1': 'sha256',
    '2.16.840.1.101.3.4.2.2': 'sha384',
    '2.16.840.1.101.3.4.2.3': 'sha512',
  };
  let digest = 'sha1';
  let saltLength = 20;
  if (params) {
    for (const p of children(readTlv(params))) {
      if (p.tagClass !== 2) continue;
      const inner = children(p)[0];
      if (!inner) continue;
      if (p.tagNumber === 0) digest = hashes[decodeOid(children(inner)[0]?.value ?? Buffer.alloc(0))] ?? 'unknown';
      if (p.tagNumber === 2) saltLength = inner.value.readUIntBE(0, Math.min(inner.value.length, 4) || 1);
    }
  }
  return { digest, saltLength };
}

/**
 * Verifies a signature over `tbs` (a CRL's TBSCertList) with the issuer's public key. Returns
 * undefined when the algorithm is not supported here, so callers can say so instead of "invalid".
 */
export function verifySignedBytes(
  tbs: Buffer,
  signature: Buffer,
  algorithmOid: string,
  params: Buffer | undefined,
  key: KeyObject,
): boolean | undefined {
  const alg = SIGNATURE_ALGORITHMS[algorithmOid];
  if (!alg) return undefined;
  try {
    if (algorithmOid === '1.2.840.113549.1.1.10') {
      const { digest, saltLength } = pssOptions(params);
      return cryptoVerify(digest, tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature);
    }
    return cryptoVerify(alg.digest, tbs, key, signature);
  } catch {
    return false;
  }
}
