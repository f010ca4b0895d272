/**
 * Scanning inputs for a File-set: each file's header is read (never its pixel data) and reduced to
 * what planning needs: identity (SOP, study, series, patient), the keys directory records may copy
 * (PS3.3 F.5, PS3.11 D.3-2/H.3-2), and a digest per attribute so that two files holding the same
 * SOP Instance can be compared without keeping their headers.
 */
import { createHash } from 'node:crypto';
import { DcmsafeError, type ErrorCode } from '../../errors/index.js';
import { DataSet, trimPadding, type Element } from '../dataset.js';
import { readPart10File, type Part10Format } from '../part10/header.js';
import type { ReadWarning } from '../part10/parser.js';
import { ELE, makeElement } from '../part10/writer.js';
import { tagElement, tagGroup, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { elementToExplicitLE, littleEndianValue, resolveUnknownVR } from '../transcode/convert.js';
import type { TransferSyntax } from '../transfer-syntax.js';
import { allRecordKeyTags } from '../dicomdir/record-types.js';
import { MEDIA_STORAGE_DIRECTORY_SOP_CLASS } from '../dicomdir/model.js';
import { PROFILES } from '../profiles/profiles.js';

export interface PatientIdentity {
  /** Patient ID as in the file (trimmed), or undefined when absent or empty. */
  readonly id?: string;
  /** Patient's Name decoded to Unicode, as written. */
  readonly name: string;
  readonly birthDate: string;
  readonly sex: string;
}

export interface ScannedInstance {
  readonly path: string;
  readonly size: number;
  readonly format: Part10Format;
  readonly transferSyntax: TransferSyntax;
  readonly warnings: readonly ReadWarning[];
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly studyInstanceUID?: string;
  readonly seriesInstanceUID?: string;
  readonly modality?: string;
  readonly patient: PatientIdentity;
  /** Keys for directory records, in Explicit VR Little Endian. */
  readonly keys: DataSet;
  readonly hasEncapsulatedDocument: boolean;
  readonly hasPixelData: boolean;
  /** Lossy Image Compression (0028,2110) is "01", or the transfer syntax is lossy. */
  readonly lossy: boolean;
  /** A digest of each attribute, for comparing instances that share a SOP Instance UID. */
  readonly digests: ReadonlyMap<Tag, string>;
}

export type SkipReason = 'not-dicom' | 'dicomdir' | 'no-sop-instance' | 'acr-nema' | 'missing-identifiers';

export interface SkippedInput {
  readonly path: string;
  readonly reason: SkipReason;
  readonly message: string;
}

export interface UnreadableInput {
  readonly path: string;
  readonly code: ErrorCode;
  readonly message: string;
  readonly offset?: number;
}

export type ScanResult =
  | { readonly kind: 'instance'; readonly instance: ScannedInstance }
  | { readonly kind: 'skipped'; readonly skipped: SkippedInput }
  | { readonly kind: 'unreadable'; readonly unreadable: UnreadableInput };

/** Date and time attributes kept so that missing study dates can be supplied from the instance. */
const FALLBACK_TAGS: readonly Tag[] = [
  T.SeriesDate,
  T.SeriesTime,
  T.AcquisitionDate,
  T.AcquisitionTime,
  T.ContentDate,
  T.ContentTime,
  T.InstanceCreationDate,
  T.InstanceCreationTime,
  T.StudyInstanceUID,
  T.SeriesInstanceUID,
];

const KEPT_TAGS: ReadonlySet<Tag> = (() => {
  const extra: Tag[] = [...FALLBACK_TAGS];
  for (const p of PROFILES) for (const level of Object.values(p.extraKeys)) for (const key of level) extra.push(key.tag);
  return allRecordKeyTags(extra);
})();

/**
 * Attributes that say how the pixels are encoded, not what the instance is: two files of one SOP
 * Instance may differ in them (PS3.5 §8; compression tools record what they did in the derivation
 * attributes, PS3.3 C.7.6.1).
 */
const ENCODING_TAGS: ReadonlySet<Tag> = new Set([
  T.SpecificCharacterSet,
  T.PhotometricInterpretation,
  T.PlanarConfiguration,
  T.LossyImageCompression,
  T.LossyImageCompressionRatio,
  T.LossyImageCompressionMethod,
  T.ExtendedOffsetTable,
  T.ExtendedOffsetTableLengths,
  0x00082111, // Derivation Description
  0x00089215, // Derivation Code Sequence
  0x00282000, // ICC Profile (colour conversion by the codec)
  0x00287fe0, // Pixel Data Provider URL
  T.DataSetTrailingPadding,
  // Encrypted Attributes Sequence (PS3.15 E.1.1): the originals of a de-identified copy, encrypted
  // with fresh keys per file, so two copies of one instance never have the same bytes here.
  0x04000500,
]);

function digestElement(input: Element, ds: DataSet): string {
  const el = ds.syntax.littleEndian ? resolveUnknownVR(input, ds) : input;
  const h = createHash('sha256');
  if (el.items) {
    for (const item of el.items) {
      h.update('item:');
      for (const child of item.sorted()) h.update(`${child.tag}=${digestElement(child, item)};`);
    }
  } else if (el.bulk) {
    h.update(`bulk:${el.length ?? 0}`);
  } else if (el.value) {
    // Text values compare as text (the character set may differ between encodings); binary as little endian.
    h.update(trimPadding(littleEndianValue(el, ds.syntax) as Buffer, el.vr));
  }
  return h.digest('base64').slice(0, 16);
}

export function attributeDigests(ds: DataSet): Map<Tag, string> {
  const out = new Map<Tag, string>();
  for (const el of ds.elements.values()) {
    if (tagGroup(el.tag) === 0x0002 || tagElement(el.tag) === 0x0000 || tagGroup(el.tag) === 0x7fe0 || ENCODING_TAGS.has(el.tag)) continue;
    out.set(el.tag, digestElement(el, ds));
  }
  return out;
}

/** Only content items that modify the document title belong in a directory record (PS3.3 F.5.x, Content Sequence 1C). */
function concepModifiersOnly(el: Element): Element {
  const items = (el.items ?? []).filter((item) => item.text(0x0040a010) === 'HAS CONCEPT MOD');
  return { ...el, items };
}

function uid(ds: DataSet | undefined, tag: Tag): string | undefined {
  const v = ds?.text(tag)?.replace(/\0/g, '').trim();
  return v ? v : undefined;
}

export async function scanFile(path: string): Promise<ScanResult> {
  let header;
  try {
    header = await readPart10File(path);
  } catch (e) {
    if (e instanceof DcmsafeError && e.code === 'PART10_NOT_DICOM') {
      return { kind: 'skipped', skipped: { path, reason: 'not-dicom', message: 'not a DICOM file' } };
    }
    if (e instanceof DcmsafeError && e.fault !== 'internal' && e.code !== 'IO' && e.code !== 'INPUT_NOT_FOUND') {
      return { kind: 'unreadable', unreadable: { path, code: e.code, message: e.message, ...(typeof e.data.offset === 'number' ? { offset: e.data.offset } : {}) } };
    }
    throw e;
  }
  const ds = header.dataSet;
  const sopClassUID = uid(ds, T.SOPClassUID) ?? uid(header.meta, T.MediaStorageSOPClassUID);
  const sopInstanceUID = uid(ds, T.SOPInstanceUID) ?? uid(header.meta, T.MediaStorageSOPInstanceUID);
  if (header.format === 'acr-nema' && (!sopClassUID || !sopInstanceUID)) {
    return { kind: 'skipped', skipped: { path, reason: 'acr-nema', message: 'legacy ACR-NEMA file without SOP Class and Instance UIDs: cannot be placed on DICOM media' } };
  }
  if (sopClassUID === MEDIA_STORAGE_DIRECTORY_SOP_CLASS) {
    return { kind: 'skipped', skipped: { path, reason: 'dicomdir', message: 'a DICOMDIR among the inputs: its files are read directly and a new DICOMDIR is written' } };
  }
  if (!sopClassUID || !sopInstanceUID) {
    return { kind: 'skipped', skipped: { path, reason: 'no-sop-instance', message: 'no SOP Class UID or SOP Instance UID in the data set or File Meta Information' } };
  }

  const keys = new DataSet(ELE);
  for (const el of ds.elements.values()) {
    if (!KEPT_TAGS.has(el.tag) || el.bulk) continue;
    const converted = elementToExplicitLE(el.tag === T.ContentSequence ? concepModifiersOnly(el) : el, ds.syntax, keys);
    keys.set(converted);
  }
  // SR records carry the latest Verification DateTime of the Verifying Observer Sequence (PS3.3 F.5.x, 1C).
  if (ds.text(T.VerificationFlag) === 'VERIFIED' && !keys.has(T.VerificationDateTime)) {
    const times = ds
      .items(0x0040a073) // Verifying Observer Sequence
      .map((item) => item.text(T.VerificationDateTime))
      .filter((v): v is string => !!v)
      .sort();
    const latest = times[times.length - 1];
    if (latest) keys.set(makeElement(T.VerificationDateTime, 'DT', latest));
  }
  const text = (tag: Tag): string | undefined => ds.text(tag);
  const studyInstanceUID = uid(ds, T.StudyInstanceUID);
  const seriesInstanceUID = uid(ds, T.SeriesInstanceUID);
  const modality = text(T.Modality);
  return {
    kind: 'instance',
    instance: {
      path,
      size: header.size,
      format: header.format,
      transferSyntax: header.transferSyntax,
      warnings: header.warnings,
      sopClassUID,
      sopInstanceUID,
      ...(studyInstanceUID ? { studyInstanceUID } : {}),
      ...(seriesInstanceUID ? { seriesInstanceUID } : {}),
      ...(modality ? { modality } : {}),
      patient: {
        ...(text(T.PatientID) ? { id: text(T.PatientID) as string } : {}),
        name: ds.string(T.PatientName)?.trim() ?? '',
        birthDate: text(T.PatientBirthDate) ?? '',
        sex: text(T.PatientSex) ?? '',
      },
      keys,
      hasEncapsulatedDocument: ds.has(T.EncapsulatedDocument),
      hasPixelData: header.pixelData !== undefined,
      lossy: header.transferSyntax.lossy || text(T.LossyImageCompression) === '01',
      digests: attributeDigests(ds),
    },
  };
}
