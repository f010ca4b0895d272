/**
 * KeyTransRecipientInfo (RFC 5652 §6.2.1) with RSA, the certificate-based key management of PS3.15
 * D.1: rsaEncryption, i.e. RSAES-PKCS1-v1_5 (RFC 3370 §4.2.1), by default, and RSAES-OAEP (RFC 3560,
 * parameters per RFC 4055 §4.1) on request. OAEP is not named by D.1: a reader of the media must
 * support it, so it stays an explicit choice.
 */
import type { KeyObject } from 'node:crypto';
import type { Random } from '../../util/random.js';
import { absentOrNull, childrenOf, decodeAlgorithmIdentifier, decodeSmallInteger, malformed, octetsOf, type BerElement } from '../asn1/ber.js';
import { explicit, integer, nullValue, octetString, oid, raw, sequence, type DerNode } from '../asn1/der.js';
import { DIGESTS, OID, digestByOid, type DigestName } from './algorithms.js';
import type { CertificateIds } from './certificate.js';
import { decodeOaep, decodePkcs1v15, encryptOaep, encryptPkcs1v15, rawPrivate, type OaepParams } from './rsa.js';

export type KeyTransportPadding = 'pkcs1' | 'oaep';

/** The OAEP parameters we write: SHA-256 for the hash and for MGF1, empty label. */
export const OAEP_SHA256: OaepParams = { hash: 'sha256', mgfHash: 'sha256', label: Buffer.alloc(0) };

/** RSAES-OAEP-params (RFC 4055 §4.1), with hash identifiers carrying NULL parameters as RFC 4055 §2.1 lists them. */
function oaepParams(p: OaepParams): DerNode {
  const fields: DerNode[] = [];
  // Defaults (SHA-1, MGF1 with SHA-1, empty label) are left out, as DER requires.
  if (p.hash !== 'sha1') fields.push(explicit(0, sequence(oid(DIGESTS[p.hash].oid), nullValue())));
  if (p.mgfHash !== 'sha1') fields.push(explicit(1, sequence(oid(OID.mgf1), sequence(oid(DIGESTS[p.mgfHash].oid), nullValue()))));
  if (p.label.length > 0) fields.push(explicit(2, sequence(oid(OID.pSpecified), octetString(p.label))));
  return sequence(...fields);
}

export function keyEncryptionAlgorithm(padding: KeyTransportPadding): DerNode {
  // RFC 3370 §4.2.1: rsaEncryption with NULL parameters.
  return padding === 'oaep' ? sequence(oid(OID.rsaesOaep), oaepParams(OAEP_SHA256)) : sequence(oid(OID.rsaEncryption), nullValue());
}

/** KeyTransRecipientInfo, version 0, rid = issuerAndSerialNumber (RFC 5652 §6.2.1). */
export function keyTransRecipientInfo(cert: CertificateIds, padding: KeyTransportPadding, encryptedKey: Buffer): DerNode {
  return sequence(integer(0), sequence(raw(cert.issuer), raw(cert.serialNumber)), keyEncryptionAlgorithm(padding), octetString(encryptedKey));
}

export function encryptContentKey(publicKey: KeyObject, padding: KeyTransportPadding, cek: Buffer, random: Random): Buffer {
  return padding === 'oaep' ? encryptOaep(publicKey, cek, OAEP_SHA256, random) : encryptPkcs1v15(publicKey, cek, random);
}

// ---------------------------------------------------------------------------------------------
// Reading

export type KeyTransportScheme = { kind: 'pkcs1' } | { kind: 'oaep'; params: OaepParams } | { kind: 'unsupported'; algorithm: string };

export interface DecodedKtri {
  rid: { issuerAndSerialNumber: BerElement } | { subjectKeyIdentifier: Buffer };
  scheme: KeyTransportScheme;
  encryptedKey: Buffer;
}

function hashOf(el: BerElement | undefined, what: string): DigestName | undefined {
  const alg = decodeAlgorithmIdentifier(el, what);
  if (!absentOrNull(alg.parameters)) throw malformed(`${what}: parameters must be NULL or absent`);
  return digestByOid(alg.oid)?.name;
}

function decodeOaepParams(params: BerElement | undefined): OaepParams | undefined {
  const p: OaepParams = { hash: 'sha1', mgfHash: 'sha1', label: Buffer.alloc(0) };
  if (params === undefined || (params.tag === 0x05 && params.content.length === 0)) return p;
  let last = -1;
  for (const f of childrenOf(params, 0x30, 'RSAES-OAEP-params', 0, 3)) {
    const n = f.tag - 0xa0;
    if (n < 0 || n > 2 || n <= last || f.children.length !== 1) throw malformed('RSAES-OAEP-params: unexpected field');
    last = n;
    if (n === 0) {
      const h = hashOf(f.children[0], 'OAEP hashAlgorithm');
      if (!h) return undefined;
      p.hash = h;
    } else if (n === 1) {
      const mgf = decodeAlgorithmIdentifier(f.children[0], 'OAEP maskGenAlgorithm');
      if (mgf.oid !== OID.mgf1) return undefined;
      const h = hashOf(mgf.parameters, 'MGF1 hash');
      if (!h) return undefined;
      p.mgfHash = h;
    } else {
      const src = decodeAlgorithmIdentifier(f.children[0], 'OAEP pSourceAlgorithm');
      if (src.oid !== OID.pSpecified) return undefined;
      p.label = octetsOf(src.parameters, 'OAEP label');
    }
  }
  return p;
}

export function decodeKeyTransRecipientInfo(el: BerElement): DecodedKtri {
  const f = childrenOf(el, 0x30, 'KeyTransRecipientInfo', 4, 4);
  const version = decodeSmallInteger(f[0], 'KeyTransRecipientInfo version');
  const ridEl = f[1] as BerElement;
  let rid: DecodedKtri['rid'];
  // RFC 5652 §6.2.1: version 0 with issuerAndSerialNumber, 2 with subjectKeyIdentifier.
  if (ridEl.tag === 0x30) {
    if (version !== 0) throw malformed('KeyTransRecipientInfo with issuerAndSerialNumber must be version 0');
    childrenOf(ridEl, 0x30, 'IssuerAndSerialNumber', 2, 2);
    rid = { issuerAndSerialNumber: ridEl };
  } else if (ridEl.tag === 0x80 || ridEl.tag === 0xa0) {
    if (version !== 2) throw malformed('KeyTransRecipientInfo with subjectKeyIdentifier must be version 2');
    rid = { subjectKeyIdentifier: octetsOf(ridEl, 'subjectKeyIdentifier', 0x80) };
  } else {
    throw malformed('KeyTransRecipientInfo: unknown recipient identifier');
  }
  const alg = decodeAlgorithmIdentifier(f[2], 'keyEncryptionAlgorithm');
  let scheme: KeyTransportScheme;
  if (alg.oid === OID.rsaEncryption) {
    if (!absentOrNull(alg.parameters)) throw malformed('rsaEncryption parameters must be NULL');
    scheme = { kind: 'pkcs1' };
  } else if (alg.oid === OID.rsaesOaep) {
    const params = decodeOaepParams(alg.parameters);
    scheme = params ? { kind: 'oaep', params } : { kind: 'unsupported', algorithm: 'RSAES-OAEP with unsupported parameters' };
  } else {
    scheme = { kind: 'unsupported', algorithm: alg.oid };
  }
  return { rid, scheme, encryptedKey: octetsOf(f[3], 'encryptedKey') };
}

/**
 * The raw RSA private operation of one key, done elsewhere (a worker thread: see rsa-service.ts), so
 * that the 2 ms it takes per file for a 3072-bit key does not hold up the thread that streams files.
 */
export type RawPrivateOperation = (ciphertext: Buffer) => Promise<Buffer | null>;

/** The content key, or null when this private key does not open it. */
export async function decryptContentKey(privateKey: KeyObject, scheme: KeyTransportScheme, encryptedKey: Buffer, raw?: RawPrivateOperation): Promise<Buffer | null> {
  if (scheme.kind === 'unsupported') return null;
  const em = raw ? await raw(encryptedKey) : rawPrivate(privateKey, encryptedKey);
  try {
    return scheme.kind === 'pkcs1' ? decodePkcs1v15(em) : decodeOaep(em, scheme.params);
  } finally {
    em?.fill(0); // the padded content key: the decoders return a copy of the key itself
  }
}
