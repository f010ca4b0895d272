/**
 * Writing Secure DICOM Files (PS3.10 §7.4, PS3.15 D.1): a CMS ContentInfo (RFC 5652 §3) holding
 * EnvelopedData (§6) whose encrypted content is SignedData (§5), or DigestedData (§7) when there is
 * no signer, encapsulating the complete Part 10 file (preamble and DICM included) as id-data.
 *
 * Files can be gigabytes: the content streams once through the digest and the CBC cipher, and the
 * output is DER with definite lengths computed up front, so its size is known before any byte is
 * written. Every random octet (content key, IVs, RFC 3211 padding, RSA padding) is drawn from the
 * injected Random, so a seeded Random gives byte-identical files.
 */
import { createCipheriv, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { Random } from '../../util/random.js';
import { encodeAround, explicit, hole, integer, octetString, oid, sequence, setOf, sizeOf, contextPrimitive, type DerNode } from '../asn1/der.js';
import { CIPHERS, DIGESTS, OID, type CipherSpec, type ContentCipher, type DigestName, type DigestSpec } from './algorithms.js';
import { certificatePublicKey, readCertificate, type CertificateIds } from './certificate.js';
import { encryptContentKey, keyTransRecipientInfo, type KeyTransportPadding } from './ktri.js';
import { passwordRecipientInfo, sizeOfWrappedKey, wrapKey, type PasswordKek } from './pwri.js';
import { modulusBytes } from './rsa.js';
import { digestedDataTree, signAttributes, signedAttributes, signedDataTree, type PreparedSigner } from './signed-data.js';

export type { ContentCipher, DigestName } from './algorithms.js';
export { derivePasswordKek, type PasswordKek } from './pwri.js';

export interface CertificateRecipient {
  kind: 'certificate';
  /** DER X.509 certificate with an RSA key. */
  certificate: Buffer;
  /** pkcs1 (default) is rsaEncryption, as PS3.15 D.1 names it; oaep is RSAES-OAEP with SHA-256/MGF1-SHA-256. */
  padding?: KeyTransportPadding;
}

export interface PasswordRecipient {
  kind: 'password';
  kek: PasswordKek;
}

export type Recipient = CertificateRecipient | PasswordRecipient;

export interface Signer {
  certificate: Buffer;
  chain: Buffer[];
  privateKey: KeyObject;
  digest: DigestName;
}

export interface SecureWriteOptions {
  /** At least one. */
  recipients: Recipient[];
  signer?: Signer;
  /** DigestedData digest when there is no signer (default sha256). */
  digest?: DigestName;
  /** Content encryption (default aes256); des-ede3 only on request (legacy). */
  cipher?: ContentCipher;
  signingTime: Date;
  random: Random;
}

export interface SecureFilePlan {
  /** Exact size of the file stream() produces. */
  readonly size: number;
  /** The file's bytes; throws CMS_CONTENT_LENGTH unless the content is exactly the planned length. */
  stream(content: AsyncIterable<Buffer>): AsyncGenerator<Buffer>;
}

type PreparedRecipient =
  | { kind: 'certificate'; cert: CertificateIds; publicKey: KeyObject; modulus: number; padding: KeyTransportPadding }
  | { kind: 'password'; kek: PasswordKek; wrap: CipherSpec };

function usage(message: string, data: Record<string, unknown> = {}): DcmsafeError {
  return new DcmsafeError('USAGE', message, data);
}

// A run writes every file for the same recipients and signer: they are checked and prepared once
// (certificate parsing, public keys, the key pair check), not once per file.
const preparedRecipients = new WeakMap<Recipient, PreparedRecipient>();
const preparedSigners = new WeakMap<Signer, PreparedSigner>();

function prepareRecipient(r: Recipient, index: number): PreparedRecipient {
  const known = preparedRecipients.get(r);
  if (known) return known;
  const prepared = prepareRecipientOnce(r, index);
  preparedRecipients.set(r, prepared);
  return prepared;
}

function prepareSigner(s: Signer): PreparedSigner {
  const known = preparedSigners.get(s);
  if (known) return known;
  const prepared = prepareSignerOnce(s);
  preparedSigners.set(s, prepared);
  return prepared;
}

function prepareRecipientOnce(r: Recipient, index: number): PreparedRecipient {
  if (r.kind === 'certificate') {
    const cert = readCertificate(r.certificate, `recipient certificate ${index + 1}`);
    const publicKey = certificatePublicKey(cert);
    if (publicKey.asymmetricKeyType !== 'rsa') {
      throw new DcmsafeError('CMS_UNSUPPORTED', `recipient certificate ${index + 1} has a ${publicKey.asymmetricKeyType ?? 'unknown'} key: PS3.15 D.1 key transport is RSA`);
    }
    const padding = r.padding ?? 'pkcs1';
    if (padding !== 'pkcs1' && padding !== 'oaep') throw usage(`unknown RSA padding ${String(padding)}`);
    return { kind: 'certificate', cert, publicKey, modulus: modulusBytes(publicKey), padding };
  }
  if (r.kind === 'password') {
    const wrap = CIPHERS[r.kek.wrapCipher] as CipherSpec | undefined;
    if (!wrap || wrap.legacy) throw usage(`unknown key wrap cipher ${String(r.kek.wrapCipher)}`);
    if (r.kek.key.length !== wrap.keyLength) throw usage(`password KEK of ${r.kek.key.length} bytes for ${wrap.name}`);
    if (!(r.kek.prf in DIGESTS)) throw usage(`unknown PBKDF2 PRF ${String(r.kek.prf)}`);
    return { kind: 'password', kek: r.kek, wrap };
  }
  throw usage(`unknown recipient kind ${String((r as { kind: unknown }).kind)}`);
}

function prepareSignerOnce(s: Signer): PreparedSigner {
  const digest = DIGESTS[s.digest] as DigestSpec | undefined;
  if (!digest) throw usage(`unknown digest ${String(s.digest)}`);
  const cert = readCertificate(s.certificate, 'signer certificate');
  s.chain.forEach((c, i) => readCertificate(c, `signer chain certificate ${i + 1}`));
  if (s.privateKey.type !== 'private' || s.privateKey.asymmetricKeyType !== 'rsa') {
    throw new DcmsafeError('CMS_UNSUPPORTED', 'the signer key must be an RSA private key: PS3.15 D.1 signatures are RSA (PKCS#1 v1.5)');
  }
  const fromKey = createPublicKey(s.privateKey).export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(certificatePublicKey(cert).export({ type: 'spki', format: 'der' }))) {
    throw new DcmsafeError('KEY_MISMATCH', 'the signer private key does not belong to the signer certificate');
  }
  const certificates: Buffer[] = [];
  for (const c of [s.certificate, ...s.chain]) if (!certificates.some((x) => x.equals(c))) certificates.push(Buffer.from(c));
  return { cert, certificates, privateKey: s.privateKey, digest, signatureLength: modulusBytes(s.privateKey) };
}

/** DES keys carry odd parity in the low bit of each octet (FIPS 46-3); OpenSSL ignores it, others may not. */
function setOddParity(key: Buffer): Buffer {
  for (let i = 0; i < key.length; i++) {
    const b = (key[i] as number) & 0xfe;
    let ones = 0;
    for (let v = b; v; v >>= 1) ones += v & 1;
    key[i] = ones % 2 === 0 ? b | 1 : b;
  }
  return key;
}

/** Octets of CBC ciphertext with PKCS#7 padding (RFC 5652 §6.3): always at least one octet of padding. */
export function sizeOfCbcCiphertext(plainLength: number, blockSize: number): number {
  return (Math.floor(plainLength / blockSize) + 1) * blockSize;
}

/** RecipientInfo for a prepared recipient; `cek`/`random` null for a size-only placeholder. */
function recipientInfo(r: PreparedRecipient, cipher: CipherSpec, cek: Buffer | null, random: Random | null): DerNode {
  if (r.kind === 'certificate') {
    const encryptedKey = cek && random ? encryptContentKey(r.publicKey, r.padding, cek, random) : Buffer.alloc(r.modulus);
    return keyTransRecipientInfo(r.cert, r.padding, encryptedKey);
  }
  if (cek && random) {
    const iv = random.bytes(r.wrap.blockSize);
    return passwordRecipientInfo(r.kek, iv, wrapKey(r.wrap, r.kek.key, iv, cek, random));
  }
  return passwordRecipientInfo(r.kek, Buffer.alloc(r.wrap.blockSize), Buffer.alloc(sizeOfWrappedKey(cipher.keyLength, r.wrap.blockSize)));
}

/** ContentInfo { envelopedData, EnvelopedData } with the ciphertext as the hole (RFC 5652 §3, §6.1). */
function contentInfoTree(recipients: DerNode[], hasPwri: boolean, innerType: string, cipher: CipherSpec, iv: Buffer, ciphertextLength: number): DerNode {
  // RFC 5652 §6.1: version 3 when a pwri is present; 0 when all RecipientInfos are version 0 (KTRI by issuerAndSerialNumber).
  const version = hasPwri ? 3 : 0;
  const encryptedContentInfo = sequence(oid(innerType), sequence(oid(cipher.oid), octetString(iv)), hole(contextPrimitive(0), ciphertextLength));
  return sequence(oid(OID.envelopedData), explicit(0, sequence(integer(version), setOf(recipients), encryptedContentInfo)));
}

interface PlannedSizes {
  readonly plainLength: number;
  readonly ciphertextLength: number;
  readonly size: number;
}

// Sizing a file builds its DER trees (and sorts its SETs by encoding): a run of thousands of CT
// slices asks for the same few content lengths with the same signer and recipients, so the sizes
// are kept per run, keyed by everything they depend on. Bounded; the trees are still built and
// checked against these sizes when each file is written.
const recipientIds = new WeakMap<Recipient | Signer, number>();
let nextRecipientId = 1;
const sizeCache = new Map<string, PlannedSizes>();
const MAX_CACHED_SIZES = 4096;

function idOf(o: Recipient | Signer): number {
  let id = recipientIds.get(o);
  if (id === undefined) {
    id = nextRecipientId++;
    recipientIds.set(o, id);
  }
  return id;
}

function cachedSizes(options: SecureWriteOptions, cipher: CipherSpec, digest: DigestSpec, contentLength: number, compute: () => PlannedSizes): PlannedSizes {
  const key = [contentLength, cipher.name, digest.name, options.signingTime.toISOString(), options.signer ? idOf(options.signer) : 0, ...options.recipients.map(idOf)].join('|');
  const known = sizeCache.get(key);
  if (known) return known;
  const computed = compute();
  if (sizeCache.size >= MAX_CACHED_SIZES) sizeCache.clear();
  sizeCache.set(key, computed);
  return computed;
}

export function planSecureFile(contentLength: number, options: SecureWriteOptions): SecureFilePlan {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) throw usage(`bad content length ${contentLength}`);
  if (!Array.isArray(options.recipients) || options.recipients.length === 0) throw usage('a Secure DICOM File needs at least one recipient');
  const cipherSpec = CIPHERS[options.cipher ?? 'aes256'] as CipherSpec | undefined;
  if (!cipherSpec) throw usage(`unknown content cipher ${String(options.cipher)}`);
  const digestSpec = DIGESTS[options.digest ?? 'sha256'] as DigestSpec | undefined;
  if (!digestSpec) throw usage(`unknown digest ${String(options.digest)}`);
  const cipher: CipherSpec = cipherSpec;
  const digest: DigestSpec = digestSpec;
  if (!(options.signingTime instanceof Date) || Number.isNaN(options.signingTime.getTime())) throw usage('signingTime is not a valid date');
  const signingTime = new Date(options.signingTime.getTime());
  const recipients = options.recipients.map(prepareRecipient);
  const hasPwri = recipients.some((r) => r.kind === 'password');
  const signer = options.signer ? prepareSigner(options.signer) : undefined;
  const innerType = signer ? OID.signedData : OID.digestedData;
  const random = options.random;

  const innerTree = (value: Buffer, signature: Buffer): DerNode =>
    signer ? signedDataTree(contentLength, signer, signingTime, value, signature) : digestedDataTree(contentLength, digest, value);
  const placeholderInner = (): DerNode =>
    signer ? innerTree(Buffer.alloc(signer.digest.length), Buffer.alloc(signer.signatureLength)) : innerTree(Buffer.alloc(digest.length), Buffer.alloc(0));

  // The outer ContentInfo; with no key (and a zero IV) a placeholder of the same size.
  const outerTree = (cek: Buffer | null, iv: Buffer, ciphertext: number): DerNode =>
    contentInfoTree(
      recipients.map((r) => recipientInfo(r, cipher, cek, cek ? random : null)),
      hasPwri,
      innerType,
      cipher,
      iv,
      ciphertext,
    );

  const sizes = cachedSizes(options, cipher, digest, contentLength, () => {
    const plain = sizeOf(placeholderInner());
    const ciphertext = sizeOfCbcCiphertext(plain, cipher.blockSize);
    return { plainLength: plain, ciphertextLength: ciphertext, size: sizeOf(outerTree(null, Buffer.alloc(cipher.blockSize), ciphertext)) };
  });
  const { ciphertextLength, size } = sizes;

  async function* stream(content: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const cek = random.bytes(cipher.keyLength);
    if (cipher.name === 'des-ede3-cbc') setOddParity(cek);
    try {
      const iv = random.bytes(cipher.blockSize);
      const outer = encodeAround(outerTree(cek, iv, ciphertextLength));
      const planned = encodeAround(placeholderInner());
      let emitted = 0;
      const out = (b: Buffer): Buffer => {
        emitted += b.length;
        return b;
      };
      yield out(outer.before);
      const enc = createCipheriv(cipher.name, cek, iv);
      const head = enc.update(planned.before);
      if (head.length > 0) yield out(head);
      const hash = createHash(signer ? signer.digest.name : digest.name);
      let seen = 0;
      for await (const chunk of content) {
        seen += chunk.length;
        if (seen > contentLength) throw new DcmsafeError('CMS_CONTENT_LENGTH', `the content is longer than the planned ${contentLength} bytes`, { planned: contentLength });
        hash.update(chunk);
        const c = enc.update(chunk);
        if (c.length > 0) yield out(c);
      }
      if (seen !== contentLength) throw new DcmsafeError('CMS_CONTENT_LENGTH', `the content has ${seen} bytes, ${contentLength} were planned`, { planned: contentLength, actual: seen });
      const value = hash.digest();
      const signature = signer ? signAttributes(signer, signedAttributes(signer, signingTime, value)) : Buffer.alloc(0);
      const final = encodeAround(innerTree(value, signature));
      if (!final.before.equals(planned.before) || final.after.length !== planned.after.length) {
        throw new DcmsafeError('INTERNAL', 'the CMS encoding differs from its plan');
      }
      yield out(Buffer.concat([enc.update(final.after), enc.final(), outer.after]));
      if (emitted !== size) throw new DcmsafeError('INTERNAL', `the CMS writer produced ${emitted} bytes, ${size} were planned`);
    } finally {
      cek.fill(0);
    }
  }

  return { size, stream };
}
