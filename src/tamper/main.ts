/**
 * `npm run tamper -- --media IMG --trials N [--seed S] [--trust PEM]... [--key KEY --cert PEM]
 *  [--password-file F] [--json FILE] [--replay K] [--workers W]`
 *
 * Mutates a medium image (ISO 9660, FAT or ZIP, as `dcmsafe create` writes them) N times, checks each
 * mutated image with verify in this process, and prints the confusion table: changed and caught,
 * changed and missed, unchanged and flagged. Exit 1 when any change was missed or verify crashed
 * (threw something that is not a typed error); every such trial is listed with its seed, number and
 * mutation, and `--replay K` runs trial K alone.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { resolveKeys, resolveTrust } from '../app/verify-inputs.js';
import { DcmsafeError } from '../errors/index.js';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { VerifyFlags } from '../app/verify-inputs.js';
import { runCampaign, tally, trialNumbers, type CampaignReport, type ConfusionTable, type TrialResult } from './campaign.js';
import type { WorkerInput } from './worker.js';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function whole(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new DcmsafeError('USAGE', `--${name} must be a whole number, not ${value}`);
  return n;
}

function row(label: string, t: ConfusionTable): string {
  const cells = [t.changedCaught, t.changedMissed, t.unchangedFlagged, t.unchangedTrusted].map((n) => String(n).padStart(10));
  return `${label.padEnd(12)}${cells.join('')}`;
}

export function formatReport(r: CampaignReport): string[] {
  const lines = [
    `${r.media} (${r.kind}), seed ${r.seed}: ${r.trials} trials in ${r.seconds.toFixed(1)} s (${r.perSecond.toFixed(1)} trials/s)`,
    `${''.padEnd(12)}${['caught', 'MISSED', 'flagged', 'trusted'].map((h) => h.padStart(10)).join('')}`,
    `${''.padEnd(12)}${['(changed)', '(changed)', '(same)', '(same)'].map((h) => h.padStart(10)).join('')}`,
    row('all', r.table),
    ...Object.entries(r.byKind)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, t]) => row(k, t)),
  ];
  for (const t of r.notable) {
    const what = t.crash ? 'CRASH' : t.outcome === 'missed' ? 'MISSED' : 'false alarm';
    lines.push(`${what}: --seed ${r.seed} --replay ${t.trial}: ${t.description} → ${t.verdict}${t.codes.length ? ` (${t.codes.join(', ')})` : ''}`);
    if (t.crash) lines.push(`  ${t.crash.split('\n').slice(0, 4).join('\n  ')}`);
  }
  return lines;
}

/** The trials spread over worker threads (trial k on worker k mod W), tallied here. */
async function inWorkers(media: string, flags: VerifyFlags, seed: string, trials: readonly number[], workers: number): Promise<CampaignReport> {
  const started = process.hrtime.bigint();
  const results: TrialResult[] = [];
  let kind = '';
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const input: WorkerInput = { media, flags, seed, trials: trials.filter((_, i) => i % workers === w) };
      return new Promise<void>((resolve, reject) => {
        const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: input });
        worker.on('message', (m: { kind?: string; result?: TrialResult }) => {
          if (m.kind) kind = m.kind;
          if (m.result) results.push(m.result);
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new DcmsafeError('INTERNAL', `a tamper worker exited with ${code}`))));
      });
    }),
  );
  return tally(results, { media, kind, seed, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      media: { type: 'string' },
      trials: { type: 'string' },
      seed: { type: 'string', default: '1' },
      trust: { type: 'string', multiple: true, default: [] },
      key: { type: 'string' },
      cert: { type: 'string' },
      'key-passphrase-file': { type: 'string' },
      'password-file': { type: 'string' },
      json: { type: 'string' },
      replay: { type: 'string', multiple: true },
      quiet: { type: 'boolean', default: false },
      workers: { type: 'string' },
    },
    strict: true,
  });
  if (!values.media) throw new DcmsafeError('USAGE', 'give --media IMAGE (an ISO 9660, FAT or ZIP image made by dcmsafe create)');
  const trials = whole(values.trials, 'trials', 100);
  const only = values.replay?.map((k) => whole(k, 'replay', 0));
  const flags = {
    trust: values.trust ?? [],
    ...(values.key ? { key: values.key } : {}),
    ...(values.cert ? { cert: values.cert } : {}),
    ...(values['key-passphrase-file'] ? { keyPassphraseFile: values['key-passphrase-file'] } : {}),
    ...(values['password-file'] ? { passwordFile: values['password-file'] } : {}),
  };
  const image = await readFile(values.media).catch((e: unknown) => {
    throw new DcmsafeError('INPUT_NOT_FOUND', `${values.media} cannot be read`, { file: values.media }, { cause: e });
  });
  const seed = values.seed ?? '1';
  const workers = Math.min(whole(values.workers, 'workers', 1), only ? 1 : availableParallelism() * 2);
  const report =
    workers > 1
      ? await inWorkers(values.media, flags, seed, trialNumbers({ trials, ...(only ? { only } : {}) }), workers)
      : await runCampaign({
          image,
          name: values.media,
          seed,
          trials,
          ...(only ? { only } : {}),
          trust: await resolveTrust(flags),
          keys: await resolveKeys(flags),
          ...(only && !values.quiet ? { onTrial: (t) => out(`trial ${t.trial}: ${t.description}: ${t.changed ? 'changed' : 'unchanged'}, verdict ${t.verdict}${t.codes.length ? ` (${t.codes.join(', ')})` : ''} → ${t.outcome}`) } : {}),
        });
  for (const line of formatReport(report)) out(line);
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.table.changedMissed > 0 || report.crashes > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tamper: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof DcmsafeError && e.fault === 'usage' ? 2 : 3;
  },
);
