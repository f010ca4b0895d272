import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeDicomdir } from '../../../src/dicom/dicomdir/encode.js';
import { planFileSet, patientNameKey, type PlanOptions } from '../../../src/dicom/fileset/plan.js';
import { scanFile, type ScanResult } from '../../../src/dicom/fileset/scan.js';
import { findProfile } from '../../../src/dicom/profiles/profiles.js';
import { T } from '../../../src/dicom/tags.js';
import { fixedClock } from '../../../src/util/clock.js';
import { encodeFileMeta, buildDataSet, encodeDataSet } from '../../../src/dicom/part10/writer.js';
import { tempDir } from '../../helpers/env.js';
import { writeImplicitInstance, writeInstance } from '../../helpers/synthetic.js';

const options: PlanOptions = {
  profile: findProfile('STD-GEN-CD'),
  fileSetId: 'TEST',
  fileSetUID: '1.2.3.4.5',
  clock: fixedClock('2026-01-02T03:04:05Z'),
};

function dir(): string {
  return tempDir('dcmsafe-plan-'); // removed after the file's tests
}

async function scanAll(files: string[]): Promise<ScanResult[]> {
  return Promise.all(files.map((f) => scanFile(f)));
}

describe('planning a File-set', () => {
  it('refuses one Patient ID with two different patients, and merges them only when allowed', async () => {
    const d = dir();
    const scans = await scanAll([
      writeInstance(d, 'a', { patientId: 'P1', patientName: 'Doe^John', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
      writeInstance(d, 'b', { patientId: 'P1', patientName: 'Roe^Richard', study: '1.2', series: '1.2.1', sop: '1.2.1.1' }),
    ]);
    expect(() => planFileSet(scans, options)).toThrow(expect.objectContaining({ code: 'FILESET_PATIENT_CONFLICT' }));
    const plan = planFileSet(scans, { ...options, allowPatientMismatch: true });
    expect(plan.fileSet.roots.filter((r) => r.type === 'PATIENT')).toHaveLength(1);
    expect(plan.patientMismatches[0]?.variants).toHaveLength(2);
  });

  it('treats the same name in other case or with empty trailing components as the same patient', async () => {
    expect(patientNameKey('DOE^JOHN^^')).toBe(patientNameKey('Doe^John'));
    const d = dir();
    const scans = await scanAll([
      writeInstance(d, 'a', { patientId: 'P1', patientName: 'DOE^JOHN', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
      writeInstance(d, 'b', { patientId: 'P1', patientName: 'Doe^John^^', study: '1.1', series: '1.1.1', sop: '1.1.1.2' }),
    ]);
    expect(planFileSet(scans, options).instances).toHaveLength(2);
  });

  it('refuses the same Patient ID with another birth date', async () => {
    const d = dir();
    const scans = await scanAll([
      writeInstance(d, 'a', { patientId: 'P1', birthDate: '19700101', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
      writeInstance(d, 'b', { patientId: 'P1', birthDate: '19800101', study: '1.2', series: '1.2.1', sop: '1.2.1.1' }),
    ]);
    expect(() => planFileSet(scans, options)).toThrow(expect.objectContaining({ code: 'FILESET_PATIENT_CONFLICT' }));
  });

  it('refuses a study that appears under two patients', async () => {
    const d = dir();
    const scans = await scanAll([
      writeInstance(d, 'a', { patientId: 'P1', patientName: 'A^A', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
      writeInstance(d, 'b', { patientId: 'P2', patientName: 'B^B', study: '1.1', series: '1.1.2', sop: '1.1.2.1' }),
    ]);
    expect(() => planFileSet(scans, options)).toThrow(expect.objectContaining({ code: 'FILESET_PATIENT_CONFLICT' }));
  });

  it('merges files of one SOP Instance that agree, keeping the one the profile takes as it is', async () => {
    const d = dir();
    const spec = { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1', instanceNumber: 1 };
    const scans = await scanAll([writeImplicitInstance(d, 'implicit', spec), writeInstance(d, 'explicit', spec)]);
    const plan = planFileSet(scans, options);
    expect(plan.instances).toHaveLength(1);
    expect(plan.instances[0]?.instance.path).toBe(path.join(d, 'explicit'));
    expect(plan.instances[0]?.kind).toBe('copy');
    expect(plan.merged).toEqual([{ sopInstanceUID: '1.1.1.1', kept: path.join(d, 'explicit'), dropped: [path.join(d, 'implicit')] }]);
  });

  it('refuses files of one SOP Instance whose attributes disagree, naming the attributes', async () => {
    const d = dir();
    const scans = await scanAll([
      writeInstance(d, 'a', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1', instanceNumber: 1 }),
      writeInstance(d, 'b', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1', instanceNumber: 2 }),
    ]);
    expect(() => planFileSet(scans, options)).toThrow(/InstanceNumber/);
  });

  it('re-encodes what the profile does not take, and copies what it does', async () => {
    const d = dir();
    const scans = await scanAll([
      writeImplicitInstance(d, 'a', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
      writeInstance(d, 'b', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.2' }),
    ]);
    const plan = planFileSet(scans, options);
    expect(plan.instances.map((i) => i.kind).sort()).toEqual(['copy', 'reencode']);
    expect(plan.instances.every((i) => i.outputTransferSyntaxUID === '1.2.840.10008.1.2.1')).toBe(true);
  });

  it('refuses a transfer syntax nobody can convert, naming the file', async () => {
    const d = dir();
    const mpeg = path.join(d, 'video');
    const ds = buildDataSet([
      [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.77.1.4.1'],
      [T.SOPInstanceUID, 'UI', '9.9'],
      [T.PatientID, 'LO', 'P1'],
      [T.StudyInstanceUID, 'UI', '9.1'],
      [T.SeriesInstanceUID, 'UI', '9.1.1'],
    ]);
    writeFileSync(mpeg, Buffer.concat([encodeFileMeta({ sopClassUID: '1.2.840.10008.5.1.4.1.1.77.1.4.1', sopInstanceUID: '9.9', transferSyntaxUID: '1.2.840.10008.1.2.4.102' }), encodeDataSet(ds)]));
    const scans = await scanAll([mpeg]);
    expect(() => planFileSet(scans, options)).toThrow(expect.objectContaining({ code: 'FILESET_PROFILE_REFUSED', message: expect.stringContaining('video') }));
  });

  it('generates Patient IDs for instances without one, grouped by name and birth date', async () => {
    const d = dir();
    const scans = await scanAll([
      writeInstance(d, 'a', { patientName: 'Anon^A', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
      writeInstance(d, 'b', { patientName: 'ANON^A^^', study: '1.1', series: '1.1.1', sop: '1.1.1.2' }),
      writeInstance(d, 'c', { patientName: 'Anon^B', study: '1.2', series: '1.2.1', sop: '1.2.1.1' }),
    ]);
    const plan = planFileSet(scans, options);
    expect(plan.generatedPatientIds).toHaveLength(2);
    expect(plan.generatedPatientIds.map((g) => g.files).sort()).toEqual([1, 2]);
    const ids = plan.fileSet.roots.map((r) => r.keys.text(T.PatientID));
    expect(ids.every((id) => id?.startsWith('DCMSAFE-'))).toBe(true);
  });

  it('supplies missing Type 1 keys and says so', async () => {
    const d = dir();
    const scans = await scanAll([writeInstance(d, 'a', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1' })]);
    const plan = planFileSet(scans, options);
    const supplied = plan.records.supplied.map((s) => `${s.record}.${s.key}=${s.value}`).sort();
    expect(supplied).toEqual(['IMAGE.InstanceNumber=1', 'SERIES.SeriesNumber=1', 'STUDY.StudyDate=20260102', 'STUDY.StudyID=1', 'STUDY.StudyTime=030405']);
  });

  it('gives the same DICOMDIR whatever the input order', async () => {
    const d = dir();
    const files = [
      writeInstance(d, 'a', { patientId: 'P2', patientName: 'B^B', study: '2.1', series: '2.1.1', sop: '2.1.1.1', instanceNumber: 2 }),
      writeInstance(d, 'b', { patientId: 'P1', patientName: 'A^A', study: '1.1', series: '1.1.1', sop: '1.1.1.1', studyDate: '20200101' }),
      writeInstance(d, 'c', { patientId: 'P2', patientName: 'B^B', study: '2.1', series: '2.1.1', sop: '2.1.1.2', instanceNumber: 1 }),
      writeInstance(d, 'd', { patientId: 'P1', patientName: 'A^A', study: '1.2', series: '1.2.1', sop: '1.2.1.1', studyDate: '20190101' }),
    ];
    const forward = encodeDicomdir(planFileSet(await scanAll(files), options).fileSet);
    const backward = encodeDicomdir(planFileSet(await scanAll([...files].reverse()), options).fileSet);
    expect(backward.equals(forward)).toBe(true);
    const plan = planFileSet(await scanAll(files), options);
    expect(plan.instances.map((i) => i.fileId.join('/'))).toEqual([
      'DICOM/PA000001/ST000001/SE000001/IM000001',
      'DICOM/PA000001/ST000002/SE000001/IM000001',
      'DICOM/PA000002/ST000001/SE000001/IM000001',
      'DICOM/PA000002/ST000001/SE000001/IM000002',
    ]);
    expect(plan.instances[0]?.instance.sopInstanceUID).toBe('1.2.1.1'); // the 2019 study first
    expect(plan.instances[2]?.instance.sopInstanceUID).toBe('2.1.1.2'); // instance number 1 first
  });

  it('lists non-DICOM inputs and instances it cannot place', async () => {
    const d = dir();
    writeFileSync(path.join(d, 'notes.txt'), 'hello, this is not DICOM');
    const scans = await scanAll([
      path.join(d, 'notes.txt'),
      writeInstance(d, 'nostudy', { patientId: 'P1', sop: '3.3' }),
      writeInstance(d, 'ok', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1' }),
    ]);
    const plan = planFileSet(scans, options);
    expect(plan.skipped.map((s) => s.reason).sort()).toEqual(['missing-identifiers', 'not-dicom']);
    expect(plan.instances).toHaveLength(1);
  });

  it('refuses unreadable DICOM files unless told to leave them out', async () => {
    const d = dir();
    const good = writeInstance(d, 'good', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1' });
    const bytes = encodeFileMeta({ sopClassUID: '1.2', sopInstanceUID: '1.3', transferSyntaxUID: '1.2.840.10008.1.2.1' });
    const broken = path.join(d, 'broken');
    writeFileSync(broken, Buffer.concat([bytes, Buffer.from([0x10, 0x00, 0x10, 0x00, 0x50, 0x4e, 0x40, 0x00, 0x41])]));
    const scans = await scanAll([good, broken]);
    expect(() => planFileSet(scans, options)).toThrow(expect.objectContaining({ code: 'FILESET_INPUT_INVALID' }));
    const plan = planFileSet(scans, { ...options, skipUnreadable: true });
    expect(plan.unreadable.map((u) => u.code)).toEqual(['PART10_TRUNCATED']);
  });
});
