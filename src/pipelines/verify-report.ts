/**
 * The verification report: what `dcmsafe verify` found on a medium, as data. `--json` prints it as
 * it is (schemaVersion says which shape), `--report` renders it as HTML, the terminal as text.
 * Findings carry a stable code, a severity and the file; the verdict sums them up.
 */
export const REPORT_SCHEMA_VERSION = 1;

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  /** Stable code, e.g. FILE_TAMPERED, RECORD_MISMATCH, NAME_NOT_CONFORMANT (see FINDING_CODES). */
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  /** Path on the medium, "/"-separated. */
  readonly file?: string;
  readonly offset?: number;
}

/** The verdict: trusted > intact-unsigned > problems > unreadable. */
export type Verdict = 'trusted' | 'intact-unsigned' | 'problems' | 'unreadable';

export type Policy = 'strict' | 'standard' | 'lenient';

export interface SignerReport {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  /** 'trusted', 'untrusted-chain', 'expired', 'bad-signature', 'wrong-key-usage', 'revoked'. */
  readonly status: string;
  /** Subjects from the signer up to the anchor, as built. */
  readonly chain: string[];
  readonly signingTimes: { first?: string; last?: string };
  readonly files: number;
  readonly reasons: string[];
}

export interface FileReport {
  readonly path: string;
  /** dicom: plain Part 10; secure: Secure DICOM File; dicomdir; other (README, INDEX.HTM...); executable. */
  readonly kind: 'dicom' | 'secure' | 'dicomdir' | 'other' | 'executable';
  /** ok, or the most serious finding code for this file. */
  readonly status: string;
  readonly size: number;
  readonly sopInstanceUID?: string;
  readonly sopClassUID?: string;
  readonly transferSyntaxUID?: string;
  /** Subject of the signer, for signed files. */
  readonly signer?: string;
  /** 'signed', 'digested' or 'data' (no integrity), for secure files. */
  readonly protection?: string;
  readonly referenced?: boolean;
  /** DICOM Digital Signatures inside the data set (PS3.15 Annex C), for plain files that carry them. */
  readonly dicomSignatures?: DicomSignatureReport[];
}

/** One item of a plain file's Digital Signatures Sequence (FFFA,FFFA), as checked. */
export interface DicomSignatureReport {
  readonly uid?: string;
  readonly signer?: string;
  /** The signer's trust status ('trusted', 'untrusted-chain', 'expired'...), when the signature could be checked. */
  readonly trust?: string;
  readonly trustReasons?: string[];
  /** Whether the MAC and the RSA signature match the data. */
  readonly valid: boolean;
  readonly problem?: string;
  readonly macAlgorithm?: string;
  readonly profile?: string;
  readonly signedAt?: string;
  /** Data Elements Signed, as "(gggg,eeee)". */
  readonly coveredTags: string[];
  readonly coversPixelData: boolean;
  /** Top-level elements present but not covered. */
  readonly uncoveredTags: string[];
}

export interface SeriesReport {
  readonly seriesInstanceUID: string;
  readonly modality: string;
  readonly seriesNumber: string;
  readonly instances: number;
}

export interface StudyReport {
  readonly studyInstanceUID: string;
  readonly studyDate: string;
  readonly studyDescription: string;
  readonly accessionNumber: string;
  readonly series: SeriesReport[];
}

export interface PatientReport {
  readonly patientId: string;
  readonly patientName: string;
  readonly birthDate: string;
  readonly studies: StudyReport[];
}

export interface VerifyReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly tool: { name: 'dcmsafe'; version: string };
  readonly verifiedAt: string;
  readonly media: { path: string; kind: string; label?: string; secure: boolean; dicomdir: 'present' | 'missing' | 'unreadable' | 'encrypted-no-key' };
  readonly policy: Policy;
  readonly verdict: Verdict;
  /** Whether the policy passes (exit 0) or not (exit 1). */
  readonly passed: boolean;
  readonly summary: {
    files: number;
    dicomFiles: number;
    secureFiles: number;
    signedFiles: number;
    trustedFiles: number;
    patients: number;
    studies: number;
    series: number;
    instances: number;
    errors: number;
    warnings: number;
    infos: number;
  };
  readonly signers: SignerReport[];
  readonly patients: PatientReport[];
  readonly findings: Finding[];
  readonly files: FileReport[];
  /** --extract: where the verified files went, and how many. */
  readonly extracted?: { folder: string; files: number; skipped: number };
}

/**
 * Finding codes with their default severity and meaning. The verifier never throws on a bad file:
 * each problem is one of these. Policies change what fails, not the severities.
 */
export const FINDING_CODES: Readonly<Record<string, { severity: Severity; summary: string }>> = {
  MEDIA_UNREADABLE: { severity: 'error', summary: 'The medium, or a file on it, cannot be read.' },
  NAME_NOT_CONFORMANT: { severity: 'warning', summary: 'A file name or path does not follow PS3.10 §8 (lower case, extension, more than 8 levels, long component).' },
  SYMLINK_NOT_FOLLOWED: { severity: 'warning', summary: 'A symbolic link on the medium was listed, not followed.' },
  EXECUTABLE: { severity: 'warning', summary: 'An executable, script or autorun file is on the medium (listed, never run).' },
  DICOMDIR_MISSING: { severity: 'warning', summary: 'No DICOMDIR: every file was scanned and the index rebuilt in memory.' },
  DICOMDIR_UNREADABLE: { severity: 'error', summary: 'The DICOMDIR cannot be read or decrypted.' },
  DICOMDIR_FINDING: { severity: 'warning', summary: 'The DICOMDIR deviates from PS3.3 Annex F (the decoder\'s finding is in the message).' },
  RECORD_FILE_MISSING: { severity: 'error', summary: 'A DICOMDIR record references a file that is not on the medium.' },
  RECORD_MISMATCH: { severity: 'error', summary: 'A DICOMDIR record\'s keys disagree with the file it references.' },
  ORPHAN_FILE: { severity: 'error', summary: 'A DICOM file on the medium is not referenced by the DICOMDIR.' },
  DUPLICATE_PATIENT_RECORD: { severity: 'error', summary: 'More than one PATIENT record for one Patient ID.' },
  DUPLICATE_STUDY_RECORD: { severity: 'error', summary: 'More than one STUDY record for one Study Instance UID.' },
  MULTIPLE_PATIENTS: { severity: 'warning', summary: 'The medium holds more than one patient: wrong-patient risk.' },
  DICOM_UNREADABLE: { severity: 'error', summary: 'A DICOM file cannot be parsed (truncated, malformed).' },
  DICOM_DEVIATION: { severity: 'info', summary: 'A DICOM file deviates from PS3.10 in a way the reader tolerates (no preamble, no group length...).' },
  NOT_PART10: { severity: 'warning', summary: 'A DICOM file on the medium lacks the preamble or File Meta Information (PS3.10 §7.1).' },
  SECURE_NO_KEY: { severity: 'error', summary: 'A Secure DICOM File could not be opened: no matching key or password given.' },
  SECURE_UNREADABLE: { severity: 'error', summary: 'A Secure DICOM File is malformed, truncated, or does not decrypt.' },
  FILE_TAMPERED: { severity: 'error', summary: 'A signature or digest does not match: the file was changed.' },
  SIGNER_UNTRUSTED: { severity: 'error', summary: 'The signer is not trusted (unknown CA, expired, revoked, wrong key usage).' },
  SIGNER_CERTIFICATE_MISSING: { severity: 'error', summary: 'A signed file does not include its signer\'s certificate.' },
  UNSIGNED: { severity: 'warning', summary: 'A Secure DICOM File protects integrity with a digest only: its origin is not proven.' },
  NO_INTEGRITY: { severity: 'error', summary: 'A Secure DICOM File holds its content without digest or signature (non-conformant).' },
  LEGACY_ALGORITHM: { severity: 'info', summary: 'Weak but allowed algorithms (Triple-DES, SHA-1, low PBKDF2 iterations).' },
  DOWNGRADE: { severity: 'error', summary: 'A plain DICOM file on media that is otherwise secure.' },
  PLAIN_MEDIA: { severity: 'warning', summary: 'The medium is not signed: its origin is not proven.' },
  LIMIT: { severity: 'error', summary: 'A limit on files, sizes or records was reached: the rest was not checked.' },
  EXTRA_DIRECTORY: { severity: 'info', summary: 'A DICOM directory file other than the root DICOMDIR (a backup or variant); not used.' },
  DICOM_SIGNATURE_INVALID: { severity: 'error', summary: 'A DICOM Digital Signature (PS3.15 Annex C) does not match the data, or is malformed or unsupported.' },
  DICOM_SIGNER_UNTRUSTED: { severity: 'warning', summary: 'A valid DICOM Digital Signature whose signer is not trusted (unknown CA, expired, wrong key usage...).' },
  DICOM_SIGNATURE_PARTIAL: { severity: 'info', summary: 'A DICOM Digital Signature does not cover every element of the instance (pixel data or other attributes unsigned).' },
  RECORD_FILE_NOT_DICOM: { severity: 'error', summary: 'A DICOMDIR record references a file that is not a DICOM file (its content was replaced).' },
  MANIFEST_INVALID: { severity: 'error', summary: 'The signed media manifest (MANIFEST.P7M) is malformed, its signature does not match, or its signer is not trusted.' },
  MANIFEST_MISMATCH: { severity: 'error', summary: 'A file differs from the signed media manifest: changed, resized, missing, added or renamed.' },
  UNPROTECTED_FILE: { severity: 'warning', summary: 'Files of a signed medium that no trusted signature covers whole (no signed manifest lists them): the medium is not called trusted.' },
  EXTRACT_SKIPPED: { severity: 'info', summary: 'A file was not extracted because it failed the policy.' },
};
