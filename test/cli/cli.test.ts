/**
 * The command line as other tools drive it: flags, exit codes, JSON output, reproducibility.
 * Runs the built CLI (npm test builds dist/ first).
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, run, tempDir } from '../helpers/env.js';
import { treeDigest } from '../helpers/files.js';
import { writeInstance } from '../helpers/synthetic.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600' };

function dcmsafe(...args: string[]) {
  return run(process.execPath, [CLI, ...args], { env });
}


describe('dcmsafe command line', () => {
  const tmp = tempDir();
  const samples = path.join(tmp, 'samples');

  beforeAll(() => {
    const r = dcmsafe('samples', '--out', samples);
    expect(r.status, r.stderr).toBe(0);
  });

  it('shows help with examples', () => {
    const top = dcmsafe('--help');
    expect(top.status).toBe(0);
    expect(top.stdout).toContain('Examples:');
    const create = dcmsafe('create', '--help');
    expect(create.status).toBe(0);
    expect(create.stdout).toContain('Examples:');
    expect(create.stdout).toContain('--fileset-id');
  });

  it('exits 2 on usage errors', () => {
    expect(dcmsafe('create', samples, '--media', 'folder').status).toBe(2);
    expect(dcmsafe('create', samples, '--media', 'folder', '--out', path.join(tmp, 'x'), '--profile', 'NOPE').status).toBe(2);
    expect(dcmsafe('frobnicate').status).toBe(2);
    expect(dcmsafe('create', samples, '--media', 'folder', '--out', samples).status).toBe(2); // not empty
    expect(dcmsafe('create', samples, '--media', 'folder', '--out', path.join(tmp, 'y'), '--fileset-id', 'lower case').status).toBe(2);
  });

  it('exits 3 on bad input, with a JSON error when asked', () => {
    const missing = dcmsafe('create', path.join(tmp, 'does-not-exist'), '--media', 'folder', '--out', path.join(tmp, 'z1'));
    expect(missing.status).toBe(3);
    const d = path.join(tmp, 'conflict');
    mkdirSync(d);
    writeInstance(d, 'a', { patientId: 'P1', patientName: 'Doe^John', study: '1.1', series: '1.1.1', sop: '1.1.1.1' });
    writeInstance(d, 'b', { patientId: 'P1', patientName: 'Roe^Jane', study: '1.2', series: '1.2.1', sop: '1.2.1.1' });
    const r = dcmsafe('create', d, '--media', 'folder', '--out', path.join(tmp, 'z2'), '--json');
    expect(r.status).toBe(3);
    const doc = JSON.parse(r.stdout) as { error: { code: string; fault: string } };
    expect(doc.error.code).toBe('FILESET_PATIENT_CONFLICT');
    expect(doc.error.fault).toBe('input');
    expect(statSync(path.join(tmp, 'z2'), { throwIfNoEntry: false })).toBeUndefined();
    expect(readdirSync(tmp).filter((n) => n.includes('partial'))).toEqual([]);
    const ok = dcmsafe('create', d, '--media', 'folder', '--out', path.join(tmp, 'z3'), '--allow-patient-mismatch', '--json');
    expect(ok.status, ok.stderr).toBe(0);
  });

  it('prints one JSON document describing the File-set', () => {
    const out = path.join(tmp, 'json');
    const r = dcmsafe('create', samples, '--media', 'folder', '--out', out, '--json', '--fileset-id', 'SAMPLES');
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { counts: Record<string, number>; profile: string; output: string; fileSetId: string; patients: Array<{ patientName: string }> };
    expect(s.counts).toMatchObject({ patients: 2, studies: 3, instances: 31 });
    expect(s.profile).toBe('STD-GEN-CD');
    expect(s.fileSetId).toBe('SAMPLES');
    expect(s.output).toBe(out);
    expect(s.patients.map((p) => p.patientName).sort()).toEqual(['Müller^Jürgen', 'Łukasiewicz^Zoë']);
  });

  it('writes byte-identical output for the same inputs, pinned clock and UID root', () => {
    const a = path.join(tmp, 'repro-a');
    const b = path.join(tmp, 'repro-b');
    for (const out of [a, b]) expect(dcmsafe('create', samples, '--media', 'folder', '--out', out, '--uid-root', '1.2.826.0.1.3680043.10.999').status).toBe(0);
    expect(treeDigest(b)).toEqual(treeDigest(a));
    // Another time: another File-set UID, so another DICOMDIR.
    const c = path.join(tmp, 'repro-c');
    const later = run(process.execPath, [CLI, 'create', samples, '--media', 'folder', '--out', c, '--uid-root', '1.2.826.0.1.3680043.10.999'], { env: { ...env, SOURCE_DATE_EPOCH: '1767225601' } });
    expect(later.status).toBe(0);
    expect(treeDigest(c).DICOMDIR).not.toBe(treeDigest(a).DICOMDIR);
    expect(dcmsafe('create', samples, '--media', 'folder', '--out', path.join(tmp, 'repro-d'), '--uid-root', '1.2.x').status).toBe(2);
  });

  it('accepts an existing empty output folder and refuses files as output', () => {
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    expect(dcmsafe('create', samples, '--media', 'folder', '--out', empty).status).toBe(0);
    const file = path.join(tmp, 'afile');
    writeFileSync(file, 'x');
    expect(dcmsafe('create', samples, '--media', 'folder', '--out', file).status).toBe(2);
  });
});
