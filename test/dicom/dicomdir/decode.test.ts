/**
 * The DICOMDIR decoder (PS3.3 Annex F) against its encoder (round trip), against hostile offsets
 * (generated here by patching encoder output), and against the DICOMDIR variants of the corpus
 * (fileset/dicomdirtests: dcmtk's DICOMDIR and the variants pydicom's test suite made of it; see
 * its README.txt).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DataSet, Element } from '../../../src/dicom/dataset.js';
import { decodeDicomdir, DIRECTORY_FINDINGS, MAX_DIRECTORY_DEPTH, type DecodedDicomdir, type DirectoryFinding } from '../../../src/dicom/dicomdir/decode.js';
import { encodeDicomdir } from '../../../src/dicom/dicomdir/encode.js';
import { walkRecords, type DirectoryRecord, type FileSet } from '../../../src/dicom/dicomdir/model.js';
import { readPart10Header } from '../../../src/dicom/part10/header.js';
import { buildDataSet, encodePart10, type ElementValue } from '../../../src/dicom/part10/writer.js';
import type { Tag } from '../../../src/dicom/tag.js';
import { T } from '../../../src/dicom/tags.js';
import type { VR } from '../../../src/dicom/vr.js';
import { BufferReader, FileReader } from '../../../src/media/io/random-access-reader.js';
import { CORPUS } from '../../helpers/env.js';

const ELE = '1.2.840.10008.1.2.1';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
const ENHANCED_SR = '1.2.840.10008.5.1.4.1.1.88.22';
const KEY_OBJECT = '1.2.840.10008.5.1.4.1.1.88.59';
const GSPS = '1.2.840.10008.5.1.4.1.1.11.1';
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';
const COLOR_PALETTE = '1.2.840.10008.5.1.4.39.1';

type Entry = readonly [Tag, VR, ElementValue];

function rec(type: string, keys: readonly Entry[], children: DirectoryRecord[] = [], extra: Partial<DirectoryRecord> = {}): DirectoryRecord {
  return { type, keys: buildDataSet(keys), inUse: true, children, ...extra };
}

function instance(type: string, fileId: string[], sopClassUID: string, uid: string, keys: readonly Entry[], extra: Partial<DirectoryRecord> = {}): DirectoryRecord {
  return rec(type, keys, [], { fileId, sopClassUID, sopInstanceUID: uid, transferSyntaxUID: ELE, ...extra });
}

const study = (uid: string, id: string, children: DirectoryRecord[]): DirectoryRecord =>
  rec(
    'STUDY',
    [
      [T.StudyDate, 'DA', '20240102'],
      [T.StudyTime, 'TM', '101500'],
      [T.AccessionNumber, 'SH', ''],
      [T.StudyDescription, 'LO', 'HEAD'],
      [T.StudyInstanceUID, 'UI', uid],
      [T.StudyID, 'SH', id],
    ],
    children,
  );

const series = (modality: string, uid: string, n: number, children: DirectoryRecord[]): DirectoryRecord =>
  rec(
    'SERIES',
    [
      [T.Modality, 'CS', modality],
      [T.SeriesInstanceUID, 'UI', uid],
      [T.SeriesNumber, 'IS', n],
    ],
    children,
  );

/** Several patients, studies, series and leaf types, a PALETTE root record, non-ASCII names. */
function richFileSet(): FileSet {
  const conceptName = buildDataSet([
    [T.CodeValue, 'SH', '18748-4'],
    [T.CodingSchemeDesignator, 'SH', 'LN'],
    [T.CodeMeaning, 'LO', 'Diagnostic Imaging Report'],
  ]);
  const pat1 = rec(
    'PATIENT',
    [
      [T.SpecificCharacterSet, 'CS', 'ISO_IR 100'],
      [T.PatientName, 'PN', Buffer.from('Müller^Jürgen', 'latin1')],
      [T.PatientID, 'LO', 'PAT1'],
    ],
    [
      study('1.2.826.0.1.3680043.10.1.1', '1', [
        series('CT', '1.2.826.0.1.3680043.10.1.1.1', 1, [
          instance('IMAGE', ['PAT1', 'ST1', 'SE1', 'IM000001'], CT_IMAGE, '1.2.826.0.1.3680043.10.1.1.1.1', [[T.InstanceNumber, 'IS', 1]]),
          instance('IMAGE', ['PAT1', 'ST1', 'SE1', 'IM000002'], CT_IMAGE, '1.2.826.0.1.3680043.10.1.1.1.2', [[T.InstanceNumber, 'IS', 2]], {
            relatedGeneralSOPClassUIDs: ['1.2.840.10008.5.1.4.1.1.2.1', '1.2.840.10008.5.1.4.1.1.2.2'],
          }),
        ]),
        series('SR', '1.2.826.0.1.3680043.10.1.1.2', 2, [
          instance('SR DOCUMENT', ['PAT1', 'ST1', 'SE2', 'SR000001'], ENHANCED_SR, '1.2.826.0.1.3680043.10.1.1.2.1', [
            [T.ContentDate, 'DA', '20240102'],
            [T.ContentTime, 'TM', '102000'],
            [T.InstanceNumber, 'IS', 1],
            [T.ValueType, 'CS', 'CONTAINER'],
            [T.ConceptNameCodeSequence, 'SQ', [conceptName]],
            [T.CompletionFlag, 'CS', 'COMPLETE'],
            [T.VerificationFlag, 'CS', 'UNVERIFIED'],
          ]),
          instance('KEY OBJECT DOC', ['PAT1', 'ST1', 'SE2', 'KO000001'], KEY_OBJECT, '1.2.826.0.1.3680043.10.1.1.2.2', [
            [T.ContentDate, 'DA', '20240102'],
            [T.ContentTime, 'TM', '102100'],
            [T.InstanceNumber, 'IS', 2],
          ]),
        ]),
      ]),
      study('1.2.826.0.1.3680043.10.1.2', '2', [
        series('PR', '1.2.826.0.1.3680043.10.1.2.1', 1, [
          instance('PRESENTATION', ['PAT1', 'ST2', 'SE1', 'PR000001'], GSPS, '1.2.826.0.1.3680043.10.1.2.1.1', [
            [T.InstanceNumber, 'IS', 1],
            [T.ContentLabel, 'CS', 'GSPS'],
            [T.ContentDescription, 'LO', ''],
            [T.PresentationCreationDate, 'DA', '20240103'],
            [T.PresentationCreationTime, 'TM', '090000'],
            [T.ContentCreatorName, 'PN', ''],
          ]),
        ]),
        series('DOC', '1.2.826.0.1.3680043.10.1.2.2', 2, [
          instance('ENCAP DOC', ['PAT1', 'ST2', 'SE2', 'DOC00001'], ENCAPSULATED_PDF, '1.2.826.0.1.3680043.10.1.2.2.1', [
            [T.InstanceNumber, 'IS', 1],
            [T.MIMETypeOfEncapsulatedDocument, 'LO', 'application/pdf'],
          ]),
        ]),
      ]),
    ],
  );
  const pat2 = rec(
    'PATIENT',
    [
      [T.SpecificCharacterSet, 'CS', 'ISO_IR 192'],
      [T.PatientName, 'PN', Buffer.from('山田^太郎', 'utf8')],
      [T.PatientID, 'LO', 'PAT2'],
    ],
    [
      study('1.2.826.0.1.3680043.10.2.1', '1', [
        series('MR', '1.2.826.0.1.3680043.10.2.1.1', 1, [
          instance('IMAGE', ['PAT2', 'ST1', 'SE1', 'IM000001'], MR_IMAGE, '1.2.826.0.1.3680043.10.2.1.1.1', [[T.InstanceNumber, 'IS', 1]]),
          instance('IMAGE', ['PAT2', 'ST1', 'SE1', 'IM000002'], MR_IMAGE, '1.2.826.0.1.3680043.10.2.1.1.2', [[T.InstanceNumber, 'IS', 2]]),
          instance('IMAGE', ['PAT2', 'ST1', 'SE1', 'IM000003'], MR_IMAGE, '1.2.826.0.1.3680043.10.2.1.1.3', [[T.InstanceNumber, 'IS', 3]]),
          rec('PRIVATE', [], [], { privateRecordUID: '1.2.826.0.1.3680043.10.99.1', fileId: ['PAT2', 'ST1', 'SE1', 'PRIV0001'] }),
        ]),
      ]),
    ],
    { inUse: true },
  );
  const palette = instance('PALETTE', ['PALETTES', 'PAL00001'], COLOR_PALETTE, '1.2.826.0.1.3680043.10.3.1', [
    [T.ContentLabel, 'CS', 'HOT_IRON'],
    [T.ContentDescription, 'LO', 'Hot Iron'],
  ]);
  return {
    fileSetId: 'DCMSAFE_TEST',
    fileSetUID: '1.2.826.0.1.3680043.10.0.1',
    descriptorFileId: ['README'],
    descriptorCharset: 'ISO_IR 100',
    roots: [pat1, pat2, palette],
  };
}

/** One patient, one study, one series, two images: the base of the hostile fixtures. */
function smallFileSet(patients = 1): FileSet {
  const patient = (n: number): DirectoryRecord =>
    rec(
      'PATIENT',
      [
        [T.PatientName, 'PN', `DOE^P${n}`],
        [T.PatientID, 'LO', `P${n}`],
      ],
      [
        study(`1.2.3.${n}`, '1', [
          series('CT', `1.2.3.${n}.1`, 1, [
            instance('IMAGE', [`P${n}`, 'IM1'], CT_IMAGE, `1.2.3.${n}.1.1`, [[T.InstanceNumber, 'IS', 1]]),
            instance('IMAGE', [`P${n}`, 'IM2'], CT_IMAGE, `1.2.3.${n}.1.2`, [[T.InstanceNumber, 'IS', 2]]),
          ]),
        ]),
      ],
    );
  return { fileSetId: 'SMALL', fileSetUID: '1.2.3.4', roots: Array.from({ length: patients }, (_, i) => patient(i + 1)) };
}

const decode = (bytes: Uint8Array): Promise<DecodedDicomdir> => decodeDicomdir(new BufferReader(bytes, 'fixture'));
const codes = (findings: readonly DirectoryFinding[]): string[] => findings.map((f) => f.code);

/** The records of a DICOMDIR in file order, with their elements (and the header data set). */
async function layout(bytes: Buffer): Promise<{ header: DataSet; records: DataSet[] }> {
  const h = await readPart10Header(new BufferReader(bytes), { stopAtPixelData: false });
  return { header: h.dataSet, records: h.dataSet.items(T.DirectoryRecordSequence) };
}

function element(ds: DataSet | undefined, tag: Tag): Element {
  const el = ds?.get(tag);
  if (!el) throw new Error(`fixture has no ${tag.toString(16)}`);
  return el;
}

/** A copy of the bytes with one UL or US value overwritten (the value stays where it is). */
function patch(bytes: Buffer, el: Element, value: number): Buffer {
  const out = Buffer.from(bytes);
  if (el.vr === 'US') out.writeUInt16LE(value, el.valueOffset);
  else out.writeUInt32LE(value >>> 0, el.valueOffset);
  return out;
}

describe('decodeDicomdir: round trip with the encoder', () => {
  it('encode → decode → encode gives identical bytes, and the same model', async () => {
    const fs = richFileSet();
    const bytes = encodeDicomdir(fs);
    const decoded = await decode(bytes);
    expect(decoded.findings).toEqual([]);
    expect(decoded.transferSyntaxUID).toBe(ELE);
    expect(encodeDicomdir(decoded.fileSet).equals(bytes)).toBe(true);

    const out = decoded.fileSet;
    expect(out.fileSetId).toBe('DCMSAFE_TEST');
    expect(out.fileSetUID).toBe('1.2.826.0.1.3680043.10.0.1');
    expect(out.descriptorFileId).toEqual(['README']);
    expect(out.descriptorCharset).toBe('ISO_IR 100');
    expect(out.roots.map((r) => r.type)).toEqual(['PATIENT', 'PATIENT', 'PALETTE']);
    const before = [...walkRecords(fs.roots)];
    const after = [...walkRecords(out.roots)];
    expect(after.length).toBe(before.length);
    after.forEach((r, i) => {
      const b = before[i] as DirectoryRecord;
      expect(r.type).toBe(b.type);
      expect(r.fileId).toEqual(b.fileId);
      expect(r.sopClassUID).toBe(b.sopClassUID);
      expect(r.sopInstanceUID).toBe(b.sopInstanceUID);
      expect(r.transferSyntaxUID).toBe(b.transferSyntaxUID);
      expect(r.relatedGeneralSOPClassUIDs).toEqual(b.relatedGeneralSOPClassUIDs);
      expect(r.privateRecordUID).toBe(b.privateRecordUID);
      expect(r.inUse).toBe(true);
      expect(r.children.length).toBe(b.children.length);
      expect([...r.keys.elements.keys()]).toEqual([...b.keys.elements.keys()].sort((x, y) => x - y));
      expect([...r.keys.elements.keys()].every((t) => t >>> 16 >= 0x0008)).toBe(true);
    });
    // Offsets: each record's is the file offset of its Item tag.
    for (const r of after) expect(bytes.readUInt32LE(r.offset as number)).toBe(0xe000fffe);
    // The keys do not hold on to the parsed DICOMDIR (its Directory Record Sequence and every item):
    // at most a scope with the top-level Specific Character Set they inherit.
    for (const r of after) expect(r.keys.parent === undefined || [...r.keys.parent.elements.keys()].every((t) => t === T.SpecificCharacterSet)).toBe(true);
    // Keys decode with the record's own Specific Character Set.
    expect(out.roots[0]?.keys.text(T.PatientName)).toBe('Müller^Jürgen');
    expect(out.roots[1]?.keys.text(T.PatientName)).toBe('山田^太郎');
    // Nested sequences in keys survive.
    const sr = after.find((r) => r.type === 'SR DOCUMENT');
    expect(sr?.keys.items(T.ConceptNameCodeSequence)[0]?.text(T.CodeMeaning)).toBe('Diagnostic Imaging Report');
  });

  it('decodes its own output of the corpus DICOMDIR to the same tree, without findings', async () => {
    const first = await decodeFile(path.join(DIR, 'DICOMDIR'));
    const again = await decode(encodeDicomdir(first.fileSet));
    expect(again.findings).toEqual([]);
    expect(tree(again.fileSet)).toEqual(tree(first.fileSet));
  });
});

describe('decodeDicomdir: hostile offsets are typed errors', () => {
  const good = encodeDicomdir(smallFileSet());

  it('decodes the unpatched fixture cleanly', async () => {
    const d = await decode(good);
    expect(d.findings).toEqual([]);
    expect([...walkRecords(d.fileSet.roots)].map((r) => r.type)).toEqual(['PATIENT', 'STUDY', 'SERIES', 'IMAGE', 'IMAGE']);
  });

  it('an offset past the end of the file → DICOMDIR_OFFSET', async () => {
    const { header, records } = await layout(good);
    const first = element(header, T.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity);
    await expect(decode(patch(good, first, good.length + 16))).rejects.toMatchObject({ code: 'DICOMDIR_OFFSET' });
    const next = element(records[3], T.OffsetOfTheNextDirectoryRecord);
    await expect(decode(patch(good, next, 0xffffffff))).rejects.toMatchObject({ code: 'DICOMDIR_OFFSET', data: { target: 0xffffffff } });
  });

  it('an offset into the middle of a record, or at a non-record element → DICOMDIR_OFFSET', async () => {
    const { header, records } = await layout(good);
    const study = records[1] as DataSet;
    const lower = element(records[0], T.OffsetOfReferencedLowerLevelDirectoryEntity);
    await expect(decode(patch(good, lower, study.offset + 8))).rejects.toMatchObject({ code: 'DICOMDIR_OFFSET', data: { target: study.offset + 8 } });
    await expect(decode(patch(good, lower, element(header, T.FileSetID).offset))).rejects.toMatchObject({ code: 'DICOMDIR_OFFSET' });
  });

  it('a next-pointer loop → DICOMDIR_LOOP', async () => {
    const { records } = await layout(good);
    const image1 = records[3] as DataSet;
    const next2 = element(records[4], T.OffsetOfTheNextDirectoryRecord);
    await expect(decode(patch(good, next2, image1.offset))).rejects.toMatchObject({ code: 'DICOMDIR_LOOP' });
    // A record that is its own next.
    const next1 = element(image1, T.OffsetOfTheNextDirectoryRecord);
    await expect(decode(patch(good, next1, image1.offset))).rejects.toMatchObject({ code: 'DICOMDIR_LOOP' });
  });

  it('a lower-pointer loop back to an ancestor → DICOMDIR_LOOP', async () => {
    const { records } = await layout(good);
    const patient = records[0] as DataSet;
    const lower = element(records[4], T.OffsetOfReferencedLowerLevelDirectoryEntity);
    await expect(decode(patch(good, lower, patient.offset))).rejects.toMatchObject({ code: 'DICOMDIR_LOOP' });
    const seriesLower = element(records[2], T.OffsetOfReferencedLowerLevelDirectoryEntity);
    await expect(decode(patch(good, seriesLower, (records[1] as DataSet).offset))).rejects.toMatchObject({ code: 'DICOMDIR_LOOP' });
  });

  it('a truncated file → the Part 10 error, as it is', async () => {
    await expect(decode(good.subarray(0, good.length - 40))).rejects.toMatchObject({ code: 'PART10_TRUNCATED' });
  });

  it('a file that is not a Basic Directory → DICOMDIR_INVALID', async () => {
    const ct = encodePart10(
      { sopClassUID: CT_IMAGE, sopInstanceUID: '1.2.3.9' },
      buildDataSet([
        [T.SOPClassUID, 'UI', CT_IMAGE],
        [T.SOPInstanceUID, 'UI', '1.2.3.9'],
        [T.PatientID, 'LO', 'X'],
      ]),
    );
    await expect(decode(ct)).rejects.toMatchObject({ code: 'DICOMDIR_INVALID' });
  });

  /** N PRIVATE records rewired into one chain: each record's lower-level entity is the next record. */
  async function chainOf(n: number): Promise<Buffer> {
    const flat = encodeDicomdir({ fileSetId: 'CHAIN', fileSetUID: '1.2.3', roots: Array.from({ length: n }, () => rec('PRIVATE', [])) });
    const { records } = await layout(flat);
    const out = Buffer.from(flat);
    for (const [i, r] of records.entries()) {
      out.writeUInt32LE(0, element(r, T.OffsetOfTheNextDirectoryRecord).valueOffset);
      out.writeUInt32LE(records[i + 1]?.offset ?? 0, element(r, T.OffsetOfReferencedLowerLevelDirectoryEntity).valueOffset);
    }
    return out;
  }

  it('records nested deeper than MAX_DIRECTORY_DEPTH → DICOMDIR_INVALID (a 10 000-deep chain overflowed the stack of walkRecords)', async () => {
    // PRIVATE under PRIVATE is legal (PS3.3 Table F.4-1), so before the limit such a chain decoded
    // without an error, and every reader of the tree (walkRecords, verify) recursed 10 000 deep.
    await expect(decode(await chainOf(10_000))).rejects.toMatchObject({ code: 'DICOMDIR_INVALID', data: { depth: MAX_DIRECTORY_DEPTH + 1 } });
    const deepest = await decode(await chainOf(MAX_DIRECTORY_DEPTH));
    expect([...walkRecords(deepest.fileSet.roots)]).toHaveLength(MAX_DIRECTORY_DEPTH);
    await expect(decode(await chainOf(MAX_DIRECTORY_DEPTH + 1))).rejects.toMatchObject({ code: 'DICOMDIR_INVALID' });
  });
});

describe('decodeDicomdir: what is wrong but readable is a finding', () => {
  it('an inactive record is skipped with the records below it (info)', async () => {
    const bytes = encodeDicomdir(smallFileSet());
    const { records } = await layout(bytes);
    const d = await decode(patch(bytes, element(records[1], T.RecordInUseFlag), 0x0000));
    expect(d.fileSet.roots[0]?.children).toEqual([]);
    expect(d.findings).toEqual([expect.objectContaining({ code: 'DICOMDIR_INACTIVE', severity: 'info', recordType: 'STUDY', offset: (records[1] as DataSet).offset })]);
    expect(d.findings[0]?.message).toContain('3 record(s) below it');
  });

  it('an in-use flag that is neither FFFFH nor 0000H is read as in use (warning)', async () => {
    const bytes = encodeDicomdir(smallFileSet());
    const { records } = await layout(bytes);
    const d = await decode(patch(bytes, element(records[3], T.RecordInUseFlag), 0x1234));
    expect(codes(d.findings)).toEqual(['DICOMDIR_IN_USE_FLAG']);
    expect([...walkRecords(d.fileSet.roots)]).toHaveLength(5);
  });

  it('records no offset leads to are unreachable (error); (0004,1202) then disagrees (warning)', async () => {
    const bytes = encodeDicomdir(smallFileSet(2));
    const { records } = await layout(bytes);
    const d = await decode(patch(bytes, element(records[0], T.OffsetOfTheNextDirectoryRecord), 0));
    expect(d.fileSet.roots).toHaveLength(1);
    expect(codes(d.findings)).toEqual(['DICOMDIR_UNREACHABLE', 'DICOMDIR_LAST_OFFSET']);
    expect(d.findings[0]?.message).toMatch(/^5 of 10 records .*2 of them reference files/);
  });

  it('File-set Consistency Flag FFFFH (error)', async () => {
    const bytes = encodeDicomdir(smallFileSet());
    const { header } = await layout(bytes);
    const d = await decode(patch(bytes, element(header, T.FileSetConsistencyFlag), 0xffff));
    expect(codes(d.findings)).toEqual(['DICOMDIR_CONSISTENCY_FLAG']);
  });

  it('an empty File-set (warning)', async () => {
    const d = await decode(encodeDicomdir({ fileSetId: '', fileSetUID: '1.2.3', roots: [] }));
    expect(codes(d.findings)).toEqual(['DICOMDIR_EMPTY']);
    expect(d.fileSet.roots).toEqual([]);
  });

  it('hierarchy violations, unknown and invalid record types, bad File IDs; a File ID on PATIENT is legal', async () => {
    const image = instance('IMAGE', ['A', 'B'], CT_IMAGE, '1.2.3.1', [[T.InstanceNumber, 'IS', 1]]);
    const fs: FileSet = {
      fileSetId: 'X',
      fileSetUID: '1.2.3',
      descriptorFileId: ['read.me'],
      roots: [
        rec('PATIENT', [[T.PatientID, 'LO', 'P1']], [series('CT', '1.2.3.4', 1, [image])], { fileId: ['P1'] }),
        rec('SERIES', [[T.SeriesInstanceUID, 'UI', '1.2.3.5']]),
        rec('FOO BAR', [], [rec('IMAGE', [])]),
        rec('lower', []),
        instance('IMAGE', ['sub', 'im.dcm'], CT_IMAGE, '1.2.3.6', []),
        rec('PALETTE', [], [rec('PRIVATE', [], [rec('PRIVATE', [])], { privateRecordUID: '1.2.3.7' })]),
        rec('TOPIC', [], [rec('STUDY', [])]),
      ],
    };
    const d = await decode(encodeDicomdir(fs));
    const got = d.findings.map((f) => `${f.code} ${f.recordType ?? ''}`);
    expect(got).toEqual([
      'DICOMDIR_FILE_ID ', // the descriptor
      'DICOMDIR_HIERARCHY SERIES', // SERIES under PATIENT
      'DICOMDIR_HIERARCHY SERIES', // SERIES in the root
      'DICOMDIR_RECORD_TYPE_UNKNOWN FOO BAR', // its IMAGE child is not judged: the parent is unknown
      'DICOMDIR_RECORD_TYPE_INVALID lower',
      'DICOMDIR_FILE_ID IMAGE',
      'DICOMDIR_HIERARCHY IMAGE', // IMAGE in the root
      'DICOMDIR_RECORD_TYPE_RETIRED TOPIC',
    ]);
    for (const f of d.findings) expect(f.severity).toBe(DIRECTORY_FINDINGS[f.code as keyof typeof DIRECTORY_FINDINGS].severity);
    // Tolerant: the tree is still all there.
    expect(tree(d.fileSet)).toEqual(tree(fs));
  });
});

// ---- the corpus variants --------------------------------------------------------------------------

const DIR = path.join(CORPUS, 'fileset/dicomdirtests');

async function decodeFile(file: string): Promise<DecodedDicomdir> {
  const reader = await FileReader.open(file);
  try {
    return await decodeDicomdir(reader);
  } finally {
    await reader.close();
  }
}

/** The tree as plain data: types, references and every key as text, offsets left out. */
interface Node {
  type: string;
  fileId?: readonly string[] | undefined;
  sopInstanceUID?: string | undefined;
  keys: Array<[string, string | undefined]>;
  children: Node[];
}
function tree(fs: FileSet): Node[] {
  const node = (r: DirectoryRecord): Node => ({
    type: r.type,
    fileId: r.fileId,
    sopInstanceUID: r.sopInstanceUID,
    keys: [...r.keys.elements.keys()].map((t) => [t.toString(16).padStart(8, '0'), r.keys.string(t)]),
    children: r.children.map(node),
  });
  return fs.roots.map(node);
}

describe('decodeDicomdir: the corpus DICOMDIR variants (fileset/dicomdirtests/README.txt)', () => {
  it('the README is the one these expectations were written from', () => {
    const readme = readFileSync(path.join(DIR, 'README.txt'), 'utf8');
    for (const variant of ['DICOMDIR-bigEnd', 'DICOMDIR-implicit', 'DICOMDIR-nooffset', 'DICOMDIR-reordered', 'DICOMDIR-nopatient']) expect(readme).toContain(variant);
  });

  it('DICOMDIR (dcmmkdir): 2 patients, 6 studies, 31 instances, no findings', async () => {
    const d = await decodeFile(path.join(DIR, 'DICOMDIR'));
    expect(d.findings).toEqual([]);
    expect(d.fileSet.fileSetId).toBe('PYDICOM_TEST');
    expect(d.fileSet.roots.map((r) => r.keys.text(T.PatientID))).toEqual(['77654033', '98890234']);
    const all = [...walkRecords(d.fileSet.roots)];
    expect(all).toHaveLength(52);
    expect(all.filter((r) => r.type === 'STUDY')).toHaveLength(6);
    expect(all.filter((r) => r.fileId)).toHaveLength(31);
  });

  const sameTree: Array<[string, string[]]> = [
    // "created from DICOMDIR using dcmodify by changing the transfer syntax to Explicit Big Endian"
    ['DICOMDIR-bigEnd', ['DICOMDIR_TRANSFER_SYNTAX']],
    // "Created from DICOMDIR using pydicom's FileSet.write(force_implicit=True)"
    ['DICOMDIR-implicit', ['DICOMDIR_TRANSFER_SYNTAX']],
    // "created from DICOMDIR by removing some of the 0-offset tags": the last record lost both, and
    // its item length was not updated (the reader's ITEM_LENGTH warning).
    ['DICOMDIR-nooffset', ['ITEM_LENGTH', 'DICOMDIR_OFFSET_MISSING', 'DICOMDIR_OFFSET_MISSING']],
    // "reordering the first 4 entries (IMAGE - SERIES - STUDY - PATIENT) and adapting the offsets"
    ['DICOMDIR-reordered', ['DICOMDIR_RECORD_ORDER']],
  ];
  it.each(sameTree)('%s: the same tree as DICOMDIR, with findings %j', async (variant, expected) => {
    const main = await decodeFile(path.join(DIR, 'DICOMDIR'));
    const d = await decodeFile(path.join(DIR, variant));
    expect(codes(d.findings)).toEqual(expected);
    expect(tree(d.fileSet)).toEqual(tree(main.fileSet));
  });

  it('DICOMDIR-bigEnd and -implicit say which syntax they are in', async () => {
    expect((await decodeFile(path.join(DIR, 'DICOMDIR-bigEnd'))).transferSyntaxUID).toBe('1.2.840.10008.1.2.2');
    expect((await decodeFile(path.join(DIR, 'DICOMDIR-implicit'))).transferSyntaxUID).toBe('1.2.840.10008.1.2');
  });

  it('DICOMDIR-nooffset: the missing offsets are on the last record, read as 0', async () => {
    const d = await decodeFile(path.join(DIR, 'DICOMDIR-nooffset'));
    const missing = d.findings.filter((f) => f.code === 'DICOMDIR_OFFSET_MISSING');
    expect(missing.map((f) => f.message)).toEqual([expect.stringContaining('(0004,1400)'), expect.stringContaining('(0004,1420)')]);
    const last = [...walkRecords(d.fileSet.roots)].pop();
    expect(missing.every((f) => f.offset === last?.offset && f.recordType === 'IMAGE')).toBe(true);
  });

  it('DICOMDIR-reordered: the offsets, not the item order, make the tree', async () => {
    const d = await decodeFile(path.join(DIR, 'DICOMDIR-reordered'));
    const first = [...walkRecords(d.fileSet.roots)].slice(0, 4);
    expect(first.map((r) => `${r.type}@${r.offset}`)).toEqual(['PATIENT@976', 'STUDY@762', 'SERIES@630', 'IMAGE@396']);
    expect(d.findings[0]).toMatchObject({ severity: 'info', offset: 762, recordType: 'STUDY' });
  });

  it('DICOMDIR-nopatient: the PATIENT records have type UNKNOWN; (0004,1200) points at the IMAGE record', async () => {
    // "created from DICOMDIR by changing the type of the patient records to an invalid type". It was
    // made from -reordered, with (0004,1200) set to 396: the root holds the IMAGE record alone.
    const d = await decodeFile(path.join(DIR, 'DICOMDIR-nopatient'));
    expect(codes(d.findings).sort()).toEqual(
      ['DICOMDIR_HIERARCHY', 'DICOMDIR_LAST_OFFSET', 'DICOMDIR_RECORD_TYPE_UNKNOWN', 'DICOMDIR_RECORD_TYPE_UNKNOWN', 'DICOMDIR_UNREACHABLE'].sort(),
    );
    const unknown = d.findings.filter((f) => f.code === 'DICOMDIR_RECORD_TYPE_UNKNOWN');
    expect(unknown.map((f) => [f.recordType, f.offset])).toEqual([
      ['UNKNOWN', 976],
      ['UNKNOWN', 3126],
    ]);
    expect(d.findings.find((f) => f.code === 'DICOMDIR_HIERARCHY')).toMatchObject({ severity: 'error', recordType: 'IMAGE', offset: 396 });
    expect(d.findings.find((f) => f.code === 'DICOMDIR_UNREACHABLE')?.message).toMatch(/^51 of 52 records .*30 of them reference files/);
    expect(d.fileSet.roots.map((r) => [r.type, r.fileId?.join('\\'), r.children.length])).toEqual([['IMAGE', '77654033\\CR1\\6154', 0]]);
  });

  it('DICOMDIR-empty.dcm: an empty File-set', async () => {
    const d = await decodeFile(path.join(DIR, 'DICOMDIR-empty.dcm'));
    expect(codes(d.findings)).toEqual(['DICOMDIR_EMPTY']);
    expect(d.fileSet.roots).toEqual([]);
    expect(d.fileSet.fileSetId).toBe('PYDICOM_TEST');
  });
});
