/**
 * DICOMDIR decoder, PS3.3 Annex F (Basic Directory IOD) in a PS3.10 §8.6 file: the mirror of
 * encode.ts. The record tree is built by FOLLOWING THE OFFSETS — (0004,1200) to the first record of
 * the root directory entity, (0004,1400) to the next record of the same entity, (0004,1420) to the
 * first record of the lower-level entity (PS3.3 F.3.2.1) — never from the order of the items, which
 * the standard does not fix and real writers do not keep.
 *
 * Input is hostile. Offsets that lead outside the file, into the middle of a record or round in a
 * circle leave no tree to trust: they throw (DICOMDIR_OFFSET, DICOMDIR_LOOP). Everything else a
 * reader can cope with is reported as a finding — data, not an exception — and decoding goes on.
 * Work is bounded: each record is visited at most once (the visited set is the loop detector), and
 * there are no more records than items the Part 10 reader parsed under its own limits. The tree is
 * at most MAX_DIRECTORY_DEPTH levels deep: everything that reads it (walkRecords, verify's
 * comparison) recurses, and a chain of lower-level offsets 10 000 records deep would overflow the
 * stack there (found by the dicomdir fuzz target's pointer edits).
 */
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';
import { DataSet, type Element } from '../dataset.js';
import { checkFileId, parseFileId } from '../file-id.js';
import { readPart10Header } from '../part10/header.js';
import { DEFAULT_LIMITS, type ReadLimits } from '../part10/parser.js';
import { formatTag, tagElement, tagGroup, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, transferSyntaxName } from '../transfer-syntax.js';
import { MEDIA_STORAGE_DIRECTORY_SOP_CLASS, type DirectoryRecord, type FileSet } from './model.js';
import { KNOWN_RECORD_TYPES } from './record-types.js';

export type FindingSeverity = 'error' | 'warning' | 'info';

export interface DirectoryFinding {
  code: string;
  severity: FindingSeverity;
  message: string;
  /** File offset: of the record's Item tag for record findings, of the element otherwise. */
  offset?: number;
  recordType?: string;
}

export interface DecodedDicomdir {
  fileSet: FileSet;
  findings: DirectoryFinding[];
  /** The transfer syntax the data set was read with (after the reader's correction, if any). */
  transferSyntaxUID: string;
}

/**
 * The findings of the decoder, each with its severity. Severity says what the problem costs:
 * `error` — the DICOMDIR breaks a rule of PS3.3 Annex F or PS3.10 §8 that readers rely on, and
 * records may be lost or misplaced for a conformant reader; `warning` — not as the standard says,
 * but read without loss; `info` — legal, worth knowing. Besides these, the Part 10 reader's own
 * warnings (ITEM_LENGTH, TAG_ORDER, TRANSFER_SYNTAX_MISMATCH...) are passed on as `warning`
 * findings under their own codes.
 */
export const DIRECTORY_FINDINGS = {
  DICOMDIR_TRANSFER_SYNTAX: { severity: 'error', summary: 'The DICOMDIR is not encoded in Explicit VR Little Endian (PS3.10 §8.6).' },
  DICOMDIR_SOP_CLASS: { severity: 'error', summary: 'Media Storage SOP Class UID is not Media Storage Directory Storage 1.2.840.10008.1.3.10.' },
  DICOMDIR_CONSISTENCY_FLAG: { severity: 'error', summary: 'File-set Consistency Flag (0004,1212) is missing or not 0000H.' },
  DICOMDIR_EMPTY: { severity: 'warning', summary: 'The Directory Record Sequence has no records: the File-set is empty.' },
  DICOMDIR_OFFSET_MISSING: { severity: 'warning', summary: 'An offset attribute (0004,1200), (0004,1202), (0004,1400) or (0004,1420) is missing; read as 0.' },
  DICOMDIR_LAST_OFFSET: { severity: 'warning', summary: 'Offset of the Last Directory Record of the Root Directory Entity (0004,1202) is not the last root record.' },
  DICOMDIR_RECORD_ORDER: { severity: 'info', summary: 'Records are not stored in hierarchy order; the offsets were followed.' },
  DICOMDIR_RECORD_TYPE_INVALID: { severity: 'error', summary: 'Directory Record Type (0004,1430) is missing, empty or not a code string.' },
  DICOMDIR_RECORD_TYPE_UNKNOWN: { severity: 'warning', summary: 'Directory Record Type is not a Defined Term of PS3.3 Table F.4-1 known here; readers ignore such records.' },
  DICOMDIR_RECORD_TYPE_RETIRED: { severity: 'warning', summary: 'Directory Record Type is retired (TOPIC, VISIT, MRDR, print records...).' },
  DICOMDIR_HIERARCHY: { severity: 'error', summary: 'A record sits where PS3.3 Table F.4-1 does not allow its type (e.g. IMAGE in the root, SERIES under PATIENT).' },
  DICOMDIR_UNREACHABLE: { severity: 'error', summary: 'Records of the Directory Record Sequence cannot be reached from the root by the offsets.' },
  DICOMDIR_INACTIVE: { severity: 'info', summary: 'Record In-use Flag is 0000H: the record and the records below it were skipped.' },
  DICOMDIR_IN_USE_FLAG: { severity: 'warning', summary: 'Record In-use Flag (0004,1410) is neither FFFFH nor 0000H; read as in use.' },
  DICOMDIR_FILE_ID: { severity: 'error', summary: 'A Referenced File ID or File-set Descriptor File ID does not follow PS3.10 §8.2.' },
  DICOMDIR_REFERENCED_UID_MISSING: { severity: 'warning', summary: 'An instance-level record with a Referenced File ID lacks Referenced SOP Class, SOP Instance or Transfer Syntax UID in File.' },
  DICOMDIR_RECORD_ELEMENT_IGNORED: { severity: 'warning', summary: 'A record holds elements below group 0008 that are not directory record attributes; they were dropped.' },
} as const satisfies Record<string, { severity: FindingSeverity; summary: string }>;

export type DirectoryFindingCode = keyof typeof DIRECTORY_FINDINGS;

// ---- PS3.3 Table F.4-1: which record types may be in which directory entity -----------------------

/** Records of the root directory entity (besides retired TOPIC and PRINT QUEUE). */
const TOP_LEVEL = ['PATIENT', 'HANGING PROTOCOL', 'PALETTE', 'IMPLANT', 'IMPLANT ASSY', 'IMPLANT GROUP', 'PRIVATE'] as const;

/** Records of the entity below a SERIES record: those that reference a composite instance. */
const SERIES_LEVEL = [
  'IMAGE', 'RT DOSE', 'RT STRUCTURE SET', 'RT PLAN', 'RT TREAT RECORD', 'PRESENTATION', 'WAVEFORM', 'SR DOCUMENT',
  'KEY OBJECT DOC', 'SPECTROSCOPY', 'RAW DATA', 'REGISTRATION', 'FIDUCIAL', 'ENCAP DOC', 'VALUE MAP', 'STEREOMETRIC',
  'PLAN', 'MEASUREMENT', 'SURFACE', 'SURFACE SCAN', 'TRACT', 'ASSESSMENT', 'RADIOTHERAPY',
] as const;

/** Retired record types: still read, reported. HL7 STRUC DOC was retired with the HL7 CDA records. */
const RETIRED = new Set([
  'TOPIC', 'PRINT QUEUE', 'VISIT', 'RESULTS', 'INTERPRETATION', 'STUDY COMPONENT', 'FILM SESSION', 'FILM BOX',
  'IMAGE BOX', 'CURVE', 'OVERLAY', 'MODALITY LUT', 'VOI LUT', 'STORED PRINT', 'MRDR', 'HL7 STRUC DOC',
]);

/** The parent of the root directory entity, for the table below. */
const ROOT = '(root)';

/** Allowed lower-level record types per record type; every type not listed may hold PRIVATE only. */
const LOWER_LEVEL: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  [ROOT, new Set<string>([...TOP_LEVEL, 'TOPIC', 'PRINT QUEUE'])],
  ['PATIENT', new Set(['STUDY', 'HL7 STRUC DOC', 'PRIVATE'])],
  ['STUDY', new Set(['SERIES', 'VISIT', 'RESULTS', 'STUDY COMPONENT', 'FILM SESSION', 'PRIVATE'])],
  ['SERIES', new Set<string>([...SERIES_LEVEL, 'CURVE', 'OVERLAY', 'MODALITY LUT', 'VOI LUT', 'STORED PRINT', 'PRIVATE'])],
  ['TOPIC', new Set<string>(['STUDY', 'SERIES', 'FILM SESSION', ...SERIES_LEVEL, 'CURVE', 'OVERLAY', 'MODALITY LUT', 'VOI LUT', 'PRIVATE'])],
  ['PRINT QUEUE', new Set(['FILM SESSION', 'PRIVATE'])],
  ['FILM SESSION', new Set(['FILM BOX', 'PRIVATE'])],
  ['FILM BOX', new Set(['IMAGE BOX', 'PRIVATE'])],
  ['RESULTS', new Set(['INTERPRETATION', 'PRIVATE'])],
  ['MRDR', new Set<string>()], // a multi-referenced file record is pointed at, never a parent
]);
const PRIVATE_ONLY: ReadonlySet<string> = new Set(['PRIVATE']);
const NOT_INSTANCE_LEVEL: ReadonlySet<string> = new Set(['PATIENT', 'STUDY', 'SERIES', 'PRIVATE']);

/** Types whose place in the hierarchy the table above gives. */
const PLACED_TYPES: ReadonlySet<string> = new Set([...TOP_LEVEL, ...SERIES_LEVEL, 'STUDY', 'SERIES', ...RETIRED]);

/**
 * Types a reader should know: the placed ones and those the record builder knows (newer editions'
 * ANNOTATION, INVENTORY...). A known type whose place is not in the table is not judged.
 */
const KNOWN_TYPES: ReadonlySet<string> = new Set([...PLACED_TYPES, ...KNOWN_RECORD_TYPES]);

/** A Code String value: upper-case letters, digits, space and underscore, at most 16 (PS3.5 §6.2). */
const CODE_STRING = /^[A-Z0-9_ ]{1,16}$/;

/** Group-0004 attributes of a directory record (PS3.3 Table F.3-3) that the model carries. */
const RECORD_ATTRIBUTES: ReadonlySet<Tag> = new Set([
  T.OffsetOfTheNextDirectoryRecord,
  T.RecordInUseFlag,
  T.OffsetOfReferencedLowerLevelDirectoryEntity,
  T.DirectoryRecordType,
  T.PrivateRecordUID,
  T.ReferencedFileID,
  T.ReferencedSOPClassUIDInFile,
  T.ReferencedSOPInstanceUIDInFile,
  T.ReferencedTransferSyntaxUIDInFile,
  T.ReferencedRelatedGeneralSOPClassUIDInFile,
]);

// ---- decoding -------------------------------------------------------------------------------------

/** Where a pointer came from, for messages and error data. */
interface Pointer {
  readonly what: string;
  /** File offset of the offset element, when it is present. */
  readonly at: number | undefined;
}

/** A directory entity being walked: its records are reached one by one through their next offsets. */
interface Entity {
  readonly parentType: string;
  /** Where the records go; undefined inside an inactive record (walked, not kept). */
  readonly into: DirectoryRecord[] | undefined;
  /** The inactive record this entity lies under, if any. */
  readonly inactive: InactiveRecord | undefined;
  next: number;
  from: Pointer;
}

interface InactiveRecord {
  readonly offset: number;
  readonly type: string;
  below: number;
}

interface RecordFields {
  readonly type: string;
  readonly inUse: boolean;
  readonly next: number;
  readonly nextAt: number | undefined;
  readonly lower: number;
  readonly lowerAt: number | undefined;
  readonly fileId: string[] | undefined;
}

function describe(type: string, offset: number): string {
  return `${type || 'untyped'} record at ${offset}`;
}

class Decoder {
  readonly findings: DirectoryFinding[] = [];

  constructor(private readonly name: string) {}

  add(code: DirectoryFindingCode, message: string, where: { offset?: number | undefined; recordType?: string | undefined } = {}): void {
    this.findings.push({
      code,
      severity: DIRECTORY_FINDINGS[code].severity,
      message,
      ...(where.offset === undefined ? {} : { offset: where.offset }),
      ...(where.recordType === undefined ? {} : { recordType: where.recordType }),
    });
  }

  /** An offset value; a missing attribute counts as 0 ("none") and is a finding. */
  offset(ds: DataSet, tag: Tag, owner: string, recordType?: string): { value: number; at: number | undefined } {
    const el = ds.get(tag);
    const value = ds.uint32(tag);
    if (value === undefined) {
      this.add('DICOMDIR_OFFSET_MISSING', `${owner} has no usable ${formatTag(tag)}${el ? ' value' : ''}; read as 0`, { offset: el?.offset ?? ds.offset, recordType });
      return { value: 0, at: el?.offset };
    }
    return { value, at: el?.offset };
  }

  /** Reads a record's group-0004 fields, checking what can be checked of the record alone. */
  fields(item: DataSet): RecordFields {
    const offset = item.offset;
    const typeEl = item.get(T.DirectoryRecordType);
    const type = item.text(T.DirectoryRecordType) ?? '';
    if (!typeEl || !CODE_STRING.test(type)) {
      this.add('DICOMDIR_RECORD_TYPE_INVALID', `${describe(type, offset)}: Directory Record Type is ${typeEl ? `"${type}", not a code string` : 'missing'}`, { offset, recordType: type });
    } else if (!KNOWN_TYPES.has(type)) {
      this.add('DICOMDIR_RECORD_TYPE_UNKNOWN', `${describe(type, offset)}: "${type}" is not a Directory Record Type of PS3.3 Table F.4-1`, { offset, recordType: type });
    } else if (RETIRED.has(type)) {
      this.add('DICOMDIR_RECORD_TYPE_RETIRED', `${describe(type, offset)}: the record type ${type} is retired`, { offset, recordType: type });
    }
    const flag = item.uint16(T.RecordInUseFlag);
    if (flag !== undefined && flag !== 0xffff && flag !== 0x0000) {
      this.add('DICOMDIR_IN_USE_FLAG', `${describe(type, offset)}: Record In-use Flag is ${flag.toString(16).toUpperCase().padStart(4, '0')}H; read as in use`, { offset, recordType: type });
    }
    const ignored = [...item.elements.values()].filter((el) => tagGroup(el.tag) < 0x0008 && !RECORD_ATTRIBUTES.has(el.tag) && tagElement(el.tag) !== 0x0000);
    if (ignored.length > 0) {
      this.add('DICOMDIR_RECORD_ELEMENT_IGNORED', `${describe(type, offset)}: ${ignored.map((el) => formatTag(el.tag)).join(', ')} not directory record attributes, dropped`, { offset, recordType: type });
    }
    const fileId = this.fileId(item, T.ReferencedFileID, describe(type, offset), type);
    // PATIENT, STUDY and SERIES records may carry a File ID (legal, if unusual), and PRIVATE records
    // may reference files that are not SOP Instances: only the instance-level records must say
    // which SOP Instance they reference (PS3.3 Table F.3-3, Type 1C).
    if (fileId && !NOT_INSTANCE_LEVEL.has(type)) {
      const missing = [T.ReferencedSOPClassUIDInFile, T.ReferencedSOPInstanceUIDInFile, T.ReferencedTransferSyntaxUIDInFile].filter((t) => !item.text(t));
      if (missing.length > 0) {
        this.add('DICOMDIR_REFERENCED_UID_MISSING', `${describe(type, offset)} references ${fileId.join('\\')} without ${missing.map(formatTag).join(', ')}`, { offset, recordType: type });
      }
    }
    const owner = describe(type, offset);
    const next = this.offset(item, T.OffsetOfTheNextDirectoryRecord, owner, type);
    const lower = this.offset(item, T.OffsetOfReferencedLowerLevelDirectoryEntity, owner, type);
    return { type, inUse: flag !== 0x0000, next: next.value, nextAt: next.at, lower: lower.value, lowerAt: lower.at, fileId };
  }

  /** A File ID attribute as components, checked against PS3.10 §8.2; undefined if absent. */
  fileId(ds: DataSet, tag: Tag, owner: string, recordType?: string): string[] | undefined {
    const el = ds.get(tag);
    if (!el) return undefined;
    const text = ds.string(tag) ?? '';
    const components = text.trim() === '' ? [] : parseFileId(text);
    const problem = checkFileId(components);
    if (problem) {
      this.add('DICOMDIR_FILE_ID', `${owner}: ${formatTag(tag)} "${components.join('\\')}" is not a conformant File ID (${problem})`, {
        offset: recordType === undefined ? el.offset : ds.offset,
        recordType,
      });
    }
    return components;
  }

  /** The record at an offset, or the error that makes the directory unusable. */
  resolve(offset: number, from: Pointer, records: ReadonlyMap<number, DataSet>, visited: ReadonlySet<number>, size: number): DataSet {
    const item = records.get(offset);
    const data = { file: this.name, ...(from.at === undefined ? {} : { offset: from.at }), target: offset, pointer: from.what };
    if (!item) {
      const where = offset >= size ? `past the end of the file (${size} bytes)` : 'not at the Item tag of a directory record';
      throw new DcmsafeError('DICOMDIR_OFFSET', `${this.name}: ${from.what} points at ${offset}, ${where}`, data);
    }
    if (visited.has(offset)) {
      throw new DcmsafeError('DICOMDIR_LOOP', `${this.name}: ${from.what} points back at the ${describe(item.text(T.DirectoryRecordType) ?? '', offset)}, already reached: the offsets form a loop`, data);
    }
    return item;
  }
}

/**
 * What a record's keys need of the top-level data set: its Specific Character Set, which the records
 * inherit, and nothing else. Pointing the keys at the data set itself kept the whole parsed
 * Directory Record Sequence alive (every item, with its group 0004 elements) as long as the tree:
 * on a medium of 3 000 instances, megabytes the verifier held through its whole run.
 */
function charsetScope(ds: DataSet): DataSet | undefined {
  const charset = ds.get(T.SpecificCharacterSet);
  if (!charset) return undefined;
  const scope = new DataSet(ds.syntax);
  scope.set(charset);
  return scope;
}

function record(item: DataSet, f: RecordFields, scope: DataSet | undefined): DirectoryRecord {
  // The keys keep the item's syntax and the Specific Character Set in effect above it (see
  // charsetScope), so that text decodes as in the item (the record's own set, or the inherited one).
  const keys = new DataSet(item.syntax, scope, item.offset);
  for (const el of item.elements.values()) if (tagGroup(el.tag) >= 0x0008) keys.set(el);
  const text = (tag: Tag): string | undefined => item.text(tag);
  const related = item.strings(T.ReferencedRelatedGeneralSOPClassUIDInFile).filter((s) => s !== '');
  const privateRecordUID = text(T.PrivateRecordUID);
  const sopClassUID = text(T.ReferencedSOPClassUIDInFile);
  const sopInstanceUID = text(T.ReferencedSOPInstanceUIDInFile);
  const transferSyntaxUID = text(T.ReferencedTransferSyntaxUIDInFile);
  return {
    type: f.type,
    keys,
    ...(f.fileId ? { fileId: f.fileId } : {}),
    ...(sopClassUID ? { sopClassUID } : {}),
    ...(sopInstanceUID ? { sopInstanceUID } : {}),
    ...(transferSyntaxUID ? { transferSyntaxUID } : {}),
    ...(related.length > 0 ? { relatedGeneralSOPClassUIDs: related } : {}),
    ...(privateRecordUID ? { privateRecordUID } : {}),
    inUse: f.inUse,
    children: [],
    offset: item.offset,
  };
}

/** Reads a DICOMDIR: its File-set, and what is wrong with it as findings. */
/**
 * Element limit for directories: a DICOMDIR of 200 000 instances has about 2 million elements. The
 * parsed model costs roughly 200 bytes an element, so this bounds memory near 500 MB.
 */
export const DICOMDIR_LIMITS: ReadLimits = { ...DEFAULT_LIMITS, maxElements: 2_500_000 };

/**
 * Directory levels below the root entity a DICOMDIR may have. PS3.3 Table F.4-1 nests at most five
 * (TOPIC or PATIENT, STUDY, SERIES, a leaf, PRIVATE below it); deeper trees are refused, not read.
 */
export const MAX_DIRECTORY_DEPTH = 32;

export async function decodeDicomdir(reader: RandomAccessReader, limits: ReadLimits = DICOMDIR_LIMITS): Promise<DecodedDicomdir> {
  const name = reader.name;
  const header = await readPart10Header(reader, { stopAtPixelData: false, limits });
  const d = new Decoder(name);
  for (const w of header.warnings) {
    d.findings.push({ code: w.code, severity: 'warning', message: w.message, ...(w.offset === undefined ? {} : { offset: w.offset }) });
  }
  const ds = header.dataSet;
  const sequence: Element | undefined = ds.get(T.DirectoryRecordSequence);
  if (!sequence?.items) {
    const why = sequence ? `(0004,1220) is ${sequence.vr}, not a sequence` : 'no Directory Record Sequence (0004,1220)';
    throw new DcmsafeError('DICOMDIR_INVALID', `${name}: not a Basic Directory: ${why}`, { file: name, ...(sequence ? { offset: sequence.offset } : {}) });
  }

  // The file as a whole (PS3.10 §8.6, PS3.3 F.3-2 and F.3-3).
  const tsUID = header.transferSyntax.uid;
  if (tsUID !== EXPLICIT_VR_LITTLE_ENDIAN) {
    d.add('DICOMDIR_TRANSFER_SYNTAX', `the DICOMDIR is encoded in ${transferSyntaxName(tsUID)} (${tsUID}); a DICOMDIR must be Explicit VR Little Endian`, { offset: header.dataSetOffset });
  }
  const sopClass = header.meta?.text(T.MediaStorageSOPClassUID);
  if (sopClass !== MEDIA_STORAGE_DIRECTORY_SOP_CLASS) {
    d.add('DICOMDIR_SOP_CLASS', sopClass ? `Media Storage SOP Class UID is ${sopClass}, not Media Storage Directory Storage ${MEDIA_STORAGE_DIRECTORY_SOP_CLASS}` : 'no Media Storage SOP Class UID', {
      offset: header.meta?.get(T.MediaStorageSOPClassUID)?.offset ?? 0,
    });
  }
  const flag = ds.uint16(T.FileSetConsistencyFlag);
  if (flag !== 0x0000) {
    d.add('DICOMDIR_CONSISTENCY_FLAG', flag === undefined ? 'File-set Consistency Flag (0004,1212) is missing' : `File-set Consistency Flag is ${flag.toString(16).toUpperCase().padStart(4, '0')}H, not 0000H`, {
      offset: ds.get(T.FileSetConsistencyFlag)?.offset,
    });
  }
  const descriptorFileId = d.fileId(ds, T.FileSetDescriptorFileID, 'File-set Descriptor File ID');
  const descriptorCharset = ds.text(T.SpecificCharacterSetOfFileSetDescriptorFile);

  const items = sequence.items;
  if (items.length === 0) d.add('DICOMDIR_EMPTY', 'the Directory Record Sequence has no records', { offset: sequence.offset });
  const records = new Map<number, DataSet>();
  for (const item of items) records.set(item.offset, item);
  const scope = charsetScope(ds);

  const first = d.offset(ds, T.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity, 'the File-set');
  const last = d.offset(ds, T.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity, 'the File-set');

  // The walk: depth first, parents before children — the order the encoder lays records out in.
  const roots: DirectoryRecord[] = [];
  const visited = new Set<number>();
  const order: number[] = [];
  const inactive: InactiveRecord[] = [];
  let lastRoot = 0;
  const stack: Entity[] = [{ parentType: ROOT, into: roots, inactive: undefined, next: first.value, from: { what: '(0004,1200)', at: first.at } }];
  const typeOf = new Map<number, RecordFields>();
  // `levels` entities are open (the root's included): the record at `offset` would open one more.
  const checkDepth = (levels: number, offset: number): void => {
    if (levels < MAX_DIRECTORY_DEPTH) return;
    throw new DcmsafeError('DICOMDIR_INVALID', `${name}: the records nest more than ${MAX_DIRECTORY_DEPTH} levels deep (at the record at ${offset}): not a Basic Directory a reader can walk`, {
      file: name,
      offset,
      depth: levels + 1,
    });
  };
  while (stack.length > 0) {
    const entity = stack[stack.length - 1] as Entity;
    if (entity.next === 0) {
      stack.pop();
      continue;
    }
    const offset = entity.next;
    const item = d.resolve(offset, entity.from, records, visited, reader.size);
    visited.add(offset);
    order.push(offset);
    if (stack.length === 1) lastRoot = offset;
    const f = d.fields(item);
    typeOf.set(offset, f);
    const here = describe(f.type, offset);
    entity.next = f.next;
    entity.from = { what: `(0004,1400) of the ${here}`, at: f.nextAt };
    const lowerFrom: Pointer = { what: `(0004,1420) of the ${here}`, at: f.lowerAt };

    if (entity.into && f.inUse) {
      // Only types whose place Table F.4-1 gives are judged; unknown types were reported already.
      if ((entity.parentType === ROOT || PLACED_TYPES.has(entity.parentType)) && PLACED_TYPES.has(f.type)) {
        const allowed = LOWER_LEVEL.get(entity.parentType) ?? PRIVATE_ONLY;
        if (!allowed.has(f.type)) {
          const place = entity.parentType === ROOT ? 'the root directory entity' : `the directory entity of a ${entity.parentType} record`;
          d.add('DICOMDIR_HIERARCHY', `${here} is in ${place}, where PS3.3 Table F.4-1 allows ${[...allowed].filter((t) => !RETIRED.has(t)).join(', ') || 'no records'}`, { offset, recordType: f.type });
        }
      }
      const r = record(item, f, scope);
      entity.into.push(r);
      if (f.lower !== 0) checkDepth(stack.length, offset);
      stack.push({ parentType: f.type, into: r.children, inactive: undefined, next: f.lower, from: lowerFrom });
    } else {
      // Inactive (PS3.3 F.3.2.2: in-use 0000H): walked so that its offsets are checked and its
      // records are not reported unreachable, but neither it nor anything below it is kept.
      let under = entity.inactive;
      if (under) under.below++;
      else {
        under = { offset, type: f.type, below: 0 };
        inactive.push(under);
      }
      if (f.lower !== 0) checkDepth(stack.length, offset);
      stack.push({ parentType: f.type, into: undefined, inactive: under, next: f.lower, from: lowerFrom });
    }
  }
  for (const r of inactive) {
    d.add('DICOMDIR_INACTIVE', `${describe(r.type, r.offset)} is inactive (Record In-use Flag 0000H); skipped with the ${r.below} record(s) below it`, { offset: r.offset, recordType: r.type });
  }

  // Records no offset leads to: still checked one by one, then reported together.
  const unreachable = items.filter((item) => !visited.has(item.offset));
  if (unreachable.length > 0) {
    let withFiles = 0;
    for (const item of unreachable) {
      d.fields(item);
      if (item.has(T.ReferencedFileID)) withFiles++;
    }
    const firstOne = unreachable[0] as DataSet;
    const shown = unreachable.slice(0, 10).map((item) => describe(item.text(T.DirectoryRecordType) ?? '', item.offset));
    d.add(
      'DICOMDIR_UNREACHABLE',
      `${unreachable.length} of ${items.length} records cannot be reached from the root directory entity by the offsets` +
        `${withFiles > 0 ? ` (${withFiles} of them reference files a reader will not find)` : ''}: ${shown.join('; ')}${unreachable.length > shown.length ? '; ...' : ''}`,
      { offset: firstOne.offset, recordType: firstOne.text(T.DirectoryRecordType) ?? '' },
    );
  }

  // Stored out of hierarchy order: legal (the offsets say where each record is), but unusual.
  const outOfOrder = order.findIndex((o, i) => i > 0 && o < (order[i - 1] as number));
  if (outOfOrder > 0) {
    const o = order[outOfOrder] as number;
    const prev = order[outOfOrder - 1] as number;
    d.add(
      'DICOMDIR_RECORD_ORDER',
      `records are not stored in hierarchy order: the ${describe(typeOf.get(o)?.type ?? '', o)} comes after the ${describe(typeOf.get(prev)?.type ?? '', prev)} in the hierarchy but before it in the file; the offsets were followed`,
      { offset: o, recordType: typeOf.get(o)?.type },
    );
  }

  if (last.at !== undefined && last.value !== lastRoot) {
    d.add('DICOMDIR_LAST_OFFSET', `(0004,1202) says the last root record is at ${last.value}, following the offsets it is at ${lastRoot}`, { offset: last.at });
  }

  const fileSet: FileSet = {
    fileSetId: ds.text(T.FileSetID) ?? '',
    fileSetUID: header.meta?.text(T.MediaStorageSOPInstanceUID) ?? '',
    ...(descriptorFileId ? { descriptorFileId } : {}),
    ...(descriptorCharset ? { descriptorCharset } : {}),
    roots,
  };
  return { fileSet, findings: d.findings, transferSyntaxUID: tsUID };
}
