/**
 * Coerced instances (IHE RAD IRWF; PS3.3 C.7.1.1, C.12.1.1.9) written by the streamed rewrite, read
 * by tools nobody here wrote:
 *   - dcmdump shows the local Patient ID, the Other Patient IDs Sequence item with the foreign ID
 *     and the Original Attributes Sequence item;
 *   - dciodvfy finds no error in the output that it did not find in the input (errors about the
 *     attributes coercion replaces are compared too: there must be none new anywhere);
 *   - pydicom reads the output, its Modified Attributes Sequence holds the foreign Patient ID, the
 *     local name decodes in the instance's character set, and the pixel data equals the input's.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReaderByteSource } from '../../src/dicom/part10/byte-source.js';
import { readPart10File } from '../../src/dicom/part10/header.js';
import type { DataSet } from '../../src/dicom/dataset.js';
import { T } from '../../src/dicom/tags.js';
import { coerceDataSet, openRewrite, type Coercion, type LocalIdentity } from '../../src/dicom/reconcile/index.js';
import { FileReader } from '../../src/media/io/random-access-reader.js';
import { CORPUS, describeWithTools, PYTHON, run, tempDir } from '../helpers/env.js';

interface Case {
  file: string;
  /** A local name that exercises the instance's repertoire. */
  patientName: string;
  /** Specific Character Set expected in the output. */
  charset?: string;
}

const CASES: Case[] = [
  { file: 'mr/MR_small.dcm', patientName: 'Local^Patient' },
  { file: 'mr/MR_small_implicit.dcm', patientName: 'Local^Patient' },
  { file: 'mr/MR_small_bigendian.dcm', patientName: 'Local^Patient' },
  { file: 'ct/CT_small.dcm', patientName: 'Böhm^Zoë', charset: 'ISO_IR 100' },
  { file: 'charset/chrGerm.dcm', patientName: 'Böhm^Zoë', charset: 'ISO_IR 100' },
  { file: 'transfer-syntax/SC_rgb_jpeg_dcmtk.dcm', patientName: '王^小东', charset: 'ISO_IR 192' },
  { file: 'mr/MR_small_RLE.dcm', patientName: '王^小东', charset: 'ISO_IR 192' },
  { file: 'sr/report_dfl', patientName: 'Local^Patient' },
  { file: 'transfer-syntax/image_dfl.dcm', patientName: 'Local^Patient' },
];

const CTX = { modifyingSystem: 'dcmsafe 0.1.0', now: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)) };

function localFor(c: Case): LocalIdentity {
  return { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP', patientName: c.patientName, accessionNumber: 'LACC1', accessionIssuer: 'LOCAL_RIS' };
}

/** Rewrites `input` into `output`, coerced to `local` (or unchanged without it). */
async function rewriteFile(input: string, output: string, local?: LocalIdentity): Promise<Coercion> {
  const reader = await FileReader.open(input);
  let coercion: Coercion = { changes: [] };
  try {
    const r = await openRewrite(new ReaderByteSource(reader), {
      name: input,
      ...(local
        ? {
            transform: (ds: DataSet) => {
              const c = coerceDataSet(ds, local, CTX);
              coercion = c.coercion;
              return c.dataSet;
            },
          }
        : {}),
    });
    const parts: Buffer[] = [];
    for await (const chunk of r.part10()) parts.push(Buffer.from(chunk));
    writeFileSync(output, Buffer.concat(parts));
  } finally {
    await reader.close();
  }
  return coercion;
}

interface Verdict {
  readable: boolean;
  errors: Set<string>;
  warnings: Set<string>;
}

/** dciodvfy's error and warning lines; unreadable when it cannot parse the file (it does not inflate deflated files). */
function dciodvfy(file: string): Verdict {
  const r = run('dciodvfy', [file]);
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
  const pick = (prefix: string): Set<string> => new Set(lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).trim()));
  return { readable: !lines.some((l) => l.includes('Dicom dataset read failed')), errors: pick('Error - '), warnings: pick('Warning - ') };
}

const PYDICOM_CHECK = `
import json, sys, warnings
warnings.simplefilter("ignore")
from pydicom import dcmread
src, out = dcmread(sys.argv[1], force=True), dcmread(sys.argv[2])
def px(ds):
    if "PixelData" not in ds:
        return None
    data = bytes(ds.PixelData)
    if not ds.file_meta.TransferSyntaxUID.is_little_endian and ds["PixelData"].VR == "OW":
        import array
        a = array.array("H", data[: len(data) // 2 * 2]); a.byteswap(); data = a.tobytes() + data[len(data) // 2 * 2:]
    return data
oa = out.OriginalAttributesSequence
print(json.dumps({
  "transferSyntax": str(out.file_meta.TransferSyntaxUID),
  "patientId": out.PatientID,
  "issuer": out.IssuerOfPatientID,
  "name": str(out.PatientName),
  "charset": out.get("SpecificCharacterSet"),
  "otherIds": [[i.PatientID, i.get("IssuerOfPatientID", ""), i.TypeOfPatientID] for i in out.get("OtherPatientIDsSequence", [])],
  "originalItems": len(oa),
  "modifiedPatientId": oa[0].ModifiedAttributesSequence[0].PatientID,
  "modifiedName": str(oa[0].ModifiedAttributesSequence[0].get("PatientName", "")),
  "sourceName": str(src.get("PatientName", "")),
  "reason": oa[0].ReasonForTheAttributeModification,
  "coercionTime": out.InstanceCoercionDateTime,
  "uids": [out.SOPInstanceUID == src.SOPInstanceUID, out.get("StudyInstanceUID") == src.get("StudyInstanceUID"), out.get("SeriesInstanceUID") == src.get("SeriesInstanceUID")],
  "pixelsEqual": px(out) == px(src),
}))
`;

describeWithTools(['dcmdump', 'dciodvfy', 'pydicom'], 'coerced instances read by dcmtk, dicom3tools and pydicom', () => {
  const dir = tempDir('dcmsafe-reconcile-tools-');

  for (const c of CASES) {
    describe(c.file, () => {
      const input = path.join(CORPUS, c.file);
      const output = path.join(dir, `${path.basename(c.file)}.coerced.dcm`);
      const unchanged = path.join(dir, `${path.basename(c.file)}.rewritten.dcm`);
      let coercion: Coercion;
      let foreignId = '';

      it('is written', async () => {
        foreignId = (await readPart10File(input)).dataSet.text(T.PatientID) ?? '';
        coercion = await rewriteFile(input, output, localFor(c));
        expect(coercion.changes.map((x) => x.keyword)).toContain('PatientID');
        expect(coercion.foreignPatientId ?? '').toBe(foreignId);
        await rewriteFile(input, unchanged);
      });

      it('dcmdump shows the local Patient ID, the Other Patient IDs item and the Original Attributes item', () => {
        const r = run('dcmdump', [output]);
        expect(r.status, r.stderr).toBe(0);
        const dump = r.stdout;
        expect(dump).toMatch(/^\(0010,0020\) LO \[LOC-0001\]/m);
        expect(dump).toMatch(/^\(0010,0021\) LO \[LOCAL_HOSP\]/m);
        expect(dump).toMatch(/^\(0008,0015\) DT \[20240506070809\.010000\+0000\]/m);
        const foreign = foreignId ? `\\[${foreignId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\]` : '\\(no value available\\)';
        if (foreignId) {
          // The new item is the last of the sequence, at item depth (4 spaces).
          const other = dump.slice(dump.indexOf('(0010,1002) SQ'), dump.indexOf('\n(0010,', dump.indexOf('(0010,1002) SQ')));
          expect(other).toMatch(new RegExp(`^ {4}\\(0010,0020\\) LO ${foreign}.*(?:\\n {4}\\(0010,0021\\).*)?\\n {4}\\(0010,0022\\) CS \\[TEXT\\].*\\n {2}\\(fffe,e00d\\).*\\n\\(fffe,e0dd\\)`, 'm'));
        } else {
          expect(dump).not.toContain('(0010,1002) SQ'); // an empty foreign ID is not kept
        }
        const original = dump.slice(dump.indexOf('(0400,0561) SQ'));
        expect(dump).toContain('(0400,0561) SQ');
        expect(original).toMatch(/^ {4}\(0400,0550\) SQ/m);
        // The prior Patient ID inside the Modified Attributes Sequence item (8 spaces).
        expect(original).toMatch(new RegExp(`^ {8}\\(0010,0020\\) LO ${foreign}`, 'm'));
        expect(original).toMatch(/^ {4}\(0400,0562\) DT \[20240506070809\.010000\+0000\]/m);
        expect(original).toMatch(/^ {4}\(0400,0563\) LO \[dcmsafe 0\.1\.0\]/m);
        expect(original).toMatch(/^ {4}\(0400,0565\) CS \[COERCE\]/m);
      });

      it('dciodvfy finds no new error or warning', () => {
        // dciodvfy does not read deflated files: their baseline is the same file rewritten without coercion.
        let before = dciodvfy(input);
        if (!before.readable) before = dciodvfy(unchanged);
        expect(before.readable).toBe(true);
        const after = dciodvfy(output);
        expect(after.readable).toBe(true);
        expect([...after.errors].filter((e) => !before.errors.has(e))).toEqual([]);
        expect([...after.warnings].filter((e) => !before.warnings.has(e))).toEqual([]);
      });

      it('pydicom reads it: foreign ID in the Modified Attributes Sequence, pixel data unchanged', () => {
        const r = run(PYTHON, ['-c', PYDICOM_CHECK, input, output]);
        expect(r.status, r.stderr).toBe(0);
        const got = JSON.parse(r.stdout) as Record<string, unknown>;
        expect(got.patientId).toBe('LOC-0001');
        expect(got.issuer).toBe('LOCAL_HOSP');
        expect(got.name).toBe(c.patientName);
        if (c.charset) expect(got.charset).toBe(c.charset);
        expect(got.modifiedPatientId).toBe(foreignId);
        expect(got.modifiedName).toBe(got.sourceName);
        expect(got.reason).toBe('COERCE');
        expect(got.coercionTime).toBe('20240506070809.010000+0000');
        expect(got.originalItems).toBe(1);
        const others = got.otherIds as string[][];
        if (foreignId) expect([others[others.length - 1]?.[0], others[others.length - 1]?.[2]]).toEqual([foreignId, 'TEXT']);
        else expect(others).toEqual([]);
        expect(got.uids).toEqual([true, true, true]);
        expect(got.pixelsEqual).toBe(true);
      });
    });
  }
});
