/**
 * PKCS#12 (RFC 7292) reading: the PFX structure is parsed with pkijs, the cryptography is done
 * here with node:crypto so that it is synchronous and covers what pkijs's WebCrypto engine cannot:
 *
 * - integrity: password MAC with the PKCS#12 KDF (RFC 7292 Appendix B) over SHA-1/224/256/384/512;
 * - privacy: PBES2 (RFC 8018 §6.2) with PBKDF2 and AES-CBC or 3DES-CBC (OpenSSL 3 default:
 *   AES-256-CBC, PBKDF2-HMAC-SHA256), and the legacy PKCS#12 PBE schemes (RFC 7292 Appendix C):
 *   pbeWithSHAAnd3-KeyTripleDES-CBC, ...2-KeyTripleDES-CBC, ...128BitRC2-CBC and ...40BitRC2-CBC,
 *   which `openssl pkcs12 -legacy` and older tools write. RC4 schemes are not supported.
 *
 * Not supported: public-key integrity or privacy modes (SignedData / EnvelopedData authSafe), and
 * PBMAC1 (RFC 9579), which OpenSSL 3.0 cannot write either.
 */
import { createDecipheriv, createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { DcmsafeError } from '../../errors/index.js';
import { children, decodeOid, readTlv, UNIVERSAL, type Tlv } from './der.js';
import { rc2CbcDecrypt } from './rc2.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbmac1: '1.2.840.113549.1.5.14',
} as const;

/** Digest OIDs used in MacData and PBKDF2 PRFs: node name, output length u, block length v. */
const DIGESTS: Readonly<Record<string, { name: string; u: number; v: number }>> = {
  '1.3.14.3.2.26': { name: 'sha1', u: 20, v: 64 },
  '2.16.840.1.101.3.4.2.4': { name: 'sha224', u: 28, v: 64 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', u: 32, v: 64 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', u: 48, v: 128 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', u: 64, v: 128 },
};

/** PBKDF2 PRFs (RFC 8018 Appendix B.1). */
const PRFS: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

/** PBES2 encryption schemes: node cipher name and key length. */
const PBES2_CIPHERS: Readonly<Record<string, { cipher: string; keyLength: number }>> = {
  '2.16.840.1.101.3.4.1.2': { cipher: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { cipher: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { cipher: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { cipher: 'des-ede3-cbc', keyLength: 24 },
};

/** PKCS#12 PBE schemes (RFC 7292 Appendix C); RC4 ones are left out. */
const PKCS12_PBE: Readonly<Record<string, { cipher: 'des-ede3-cbc' | 'des-ede-cbc' | 'rc2'; keyLength: number }>> = {
  '1.2.840.113549.1.12.1.3': { cipher: 'des-ede3-cbc', keyLength: 24 },
  '1.2.840.113549.1.12.1.4': { cipher: 'des-ede-cbc', keyLength: 16 },
  '1.2.840.113549.1.12.1.5': { cipher: 'rc2', keyLength: 16 },
  '1.2.840.113549.1.12.1.6': { cipher: 'rc2', keyLength: 5 },
};

/**
 * The password as the PKCS#12 KDF wants it (RFC 7292 Appendix B.1): BMPString, big-endian UTF-16,
 * with a two-byte zero terminator. OpenSSL converts from UTF-8 the same way.
 */
function bmpPassword(passphrase: string): Buffer {
  const le = Buffer.from(`${passphrase}\0`, 'utf16le');
  return Buffer.from(le).swap16();
}

/** The PKCS#12 key derivation function (RFC 7292 Appendix B.2). id: 1 key, 2 IV, 3 MAC key. */
export function pkcs12Kdf(digestName: string, password: Buffer, salt: Buffer, id: 1 | 2 | 3, iterations: number, n: number): Buffer {
  const d = Object.values(DIGESTS).find((x) => x.name === digestName);
  if (!d) throw new Error(`unsupported digest ${digestName}`);
  const { u, v } = d;
  const repeat = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length] as number;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([repeat(salt), repeat(password)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash(digestName).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(digestName).update(A).digest();
    blocks.push(A);
    if (produced + u >= n) break;
    const B = Buffer.alloc(v);
    for (let i = 0; i < v; i++) B[i] = A[i % u] as number;
    // I_j = (I_j + B + 1) mod 2^(8v), for each v-byte block of I.
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (I[j + k] as number) + (B[k] as number) + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, n);
}

function unreadable(message: string, cause?: unknown): DcmsafeError {
  return new DcmsafeError('KEY_UNREADABLE', message, {}, cause === undefined ? undefined : { cause });
}

function wrongPassphrase(): DcmsafeError {
  return new DcmsafeError('KEY_PASSPHRASE', 'The PKCS#12 passphrase is wrong (or the file is damaged)');
}

function algorithmParams(alg: pkijs.AlgorithmIdentifier): Buffer {
  const p = alg.algorithmParams as asn1js.BaseBlock | undefined;
  if (!p) return Buffer.alloc(0);
  return Buffer.from(p.toBER(false));
}

/** Candidate password encodings: OpenSSL tries "" both with and without the BMP terminator. */
interface PasswordForms {
  utf8: Buffer;
  bmp: Buffer[];
}

function kids(tlv: Tlv | undefined): Tlv[] {
  return tlv && tlv.constructed ? children(tlv) : [];
}

function decryptPbes2(params: Buffer, data: Buffer, pw: PasswordForms): Buffer {
  const seq = kids(readTlv(params));
  const kdf = kids(seq[0]);
  const scheme = kids(seq[1]);
  const kdfOid = kdf[0] ? decodeOid(kdf[0].value) : '';
  if (kdfOid !== OID.pbkdf2) throw unreadable(`PBES2 key derivation ${kdfOid} is not supported (PBKDF2 only)`);
  const kp = kids(kdf[1]);
  const salt = kp[0]?.value ?? Buffer.alloc(0);
  const iterations = kp[1] ? kp[1].value.readUIntBE(0, Math.min(kp[1].value.length, 6)) : 0;
  let prf = 'sha1'; // RFC 8018 default
  for (const x of kp.slice(2)) {
    if (x.tagNumber === UNIVERSAL.SEQUENCE) {
      const prfOid = decodeOid(children(x)[0]?.value ?? Buffer.alloc(0));
      const name = PRFS[prfOid];
      if (!name) throw unreadable(`PBKDF2 PRF ${prfOid} is not supported`);
      prf = name;
    }
  }
  const schemeOid = scheme[0] ? decodeOid(scheme[0].value) : '';
  const cipher = PBES2_CIPHERS[schemeOid];
  if (!cipher) throw unreadable(`PBES2 cipher ${schemeOid} is not supported`);
  if (iterations < 1 || iterations > 10_000_000) throw unreadable('PBKDF2 iteration count out of range');
  const iv = scheme[1]?.value ?? Buffer.alloc(0);
  // PBES2 inside PKCS#12 takes the password bytes as they are (UTF-8), not as BMPString (OpenSSL does so).
  const key = pbkdf2Sync(pw.utf8, salt, iterations, cipher.keyLength, prf);
  try {
    const d = createDecipheriv(cipher.cipher, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw wrongPassphrase();
  }
}

function decryptPkcs12Pbe(oid: string, params: Buffer, data: Buffer, pw: PasswordForms): Buffer {
  const scheme = PKCS12_PBE[oid];
  if (!scheme) throw unreadable(`PKCS#12 encryption scheme ${oid} is not supported`);
  const p = children(readTlv(params));
  const salt = p[0]?.value ?? Buffer.alloc(0);
  const iterations = p[1] ? p[1].value.readUIntBE(0, Math.min(p[1].value.length, 6)) : 1;
  if (iterations < 1 || iterations > 10_000_000) throw unreadable('PKCS#12 PBE iteration count out of range');
  for (const password of pw.bmp) {
    const key = pkcs12Kdf('sha1', password, salt, 1, iterations, scheme.keyLength);
    const iv = pkcs12Kdf('sha1', password, salt, 2, iterations, 8);
    try {
      if (scheme.cipher === 'rc2') return rc2CbcDecrypt(key, scheme.keyLength * 8, iv, data);
      const d = createDecipheriv(scheme.cipher, key, iv);
      return Buffer.concat([d.update(data), d.final()]);
    } catch {
      // next password form
    }
  }
  throw wrongPassphrase();
}

function decrypt(alg: pkijs.AlgorithmIdentifier, data: Buffer, pw: PasswordForms): Buffer {
  try {
    const params = algorithmParams(alg);
    if (alg.algorithmId === OID.pbes2) return decryptPbes2(params, data, pw);
    return decryptPkcs12Pbe(alg.algorithmId, params, data, pw);
  } catch (e) {
    if (e instanceof DcmsafeError) throw e;
    throw unreadable(`PKCS#12 encryption parameters are malformed: ${(e as Error).message}`, e);
  }
}

/** Checks the password MAC; returns the BMP password forms that match (one), or throws KEY_PASSPHRASE. */
function checkMac(pfx: pkijs.PFX, authSafe: Buffer, pw: PasswordForms): Buffer[] {
  const macData = pfx.macData;
  if (!macData) return pw.bmp;
  const algOid = macData.mac.digestAlgorithm.algorithmId;
  if (algOid === OID.pbmac1) throw unreadable('PKCS#12 PBMAC1 integrity (RFC 9579) is not supported');
  const digest = DIGESTS[algOid];
  if (!digest) throw unreadable(`PKCS#12 MAC digest ${algOid} is not supported`);
  const salt = Buffer.from(macData.macSalt.valueBlock.valueHexView);
  const iterations = macData.iterations ?? 1;
  if (iterations < 1 || iterations > 10_000_000) throw unreadable('PKCS#12 MAC iteration count out of range');
  const expected = Buffer.from(macData.mac.digest.valueBlock.valueHexView);
  for (const password of pw.bmp) {
    const key = pkcs12Kdf(digest.name, password, salt, 3, iterations, digest.u);
    const mac = createHmac(digest.name, key).update(authSafe).digest();
    if (mac.length === expected.length && timingSafeEqual(mac, expected)) return [password];
  }
  throw wrongPassphrase();
}

export interface Pkcs12Contents {
  /** PKCS#8 PrivateKeyInfo DER, in file order. */
  keys: Buffer[];
  /** X.509 certificate DER, in file order. */
  certificates: Buffer[];
}

function collectBags(bags: pkijs.SafeBag[], pw: PasswordForms, out: Pkcs12Contents, depth: number): void {
  if (depth > 4) throw unreadable('PKCS#12 SafeContents nested too deeply');
  for (const bag of bags) {
    switch (bag.bagId) {
      case OID.keyBag:
        out.keys.push(Buffer.from((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false)));
        break;
      case OID.pkcs8ShroudedKeyBag: {
        const shrouded = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        const enc = Buffer.from(shrouded.encryptedData.getValue());
        out.keys.push(decrypt(shrouded.encryptionAlgorithm, enc, pw));
        break;
      }
      case OID.certBag: {
        const certBag = bag.bagValue as pkijs.CertBag;
        if (certBag.certId !== OID.x509Certificate) break; // SDSI and attribute certificates: not ours
        out.certificates.push(Buffer.from((certBag.certValue as asn1js.OctetString).getValue()));
        break;
      }
      case OID.safeContentsBag:
        collectBags((bag.bagValue as pkijs.SafeContents).safeBags, pw, out, depth + 1);
        break;
      default:
        // crlBag, secretBag: nothing dcmsafe uses.
        break;
    }
  }
}

/**
 * Opens a PKCS#12 file: checks the MAC, decrypts every safe, and returns keys and certificates.
 * Throws KEY_PASSPHRASE for a wrong passphrase, KEY_UNREADABLE for anything else.
 */
export function decodePkcs12(bytes: Buffer, passphrase: string): Pkcs12Contents {
  let pfx: pkijs.PFX;
  try {
    const asn1 = asn1js.fromBER(bytes);
    if (asn1.offset === -1) throw new Error(asn1.result.error);
    pfx = new pkijs.PFX({ schema: asn1.result });
  } catch (e) {
    throw unreadable('Not a PKCS#12 file', e);
  }
  if (pfx.authSafe.contentType !== OID.data) {
    throw unreadable('PKCS#12 public-key integrity mode (SignedData) is not supported, only password integrity');
  }
  const authSafeBytes = Buffer.from((pfx.authSafe.content as asn1js.OctetString).getValue());
  const empty = passphrase.length === 0;
  const pw: PasswordForms = {
    utf8: Buffer.from(passphrase, 'utf8'),
    bmp: empty ? [Buffer.alloc(2), Buffer.alloc(0)] : [bmpPassword(passphrase)],
  };
  pw.bmp = checkMac(pfx, authSafeBytes, pw);

  let safe: pkijs.AuthenticatedSafe;
  try {
    safe = pkijs.AuthenticatedSafe.fromBER(authSafeBytes);
  } catch (e) {
    throw unreadable('PKCS#12 AuthenticatedSafe is malformed', e);
  }
  const out: Pkcs12Contents = { keys: [], certificates: [] };
  for (const ci of safe.safeContents) {
    let contentBytes: Buffer;
    if (ci.contentType === OID.data) {
      contentBytes = Buffer.from((ci.content as asn1js.OctetString).getValue());
    } else if (ci.contentType === OID.encryptedData) {
      const ed = new pkijs.EncryptedData({ schema: ci.content });
      const eci = ed.encryptedContentInfo;
      contentBytes = decrypt(eci.contentEncryptionAlgorithm, Buffer.from(eci.getEncryptedContent()), pw);
    } else {
      throw unreadable(`PKCS#12 safe of type ${ci.contentType} (public-key privacy) is not supported`);
    }
    let contents: pkijs.SafeContents;
    try {
      contents = pkijs.SafeContents.fromBER(contentBytes);
    } catch (e) {
      // Decryption "succeeded" with garbage: without a MAC this is how a wrong password shows.
      if (ci.contentType === OID.encryptedData && !pfx.macData) throw wrongPassphrase();
      throw unreadable('PKCS#12 SafeContents is malformed', e);
    }
    collectBags(contents.safeBags, pw, out, 0);
  }
  return out;
}
