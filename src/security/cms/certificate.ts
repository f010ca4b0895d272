/**
 * What CMS needs from an X.509 certificate (RFC 5280 §4.1): the issuer Name and serialNumber that
 * make an IssuerAndSerialNumber (RFC 5652 §10.2.4), the subjectKeyIdentifier extension (§4.2.1.2)
 * for recipients and signers identified by key, and the subject public key. The Name and the serial
 * number are kept as encoded: CMS compares them octet for octet with the certificate's.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { childrenOf, decodeOid, expectTag, octetsOf, parseBer, toDer, type BerElement } from '../asn1/ber.js';
import { OID } from './algorithms.js';

export interface CertificateIds {
  /** The whole certificate (DER). */
  readonly der: Buffer;
  /** The issuer Name, as encoded (TLV). */
  readonly issuer: Buffer;
  /** The serialNumber INTEGER, as encoded (TLV). */
  readonly serialNumber: Buffer;
  /** The serialNumber value octets. */
  readonly serialValue: Buffer;
  readonly subjectKeyIdentifier?: Buffer;
  /** SubjectPublicKeyInfo, as encoded. */
  readonly spki: Buffer;
}

// Every file of a medium carries the same signer certificate (and chain), and every file of a run is
// written for the same recipients: parsing each certificate once per run instead of once per file
// saves about half a millisecond per file. Keyed by the DER octets (a copy is parsed, so a caller
// reusing its buffer cannot change what is cached); bounded; failures are not cached.
const CACHE_SIZE = 64;
const idsCache = new Map<string, CertificateIds>();
const keyCache = new Map<string, KeyObject>();

function remember<T>(cache: Map<string, T>, key: string, value: T): T {
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

/** Parses a certificate; throws CMS_MALFORMED on anything that is not one. */
export function certificateIds(der: Buffer, what = 'certificate'): CertificateIds {
  const key = der.toString('latin1');
  return idsCache.get(key) ?? remember(idsCache, key, parseCertificateIds(Buffer.from(der), what));
}

function parseCertificateIds(der: Buffer, what: string): CertificateIds {
  const cert = parseBer(der, what);
  const [tbs] = childrenOf(cert, 0x30, what, 3, 3);
  const fields = childrenOf(tbs, 0x30, `${what} tbsCertificate`, 6);
  let i = 0;
  if (fields[0]?.tag === 0xa0) i++; // version [0] EXPLICIT
  const serial = expectTag(fields[i], 0x02, `${what} serialNumber`);
  const issuer = expectTag(fields[i + 2], 0x30, `${what} issuer`);
  const spki = expectTag(fields[i + 5], 0x30, `${what} subjectPublicKeyInfo`);
  let ski: Buffer | undefined;
  for (const f of fields.slice(i + 6)) {
    if (f.tag !== 0xa3) continue; // extensions [3] EXPLICIT
    for (const ext of childrenOf(f.children[0], 0x30, `${what} extensions`)) {
      const parts = childrenOf(ext, 0x30, `${what} extension`, 2, 3);
      if (decodeOid(parts[0], `${what} extnID`) !== OID.subjectKeyIdentifier) continue;
      const value = octetsOf(parts[parts.length - 1], `${what} extnValue`);
      ski = octetsOf(parseBer(value, `${what} subjectKeyIdentifier`), `${what} subjectKeyIdentifier`);
    }
  }
  return { der, issuer: issuer.raw, serialNumber: serial.raw, serialValue: serial.content, spki: spki.raw, ...(ski ? { subjectKeyIdentifier: ski } : {}) };
}

/** The subject public key of a certificate. */
export function certificatePublicKey(ids: CertificateIds): KeyObject {
  const key = ids.spki.toString('latin1');
  const cached = keyCache.get(key);
  if (cached) return cached;
  try {
    return remember(keyCache, key, createPublicKey({ key: ids.spki, format: 'der', type: 'spki' }));
  } catch (e) {
    throw new DcmsafeError('CERT_UNREADABLE', `the certificate's public key cannot be read: ${(e as Error).message}`, {}, { cause: e });
  }
}

/** Certificate parsing for callers that give certificates (writer options, reader keys): CERT_UNREADABLE. */
export function readCertificate(der: Buffer, what: string): CertificateIds {
  try {
    return certificateIds(der, what);
  } catch (e) {
    throw new DcmsafeError('CERT_UNREADABLE', `${what} is not a DER X.509 certificate: ${(e as Error).message}`, {}, { cause: e });
  }
}

/**
 * True when an element is the IssuerAndSerialNumber of the certificate. The Name is compared in DER
 * (as OpenSSL compares canonical encodings): a BER writer may send it with indefinite or long-form
 * lengths, and it still names the same issuer (found by the cms fuzz target's BER re-encodings).
 */
export function matchesIssuerAndSerial(el: BerElement, cert: CertificateIds): boolean {
  if (el.tag !== 0x30 || el.children.length !== 2) return false;
  const [issuer, serial] = el.children as [BerElement, BerElement];
  if (serial.tag !== 0x02 || !serial.content.equals(cert.serialValue)) return false;
  return issuer.raw.equals(cert.issuer) || toDer(issuer).equals(cert.issuer);
}
