/**
 * IRWF coercion on synthetic data sets (src/dicom/reconcile/coerce.ts): what is replaced, what is
 * kept in Other Patient IDs Sequence (PS3.3 C.7.1.1) and Original Attributes Sequence (C.12.1.1.9),
 * that nothing is added when the instance is already local, and how new text meets the instance's
 * Specific Character Set (C.12.1.1.2).
 */
import { describe, expect, it } from 'vitest';
import { DataSet } from '../../../src/dicom/dataset.js';
import { keywordOf, lookupKeyword } from '../../../src/dicom/dictionary.js';
import { readPart10Header } from '../../../src/dicom/part10/header.js';
import { buildDataSet, ELE, encodeFileMeta, makeElement, type ElementValue } from '../../../src/dicom/part10/writer.js';
import { T } from '../../../src/dicom/tags.js';
import type { VR } from '../../../src/dicom/vr.js';
import { coerceDataSet, encodeHeaderDataSet, encoderFor, formatDateTime, modifiedKeywords, RT, type LocalIdentity } from '../../../src/dicom/reconcile/index.js';
import { DcmsafeError } from '../../../src/errors/index.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';

const CTX = { modifyingSystem: 'dcmsafe 0.1.0', now: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)) };
const NOW_DT = '20240506070809.010000+0000';
const UIDS = { sop: '1.2.826.0.1.3680043.8.498.11', study: '1.2.826.0.1.3680043.8.498.12', series: '1.2.826.0.1.3680043.8.498.13' };
const LOCAL: LocalIdentity = { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP', patientName: 'Local^Patient', birthDate: '19800214', sex: 'F', accessionNumber: 'LACC1', accessionIssuer: 'LOCAL_RIS' };

type Entry = [number, VR, ElementValue];

function foreign(extra: Entry[] = [], name: ElementValue = 'Foreign^Name'): DataSet {
  return buildDataSet([
    [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
    [T.SOPInstanceUID, 'UI', UIDS.sop],
    [T.StudyInstanceUID, 'UI', UIDS.study],
    [T.SeriesInstanceUID, 'UI', UIDS.series],
    [T.AccessionNumber, 'SH', 'FACC9'],
    [T.PatientName, 'PN', name],
    [T.PatientID, 'LO', 'F123'],
    [T.IssuerOfPatientID, 'LO', 'FOREIGN_HOSP'],
    [T.PatientBirthDate, 'DA', '19800214'],
    [T.PatientSex, 'CS', 'M'],
    ...extra,
  ]);
}

/** Encodes and reads back with our reader, so the assertions see what another reader would. */
async function roundTrip(ds: DataSet): Promise<DataSet> {
  const bytes = Buffer.concat([encodeFileMeta({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: UIDS.sop, transferSyntaxUID: '1.2.840.10008.1.2.1' }), encodeHeaderDataSet(ds)]);
  const h = await readPart10Header(new BufferReader(bytes, 'coerced'));
  expect(h.warnings).toEqual([]);
  return h.dataSet;
}

function codeOf(f: () => unknown): DcmsafeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DcmsafeError);
    return e as DcmsafeError;
  }
  throw new Error('nothing was thrown');
}

describe('coerceDataSet', () => {
  it('uses the tags of PS3.6 under their keywords', () => {
    for (const [keyword, tag] of Object.entries(RT)) expect(lookupKeyword(keyword)?.tag, keyword).toBe(tag);
  });

  it('replaces the identity, keeps the foreign ID, and records the prior values', async () => {
    const input = foreign();
    const before = encodeHeaderDataSet(input);
    const { dataSet, coercion } = coerceDataSet(input, LOCAL, CTX);
    expect(encodeHeaderDataSet(input).equals(before)).toBe(true); // the input is untouched

    expect(coercion.changes).toEqual([
      { keyword: 'PatientID', from: 'F123', to: 'LOC-0001' },
      { keyword: 'IssuerOfPatientID', from: 'FOREIGN_HOSP', to: 'LOCAL_HOSP' },
      { keyword: 'PatientName', from: 'Foreign^Name', to: 'Local^Patient' },
      { keyword: 'PatientSex', from: 'M', to: 'F' },
      { keyword: 'AccessionNumber', from: 'FACC9', to: 'LACC1' },
      { keyword: 'IssuerOfAccessionNumberSequence', from: '', to: 'LOCAL_RIS' },
    ]);
    expect(coercion.foreignPatientId).toBe('F123');
    expect(coercion.foreignIssuer).toBe('FOREIGN_HOSP');

    const ds = await roundTrip(dataSet);
    expect(ds.text(T.PatientID)).toBe('LOC-0001');
    expect(ds.text(T.IssuerOfPatientID)).toBe('LOCAL_HOSP');
    expect(ds.text(T.PatientName)).toBe('Local^Patient');
    expect(ds.text(T.PatientBirthDate)).toBe('19800214'); // unchanged, so not listed
    expect(ds.text(T.PatientSex)).toBe('F');
    expect(ds.text(T.AccessionNumber)).toBe('LACC1');
    expect(ds.items(RT.IssuerOfAccessionNumberSequence).map((i) => i.text(RT.LocalNamespaceEntityID))).toEqual(['LOCAL_RIS']);
    expect(ds.text(RT.InstanceCoercionDateTime)).toBe(NOW_DT);
    expect(ds.text(T.SOPInstanceUID)).toBe(UIDS.sop);
    expect(ds.text(T.StudyInstanceUID)).toBe(UIDS.study);
    expect(ds.text(T.SeriesInstanceUID)).toBe(UIDS.series);

    const others = ds.items(RT.OtherPatientIDsSequence);
    expect(others).toHaveLength(1);
    expect(others[0]?.text(T.PatientID)).toBe('F123');
    expect(others[0]?.text(T.IssuerOfPatientID)).toBe('FOREIGN_HOSP');
    expect(others[0]?.text(RT.TypeOfPatientID)).toBe('TEXT');

    const original = ds.items(RT.OriginalAttributesSequence);
    expect(original).toHaveLength(1);
    const oa = original[0] as DataSet;
    expect(oa.text(RT.SourceOfPreviousValues)).toBe('FOREIGN_HOSP');
    expect(oa.text(RT.AttributeModificationDateTime)).toBe(NOW_DT);
    expect(oa.text(RT.ModifyingSystem)).toBe('dcmsafe 0.1.0');
    expect(oa.text(RT.ReasonForTheAttributeModification)).toBe('COERCE');
    expect(oa.items(RT.ModifiedAttributesSequence)).toHaveLength(1);
    const mod = oa.items(RT.ModifiedAttributesSequence)[0] as DataSet;
    expect(modifiedKeywords(oa)).toEqual([
      'InstanceCoercionDateTime',
      'AccessionNumber',
      'IssuerOfAccessionNumberSequence',
      'PatientName',
      'PatientID',
      'IssuerOfPatientID',
      'PatientSex',
      'OtherPatientIDsSequence',
    ]);
    expect(mod.text(T.PatientID)).toBe('F123');
    expect(mod.text(T.IssuerOfPatientID)).toBe('FOREIGN_HOSP');
    expect(mod.text(T.PatientName)).toBe('Foreign^Name');
    expect(mod.text(T.PatientSex)).toBe('M');
    expect(mod.text(T.AccessionNumber)).toBe('FACC9');
    // Absent before: listed with a zero-length value (PS3.3 C.12.1.1.9.1).
    expect(mod.get(RT.InstanceCoercionDateTime)?.length).toBe(0);
    expect(mod.get(RT.OtherPatientIDsSequence)?.items).toEqual([]);
    expect(mod.get(RT.IssuerOfAccessionNumberSequence)?.items).toEqual([]);
  });

  it('keeps existing Other Patient IDs and Original Attributes items and appends one of each', async () => {
    const oldItem = buildDataSet([
      [RT.SourceOfPreviousValues, 'LO', 'EARLIER'],
      [RT.AttributeModificationDateTime, 'DT', '20200101000000+0100'],
      [RT.ModifyingSystem, 'LO', 'OTHER PACS'],
      [RT.ReasonForTheAttributeModification, 'CS', 'CORRECT'],
      [RT.ModifiedAttributesSequence, 'SQ', [buildDataSet([[T.PatientName, 'PN', 'Typo^Name']])]],
    ]);
    const otherId = buildDataSet([
      [T.PatientID, 'LO', 'X9'],
      [T.IssuerOfPatientID, 'LO', 'THIRD'],
      [RT.TypeOfPatientID, 'CS', 'TEXT'],
    ]);
    const input = foreign([
      [RT.OriginalAttributesSequence, 'SQ', [oldItem]],
      [RT.OtherPatientIDsSequence, 'SQ', [otherId]],
      [RT.InstanceCoercionDateTime, 'DT', '20200101000000+0100'],
    ]);
    const ds = await roundTrip(coerceDataSet(input, { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP' }, CTX).dataSet);
    const oa = ds.items(RT.OriginalAttributesSequence);
    expect(oa.map((i) => i.text(RT.ModifyingSystem))).toEqual(['OTHER PACS', 'dcmsafe 0.1.0']);
    expect(oa[0]?.items(RT.ModifiedAttributesSequence)[0]?.text(T.PatientName)).toBe('Typo^Name');
    expect(ds.items(RT.OtherPatientIDsSequence).map((i) => i.text(T.PatientID))).toEqual(['X9', 'F123']);
    const mod = oa[1]?.items(RT.ModifiedAttributesSequence)[0] as DataSet;
    expect(modifiedKeywords(oa[1] as DataSet)).toEqual(['InstanceCoercionDateTime', 'PatientID', 'IssuerOfPatientID', 'OtherPatientIDsSequence']);
    // The whole prior value of a sequence that changed, and the prior coercion time.
    expect(mod.items(RT.OtherPatientIDsSequence).map((i) => i.text(T.PatientID))).toEqual(['X9']);
    expect(mod.text(RT.InstanceCoercionDateTime)).toBe('20200101000000+0100');
    expect(ds.text(T.PatientName)).toBe('Foreign^Name'); // not given, not touched
  });

  it('changes nothing and adds nothing when the instance is already local', () => {
    const input = foreign();
    const local: LocalIdentity = { patientId: 'F123', issuerOfPatientId: 'FOREIGN_HOSP', patientName: 'Foreign^Name^^', birthDate: '19800214', sex: 'M', accessionNumber: 'FACC9' };
    const { dataSet, coercion } = coerceDataSet(input, local, CTX);
    expect(coercion).toEqual({ changes: [] });
    expect(encodeHeaderDataSet(dataSet).equals(encodeHeaderDataSet(input))).toBe(true);
    expect(dataSet.has(RT.OriginalAttributesSequence)).toBe(false);
    expect(dataSet.has(RT.InstanceCoercionDateTime)).toBe(false);
    expect(dataSet.has(RT.OtherPatientIDsSequence)).toBe(false);
  });

  it('adds a missing issuer to the same Patient ID without keeping it as another ID', async () => {
    const input = foreign();
    input.delete(T.IssuerOfPatientID);
    const { dataSet, coercion } = coerceDataSet(input, { patientId: 'F123', issuerOfPatientId: 'LOCAL_HOSP' }, CTX);
    expect(coercion.changes).toEqual([{ keyword: 'IssuerOfPatientID', from: '', to: 'LOCAL_HOSP' }]);
    expect(coercion.foreignPatientId).toBeUndefined();
    const ds = await roundTrip(dataSet);
    expect(ds.has(RT.OtherPatientIDsSequence)).toBe(false);
    const oa = ds.items(RT.OriginalAttributesSequence)[0] as DataSet;
    expect(modifiedKeywords(oa)).toEqual(['InstanceCoercionDateTime', 'IssuerOfPatientID']);
    expect(oa.items(RT.ModifiedAttributesSequence)[0]?.get(T.IssuerOfPatientID)?.length).toBe(0);
    expect(oa.get(RT.SourceOfPreviousValues)?.length).toBe(0);
  });

  it('keeps the same Patient ID from another issuer as another ID', async () => {
    const { dataSet, coercion } = coerceDataSet(foreign(), { patientId: 'F123', issuerOfPatientId: 'LOCAL_HOSP' }, CTX);
    expect(coercion.foreignPatientId).toBe('F123');
    const ds = await roundTrip(dataSet);
    expect(ds.items(RT.OtherPatientIDsSequence)[0]?.text(T.IssuerOfPatientID)).toBe('FOREIGN_HOSP');
    // Patient ID itself did not change: it is not listed (its issuer is).
    expect(modifiedKeywords(ds.items(RT.OriginalAttributesSequence)[0] as DataSet)).toEqual(['InstanceCoercionDateTime', 'IssuerOfPatientID', 'OtherPatientIDsSequence']);
  });

  it('moves the foreign issuer qualifiers into the Other Patient IDs item and keeps the foreign Type of Patient ID', async () => {
    const qualifiers = buildDataSet([[0x00400032, 'UT', '2.16.840.1.113883.19.5'], [0x00400033, 'CS', 'ISO']]);
    const input = foreign([
      [RT.IssuerOfPatientIDQualifiersSequence, 'SQ', [qualifiers]],
      [RT.TypeOfPatientID, 'CS', 'RFID'],
    ]);
    const { dataSet, coercion } = coerceDataSet(input, { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP' }, CTX);
    expect(coercion.changes.map((c) => c.keyword)).toContain('IssuerOfPatientIDQualifiersSequence');
    const ds = await roundTrip(dataSet);
    expect(ds.has(RT.IssuerOfPatientIDQualifiersSequence)).toBe(false);
    const item = ds.items(RT.OtherPatientIDsSequence)[0] as DataSet;
    expect(item.items(RT.IssuerOfPatientIDQualifiersSequence)[0]?.text(0x00400032)).toBe('2.16.840.1.113883.19.5');
    expect(item.text(RT.TypeOfPatientID)).toBe('RFID');
    const mod = ds.items(RT.OriginalAttributesSequence)[0]?.items(RT.ModifiedAttributesSequence)[0] as DataSet;
    expect(mod.items(RT.IssuerOfPatientIDQualifiersSequence)).toHaveLength(1);
  });

  it('removes the foreign accession issuer when only the accession number is given', async () => {
    const issuer = buildDataSet([[RT.LocalNamespaceEntityID, 'UT', 'FOREIGN_RIS']]);
    const input = foreign([[RT.IssuerOfAccessionNumberSequence, 'SQ', [issuer]]]);
    const { dataSet, coercion } = coerceDataSet(input, { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP', accessionNumber: 'LACC1' }, CTX);
    expect(coercion.changes).toContainEqual({ keyword: 'IssuerOfAccessionNumberSequence', from: 'FOREIGN_RIS', to: '' });
    const ds = await roundTrip(dataSet);
    expect(ds.has(RT.IssuerOfAccessionNumberSequence)).toBe(false);
    const mod = ds.items(RT.OriginalAttributesSequence)[0]?.items(RT.ModifiedAttributesSequence)[0] as DataSet;
    expect(mod.items(RT.IssuerOfAccessionNumberSequence)[0]?.text(RT.LocalNamespaceEntityID)).toBe('FOREIGN_RIS');
  });

  it('refuses what it cannot apply with RECONCILE_CONFLICT (a usage error)', () => {
    const cases: Array<Partial<LocalIdentity>> = [
      { patientId: '' },
      { issuerOfPatientId: '  ' },
      { birthDate: '19801340' },
      { birthDate: '1980-02-14' },
      { accessionNumber: 'MUCH-TOO-LONG-ACCESSION' },
      { patientId: 'A\\B' },
      { patientName: '' },
      { patientName: 'A^B^C^D^E^F' },
    ];
    for (const c of cases) {
      const e = codeOf(() => coerceDataSet(foreign(), { ...LOCAL, ...c }, CTX));
      expect(e.code, JSON.stringify(c)).toBe('RECONCILE_CONFLICT');
      expect(e.fault).toBe('usage');
    }
    const noAccession = { patientId: 'L', issuerOfPatientId: 'I', accessionIssuer: 'RIS' };
    expect(codeOf(() => coerceDataSet(foreign(), noAccession, CTX)).code).toBe('RECONCILE_CONFLICT');
    expect(codeOf(() => coerceDataSet(foreign(), LOCAL, { ...CTX, modifyingSystem: '' })).code).toBe('RECONCILE_CONFLICT');
  });

  it('formats DT with its UTC offset', () => {
    expect(formatDateTime(new Date(Date.UTC(1999, 11, 31, 23, 59, 58, 7)))).toBe('19991231235958.007000+0000');
  });
});

describe('coerceDataSet and Specific Character Set', () => {
  const latin1Name = Buffer.from('Müller^Jürgen', 'latin1');

  it('writes a Latin-1 name into a Latin-1 instance as Latin-1', async () => {
    const input = foreign([[T.SpecificCharacterSet, 'CS', 'ISO_IR 100']], latin1Name);
    const { dataSet, coercion } = coerceDataSet(input, { ...LOCAL, patientName: 'Böhm^Zoë' }, CTX);
    expect(dataSet.text(T.SpecificCharacterSet)).toBe('ISO_IR 100');
    expect(dataSet.bytes(T.PatientName)?.equals(Buffer.from('Böhm^Zoë', 'latin1'))).toBe(true);
    expect(coercion.changes.find((c) => c.keyword === 'PatientName')).toEqual({ keyword: 'PatientName', from: 'Müller^Jürgen', to: 'Böhm^Zoë' });
    const ds = await roundTrip(dataSet);
    expect(ds.text(T.PatientName)).toBe('Böhm^Zoë');
    const mod = ds.items(RT.OriginalAttributesSequence)[0]?.items(RT.ModifiedAttributesSequence)[0] as DataSet;
    expect(mod.text(T.PatientName)).toBe('Müller^Jürgen'); // the item inherits ISO_IR 100
    expect(mod.has(T.SpecificCharacterSet)).toBe(false);
  });

  it('switches an ASCII instance to ISO_IR 192 for a name its repertoire lacks', async () => {
    for (const scs of [undefined, 'ISO_IR 100']) {
      const input = foreign(scs ? [[T.SpecificCharacterSet, 'CS', scs]] : [], 'Wang^XiaoDong');
      const { dataSet, coercion } = coerceDataSet(input, { ...LOCAL, patientName: '王^小东' }, CTX);
      expect(coercion.changes).toContainEqual({ keyword: 'SpecificCharacterSet', from: scs ?? '', to: 'ISO_IR 192' });
      expect(dataSet.text(T.SpecificCharacterSet)).toBe('ISO_IR 192');
      expect(dataSet.bytes(T.PatientName)?.equals(Buffer.from('王^小东', 'utf8'))).toBe(true);
      const ds = await roundTrip(dataSet);
      expect(ds.text(T.PatientName)).toBe('王^小东');
      const oa = ds.items(RT.OriginalAttributesSequence)[0] as DataSet;
      expect(modifiedKeywords(oa)).toContain('SpecificCharacterSet');
      const mod = oa.items(RT.ModifiedAttributesSequence)[0] as DataSet;
      expect(mod.text(T.SpecificCharacterSet)).toBe(scs); // absent before: zero length
      expect(mod.text(T.PatientName)).toBe('Wang^XiaoDong');
    }
  });

  it('refuses a Chinese name for a Latin-1 instance holding non-ASCII text (RECONCILE_CHARSET)', () => {
    const input = foreign([[T.SpecificCharacterSet, 'CS', 'ISO_IR 100']], latin1Name);
    const e = codeOf(() => coerceDataSet(input, { ...LOCAL, patientName: '王^小东' }, CTX));
    expect(e.code).toBe('RECONCILE_CHARSET');
    expect(e.fault).toBe('input');
    expect(e.data.keyword).toBe('PatientName');
    expect(e.message).toContain('PatientName');
  });

  it('looks for non-ASCII text in nested items too', () => {
    const nested = buildDataSet([[T.CodeMeaning, 'LO', Buffer.from('Schädel', 'latin1')]]);
    const input = foreign([[T.SpecificCharacterSet, 'CS', 'ISO_IR 100'], [T.ConceptNameCodeSequence, 'SQ', [nested]]]);
    expect(codeOf(() => coerceDataSet(input, { ...LOCAL, patientName: '王^小东' }, CTX)).code).toBe('RECONCILE_CHARSET');
  });

  it('writes single-byte and GB18030 repertoires with their own bytes', async () => {
    const cyrillic = foreign([[T.SpecificCharacterSet, 'CS', 'ISO_IR 144']], Buffer.from([0xbb, 0xee, 0xdd, 0xe0]));
    const cy = await roundTrip(coerceDataSet(cyrillic, { ...LOCAL, patientName: 'Иванов^Иван' }, CTX).dataSet);
    expect(cy.text(T.SpecificCharacterSet)).toBe('ISO_IR 144');
    expect(cy.text(T.PatientName)).toBe('Иванов^Иван');
    expect(cy.bytes(T.PatientName)?.length).toBe('Иванов^Иван'.length);

    const gb = foreign([[T.SpecificCharacterSet, 'CS', 'GB18030']], Buffer.from([0xcd, 0xf5, 0x5e, 0xd0, 0xa1, 0xb6, 0xab])); // 王^小东
    const out = await roundTrip(coerceDataSet(gb, { ...LOCAL, patientName: '李^华' }, CTX).dataSet);
    expect(out.text(T.SpecificCharacterSet)).toBe('GB18030');
    expect(out.text(T.PatientName)).toBe('李^华');
    expect(out.items(RT.OriginalAttributesSequence)[0]?.items(RT.ModifiedAttributesSequence)[0]?.text(T.PatientName)).toBe('王^小东');
  });

  it('encoders refuse what their repertoire lacks', () => {
    expect(encoderFor([])('Zoë')).toBeUndefined();
    expect(encoderFor(['ISO_IR 100'])('Zoë')?.equals(Buffer.from([0x5a, 0x6f, 0xeb]))).toBe(true);
    expect(encoderFor(['ISO_IR 100'])('王')).toBeUndefined();
    expect(encoderFor(['ISO 2022 IR 6', 'ISO 2022 IR 87'])('山田')).toBeUndefined();
    expect(encoderFor(['ISO 2022 IR 6', 'ISO 2022 IR 87'])('Yamada^Tarou')?.toString('latin1')).toBe('Yamada^Tarou');
    expect(encoderFor(['ISO_IR 192'])('王')?.equals(Buffer.from('王', 'utf8'))).toBe(true);
  });

  it('adds items that inherit the switched character set (checked in a nested item)', async () => {
    const input = foreign([], 'Wang^XiaoDong');
    const ds = await roundTrip(coerceDataSet(input, { ...LOCAL, patientName: '王^小东', accessionIssuer: 'RIS-东' }, CTX).dataSet);
    expect(ds.items(RT.IssuerOfAccessionNumberSequence)[0]?.text(RT.LocalNamespaceEntityID)).toBe('RIS-东');
    expect(keywordOf(RT.LocalNamespaceEntityID)).toBe('LocalNamespaceEntityID');
  });

  it('keeps a makeElement-built data set and its copy apart', () => {
    const input = new DataSet(ELE);
    input.set(makeElement(T.PatientID, 'LO', 'F1'));
    const { dataSet } = coerceDataSet(input, { patientId: 'L1', issuerOfPatientId: 'I' }, CTX);
    expect(input.text(T.PatientID)).toBe('F1');
    expect(dataSet.text(T.PatientID)).toBe('L1');
  });
});
