/**
 * The verifier's view of DICOM Digital Signatures (PS3.15 Annex C) in plain files: each signature
 * checked while the file streams (dicom/signature/verify.ts), its signer judged with the same trust
 * rules as the signers of Secure DICOM Files (security/pki/trust.ts: anchors, validity at signing
 * time, key usage), and the result turned into report entries and findings.
 *
 * A file counts as trusted only when it has signatures, all of them hold, all their signers are
 * trusted, and one of them covers every element of the instance: a change anywhere in a trusted
 * file breaks a signature, and an element added afterwards makes it no longer fully covered.
 */
import { DcmsafeError } from '../errors/index.js';
import { ReaderByteSource } from '../dicom/part10/byte-source.js';
import { PIXEL_DATA_TAGS } from '../dicom/part10/parser.js';
import { checkDicomSignatures, type SignatureCheck } from '../dicom/signature/verify.js';
import { formatTag } from '../dicom/tag.js';
import type { RandomAccessReader } from '../media/io/random-access-reader.js';
import { describeCertificate } from '../security/pki/certificates.js';
import { evaluateSigner, type TrustInput, type TrustResult } from '../security/pki/trust.js';
import { FINDING_CODES, type DicomSignatureReport, type Finding } from './verify-report.js';

export interface JudgedDicomSignature {
  readonly check: SignatureCheck;
  readonly trust?: TrustResult;
}

export interface DicomSignatureVerdict {
  readonly signatures: readonly JudgedDicomSignature[];
  readonly reports: DicomSignatureReport[];
  readonly findings: Finding[];
  /** Every signature valid and trusted, one of them covering the whole instance. */
  readonly trusted: boolean;
}

function finding(code: keyof typeof FINDING_CODES & string, message: string, file: string): Finding {
  return { code, severity: FINDING_CODES[code]?.severity ?? 'error', message, file };
}

const MAX_LISTED = 8;

function listTags(tags: readonly number[]): string {
  const shown = tags.slice(0, MAX_LISTED).map(formatTag).join(', ');
  return tags.length > MAX_LISTED ? `${shown} and ${tags.length - MAX_LISTED} more` : shown;
}

/** Checks the signatures of the plain DICOM file `reader` (read from its start, forward only). */
export async function judgeDicomSignatures(reader: RandomAccessReader, name: string, trust: TrustInput): Promise<DicomSignatureVerdict> {
  const result = await checkDicomSignatures(new ReaderByteSource(reader, 0), name);
  const findings: Finding[] = [];
  const signatures: JudgedDicomSignature[] = result.signatures.map((check) => {
    if (!check.certificate || check.problem?.kind === 'malformed' || check.problem?.kind === 'unsupported') return { check };
    try {
      return { check, trust: evaluateSigner({ certificate: check.certificate, otherCertificates: [], signatureValid: check.valid, ...(check.signingTime ? { signingTime: check.signingTime } : {}) }, trust) };
    } catch (e) {
      if (!(e instanceof DcmsafeError)) throw e;
      return { check: { ...check, valid: false, problem: { kind: 'malformed', message: `the Certificate of Signer cannot be read: ${e.message}` } } };
    }
  });
  for (const { check, trust: t } of signatures) {
    const label = `${name}: DICOM signature ${check.uid ?? '(no UID)'}`;
    if (!check.valid) {
      findings.push(finding('DICOM_SIGNATURE_INVALID', `${label}: ${check.problem?.message ?? 'invalid'}`, name));
      continue;
    }
    if (t && t.status !== 'trusted') findings.push(finding('DICOM_SIGNER_UNTRUSTED', `${label}: signer ${t.signer.subject} is ${t.status}: ${t.reasons.join('; ')}`, name));
    if (check.uncoveredTags.length > 0) {
      const pixels = check.uncoveredTags.some((tag) => PIXEL_DATA_TAGS.has(tag));
      findings.push(finding('DICOM_SIGNATURE_PARTIAL', `${label} does not cover ${pixels ? 'the pixel data, nor ' : ''}${listTags(check.uncoveredTags.filter((tag) => !PIXEL_DATA_TAGS.has(tag))) || 'other elements'}`.replace(/, nor other elements$/, ''), name));
    }
  }
  const trusted =
    signatures.length > 0 &&
    signatures.every((s) => s.check.valid && s.trust?.status === 'trusted') &&
    signatures.some((s) => s.check.uncoveredTags.length === 0);
  const reports: DicomSignatureReport[] = signatures.map(({ check, trust: t }) => {
    let signer = t?.signer.subject;
    if (!signer && check.certificate) {
      try {
        signer = describeCertificate(check.certificate).subject;
      } catch {
        signer = undefined;
      }
    }
    return {
      ...(check.uid ? { uid: check.uid } : {}),
      ...(signer ? { signer } : {}),
      ...(t ? { trust: t.status, trustReasons: t.reasons } : {}),
      valid: check.valid,
      ...(check.problem ? { problem: check.problem.message } : {}),
      ...(check.macAlgorithm ? { macAlgorithm: check.macAlgorithm } : {}),
      ...(check.profile ? { profile: check.profile } : {}),
      ...(check.signingTime ? { signedAt: check.signingTime.toISOString() } : {}),
      coveredTags: check.coveredTags.map(formatTag),
      coversPixelData: check.coversPixelData,
      uncoveredTags: check.uncoveredTags.map(formatTag),
    };
  });
  return { signatures, reports, findings, trusted };
}
