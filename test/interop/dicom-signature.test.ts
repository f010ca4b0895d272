/**
 * DICOM Digital Signatures (PS3.15 Annex C, issue 9) against dcmtk's dcmsign:
 * - media made with `create --dicom-signature` from the samples and from ../shared/corpus, for each
 *   profile: `dcmsign --verify` accepts every instance with the demo CA as trust anchor, and
 *   `dcmsafe verify` finds every signature valid and trusted (the samples media: verdict trusted);
 * - files signed by dcmsign (RIPEMD160, its default, and SHA-256) verify in dcmsafe with the right
 *   signer, trusted with --trust the CA, untrusted without;
 * - one signed attribute altered (Patient ID bytes, same length): both dcmsign and dcmsafe fail;
 * - an attribute outside the signed set altered (dcmsign --tag signs a few): both still accept, and
 *   dcmsafe reports what the signature does not cover and does not call the file trusted.
 *
 * Every instance must verify in dcmsign, with no exception: the signer writes string values in their
 * canonical encoding (PS3.5 §6.2; src/dicom/signature/canonical.ts), which dcmtk reads unchanged —
 * dcmtk drops trailing padding when it reads a value, so a MAC over padding as stored in the source
 * (a CS ending in three spaces, an SH of two spaces, an LO or ST padded with spaces to a fixed size)
 * would differ from dcmsign's.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, describeWithTools, REPO, run, tempDir } from '../helpers/env.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const CORPUS_MEDIA_FOLDERS = ['charset', 'cr-dx', 'ct', 'doc', 'mr', 'nm-pet', 'other', 'pr', 'rt', 'seg', 'sr', 'transfer-syntax', 'us'];
const PROFILES = ['base', 'creator', 'authorization'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function dcmsafe(args: string[]): ReturnType<typeof run> {
  return run('node', [CLI, ...args], { timeout: 300_000 });
}

function instancesOf(media: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(path.join(media, 'DICOM'));
  return out.sort();
}

describeWithTools(['dcmsign'], 'DICOM digital signatures against dcmtk dcmsign', () => {
  const dir = tempDir('dcmsafe-dsig-');
  const pki = path.join(dir, 'pki');
  const samples = path.join(dir, 'samples');
  const ca = (): string => path.join(pki, 'demo-root-ca.pem');
  const signArgs = (): string[] => ['--dicom-signature', '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key')];
  const media: Record<string, string> = {};

  function dcmsignVerify(file: string): { ok: boolean; output: string } {
    const r = run('dcmsign', ['--verify', '+rg', '+cf', ca(), file]);
    const output = `${r.stdout}${r.stderr}`;
    return { ok: r.status === 0 && /Signature Verification\s*:\s*OK/.test(output) && !/corrupted|failed/i.test(output), output };
  }

  function verifyJson(folder: string, trust = true): Json {
    const r = dcmsafe(['verify', folder, ...(trust ? ['--trust', ca()] : []), '--json']);
    expect(r.stdout, r.stderr).not.toBe('');
    return JSON.parse(r.stdout);
  }

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm test builds)`);
    expect(dcmsafe(['samples', '--out', samples]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    for (const profile of PROFILES) {
      const s = path.join(dir, `samples-${profile}`);
      let r = dcmsafe(['create', samples, '--media', 'folder', '--out', s, ...signArgs(), '--signature-profile', profile]);
      expect(r.status, r.stderr).toBe(0);
      media[`samples-${profile}`] = s;
      const c = path.join(dir, `corpus-${profile}`);
      r = dcmsafe(['create', ...CORPUS_MEDIA_FOLDERS.map((f) => path.join(CORPUS, f)), '--media', 'folder', '--out', c, '--skip-invalid', ...signArgs(), '--signature-profile', profile]);
      expect(r.status, r.stderr).toBe(0);
      media[`corpus-${profile}`] = c;
    }
  }, 600_000);

  it('README.TXT and INDEX.HTM of signed media say who signed every instance (and no longer "not signed")', () => {
    const folder = media['samples-creator'] as string;
    const readme = readFileSync(path.join(folder, 'README.TXT'), 'latin1');
    expect(readme).toContain('Every DICOM file carries a DICOM digital signature (PS3.15 Annex C) by');
    expect(readme).toContain('media signer');
    expect(readme).not.toContain('This medium is not signed');
    expect(readFileSync(path.join(folder, 'INDEX.HTM'), 'utf8')).toContain('DICOM digital signature (PS3.15 Annex C) by');
    const out = path.join(dir, 'summary-json');
    const r = dcmsafe(['create', samples, '--media', 'folder', '--out', out, ...signArgs(), '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).dicomSignature).toMatchObject({ profile: 'base', macAlgorithm: 'SHA256' });
  });

  for (const source of ['samples', 'corpus'] as const) {
    for (const profile of PROFILES) {
      it(`dcmsign verifies every instance of ${source} media signed with the ${profile} profile`, () => {
        const files = instancesOf(media[`${source}-${profile}`] as string);
        expect(files.length).toBeGreaterThan(source === 'samples' ? 25 : 40);
        const failed: string[] = [];
        for (const f of files) {
          const v = dcmsignVerify(f);
          if (!v.ok) failed.push(`${f}\n${v.output}`);
        }
        expect(failed).toEqual([]);
      }, 300_000);

      it(`dcmsafe verify finds every signature of ${source} media (${profile}) valid and trusted`, () => {
        const report = verifyJson(media[`${source}-${profile}`] as string);
        const dicom = (report.files as Json[]).filter((f) => f.kind === 'dicom');
        expect(dicom.length).toBeGreaterThan(0);
        for (const f of dicom) {
          expect(f.dicomSignatures, f.path).toHaveLength(1);
          const s = f.dicomSignatures[0];
          expect(s.valid, `${f.path}: ${s.problem}`).toBe(true);
          expect(s.trust, f.path).toBe('trusted');
          expect(s.signer).toContain('media signer');
          expect(s.macAlgorithm).toBe('SHA256');
          expect(s.profile).toBe(profile === 'base' ? undefined : profile);
        }
        expect(report.findings.filter((x: Json) => x.code === 'DICOM_SIGNATURE_INVALID')).toEqual([]);
        if (source === 'samples') expect(report.verdict).toBe('trusted');
      }, 300_000);
    }
  }

  describe('files signed by dcmsign', () => {
    const folder = path.join(dir, 'by-dcmsign');
    beforeAll(() => {
      mkdirSync(path.join(folder, 'DICOM'), { recursive: true });
      const inputs = [path.join(samples, 'patient-a', 'ct', 'CT0004.dcm'), path.join(samples, 'patient-a', 'ct', 'SR0001.dcm'), path.join(CORPUS, 'ct', 'CT0012.not_fragmented_bot_rle.dcm')];
      for (const [i, input] of inputs.entries()) {
        const mac = i === 1 ? ['+m2'] : []; // RIPEMD160 (dcmsign's default) and SHA-256
        const r = run('dcmsign', ['--sign', path.join(pki, 'media-signer.key'), path.join(pki, 'media-signer.pem'), '-pw', ...mac, input, path.join(folder, 'DICOM', `F${i}`)]);
        expect(r.status, r.stderr).toBe(0);
      }
    });

    it('verify in dcmsafe with the right signer, trusted with --trust the CA', () => {
      const report = verifyJson(folder);
      const dicom = (report.files as Json[]).filter((f) => f.kind === 'dicom');
      expect(dicom).toHaveLength(3);
      for (const f of dicom) {
        const s = f.dicomSignatures[0];
        expect(s.valid, s.problem).toBe(true);
        expect(s.trust).toBe('trusted');
        expect(s.signer).toMatch(/CN=dcmsafe DEMO media signer/);
        expect(s.coveredTags.length).toBeGreaterThan(10);
      }
      expect(dicom.map((f: Json) => f.dicomSignatures[0].macAlgorithm).sort()).toEqual(['RIPEMD160', 'RIPEMD160', 'SHA256']);
    });

    it('are valid but untrusted without --trust', () => {
      const report = verifyJson(folder, false);
      expect(report.findings.filter((x: Json) => x.code === 'DICOM_SIGNER_UNTRUSTED')).toHaveLength(3);
      expect(report.findings.filter((x: Json) => x.code === 'DICOM_SIGNATURE_INVALID')).toEqual([]);
      expect(report.verdict).not.toBe('trusted');
    });
  });

  it('altering one signed attribute makes dcmsign and dcmsafe fail', () => {
    const copy = path.join(dir, 'altered');
    cpSync(media['samples-base'] as string, copy, { recursive: true });
    const target = instancesOf(copy).find((f) => readFileSync(f).includes('SAMPLE-A')) as string;
    const bytes = readFileSync(target);
    const at = bytes.indexOf('SAMPLE-A');
    bytes.write('SAMPLE-Z', at, 'latin1'); // same length: only the signature can tell
    writeFileSync(target, bytes);
    expect(dcmsignVerify(target).ok).toBe(false);
    const report = verifyJson(copy);
    const name = path.relative(copy, target).split(path.sep).join('/');
    expect(report.findings.some((x: Json) => x.code === 'DICOM_SIGNATURE_INVALID' && x.file === name)).toBe(true);
    expect(report.verdict).not.toBe('trusted');
    expect(report.passed).toBe(false);
  });

  it('an attribute outside the signed set may change: both accept, dcmsafe says what is not covered', () => {
    const folder = path.join(dir, 'partial');
    mkdirSync(path.join(folder, 'DICOM'), { recursive: true });
    const target = path.join(folder, 'DICOM', 'F1');
    const r = run('dcmsign', ['--sign', path.join(pki, 'media-signer.key'), path.join(pki, 'media-signer.pem'), '-pw', '+m2', '--tag', 'PatientID', '--tag', 'SOPInstanceUID', path.join(samples, 'patient-a', 'ct', 'CT0004.dcm'), target]);
    expect(r.status, r.stderr).toBe(0);
    const bytes = readFileSync(target);
    const at = bytes.indexOf('SOFT TISSUE'); // Window Center & Width Explanation: not signed
    expect(at).toBeGreaterThan(0);
    bytes.write('BONE WINDOW', at, 'latin1');
    writeFileSync(target, bytes);
    expect(dcmsignVerify(target).ok).toBe(true);
    const report = verifyJson(folder);
    const f = (report.files as Json[]).find((x) => x.kind === 'dicom');
    const s = f.dicomSignatures[0];
    expect(s.valid).toBe(true);
    expect(s.coveredTags).toEqual(['(0008,0018)', '(0010,0020)']);
    expect(s.coversPixelData).toBe(false);
    expect(s.uncoveredTags).toContain('(0028,1055)');
    expect(report.findings.some((x: Json) => x.code === 'DICOM_SIGNATURE_PARTIAL')).toBe(true);
    expect(report.verdict).not.toBe('trusted');
  });

  it('refuses --signature-profile without --dicom-signature, and plain CMS signing still needs encryption', () => {
    let r = dcmsafe(['create', samples, '--media', 'folder', '--out', path.join(dir, 'x1'), '--signature-profile', 'creator']);
    expect(r.status).toBe(2);
    r = dcmsafe(['create', samples, '--media', 'folder', '--out', path.join(dir, 'x2'), '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs encryption/);
  });
});
