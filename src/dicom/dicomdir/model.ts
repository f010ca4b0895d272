/**
 * The Basic Directory (DICOMDIR) as a model, PS3.3 Annex F: a File-set owning a tree of directory
 * records (PATIENT → STUDY → SERIES → leaf records, plus top-level records such as PALETTE), whose
 * leaves reference files by File ID. Offsets are not part of the model: the encoder computes them.
 */
import type { DataSet } from '../dataset.js';

export const MEDIA_STORAGE_DIRECTORY_SOP_CLASS = '1.2.840.10008.1.3.10';

export interface DirectoryRecord {
  /** Directory Record Type (0004,1430), e.g. "PATIENT", "IMAGE". */
  readonly type: string;
  /**
   * The record's keys: every element of the record from group 0008 on (Specific Character Set,
   * Patient ID, Study Date...), as they will be encoded. Never holds group 0004. Read-only once
   * planned: leaf records with equal keys share one DataSet (a File-set of 100 000 instances).
   */
  readonly keys: DataSet;
  /** Referenced File ID (0004,1500) components, for records that reference a file. */
  readonly fileId?: readonly string[];
  /** Referenced SOP Class UID in File (0004,1510). */
  readonly sopClassUID?: string;
  /** Referenced SOP Instance UID in File (0004,1511). */
  readonly sopInstanceUID?: string;
  /** Referenced Transfer Syntax UID in File (0004,1512). */
  readonly transferSyntaxUID?: string;
  /** Referenced Related General SOP Class UID in File (0004,151A). */
  readonly relatedGeneralSOPClassUIDs?: readonly string[];
  /** Private Record UID (0004,1432), for PRIVATE records. */
  readonly privateRecordUID?: string;
  /** Record In-use Flag (0004,1410): FFFFH in use; 0000H inactive (retired, still read). */
  readonly inUse: boolean;
  readonly children: DirectoryRecord[];
  /** File offset of the record's item, when it was read from a DICOMDIR. */
  readonly offset?: number;
}

export interface FileSet {
  /** File-set ID (0004,1130): 0 to 16 characters. */
  readonly fileSetId: string;
  /** File-set UID: the DICOMDIR's Media Storage SOP Instance UID (PS3.10 §8.6). */
  readonly fileSetUID: string;
  /** File-set Descriptor File ID (0004,1141), e.g. ["README"]. */
  readonly descriptorFileId?: readonly string[];
  /** Specific Character Set of File-set Descriptor File (0004,1142). */
  readonly descriptorCharset?: string;
  /** Records of the root directory entity, in order. */
  readonly roots: DirectoryRecord[];
}

/** Every record in the order the encoder writes them: depth first, parents before children. */
export function* walkRecords(records: readonly DirectoryRecord[]): Generator<DirectoryRecord> {
  for (const r of records) {
    yield r;
    yield* walkRecords(r.children);
  }
}
