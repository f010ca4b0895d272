/**
 * A small X.509 v3 certificate and CRL issuer (RFC 5280 §4 and §5) for tests and the demo PKI.
 * pkijs lays out the structures; node:crypto signs (synchronously), SHA-256 with RSA PKCS#1 v1.5
 * (RFC 4055 §5), or ECDSA/Ed25519 when the issuer key is of that type.
 *
 * What it writes follows the RFC 5280 profile: positive serials of at most 20 octets (§4.1.2.2),
 * UTCTime up to 2049 and GeneralizedTime from 2050, whole seconds (§4.1.2.5), basicConstraints
 * critical in CA certificates (§4.2.1.9), keyUsage critical (§4.2.1.3), subject key identifier by
 * method 1 of §4.2.1.2 and an authority key identifier in every certificate (§4.2.1.1).
 */
import { createHash, createPublicKey, generateKeyPair, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { DcmsafeError } from '../../errors/index.js';
import { EXT, KEY_USAGE_BITS, parseCertificate, type KeyUsageName } from './certificates.js';
import { NAME_ATTRIBUTES } from './names.js';

export type ExtendedKeyUsageName = 'serverAuth' | 'clientAuth' | 'codeSigning' | 'emailProtection' | 'timeStamping' | 'OCSPSigning';

const EKU_OIDS: Readonly<Record<ExtendedKeyUsageName, string>> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
};

export interface IssuerCredentials {
  certificate: Buffer;
  privateKey: KeyObject;
}

export interface IssueCertificateOptions {
  /** Attribute short names (CN, O, OU, C, L, ST, emailAddress, DC...) to values; written C, ST, L, O, OU, CN first. */
  subject: Record<string, string>;
  /** The issuing CA; the certificate is self-signed when absent. */
  issuer?: IssuerCredentials;
  /** The subject's public key (a private KeyObject is accepted; its public half is used). */
  publicKey: KeyObject;
  /**
   * The key that signs. Defaults to the issuer's private key; required for self-signed certificates.
   * Tests set it to a different key to make a certificate whose signature does not verify.
   */
  signingKey?: KeyObject;
  serialNumber: bigint | Buffer;
  notBefore: Date;
  notAfter: Date;
  isCA?: boolean;
  pathLength?: number;
  keyUsage?: KeyUsageName[];
  extendedKeyUsage?: ExtendedKeyUsageName[];
  subjectAltNames?: { ip?: string[]; dns?: string[]; email?: string[] };
  /** Leave basicConstraints out entirely (default: present, critical for CAs). For tests. */
  omitBasicConstraints?: boolean;
  /** Leave SKI/AKI out (default: present). For tests. */
  omitKeyIdentifiers?: boolean;
  /** More extensions, DER values as given. For tests (e.g. an unknown critical extension). */
  extraExtensions?: { oid: string; critical: boolean; value: Buffer }[];
}

const SHORT_TO_OID: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(NAME_ATTRIBUTES).map(([oid, short]) => [short, oid]));
const NAME_ORDER = ['C', 'ST', 'L', 'O', 'OU', 'CN'];

/** Builds a Name with one attribute per RDN (pkijs would put them all in one multi-valued RDN). */
export function encodeName(subject: Record<string, string>): Buffer {
  const keys = Object.keys(subject);
  const ordered = [...NAME_ORDER.filter((k) => keys.includes(k)), ...keys.filter((k) => !NAME_ORDER.includes(k))];
  const rdns = ordered.map((k) => {
    const oid = SHORT_TO_OID[k];
    if (!oid) throw new DcmsafeError('USAGE', `Unknown name attribute "${k}"`);
    const value = subject[k] ?? '';
    let str: asn1js.BaseBlock;
    if (k === 'C') {
      // RFC 5280 Appendix A: countryName is a two-letter PrintableString.
      if (!/^[A-Z]{2}$/.test(value)) throw new DcmsafeError('USAGE', `Country "${value}" is not two capital letters`);
      str = new asn1js.PrintableString({ value });
    } else if (k === 'emailAddress' || k === 'DC') {
      str = new asn1js.IA5String({ value });
    } else {
      str = new asn1js.Utf8String({ value });
    }
    return new asn1js.Set({ value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), str] })] });
  });
  return Buffer.from(new asn1js.Sequence({ value: rdns }).toBER(false));
}

function nameFromDer(der: Buffer): pkijs.RelativeDistinguishedNames {
  // fromBER keeps the original bytes, so the issuer name is copied exactly (RFC 5280 §4.1.2.4).
  return pkijs.RelativeDistinguishedNames.fromBER(der);
}

/** Positive INTEGER content octets (RFC 5280 §4.1.2.2: positive, at most 20 octets). */
function serialBytes(serial: bigint | Buffer): Buffer {
  let bytes: Buffer;
  if (typeof serial === 'bigint') {
    if (serial <= 0n) throw new DcmsafeError('USAGE', 'The serial number must be positive');
    let hex = serial.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, 'hex');
  } else {
    let i = 0;
    while (i < serial.length - 1 && serial[i] === 0) i++;
    bytes = Buffer.from(serial.subarray(i));
    if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0)) throw new DcmsafeError('USAGE', 'The serial number must be positive');
  }
  if (((bytes[0] as number) & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  if (bytes.length > 20) throw new DcmsafeError('USAGE', 'The serial number is longer than 20 octets');
  return bytes;
}

function certTime(date: Date): pkijs.Time {
  const whole = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: whole.getUTCFullYear() < 2050 ? 0 : 1, value: whole });
}

function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const info = pkijs.PublicKeyInfo.fromBER(spkiDer);
  return createHash('sha1').update(info.subjectPublicKey.valueBlock.valueHexView).digest();
}

interface SignatureChoice {
  algorithm: pkijs.AlgorithmIdentifier;
  sign: (tbs: Buffer) => Buffer;
}

function signatureFor(key: KeyObject): SignatureChoice {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return {
        // sha256WithRSAEncryption with NULL parameters (RFC 4055 §5).
        algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.11', algorithmParams: new asn1js.Null() }),
        sign: (tbs) => cryptoSign('sha256', tbs, key),
      };
    case 'ec':
      return {
        algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' }),
        sign: (tbs) => cryptoSign('sha256', tbs, { key, dsaEncoding: 'der' }),
      };
    case 'ed25519':
      return {
        algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.101.112' }),
        sign: (tbs) => cryptoSign(null, tbs, key),
      };
    default:
      throw new DcmsafeError('USAGE', `Cannot sign with a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
}

/** KeyUsage as a DER BIT STRING with trailing zero bits removed (X.690 §11.2.2). */
function keyUsageDer(usages: readonly string[]): Buffer {
  let highest = -1;
  const bytes = Buffer.alloc(2);
  for (const u of usages) {
    const bit = (KEY_USAGE_BITS as readonly string[]).indexOf(u);
    if (bit < 0) throw new DcmsafeError('USAGE', `Unknown key usage "${u}"`);
    bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7));
    highest = Math.max(highest, bit);
  }
  if (highest < 0) throw new DcmsafeError('USAGE', 'keyUsage must name at least one usage');
  const n = (highest >> 3) + 1;
  const unused = n * 8 - (highest + 1);
  return Buffer.from([0x03, n + 1, unused, ...bytes.subarray(0, n)]);
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (isIPv6(ip)) {
    const [head = '', tail] = ip.split('::');
    const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
    const h = parse(head);
    const t = tail === undefined ? [] : parse(tail);
    const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
    return out;
  }
  throw new DcmsafeError('USAGE', `"${ip}" is not an IP address`);
}

function extension(oid: string, critical: boolean, value: Buffer | asn1js.BaseBlock): pkijs.Extension {
  const der = Buffer.isBuffer(value) ? value : Buffer.from(value.toBER(false));
  const ext = new pkijs.Extension({ extnID: oid, critical, extnValue: new Uint8Array(der).buffer });
  return ext;
}

/** Issues a certificate and returns its DER. Throws USAGE for impossible options. */
export function issueCertificate(options: IssueCertificateOptions): Buffer {
  if (options.notAfter.getTime() <= options.notBefore.getTime()) throw new DcmsafeError('USAGE', 'notAfter must be after notBefore');
  const subjectSpki = spkiOf(options.publicKey);
  const subjectName = encodeName(options.subject);
  const signingKey = options.signingKey ?? options.issuer?.privateKey;
  if (!signingKey) throw new DcmsafeError('USAGE', 'A self-signed certificate needs signingKey (its own private key)');

  let issuerName = subjectName;
  let authorityKeyId = keyIdentifier(subjectSpki);
  if (options.issuer) {
    const issuer = parseCertificate(options.issuer.certificate);
    issuerName = issuer.subjectDer;
    authorityKeyId = issuer.subjectKeyIdentifier ?? keyIdentifier(spkiOf(issuer.x509.publicKey));
  }

  const extensions: pkijs.Extension[] = [];
  if (!options.omitBasicConstraints) {
    const bc = options.isCA
      ? new pkijs.BasicConstraints(options.pathLength === undefined ? { cA: true } : { cA: true, pathLenConstraint: options.pathLength })
      : new pkijs.BasicConstraints({});
    extensions.push(extension(EXT.basicConstraints, options.isCA === true, bc.toSchema()));
  }
  if (options.keyUsage) extensions.push(extension(EXT.keyUsage, true, keyUsageDer(options.keyUsage)));
  if (options.extendedKeyUsage && options.extendedKeyUsage.length > 0) {
    const oids = options.extendedKeyUsage.map((e) => {
      const oid = EKU_OIDS[e];
      if (!oid) throw new DcmsafeError('USAGE', `Unknown extended key usage "${String(e)}"`);
      return new asn1js.ObjectIdentifier({ value: oid });
    });
    extensions.push(extension(EXT.extKeyUsage, false, new asn1js.Sequence({ value: oids })));
  }
  const san = options.subjectAltNames;
  if (san && ((san.dns?.length ?? 0) > 0 || (san.ip?.length ?? 0) > 0 || (san.email?.length ?? 0) > 0)) {
    const names: asn1js.BaseBlock[] = [
      ...(san.email ?? []).map((v) => new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 1 }, valueHex: new Uint8Array(Buffer.from(v, 'ascii')).buffer })),
      ...(san.dns ?? []).map((v) => new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 2 }, valueHex: new Uint8Array(Buffer.from(v, 'ascii')).buffer })),
      ...(san.ip ?? []).map((v) => new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 7 }, valueHex: new Uint8Array(ipBytes(v)).buffer })),
    ];
    // RFC 5280 §4.2.1.6: critical only when the subject is empty, which this issuer never writes.
    extensions.push(extension(EXT.subjectAltName, false, new asn1js.Sequence({ value: names })));
  }
  if (!options.omitKeyIdentifiers) {
    extensions.push(extension(EXT.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: new Uint8Array(keyIdentifier(subjectSpki)).buffer })));
    const aki = new asn1js.Sequence({
      value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: new Uint8Array(authorityKeyId).buffer })],
    });
    extensions.push(extension(EXT.authorityKeyIdentifier, false, aki));
  }
  for (const x of options.extraExtensions ?? []) extensions.push(extension(x.oid, x.critical, x.value));

  const sig = signatureFor(signingKey);
  const cert = new pkijs.Certificate({
    version: 2,
    serialNumber: new asn1js.Integer({ valueHex: new Uint8Array(serialBytes(options.serialNumber)).buffer }),
    signature: sig.algorithm,
    issuer: nameFromDer(issuerName),
    subject: nameFromDer(subjectName),
    notBefore: certTime(options.notBefore),
    notAfter: certTime(options.notAfter),
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(subjectSpki),
    signatureAlgorithm: sig.algorithm,
  });
  if (extensions.length > 0) cert.extensions = extensions;
  const tbs = Buffer.from(cert.encodeTBS().toBER(false));
  cert.tbsView = new Uint8Array(tbs);
  cert.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(sig.sign(tbs)).buffer });
  return Buffer.from(cert.toSchema(false).toBER(false));
}

export interface RevokedCertificateEntry {
  serialNumber: bigint | Buffer;
  revocationDate: Date;
  /** RFC 5280 §5.3.1 CRLReason code (1 keyCompromise, 4 superseded, ...). */
  reasonCode?: number;
}

/** Issues a v2 CRL (RFC 5280 §5) with AKI and cRLNumber extensions; returns DER. */
export function issueCrl(options: {
  issuer: IssuerCredentials;
  thisUpdate: Date;
  nextUpdate?: Date;
  revoked: RevokedCertificateEntry[];
  crlNumber?: bigint;
  /** The key that signs, defaulting to the issuer's. Tests pass another to make a bad CRL. */
  signingKey?: KeyObject;
}): Buffer {
  const issuer = parseCertificate(options.issuer.certificate);
  const sig = signatureFor(options.signingKey ?? options.issuer.privateKey);
  const crl = new pkijs.CertificateRevocationList({
    version: 1,
    signature: sig.algorithm,
    issuer: nameFromDer(issuer.subjectDer),
    thisUpdate: certTime(options.thisUpdate),
    signatureAlgorithm: sig.algorithm,
  });
  if (options.nextUpdate) crl.nextUpdate = certTime(options.nextUpdate);
  if (options.revoked.length > 0) {
    crl.revokedCertificates = options.revoked.map((r) => {
      const entry = new pkijs.RevokedCertificate({
        userCertificate: new asn1js.Integer({ valueHex: new Uint8Array(serialBytes(r.serialNumber)).buffer }),
        revocationDate: certTime(r.revocationDate),
      });
      if (r.reasonCode !== undefined) {
        entry.crlEntryExtensions = new pkijs.Extensions({
          extensions: [extension(EXT.reasonCode, false, new asn1js.Enumerated({ value: r.reasonCode }))],
        });
      }
      return entry;
    });
  }
  const akid = issuer.subjectKeyIdentifier ?? keyIdentifier(spkiOf(issuer.x509.publicKey));
  const crlExtensions = [
    extension(
      EXT.authorityKeyIdentifier,
      false,
      new asn1js.Sequence({ value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: new Uint8Array(akid).buffer })] }),
    ),
    extension(EXT.cRLNumber, false, new asn1js.Integer({ valueHex: new Uint8Array(serialBytes(options.crlNumber ?? 1n)).buffer })),
  ];
  crl.crlExtensions = new pkijs.Extensions({ extensions: crlExtensions });
  // encodeTBS is protected on CertificateRevocationList: take the TBS out of a fresh encoding.
  const tbsBlock = crl.toSchema(true).valueBlock.value[0] as asn1js.BaseBlock;
  const tbs = Buffer.from(tbsBlock.toBER(false));
  crl.tbsView = new Uint8Array(tbs);
  crl.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(sig.sign(tbs)).buffer });
  return Buffer.from(crl.toSchema(false).toBER(false));
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** A fresh RSA key pair (e = 65537). 3072 bits by default (NIST SP 800-57 level 128). */
export async function generateRsaKeyPair(bits = 3072): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  if (!Number.isInteger(bits) || bits < 2048 || bits > 16384) throw new DcmsafeError('USAGE', 'RSA key size must be 2048 to 16384 bits');
  return generateKeyPairAsync('rsa', { modulusLength: bits, publicExponent: 0x10001 });
}
