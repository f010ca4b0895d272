/**
 * The samples checked by tools nobody here wrote: dicom3tools `dciodvfy` (every module of the IOD,
 * PS3.3), dcmtk `dcmdump` (Part 10 parsing) and pydicom (parsing, Specific Character Set decoding of
 * the UTF-8 and Latin-1 names, pixel data shape when numpy is there).
 */
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { buildSamples, generateSamples, type SamplesSummary } from '../../src/samples/generate.js';
import { describeWithTools, PYTHON, run, tempDir } from '../helpers/env.js';

/** The plan is pure, so the file list is known before anything is written. */
const planned = buildSamples().summary;

const PYDICOM_SCRIPT = String.raw`
import json, sys, warnings
warnings.simplefilter("error")
import pydicom
try:
    import numpy  # noqa: F401
    has_numpy = True
except ImportError:
    has_numpy = False
for name in sys.argv[1:]:
    ds = pydicom.dcmread(name)
    out = {
        "file": name,
        "patientName": str(ds.PatientName),
        "charset": ds.SpecificCharacterSet,
        "sopClassUID": str(ds.SOPClassUID),
        "sopInstanceUID": str(ds.SOPInstanceUID),
        "transferSyntax": str(ds.file_meta.TransferSyntaxUID),
    }
    if "PixelData" in ds and has_numpy:
        out["shape"] = list(ds.pixel_array.shape)
    if "EncapsulatedDocument" in ds:
        doc = ds.EncapsulatedDocument[: ds.EncapsulatedDocumentLength]
        out["document"] = [doc[:8].decode("latin1"), doc[-6:].decode("latin1")]
    print(json.dumps(out))
`;

interface PydicomResult {
  file: string;
  patientName: string;
  charset: string;
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntax: string;
  shape?: number[];
  document?: [string, string];
}

describeWithTools(['dciodvfy', 'dcmdump', 'pydicom'], 'samples against dciodvfy, dcmdump and pydicom', () => {
  const dir = tempDir('dcmsafe-samples-interop-');
  let summary: SamplesSummary;
  const abs = (rel: string): string => path.join(summary.outDir, ...rel.split('/'));

  beforeAll(async () => {
    summary = await generateSamples(path.join(dir, 'samples'));
  });

  it('wrote the planned files', () => {
    expect(summary.files).toEqual(planned.files);
  });

  it.each(planned.files.map((f) => f.path))('%s: dciodvfy reports no error', (rel) => {
    const r = run('dciodvfy', [abs(rel)]);
    const lines = `${r.stdout}\n${r.stderr}`.split('\n');
    expect(lines.filter((l) => l.startsWith('Error')), lines.join('\n')).toEqual([]);
  });

  it.each(planned.files.map((f) => f.path))('%s: dcmdump reads it', (rel) => {
    const r = run('dcmdump', ['-q', abs(rel)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('pydicom reads every file and decodes both character sets', () => {
    const r = run(PYTHON, ['-c', PYDICOM_SCRIPT, ...summary.files.map((f) => abs(f.path))]);
    expect(r.status, r.stderr).toBe(0);
    const results = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as PydicomResult);
    expect(results).toHaveLength(summary.files.length);
    const patientOf = (rel: string): SamplesSummary['patients'][number] | undefined =>
      summary.patients.find((p) => rel.startsWith(`${p.folder}/`));
    results.forEach((res, i) => {
      const f = summary.files[i];
      const patient = patientOf(f?.path ?? '');
      expect(res.patientName, f?.path).toBe(patient?.name);
      expect(res.charset).toBe(patient?.charset);
      expect(res.sopClassUID).toBe(f?.sopClassUID);
      expect(res.sopInstanceUID).toBe(f?.sopInstanceUID);
      expect(res.transferSyntax).toBe('1.2.840.10008.1.2.1');
      if (res.document) expect(res.document).toEqual(['%PDF-1.4', '%%EOF\n']);
    });
    // Without numpy pydicom cannot decode pixels; with it, the shapes are the ones README.md gives.
    const shapes = new Map(results.filter((x) => x.shape).map((x) => [path.basename(x.file), x.shape]));
    if (shapes.size > 0) {
      expect(shapes.get('CT0001.dcm')).toEqual([128, 128]);
      expect(shapes.get('MR0001.dcm')).toEqual([64, 64]);
      expect(shapes.get('US0001.dcm')).toEqual([10, 48, 64, 3]);
    }
  });
});
