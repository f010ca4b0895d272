/**
 * RSA key transport paddings done here over the raw RSA operation (RFC 8017 §7.2 RSAES-PKCS1-v1_5,
 * §7.1 RSAES-OAEP with MGF1, §B.2.1), for two reasons:
 * - every random byte of a Secure DICOM File comes from the injected Random, so seeded runs are
 *   byte-identical: the padding's random octets must not come from OpenSSL;
 * - Node 20 refuses PKCS#1 v1.5 decryption in privateDecrypt (CVE-2023-46809), yet PS3.15 D.1
 *   names exactly that scheme (rsaEncryption, RFC 3370 §4.2.1).
 * Decoding never says why it failed (returns null): a file is not an interactive oracle, but there is
 * no reason to hand out more than "this key does not open it".
 */
import { constants, createHash, publicEncrypt, privateDecrypt, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Random } from '../../util/random.js';
import type { DigestName } from './algorithms.js';

/** Octets of the modulus (k in RFC 8017). */
export function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new RangeError('not an RSA key');
  return Math.ceil(bits / 8);
}

function rawPublic(publicKey: KeyObject, em: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, em);
}

/** The raw RSA private operation, or null when the ciphertext cannot be one for this key. */
export function rawPrivate(privateKey: KeyObject, c: Buffer): Buffer | null {
  const k = modulusBytes(privateKey);
  let input = c;
  if (input.length > k) return null;
  // Some encoders drop leading zero octets of the integer; RFC 8017 wants k octets.
  if (input.length < k) input = Buffer.concat([Buffer.alloc(k - input.length), input]);
  try {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, input);
  } catch {
    return null; // e.g. the value is not below the modulus
  }
}

/** Non-zero random octets (the PS of EME-PKCS1-v1_5). */
function nonZeroRandom(random: Random, n: number): Buffer {
  const out = Buffer.alloc(n);
  let filled = 0;
  while (filled < n) {
    for (const b of random.bytes(n - filled)) if (b !== 0 && filled < n) out[filled++] = b;
  }
  return out;
}

/** RSAES-PKCS1-v1_5-ENCRYPT (RFC 8017 §7.2.1). */
export function encryptPkcs1v15(publicKey: KeyObject, message: Buffer, random: Random): Buffer {
  const k = modulusBytes(publicKey);
  if (message.length > k - 11) throw new RangeError('message too long for RSA PKCS#1 v1.5');
  const ps = nonZeroRandom(random, k - 3 - message.length);
  return rawPublic(publicKey, Buffer.concat([Buffer.from([0, 2]), ps, Buffer.from([0]), message]));
}

/** RSAES-PKCS1-v1_5-DECRYPT (RFC 8017 §7.2.2); null when the padding is wrong. */
export function decryptPkcs1v15(privateKey: KeyObject, ciphertext: Buffer): Buffer | null {
  return decodePkcs1v15(rawPrivate(privateKey, ciphertext));
}

/** EME-PKCS1-v1_5 decoding of the raw private operation's result (RFC 8017 §7.2.2 step 3). */
export function decodePkcs1v15(em: Buffer | null): Buffer | null {
  if (!em || em.length < 11) return null;
  let sep = -1;
  for (let i = 2; i < em.length; i++) {
    if (em[i] === 0) {
      sep = i;
      break;
    }
  }
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) return null;
  return Buffer.from(em.subarray(sep + 1));
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(seed: Buffer, length: number, hash: DigestName): Buffer {
  const parts: Buffer[] = [];
  let have = 0;
  for (let counter = 0; have < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    parts.push(block);
    have += block.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

export interface OaepParams {
  hash: DigestName;
  mgfHash: DigestName;
  label: Buffer;
}

/** RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1). */
export function encryptOaep(publicKey: KeyObject, message: Buffer, params: OaepParams, random: Random): Buffer {
  const k = modulusBytes(publicKey);
  const lHash = createHash(params.hash).update(params.label).digest();
  const hLen = lHash.length;
  if (message.length > k - 2 * hLen - 2) throw new RangeError('message too long for RSAES-OAEP');
  const db = Buffer.concat([lHash, Buffer.alloc(k - message.length - 2 * hLen - 2), Buffer.from([1]), message]);
  const seed = random.bytes(hLen);
  const maskedDb = xor(db, mgf1(seed, k - hLen - 1, params.mgfHash));
  const maskedSeed = xor(seed, mgf1(maskedDb, hLen, params.mgfHash));
  return rawPublic(publicKey, Buffer.concat([Buffer.from([0]), maskedSeed, maskedDb]));
}

/** RSAES-OAEP-DECRYPT (RFC 8017 §7.1.2); null when decoding fails. */
export function decryptOaep(privateKey: KeyObject, ciphertext: Buffer, params: OaepParams): Buffer | null {
  return decodeOaep(rawPrivate(privateKey, ciphertext), params);
}

/** EME-OAEP decoding of the raw private operation's result (RFC 8017 §7.1.2 step 3). */
export function decodeOaep(em: Buffer | null, params: OaepParams): Buffer | null {
  if (!em) return null;
  const k = em.length;
  const lHash = createHash(params.hash).update(params.label).digest();
  const hLen = lHash.length;
  if (k < 2 * hLen + 2) return null;
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seed = xor(maskedSeed, mgf1(maskedDb, hLen, params.mgfHash));
  const db = xor(maskedDb, mgf1(seed, k - hLen - 1, params.mgfHash));
  let ok = em[0] === 0 && timingSafeEqual(db.subarray(0, hLen), lHash);
  let sep = -1;
  for (let i = hLen; i < db.length; i++) {
    if (db[i] === 1) {
      sep = i;
      break;
    }
    if (db[i] !== 0) {
      ok = false;
      break;
    }
  }
  if (!ok || sep < 0) return null;
  return Buffer.from(db.subarray(sep + 1));
}
