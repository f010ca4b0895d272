/**
 * Reading Secure DICOM Files (PS3.10 §7.4, PS3.15 D.1): a CMS ContentInfo holding EnvelopedData
 * (RFC 5652 §6), opened with an RSA key (KeyTransRecipientInfo, §6.2.1) or a password
 * (PasswordRecipientInfo, RFC 3211), whose encrypted content is SignedData (§5) or DigestedData (§7)
 * encapsulating the Part 10 file.
 *
 * Reads what others write, not only what we write: BER with indefinite lengths and constructed
 * OCTET STRINGs (OpenSSL -stream), encrypted content of type id-data holding a ContentInfo (what
 * `openssl cms -sign | openssl cms -encrypt` makes), or holding the Part 10 file directly (readable,
 * but without integrity, so never valid). The file streams once through the cipher and the digests
 * with flat memory; the content is handed out as it is decrypted, and the verdict (`result`) settles
 * when it has all been read.
 *
 * Failures are typed (CMS_* codes). Integrity failures are results (`valid: false`), not errors.
 */
import { createDecipheriv, createHash, pbkdf2, type Hash, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { asDcmsafeError, DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';
import {
  absentOrNull,
  childrenOf,
  decodeAlgorithmIdentifier,
  decodeHeader,
  decodeOid,
  decodeOidValue,
  decodeSmallInteger,
  malformed,
  octetsOf,
  type BerElement,
} from '../asn1/ber.js';
import { BerStream, type BerHeader } from '../asn1/ber-stream.js';
import { BerMemo } from '../asn1/ber-memo.js';
import { ByteCursor, CHUNK } from '../asn1/cursor.js';
import { encodeOidValue } from '../asn1/der.js';
import { CONTENT_TYPE_NAMES, OID, algorithmName, cipherByOid, digestByOid, type CipherSpec } from './algorithms.js';
import { matchesIssuerAndSerial, readCertificate, type CertificateIds } from './certificate.js';
import { internBytes } from './intern.js';
import { decodeKeyTransRecipientInfo, decryptContentKey, type RawPrivateOperation } from './ktri.js';
import { decodePasswordRecipientInfo, MAX_ITERATIONS, unwrapKey, type Pbkdf2Params } from './pwri.js';
import { verifySignerInfo, type SignerResult } from './signer-info.js';

export type { SignerResult } from './signer-info.js';

export interface DecryptionKeys {
  /** `rawPrivate`: the key's raw RSA operation done off this thread (rsa-service.ts); absent: here. */
  certificates?: Array<{ certificate: Buffer; privateKey: KeyObject; rawPrivate?: RawPrivateOperation }>;
  passwords?: string[];
}

export interface SecureFileResult {
  /** 'data': id-data holding the Part 10 file directly: readable but non-conformant (no integrity). */
  structure: 'signed' | 'digested' | 'data';
  /** id-data holding a ContentInfo (openssl cms -sign | openssl cms -encrypt). */
  wrapped: boolean;
  contentEncryption: string;
  /** Algorithms and settings still allowed but weak, e.g. ['des-ede3-cbc', 'sha1']. */
  legacy: string[];
  recipient: { kind: 'certificate' | 'password'; index: number };
  /** DigestedData only. */
  digestAlgorithm?: string;
  digestMatches?: boolean;
  /** SignedData only. */
  signers: SignerResult[];
  /** Integrity holds: every signature valid and digest matching (signed), or the digest matching (digested); false for 'data'. */
  valid: boolean;
}

export interface OpenedSecureFile {
  /** The decrypted encapsulated bytes, streamed; can be read once. */
  content: AsyncIterable<Buffer>;
  /** Settles after content has been read to the end. */
  result: Promise<SecureFileResult>;
}

// Caps on the parts read whole: far above any real file, low enough that a hostile length cannot
// make us allocate much.
const MAX_RECIPIENT_INFOS = 4 << 20;
const MAX_CERTIFICATES = 16 << 20;
const MAX_SIGNER_INFOS = 16 << 20;
const MAX_SMALL = 64 << 10;
/**
 * Certificates one SignedData may carry: a signer's chain is a handful. Each one is parsed and built
 * into paths for every signer when the file is judged (pki/trust.ts evaluateSigner): 2 000 of them
 * (1 MB) took 0.5 s per signer, the other limits let 6 000 through, and a file may have 64 signers.
 */
export const MAX_CERTIFICATE_CHOICES = 256;
/** Tries per file: each password try may cost a PBKDF2 derivation, each key try an RSA operation. */
const MAX_PASSWORD_TRIES = 16;
const MAX_KEY_TRIES = 16;
/**
 * PBKDF2 iterations one file may make us compute (derivations already cached cost nothing): room for
 * one password recipient at the highest count we read (MAX_ITERATIONS) and one more. Without it, 16
 * password recipients of 10 000 000 iterations, each with its own salt, cost 30 to 75 s per file.
 */
export const MAX_PBKDF2_WORK = 2 * MAX_ITERATIONS;

export interface OpenLimits {
  /** PBKDF2 iterations this file may cost; MAX_PBKDF2_WORK by default. */
  readonly pbkdf2Work?: number;
}

const ENVELOPED_DATA_OID = encodeOidValue(OID.envelopedData);

/** The content type OID a ContentInfo starts with, if the bytes are one. */
function cmsContentType(head: Buffer): string | undefined {
  try {
    const outer = decodeHeader(head, 0);
    if (!outer || outer.tag !== 0x30) return undefined;
    const inner = decodeHeader(head, outer.headerLength);
    if (!inner || inner.tag !== 0x06 || inner.length === null || inner.length > 16) return undefined;
    const at = outer.headerLength + inner.headerLength;
    if (head.length < at + inner.length) return undefined;
    return decodeOidValue(head.subarray(at, at + inner.length));
  } catch {
    return undefined;
  }
}

/** True when `head` could be the start of a Secure DICOM File cut short (so: truncated, not foreign). */
function isPrefixOfSecureHeader(head: Buffer): boolean {
  if (head.length === 0 || head[0] !== 0x30) return false;
  let outer;
  try {
    outer = decodeHeader(head, 0);
  } catch {
    return false;
  }
  if (!outer) return true; // cut inside the length octets
  const expected = Buffer.concat([Buffer.from([0x06, ENVELOPED_DATA_OID.length]), ENVELOPED_DATA_OID]);
  const rest = head.subarray(outer.headerLength);
  return rest.length < expected.length && rest.equals(expected.subarray(0, rest.length));
}

/** A SEQUENCE whose first element is the OID id-envelopedData: how a Secure DICOM File starts. */
export function looksLikeSecureFile(head: Buffer): boolean {
  try {
    const outer = decodeHeader(head, 0);
    if (!outer || outer.tag !== 0x30) return false;
    const inner = decodeHeader(head, outer.headerLength);
    if (!inner || inner.tag !== 0x06 || inner.length !== ENVELOPED_DATA_OID.length) return false;
    const at = outer.headerLength + inner.headerLength;
    return head.subarray(at, at + inner.length).equals(ENVELOPED_DATA_OID);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// PBKDF2 cache: one media uses one salt for all its files, so the slow derivation is done once. Keyed
// by a hash of (password, salt, iterations, PRF, key length); bounded; clearPasswordKekCache() wipes it.

const pbkdf2Async = promisify(pbkdf2);
const KEK_CACHE_SIZE = 32;
const kekCache = new Map<string, Buffer>();

export function clearPasswordKekCache(): void {
  for (const k of kekCache.values()) k.fill(0);
  kekCache.clear();
}

function kekId(password: string, kdf: Pbkdf2Params, keyLength: number): string {
  return createHash('sha256')
    .update(JSON.stringify([kdf.prf, kdf.iterations, keyLength, kdf.salt.toString('hex')]))
    .update('\0')
    .update(password, 'utf8')
    .digest('hex');
}

async function deriveKek(password: string, kdf: Pbkdf2Params, keyLength: number): Promise<Buffer> {
  const id = kekId(password, kdf, keyLength);
  const hit = kekCache.get(id);
  if (hit) {
    kekCache.delete(id);
    kekCache.set(id, hit);
    return hit;
  }
  // The password's octets: PS3.15 D.1 passwords are US-ASCII, where UTF-8 is the same.
  const key = await pbkdf2Async(Buffer.from(password, 'utf8'), kdf.salt, kdf.iterations, keyLength, kdf.prf);
  kekCache.set(id, key);
  if (kekCache.size > KEK_CACHE_SIZE) {
    const oldest = kekCache.keys().next().value as string;
    kekCache.get(oldest)?.fill(0);
    kekCache.delete(oldest);
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Recipients (RFC 5652 §6.2)

interface OpenedKey {
  cek: Buffer;
  recipient: { kind: 'certificate' | 'password'; index: number };
}

const RECIPIENT_KINDS: Readonly<Record<number, string>> = {
  0x30: 'KeyTransRecipientInfo',
  0xa1: 'KeyAgreeRecipientInfo',
  0xa2: 'KEKRecipientInfo',
  0xa3: 'PasswordRecipientInfo',
  0xa4: 'OtherRecipientInfo',
};

async function openContentKey(recipientInfos: readonly BerElement[], keys: DecryptionKeys, cipher: CipherSpec, legacy: Set<string>, file: string, workLimit: number): Promise<OpenedKey> {
  const certs: Array<{ ids: CertificateIds; privateKey: KeyObject; rawPrivate?: RawPrivateOperation }> = (keys.certificates ?? []).map((k, i) => ({
    ids: readCertificate(k.certificate, `decryption certificate ${i + 1}`),
    privateKey: k.privateKey,
    ...(k.rawPrivate ? { rawPrivate: k.rawPrivate } : {}),
  }));
  const passwords = keys.passwords ?? [];
  const failures: DcmsafeError[] = [];
  const unsupported: string[] = [];
  let passwordTries = 0;
  let keyTries = 0;
  let work = 0;
  let overBudget: DcmsafeError | undefined;

  for (const [index, ri] of recipientInfos.entries()) {
    const kind = RECIPIENT_KINDS[ri.tag];
    if (!kind) throw malformed(`RecipientInfo of unknown kind (tag 0x${ri.tag.toString(16)})`, { file });
    if (ri.tag === 0x30) {
      const ktri = decodeKeyTransRecipientInfo(ri);
      for (const c of certs) {
        const matches =
          'issuerAndSerialNumber' in ktri.rid ? matchesIssuerAndSerial(ktri.rid.issuerAndSerialNumber, c.ids) : c.ids.subjectKeyIdentifier?.equals(ktri.rid.subjectKeyIdentifier) === true;
        if (!matches || ++keyTries > MAX_KEY_TRIES) continue;
        if (ktri.scheme.kind === 'unsupported') {
          unsupported.push(`key transport ${algorithmName(ktri.scheme.algorithm)}`);
          continue;
        }
        if (c.privateKey.type !== 'private' || c.privateKey.asymmetricKeyType !== 'rsa') {
          failures.push(new DcmsafeError('CMS_WRONG_KEY', `${file}: the key given for recipient ${index + 1} is not an RSA private key`, { file, recipient: index }));
          continue;
        }
        const cek = await decryptContentKey(c.privateKey, ktri.scheme, ktri.encryptedKey, c.rawPrivate);
        if (cek && cek.length === cipher.keyLength) {
          const bits = c.privateKey.asymmetricKeyDetails?.modulusLength;
          if (bits && bits < 2048) legacy.add(`rsa-${bits}`);
          return { cek, recipient: { kind: 'certificate', index } };
        }
        failures.push(new DcmsafeError('CMS_WRONG_KEY', `${file}: the private key for recipient ${index + 1} does not decrypt its content key`, { file, recipient: index }));
      }
    } else if (ri.tag === 0xa3) {
      if (passwords.length === 0 || overBudget) continue;
      let pwri;
      try {
        pwri = decodePasswordRecipientInfo(ri);
      } catch (e) {
        if (e instanceof DcmsafeError && e.code === 'CMS_UNSUPPORTED') {
          unsupported.push(e.message);
          continue;
        }
        throw e;
      }
      for (const password of passwords) {
        if (++passwordTries > MAX_PASSWORD_TRIES) break;
        if (!kekCache.has(kekId(password, pwri.kdf, pwri.wrap.keyLength))) {
          // Checked before deriving: the derivation that would pass the limit is never started, and
          // no further password is tried on this file (the other kinds of recipient still are).
          if (work + pwri.kdf.iterations > workLimit) {
            overBudget ??= new DcmsafeError(
              'CMS_UNSUPPORTED',
              `${file}: trying a password on recipient ${index + 1} would take the PBKDF2 work for this file past ${workLimit} iterations: not tried (hostile or broken password recipients)`,
              { file, recipient: index, limit: workLimit },
            );
            break;
          }
          work += pwri.kdf.iterations;
        }
        const kek = await deriveKek(password, pwri.kdf, pwri.wrap.keyLength);
        const cek = unwrapKey(pwri.wrap, kek, pwri.iv, pwri.encryptedKey);
        if (cek && cek.length === cipher.keyLength) {
          if (pwri.kdf.prf === 'sha1') legacy.add('hmacWithSHA1');
          if (pwri.kdf.iterations < 10_000) legacy.add(`pbkdf2-iterations:${pwri.kdf.iterations}`);
          if (pwri.wrap.legacy) legacy.add(pwri.wrap.name);
          return { cek, recipient: { kind: 'password', index } };
        }
        failures.push(new DcmsafeError('CMS_WRONG_PASSWORD', `${file}: the password does not open recipient ${index + 1}`, { file, recipient: index }));
      }
    } else {
      unsupported.push(kind);
    }
  }
  // A recipient left untried says more than the failures: the password may have been for it.
  if (overBudget) throw overBudget;
  const first = failures[0];
  if (first) throw first;
  const kinds = recipientInfos.map((r) => RECIPIENT_KINDS[r.tag] as string);
  if (unsupported.length > 0 && recipientInfos.every((r) => r.tag !== 0x30 && r.tag !== 0xa3)) {
    throw new DcmsafeError('CMS_UNSUPPORTED', `${file}: no recipient of a supported kind (${kinds.join(', ')}); PS3.15 D.1 uses key transport and passwords`, { file, recipients: kinds });
  }
  const given = certs.length === 0 && passwords.length === 0 ? ' (no keys or passwords were given)' : '';
  throw new DcmsafeError('CMS_NO_RECIPIENT', `${file}: none of the keys or passwords belongs to a recipient${given}`, {
    file,
    recipients: kinds,
    ...(unsupported.length > 0 ? { unsupported } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Inner structures, parsed from the decrypted stream

interface InnerState {
  structure?: 'signed' | 'digested' | 'data';
  wrapped: boolean;
  legacy: Set<string>;
  digestAlgorithm?: string;
  digestMatches?: boolean;
  signers: SignerResult[];
}

async function readOid(ber: BerStream, what: string): Promise<string> {
  return decodeOid(await ber.nextElement(what, 256, 0x06), what);
}

/** EncapsulatedContentInfo (RFC 5652 §5.2): streams eContent's octets through the hashes. */
async function* readEncapsulatedContent(ber: BerStream, hashes: Hash[], out: { eContentType: string }): AsyncGenerator<Buffer> {
  ber.enter(await ber.expectHeader(0x30, 'EncapsulatedContentInfo'), 'EncapsulatedContentInfo');
  out.eContentType = await readOid(ber, 'eContentType');
  if (await ber.atEnd('eContent')) throw new DcmsafeError('CMS_UNSUPPORTED', 'the content is detached (not in the file)');
  ber.enter(await ber.expectHeader(0xa0, 'eContent'), 'eContent');
  const os = await ber.readHeader('eContent OCTET STRING');
  if (os.tag !== 0x04 && os.tag !== 0x24) throw malformed('eContent must be an OCTET STRING', { offset: os.offset });
  for await (const chunk of ber.octets(os, 'eContent', CHUNK)) {
    for (const h of hashes) h.update(chunk);
    yield chunk;
  }
  await ber.leave();
  await ber.leave();
}

/**
 * SignedData.certificates, parsed once per distinct set: every file of a medium carries the same
 * signer certificate and chain (see BerMemo). 16 sets of up to 64 KiB are remembered.
 */
const certificateSets = new BerMemo(16, 64 << 10);
const parseCertificateSet = (bytes: Buffer, what: string): BerElement => certificateSets.parse(bytes, what);

async function* readSignedData(ber: BerStream, state: InnerState): AsyncGenerator<Buffer> {
  state.structure = 'signed';
  ber.enter(await ber.expectHeader(0x30, 'SignedData'), 'SignedData');
  const version = decodeSmallInteger(await ber.nextElement('SignedData version', 16, 0x02), 'SignedData version');
  const digestAlgorithms = childrenOf(await ber.nextElement('digestAlgorithms', MAX_SMALL, 0x31), 0x31, 'digestAlgorithms', 0, 16);
  const hashes = new Map<string, Hash>();
  for (const d of digestAlgorithms) {
    const alg = decodeAlgorithmIdentifier(d, 'digestAlgorithm');
    if (!absentOrNull(alg.parameters)) throw malformed('digest algorithm parameters must be NULL or absent');
    const spec = digestByOid(alg.oid);
    if (spec && !hashes.has(spec.oid)) hashes.set(spec.oid, createHash(spec.name));
  }
  const encap = { eContentType: '' };
  yield* readEncapsulatedContent(ber, [...hashes.values()], encap);
  let next = await ber.peekHeader('signerInfos');
  let certificates: BerElement | undefined;
  let crls: BerElement | undefined;
  if (next?.tag === 0xa0) {
    certificates = await ber.nextElement('certificates', MAX_CERTIFICATES, undefined, parseCertificateSet);
    next = await ber.peekHeader('signerInfos');
  }
  if (next?.tag === 0xa1) crls = await ber.nextElement('crls', MAX_CERTIFICATES);
  const signerInfos = childrenOf(await ber.nextElement('signerInfos', MAX_SIGNER_INFOS, 0x31), 0x31, 'signerInfos', 0, 64);
  await ber.leave();

  const digests = new Map<string, Buffer>([...hashes].map(([oid, h]) => [oid, h.digest()]));
  const certChoices = certificates?.children ?? [];
  if (certChoices.length > MAX_CERTIFICATE_CHOICES) {
    throw new DcmsafeError('CMS_UNSUPPORTED', `SignedData carries ${certChoices.length} certificates, more than the ${MAX_CERTIFICATE_CHOICES} a reader judges (a signer's chain is a handful)`, {
      certificates: certChoices.length,
    });
  }
  const ctx = { certificates: certChoices.filter((c) => c.tag === 0x30).map((c) => internBytes(c.raw)), digests, eContentType: encap.eContentType, legacy: state.legacy };
  const results = signerInfos.map((si) => verifySignerInfo(si, ctx));
  // RFC 5652 §5.1 fixes the version from what is present; a different one is an altered or broken file.
  const otherCerts = certChoices.some((c) => c.tag === 0xa3) || (crls?.children ?? []).some((c) => c.tag === 0xa1);
  const expected = otherCerts
    ? 5
    : certChoices.some((c) => c.tag === 0xa2)
      ? 4
      : certChoices.some((c) => c.tag === 0xa1) || results.some((r) => r.version === 3) || encap.eContentType !== OID.data
        ? 3
        : 1;
  if (version !== expected) throw malformed(`SignedData version ${version}, RFC 5652 §5.1 requires ${expected} for its contents`);
  state.signers = results.map(({ version: _v, ...r }) => r);
}

async function* readDigestedData(ber: BerStream, state: InnerState): AsyncGenerator<Buffer> {
  state.structure = 'digested';
  ber.enter(await ber.expectHeader(0x30, 'DigestedData'), 'DigestedData');
  const version = decodeSmallInteger(await ber.nextElement('DigestedData version', 16, 0x02), 'DigestedData version');
  const alg = decodeAlgorithmIdentifier(await ber.nextElement('digestAlgorithm', MAX_SMALL, 0x30), 'digestAlgorithm');
  if (!absentOrNull(alg.parameters)) throw malformed('digest algorithm parameters must be NULL or absent');
  const spec = digestByOid(alg.oid);
  if (!spec) throw new DcmsafeError('CMS_UNSUPPORTED', `DigestedData digest algorithm ${alg.oid}`);
  if (spec.legacy) state.legacy.add(spec.name);
  const hash = createHash(spec.name);
  const encap = { eContentType: '' };
  yield* readEncapsulatedContent(ber, [hash], encap);
  const digest = octetsOf(await ber.nextElement('digest', MAX_SMALL), 'digest');
  await ber.leave();
  // RFC 5652 §7: version 0 for id-data, 2 otherwise.
  const expected = encap.eContentType === OID.data ? 0 : 2;
  if (version !== expected) throw malformed(`DigestedData version ${version}, RFC 5652 §7 requires ${expected}`);
  state.digestAlgorithm = spec.name;
  state.digestMatches = digest.equals(hash.digest());
}

/** Decrypted id-data: a ContentInfo of SignedData/DigestedData (wrapped), or the Part 10 file itself. */
function wrappedType(head: Buffer): string | undefined {
  const type = cmsContentType(head);
  return type === OID.signedData || type === OID.digestedData ? type : undefined;
}

// ---------------------------------------------------------------------------------------------

function notSecure(file: string, why: string): DcmsafeError {
  return new DcmsafeError('CMS_NOT_SECURE', `${file} is not a Secure DICOM File: ${why}`, { file });
}

export async function openSecureFile(reader: RandomAccessReader, keys: DecryptionKeys, limits: OpenLimits = {}): Promise<OpenedSecureFile> {
  const file = reader.name;
  try {
    return await open(reader, keys, limits.pbkdf2Work ?? MAX_PBKDF2_WORK);
  } catch (e) {
    throw withFile(e, file);
  }
}

/** A DcmsafeError that says which file, whatever depth of the decoder it came from. */
function withFile(e: unknown, file: string): DcmsafeError {
  const err = asDcmsafeError(e, { file });
  if (err.data.file === undefined) err.data.file = file;
  return err;
}

async function open(reader: RandomAccessReader, keys: DecryptionKeys, pbkdf2Work: number): Promise<OpenedSecureFile> {
  const file = reader.name;
  if (reader.size === 0) throw notSecure(file, 'the file is empty');
  const cursor = ByteCursor.fromReader(reader);
  const ber = new BerStream(cursor);
  await cursor.fill(32);
  const head = cursor.peek(32);
  if (!looksLikeSecureFile(head)) {
    // A file cut inside the first header is truncated; anything else that does not start like a
    // Secure DICOM File is not one, whatever its declared lengths say.
    if (head.length < 32 && isPrefixOfSecureHeader(head)) throw cursor.ends('ContentInfo', 32 - head.length);
    const other = cmsContentType(head);
    throw notSecure(file, other ? `it is a CMS ${CONTENT_TYPE_NAMES[other] ?? other}, not EnvelopedData` : 'it does not start with a CMS ContentInfo of EnvelopedData');
  }

  // ContentInfo (RFC 5652 §3)
  ber.enter(await ber.readHeader('ContentInfo'), 'ContentInfo');
  await readOid(ber, 'contentType');
  ber.enter(await ber.expectHeader(0xa0, 'content'), 'content');

  // EnvelopedData (RFC 5652 §6.1)
  ber.enter(await ber.expectHeader(0x30, 'EnvelopedData'), 'EnvelopedData');
  const version = decodeSmallInteger(await ber.nextElement('EnvelopedData version', 16, 0x02), 'EnvelopedData version');
  let originatorInfo = false;
  if ((await ber.peekHeader('recipientInfos'))?.tag === 0xa0) {
    await ber.nextElement('originatorInfo', MAX_CERTIFICATES);
    originatorInfo = true;
  }
  const recipientInfos = childrenOf(await ber.nextElement('recipientInfos', MAX_RECIPIENT_INFOS, 0x31), 0x31, 'recipientInfos', 1);

  // EncryptedContentInfo (RFC 5652 §6.1)
  ber.enter(await ber.expectHeader(0x30, 'EncryptedContentInfo'), 'EncryptedContentInfo');
  const innerType = await readOid(ber, 'EncryptedContentInfo contentType');
  const cea = decodeAlgorithmIdentifier(await ber.nextElement('contentEncryptionAlgorithm', MAX_SMALL, 0x30), 'contentEncryptionAlgorithm');
  const cipherFound = cipherByOid(cea.oid);
  if (!cipherFound) throw new DcmsafeError('CMS_UNSUPPORTED', `${file}: content encryption ${algorithmName(cea.oid)} (PS3.15 D.1 uses AES-CBC or des-ede3-cbc)`, { file });
  const cipher: CipherSpec = cipherFound;
  // The IV is an OCTET STRING, in BER possibly constructed (segments).
  const ivFound = cea.parameters?.tag === 0x04 || cea.parameters?.tag === 0x24 ? octetsOf(cea.parameters, 'content encryption IV') : undefined;
  if (!ivFound || ivFound.length !== cipher.blockSize) throw malformed(`${file}: ${cipher.name} needs an IV of ${cipher.blockSize} bytes`, { file });
  const iv: Buffer = ivFound;
  const encryptedFound = await ber.peekHeader('encryptedContent');
  if (!encryptedFound) throw new DcmsafeError('CMS_UNSUPPORTED', `${file}: the encrypted content is detached (not in the file)`, { file });
  const encrypted: BerHeader = encryptedFound;
  if (encrypted.tag !== 0x80 && encrypted.tag !== 0xa0) throw malformed(`${file}: encryptedContent must be [0] IMPLICIT OCTET STRING`, { file, offset: encrypted.offset });
  await ber.readHeader('encryptedContent');
  if (encrypted.length !== null && !encrypted.constructed && (encrypted.length === 0 || encrypted.length % cipher.blockSize !== 0)) {
    throw malformed(`${file}: encrypted content of ${encrypted.length} bytes is not whole ${cipher.name} blocks`, { file });
  }
  if (innerType !== OID.signedData && innerType !== OID.digestedData && innerType !== OID.data) {
    throw new DcmsafeError('CMS_UNSUPPORTED', `${file}: encrypted content of type ${CONTENT_TYPE_NAMES[innerType] ?? innerType} (PS3.15 D.1 uses SignedData or DigestedData)`, { file });
  }

  // RFC 5652 §6.1 fixes the version from what is present; unprotectedAttrs come after the content,
  // so the 0-or-2 choice is completed there.
  const riVersion0 = recipientInfos.every((r) => r.tag === 0x30 && r.children[0]?.tag === 0x02 && r.children[0].content.length === 1 && r.children[0].content[0] === 0);
  const pwriOrOri = recipientInfos.some((r) => r.tag === 0xa3 || r.tag === 0xa4);
  const versionOk = originatorInfo ? version >= 2 && version <= 4 : pwriOrOri ? version === 3 : version === 0 ? riVersion0 : version === 2;
  if (!versionOk) throw malformed(`${file}: EnvelopedData version ${version} does not match its contents (RFC 5652 §6.1)`, { file });

  const legacy = new Set<string>();
  if (cipher.legacy) legacy.add(cipher.name);
  const key = await openContentKey(recipientInfos, keys, cipher, legacy, file, pbkdf2Work);

  const state: InnerState = { wrapped: false, legacy, signers: [] };
  let resolveResult!: (r: SecureFileResult) => void;
  let rejectResult!: (e: unknown) => void;
  const result = new Promise<SecureFileResult>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  result.catch(() => undefined); // a caller reading only the content sees the error there

  async function* decrypted(): AsyncGenerator<Buffer> {
    const decipher = createDecipheriv(cipher.name, key.cek, iv);
    for await (const c of ber.octets(encrypted, 'encryptedContent', CHUNK)) {
      const p = decipher.update(c);
      if (p.length > 0) yield p;
    }
    let last: Buffer;
    try {
      last = decipher.final();
    } catch (e) {
      throw new DcmsafeError('CMS_DECRYPT_FAILED', `${file}: the encrypted content does not decrypt (bad padding): altered, truncated or a wrong key`, { file }, { cause: e });
    }
    if (last.length > 0) yield last;
  }

  async function* contentStream(): AsyncGenerator<Buffer> {
    const plain = new BerStream(ByteCursor.fromIterator(`${file} (decrypted)`, decrypted(), 'CMS_MALFORMED'));
    let type = innerType;
    if (innerType === OID.data) {
      await plain.cursor.fill(32);
      const wrapped = wrappedType(plain.cursor.peek(32));
      if (wrapped) {
        state.wrapped = true;
        type = wrapped;
        plain.enter(await plain.expectHeader(0x30, 'ContentInfo'), 'ContentInfo');
        await readOid(plain, 'contentType');
        plain.enter(await plain.expectHeader(0xa0, 'content'), 'content');
      }
    }
    if (type === OID.signedData) yield* readSignedData(plain, state);
    else if (type === OID.digestedData) yield* readDigestedData(plain, state);
    else {
      state.structure = 'data';
      while (!(await plain.cursor.atEnd())) yield await plain.cursor.readSome(CHUNK);
    }
    if (state.wrapped) {
      await plain.leave();
      await plain.leave();
    }
    if (!(await plain.cursor.atEnd())) throw malformed(`${file}: data after the end of the encrypted structure`, { file });

    // The rest of EnvelopedData: unprotectedAttrs [1], then every enclosing element must close.
    await ber.leave();
    let unprotectedAttrs = false;
    if ((await ber.peekHeader('unprotectedAttrs'))?.tag === 0xa1) {
      await ber.nextElement('unprotectedAttrs', MAX_SMALL * 16);
      unprotectedAttrs = true;
    }
    await ber.leave();
    await ber.leave();
    await ber.leave();
    if (!(await cursor.atEnd())) throw malformed(`${file}: data after the end of the ContentInfo`, { file, offset: cursor.position });
    if (!originatorInfo && !pwriOrOri && version === 2 && riVersion0 && !unprotectedAttrs) {
      throw malformed(`${file}: EnvelopedData version 2 where RFC 5652 §6.1 requires 0`, { file });
    }
  }

  function verdict(): SecureFileResult {
    const structure = state.structure ?? 'data';
    const valid =
      structure === 'signed'
        ? state.signers.length > 0 && state.signers.every((s) => s.signatureValid && s.digestMatches && s.certificatesMatch !== false)
        : structure === 'digested'
          ? state.digestMatches === true
          : false;
    return {
      structure,
      wrapped: state.wrapped,
      contentEncryption: cipher.name,
      legacy: [...legacy],
      recipient: key.recipient,
      ...(structure === 'digested' ? { digestAlgorithm: state.digestAlgorithm as string, digestMatches: state.digestMatches === true } : {}),
      signers: state.signers,
      valid,
    };
  }

  let started = false;
  async function* run(): AsyncGenerator<Buffer> {
    let settled = false;
    try {
      yield* contentStream();
      settled = true;
      resolveResult(verdict());
    } catch (e) {
      const err = withFile(e, file);
      settled = true;
      rejectResult(err);
      throw err;
    } finally {
      key.cek.fill(0);
      if (!settled) rejectResult(new DcmsafeError('INTERNAL', `${file}: the content was not read to the end, so its integrity was not checked`, { file }));
    }
  }

  const content: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator](): AsyncIterator<Buffer> {
      if (started) throw new DcmsafeError('INTERNAL', `${file}: the content of a Secure DICOM File can be read once`, { file });
      started = true;
      return run();
    },
  };
  return { content, result };
}

