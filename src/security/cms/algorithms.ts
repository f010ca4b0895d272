/**
 * Object identifiers and algorithms of Secure DICOM Files (PS3.15 D.1.1): content types (RFC 5652),
 * content encryption (AES-CBC per RFC 3565, des-ede3-cbc per RFC 3370 §5.1), digests (RFC 3370 §2,
 * RFC 5754), RSA key transport and signatures (RFC 3370 §3.2/§4.2, RSAES-OAEP per RFC 3560/RFC 4055),
 * password-based key management (RFC 3211 with PBKDF2, RFC 8018).
 */

export const OID = {
  // RFC 5652 §3-§8 content types
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  digestedData: '1.2.840.113549.1.7.5',
  encryptedData: '1.2.840.113549.1.7.6',
  authEnvelopedData: '1.2.840.113549.1.9.16.1.23',
  // RFC 5652 §11 attributes
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  // RFC 2634 / RFC 5035 ESS signing-certificate attributes
  signingCertificate: '1.2.840.113549.1.9.16.2.12',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  // RSA (RFC 8017, RFC 4055)
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  pSpecified: '1.2.840.113549.1.1.9',
  // Password-based (RFC 8018, RFC 3211)
  pbkdf2: '1.2.840.113549.1.5.12',
  pwriKek: '1.2.840.113549.1.9.16.3.9',
  // X.509 (RFC 5280)
  subjectKeyIdentifier: '2.5.29.14',
} as const;

export const CONTENT_TYPE_NAMES: Readonly<Record<string, string>> = {
  [OID.data]: 'id-data',
  [OID.signedData]: 'id-signedData',
  [OID.envelopedData]: 'id-envelopedData',
  [OID.digestedData]: 'id-digestedData',
  [OID.encryptedData]: 'id-encryptedData',
  [OID.authEnvelopedData]: 'id-ct-authEnvelopedData',
};

export type ContentCipher = 'aes128' | 'aes192' | 'aes256' | 'des-ede3';

export interface CipherSpec {
  readonly name: string; // the node:crypto / OpenSSL name
  readonly oid: string;
  readonly keyLength: number;
  readonly blockSize: number;
  readonly legacy: boolean;
}

export const CIPHERS: Readonly<Record<ContentCipher, CipherSpec>> = {
  aes128: { name: 'aes-128-cbc', oid: '2.16.840.1.101.3.4.1.2', keyLength: 16, blockSize: 16, legacy: false },
  aes192: { name: 'aes-192-cbc', oid: '2.16.840.1.101.3.4.1.22', keyLength: 24, blockSize: 16, legacy: false },
  aes256: { name: 'aes-256-cbc', oid: '2.16.840.1.101.3.4.1.42', keyLength: 32, blockSize: 16, legacy: false },
  // PS3.15 D.1 keeps Triple-DES for readers; writers use it only when asked.
  'des-ede3': { name: 'des-ede3-cbc', oid: '1.2.840.113549.3.7', keyLength: 24, blockSize: 8, legacy: true },
};

export function cipherByOid(oid: string): CipherSpec | undefined {
  return Object.values(CIPHERS).find((c) => c.oid === oid);
}

export type DigestName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export interface DigestSpec {
  readonly name: DigestName;
  readonly oid: string;
  readonly length: number;
  /** PBKDF2 PRF (RFC 8018 §B.1.2). */
  readonly hmacOid: string;
  /** sha*WithRSAEncryption (RFC 3370 §3.2, RFC 5754 §3.2). */
  readonly rsaOid: string;
  readonly legacy: boolean;
}

export const DIGESTS: Readonly<Record<DigestName, DigestSpec>> = {
  sha1: { name: 'sha1', oid: '1.3.14.3.2.26', length: 20, hmacOid: '1.2.840.113549.2.7', rsaOid: '1.2.840.113549.1.1.5', legacy: true },
  sha256: { name: 'sha256', oid: '2.16.840.1.101.3.4.2.1', length: 32, hmacOid: '1.2.840.113549.2.9', rsaOid: '1.2.840.113549.1.1.11', legacy: false },
  sha384: { name: 'sha384', oid: '2.16.840.1.101.3.4.2.2', length: 48, hmacOid: '1.2.840.113549.2.10', rsaOid: '1.2.840.113549.1.1.12', legacy: false },
  sha512: { name: 'sha512', oid: '2.16.840.1.101.3.4.2.3', length: 64, hmacOid: '1.2.840.113549.2.11', rsaOid: '1.2.840.113549.1.1.13', legacy: false },
};

export const digestByOid = (oid: string): DigestSpec | undefined => Object.values(DIGESTS).find((d) => d.oid === oid);
export const digestByHmacOid = (oid: string): DigestSpec | undefined => Object.values(DIGESTS).find((d) => d.hmacOid === oid);
export const digestByRsaOid = (oid: string): DigestSpec | undefined => Object.values(DIGESTS).find((d) => d.rsaOid === oid);

/** A readable name for an algorithm OID in results and messages. */
export function algorithmName(oid: string): string {
  const c = cipherByOid(oid);
  if (c) return c.name;
  const d = digestByOid(oid);
  if (d) return d.name;
  const r = digestByRsaOid(oid);
  if (r) return `${r.name}WithRSAEncryption`;
  if (oid === OID.rsaEncryption) return 'rsaEncryption';
  if (oid === OID.rsaesOaep) return 'RSAES-OAEP';
  if (oid === '1.2.840.113549.1.1.10') return 'RSASSA-PSS';
  return CONTENT_TYPE_NAMES[oid] ?? oid;
}
