/**
 * The tamper campaign (issue 11): mutations are deterministic; the ground truth ("the content
 * changed") agrees with readers nobody here wrote (isoinfo for ISO 9660, unzip for ZIP) on a sample
 * of trials; a small campaign on secure and Annex C-signed media has no miss and no false alarm; and
 * `--replay K` reproduces trial K.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { resolveKeys, resolveTrust } from '../../src/app/verify-inputs.js';
import { BufferReader } from '../../src/media/io/random-access-reader.js';
import { verifyMedia } from '../../src/pipelines/verify-media.js';
import { prepareCampaign, runCampaign, type PreparedCampaign } from '../../src/tamper/campaign.js';
import { imageLayout } from '../../src/tamper/layout.js';
import { applyMutation, drawMutation } from '../../src/tamper/mutations.js';
import { describeWithTools, REPO, run, tempDir } from '../helpers/env.js';
import { listFiles } from '../helpers/files.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const TAMPER = path.join(REPO, 'dist/tamper/main.js');

describeWithTools(['isoinfo', 'unzip', 'mcopy'], 'tamper campaign', () => {
  const dir = tempDir('dcmsafe-tamper-');
  const pki = path.join(dir, 'pki');
  const secure = path.join(dir, 'secure.iso');
  const annexC = path.join(dir, 'annex-c.zip');
  const annexCUsb = path.join(dir, 'annex-c.img');
  const trust = (): string[] => ['--trust', path.join(pki, 'demo-root-ca.pem')];
  const keys = (): string[] => ['--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')];
  const flags = () => ({ trust: [path.join(pki, 'demo-root-ca.pem')], key: path.join(pki, 'media-recipient.key'), cert: path.join(pki, 'media-recipient.pem') });

  beforeAll(() => {
    const dcmsafe = (args: string[]): void => {
      const r = run(process.execPath, [CLI, ...args]);
      expect(r.status, r.stderr).toBe(0);
    };
    dcmsafe(['pki', 'demo', '--out', pki]);
    const samples = path.join(dir, 'samples');
    dcmsafe(['samples', '--out', samples]);
    const inputs = path.join(dir, 'in');
    mkdirSync(inputs);
    for (const f of ['patient-a/ct/CT0001.dcm', 'patient-a/ct/SR0001.dcm', 'patient-b/mr/MR0001.dcm']) copyFileSync(path.join(samples, f), path.join(inputs, path.basename(f)));
    const sign = ['--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key')];
    dcmsafe(['create', inputs, '--media', 'cd', '--out', secure, ...sign, '--recipient', path.join(pki, 'media-recipient.pem')]);
    dcmsafe(['create', inputs, '--media', 'zip', '--out', annexC, '--dicom-signature', ...sign]);
    dcmsafe(['create', inputs, '--media', 'usb', '--out', annexCUsb, '--dicom-signature', ...sign]);
  }, 120_000);

  it('draws the same mutations from the same seed, others from another, and leaves the original alone', async () => {
    const image = readFileSync(secure);
    const before = Buffer.from(image);
    const layout = await imageLayout(image);
    const a = Array.from({ length: 200 }, (_, k) => drawMutation('7', k, layout));
    expect(Array.from({ length: 200 }, (_, k) => drawMutation('7', k, layout))).toEqual(a);
    expect(Array.from({ length: 200 }, (_, k) => drawMutation('8', k, layout))).not.toEqual(a);
    expect(new Set(a.map((m) => m.kind))).toEqual(new Set(['none', 'flip', 'run', 'truncate', 'swap-blocks', 'swap-files', 'substitute']));
    for (const m of a) {
      const mutated = applyMutation(image, m, layout);
      expect(applyMutation(image, m, layout).equals(mutated)).toBe(true);
      if (m.kind === 'none') expect(mutated.equals(image)).toBe(true);
    }
    expect(image.equals(before)).toBe(true);
    // Every file of the medium has its place in the image, README.TXT and the manifest included.
    expect(layout.files.map((f) => f.path)).toEqual(expect.arrayContaining(['DICOMDIR', 'README', 'README.TXT', 'INDEX.HTM', 'MANIFEST.P7M']));
    for (const f of layout.files) expect(f.ranges.reduce((n, r) => n + r.end - r.start, 0)).toBeGreaterThanOrEqual(f.size);
  });

  /** The medium's files as an independent tool extracts them (path → SHA-256), or undefined when it fails. */
  function extracted(image: string, kind: 'iso' | 'zip' | 'fat'): Map<string, string> | undefined {
    const out = path.join(dir, 'x');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    if (kind === 'fat') {
      // The FAT32 volume of dcmsafe's USB images starts at 1 MiB (one MBR partition).
      const r = run('mcopy', ['-s', '-n', '-i', `${image}@@1M`, '::*', `${out}/`], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
      if (r.status !== 0) return undefined;
    } else if (kind === 'zip') {
      const r = run('unzip', ['-qq', '-o', image, '-d', out]);
      if (r.status !== 0) return undefined;
    } else {
      const list = run('isoinfo', ['-f', '-i', image]);
      if (list.status !== 0) return undefined;
      for (const name of list.stdout.split('\n').filter((l) => /;1$/.test(l))) {
        let bytes: Buffer;
        try {
          bytes = execFileSync('isoinfo', ['-x', name, '-i', image], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
        } catch {
          return undefined;
        }
        const dest = path.join(out, name.replace(/\.?;1$/, ''));
        mkdirSync(path.dirname(dest), { recursive: true });
        writeFileSync(dest, bytes);
      }
    }
    return new Map(listFiles(out).map((f) => [path.relative(out, f).split(path.sep).join('/'), createHash('sha256').update(readFileSync(f)).digest('hex')]));
  }

  function sameTree(a: Map<string, string> | undefined, b: Map<string, string>): boolean {
    return a !== undefined && a.size === b.size && [...b].every(([p, h]) => a.get(p) === h);
  }

  for (const [label, kind, tool] of [['secure CD', 'iso', 'isoinfo'], ['Annex C ZIP', 'zip', 'unzip'], ['Annex C USB image', 'fat', 'mtools']] as const) {
    it(`the ground truth agrees with ${tool} on a sample of trials (${label})`, async () => {
      const media = kind === 'iso' ? secure : kind === 'zip' ? annexC : annexCUsb;
      const image = readFileSync(media);
      const campaign: PreparedCampaign = await prepareCampaign({ image, name: media, seed: 'truth', trust: await resolveTrust(flags()), keys: await resolveKeys(flags()) });
      const original = extracted(media, kind);
      expect(original?.size).toBe(campaign.tree.size);
      const mutatedPath = path.join(dir, `mutated.${kind}`);
      const disagreements: string[] = [];
      let changed = 0;
      for (let k = 0; k < (kind === 'fat' ? 25 : 40); k++) {
        const m = drawMutation('truth', k, campaign.layout);
        // An image cut short of the size its volume declares no longer opens for our readers (so:
        // changed), while isoinfo and mtools still copy the files that lie before the cut: a
        // difference of definition, not of reading, so truncations are compared on ZIP only.
        if (kind !== 'zip' && m.kind === 'truncate') continue;
        const t = await campaign.trial(k);
        writeFileSync(mutatedPath, applyMutation(image, m, campaign.layout));
        const independentChanged = !sameTree(extracted(mutatedPath, kind), original as Map<string, string>);
        if (t.changed) changed++;
        if (independentChanged !== t.changed) disagreements.push(`${k}: ${t.description}: ours ${t.changed}, tool ${independentChanged}`);
      }
      expect(disagreements).toEqual([]);
      expect(changed).toBeGreaterThan(kind === 'fat' ? 5 : 10);
    }, 120_000);
  }

  it('what the first campaigns missed is caught now: unsigned files changed, the manifest removed, an instance replaced', async () => {
    const image = readFileSync(secure);
    const layout = await imageLayout(image);
    const verify = async (bytes: Buffer) =>
      verifyMedia({ media: secure, image: new BufferReader(bytes, secure), trust: await resolveTrust(flags()), keys: await resolveKeys(flags()), policy: 'standard' });
    const codes = (r: Awaited<ReturnType<typeof verify>>): string[] => r.findings.map((f) => f.code);
    expect((await verify(image)).verdict).toBe('trusted');
    // README.TXT changed in one byte: no signature of its own, the signed manifest sees it.
    const readme = layout.files.find((f) => f.path === 'README.TXT')?.ranges[0] as { start: number };
    const edited = applyMutation(image, { kind: 'flip', offset: readme.start + 10, mask: 0x20 }, layout);
    const r1 = await verify(edited);
    expect(r1.verdict).toBe('problems');
    expect(codes(r1)).toContain('MANIFEST_MISMATCH');
    // The manifest renamed (one byte of its directory record): then nothing covers README.TXT & co.
    const renamed = Buffer.from(image);
    const at = renamed.indexOf('MANIFEST.P7M;1', 0, 'latin1');
    expect(at).toBeGreaterThan(0);
    renamed.write('N', at + 11, 'latin1');
    const r2 = await verify(renamed);
    expect(r2.verdict).toBe('intact-unsigned');
    expect(codes(r2)).toContain('UNPROTECTED_FILE');
    // An instance's bytes replaced by README.TXT's: the DICOMDIR record now points at a non-DICOM file.
    const instance = layout.files.find((f) => f.path.startsWith('DICOM/')) as { path: string };
    const r3 = await verify(applyMutation(image, { kind: 'substitute', target: instance.path, source: 'README.TXT' }, layout));
    expect(r3.verdict).toBe('problems');
    expect(codes(r3)).toEqual(expect.arrayContaining(['RECORD_FILE_NOT_DICOM', 'MANIFEST_MISMATCH']));
  }, 60_000);

  it('a small campaign on secure and on Annex C-signed media: no miss, no false alarm', async () => {
    for (const media of [secure, annexC]) {
      const report = await runCampaign({ image: readFileSync(media), name: media, seed: 'ci', trials: 60, trust: await resolveTrust(flags()), keys: await resolveKeys(flags()) });
      expect(report.table.changedMissed, JSON.stringify(report.notable.slice(0, 3))).toBe(0);
      expect(report.table.unchangedFlagged, JSON.stringify(report.notable.slice(0, 3))).toBe(0);
      expect(report.crashes).toBe(0);
      expect(report.table.changedCaught).toBeGreaterThan(20);
      expect(report.table.unchangedTrusted).toBeGreaterThan(0); // the control trials
    }
  }, 120_000);

  it('the command prints the table, writes --json, and --replay K reproduces trial K', () => {
    const json = path.join(dir, 'campaign.json');
    const r = run(process.execPath, [TAMPER, '--media', secure, '--trials', '30', '--seed', 'replay', ...trust(), ...keys(), '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/caught\s+MISSED\s+flagged\s+trusted/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { trials: number; table: Record<string, number> };
    expect(report.trials).toBe(30);
    expect(Object.values(report.table).reduce((a, b) => a + b, 0)).toBe(30);
    const one = run(process.execPath, [TAMPER, '--media', secure, '--seed', 'replay', '--replay', '7', ...trust(), ...keys(), '--json', json]);
    expect(one.status, one.stderr).toBe(0);
    const replayed = JSON.parse(readFileSync(json, 'utf8')) as { trials: number };
    expect(replayed.trials).toBe(1);
    const line = one.stdout.split('\n').find((l) => l.startsWith('trial 7:'));
    expect(line).toBeDefined();
    const again = run(process.execPath, [TAMPER, '--media', secure, '--seed', 'replay', '--replay', '7', ...trust(), ...keys()]);
    expect(again.stdout.split('\n').find((l) => l.startsWith('trial 7:'))).toBe(line);
    // A medium verify does not trust unchanged is refused (exit 2): every trial would be "caught" for nothing.
    const untrusted = run(process.execPath, [TAMPER, '--media', secure, '--trials', '1', ...keys()]);
    expect(untrusted.status).toBe(2);
    expect(untrusted.stderr).toContain('not trusted');
  }, 120_000);
});
