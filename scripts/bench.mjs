// npm run bench [-- --size 2G | --quick] [--keep]: dcmsafe beside the reference tools (issue 10).
// Cases, each dcmsafe then its reference in the same run, every timed command its own process under
// /usr/bin/time (wall seconds, peak RSS):
//   create  dcmsafe create --media dvd, signed and encrypted, against cp + dcmmkdir + openssl cms
//           (xargs -P nproc) + xorriso (scripts/bench/ref-create.sh)
//   verify  dcmsafe verify of that ISO against 7z + openssl cms decrypt/verify (ref-verify.sh)
//   import  dcmsafe import (secure ISO, plain medium) against dcmtk storescu, both over TLS to storescp
//           in a network namespace (import-inside.mjs)
//   memory  peak RSS of the above, and of create, verify and import of one large instance
//   scale   the DICOMDIR of N header-only instances: dcmsafe's library against dcmmkdir
//   limit   the machine's crypto bound (openssl speed) that create is measured against
// Writes bench/results/latest.json and prints a table. Exit status 1 when a case fails to run or a
// dcmsafe create/verify/import run peaks above 256 MB RSS; speed targets are reported, not enforced.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCase, importCase, largeCase, layout, limitCase, machine, prepare, scaleCase, verifyCase } from './bench/cases.mjs';
import { checkedRss, printTable, RSS_LIMIT_MB, rows, TARGETS } from './bench/report.mjs';
import { here, MB } from './bench/run.mjs';

const MiB = 2 ** 20;

/** "2G", "500M", "50M", "123456": decimal units (10^9, 10^6, 10^3), like MB in the results. */
function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text ?? '');
  if (!m) throw new Error(`--size ${text}: expected a number with K, M or G (e.g. 2G, 500M)`);
  return Math.round(Number(m[1]) * { '': 1, K: 1e3, M: 1e6, G: 1e9 }[m[2].toUpperCase()]);
}

/** The cases, in the order they run; --cases picks some (verify and import need create's image). */
const CASES = ['create', 'verify', 'large', 'import', 'scale', 'limit'];

/** Options from the command line: --quick is --size 50M with every case shrunk (< 3 min on 2 cores). */
function options(argv) {
  const known = new Set(['--quick', '--keep', '--size', '--cases']);
  const unknown = argv.filter((a, i) => a.startsWith('-') && !known.has(a) && argv[i - 1] !== '--size' && argv[i - 1] !== '--cases');
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(' ')} (usage: node scripts/bench.mjs [--size 2G | --quick] [--cases ${CASES.join(',')}] [--keep])`);
  const c = argv.indexOf('--cases');
  const cases = new Set(c >= 0 ? (argv[c + 1] ?? '').split(',') : CASES);
  const wrong = [...cases].filter((x) => !CASES.includes(x));
  if (wrong.length > 0) throw new Error(`--cases: unknown ${wrong.join(', ')} (known: ${CASES.join(', ')})`);
  const quick = argv.includes('--quick');
  const at = argv.indexOf('--size');
  const sizeText = at >= 0 ? argv[at + 1] : quick ? '50M' : '2G';
  const size = parseSize(sizeText);
  const small = quick || size <= 100e6;
  return {
    quick,
    cases,
    keep: argv.includes('--keep'),
    sizeText,
    size,
    maxMultiFrame: small ? 8 * MiB : Infinity, // quick: each multi-frame instance at most 8 MiB
    large: quick ? 128 * MiB : 1024 * MiB, // the single large instance of the memory case
    scaleCounts: quick ? [500, 1000, 2000] : [1000, 10000, 100000],
  };
}

/** Runs one case; a case that throws is recorded and the bench goes on with the others. */
function attempt(name, fn, failures) {
  const start = Date.now();
  process.stderr.write(`bench: ${name}...`);
  try {
    const r = fn();
    process.stderr.write(` ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
    return r;
  } catch (e) {
    process.stderr.write(` FAILED\n${e.stack ?? e}\n`);
    failures.push([name, e]);
    return undefined;
  }
}

function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e.message}`);
    process.exitCode = 2;
    return;
  }
  const root = mkdtempSync(path.join(tmpdir(), 'dcmsafe-bench-'));
  const L = layout(root);
  const failures = [];
  const res = { machine: machine(), options: { size: opts.size, sizeText: opts.sizeText, quick: opts.quick, largeBytes: opts.large, scaleCounts: opts.scaleCounts }, units: { MB: '10^6 bytes', rate: 'MB of input (DICOM) bytes per second of wall time', rss: 'peak RSS in MB (10^6 bytes), /usr/bin/time %M' }, targets: { ...TARGETS, rssMB: RSS_LIMIT_MB } };
  try {
    const want = (name) => opts.cases.has(name);
    const needsData = ['create', 'verify', 'large', 'import'].some(want);
    res.dataset = needsData ? attempt('dataset', () => prepare(L, opts), failures) : undefined;
    if (res.dataset) {
      const d = res.dataset;
      process.stderr.write(`bench: ${d.files} instances (${d.slices} CT slices, ${d.multiFrame} XA multi-frame of ${d.framesPerMultiFrame} frames), ${(d.bytes / MB).toFixed(1)} MB; work folder ${root}\n`);
      res.create = attempt('create', () => createCase(L), failures);
      if (res.create && want('verify')) res.verify = attempt('verify', () => verifyCase(L, d.files + 1), failures);
      if (want('large') || want('import')) res.large = attempt('large instance create + verify', () => largeCase(L), failures);
      if (res.create && res.large && want('import')) res.import = attempt('import', () => importCase(L, d.files), failures);
    }
    if (want('scale')) res.scale = attempt('scale (DICOMDIR)', () => scaleCase(L, opts.scaleCounts), failures);
    if (res.scale) res.scaleFlatness = flatness(res.scale);
    if (want('limit') || want('create')) res.limit = attempt('limit (openssl speed)', () => limitCase(), failures);
  } finally {
    if (opts.keep) process.stderr.write(`bench: kept ${root}\n`);
    else rmSync(root, { recursive: true, force: true });
  }
  const table = rows(res);
  res.table = table.map(({ case: name, d, r, ratio, target, ok }) => ({ case: name, dcmsafe: d, reference: r, ratio, target, pass: ok }));
  res.failures = failures.map(([name, e]) => ({ case: name, error: String(e.message ?? e) }));
  const over = checkedRss(table).filter((x) => x.rssMB > RSS_LIMIT_MB);
  res.rssOverLimit = over;
  const outDir = path.join(here, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(res, null, 2)}\n`);

  console.log(`dcmsafe bench --size ${opts.sizeText}${opts.quick ? ' (quick)' : ''}: ${res.machine.cpus} cores, ${res.machine.model}, node ${res.machine.node}, ${res.machine.openssl}`);
  console.log('MB = 10^6 bytes; rates are MB of input DICOM bytes per second; ratio = reference time / dcmsafe time (> 1: dcmsafe faster).');
  console.log('References: create and verify run openssl in parallel on every core (xargs -P nproc); import compares with dcmtk storescu +tls.');
  printTable(table, failures);
  console.log(`results: bench/results/latest.json`);
  for (const x of over) console.error(`peak RSS ${x.rssMB.toFixed(0)} MB in "${x.case}" exceeds ${RSS_LIMIT_MB} MB`);
  if (failures.length > 0 || over.length > 0) process.exitCode = 1;
}

/** Per-instance time at the largest N over the smallest: wall (with process start) and work only. */
function flatness(scale) {
  const first = scale[0];
  const last = scale.at(-1);
  const per = (x, n) => x / n;
  return {
    dcmsafe: per(last.dcmsafe.seconds, last.n) / per(first.dcmsafe.seconds, first.n),
    dcmsafeWork: per(last.dcmsafe.workSeconds, last.n) / per(first.dcmsafe.workSeconds, first.n),
    reference: per(last.reference.seconds, last.n) / per(Math.max(first.reference.seconds, 0.01), first.n),
  };
}

main();
