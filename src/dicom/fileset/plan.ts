/**
 * Planning a File-set (PS3.10 §8, PS3.11 D.3/H.3/J.3, PS3.3 Annex F): which instances go on the
 * media, under which File IDs, in which form, and the DICOMDIR that indexes them. Pure: scanned
 * headers in, plan out; nothing is written here.
 *
 * Safety rules (a wrong-patient disc is the worst outcome):
 * - one PATIENT record per Patient ID; one Patient ID with different names or birth dates is an
 *   error unless explicitly allowed;
 * - one STUDY record per Study Instance UID and one SERIES record per Series Instance UID: a study or
 *   series that appears under two patients or studies is an error;
 * - files sharing a SOP Instance UID are one instance if their attributes agree apart from the
 *   pixel encoding; otherwise it is an error.
 */
import { createHash } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { Clock } from '../../util/clock.js';
import { dicomDate, dicomTime } from '../../util/clock.js';
import { keywordOf } from '../dictionary.js';
import { buildRecordKeys, newRecordReport, normalizeDate, normalizeTime, type RecordReport } from '../dicomdir/build-records.js';
import type { DirectoryRecord, FileSet } from '../dicomdir/model.js';
import type { DataSet } from '../dataset.js';
import { RECORD_KEYS, recordTypeFor, type RecordKey } from '../dicomdir/record-types.js';
import { FileIdAllocator } from '../file-id.js';
import { profileAllows, profilesAllowing, type ApplicationProfile } from '../profiles/profiles.js';
import type { Tag } from '../tag.js';
import { T } from '../tags.js';
import { chooseKind, metaProblems, type TranscodeKind } from '../transcode/transcode.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, transferSyntaxName } from '../transfer-syntax.js';
import type { ScannedInstance, ScanResult, SkippedInput, UnreadableInput } from './scan.js';

export interface PlanOptions {
  readonly profile: ApplicationProfile;
  readonly fileSetId: string;
  readonly fileSetUID: string;
  readonly clock: Clock;
  /** Accept one Patient ID with different names or birth dates (merged under the first). */
  readonly allowPatientMismatch?: boolean;
  /** Leave unreadable DICOM files out (listed) instead of refusing to build the File-set. */
  readonly skipUnreadable?: boolean;
  /** Keep files where they are (verify --extract): the File ID of an instance, instead of a new one. */
  readonly fileIdFor?: (instance: ScannedInstance) => string[] | undefined;
  /** Index files in whatever transfer syntax they have (verify --extract copies, never converts). */
  readonly acceptAnyTransferSyntax?: boolean;
}

export interface PlannedInstance {
  readonly instance: ScannedInstance;
  readonly fileId: readonly string[];
  readonly kind: TranscodeKind;
  /** Why the file is not copied as it is. */
  readonly reason?: string;
  readonly recordType: string;
  readonly outputTransferSyntaxUID: string;
}

export interface MergedInstance {
  readonly sopInstanceUID: string;
  readonly kept: string;
  readonly dropped: readonly string[];
}

export interface GeneratedPatientId {
  readonly patientId: string;
  readonly name: string;
  readonly birthDate: string;
  readonly files: number;
}

export interface PatientMismatch {
  readonly patientId: string;
  readonly variants: ReadonlyArray<{ readonly name: string; readonly birthDate: string; readonly files: readonly string[] }>;
}

export interface FileSetPlan {
  readonly fileSet: FileSet;
  readonly instances: readonly PlannedInstance[];
  readonly merged: readonly MergedInstance[];
  readonly generatedPatientIds: readonly GeneratedPatientId[];
  readonly patientMismatches: readonly PatientMismatch[];
  readonly skipped: readonly SkippedInput[];
  readonly unreadable: readonly UnreadableInput[];
  readonly records: RecordReport;
  /** Instances whose SOP class is not in our table; placed under an IMAGE record. */
  readonly unknownSopClasses: ReadonlyArray<{ readonly path: string; readonly sopClassUID: string }>;
}

// ---- grouping ---------------------------------------------------------------------------------

interface SeriesGroup {
  readonly uid: string;
  readonly instances: PlannedSlot[];
}
interface StudyGroup {
  readonly uid: string;
  readonly series: Map<string, SeriesGroup>;
}
interface PatientGroup {
  readonly id: string;
  readonly generated: boolean;
  readonly studies: Map<string, StudyGroup>;
  readonly first: ScannedInstance;
}
interface PlannedSlot {
  readonly instance: ScannedInstance;
  readonly kind: TranscodeKind;
  readonly reason?: string;
  readonly recordType: string;
}

/** PN values compare without trailing empty components and case-insensitively (DOE^JOHN = Doe^John^^). */
export function patientNameKey(name: string): string {
  return name
    .split('=')
    .map((group) => group.replace(/[\^\s]+$/, ''))
    .join('=')
    .replace(/=+$/, '')
    .trim()
    .toUpperCase();
}

function generatedPatientId(name: string, birthDate: string): string {
  return `DCMSAFE-${createHash('sha256').update(`${patientNameKey(name)}|${birthDate}`).digest('hex').slice(0, 12).toUpperCase()}`;
}

/** An integer string's value; anything else sorts last. */
function numericKey(a: string | undefined): number {
  return a !== undefined && /^[+-]?\d+$/.test(a.trim()) ? Number(a) : Number.POSITIVE_INFINITY;
}

function compareNumbers(na: number, nb: number): number {
  return na === nb ? 0 : na < nb ? -1 : 1;
}

function numericOrder(a: string | undefined, b: string | undefined): number {
  return compareNumbers(numericKey(a), numericKey(b));
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Of several files holding one SOP Instance, the one to keep: as it is if the profile takes it, else lossless, else simplest. */
function rank(s: ScannedInstance, allowed: (ts: string) => boolean): number[] {
  const asIs = allowed(s.transferSyntax.uid) && s.format === 'part10' ? 0 : 1;
  const lossy = s.lossy ? 1 : 0;
  const cost = s.transferSyntax.encapsulated ? 2 : s.transferSyntax.uid === EXPLICIT_VR_LITTLE_ENDIAN ? 0 : 1;
  return [asIs, lossy, cost];
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** Keywords of the attributes two files of one SOP Instance differ in; empty when they agree. */
function disagreement(a: ScannedInstance, b: ScannedInstance): string[] {
  if (a.digest === b.digest) return [];
  // Without a digest per attribute (a file that could not be read again), the difference has no name.
  if (!a.digests || !b.digests) return ['(attributes not compared one by one)'];
  const ad = a.digests;
  const bd = b.digests;
  const tags = new Set<Tag>([...ad.keys(), ...bd.keys()]);
  const differ: string[] = [];
  for (const t of tags) if (ad.get(t) !== bd.get(t)) differ.push(keywordOf(t) ?? `(${(t >>> 16).toString(16)},${(t & 0xffff).toString(16)})`);
  return differ;
}

/** Folds files sharing a SOP Instance UID into one; throws if their attributes disagree. */
function mergeDuplicates(instances: ScannedInstance[], allowed: (ts: string) => boolean): { unique: ScannedInstance[]; merged: MergedInstance[] } {
  // One entry per SOP Instance: the instance, or (rarely) the files sharing it.
  const bySop = new Map<string, ScannedInstance | ScannedInstance[]>();
  for (const s of instances) {
    const known = bySop.get(s.sopInstanceUID);
    if (known === undefined) bySop.set(s.sopInstanceUID, s);
    else if (Array.isArray(known)) known.push(s);
    else bySop.set(s.sopInstanceUID, [known, s]);
  }
  const unique: ScannedInstance[] = [];
  const merged: MergedInstance[] = [];
  const conflicts: Array<{ sop: string; files: string[]; attributes: string[] }> = [];
  for (const [sop, entry] of bySop) {
    if (!Array.isArray(entry)) {
      unique.push(entry as ScannedInstance);
      continue;
    }
    const group = entry as ScannedInstance[];
    group.sort((a, b) => compareRank(rank(a, allowed), rank(b, allowed)) || byString(a.path, b.path));
    const kept = group[0] as ScannedInstance;
    const attributes = new Set<string>();
    for (const other of group.slice(1)) for (const a of disagreement(kept, other)) attributes.add(a);
    if (attributes.size > 0) {
      conflicts.push({ sop, files: group.map((g) => g.path), attributes: [...attributes].sort() });
      continue;
    }
    unique.push(kept);
    merged.push({ sopInstanceUID: sop, kept: kept.path, dropped: group.slice(1).map((g) => g.path) });
  }
  if (conflicts.length > 0) {
    const lines = conflicts.map((c) => `  ${c.sop}: ${c.files.join(', ')} differ in ${c.attributes.join(', ')}`);
    throw new DcmsafeError('FILESET_INSTANCE_CONFLICT', `files share a SOP Instance UID but their attributes disagree:\n${lines.join('\n')}`, { conflicts });
  }
  return { unique, merged };
}

export function planFileSet(scans: readonly ScanResult[], options: PlanOptions): FileSetPlan {
  const { profile } = options;
  const allowed = (ts: string): boolean => options.acceptAnyTransferSyntax === true || profileAllows(profile, ts);
  const skipped: SkippedInput[] = [];
  const unreadable: UnreadableInput[] = [];
  const scanned: ScannedInstance[] = [];
  for (const r of scans) {
    if (r.kind === 'instance') scanned.push(r.instance);
    else if (r.kind === 'skipped') skipped.push(r.skipped);
    else unreadable.push(r.unreadable);
  }
  if (unreadable.length > 0 && !options.skipUnreadable) {
    const lines = unreadable.map((u) => `  ${u.path}: ${u.code}: ${u.message}`);
    throw new DcmsafeError('FILESET_INPUT_INVALID', `some DICOM inputs cannot be read (use --skip-invalid to leave them out):\n${lines.join('\n')}`, { unreadable });
  }

  // Instances outside the patient hierarchy need only their SOP identity; the rest need study and series.
  const placeable: ScannedInstance[] = [];
  for (const s of scanned) {
    const choice = recordTypeFor(s.sopClassUID, s.modality, s.hasEncapsulatedDocument);
    if (!choice.topLevel && (!s.studyInstanceUID || !s.seriesInstanceUID)) {
      skipped.push({ path: s.path, reason: 'missing-identifiers', message: `no ${!s.studyInstanceUID ? 'Study' : 'Series'} Instance UID: cannot be placed in the patient/study/series hierarchy` });
      continue;
    }
    placeable.push(s);
  }
  const { unique, merged } = mergeDuplicates(placeable, allowed);

  // How each instance goes on the media; refuse what the profile cannot take.
  const slots: PlannedSlot[] = [];
  const refused: Array<{ path: string; ts: string }> = [];
  const unknownSopClasses: Array<{ path: string; sopClassUID: string }> = [];
  for (const s of unique) {
    const kind = chooseKind(s, allowed);
    if (!kind) {
      refused.push({ path: s.path, ts: s.transferSyntax.uid });
      continue;
    }
    const choice = recordTypeFor(s.sopClassUID, s.modality, s.hasEncapsulatedDocument);
    if (choice.guessed) unknownSopClasses.push({ path: s.path, sopClassUID: s.sopClassUID });
    const reason = kindReason(kind, s);
    slots.push({ instance: s, kind, recordType: choice.type, ...(reason ? { reason } : {}) });
  }
  if (refused.length > 0) {
    const lines = refused.map((r) => {
      const others = profilesAllowing(r.ts);
      return `  ${r.path}: ${transferSyntaxName(r.ts)} (${r.ts}); ${others.length ? `profiles that take it: ${others.join(', ')}` : 'no general-purpose profile takes it, and dcmsafe cannot decode it'}`;
    });
    throw new DcmsafeError('FILESET_PROFILE_REFUSED', `${refused.length} file(s) cannot go on ${profile.id} media and cannot be converted losslessly:\n${lines.join('\n')}`, {
      profile: profile.id,
      files: refused.map((r) => ({ path: r.path, transferSyntax: r.ts, profiles: profilesAllowing(r.ts) })),
    });
  }
  if (slots.length === 0) {
    throw new DcmsafeError('FILESET_EMPTY', 'no DICOM instance among the inputs can be placed on media', { skipped: skipped.length, unreadable: unreadable.length });
  }

  const { patients, topLevel, generatedPatientIds, patientMismatches } = groupByPatient(slots, options);
  const records = newRecordReport();
  const fileSet = buildFileSet(patients, topLevel, options, records);
  const instances: PlannedInstance[] = fileSet.planned;
  return {
    fileSet: fileSet.model,
    instances,
    merged,
    generatedPatientIds,
    patientMismatches,
    skipped,
    unreadable,
    records,
    unknownSopClasses,
  };
}

function kindReason(kind: TranscodeKind, s: ScannedInstance): string | undefined {
  const ts = transferSyntaxName(s.transferSyntax.uid);
  switch (kind) {
    case 'copy':
      return undefined;
    case 'rewrap':
      return metaProblems(s).join('; ');
    case 'inflate':
      return `${ts} is not allowed: inflated to Explicit VR Little Endian`;
    case 'reencode':
      return `${ts} is not allowed: re-encoded as Explicit VR Little Endian`;
    case 'decode':
      return `${ts} is not allowed: decompressed to Explicit VR Little Endian${s.lossy ? ' (pixels were already lossy-compressed; marked Lossy Image Compression 01)' : ''}`;
  }
}

/** Prefer an instance that names the patient; among equals, the lowest SOP Instance UID. */
function betterPatientSource(a: ScannedInstance, b: ScannedInstance): boolean {
  const named = (s: ScannedInstance): number => (s.patient.name.replace(/[\^=\s]/g, '') ? 0 : 1);
  return named(a) - named(b) < 0 || (named(a) === named(b) && byString(a.sopInstanceUID, b.sopInstanceUID) < 0);
}

function groupByPatient(slots: PlannedSlot[], options: PlanOptions) {
  const patients = new Map<string, PatientGroup>();
  const topLevel: PlannedSlot[] = [];
  const generated = new Map<string, GeneratedPatientId>();
  const demographics = new Map<string, Map<string, { name: string; birthDate: string; files: string[] }>>();
  const studyOwner = new Map<string, string>();
  const seriesOwner = new Map<string, string>();
  const hierarchyConflicts: string[] = [];

  for (const slot of slots) {
    const s = slot.instance;
    if (recordTypeFor(s.sopClassUID, s.modality, s.hasEncapsulatedDocument).topLevel) {
      topLevel.push(slot);
      continue;
    }
    let id = s.patient.id;
    let isGenerated = false;
    if (!id) {
      id = generatedPatientId(s.patient.name, s.patient.birthDate);
      isGenerated = true;
      const g = generated.get(id);
      generated.set(id, { patientId: id, name: s.patient.name, birthDate: s.patient.birthDate, files: (g?.files ?? 0) + 1 });
    }
    const demo = demographics.get(id) ?? new Map();
    const demoKey = `${patientNameKey(s.patient.name)}|${s.patient.birthDate}`;
    const variant = demo.get(demoKey) ?? { name: s.patient.name, birthDate: s.patient.birthDate, files: [] };
    variant.files.push(s.path);
    demo.set(demoKey, variant);
    demographics.set(id, demo);

    const study = s.studyInstanceUID as string;
    const series = s.seriesInstanceUID as string;
    const owner = studyOwner.get(study);
    if (owner !== undefined && owner !== id) hierarchyConflicts.push(`study ${study} is under patients ${owner} and ${id}`);
    studyOwner.set(study, id);
    const seriesStudy = seriesOwner.get(series);
    if (seriesStudy !== undefined && seriesStudy !== study) hierarchyConflicts.push(`series ${series} is in studies ${seriesStudy} and ${study}`);
    seriesOwner.set(series, study);

    let p = patients.get(id);
    if (!p) {
      p = { id, generated: isGenerated, studies: new Map(), first: s };
      patients.set(id, p);
    } else if (betterPatientSource(s, p.first)) {
      // The PATIENT record copies its keys from one instance: the same one whatever the input order.
      p = { ...p, first: s };
      patients.set(id, p);
    }
    let st = p.studies.get(study);
    if (!st) {
      st = { uid: study, series: new Map() };
      p.studies.set(study, st);
    }
    let se = st.series.get(series);
    if (!se) {
      se = { uid: series, instances: [] };
      st.series.set(series, se);
    }
    se.instances.push(slot);
  }

  const patientMismatches: PatientMismatch[] = [];
  for (const [id, variants] of demographics) {
    if (variants.size > 1) patientMismatches.push({ patientId: id, variants: [...variants.values()].map((v) => ({ name: v.name, birthDate: v.birthDate, files: v.files })) });
  }
  if (patientMismatches.length > 0 && !options.allowPatientMismatch) {
    const lines = patientMismatches.map((m) => `  Patient ID ${m.patientId}: ${m.variants.map((v) => `"${v.name}" born ${v.birthDate || '(unknown)'} (${v.files.length} file(s), e.g. ${v.files[0]})`).join(' vs ')}`);
    throw new DcmsafeError('FILESET_PATIENT_CONFLICT', `one Patient ID is used for different patients; refusing to build a wrong-patient disc (--allow-patient-mismatch merges them):\n${lines.join('\n')}`, { mismatches: patientMismatches });
  }
  if (hierarchyConflicts.length > 0) {
    throw new DcmsafeError('FILESET_PATIENT_CONFLICT', `studies or series appear under more than one patient or study:\n  ${hierarchyConflicts.join('\n  ')}`, { conflicts: hierarchyConflicts });
  }
  return { patients, topLevel, generatedPatientIds: [...generated.values()], patientMismatches };
}

// ---- records and File IDs -----------------------------------------------------------------------

function firstText(instances: readonly ScannedInstance[], tags: readonly Tag[], normalize: (v: string) => string): string | undefined {
  const values: string[] = [];
  for (const s of instances) {
    for (const t of tags) {
      const v = s.keyText(t);
      if (v) {
        values.push(normalize(v));
        break;
      }
    }
  }
  return values.sort()[0];
}

/** Distinct leaf key sets remembered for sharing. */
const SHARED_KEYS = 4096;

/** The instance with the lowest SOP Instance UID (the first of them, sorted). */
function lowestSop(instances: readonly ScannedInstance[]): ScannedInstance {
  let best = instances[0] as ScannedInstance;
  for (const s of instances) if (byString(s.sopInstanceUID, best.sopInstanceUID) < 0) best = s;
  return best;
}

function buildFileSet(patients: Map<string, PatientGroup>, topLevel: PlannedSlot[], options: PlanOptions, report: RecordReport) {
  const { profile } = options;
  const allocator = new FileIdAllocator();
  const planned: PlannedInstance[] = [];
  const roots: DirectoryRecord[] = [];
  const now = options.clock.now();

  // Keys of each leaf record type, and the tags they read, worked out once.
  const leafKeys = new Map<string, { keys: RecordKey[]; tags: Set<Tag> }>();
  const keysOf = (recordType: string): { keys: RecordKey[]; tags: Set<Tag> } => {
    let k = leafKeys.get(recordType);
    if (!k) {
      const keys: RecordKey[] = [...(RECORD_KEYS[recordType] ?? RECORD_KEYS.IMAGE ?? [])];
      if (recordType === 'IMAGE') keys.push(...profile.extraKeys.image);
      k = { keys, tags: new Set(keys.map((key) => key.tag)) };
      leafKeys.set(recordType, k);
    }
    return k;
  };
  // Leaf records with equal keys (often just an Instance Number) share one DataSet: records are read, never changed, once planned.
  // At most SHARED_KEYS distinct sets are remembered: leaves that all differ cost no more than unshared ones.
  const shared = new Map<string, DataSet>();
  const share = (recordType: string, keys: DataSet): DataSet => {
    let id = recordType;
    for (const el of keys.sorted()) {
      if (el.items || !el.value) return keys; // items inherit a character set from their parent: not shared
      id += `\u0000${el.tag}\u0000${el.vr}\u0000${el.value.toString('latin1')}`;
    }
    const known = shared.get(id);
    if (known) return known;
    if (shared.size < SHARED_KEYS) shared.set(id, keys);
    return keys;
  };

  const leafRecord = (slot: PlannedSlot, fileId: string[], supply: Map<Tag, string>, scope: string): DirectoryRecord => {
    const s = slot.instance;
    const { keys, tags } = keysOf(slot.recordType);
    const outputTS = slot.kind === 'copy' || slot.kind === 'rewrap' ? s.transferSyntax.uid : EXPLICIT_VR_LITTLE_ENDIAN;
    planned.push({ instance: s, fileId, kind: slot.kind, recordType: slot.recordType, outputTransferSyntaxUID: outputTS, ...(slot.reason ? { reason: slot.reason } : {}) });
    return {
      type: slot.recordType,
      keys: share(slot.recordType, buildRecordKeys({ recordType: slot.recordType, keys, source: s.keysFor(tags), supply, scope, report })),
      fileId,
      sopClassUID: s.sopClassUID,
      sopInstanceUID: s.sopInstanceUID,
      transferSyntaxUID: outputTS,
      inUse: true,
      children: [],
    };
  };

  const sortedPatients = [...patients.values()].sort((a, b) => byString(a.id, b.id));
  for (const p of sortedPatients) {
    const patientDir = ['DICOM', allocator.allocate(['DICOM'], 'PA')];
    const patientKeys: RecordKey[] = [...(RECORD_KEYS.PATIENT ?? []), ...profile.extraKeys.patient];
    const patientRecord: DirectoryRecord = {
      type: 'PATIENT',
      keys: buildRecordKeys({ recordType: 'PATIENT', keys: patientKeys, source: p.first.keys, supply: new Map([[T.PatientID, p.id]]), scope: `patient ${p.id}`, report }),
      inUse: true,
      children: [],
    };
    roots.push(patientRecord);

    const studies = [...p.studies.values()].map((st) => {
      const all = [...st.series.values()].flatMap((se) => se.instances.map((x) => x.instance));
      const date = firstText(all, [T.StudyDate], normalizeDate) ?? firstText(all, [T.SeriesDate, T.AcquisitionDate, T.ContentDate, T.InstanceCreationDate], normalizeDate);
      const time = firstText(all, [T.StudyTime], normalizeTime) ?? firstText(all, [T.SeriesTime, T.AcquisitionTime, T.ContentTime, T.InstanceCreationTime], normalizeTime);
      return { st, all, date: date ?? dicomDate(now), time: time ?? dicomTime(now) };
    });
    studies.sort((a, b) => byString(a.date, b.date) || byString(a.time, b.time) || byString(a.st.uid, b.st.uid));
    studies.forEach(({ st, all, date, time }, studyIndex) => {
      const studyDir = [...patientDir, allocator.allocate(patientDir, 'ST')];
      const first = lowestSop(all);
      const studyId = firstText(all, [T.StudyID], (v) => v) ?? String(studyIndex + 1);
      const studySupply = new Map<Tag, string>([
        [T.StudyDate, date],
        [T.StudyTime, time],
        [T.StudyID, studyId],
        [T.StudyInstanceUID, st.uid],
      ]);
      const studyRecord: DirectoryRecord = {
        type: 'STUDY',
        keys: buildRecordKeys({ recordType: 'STUDY', keys: RECORD_KEYS.STUDY ?? [], source: first.keys, supply: studySupply, scope: `study ${st.uid}`, report }),
        inUse: true,
        children: [],
      };
      patientRecord.children.push(studyRecord);

      const series = [...st.series.values()].map((se) => ({ se, number: firstText(se.instances.map((x) => x.instance), [T.SeriesNumber], (v) => v) }));
      series.sort((a, b) => numericOrder(a.number, b.number) || byString(a.se.uid, b.se.uid));
      series.forEach(({ se, number }, seriesIndex) => {
        const seriesDir = [...studyDir, allocator.allocate(studyDir, 'SE')];
        const seriesFirst = lowestSop(se.instances.map((x) => x.instance));
        const seriesRecord: DirectoryRecord = {
          type: 'SERIES',
          keys: buildRecordKeys({
            recordType: 'SERIES',
            keys: [...(RECORD_KEYS.SERIES ?? []), ...profile.extraKeys.series],
            source: seriesFirst.keys,
            supply: new Map<Tag, string>([
              [T.SeriesNumber, number ?? String(seriesIndex + 1)],
              [T.Modality, 'OT'],
            ]),
            scope: `series ${se.uid}`,
            report,
          }),
          inUse: true,
          children: [],
        };
        studyRecord.children.push(seriesRecord);

        // Instance Numbers read once, not at every comparison.
        const leaves = se.instances.map((slot) => ({ slot, number: numericKey(slot.instance.keyText(T.InstanceNumber)) }));
        leaves.sort((a, b) => compareNumbers(a.number, b.number) || byString(a.slot.instance.sopInstanceUID, b.slot.instance.sopInstanceUID));
        // One supply map for the series' leaves, refilled for each (buildRecordKeys reads it and keeps nothing of it).
        const supply = new Map<Tag, string>();
        leaves.forEach(({ slot }, index) => {
          // concat: an array of exactly five strings, where a spread leaves room to grow (per instance, it adds up).
          const fileId = options.fileIdFor?.(slot.instance) ?? seriesDir.concat(allocator.allocate(seriesDir, 'IM'));
          const s = slot.instance;
          const contentDate = firstText([s], [T.ContentDate, T.InstanceCreationDate, T.SeriesDate, T.AcquisitionDate], normalizeDate) ?? date;
          const contentTime = firstText([s], [T.ContentTime, T.InstanceCreationTime, T.SeriesTime, T.AcquisitionTime], normalizeTime) ?? time;
          supply.set(T.InstanceNumber, String(index + 1));
          supply.set(T.ContentDate, contentDate);
          supply.set(T.ContentTime, contentTime);
          supply.set(T.PresentationCreationDate, contentDate);
          supply.set(T.PresentationCreationTime, contentTime);
          supply.set(T.InstanceCreationDate, contentDate);
          // Type 1 labels some instances lack (PS3.3 F.5): a visible placeholder, reported.
          supply.set(T.ContentLabel, 'UNLABELED');
          supply.set(T.RTPlanLabel, 'UNLABELED');
          supply.set(T.StructureSetLabel, 'UNLABELED');
          seriesRecord.children.push(leafRecord(slot, fileId, supply, `instance ${s.sopInstanceUID}`));
        });
      });
    });
  }

  const sortedTop = [...topLevel].sort((a, b) => byString(a.recordType, b.recordType) || byString(a.instance.sopInstanceUID, b.instance.sopInstanceUID));
  for (const slot of sortedTop) {
    const fileId = options.fileIdFor?.(slot.instance) ?? ['DICOM', allocator.allocate(['DICOM'], 'TL')];
    roots.push(leafRecord(slot, fileId, new Map(), `instance ${slot.instance.sopInstanceUID}`));
  }

  const model: FileSet = {
    fileSetId: options.fileSetId,
    fileSetUID: options.fileSetUID,
    descriptorFileId: ['README'],
    roots,
  };
  return { model, planned };
}
