/**
 * Scanning many files (issue 10, scale): compact per-instance state, duplicates compared by one
 * digest and named attribute by attribute only when they differ, bounded state for hostile headers,
 * keys that read back exactly as the header holds them, input order and errors kept.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKeys, encodeKeys, keyText } from '../../../src/dicom/fileset/compact-keys.js';
import { planFileSet, type PlanOptions } from '../../../src/dicom/fileset/plan.js';
import { scanFile, scanFiles, type ScannedInstance, type ScanResult } from '../../../src/dicom/fileset/scan.js';
import { readPart10File } from '../../../src/dicom/part10/header.js';
import { buildDataSet, type ElementValue } from '../../../src/dicom/part10/writer.js';
import type { VR } from '../../../src/dicom/vr.js';
import { findProfile } from '../../../src/dicom/profiles/profiles.js';
import { T } from '../../../src/dicom/tags.js';
import { fixedClock } from '../../../src/util/clock.js';
import { tempDir } from '../../helpers/env.js';
import { writeImplicitInstance, writeInstance } from '../../helpers/synthetic.js';
import { encodeDicomdir } from '../../../src/dicom/dicomdir/encode.js';

const options: PlanOptions = {
  profile: findProfile('STD-GEN-CD'),
  fileSetId: 'TEST',
  fileSetUID: '1.2.3.4.5',
  clock: fixedClock('2026-01-02T03:04:05Z'),
};

function dir(): string {
  return tempDir('dcmsafe-scan-'); // removed after the file's tests
}

function instance(r: ScanResult | undefined): ScannedInstance {
  if (r?.kind !== 'instance') throw new Error(`not an instance: ${JSON.stringify(r)}`);
  return r.instance;
}

describe('scanning many files', () => {
  it('keeps input order, reports each file in order, and plans as scanning one by one does', async () => {
    const d = dir();
    const files = Array.from({ length: 40 }, (_, i) => writeInstance(d, `f${String(i).padStart(2, '0')}`, { patientId: 'P1', study: '1.1', series: `1.1.${i % 3}`, sop: `1.1.${i % 3}.${i}`, instanceNumber: i }));
    files.push(path.join(d, 'not-dicom'));
    writeFileSync(files[files.length - 1] as string, 'hello, not DICOM at all');
    const seen: number[] = [];
    const many = await scanFiles(files, { concurrency: 5, onScanned: (index) => seen.push(index) });
    expect(seen).toEqual(files.map((_, i) => i));
    expect(many.map((r) => (r.kind === 'instance' ? r.instance.path : r.kind))).toEqual([...files.slice(0, -1), 'skipped']);
    const one: ScanResult[] = [];
    for (const f of files) one.push(await scanFile(f));
    expect(encodeDicomdir(planFileSet(many, options).fileSet).equals(encodeDicomdir(planFileSet(one, options).fileSet))).toBe(true);
  });

  it('keeps one digest per instance, no digest per attribute unless a duplicate differs', async () => {
    const d = dir();
    const [a, b] = await scanFiles([
      writeInstance(d, 'a', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1', instanceNumber: 1 }),
      writeInstance(d, 'b', { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.2', instanceNumber: 2 }),
    ]);
    expect(instance(a).digests).toBeUndefined();
    expect(instance(a).digest).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(instance(a).digest).not.toBe(instance(b).digest);
    // Equal attributes, other encoding: one digest.
    const [x, y] = await scanFiles([writeInstance(d, 'x', { patientId: 'P1', sop: '9.1', instanceNumber: 3 }), writeImplicitInstance(d, 'y', { patientId: 'P1', sop: '9.1', instanceNumber: 3 })]);
    expect(instance(x).digest).toBe(instance(y).digest);
    expect(instance(x).digests).toBeUndefined();
  });

  it('merges duplicates that agree, and still names the attributes of duplicates that do not', async () => {
    const d = dir();
    const spec = { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '1.1.1.1', instanceNumber: 1 };
    const agree = await scanFiles([writeImplicitInstance(d, 'implicit', spec), writeInstance(d, 'explicit', spec)]);
    const plan = planFileSet(agree, options);
    expect(plan.merged).toEqual([{ sopInstanceUID: '1.1.1.1', kept: path.join(d, 'explicit'), dropped: [path.join(d, 'implicit')] }]);

    const differ = await scanFiles([
      writeInstance(d, 'c', { ...spec, sop: '2.2', instanceNumber: 1, extra: [[T.StudyDescription, 'LO', 'HEAD']] }),
      writeInstance(d, 'e', { ...spec, sop: '2.3' }),
      writeInstance(d, 'd', { ...spec, sop: '2.2', instanceNumber: 2, extra: [[T.StudyDescription, 'LO', 'CHEST']] }),
    ]);
    // Only the two files of the conflicting instance were read again for a digest per attribute.
    expect(differ.map((r) => instance(r).digests !== undefined)).toEqual([true, false, true]);
    expect(() => planFileSet(differ, options)).toThrow(expect.objectContaining({ code: 'FILESET_INSTANCE_CONFLICT', message: expect.stringMatching(/differ in InstanceNumber, StudyDescription$/m) }));
  });

  it('keeps bounded state for a header of thousands of private elements, whose differences still count', async () => {
    const d = dir();
    const write = (name: string, last: string): string => {
      const extra: Array<[number, VR, ElementValue]> = [[0x00090010, 'LO', 'HOSTILE']];
      for (let i = 0; i < 5000; i++) extra.push([(0x00091000 + i) >>> 0, 'LO', i === 4999 ? last : `value ${i}`]);
      return writeInstance(d, name, { patientId: 'P1', study: '1.1', series: '1.1.1', sop: '3.3', extra });
    };
    const scans = await scanFiles([write('h1', 'same'), write('h2', 'other')]);
    const [h1] = scans;
    // Directory keys only (a few hundred bytes), not the 5000 elements; the digest covers them all.
    expect(instance(h1).keyBytes.length).toBeLessThan(1024);
    expect(() => planFileSet(scans, options)).toThrow(/differ in \(9,2387\)$/m);
  });

  it('reads keys back exactly: texts in other character sets, sequences, what DataSet.text gives', async () => {
    const keys = buildDataSet([
      [T.SpecificCharacterSet, 'CS', 'ISO_IR 100'],
      [T.PatientName, 'PN', Buffer.from('Müller^Jürgen', 'latin1')],
      [T.PatientID, 'LO', 'ID 7 '],
      [T.StudyDate, 'DA', '20260102'],
      [T.InstanceNumber, 'IS', '12'],
      [T.Rows, 'US', 512],
    ]);
    keys.set(buildDataSet([[T.ContentSequence, 'SQ', [buildDataSet([[0x0040a160, 'UT', 'inner']], keys)]]]).get(T.ContentSequence) as never);
    const bytes = encodeKeys(keys);
    const back = decodeKeys(bytes);
    expect(encodeKeys(back).equals(bytes)).toBe(true);
    for (const tag of [T.PatientName, T.PatientID, T.StudyDate, T.InstanceNumber, T.SpecificCharacterSet, T.StudyTime]) {
      expect(keyText(bytes, tag)).toBe(keys.text(tag));
    }
    expect(keyText(bytes, T.PatientName)).toBe('Müller^Jürgen');
    expect(back.items(T.ContentSequence)[0]?.text(0x0040a160)).toBe('inner');
    // Split over two buffers, as instances keep them (series keys shared).
    const a = buildDataSet([[T.SpecificCharacterSet, 'CS', 'ISO_IR 100'], [T.PatientName, 'PN', Buffer.from('Müller^Jürgen', 'latin1')]]);
    const b = buildDataSet([[T.InstanceNumber, 'IS', '12']]);
    expect(keyText([encodeKeys(b), encodeKeys(a)], T.PatientName)).toBe('Müller^Jürgen');
    expect(decodeKeys([encodeKeys(b), encodeKeys(a)], new Set([T.InstanceNumber])).text(T.SpecificCharacterSet)).toBe('ISO_IR 100');
  });

  it('shares the keys of a series between its instances', async () => {
    const d = dir();
    const files = Array.from({ length: 20 }, (_, i) => writeInstance(d, `s${i}`, { patientId: 'P1', study: '1.1', series: '1.1.1', sop: `1.1.1.${i}`, instanceNumber: i }));
    const scans = (await scanFiles(files)).map(instance);
    expect(new Set(scans.map((s) => s.studyInstanceUID)).size).toBe(1);
    expect(scans.every((s) => s.patient === scans[0]?.patient)).toBe(true);
    expect(scans.map((s) => s.keyText(T.InstanceNumber))).toEqual(files.map((_, i) => String(i)));
    expect(scans.every((s) => s.keys.text(T.PatientID) === 'P1' && s.keyText(T.StudyInstanceUID) === '1.1')).toBe(true);
  });

  it('throws what scanning throws (a file gone), after the files in flight', async () => {
    const d = dir();
    const files = [writeInstance(d, 'a', { patientId: 'P1', sop: '1' }), path.join(d, 'gone'), writeInstance(d, 'b', { patientId: 'P1', sop: '2' })];
    await expect(scanFiles(files)).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    const folder = path.join(d, 'folder');
    mkdirSync(folder);
    await expect(readPart10File(folder, { blockingOpen: true })).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    await expect(readPart10File(folder)).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
  });

  it('reads a header longer than the first read (64 KiB) whole, blocking or not', async () => {
    const d = dir();
    const file = writeInstance(d, 'long', { patientId: 'P1', sop: '5.5', extra: [[T.StudyDescription, 'LO', 'LONG'], [0x00091010, 'LO', 'x'.repeat(60000)], [0x00091011, 'LO', 'y'.repeat(60000)]] });
    for (const blockingOpen of [false, true]) {
      const h = await readPart10File(file, { blockingOpen, scratch: Buffer.alloc(64 * 1024) });
      expect(h.dataSet.text(0x00091011)).toBe('y'.repeat(60000));
      expect(h.dataSet.text(T.PatientID)).toBe('P1');
    }
    expect(instance((await scanFiles([file]))[0]).keyText(T.StudyDescription)).toBe('LONG');
  });
});
