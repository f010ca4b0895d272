// The bench cases. Each returns plain figures (seconds, peak RSS in MB, bytes); bench.mjs turns them
// into rates, ratios and the table. dcmsafe and its reference run one after the other in the same
// invocation, on the same files, so machine noise mostly cancels in the ratios.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { linkSubset, writeHeaderOnlySet, writeLargeInstance, writeStudySet } from './dataset.mjs';
import { CLI, here, must, recipientArgs, secureArgs, timedOk } from './run.mjs';

/** Paths of one bench run, all under the mkdtemp work folder. */
export function layout(root) {
  const p = (...parts) => path.join(root, ...parts);
  return {
    root,
    time: p('time.txt'),
    pki: p('PKI'),
    input: p('IN'),
    out: p('OUT.iso'),
    plain: p('PLAIN'),
    largeIn: p('LARGE'),
    largeIso: p('LARGE.iso'),
    scale: p('SCALE'),
  };
}

/** Inputs: the demo PKI, the study set of about `size` bytes, the large sparse instance. */
export function prepare(L, opts) {
  must(process.execPath, [CLI, 'pki', 'demo', '--out', L.pki]);
  const set = writeStudySet(L.input, opts.size, opts.maxMultiFrame);
  const largeBytes = writeLargeInstance(path.join(L.largeIn, 'I00001'), opts.large);
  return { ...set, largeBytes };
}

/** create: dcmsafe create --media dvd (signed, encrypted) against ref-create.sh. */
export function createCase(L) {
  const dcmsafe = timedOk(L.time, process.execPath, [CLI, 'create', L.input, '--media', 'dvd', '--out', L.out, ...secureArgs(L.pki)]);
  const work = path.join(L.root, 'refcreate');
  mkdirSync(work);
  const ref = timedOk(L.time, 'bash', [path.join(here, 'ref-create.sh'), L.input, path.join(work, 'STAGE'), path.join(work, 'OUT'), path.join(work, 'REF.iso'), L.pki]);
  const refIso = statSync(path.join(work, 'REF.iso')).size;
  rmSync(work, { recursive: true, force: true }); // disk: the reference's three copies are not needed again
  return { dcmsafe: pick(dcmsafe), reference: pick(ref), isoBytes: statSync(L.out).size, refIsoBytes: refIso };
}

/** verify: dcmsafe verify of the secure ISO (verdict must be trusted) against ref-verify.sh. */
export function verifyCase(L, expectedFiles) {
  const dcmsafe = timedOk(L.time, process.execPath, [CLI, 'verify', L.out, ...recipientArgs(L.pki), '--json']);
  const verdict = JSON.parse(dcmsafe.stdout).verdict;
  if (verdict !== 'trusted') throw new Error(`dcmsafe verify: verdict ${verdict}, expected trusted`);
  const x = path.join(L.root, 'X');
  const ref = timedOk(L.time, 'bash', [path.join(here, 'ref-verify.sh'), L.out, x, L.pki]);
  rmSync(x, { recursive: true, force: true });
  const verified = ref.stdout.split('\n').filter((l) => l.startsWith('ok ')).length;
  if (verified !== expectedFiles) throw new Error(`reference verify checked ${verified} files, expected ${expectedFiles} (the instances and DICOMDIR)`);
  return { dcmsafe: { ...pick(dcmsafe), verdict }, reference: { ...pick(ref), files: verified } };
}

/** memory: one large instance, its own create (secure DVD) and verify; its import runs in importCase. */
export function largeCase(L) {
  const create = timedOk(L.time, process.execPath, [CLI, 'create', L.largeIn, '--media', 'dvd', '--out', L.largeIso, ...secureArgs(L.pki)]);
  const verify = timedOk(L.time, process.execPath, [CLI, 'verify', L.largeIso, ...recipientArgs(L.pki), '--json']);
  const verdict = JSON.parse(verify.stdout).verdict;
  if (verdict !== 'trusted') throw new Error(`dcmsafe verify (large): verdict ${verdict}, expected trusted`);
  return { create: pick(create), verify: { ...pick(verify), verdict } };
}

/**
 * import: storescu against dcmsafe import (secure ISO, plain medium, large instance), all inside a
 * network namespace with only loopback up (see import-inside.mjs). The plain medium is made untimed.
 */
export function importCase(L, instances) {
  must(process.execPath, [CLI, 'create', L.input, '--media', 'folder', '--out', L.plain]);
  const planFile = path.join(L.root, 'import-plan.json');
  writeFileSync(planFile, JSON.stringify({ root: L.root, pki: L.pki, input: L.input, secure: L.out, plain: L.plain, large: L.largeIso }));
  const r = must('unshare', ['--net', '--pid', '--fork', 'sh', '-c', 'ip link set lo up && exec "$0" "$1" "$2"', process.execPath, path.join(here, 'import-inside.mjs'), planFile]);
  const results = JSON.parse(r.stdout.trim().split('\n').at(-1));
  for (const name of ['storescu', 'secure', 'plain']) {
    if (results[name].stored !== instances) throw new Error(`${name === 'storescu' ? 'storescu' : `dcmsafe import (${name})`} stored ${results[name].stored} instances, expected ${instances}`);
  }
  if (results.large.stored !== 1) throw new Error(`dcmsafe import (large) stored ${results.large.stored} instances, expected 1`);
  return results;
}

/**
 * scale: the DICOMDIR of N header-only instances, dcmsafe's library (dicomdir-child.mjs) against
 * dcmmkdir +r, for each N. The largest set is written once; smaller ones are hard links to its first N.
 */
export function scaleCase(L, counts) {
  const largest = Math.max(...counts);
  const all = path.join(L.scale, `N${largest}`);
  const files = writeHeaderOnlySet(all, largest);
  const rows = [];
  for (const n of counts) {
    const dir = n === largest ? all : path.join(L.scale, `N${n}`);
    if (n !== largest) linkSubset(all, files, n, dir);
    const outFile = path.join(L.scale, `dcmsafe-${n}.dicomdir`);
    const d = timedOk(L.time, process.execPath, [path.join(here, 'dicomdir-child.mjs'), dir, outFile]);
    const child = JSON.parse(d.stdout);
    if (child.instances !== n) throw new Error(`dcmsafe DICOMDIR of ${n}: ${child.instances} instances planned`);
    // dcmmkdir writes its DICOMDIR beside the files (+D), as on a real File-set.
    const ref = timedOk(L.time, 'dcmmkdir', ['-q', '+id', dir, '+D', path.join(dir, 'DICOMDIR'), '+r', '-Pgp']);
    rows.push({ n, dcmsafe: { ...pick(d), workSeconds: child.seconds, dicomdirBytes: statSync(outFile).size }, reference: { ...pick(ref), dicomdirBytes: statSync(path.join(dir, 'DICOMDIR')).size } });
    if (n !== largest) rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** limit: the machine's crypto bound for sign + encrypt (SHA-256 and AES-256-CBC, 64 KiB blocks). */
export function limitCase() {
  const speed = (alg) => {
    const r = must('openssl', ['speed', '-seconds', '2', '-bytes', '65536', '-evp', alg]);
    const m = /^\S+\s+([\d.]+)k\s*$/m.exec(r.stdout);
    if (!m) throw new Error(`openssl speed ${alg}: cannot read ${r.stdout.slice(-300)}`);
    return Number(m[1]) / 1000; // openssl prints 1000s of bytes per second: MB/s
  };
  const aes = speed('aes-256-cbc');
  const sha = speed('sha256');
  const cores = os.availableParallelism();
  const perCore = 1 / (1 / aes + 1 / sha); // one core does both passes over every byte
  // Every file also costs one RSA-3072 signature (PS3.15 D.1 signs each file): the bound for a set of
  // files, not only bytes, counts it too (see withSignatures below).
  const r = must('openssl', ['speed', '-seconds', '2', 'rsa3072']);
  const m = /^rsa 3072 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)/m.exec(r.stdout);
  const rsaSignsPerSecond = m ? Number(m[1]) : undefined;
  return { aes256cbcMBps: aes, sha256MBps: sha, perCoreMBps: perCore, cores, allCoreMBps: perCore * cores, ...(rsaSignsPerSecond ? { rsa3072SignsPerSecond: rsaSignsPerSecond } : {}) };
}

/** The all-core crypto bound for `files` files of `bytes` in all: per-byte work plus one RSA signature per file. */
export function withSignatures(limit, bytes, files) {
  if (!limit.rsa3072SignsPerSecond) return undefined;
  const coreSeconds = bytes / 1e6 / limit.perCoreMBps + files / limit.rsa3072SignsPerSecond;
  return bytes / 1e6 / (coreSeconds / limit.cores);
}

/** The machine, for the JSON. */
export function machine() {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    model: cpus[0]?.model ?? 'unknown',
    memoryGB: os.totalmem() / 1e9,
    node: process.version,
    openssl: spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim(),
    dcmtk: spawnSync('dcmmkdir', ['--version'], { encoding: 'utf8' }).stdout.match(/dcmmkdir (v\S+)/)?.[1] ?? 'unknown',
    kernel: os.release(),
    date: new Date().toISOString(),
  };
}

function pick(r) {
  return { seconds: r.seconds, rssMB: r.rssMB };
}

