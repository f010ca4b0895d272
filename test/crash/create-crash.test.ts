/**
 * Crash safety of `create` (issue 11): the CLI is killed with SIGKILL at seeded random points spread
 * over an uninterrupted run, for a signed and encrypted CD image, a signed and encrypted folder, and
 * de-identified secure media. After every kill: the final name does not exist, or holds the complete
 * medium (xorriso and isoinfo read the image, `dcmsafe verify` says trusted); no file under the output
 * folder or the run's TMPDIR holds plaintext patient data (the patient's name, a pixel byte pattern,
 * DICM at offset 128). Then a normal run into the same place succeeds and leaves nothing behind.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeWithTools, run, tempDir } from '../helpers/env.js';
import { CLI, killDelays, leftovers, plaintextOffences, runCli, writeCrashInputs } from './crash-helpers.js';

/** Kills per scenario, spread from 0 to the duration of an uninterrupted run. */
const KILLS = 10;
/** More kills, spread over the part of the run that writes (or stages) the medium, so that some surely land there. */
const WRITE_KILLS = 4;

describeWithTools(['xorriso', 'isoinfo'], 'create killed with SIGKILL at random points', () => {
  const dir = tempDir('dcmsafe-crash-create-');
  const pki = path.join(dir, 'pki');
  const inputs = path.join(dir, 'in');
  const base = { ...process.env, SOURCE_DATE_EPOCH: '1767225600', XDG_DATA_HOME: path.join(dir, 'xdg-data'), XDG_STATE_HOME: path.join(dir, 'xdg-state'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config') };
  const secure = (): string[] => ['--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')];
  const verifyArgs = (): string[] => ['--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem'), '--json'];

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
    const made = run(process.execPath, [CLI, 'pki', 'demo', '--out', pki], { env: base });
    expect(made.status, made.stderr).toBe(0);
    writeCrashInputs(inputs, 24); // 24 × 2 MiB of pixel data
    // The search finds what it looks for: every input holds the name, the pixels and DICM.
    expect(plaintextOffences([inputs]).length).toBe(24 * 3);
  });

  function trusted(media: string): void {
    const r = run(process.execPath, [CLI, 'verify', media, ...verifyArgs()], { env: base });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { verdict: string; summary: unknown };
    expect(report.verdict).toBe('trusted');
  }

  function readableIso(iso: string): void {
    const listed = run('xorriso', ['-indev', iso, '-find', '/', '-type', 'f'], { timeout: 60_000 });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('DICOMDIR');
    expect(run('isoinfo', ['-d', '-i', iso]).status).toBe(0);
  }

  const scenarios = [
    { name: 'secure CD image', media: 'cd', out: 'disc.iso', extra: [] as string[], phase: /^writing / },
    { name: 'secure folder', media: 'folder', out: 'disc', extra: [] as string[], phase: /^writing / },
    // De-identification stages every instance while it scans.
    { name: 'de-identified secure CD image', media: 'cd', out: 'deid.iso', extra: ['--deidentify'], phase: /^scanning / },
  ];

  for (const s of scenarios) {
    it(`${s.name}: after every kill no whole-looking partial and no plaintext; a re-run succeeds`, async () => {
      const work = path.join(dir, s.name.replace(/\W+/g, '-'));
      const media = path.join(work, 'media');
      const tmp = path.join(work, 'tmp');
      mkdirSync(media, { recursive: true });
      mkdirSync(tmp);
      const env = { ...base, TMPDIR: tmp };
      const args = (out: string): string[] => ['create', inputs, '--media', s.media, '--out', out, ...secure(), ...s.extra];
      const check = (out: string): void => {
        if (s.media === 'cd') readableIso(out);
        trusted(out);
      };

      // The uninterrupted run: how long it takes (the final run below is the one checked).
      const reference = path.join(work, `reference-${s.out}`);
      const first = await runCli(args(reference), env);
      expect(first.code, first.stderr).toBe(0);
      rmSync(reference, { recursive: true, force: true });

      const out = path.join(media, s.out);
      const killedAt: number[] = [];
      // Kills that landed while the medium was written (a partial beside it) or instances staged (de-identification).
      let midWrite = 0;
      const phase = first.lines.find((l) => s.phase.test(l.text))?.ms ?? 0;
      const delays = [...killDelays(`create ${s.name}`, KILLS, first.ms), ...killDelays(`create ${s.name} writing`, WRITE_KILLS, first.ms - phase).map((d) => phase + d)];
      for (const delay of delays) {
        const r = await runCli(args(out), env, delay);
        if (r.killed) {
          killedAt.push(delay);
          if (leftovers(media).some((n) => n.includes('.partial-')) || leftovers(tmp).some((n) => n.startsWith('dcmsafe-deid-'))) midWrite++;
        } else expect(r.code, r.stderr).toBe(0);
        if (existsSync(out)) {
          // Only ever complete under its name: then it is moved away for the next kill.
          check(out);
          rmSync(out, { recursive: true, force: true });
        }
        expect(plaintextOffences([media, tmp]), `after a kill at ${delay} ms`).toEqual([]);
        expect(readdirSync('/dev/shm').filter((n) => n.includes('dcmsafe'))).toEqual([]);
      }
      // Most kills land during the run (the last slices may find it finished).
      expect(killedAt.length).toBeGreaterThanOrEqual((KILLS + WRITE_KILLS) / 2);
      expect(midWrite).toBeGreaterThanOrEqual(2);

      const again = await runCli(args(out), env);
      expect(again.code, again.stderr).toBe(0);
      check(out);
      // The re-run removed what the killed runs left beside the output and in TMPDIR.
      expect(leftovers(media)).toEqual([]);
      expect(leftovers(tmp)).toEqual([]);
      console.log(`crash/create ${s.name}: uninterrupted ${first.ms} ms (${s.phase.source.slice(1).trim()} from ${phase} ms), killed at ${killedAt.join(', ')} ms, ${midWrite} while staging or writing`);
    }, 180_000);
  }
});
