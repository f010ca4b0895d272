/**
 * Fuzz target: the DICOMDIR decoder (PS3.3 Annex F, decodeDicomdir): the Part 10 file, then the record
 * tree built by following the offsets, then every record of every level read as verify reads it (keys
 * decoded with their character set, File IDs, referenced UIDs).
 *
 * Fields: the element headers (dicom-fields.ts) and, above all, the values of the offsets the decoder
 * follows: (0004,1200), (0004,1202), (0004,1400), (0004,1420), and the Record In-use Flag (0004,1410).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import os from 'node:os';
import path from 'node:path';
import { decodeDicomdir } from '../../dicom/dicomdir/decode.js';
import { encodeDicomdir } from '../../dicom/dicomdir/encode.js';
import { walkRecords, type DirectoryRecord, type FileSet } from '../../dicom/dicomdir/model.js';
import { planFileSet } from '../../dicom/fileset/plan.js';
import { scanFiles } from '../../dicom/fileset/scan.js';
import { findProfile } from '../../dicom/profiles/profiles.js';
import { buildDataSet } from '../../dicom/part10/writer.js';
import { T } from '../../dicom/tags.js';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { buildSamples } from '../../samples/generate.js';
import { fixedClock } from '../../util/clock.js';
import { dicomFields } from '../dicom-fields.js';
import type { Field, Seed } from '../mutate.js';
import { corpusFiles, mutationsOf, type FuzzInput, type FuzzTarget } from '../target.js';

/** The offset and flag elements of PS3.3 Table F.3-2/F.3-3: element number and value size. */
const OFFSET_ELEMENTS: ReadonlyArray<readonly [number, 2 | 4]> = [
  [0x1200, 4],
  [0x1202, 4],
  [0x1400, 4],
  [0x1410, 2],
  [0x1420, 4],
];

/**
 * The values of the offset elements, found by their headers in any of the three encodings a DICOMDIR
 * comes in (explicit VR little endian, implicit VR little endian, explicit VR big endian).
 */
export function dicomdirOffsetFields(bytes: Buffer): Field[] {
  const out: Field[] = [];
  for (const [element, size] of OFFSET_ELEMENTS) {
    const vr = size === 4 ? 'UL' : 'US';
    const explicitLE = Buffer.alloc(8);
    explicitLE.writeUInt16LE(0x0004, 0);
    explicitLE.writeUInt16LE(element, 2);
    explicitLE.write(vr, 4, 'latin1');
    explicitLE.writeUInt16LE(size, 6);
    const implicitLE = Buffer.alloc(8);
    implicitLE.writeUInt16LE(0x0004, 0);
    implicitLE.writeUInt16LE(element, 2);
    implicitLE.writeUInt32LE(size, 4);
    const explicitBE = Buffer.alloc(8);
    explicitBE.writeUInt16BE(0x0004, 0);
    explicitBE.writeUInt16BE(element, 2);
    explicitBE.write(vr, 4, 'latin1');
    explicitBE.writeUInt16BE(size, 6);
    for (const [pattern, endian] of [
      [explicitLE, 'le'],
      [implicitLE, 'le'],
      [explicitBE, 'be'],
    ] as const) {
      for (let at = bytes.indexOf(pattern); at >= 0 && out.length < 8192; at = bytes.indexOf(pattern, at + 1)) out.push({ offset: at + 8, size, endian });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

function fieldsOf(bytes: Buffer): Field[] {
  // Offsets listed twice (once here, once among the headers): they matter most.
  const offsets = dicomdirOffsetFields(bytes);
  return [...offsets, ...offsets, ...dicomFields(bytes)];
}

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const COLOR_PALETTE = '1.2.840.10008.5.1.4.39.1';
const ELE = '1.2.840.10008.1.2.1';

/** A small File-set with every level, an inactive record, a PRIVATE and a PALETTE record, non-ASCII keys. */
function handMadeFileSet(): FileSet {
  const leaf = (n: number, inUse = true): DirectoryRecord => ({
    type: 'IMAGE',
    keys: buildDataSet([[T.InstanceNumber, 'IS', n]]),
    fileId: ['DICOM', 'P1', 'S1', 'SE1', `IM${n}`],
    sopClassUID: CT_IMAGE,
    sopInstanceUID: `1.2.3.4.${n}`,
    transferSyntaxUID: ELE,
    inUse,
    children: [],
  });
  const series: DirectoryRecord = {
    type: 'SERIES',
    keys: buildDataSet([
      [T.Modality, 'CS', 'CT'],
      [T.SeriesInstanceUID, 'UI', '1.2.3.3'],
      [T.SeriesNumber, 'IS', 1],
    ]),
    inUse: true,
    children: [leaf(1), leaf(2, false), leaf(3)],
  };
  const study: DirectoryRecord = {
    type: 'STUDY',
    keys: buildDataSet([
      [T.StudyDate, 'DA', '20240102'],
      [T.StudyTime, 'TM', '101500'],
      [T.AccessionNumber, 'SH', ''],
      [T.StudyInstanceUID, 'UI', '1.2.3.2'],
      [T.StudyID, 'SH', '1'],
    ]),
    inUse: true,
    children: [series, { type: 'PRIVATE', keys: buildDataSet([]), privateRecordUID: '1.2.3.99', inUse: true, children: [] }],
  };
  const patient: DirectoryRecord = {
    type: 'PATIENT',
    keys: buildDataSet([
      [T.SpecificCharacterSet, 'CS', 'ISO_IR 100'],
      [T.PatientName, 'PN', Buffer.from('Müller^Jürgen', 'latin1')],
      [T.PatientID, 'LO', 'PAT1'],
    ]),
    inUse: true,
    children: [study],
  };
  const palette: DirectoryRecord = {
    type: 'PALETTE',
    keys: buildDataSet([[T.ContentLabel, 'CS', 'HOT']]),
    fileId: ['DICOM', 'TL1'],
    sopClassUID: COLOR_PALETTE,
    sopInstanceUID: '1.2.3.5',
    transferSyntaxUID: ELE,
    inUse: true,
    children: [],
  };
  return { fileSetId: 'FUZZ', fileSetUID: '1.2.3.1', descriptorFileId: ['README'], descriptorCharset: 'ISO_IR 100', roots: [patient, palette] };
}

/** The DICOMDIR the create pipeline plans for the built-in samples (several patients, studies, modalities). */
async function samplesDicomdir(): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dcmsafe-fuzz-dicomdir-'));
  try {
    const files = buildSamples('fuzz-dicomdir').files;
    const paths: string[] = [];
    for (const [i, f] of files.entries()) {
      const p = path.join(dir, `F${i}`);
      await writeFile(p, f.bytes);
      paths.push(p);
    }
    const scans = await scanFiles(paths);
    const plan = planFileSet(scans, { profile: findProfile('STD-GEN-CD'), fileSetId: 'FUZZ', fileSetUID: '1.2.826.0.1.3680043.10.1', clock: fixedClock('2026-01-02T03:04:05Z') });
    return encodeDicomdir(plan.fileSet);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function readField(bytes: Buffer, f: Field): number {
  if (f.size === 2) return f.endian === 'le' ? bytes.readUInt16LE(f.offset) : bytes.readUInt16BE(f.offset);
  return f.endian === 'le' ? bytes.readUInt32LE(f.offset) : bytes.readUInt32BE(f.offset);
}

function writeField(bytes: Buffer, f: Field, value: number): void {
  const v = value >>> 0;
  if (f.endian === 'le') bytes.writeUInt32LE(v, f.offset);
  else bytes.writeUInt32BE(v, f.offset);
}

/**
 * Edits that know what the offsets mean: an offset set to where another record starts (a loop, a child
 * pointing at its parent, two parents sharing a child, a record reached twice) or just beside it; and
 * every record rewired into one chain of lower-level entities (depth as deep as the records are many).
 */
function pointerEdits(seeds: readonly Seed[]): fc.Arbitrary<FuzzInput> {
  const info = seeds.map((s) => {
    const offsets = dicomdirOffsetFields(s.bytes).filter((f) => f.size === 4);
    const targets = [...new Set(offsets.map((f) => readField(s.bytes, f)).filter((v) => v !== 0))].sort((a, b) => a - b);
    return { offsets, targets };
  });
  const edit = fc.record({ field: fc.nat(), target: fc.nat(), delta: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -16, max: 16 }) }) });
  return fc.record({ seed: fc.nat(seeds.length - 1), chain: fc.nat(9), edits: fc.array(edit, { minLength: 1, maxLength: 4 }) }).map(({ seed, chain, edits }) => {
    const s = seeds[seed] as Seed;
    const { offsets, targets } = info[seed] as (typeof info)[number];
    const bytes = Buffer.from(s.bytes);
    const done: string[] = [];
    if (chain === 0) {
      // (0004,1400) is a record's first element: its item starts 16 bytes before the value.
      const next = offsets.filter((f) => (f.endian === 'le' ? bytes.readUInt16LE(f.offset - 6) : bytes.readUInt16BE(f.offset - 6)) === 0x1400);
      const lower = offsets.filter((f) => (f.endian === 'le' ? bytes.readUInt16LE(f.offset - 6) : bytes.readUInt16BE(f.offset - 6)) === 0x1420);
      for (let i = 0; i < Math.min(next.length, lower.length); i++) {
        writeField(bytes, next[i] as Field, 0);
        writeField(bytes, lower[i] as Field, i + 1 < next.length ? (next[i + 1] as Field).offset - 16 : 0);
      }
      done.push(`chain(${next.length} records)`);
    }
    if (offsets.length > 0 && targets.length > 0) {
      for (const e of edits) {
        const f = offsets[e.field % offsets.length] as Field;
        const value = (targets[e.target % targets.length] as number) + e.delta;
        writeField(bytes, f, value);
        done.push(`offset@${f.offset}=${value}`);
      }
    }
    return { bytes, how: `${s.name}: ${done.join(', ') || 'unchanged'}` };
  });
}

export const dicomdirTarget: FuzzTarget = {
  name: 'dicomdir',
  description: 'DICOMDIR: Part 10 file, record offsets followed, every record of every level (decodeDicomdir)',
  async seeds(ctx) {
    const samples = await samplesDicomdir();
    const hand = handMadeFileSet();
    const empty: FileSet = { fileSetId: 'EMPTY', fileSetUID: '1.2.3.9', roots: [] };
    const ours = [
      { name: 'ours:samples', bytes: samples },
      { name: 'ours:hand-made', bytes: encodeDicomdir(hand) },
      { name: 'ours:empty', bytes: encodeDicomdir(empty) },
    ];
    const corpus = await corpusFiles(ctx, ['fileset'], { max: 12, maxBytes: 256 * 1024, suffix: /^DICOMDIR/ });
    return [...ours, ...corpus].map((s): Seed => ({ ...s, fields: fieldsOf(s.bytes) }));
  },
  arbitrary(seeds) {
    return fc.oneof({ weight: 3, arbitrary: mutationsOf(seeds) }, { weight: 1, arbitrary: pointerEdits(seeds) });
  },
  async run(input) {
    const decoded = await decodeDicomdir(new BufferReader(input, 'DICOMDIR'));
    // As verify reads the tree: every record, every key decoded with its character set.
    let n = 0;
    for (const r of walkRecords(decoded.fileSet.roots)) {
      for (const tag of r.keys.elements.keys()) n += r.keys.string(tag)?.length ?? 0;
      n += (r.fileId?.join('/').length ?? 0) + (r.sopInstanceUID?.length ?? 0) + r.children.length;
    }
    return n + decoded.findings.length;
  },
};
