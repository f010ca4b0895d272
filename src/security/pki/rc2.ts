/**
 * RC2 block cipher (RFC 2268) in CBC mode, for reading legacy PKCS#12 files only.
 *
 * Why it is here: `openssl pkcs12 -export -legacy` (and most PKCS#12 files written before OpenSSL 3,
 * Windows and Java included) encrypt the certificates with pbeWithSHAAnd40BitRC2-CBC (RFC 7292
 * Appendix C). Node's bundled OpenSSL 3 does not load the legacy provider, so node:crypto has no
 * RC2. It is never used to protect anything dcmsafe writes.
 */

/** PITABLE from RFC 2268 §2: a permutation of 0..255 derived from the digits of pi. */
const PITABLE = Uint8Array.from(
  Buffer.from(
    'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2' +
      '179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82' +
      '54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
      '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7' +
      '08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec' +
      'c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
      '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9' +
      '0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad',
    'hex',
  ),
);

/** RFC 2268 §2 key expansion: 64 16-bit words from a key of `key.length` bytes and T1 effective bits. */
export function rc2ExpandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const T = key.length;
  if (T < 1 || T > 128) throw new Error('RC2 key must be 1 to 128 bytes');
  if (effectiveBits < 1 || effectiveBits > 1024) throw new Error('RC2 effective key bits must be 1 to 1024');
  const L = new Uint8Array(128);
  L.set(key);
  for (let i = T; i < 128; i++) L[i] = PITABLE[((L[i - 1] as number) + (L[i - T] as number)) & 0xff] as number;
  const T8 = (effectiveBits + 7) >> 3;
  const TM = 0xff >> (8 * T8 - effectiveBits);
  L[128 - T8] = PITABLE[(L[128 - T8] as number) & TM] as number;
  for (let i = 127 - T8; i >= 0; i--) L[i] = PITABLE[(L[i + 1] as number) ^ (L[i + T8] as number)] as number;
  const K = new Uint16Array(64);
  for (let i = 0; i < 64; i++) K[i] = (L[2 * i] as number) | ((L[2 * i + 1] as number) << 8);
  return K;
}

const S = [1, 2, 3, 5] as const;

/** Encrypts one 8-byte block in place (RFC 2268 §3). Used by the tests' known-answer vectors. */
export function rc2EncryptBlock(K: Uint16Array, block: Uint8Array): void {
  const R = [0, 1, 2, 3].map((i) => (block[2 * i] as number) | ((block[2 * i + 1] as number) << 8));
  let j = 0;
  const mix = (): void => {
    for (let i = 0; i < 4; i++) {
      const r1 = R[(i + 3) & 3] as number;
      const r2 = R[(i + 2) & 3] as number;
      const r3 = R[(i + 1) & 3] as number;
      let v = ((R[i] as number) + (K[j++] as number) + (r1 & r2) + (~r1 & r3)) & 0xffff;
      const s = S[i] as number;
      v = ((v << s) | (v >>> (16 - s))) & 0xffff;
      R[i] = v;
    }
  };
  const mash = (): void => {
    for (let i = 0; i < 4; i++) R[i] = ((R[i] as number) + (K[(R[(i + 3) & 3] as number) & 63] as number)) & 0xffff;
  };
  for (let n = 0; n < 5; n++) mix();
  mash();
  for (let n = 0; n < 6; n++) mix();
  mash();
  for (let n = 0; n < 5; n++) mix();
  for (let i = 0; i < 4; i++) {
    block[2 * i] = (R[i] as number) & 0xff;
    block[2 * i + 1] = (R[i] as number) >> 8;
  }
}

/** Decrypts one 8-byte block in place (RFC 2268 §4). */
export function rc2DecryptBlock(K: Uint16Array, block: Uint8Array): void {
  const R = [0, 1, 2, 3].map((i) => (block[2 * i] as number) | ((block[2 * i + 1] as number) << 8));
  let j = 63;
  const rmix = (): void => {
    for (let i = 3; i >= 0; i--) {
      const s = S[i] as number;
      let v = R[i] as number;
      v = ((v >>> s) | (v << (16 - s))) & 0xffff;
      const r1 = R[(i + 3) & 3] as number;
      const r2 = R[(i + 2) & 3] as number;
      const r3 = R[(i + 1) & 3] as number;
      R[i] = (v - (K[j--] as number) - (r1 & r2) - (~r1 & r3)) & 0xffff;
    }
  };
  const rmash = (): void => {
    for (let i = 3; i >= 0; i--) R[i] = ((R[i] as number) - (K[(R[(i + 3) & 3] as number) & 63] as number)) & 0xffff;
  };
  for (let n = 0; n < 5; n++) rmix();
  rmash();
  for (let n = 0; n < 6; n++) rmix();
  rmash();
  for (let n = 0; n < 5; n++) rmix();
  for (let i = 0; i < 4; i++) {
    block[2 * i] = (R[i] as number) & 0xff;
    block[2 * i + 1] = (R[i] as number) >> 8;
  }
}

/**
 * RC2-CBC decryption with PKCS#7 padding removal (RFC 5652 §6.3). Throws "bad decrypt" when the
 * padding is wrong, which for a password-based scheme almost always means a wrong password.
 */
export function rc2CbcDecrypt(key: Uint8Array, effectiveBits: number, iv: Uint8Array, data: Uint8Array): Buffer {
  if (iv.length !== 8) throw new Error('RC2 IV must be 8 bytes');
  if (data.length === 0 || data.length % 8 !== 0) throw new Error('bad decrypt: length is not a multiple of 8');
  const K = rc2ExpandKey(key, effectiveBits);
  const out = Buffer.alloc(data.length);
  let prev = Uint8Array.from(iv);
  for (let o = 0; o < data.length; o += 8) {
    const c = data.subarray(o, o + 8);
    const block = Uint8Array.from(c);
    rc2DecryptBlock(K, block);
    for (let i = 0; i < 8; i++) out[o + i] = (block[i] as number) ^ (prev[i] as number);
    prev = Uint8Array.from(c);
  }
  const pad = out[out.length - 1] as number;
  if (pad < 1 || pad > 8) throw new Error('bad decrypt');
  for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) throw new Error('bad decrypt');
  return out.subarray(0, out.length - pad);
}
