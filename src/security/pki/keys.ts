/**
 * Private keys: PKCS#8 (RFC 5958; encrypted form RFC 5958 §3 with PBES2, RFC 8018), PKCS#1
 * "traditional" RSA keys (RFC 8017 Appendix A.1.2) including OpenSSL's legacy PEM encryption
 * (RFC 1421 `Proc-Type: 4,ENCRYPTED` headers), SEC 1 EC keys, in PEM or DER; and PKCS#12 files
 * (RFC 7292), which node:crypto cannot read (see pkcs12.ts).
 *
 * Passphrases are never logged or put into error messages or error data.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import { describeCertificate } from './certificates.js';
import { children, readTlv, UNIVERSAL } from './der.js';
import { looksLikePem, parsePem, type PemBlock } from './pem.js';
import { decodePkcs12 } from './pkcs12.js';

const KEY_LABELS = new Set(['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY']);

type DerKind = 'pkcs8' | 'encrypted-pkcs8' | 'pkcs1' | 'sec1' | 'pkcs12' | 'unknown';

/** Tells DER key structures apart by their shape, so errors can say what the file is. */
function sniffDer(der: Buffer): DerKind {
  try {
    const top = readTlv(der);
    if (top.tagNumber !== UNIVERSAL.SEQUENCE || !top.constructed) return 'unknown';
    const c = children(top);
    const [a, b, d] = c;
    if (!a || !b) return 'unknown';
    const isInt = (t: typeof a, v?: number): boolean =>
      t.tagClass === 0 && t.tagNumber === UNIVERSAL.INTEGER && (v === undefined || (t.value.length === 1 && t.value[0] === v));
    const isSeq = (t: typeof a): boolean => t.tagClass === 0 && t.tagNumber === UNIVERSAL.SEQUENCE;
    // PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData OPTIONAL } (RFC 7292 §4)
    if (isInt(a, 3) && isSeq(b)) return 'pkcs12';
    // EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING } (RFC 5958 §3)
    if (c.length === 2 && isSeq(a) && b.tagNumber === UNIVERSAL.OCTET_STRING) return 'encrypted-pkcs8';
    // OneAsymmetricKey ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING, ... } (RFC 5958 §2)
    if (isInt(a) && isSeq(b) && d?.tagNumber === UNIVERSAL.OCTET_STRING) return 'pkcs8';
    // RSAPrivateKey ::= SEQUENCE { version 0, n, e, d, p, q, ... } (RFC 8017 A.1.2)
    if (isInt(a, 0) && isInt(b) && c.length >= 9) return 'pkcs1';
    // ECPrivateKey ::= SEQUENCE { version 1, OCTET STRING, ... } (SEC 1 C.4)
    if (isInt(a, 1) && b.tagNumber === UNIVERSAL.OCTET_STRING) return 'sec1';
  } catch {
    // fall through
  }
  return 'unknown';
}

function needPassphrase(): DcmsafeError {
  return new DcmsafeError('KEY_PASSPHRASE', 'The private key is encrypted: a passphrase is needed');
}

function badPassphrase(cause: unknown): DcmsafeError {
  // A wrong passphrase usually fails the CBC padding check, sometimes (1 in 256) the ASN.1 after it:
  // both mean "wrong passphrase" for an encrypted key, so both get KEY_PASSPHRASE.
  return new DcmsafeError('KEY_PASSPHRASE', 'The passphrase does not decrypt the private key (wrong passphrase or damaged key)', {}, { cause });
}

function loadPemKey(block: PemBlock, passphrase: string | undefined): KeyObject {
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || /ENCRYPTED/i.test(block.headers['Proc-Type'] ?? '');
  if (encrypted && passphrase === undefined) throw needPassphrase();
  try {
    return createPrivateKey(encrypted ? { key: block.text, format: 'pem', passphrase } : { key: block.text, format: 'pem' });
  } catch (e) {
    if (encrypted) throw badPassphrase(e);
    throw new DcmsafeError('KEY_UNREADABLE', `The ${block.label} block is not a readable private key`, {}, { cause: e });
  }
}

function loadDerKey(der: Buffer, passphrase: string | undefined): KeyObject {
  const kind = sniffDer(der);
  switch (kind) {
    case 'pkcs12':
      throw new DcmsafeError('KEY_UNREADABLE', 'This is a PKCS#12 (.p12/.pfx) file: load it as PKCS#12, not as a private key');
    case 'encrypted-pkcs8':
      if (passphrase === undefined) throw needPassphrase();
      try {
        return createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase });
      } catch (e) {
        throw badPassphrase(e);
      }
    case 'pkcs8':
    case 'pkcs1':
    case 'sec1':
      try {
        return createPrivateKey({ key: der, format: 'der', type: kind });
      } catch (e) {
        throw new DcmsafeError('KEY_UNREADABLE', `The DER ${kind.toUpperCase()} private key is damaged`, {}, { cause: e });
      }
    default:
      throw new DcmsafeError('KEY_UNREADABLE', 'Not a private key (neither PEM nor DER PKCS#8/PKCS#1/SEC 1)');
  }
}

/**
 * Reads a private key: PEM (PKCS#8, encrypted PKCS#8, PKCS#1 with or without legacy encryption,
 * SEC 1) or DER (PKCS#8, encrypted PKCS#8, PKCS#1, SEC 1). In a PEM file with several blocks
 * (e.g. key and certificate together) the one private key is taken.
 *
 * Errors: KEY_PASSPHRASE (encrypted and no or wrong passphrase), KEY_UNREADABLE (anything else).
 */
export function loadPrivateKey(bytes: Buffer, passphrase?: string): KeyObject {
  if (looksLikePem(bytes)) {
    const blocks = parsePem(bytes.toString('latin1'));
    const keys = blocks.filter((b) => KEY_LABELS.has(b.label));
    if (keys.length === 0) {
      const seen = [...new Set(blocks.map((b) => b.label))].join(', ') || 'none';
      throw new DcmsafeError('KEY_UNREADABLE', `No private key in the PEM text (blocks found: ${seen})`);
    }
    if (keys.length > 1) throw new DcmsafeError('KEY_UNREADABLE', `The PEM text holds ${keys.length} private keys; give one`);
    return loadPemKey(keys[0] as PemBlock, passphrase);
  }
  return loadDerKey(bytes, passphrase);
}

/** True when the bytes are (by their outer shape) a DER PKCS#12 PFX. */
export function isPkcs12(bytes: Buffer): boolean {
  return !looksLikePem(bytes) && sniffDer(bytes) === 'pkcs12';
}

function spki(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

function certificateMatches(key: KeyObject, certDer: Buffer): boolean {
  return spki(new X509Certificate(certDer).publicKey).equals(spki(key));
}

/** Throws KEY_MISMATCH when the key is not the certificate's (compares the public keys). */
export function assertKeyMatchesCertificate(key: KeyObject, certDer: Buffer): void {
  let match: boolean;
  try {
    match = certificateMatches(key, certDer);
  } catch (e) {
    throw new DcmsafeError('CERT_UNREADABLE', 'The certificate cannot be read to compare it with the key', {}, { cause: e });
  }
  if (!match) {
    const id = describeCertificate(certDer);
    throw new DcmsafeError('KEY_MISMATCH', `The private key does not belong to the certificate "${id.subject}"`, {
      certificate: id.subject,
      fingerprintSha256: id.fingerprintSha256,
    });
  }
}

/** Orders the other certificates from the end entity upwards where they link, the rest after. */
function orderChain(leaf: Buffer, others: Buffer[]): Buffer[] {
  const rest = others.map((der) => ({ der, x: new X509Certificate(der) }));
  const out: Buffer[] = [];
  let current = new X509Certificate(leaf);
  for (;;) {
    const issuerDer = current.issuer;
    const i = rest.findIndex((r) => r.x.subject === issuerDer && !r.der.equals(current.raw));
    if (i < 0 || current.issuer === current.subject) break;
    const [next] = rest.splice(i, 1);
    if (!next) break;
    out.push(next.der);
    current = next.x;
  }
  return [...out, ...rest.map((r) => r.der)];
}

export interface Pkcs12Identity {
  privateKey: KeyObject;
  /** The certificate of the private key (DER). */
  certificate: Buffer;
  /** The other certificates in the file (DER), from the issuer upwards where they chain. */
  chain: Buffer[];
}

/**
 * Reads a PKCS#12 file (RFC 7292) with a password MAC: OpenSSL 3 defaults (PBES2 AES-256-CBC with
 * PBKDF2-HMAC-SHA256, MAC SHA-256) and the legacy schemes (3DES and RC2 with the PKCS#12 KDF, MAC
 * SHA-1) as written by `openssl pkcs12 -legacy`, Windows and Java.
 *
 * Errors: KEY_PASSPHRASE (wrong passphrase), KEY_UNREADABLE (not PKCS#12, unsupported scheme, no
 * key), CERT_UNREADABLE (no certificate), KEY_MISMATCH (no certificate for the key).
 */
export function loadPkcs12(bytes: Buffer, passphrase: string): Pkcs12Identity {
  const contents = decodePkcs12(bytes, passphrase);
  if (contents.keys.length === 0) throw new DcmsafeError('KEY_UNREADABLE', 'The PKCS#12 file holds no private key');
  if (contents.certificates.length === 0) throw new DcmsafeError('CERT_UNREADABLE', 'The PKCS#12 file holds no certificate');
  const keys = contents.keys.map((der) => {
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch (e) {
      throw new DcmsafeError('KEY_UNREADABLE', 'The private key inside the PKCS#12 file is damaged', {}, { cause: e });
    }
  });
  for (const privateKey of keys) {
    const certificate = contents.certificates.find((c) => {
      try {
        return certificateMatches(privateKey, c);
      } catch {
        return false;
      }
    });
    if (certificate) {
      const others = contents.certificates.filter((c) => c !== certificate);
      return { privateKey, certificate, chain: orderChain(certificate, others) };
    }
  }
  throw new DcmsafeError('KEY_MISMATCH', 'The PKCS#12 file holds no certificate for its private key');
}
