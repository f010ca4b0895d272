/**
 * Opening a Secure DICOM File and judging it (PS3.10 §7.4, PS3.15 D.1): the CMS layer decrypts and
 * checks integrity, the PKI layer says who signed and whether that signer is trusted. The verifier
 * and the importer use this; the CMS and PKI layers do not know about each other.
 */
import { createHash } from 'node:crypto';
import type { RawPrivateOperation } from './cms/ktri.js';
import { rawPrivate } from './cms/rsa.js';
import { openSecureFile, type DecryptionKeys, type SecureFileResult, type SignerResult } from './cms/reader.js';
import { describeCertificate } from './pki/certificates.js';
import { evaluateSigner, type TrustInput, type TrustResult } from './pki/trust.js';
import type { RandomAccessReader } from '../media/io/random-access-reader.js';

export interface JudgedSigner {
  readonly cms: SignerResult;
  /** Absent when the signer's certificate is not in the file (nobody to judge). */
  readonly trust?: TrustResult;
}

export interface JudgedSecureFile {
  readonly cms: SecureFileResult;
  readonly signers: readonly JudgedSigner[];
  /**
   * One word for the file: 'trusted' (integrity holds, every signer trusted), a trust status of the
   * worst signer, 'no-signer' (DigestedData: integrity without origin), 'no-integrity' (id-data:
   * readable, not protected) or 'altered' (digest or signature does not match).
   */
  readonly status: TrustResult['status'] | 'no-signer' | 'no-integrity' | 'altered' | 'signer-certificate-missing';
}

const ORDER = ['altered', 'bad-signature', 'revoked', 'signer-certificate-missing', 'untrusted-chain', 'expired', 'wrong-key-usage', 'no-integrity', 'no-signer', 'trusted'] as const;

export function judge(cms: SecureFileResult, trust: TrustInput): JudgedSecureFile {
  const signers: JudgedSigner[] = cms.signers.map((s) => {
    if (!s.signerCertificate) return { cms: s };
    const others = s.certificates.filter((c) => !c.equals(s.signerCertificate as Buffer));
    const result = evaluateSigner(
      { certificate: s.signerCertificate, otherCertificates: others, signatureValid: s.signatureValid && s.digestMatches && s.certificatesMatch !== false, ...(s.signingTime ? { signingTime: s.signingTime } : {}) },
      trust,
    );
    return { cms: s, trust: result };
  });
  const statuses: Array<JudgedSecureFile['status']> = [];
  if (cms.structure === 'data') statuses.push('no-integrity');
  else if (cms.structure === 'digested') statuses.push(cms.valid ? 'no-signer' : 'altered');
  else {
    if (!cms.valid && signers.every((s) => s.trust?.status !== 'bad-signature')) statuses.push('altered');
    for (const s of signers) statuses.push(s.trust ? s.trust.status : 'signer-certificate-missing');
    if (signers.length === 0) statuses.push('altered');
  }
  const status = ORDER.find((o) => statuses.includes(o)) ?? 'trusted';
  return { cms, signers, status };
}

/** Decrypts `reader` with `keys`; `result` settles once `content` has been read to the end. */
export async function openJudgedSecureFile(
  reader: RandomAccessReader,
  keys: DecryptionKeys,
  trust: TrustInput,
): Promise<{ content: AsyncIterable<Buffer>; result: Promise<JudgedSecureFile> }> {
  const opened = await openSecureFile(reader, keys);
  const result = opened.result.then((cms) => judge(cms, trust));
  // When reading the content fails, the caller handles that error and may never await `result`,
  // which fails the same way: mark it handled so it is not an unhandled rejection.
  result.catch(() => undefined);
  return { content: opened.content, result };
}

export function signerName(s: JudgedSigner): string {
  if (s.trust) return s.trust.signer.subject;
  return s.cms.signerCertificate ? describeCertificate(s.cms.signerCertificate).subject : '(certificate not in the file)';
}

/**
 * The raw RSA results of content keys opened once, kept for a second opening of the same file, so a
 * file read twice (the importer: its header before sending, its content while sending) costs one
 * private-key operation, not two. Keyed by the encrypted content key (its own per file): a different
 * or altered file never matches. A result is handed out once (a copy) and wiped; at most `max` are
 * kept, the first ones (a second pass takes the files in the same order); clear() wipes the rest.
 */
export class ContentKeyCache {
  private readonly entries = new Map<string, Buffer>();

  constructor(private readonly max = 16_384) {}

  get size(): number {
    return this.entries.size;
  }

  /** The same keys, each certificate key's raw operation looked up here first (then done by `keys`' own, or here). */
  wrap(keys: DecryptionKeys): DecryptionKeys {
    const certificates = (keys.certificates ?? []).map((k) => {
      const inner: RawPrivateOperation = k.rawPrivate ?? ((c) => Promise.resolve(rawPrivate(k.privateKey, c)));
      return { ...k, rawPrivate: (c: Buffer) => this.lookup(c, inner) };
    });
    return { ...keys, certificates };
  }

  clear(): void {
    for (const em of this.entries.values()) em.fill(0);
    this.entries.clear();
  }

  private async lookup(c: Buffer, inner: RawPrivateOperation): Promise<Buffer | null> {
    const id = createHash('sha256').update(c).digest('hex');
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      const copy = Buffer.from(hit);
      hit.fill(0);
      return copy;
    }
    const em = await inner(c);
    if (em && this.entries.size < this.max) this.entries.set(id, Buffer.from(em));
    return em;
  }
}
