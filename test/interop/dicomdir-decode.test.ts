/**
 * Cross-check of the DICOMDIR decoder (PS3.3 Annex F) with pydicom's FileSet: both must see the same
 * patient → study → series → instance tree, order included, in the corpus DICOMDIR (written by dcmtk)
 * and in a DICOMDIR that dcmtk's dcmmkdir writes here over a copy of the same File-set.
 * The pydicom side is test/interop/py/fileset_tree.py.
 */
import { chmodSync, cpSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { decodeDicomdir, type DecodedDicomdir } from '../../src/dicom/dicomdir/decode.js';
import type { DirectoryRecord, FileSet } from '../../src/dicom/dicomdir/model.js';
import { T } from '../../src/dicom/tags.js';
import { FileReader } from '../../src/media/io/random-access-reader.js';
import { CORPUS, describeWithTools, PYTHON, REPO, run, tempDir } from '../helpers/env.js';

const DIR = path.join(CORPUS, 'fileset/dicomdirtests');
const SCRIPT = path.join(REPO, 'test/interop/py/fileset_tree.py');

type Instance = [string, string[], string];
interface Series {
  seriesInstanceUID: string;
  instances: Instance[];
}
interface Study {
  studyInstanceUID: string;
  series: Series[];
}
interface Patient {
  patientId: string;
  studies: Study[];
}

/**
 * The same tree from our model, built the way the script builds it from pydicom: every record that
 * references a file, in hierarchy order, grouped under its PATIENT, STUDY and SERIES ancestors.
 */
function ourTree(fs: FileSet): Patient[] {
  const patients: Patient[] = [];
  const seen = new Map<DirectoryRecord, Patient | Study | Series>();
  const visit = (r: DirectoryRecord, ancestors: DirectoryRecord[]): void => {
    if (r.fileId && !['PATIENT', 'STUDY', 'SERIES'].includes(r.type)) {
      const find = (type: string): DirectoryRecord => {
        const a = ancestors.find((x) => x.type === type);
        if (!a) throw new Error(`${r.fileId?.join('\\')} is not under a ${type} record`);
        return a;
      };
      const [p, st, se] = [find('PATIENT'), find('STUDY'), find('SERIES')];
      let patient = seen.get(p) as Patient | undefined;
      if (!patient) {
        patient = { patientId: p.keys.text(T.PatientID) ?? '', studies: [] };
        patients.push(patient);
        seen.set(p, patient);
      }
      let study = seen.get(st) as Study | undefined;
      if (!study) {
        study = { studyInstanceUID: st.keys.text(T.StudyInstanceUID) ?? '', series: [] };
        patient.studies.push(study);
        seen.set(st, study);
      }
      let series = seen.get(se) as Series | undefined;
      if (!series) {
        series = { seriesInstanceUID: se.keys.text(T.SeriesInstanceUID) ?? '', instances: [] };
        study.series.push(series);
        seen.set(se, series);
      }
      series.instances.push([r.type, [...r.fileId], r.sopInstanceUID ?? '']);
    }
    for (const c of r.children) visit(c, [...ancestors, r]);
  };
  for (const r of fs.roots) visit(r, []);
  return patients;
}

async function decode(file: string): Promise<DecodedDicomdir> {
  const reader = await FileReader.open(file);
  try {
    return await decodeDicomdir(reader);
  } finally {
    await reader.close();
  }
}

async function decodeFile(file: string): Promise<{ tree: Patient[]; findings: string[] }> {
  const d = await decode(file);
  return { tree: ourTree(d.fileSet), findings: d.findings.map((f) => f.code) };
}

/** The corpus is read-only and the copy keeps its modes: make the folders writable so they can be removed. */
function writable(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    chmodSync(p, entry.isDirectory() ? 0o755 : 0o644);
    if (entry.isDirectory()) writable(p);
  }
}

function pydicomTree(file: string): Patient[] {
  const r = run(PYTHON, [SCRIPT, file]);
  if (r.status !== 0) throw new Error(`fileset_tree.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Patient[];
}

describeWithTools(['pydicom'], 'DICOMDIR decoding: same tree as pydicom', () => {
  it('the corpus DICOMDIR (dcmtk)', async () => {
    const ours = await decodeFile(path.join(DIR, 'DICOMDIR'));
    const theirs = pydicomTree(path.join(DIR, 'DICOMDIR'));
    expect(ours.findings).toEqual([]);
    expect(theirs).toHaveLength(2);
    expect(theirs.flatMap((p) => p.studies.flatMap((s) => s.series.flatMap((se) => se.instances)))).toHaveLength(31);
    expect(ours.tree).toEqual(theirs);
  });

  it.each(['DICOMDIR-bigEnd', 'DICOMDIR-implicit', 'DICOMDIR-nooffset', 'DICOMDIR-reordered'])('the corpus variant %s', async (variant) => {
    const ours = await decodeFile(path.join(DIR, variant));
    expect(ours.tree).toEqual(pydicomTree(path.join(DIR, variant)));
    expect(ours.tree).toEqual((await decodeFile(path.join(DIR, 'DICOMDIR'))).tree);
  });

  it('DICOMDIR-nopatient: pydicom refuses it, we read it and say why', async () => {
    const r = run(PYTHON, [SCRIPT, path.join(DIR, 'DICOMDIR-nopatient')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('UNKNOWN directory record at offset 976');
    const ours = await decode(path.join(DIR, 'DICOMDIR-nopatient'));
    expect(ours.findings.map((f) => f.code)).toContain('DICOMDIR_RECORD_TYPE_UNKNOWN');
  });

  describeWithTools(['dcmmkdir'], 'with dcmmkdir', () => {
    const work = tempDir('dcmsafe-dicomdir-');
    it('a DICOMDIR written by dcmmkdir over a copy of the File-set', async () => {
      for (const entry of readdirSync(DIR)) {
        // The File-set's folders only: the corpus DICOMDIRs stay out.
        if (statSync(path.join(DIR, entry)).isDirectory()) cpSync(path.join(DIR, entry), path.join(work, entry), { recursive: true });
      }
      writable(work);
      const dicomdir = path.join(work, 'DICOMDIR');
      // +r: recurse into the folders; +id: File IDs relative to the File-set root; +D: where to write.
      const r = run('dcmmkdir', ['+r', '+id', work, '+D', dicomdir]);
      expect(r.status, r.stderr).toBe(0);
      const ours = await decodeFile(dicomdir);
      const theirs = pydicomTree(dicomdir);
      expect(ours.findings).toEqual([]);
      expect(theirs.flatMap((p) => p.studies.flatMap((s) => s.series.flatMap((se) => se.instances)))).toHaveLength(31);
      expect(ours.tree).toEqual(theirs);
    });
  });
});
