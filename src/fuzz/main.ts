/**
 * `npm run fuzz -- --target NAME|all --iterations N --seed S [--workers W] [--timeout MS] [--json FILE]
 *  [--fixtures DIR | --no-save] [--replay INDEX] [--list]`
 *
 * Runs a fuzz campaign per target and prints a table; exits 1 when any input failed (a thrown value that
 * is not a typed error, an input slower than the limit or that never finishes, memory beyond the bound).
 * Failures are saved under test/fuzz/fixtures/TARGET/ (the regression tests run every saved input).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runCampaign, type CampaignReport } from './campaign.js';
import { inputAt, prepare } from './inputs.js';
import { REPO_ROOT, runOne } from './target.js';
import { loadTarget, TARGET_NAMES } from './targets/index.js';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function integer(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${value}`);
  return n;
}

function row(r: CampaignReport): string {
  const rejected = Object.values(r.rejected).reduce((a, b) => a + b, 0);
  const top = Object.entries(r.rejected)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${r.target.padEnd(10)} ${String(r.iterations).padStart(9)} ${r.perSecond.toFixed(0).padStart(7)}/s ${String(r.accepted).padStart(9)} ${String(rejected).padStart(9)} ${String(r.failures.length).padStart(8)}  ${top}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'all' },
      iterations: { type: 'string' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'string' },
      fixtures: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      replay: { type: 'string' },
      list: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.list) {
    for (const name of TARGET_NAMES) out(`${name.padEnd(10)} ${(await loadTarget(name)).description}`);
    return 0;
  }
  const targets = values.target === 'all' ? TARGET_NAMES : values.target!.split(',');
  for (const t of targets) await loadTarget(t);
  const seed = integer(values.seed, 'seed', 1);
  const iterations = integer(values.iterations, 'iterations', 2000);
  const timeoutMs = integer(values.timeout, 'timeout', 1000);
  if (values.replay !== undefined) {
    const index = integer(values.replay, 'replay', 0);
    for (const t of targets) {
      const prepared = await prepare(await loadTarget(t));
      const input = inputAt(prepared, seed, index);
      out(`${t} seed ${seed} input ${index} (${input.bytes.length} bytes): ${input.how}`);
      const outcome = await runOne(prepared.target, input.bytes, { scratch: path.join(REPO_ROOT, '.fuzz-replay') });
      out(JSON.stringify(outcome, null, 2));
    }
    return 0;
  }
  const fixtures = values['no-save'] ? undefined : (values.fixtures ?? path.join(REPO_ROOT, 'test', 'fuzz', 'fixtures'));
  const workers = integer(values.workers, 'workers', 1);
  out(`fuzz: seed ${seed}, ${iterations} inputs per target, ${workers} worker(s), ${timeoutMs} ms per input`);
  out(`${'target'.padEnd(10)} ${'inputs'.padStart(9)} ${'rate'.padStart(9)} ${'accepted'.padStart(9)} ${'rejected'.padStart(9)} ${'failures'.padStart(8)}  most frequent error codes`);
  const reports: CampaignReport[] = [];
  for (const target of targets) {
    let last = Date.now();
    const report = await runCampaign({
      target,
      iterations,
      seed,
      workers,
      timeoutMs,
      fixtures,
      onProgress: (done, total) => {
        if (Date.now() - last < 30_000) return;
        last = Date.now();
        process.stderr.write(`  ${target}: ${done}/${total}\n`);
      },
    });
    reports.push(report);
    out(row(report));
    for (const f of report.failures.slice(0, 20)) out(`  ${f.kind} at input ${f.index}: ${f.message}${f.fixture ? ` -> ${path.relative(process.cwd(), f.fixture)}` : ''}\n    ${f.how}`);
    if (report.failures.length > 20) out(`  ... ${report.failures.length - 20} more (${report.signatures} distinct)`);
  }
  if (values.json) await writeFile(values.json, `${JSON.stringify({ seed, iterations, timeoutMs, workers, reports }, null, 2)}\n`);
  const failed = reports.reduce((n, r) => n + r.failures.length, 0);
  out(failed === 0 ? 'fuzz: no failures' : `fuzz: ${failed} failure(s)`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  },
);
