/**
 * De-identified media (PS3.15 Annex E, issue 9) made from ../shared/corpus, checked by tools nobody
 * here wrote:
 * - pydicom collects every original patient name (and its components), patient ID, birth date,
 *   accession number, institution name and UID of the inputs, and searches every byte of every file
 *   of the media folder (DICOMDIR, README.TXT, INDEX.HTM, the manifest, the instances), and of the
 *   files a disc image gives back, for them: none may appear (py/check_deidentified.py says which
 *   values are too short or too generic to search for, and why);
 * - references between instances still resolve (presentation state → image, segmentation → CT):
 *   pydicom finds as many resolved references on the media as among the inputs;
 * - dciodvfy reports no error on a de-identified instance that it does not report on the input or on
 *   the same input put on plain media (messages compared without their values);
 * - pydicom reads every file;
 * - with --keep-originals-for, the recipient's key recovers the original values exactly.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { decryptOriginalAttributes } from '../../src/dicom/deidentify/encrypted-attributes.js';
import { readPart10File } from '../../src/dicom/part10/header.js';
import { T } from '../../src/dicom/tags.js';
import { loadPrivateKey } from '../../src/security/pki/keys.js';
import { loadCertificates } from '../../src/security/pki/certificates.js';
import { CORPUS, describeWithTools, PYTHON, REPO, run, tempDir } from '../helpers/env.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const PY = path.join(REPO, 'test/interop/py');
/** The corpus media folders, and the CT series segmentation seg/seg_image_ct_binary.dcm was made from. */
const INPUT_FOLDERS = ['charset', 'cr-dx', 'ct', 'doc', 'mr', 'nm-pet', 'other', 'pr', 'rt', 'seg', 'sr', 'transfer-syntax', 'us', 'fileset/dicomdirtests'];
const INPUTS = INPUT_FOLDERS.map((f) => path.join(CORPUS, f));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function dcmsafe(args: string[]): ReturnType<typeof run> {
  // --seed with --keep-originals-for (encryption) is for tests only.
  return run('node', [CLI, ...args], { timeout: 600_000, env: { ...process.env, DCMSAFE_INSECURE_TEST_SEED: '1' } });
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function python(script: string, args: string[]): Json {
  const r = run(PYTHON, [path.join(PY, script), ...args], { timeout: 600_000, maxBuffer: 256 << 20 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** dciodvfy's error messages with values, numbers and UIDs left out (they differ by design). */
function dciodvfyErrors(file: string): Set<string> {
  const r = run('dciodvfy', [file], { encoding: 'latin1' });
  const out = new Set<string>();
  for (const line of `${r.stdout}${r.stderr}`.split('\n')) {
    if (!line.startsWith('Error')) continue;
    out.add(
      line
        .replace(/<[^>]*>/g, '<>')
        .replace(/"[^"]*"/g, '""')
        .replace(/\[[^\]]*\]/g, '[]')
        .replace(/[0-9.]+/g, 'N'),
    );
  }
  return out;
}

describeWithTools(['dciodvfy', 'pydicom'], 'de-identified media from the corpus (PS3.15 Annex E)', () => {
  const dir = tempDir('dcmsafe-deid-');
  const pki = path.join(dir, 'pki');
  const folder = path.join(dir, 'deid');
  const plain = path.join(dir, 'plain');
  const disc = path.join(dir, 'deid.iso');
  const extracted = path.join(dir, 'extracted');
  const manifest = path.join(dir, 'label.txt');
  const originalsJson = path.join(dir, 'originals.json');
  let summary: Json;
  let plainSummary: Json;

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm test builds)`);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    const common = [...INPUTS, '--skip-invalid', '--deidentify', '--accept-burned-in', '--seed', 'deid-test'];
    let r = dcmsafe(['create', ...common, '--media', 'folder', '--out', folder, '--manifest', manifest, '--keep-originals-for', path.join(pki, 'media-recipient.pem'), '--json']);
    expect(r.status, r.stderr).toBe(0);
    summary = JSON.parse(r.stdout);
    r = dcmsafe(['create', ...common, '--media', 'cd', '--out', disc]);
    expect(r.status, r.stderr).toBe(0);
    r = dcmsafe(['verify', disc, '--extract', extracted, '--json']);
    expect(r.status, r.stderr).toBe(0);
    r = dcmsafe(['create', ...INPUTS, '--skip-invalid', '--media', 'folder', '--out', plain, '--seed', 'deid-test', '--json']);
    expect(r.status, r.stderr).toBe(0);
    plainSummary = JSON.parse(r.stdout);
    writeFileSync(originalsJson, JSON.stringify(INPUTS.flatMap(filesUnder)));
  }, 900_000);

  it('puts most of the corpus on the media and says what it did', () => {
    expect(summary.files.length).toBeGreaterThan(60);
    expect(summary.deidentification.methodCodes.map((c: Json) => c.value)).toEqual(['113100']);
    expect(summary.deidentification.burnedIn.length).toBeGreaterThan(0); // US and Secondary Capture in the corpus
    expect(summary.deidentification.originalsEncryptedFor).toMatch(/CN=/);
    // The summary names the inputs, not the staging copies.
    for (const f of summary.files) expect(f.input.startsWith(CORPUS)).toBe(true);
  });

  it('leaves no original name, ID, birth date, accession number, institution or UID on the media folder', () => {
    const targets = [...filesUnder(folder), manifest];
    expect(targets.some((t) => t.endsWith('README.TXT'))).toBe(true);
    expect(targets.some((t) => t.endsWith('INDEX.HTM'))).toBe(true);
    const r = python('check_deidentified.py', [originalsJson, ...targets]);
    expect(r.identifiers.UID).toBeGreaterThan(100);
    expect(r.identifiers['patient name']).toBeGreaterThan(20);
    expect(r.identifiers['patient ID']).toBeGreaterThan(20);
    expect(r.identifiers['birth date']).toBeGreaterThan(5);
    expect(r.leaks).toEqual([]);
    expect(r.unreadable).toEqual([]);
  });

  it('the check does find identity in the plain media (control)', () => {
    const r = python('check_deidentified.py', [originalsJson, ...filesUnder(plain).filter((f) => /DICOMDIR|README\.TXT|IM0+1$/.test(f))]);
    const kinds = new Set(r.leaks.map((l: Json) => l.kind));
    for (const k of ['UID', 'patient name', 'patient ID', 'birth date']) expect(kinds.has(k), k).toBe(true);
  });

  it('leaves none on the disc image either: its files as read back, and no UID anywhere in the image', () => {
    const files = filesUnder(extracted);
    expect(files.length).toBeGreaterThan(60);
    let r = python('check_deidentified.py', [originalsJson, ...files]);
    expect(r.leaks).toEqual([]);
    expect(r.unreadable).toEqual([]);
    r = python('check_deidentified.py', ['--uids-only', originalsJson, disc]);
    expect(r.leaks).toEqual([]);
  });

  it('keeps the references between instances resolving (presentation state → image, segmentation → source)', () => {
    const before = python('check_references.py', INPUTS.flatMap(filesUnder));
    const after = python('check_references.py', filesUnder(path.join(folder, 'DICOM')));
    const pairs = (x: Json): string[] => x.resolved.map((p: string[]) => `${p[0]}->${p[2]}`).sort();
    expect(pairs(after)).toContain('PR->OT');
    expect(pairs(after)).toContain('SEG->CT');
    expect(pairs(after)).toEqual(pairs(before));
    // And the new UIDs are new.
    const beforeUids = new Set(before.resolved.flatMap((p: string[]) => [p[1], p[3]]));
    for (const p of after.resolved) expect(beforeUids.has(p[1]) || beforeUids.has(p[3])).toBe(false);
  });

  it('dciodvfy finds no new error in any de-identified instance', () => {
    const plainFile = new Map<string, string>(plainSummary.files.map((f: Json) => [f.input, f.fileId]));
    const problems: string[] = [];
    for (const f of summary.files) {
      const base = dciodvfyErrors(f.input);
      const p = plainFile.get(f.input);
      if (p) for (const e of dciodvfyErrors(path.join(plain, ...p.split('\\')))) base.add(e);
      const added = [...dciodvfyErrors(path.join(folder, ...f.fileId.split('\\')))].filter((e) => !base.has(e));
      if (added.length) problems.push(`${f.input}: ${added.join(' | ')}`);
    }
    expect(problems).toEqual([]);
  }, 600_000);

  it('gives the original values back to the holder of the recipient key, exactly', async () => {
    const certificate = loadCertificates(readFileSync(path.join(pki, 'media-recipient.pem')))[0] as Buffer;
    const privateKey = loadPrivateKey(readFileSync(path.join(pki, 'media-recipient.key')));
    const tags = [T.PatientName, T.PatientID, T.PatientBirthDate, T.AccessionNumber, T.InstitutionName, T.StudyInstanceUID, T.SeriesInstanceUID, T.SOPInstanceUID, T.StudyDate];
    let compared = 0;
    for (const f of summary.files.slice(0, 40)) {
      const media = (await readPart10File(path.join(folder, ...f.fileId.split('\\')))).dataSet;
      const original = (await readPart10File(f.input)).dataSet;
      const [recovered] = await decryptOriginalAttributes(media, { certificate, privateKey });
      expect(recovered, f.input).toBeDefined();
      for (const tag of tags) {
        const was = original.get(tag);
        const changed = was && media.string(tag) !== original.string(tag);
        if (!changed) continue;
        // Values compare as decoded text: the input may be implicit VR or big endian, the recovered set is Explicit VR LE.
        expect(recovered?.string(tag), `${f.input} ${tag.toString(16)}`).toBe(original.string(tag));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
  }, 300_000);
});
