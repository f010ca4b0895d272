/**
 * Crash safety of `import` (issue 11): `dcmsafe import` of a signed and encrypted medium into our own
 * store SCP (in this process, on 127.0.0.1, an ephemeral port) is killed with SIGKILL at seeded random
 * points. After every kill the journal parses (one record per line; a cut last line, here also made
 * on purpose as a power cut would, is tolerated and repaired by the next run), names each instance
 * once, and names only instances the SCP received. Each run sends only what the journal lacks; after
 * a last run every instance is at the SCP, the journal holds each once, and at most one instance per
 * kill reached the SCP twice (the one in flight: acknowledged, not yet journaled; the PACS keeps one
 * copy per SOP Instance UID).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStoreScp, type StoreScp } from '../../src/net/server.js';
import { ImportJournal } from '../../src/pipelines/import-journal.js';
import { run, tempDir } from '../helpers/env.js';
import { seededRandom } from '../../src/util/random.js';
import { CLI, killDelays, runCli, writeCrashInputs } from './crash-helpers.js';

const KILLS = 10;
/** More kills, each after a seeded random number of instances stored by that run, so that some surely land mid-import. */
const SEND_KILLS = 4;

interface Journaled {
  readonly sops: string[];
  /** The last line was cut (no newline at the end). */
  readonly torn: boolean;
}

/** The journal's records; every line but a cut last one must parse. */
function readJournal(file: string): Journaled {
  if (!existsSync(file)) return { sops: [], torn: false };
  const text = readFileSync(file, 'utf8');
  const torn = text.length > 0 && !text.endsWith('\n');
  const lines = text.split('\n').filter((l) => l.length > 0);
  const sops: string[] = [];
  for (const [i, line] of lines.entries()) {
    try {
      sops.push((JSON.parse(line) as { sopInstanceUID: string }).sopInstanceUID);
    } catch (e) {
      if (!(torn && i === lines.length - 1)) throw new Error(`journal line ${i + 1} does not parse: ${line}`, { cause: e });
    }
  }
  return { sops, torn };
}

describe('import killed with SIGKILL at random points', () => {
  const dir = tempDir('dcmsafe-crash-import-');
  const pki = path.join(dir, 'pki');
  const medium = path.join(dir, 'medium');
  const journal = path.join(dir, 'journal.jsonl');
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600', XDG_DATA_HOME: path.join(dir, 'xdg-data'), XDG_STATE_HOME: path.join(dir, 'xdg-state'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config'), TMPDIR: dir };
  /** Every instance the SCP stored, in order (one entry per C-STORE that completed). */
  const received: string[] = [];
  let sops: string[] = [];
  let scp: StoreScp;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build)`);
    const pkiRun = run(process.execPath, [CLI, 'pki', 'demo', '--out', pki], { env });
    expect(pkiRun.status, pkiRun.stderr).toBe(0);
    sops = writeCrashInputs(path.join(dir, 'in'), 80, 256); // 80 × 128 KiB of pixel data: many C-STOREs, many journal lines
    const made = await runCli(['create', path.join(dir, 'in'), '--media', 'folder', '--out', medium, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')], env);
    expect(made.code, made.stderr).toBe(0);
    const storage = path.join(dir, 'pacs');
    mkdirSync(storage);
    scp = await startStoreScp({ port: 0, host: '127.0.0.1', aeTitle: 'PACS', storageDir: storage, onStored: (f) => received.push(f.sopInstanceUID) });
  });

  afterAll(async () => {
    await scp?.close();
  });

  const importArgs = (): string[] => [
    'import',
    medium,
    '--trust',
    path.join(pki, 'demo-root-ca.pem'),
    '--key',
    path.join(pki, 'media-recipient.key'),
    '--cert',
    path.join(pki, 'media-recipient.pem'),
    '--to',
    `127.0.0.1:${scp.port}`,
    '--aec',
    'PACS',
    '--patient-id',
    'LOCAL-7',
    '--issuer',
    'OURHOSP',
    '--journal',
    journal,
    '--retries',
    '0',
    '--json',
  ];

  /** The SCP has seen the end of a killed association: nothing more of that run arrives. */
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 150));

  it('keeps the journal consistent through kills, and a re-run completes without duplicates', async () => {
    // The uninterrupted run (into a journal of its own), for the span of the kills.
    const reference = await runCli(importArgs().map((a) => (a === journal ? path.join(dir, 'reference.jsonl') : a)), env);
    expect(reference.code, reference.stderr).toBe(0);
    await settle();
    expect(new Set(received)).toEqual(new Set(sops));
    received.length = 0;

    let killed = 0;
    let midImport = 0;
    const sending = reference.lines.find((l) => l.text.startsWith('sending '))?.ms ?? 0;
    const afterStored = seededRandom('import crash stored');
    // Kills after the n-th instance stored by the run (n from 1 to 8) first, while most is still to send; then timed kills.
    const kills: Array<{ delay?: number; stored?: number }> = [...Array.from({ length: SEND_KILLS }, () => ({ stored: 1 + ((afterStored.bytes(1)[0] as number) % 8) })), ...killDelays('import crash', KILLS, reference.ms).map((delay) => ({ delay }))];
    for (const [k, kill] of kills.entries()) {
      const before = readJournal(journal);
      const from = received.length;
      let storedLines = 0;
      const r = await runCli(importArgs(), env, kill.delay, kill.stored === undefined ? undefined : (line) => line.startsWith('  stored ') && ++storedLines === kill.stored);
      await settle();
      const now = readJournal(journal);
      const sentThisRun = received.slice(from);
      // This run sent only what the journal did not hold when it started.
      expect(sentThisRun.filter((s) => before.sops.includes(s))).toEqual([]);
      // Every journaled instance reached the SCP; none is journaled twice.
      expect(now.sops.filter((s) => !received.includes(s))).toEqual([]);
      expect(new Set(now.sops).size).toBe(now.sops.length);
      if (r.killed) {
        killed++;
        if (sentThisRun.length > 0 && now.sops.length < sops.length) midImport++;
      } else {
        expect(r.code, r.stderr).toBe(0);
      }
      if (k === SEND_KILLS) {
        // A power cut while a line was written: the next run must repair it, not trip over it.
        appendFileSync(journal, '{"sopInstanceUID":"2.25.1000000000000000001');
      }
    }
    expect(killed).toBeGreaterThanOrEqual((KILLS + SEND_KILLS) / 2);
    expect(midImport).toBeGreaterThanOrEqual(2);

    const before = readJournal(journal);
    const from = received.length;
    const last = await runCli(importArgs(), env);
    await settle();
    expect(last.code, last.stderr).toBe(0);
    const report = JSON.parse(last.stdout) as { stored: unknown[]; alreadyStored: unknown[]; failed: unknown[] };
    expect(report.failed).toEqual([]);
    expect(report.stored.length + report.alreadyStored.length).toBe(sops.length);
    // The re-run sent exactly what was not journaled.
    expect(new Set(received.slice(from))).toEqual(new Set(sops.filter((s) => !before.sops.includes(s))));
    expect(received.length - from).toBe(report.stored.length);

    const final = readJournal(journal);
    expect(final.torn).toBe(false);
    expect([...final.sops].sort()).toEqual([...sops].sort());
    expect(new Set(received)).toEqual(new Set(sops));
    // Received twice: at most the instance in flight at each kill.
    const duplicates = received.length - new Set(received).size;
    expect(duplicates).toBeLessThanOrEqual(killed);
    const opened = await ImportJournal.open(journal);
    expect(opened.entries.length).toBe(sops.length);
    await opened.close();
    console.log(`crash/import: uninterrupted ${reference.ms} ms (sending from ${sending} ms), ${killed} kills (${midImport} mid-import), ${duplicates} instance(s) received twice`);
  }, 180_000);
});
