/**
 * `dcmsafe samples` (src/samples/generate.ts): the same seed gives the same bytes, the set has the
 * patients, studies and series the issue asks for, our own Part 10 reader reads every file back, and
 * an occupied output folder is refused.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPart10File } from '../../src/dicom/part10/header.js';
import { T } from '../../src/dicom/tags.js';
import { DcmsafeError } from '../../src/errors/index.js';
import { addSeconds, buildSamples, DEFAULT_SAMPLES_SEED, generateSamples } from '../../src/samples/generate.js';
import { SOP_CLASS } from '../../src/samples/iods.js';
import { isValidUid } from '../../src/util/uid.js';
import { tempDir } from '../helpers/env.js';

/** Every file under a folder, as relative paths with "/" separators, sorted. */
function listFiles(root: string, under = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, under), { withFileTypes: true })) {
    const rel = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, rel));
    else out.push(rel);
  }
  return out.sort();
}

describe('generateSamples', () => {
  const dir = tempDir('dcmsafe-samples-');

  it('writes identical bytes on every run with the same seed', async () => {
    const a = await generateSamples(path.join(dir, 'run-a'));
    const b = await generateSamples(path.join(dir, 'run-b'));
    const filesA = listFiles(a.outDir);
    expect(filesA).toEqual(listFiles(b.outDir));
    expect(filesA).toEqual(a.files.map((f) => f.path).sort());
    for (const rel of filesA) {
      expect(readFileSync(path.join(b.outDir, rel)).equals(readFileSync(path.join(a.outDir, rel))), rel).toBe(true);
    }
    const { outDir: _a, ...restA } = a;
    const { outDir: _b, ...restB } = b;
    expect(restA).toEqual(restB);
  });

  it('gives other UIDs, and the same pixels, with another seed', () => {
    const one = buildSamples();
    const two = buildSamples('another seed');
    expect(one.summary.seed).toBe(DEFAULT_SAMPLES_SEED);
    const uidsOne = new Set(one.summary.files.map((f) => f.sopInstanceUID));
    for (const f of two.summary.files) expect(uidsOne.has(f.sopInstanceUID)).toBe(false);
    // The last 32 KiB of a CT file are pixels, which do not depend on the seed.
    const ct = (set: typeof one): Buffer => (set.files.find((f) => f.path.endsWith('CT0001.dcm'))?.bytes ?? Buffer.alloc(0)).subarray(-32768);
    expect(ct(two).equals(ct(one))).toBe(true);
  });

  it('has two patients, three studies and the series of the issue', async () => {
    const summary = await generateSamples(path.join(dir, 'counts'));
    expect(summary.patients).toEqual([
      { id: 'SAMPLE-A', name: 'Łukasiewicz^Zoë', charset: 'ISO_IR 192', birthDate: '19780314', sex: 'F', folder: 'patient-a' },
      { id: 'SAMPLE-B', name: 'Müller^Jürgen', charset: 'ISO_IR 100', birthDate: '19520907', sex: 'M', folder: 'patient-b' },
    ]);
    expect(summary.studies.map((s) => [s.patientId, s.folder])).toEqual([
      ['SAMPLE-A', 'patient-a/ct'],
      ['SAMPLE-B', 'patient-b/mr'],
      ['SAMPLE-B', 'patient-b/us'],
    ]);
    expect(summary.series.map((s) => [s.modality, s.count])).toEqual([
      ['CT', 20],
      ['SR', 1],
      ['DOC', 1],
      ['MR', 8],
      ['US', 1],
    ]);
    expect(summary.files).toHaveLength(31);
    const bySopClass = (uid: string): number => summary.files.filter((f) => f.sopClassUID === uid).length;
    expect(bySopClass(SOP_CLASS.CTImageStorage)).toBe(20);
    expect(bySopClass(SOP_CLASS.MRImageStorage)).toBe(8);
    expect(bySopClass(SOP_CLASS.UltrasoundMultiFrameImageStorage)).toBe(1);
    expect(bySopClass(SOP_CLASS.BasicTextSRStorage)).toBe(1);
    expect(bySopClass(SOP_CLASS.EncapsulatedPDFStorage)).toBe(1);

    // Series counts agree with the files, every series belongs to a listed study.
    for (const s of summary.series) {
      expect(summary.files.filter((f) => f.seriesInstanceUID === s.seriesInstanceUID)).toHaveLength(s.count);
      expect(summary.studies.some((st) => st.studyInstanceUID === s.studyInstanceUID)).toBe(true);
    }

    const uids = [
      ...summary.studies.map((s) => s.studyInstanceUID),
      ...summary.series.map((s) => s.seriesInstanceUID),
      ...summary.files.map((f) => f.sopInstanceUID),
    ];
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(isValidUid(uid), uid).toBe(true);

    let total = 0;
    for (const f of summary.files) {
      expect(statSync(path.join(summary.outDir, f.path)).size).toBe(f.size);
      total += f.size;
    }
    expect(summary.totalBytes).toBe(total);
  });

  it('writes Part 10 files that our own reader reads back, names decoded', async () => {
    const summary = await generateSamples(path.join(dir, 'read-back'));
    const names = new Map(summary.patients.map((p) => [p.folder, p.name]));
    for (const f of summary.files) {
      const header = await readPart10File(path.join(summary.outDir, f.path), { stopAtPixelData: false });
      expect(header.format, f.path).toBe('part10');
      expect(header.warnings, f.path).toEqual([]);
      expect(header.meta?.text(T.MediaStorageSOPClassUID)).toBe(f.sopClassUID);
      expect(header.meta?.text(T.MediaStorageSOPInstanceUID)).toBe(f.sopInstanceUID);
      expect(header.dataSet.text(T.SOPInstanceUID)).toBe(f.sopInstanceUID);
      expect(header.dataSet.text(T.PatientName)).toBe(names.get(f.path.split('/')[0] ?? ''));
    }
  });

  it('creates a missing folder and accepts an empty one', async () => {
    const nested = path.join(dir, 'missing', 'deeper');
    expect((await generateSamples(nested)).files).toHaveLength(31);
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    expect((await generateSamples(empty)).files).toHaveLength(31);
  });

  it('refuses a folder that is not empty, and leaves it as it was', async () => {
    const occupied = path.join(dir, 'occupied');
    mkdirSync(occupied);
    writeFileSync(path.join(occupied, 'keep.txt'), 'mine');
    const err = await generateSamples(occupied).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DcmsafeError);
    expect((err as DcmsafeError).code).toBe('OUTPUT_NOT_EMPTY');
    expect(listFiles(occupied)).toEqual(['keep.txt']);
  });

  it('refuses a path that is a file', async () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(generateSamples(file)).rejects.toMatchObject({ code: 'OUTPUT_NOT_EMPTY' });
  });
});

describe('addSeconds', () => {
  it('carries into minutes and hours', () => {
    expect(addSeconds('093159', 1)).toBe('093200');
    expect(addSeconds('095950', 75)).toBe('100105');
  });
});
