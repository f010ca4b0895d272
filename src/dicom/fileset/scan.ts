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
import { allRecordKeyTags, RECORD_KEYS } from '../dicomdir/record-types.js';
import { decodeKeys, encodeKeys, keyText } from './compact-keys.js';
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
  /** Keys for directory records, in Explicit VR Little Endian: a new DataSet, decoded from compact bytes at each access. */
  readonly keys: DataSet;
  /** The keys encoded (Explicit VR Little Endian, ascending tags). */
  readonly keyBytes: Buffer;
  /** `keys.text(tag)` without decoding every key. */
  keyText(tag: Tag): string | undefined;
  /** The keys with these tags (and the Specific Character Set), decoded: what a record needs of `keys`. */
  keysFor(tags: ReadonlySet<Tag>): DataSet;
  readonly hasEncapsulatedDocument: boolean;
  readonly hasPixelData: boolean;
  /** Lossy Image Compression (0028,2110) is "01", or the transfer syntax is lossy. */
  readonly lossy: boolean;
  /**
   * One digest of every attribute that `digests` covers: two files whose digests are equal have
   * equal attribute digests, so a duplicate SOP Instance is compared attribute by attribute only when
   * these differ.
   */
  readonly digest: string;
  /**
   * A digest of each attribute, for naming the attributes in which two instances sharing a SOP
   * Instance UID differ. Kept only when asked for (scanFile's default); scanFiles computes it, by
   * reading the files again, only for duplicates whose `digest` differs.
   */
  readonly digests?: ReadonlyMap<Tag, string>;
}

class CompactInstance implements ScannedInstance {
  // Declared only: an absent field is no property at all, as in the plain objects scanning made before.
  declare readonly studyInstanceUID?: string;
  declare readonly seriesInstanceUID?: string;
  declare readonly modality?: string;
  declare readonly digests?: ReadonlyMap<Tag, string>;

  constructor(
    readonly path: string,
    readonly size: number,
    readonly format: Part10Format,
    readonly transferSyntax: TransferSyntax,
    readonly warnings: readonly ReadWarning[],
    readonly sopClassUID: string,
    readonly sopInstanceUID: string,
    optional: { studyInstanceUID?: string | undefined; seriesInstanceUID?: string | undefined; modality?: string | undefined; digests?: ReadonlyMap<Tag, string> | undefined },
    readonly patient: PatientIdentity,
    /** Keys the instance shares with the others of its series (patient, study and series keys): one buffer for all of them. */
    private readonly commonKeys: Buffer,
    /** The instance's other keys: bytes keyStart to keyEnd of a slab. */
    private readonly keySlab: Buffer,
    private readonly keyStart: number,
    private readonly keyEnd: number,
    readonly hasEncapsulatedDocument: boolean,
    readonly hasPixelData: boolean,
    readonly lossy: boolean,
    readonly digest: string,
  ) {
    // Absent optional fields stay absent (not undefined-valued own properties).
    const self = this as { studyInstanceUID?: string; seriesInstanceUID?: string; modality?: string; digests?: ReadonlyMap<Tag, string> };
    if (optional.studyInstanceUID) self.studyInstanceUID = optional.studyInstanceUID;
    if (optional.seriesInstanceUID) self.seriesInstanceUID = optional.seriesInstanceUID;
    if (optional.modality) self.modality = optional.modality;
    if (optional.digests) self.digests = optional.digests;
  }

  private get parts(): Buffer[] {
    return [this.keySlab.subarray(this.keyStart, this.keyEnd), this.commonKeys];
  }

  get keyBytes(): Buffer {
    return encodeKeys(this.keys);
  }

  get keys(): DataSet {
    return decodeKeys(this.parts);
  }

  keyText(tag: Tag): string | undefined {
    return keyText(this.parts, tag);
  }

  keysFor(tags: ReadonlySet<Tag>): DataSet {
    return decodeKeys(this.parts, tags);
  }
}

/** Bytes of the slabs that hold the encoded keys of many instances (one object per slab, not per instance). */
const SLAB = 256 * 1024;

/**
 * Shares equal strings and patient identities between the instances of one scan (UIDs of the
 * study and series, names, dates): 100 000 instances of one study hold one copy. Their encoded
 * keys go one after the other into large slabs.
 */
export class Interner {
  private readonly strings = new Map<string, string>();
  private readonly patients = new Map<string, PatientIdentity>();
  private slab: Buffer = Buffer.alloc(0);
  private used = 0;

  private readonly common = new Map<string, Buffer>();

  /** One buffer for equal keys of many instances (a series' patient, study and series keys). */
  shared(bytes: Buffer): Buffer {
    const id = bytes.toString('latin1');
    const known = this.common.get(id);
    if (known) return known;
    const { slab, start } = this.keep(bytes);
    const kept = slab.subarray(start, start + bytes.length);
    this.common.set(id, kept);
    return kept;
  }

  /** A copy of `bytes` in a slab: the slab and where the copy starts. */
  keep(bytes: Buffer): { slab: Buffer; start: number } {
    if (bytes.length > SLAB / 8) return { slab: Buffer.from(bytes), start: 0 };
    if (this.used + bytes.length > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB);
      this.used = 0;
    }
    const start = this.used;
    bytes.copy(this.slab, start);
    this.used += bytes.length;
    return { slab: this.slab, start };
  }

  string<S extends string | undefined>(s: S): S {
    if (s === undefined) return s;
    const known = this.strings.get(s);
    if (known !== undefined) return known as S;
    this.strings.set(s, s);
    return s;
  }

  patient(p: PatientIdentity): PatientIdentity {
    const key = `${p.id ?? '\u0000'}\u0001${p.name}\u0001${p.birthDate}\u0001${p.sex}`;
    const known = this.patients.get(key);
    if (known) return known;
    const shared: PatientIdentity = { ...(p.id !== undefined ? { id: this.string(p.id) } : {}), name: this.string(p.name), birthDate: this.string(p.birthDate), sex: this.string(p.sex) };
    this.patients.set(key, shared);
    return shared;
  }
}

const NO_WARNINGS: readonly ReadWarning[] = Object.freeze([]);

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

/** Keys usually equal for every instance of a series: kept once per series (see Interner.shared). */
const COMMON_TAGS: ReadonlySet<Tag> = (() => {
  const tags = new Set<Tag>([T.SpecificCharacterSet, T.PatientBirthDate, T.PatientSex, T.StudyInstanceUID, T.SeriesInstanceUID, T.SeriesDate, T.SeriesTime]);
  for (const level of ['PATIENT', 'STUDY', 'SERIES']) for (const key of RECORD_KEYS[level] ?? []) tags.add(key.tag);
  for (const p of PROFILES) for (const key of [...p.extraKeys.patient, ...p.extraKeys.series]) tags.add(key.tag);
  return tags;
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

function identifying(el: Element): boolean {
  return !(tagGroup(el.tag) === 0x0002 || tagElement(el.tag) === 0x0000 || tagGroup(el.tag) === 0x7fe0 || ENCODING_TAGS.has(el.tag));
}

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
    if (!identifying(el)) continue;
    out.set(el.tag, digestElement(el, ds));
  }
  return out;
}

/**
 * One digest standing for all of `attributeDigests(ds)`: each attribute in tag order, framed (tag,
 * kind, length), with what its own digest would hash (its value bytes; for a sequence, its digest).
 * Equal header digests mean equal attribute digests; unequal ones are then compared one by one.
 */
export function headerDigest(ds: DataSet): string {
  const h = createHash('sha256');
  const frame = Buffer.alloc(9);
  for (const input of ds.sorted()) {
    if (!identifying(input)) continue;
    const el = ds.syntax.littleEndian ? resolveUnknownVR(input, ds) : input;
    let kind: number;
    let bytes: Buffer;
    if (el.items && el.items.length > 0) {
      kind = 0x49; // I
      bytes = Buffer.from(digestElement(input, ds), 'latin1');
    } else if (el.items) {
      kind = 0x56; // V: an empty sequence digests as an empty value does
      bytes = Buffer.alloc(0);
    } else if (el.bulk) {
      kind = 0x42; // B
      bytes = Buffer.from(`bulk:${el.length ?? 0}`, 'latin1');
    } else {
      kind = 0x56; // V
      bytes = el.value ? trimPadding(littleEndianValue(el, ds.syntax) as Buffer, el.vr) : Buffer.alloc(0);
    }
    frame.writeUInt32LE(el.tag >>> 0, 0);
    frame[4] = kind;
    frame.writeUInt32LE(bytes.length, 5);
    h.update(frame);
    h.update(bytes);
  }
  // 128 bits as a string of its own (a slice of the full digest's string would keep that alive).
  return h.digest().toString('base64', 0, 16);
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

export interface ScanOptions {
  /** Keep a digest per attribute (`ScannedInstance.digests`); true by default. */
  readonly attributeDigests?: boolean;
  /** Shares equal strings with the other instances of the same scan. */
  readonly interner?: Interner;
  /** Open and read the file's first bytes with blocking calls (see ReadHeaderOptions.blockingOpen). */
  readonly blockingOpen?: boolean;
  /** A buffer to read the file's first bytes into (see ReadHeaderOptions.scratch). */
  readonly scratch?: Buffer;
}

export async function scanFile(path: string, options: ScanOptions = {}): Promise<ScanResult> {
  const intern = options.interner ?? new Interner();
  let header;
  try {
    header = await readPart10File(path, { ...(options.blockingOpen ? { blockingOpen: true } : {}), ...(options.scratch ? { scratch: options.scratch } : {}) });
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
    // Values not in memory cannot be copied into a record (a hostile header's huge or fragmented key).
    if (!KEPT_TAGS.has(el.tag) || el.bulk || el.fragments) continue;
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
  const patientId = text(T.PatientID);
  const patient = intern.patient({
    ...(patientId ? { id: patientId } : {}),
    name: ds.string(T.PatientName)?.trim() ?? '',
    birthDate: text(T.PatientBirthDate) ?? '',
    sex: text(T.PatientSex) ?? '',
  });
  // Patient, study and series keys apart from the instance's own: the former are the same for a whole series.
  const common = new DataSet(ELE);
  const own = new DataSet(ELE);
  for (const el of keys.elements.values()) (COMMON_TAGS.has(el.tag) ? common : own).set(el);
  const commonKeys = options.interner ? intern.shared(encodeKeys(common)) : encodeKeys(common);
  const encoded = encodeKeys(own);
  // A scan of one file keeps its keys in a buffer of their own; scanFiles shares slabs.
  const kept = options.interner ? intern.keep(encoded) : { slab: encoded, start: 0 };
  return {
    kind: 'instance',
    instance: new CompactInstance(
      path,
      header.size,
      header.format,
      header.transferSyntax,
      header.warnings.length === 0 ? NO_WARNINGS : header.warnings,
      intern.string(sopClassUID),
      sopInstanceUID,
      {
        studyInstanceUID: intern.string(uid(ds, T.StudyInstanceUID)),
        seriesInstanceUID: intern.string(uid(ds, T.SeriesInstanceUID)),
        modality: intern.string(text(T.Modality)),
        ...(options.attributeDigests === false ? {} : { digests: attributeDigests(ds) }),
      },
      patient,
      commonKeys,
      kept.slab,
      kept.start,
      kept.start + encoded.length,
      ds.has(T.EncapsulatedDocument),
      header.pixelData !== undefined,
      header.transferSyntax.lossy || text(T.LossyImageCompression) === '01',
      headerDigest(ds),
    ),
  };
}

export interface ScanFilesOptions {
  /**
   * Files in progress at once (reads beyond the first 64 KiB and parsing overlap); 2 by default: the
   * first 64 KiB are read with blocking calls anyway, and every file in flight holds its whole header.
   */
  readonly concurrency?: number;
  /** Called for each file in input order, as soon as it and every file before it are scanned. */
  readonly onScanned?: (index: number, result: ScanResult) => void;
}

/**
 * Scans many files, several at a time, into results in input order. Instances keep one digest of
 * their attributes; where two files share a SOP Instance UID and their digests differ, both are read
 * again for a digest per attribute, so that planning can name what differs. The first error (in
 * input order) that scanFile throws is thrown once every file in flight is done.
 */
export async function scanFiles(paths: readonly string[], options: ScanFilesOptions = {}): Promise<ScanResult[]> {
  const interner = new Interner();
  const results: Array<ScanResult | undefined> = new Array<ScanResult | undefined>(paths.length);
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 2, paths.length));
  let next = 0;
  let emitted = 0;
  const state: { failed?: { index: number; error: unknown } } = {};
  const failedAt = (): number => state.failed?.index ?? Number.POSITIVE_INFINITY;
  const emit = (): void => {
    while (emitted < paths.length && results[emitted] !== undefined && emitted < failedAt()) {
      options.onScanned?.(emitted, results[emitted] as ScanResult);
      emitted++;
    }
  };
  let lastYield = Date.now();
  const worker = async (): Promise<void> => {
    const scratch = Buffer.allocUnsafe(64 * 1024); // one per worker, for every file it reads
    while (failedAt() === Number.POSITIVE_INFINITY && next < paths.length) {
      const index = next++;
      try {
        results[index] = await scanFile(paths[index] as string, { attributeDigests: false, interner, blockingOpen: true, scratch });
      } catch (error) {
        if (index < failedAt()) state.failed = { index, error };
      }
      emit();
      // Files opened with blocking calls and parsed in microtasks: let timers and I/O run now and then.
      if (Date.now() - lastYield > 20) {
        lastYield = Date.now();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (state.failed) throw state.failed.error;
  const scans = results as ScanResult[];
  await describeDuplicates(scans, interner);
  return scans;
}

/** Reads again, with a digest per attribute, the instances that share a SOP Instance UID with an instance of another digest. */
async function describeDuplicates(scans: ScanResult[], interner: Interner): Promise<void> {
  const bySop = new Map<string, number | number[]>();
  scans.forEach((r, index) => {
    if (r.kind !== 'instance') return;
    const known = bySop.get(r.instance.sopInstanceUID);
    if (known === undefined) bySop.set(r.instance.sopInstanceUID, index);
    else if (Array.isArray(known)) known.push(index);
    else bySop.set(r.instance.sopInstanceUID, [known, index]);
  });
  for (const entry of bySop.values()) {
    if (!Array.isArray(entry)) continue;
    const digests = new Set(entry.map((i) => (scans[i] as { instance: ScannedInstance }).instance.digest));
    if (digests.size === 1) continue;
    for (const i of entry) {
      const again = await scanFile((scans[i] as { instance: ScannedInstance }).instance.path, { interner }).catch(() => undefined);
      // A file that changed or vanished since keeps its first scan: the plan then reports the conflict without names.
      if (again?.kind === 'instance' && again.instance.digest === (scans[i] as { instance: ScannedInstance }).instance.digest) scans[i] = again;
    }
  }
}
