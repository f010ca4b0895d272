/**
 * The front desk's services over the real pipelines (no screens): scanning a source folder, the
 * capacity estimate, sign-in with the audit trail, a burn of a password-protected signed CD image
 * and its verification with the password, settings saved to the configuration file.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { burnCommand, estimateMedia, openDesk, scanSourceFolder } from '../../src/tui/desk-services.js';
import { generateSamples } from '../../src/samples/generate.js';
import { makeDemoPki } from '../../src/security/pki/demo.js';
import { OperatorStore } from '../../src/operators/store.js';
import { checkAuditLog } from '../../src/audit/log.js';
import { fixedClock } from '../../src/util/clock.js';
import { seededRandom } from '../../src/util/random.js';
import { tempDir } from '../helpers/env.js';
import { writeDeskConfig } from '../helpers/desk-config.js';

const PASSWORD = 'front desk passphrase 2026';

describe('front desk services', () => {
  const dir = tempDir('dcmsafe-desk-');
  const samples = path.join(dir, 'samples');
  const pki = path.join(dir, 'pki');
  const config = path.join(dir, 'config.json');
  const env = { HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'xdg') };

  beforeAll(async () => {
    await generateSamples(samples);
    await makeDemoPki(pki, { now: new Date('2026-11-01T00:00:00Z'), bits: 2048 });
    writeDeskConfig(config);
    const store = await OperatorStore.open(path.join(dir, 'operators.json'), { scryptCost: { ln: 10, r: 8, p: 1 } });
    await store.add('alice', 'admin', PASSWORD);
  }, 120_000);

  it('scans a folder into patients and studies from the headers', async () => {
    const progress: number[] = [];
    const scan = await scanSourceFolder(samples, (done) => progress.push(done));
    expect(scan.patients.map((p) => p.id)).toEqual(['SAMPLE-A', 'SAMPLE-B']);
    const b = scan.patients[1]!;
    expect(b.name).toBe('Müller^Jürgen');
    expect(b.studies.map((s) => s.modalities.join('+'))).toEqual(['MR', 'US']);
    expect(b.studies[0]!.files).toHaveLength(8);
    expect(progress.at(-1)).toBe(31);
  });

  it('estimates the size and the number of discs', () => {
    const study = { studyInstanceUID: '1.2', description: '', date: '', modalities: ['CT'], instances: 2000, bytes: 1_000_000_000, files: [] };
    const plain = estimateMedia([study], 'cd', { password: false });
    expect(plain.capacity).toBe(737_280_000);
    expect(plain.media).toBe(2);
    expect(estimateMedia([study], 'zip', { password: true }).bytes).toBeGreaterThan(1_000_000_000);
    expect(estimateMedia([study], 'zip', { password: false }).capacity).toBeUndefined();
    expect(burnCommand('/out/a b.iso', '/dev/sr0')).toEqual(['xorriso', '-as', 'cdrecord', '-v', 'dev=/dev/sr0', '-dao', '-eject', '/out/a b.iso']);
  });

  it('signs in (refusing a wrong password), burns a password CD, verifies it with the password, signs out; all audited', async () => {
    const desk = await openDesk({ configFile: config, env, clock: fixedClock('2026-11-25T10:00:00Z'), random: seededRandom('desk') });
    expect((await desk.signIn('alice', 'not the password at all')).ok).toBe(false);
    // The password typed into the name field: no account of that name, and it is not written down.
    expect((await desk.signIn(`alice${PASSWORD}`, '')).ok).toBe(false);
    const signed = await desk.signIn('alice', PASSWORD);
    expect(signed.ok).toBe(true);
    const scan = await desk.scanSource(samples);
    const patient = scan.patients[1]!;
    const events: string[] = [];
    const result = await desk.burn({ patient, studies: patient.studies, medium: 'cd', protection: { password: true } }, (e) => events.push(e.type));
    expect(events).toContain('wrote-volume');
    expect(result.outputs).toHaveLength(1);
    const out = result.outputs[0]!;
    expect(out.path).toMatch(/outbox\/DCMSAFE-20261125-100000\.iso$/);
    expect(out.sha256).toBe(createHash('sha256').update(readFileSync(out.path)).digest('hex'));
    expect(result.password).toMatch(/^[2-9A-Z-]{20,}$/);
    expect(result.signedBy).toContain('media signer');
    expect(result.burnCommand).toContain('xorriso -as cdrecord');
    // The letter leaves the password to be written by hand (it is stored nowhere) and, written in
    // clear beside encrypted media, names no patient.
    expect(result.labelText).toContain('Password:');
    expect(result.labelText).not.toContain('Müller');
    expect(readFileSync(result.letterFile!, 'utf8')).not.toContain(result.password!);

    const checked: number[] = [];
    const report = await desk.verify(out.path, result.password, (e) => checked.push(e.index));
    expect(report.verdict).toBe('trusted');
    expect(report.patients.map((p) => p.patientId)).toEqual(['SAMPLE-B']);
    expect(checked.length).toBeGreaterThan(5);
    const withoutPassword = await desk.verify(out.path, undefined, () => undefined);
    expect(withoutPassword.verdict).not.toBe('trusted');
    await desk.signOut();

    const log = readFileSync(path.join(dir, 'audit.log'), 'utf8');
    expect((await checkAuditLog(path.join(dir, 'audit.log'))).ok).toBe(true);
    const kinds = log.trim().split('\n').map((l) => (JSON.parse(l.slice(l.indexOf(' ') + 1)) as { kind: string }).kind);
    expect(kinds.filter((k) => k === 'user-authentication')).toHaveLength(4); // refused twice, signed in, signed out
    expect(log).toContain('(unknown operator)');
    expect(kinds).toContain('export');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(result.password!);
  }, 120_000);

  it('saves settings to the configuration file, validated', async () => {
    const desk = await openDesk({ configFile: config, env });
    const next = { ...desk.config(), pacs: [{ name: 'main', host: '127.0.0.1', port: 11112, calledAE: 'STORESCP' }] };
    await desk.saveConfig(next);
    expect(JSON.parse(readFileSync(config, 'utf8')).pacs[0].calledAE).toBe('STORESCP');
    expect(desk.config().pacs).toHaveLength(1);
    await expect(desk.saveConfig({ ...next, pacs: [{ name: 'bad', host: '127.0.0.1', port: 70000, calledAE: 'X' }] })).rejects.toThrow(/port/);
    expect(JSON.parse(readFileSync(config, 'utf8')).pacs[0].name).toBe('main');
  });

  it('burns an image on the configured drive with xorriso, streaming its lines, and says when it fails', async () => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    const argsFile = path.join(dir, 'xorriso-args');
    writeFileSync(path.join(bin, 'xorriso'), `#!/bin/sh\necho "$@" > '${argsFile}'\necho 'xorriso : writing'\necho 'Blanking done' >&2\n[ -e '${path.join(dir, 'fail')}' ] && exit 3\nexit 0\n`, { mode: 0o755 });
    const withDrive = path.join(dir, 'config-drive.json');
    writeFileSync(withDrive, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), media: { outbox: 'outbox', drive: '/dev/sr7' } }));
    const desk = await openDesk({ configFile: withDrive, env });
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const lines: string[] = [];
      await desk.burnToDrive('/images/DCMSAFE-1.iso', (l) => lines.push(l));
      expect(readFileSync(argsFile, 'utf8').trim()).toBe('-as cdrecord -v dev=/dev/sr7 -dao -eject /images/DCMSAFE-1.iso');
      expect(lines).toEqual(expect.arrayContaining(['xorriso : writing', 'Blanking done']));
      writeFileSync(path.join(dir, 'fail'), '');
      await expect(desk.burnToDrive('/images/DCMSAFE-1.iso', () => undefined)).rejects.toMatchObject({ code: 'BURN_FAILED' });
    } finally {
      process.env.PATH = oldPath;
    }
    const noDrive = await openDesk({ configFile: config, env });
    await expect(noDrive.burnToDrive('/images/x.iso', () => undefined)).rejects.toThrow(/no drive is configured/);
  });

  it('a source folder that does not exist is a clear error; a locked account says to ask an admin', async () => {
    await expect(scanSourceFolder(path.join(dir, 'no-such-folder'))).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    const store = await OperatorStore.open(path.join(dir, 'operators.json'), { scryptCost: { ln: 10, r: 8, p: 1 } });
    await store.add('bob', 'clerk', 'bob has a long password');
    const desk = await openDesk({ configFile: config, env });
    for (let i = 0; i < 5; i++) expect(await desk.signIn('bob', `wrong guess number ${i}`)).toMatchObject({ ok: false, reason: 'Unknown operator or wrong password.' });
    expect(await desk.signIn('bob', 'bob has a long password')).toMatchObject({ ok: false, reason: expect.stringContaining('locked') });
    expect(readFileSync(path.join(dir, 'audit.log'), 'utf8')).toContain('locked after repeated failed sign-ins');
  });
});
