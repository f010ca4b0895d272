/**
 * Password-based key management of PS3.15 D.1 (RFC 3211, PasswordRecipientInfo in RFC 5652 §6.2.4):
 * a key-encryption key (KEK) derived from the password with PBKDF2 (RFC 8018 §5.2), and the content
 * key wrapped with id-alg-PWRI-KEK (RFC 3211 §2.3): length, check value and random padding, encrypted
 * twice in CBC mode with the KEK.
 *
 * PBKDF2 is slow on purpose (about 115 ms at 600 000 iterations of HMAC-SHA-256), so a KEK is derived
 * once per media, with one salt, and every file's own content key is wrapped with it.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { Random } from '../../util/random.js';
import { absentOrNull, childrenOf, decodeAlgorithmIdentifier, decodeSmallInteger, malformed, octetsOf, type BerElement } from '../asn1/ber.js';
import { explicit, integer, nullValue, octetString, oid, sequence, type DerNode } from '../asn1/der.js';
import { CIPHERS, DIGESTS, OID, cipherByOid, digestByHmacOid, type CipherSpec, type DigestName } from './algorithms.js';

export type KekCipher = 'aes128' | 'aes192' | 'aes256';
export type Prf = DigestName;

/** A key-encryption key derived from a media password: derived ONCE per media (see derivePasswordKek). */
export interface PasswordKek {
  key: Buffer;
  salt: Buffer;
  iterations: number;
  prf: Prf;
  wrapCipher: KekCipher;
}

export const DEFAULT_ITERATIONS = 600_000;
export const MIN_ITERATIONS = 10_000;
/** Beyond this, reading a file could take minutes: refused both ways (CMS_UNSUPPORTED on read). */
export const MAX_ITERATIONS = 10_000_000;

/**
 * Checks a password against PS3.15 D.1: octets of the default character repertoire (ISO-IR 6), i.e.
 * printable US-ASCII 0x20-0x7E. The message says where, never what: passwords are not logged.
 */
export function checkPassword(password: string): void {
  if (password.length === 0) throw new DcmsafeError('PASSWORD_INVALID', 'the password is empty');
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new DcmsafeError(
        'PASSWORD_INVALID',
        `the password has a character outside printable US-ASCII at position ${i + 1}: PS3.15 D.1 restricts passwords to the ` +
          'default character repertoire (ISO-IR 6), so accented letters such as é or ö, other non-ASCII characters, tabs and control characters cannot be used',
        { position: i + 1 },
      );
    }
  }
}

export function derivePasswordKek(
  password: string,
  options: { random: Random; iterations?: number; prf?: Prf; salt?: Buffer; wrapCipher?: KekCipher },
): PasswordKek {
  checkPassword(password);
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new DcmsafeError('USAGE', `PBKDF2 iteration count ${iterations} is outside ${MIN_ITERATIONS}..${MAX_ITERATIONS}`, { iterations });
  }
  const prf = options.prf ?? 'sha256';
  if (!(prf in DIGESTS)) throw new DcmsafeError('USAGE', `unknown PBKDF2 PRF ${prf}`);
  const wrapCipher = options.wrapCipher ?? 'aes256';
  const spec = CIPHERS[wrapCipher] as CipherSpec | undefined;
  if (!spec || spec.legacy) throw new DcmsafeError('USAGE', `unknown key wrap cipher ${wrapCipher}`);
  const salt = options.salt ?? options.random.bytes(16);
  if (salt.length < 8 || salt.length > 64) throw new DcmsafeError('USAGE', `PBKDF2 salt of ${salt.length} bytes: use 8 to 64 (RFC 8018 §4.1)`);
  const key = pbkdf2Sync(Buffer.from(password, 'ascii'), salt, iterations, spec.keyLength, prf);
  return { key, salt: Buffer.from(salt), iterations, prf, wrapCipher };
}

/** KeyDerivationAlgorithmIdentifier: id-PBKDF2 with PBKDF2-params (RFC 8018 §A.2), as [0] IMPLICIT. */
export function pbkdf2AlgorithmIdentifier(kek: PasswordKek): DerNode {
  const spec = CIPHERS[kek.wrapCipher];
  const params: DerNode[] = [octetString(kek.salt), integer(kek.iterations), integer(spec.keyLength)];
  // prf DEFAULT hmacWithSHA1: DER leaves a default value out (X.690 §11.5).
  if (kek.prf !== 'sha1') params.push(sequence(oid(DIGESTS[kek.prf].hmacOid), nullValue()));
  return explicit(0, oid(OID.pbkdf2), sequence(...params));
}

/** KeyEncryptionAlgorithmIdentifier: id-alg-PWRI-KEK whose parameter is the wrap cipher with its IV (RFC 3211 §2.2). */
export function pwriKekAlgorithmIdentifier(spec: CipherSpec, iv: Buffer): DerNode {
  return sequence(oid(OID.pwriKek), sequence(oid(spec.oid), octetString(iv)));
}

/** Length of the wrapped key: length, check value and key, padded to whole blocks, at least two (RFC 3211 §2.3.1). */
export function sizeOfWrappedKey(keyLength: number, blockSize: number): number {
  return Math.max(2 * blockSize, Math.ceil((4 + keyLength) / blockSize) * blockSize);
}

function cbc(spec: CipherSpec, key: Buffer, iv: Buffer, data: Buffer, encrypt: boolean): Buffer {
  const c = encrypt ? createCipheriv(spec.name, key, iv) : createDecipheriv(spec.name, key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** RFC 3211 §2.3.1 key wrap. */
export function wrapKey(spec: CipherSpec, kek: Buffer, iv: Buffer, cek: Buffer, random: Random): Buffer {
  if (cek.length < 3 || cek.length > 255) throw new RangeError('key length out of range for RFC 3211 wrapping');
  const n = sizeOfWrappedKey(cek.length, spec.blockSize);
  const head = Buffer.from([cek.length, ~(cek[0] as number) & 0xff, ~(cek[1] as number) & 0xff, ~(cek[2] as number) & 0xff]);
  const block = Buffer.concat([head, cek, random.bytes(n - 4 - cek.length)]);
  const first = cbc(spec, kek, iv, block, true);
  // The second pass chains from the last block of the first, so every output octet depends on every input octet.
  return cbc(spec, kek, first.subarray(n - spec.blockSize), first, true);
}

/** RFC 3211 §2.3.2 key unwrap; null when the check value or length is wrong (a wrong password). */
export function unwrapKey(spec: CipherSpec, kek: Buffer, iv: Buffer, wrapped: Buffer): Buffer | null {
  const bs = spec.blockSize;
  const n = wrapped.length;
  if (n < 2 * bs || n % bs !== 0 || n > 4096) return null;
  // Decrypt the last block with the previous one as IV: that is the IV of the outer pass.
  const lastPlain = cbc(spec, kek, wrapped.subarray(n - 2 * bs, n - bs), wrapped.subarray(n - bs), false);
  const inner = cbc(spec, kek, lastPlain, wrapped, false);
  const p = cbc(spec, kek, iv, inner, false);
  const len = p[0] as number;
  if (len < 3 || 4 + len > n) return null;
  if (((p[1] as number) ^ (p[4] as number)) !== 0xff || ((p[2] as number) ^ (p[5] as number)) !== 0xff || ((p[3] as number) ^ (p[6] as number)) !== 0xff) return null;
  return Buffer.from(p.subarray(4, 4 + len));
}

/** The PasswordRecipientInfo (RFC 5652 §6.2.4) as the [3] IMPLICIT alternative of RecipientInfo. */
export function passwordRecipientInfo(kek: PasswordKek, iv: Buffer, encryptedKey: Buffer): DerNode {
  return explicit(3, integer(0), pbkdf2AlgorithmIdentifier(kek), pwriKekAlgorithmIdentifier(CIPHERS[kek.wrapCipher], iv), octetString(encryptedKey));
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface Pbkdf2Params {
  salt: Buffer;
  iterations: number;
  keyLength?: number;
  prf: Prf;
}

export interface DecodedPwri {
  kdf: Pbkdf2Params;
  wrap: CipherSpec;
  iv: Buffer;
  encryptedKey: Buffer;
}

/** Decodes a PasswordRecipientInfo ([3] IMPLICIT, RFC 3211 §2.1); CMS_UNSUPPORTED for what D.1 does not use. */
export function decodePasswordRecipientInfo(el: BerElement): DecodedPwri {
  const fields = childrenOf(el, 0xa3, 'PasswordRecipientInfo', 3, 4);
  if (decodeSmallInteger(fields[0], 'PasswordRecipientInfo version') !== 0) throw malformed('PasswordRecipientInfo version must be 0');
  if (fields.length !== 4 || fields[1]?.tag !== 0xa0) {
    throw new DcmsafeError('CMS_UNSUPPORTED', 'PasswordRecipientInfo without a key derivation algorithm (the KEK would have to come from elsewhere)');
  }
  const kda = fields[1];
  const kdaOid = decodeAlgorithmIdentifier({ ...kda, tag: 0x30 }, 'keyDerivationAlgorithm');
  if (kdaOid.oid !== OID.pbkdf2) throw new DcmsafeError('CMS_UNSUPPORTED', `key derivation algorithm ${kdaOid.oid} (PS3.15 D.1 uses PBKDF2)`);
  const p = childrenOf(kdaOid.parameters, 0x30, 'PBKDF2-params', 2, 4);
  // specified OCTET STRING (in BER possibly constructed: 0x24), or otherSource AlgorithmIdentifier.
  if (p[0]?.tag !== 0x04 && p[0]?.tag !== 0x24) throw new DcmsafeError('CMS_UNSUPPORTED', 'PBKDF2 salt from another source (only a specified salt is supported)');
  const salt = octetsOf(p[0], 'PBKDF2 salt');
  if (salt.length > 1024) throw malformed('PBKDF2 salt longer than 1024 bytes');
  const iterations = decodeSmallInteger(p[1], 'PBKDF2 iterationCount');
  if (iterations < 1) throw malformed('PBKDF2 iterationCount must be positive');
  if (iterations > MAX_ITERATIONS) throw new DcmsafeError('CMS_UNSUPPORTED', `PBKDF2 iteration count ${iterations} is above ${MAX_ITERATIONS}`);
  let next = 2;
  let keyLength: number | undefined;
  if (p[next]?.tag === 0x02) keyLength = decodeSmallInteger(p[next++], 'PBKDF2 keyLength', 1024);
  let prf: Prf = 'sha1';
  if (p[next]) {
    const alg = decodeAlgorithmIdentifier(p[next++], 'PBKDF2 prf');
    const d = digestByHmacOid(alg.oid);
    if (!d) throw new DcmsafeError('CMS_UNSUPPORTED', `PBKDF2 PRF ${alg.oid}`);
    if (!absentOrNull(alg.parameters)) throw malformed('PBKDF2 PRF parameters must be NULL or absent');
    prf = d.name;
  }
  if (next !== p.length) throw malformed('PBKDF2-params: unexpected fields');
  const kea = decodeAlgorithmIdentifier(fields[2], 'keyEncryptionAlgorithm');
  if (kea.oid !== OID.pwriKek) throw new DcmsafeError('CMS_UNSUPPORTED', `password key encryption algorithm ${kea.oid} (RFC 3211 uses id-alg-PWRI-KEK)`);
  const wrapAlg = decodeAlgorithmIdentifier(kea.parameters, 'id-alg-PWRI-KEK parameters');
  const wrap = cipherByOid(wrapAlg.oid);
  if (!wrap) throw new DcmsafeError('CMS_UNSUPPORTED', `key wrap cipher ${wrapAlg.oid}`);
  const iv = octetsOf(wrapAlg.parameters, 'key wrap IV');
  if (iv.length !== wrap.blockSize) throw malformed(`key wrap IV of ${iv.length} bytes for ${wrap.name}`);
  if (keyLength !== undefined && keyLength !== wrap.keyLength) throw malformed(`PBKDF2 keyLength ${keyLength} does not fit ${wrap.name}`);
  const encryptedKey = octetsOf(fields[3], 'PasswordRecipientInfo encryptedKey');
  return { kdf: { salt, iterations, prf, ...(keyLength !== undefined ? { keyLength } : {}) }, wrap, iv, encryptedKey };
}
