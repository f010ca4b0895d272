// The import bench (issue 6), run by bench.mjs: the samples repeated to SIZE bytes (fresh UIDs per
// copy) sent over DICOM TLS to dcmtk storescp, by dcmtk `storescu +tls` (the plain files) and by
// `dcmsafe import` (the same files as a plain medium, then as a signed and encrypted one), in the same
// run; and one large instance, signed and encrypted, imported to show memory does not follow file size.
// Throughput in MiB/s of DICOM files, peak RSS from /usr/bin/time. Peers run in a network namespace
// with only loopback up (unshare --net); storescp --ignore receives and discards, so the disk is out.
//
//   node scripts/bench-import.mjs prepare ROOT SIZE LARGE   (outside: files and media)
//   node scripts/bench-import.mjs run ROOT                  (inside the namespace: prints JSON)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPart10File } from '../dist/dicom/part10/header.js';
import { waitPort } from './wait-port.mjs';
import { T } from '../dist/dicom/tags.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, '..', 'dist', 'cli', 'main.js');
const [mode, root, sizeArg, largeArg] = process.argv.slice(2);

function must(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')}...: ${r.stderr || r.stdout}`);
  return r;
}

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Same-length UID for copy k: the last 6 digits replaced (the UIDs of the samples are long 2.25 ones). */
function variant(uid, k) {
  return uid.slice(0, -6) + String(k).padStart(6, '0');
}

function replaceAll(buf, from, to) {
  const a = Buffer.from(from, 'latin1');
  const b = Buffer.from(to, 'latin1');
  for (let i = buf.indexOf(a); i >= 0; i = buf.indexOf(a, i + b.length)) b.copy(buf, i);
}

async function prepare() {
  const size = Number(sizeArg);
  const large = Number(largeArg);
  const samples = path.join(root, 'samples');
  must(process.execPath, [CLI, 'samples', '--out', samples]);
  must(process.execPath, [CLI, 'pki', 'demo', '--out', path.join(root, 'pki')]);
  const originals = [];
  for (const f of walk(samples)) {
    const h = await readPart10File(f);
    originals.push({ bytes: readFileSync(f), uids: [T.SOPInstanceUID, T.StudyInstanceUID, T.SeriesInstanceUID].map((t) => h.dataSet.string(t)).filter((u) => u && u.length > 20) });
  }
  const per = originals.reduce((n, o) => n + o.bytes.length, 0);
  const copies = Math.max(1, Math.ceil(size / per));
  const files = path.join(root, 'files');
  for (let k = 1; k <= copies; k++) {
    const d = path.join(files, `c${k}`);
    mkdirSync(d, { recursive: true });
    originals.forEach((o, i) => {
      const b = Buffer.from(o.bytes);
      for (const u of o.uids) replaceAll(b, u, variant(u, k));
      writeFileSync(path.join(d, `i${i}.dcm`), b);
    });
  }
  const pki = path.join(root, 'pki');
  const secure = ['--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')];
  must(process.execPath, [CLI, 'create', files, '--media', 'folder', '--out', path.join(root, 'plain-media')]);
  must(process.execPath, [CLI, 'create', files, '--media', 'folder', '--out', path.join(root, 'secure-media'), ...secure]);
  // One large instance: a generated CT-like header and `large` bytes of pixel data.
  const { buildDataSet, encodePart10 } = await import('../dist/dicom/part10/writer.js');
  const header = encodePart10(
    { sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: '1.2.826.0.1.3680043.10.999.77' },
    buildDataSet([
      [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
      [T.SOPInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.77'],
      [T.PatientID, 'LO', 'BENCH'],
      [T.PatientName, 'PN', 'Bench^Large'],
      [T.StudyInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.7'],
      [T.SeriesInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.7.1'],
    ]),
  );
  const el = Buffer.alloc(12);
  el.writeUInt16LE(0x7fe0, 0);
  el.writeUInt16LE(0x0010, 2);
  el.write('OB', 4, 'latin1');
  el.writeUInt32LE(large, 8);
  const largeDir = path.join(root, 'large');
  mkdirSync(largeDir);
  const fd = (await import('node:fs')).openSync(path.join(largeDir, 'large.dcm'), 'w');
  const fs = await import('node:fs');
  fs.writeSync(fd, Buffer.concat([header, el]));
  fs.ftruncateSync(fd, header.length + el.length + large);
  fs.closeSync(fd);
  must(process.execPath, [CLI, 'create', largeDir, '--media', 'folder', '--out', path.join(root, 'large-media'), ...secure]);
  const bytes = walk(files).reduce((n, f) => n + statSync(f).size, 0);
  writeFileSync(path.join(root, 'prepared.json'), JSON.stringify({ files: walk(files).length, bytes, large }));
}


/** Runs a command under /usr/bin/time: seconds and peak RSS (MB). */
function timed(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`${cmd}: no timing (${r.stderr.slice(-2000)})`);
  return { status: r.status, seconds: Number(m[1]), maxRssMB: Number(m[2]) / 1024, stdout: r.stdout, stderr: r.stderr };
}

async function runInside() {
  const prepared = JSON.parse(readFileSync(path.join(root, 'prepared.json'), 'utf8'));
  const pki = path.join(root, 'pki');
  const P = (n) => path.join(pki, n);
  // dcmtk leaves Nagle's algorithm on unless TCP_NODELAY is set: with it on, every small DIMSE
  // response waits for a delayed ACK (about 80 ms per instance on loopback). Set for both dcmtk tools.
  process.env.TCP_NODELAY = '1';
  const scp = spawn('storescp', ['+tls', P('tls-server.key'), P('tls-server.pem'), '+cf', P('demo-root-ca.pem'), '--require-peer-cert', '+xa', '-pm', '--ignore', '2762'], { stdio: 'ignore' });
  try {
    await waitPort(2762);
    const results = {};
    const storescu = timed('storescu', ['+tls', P('tls-client.key'), P('tls-client.pem'), '+cf', P('demo-root-ca.pem'), '-aec', 'STORESCP', '+sd', '+r', '127.0.0.1', '2762', path.join(root, 'files')]);
    if (storescu.status !== 0) throw new Error(`storescu: ${storescu.stderr.slice(-2000)}`);
    results.storescu = storescu;
    const importArgs = (media, journal) => [
      CLI, 'import', media, '--trust', P('demo-root-ca.pem'), '--key', P('media-recipient.key'), '--cert', P('media-recipient.pem'),
      '--to', '127.0.0.1:2762', '--aec', 'STORESCP', '--tls-ca', P('demo-root-ca.pem'), '--tls-cert', P('tls-client.pem'), '--tls-key', P('tls-client.key'),
      '--patient-id', 'LOCAL-BENCH', '--issuer', 'OURHOSP', '--confirm-multiple-patients', '--journal', path.join(root, journal), '--json',
    ];
    for (const [name, media, extra] of [
      ['plain', 'plain-media', ['--allow-untrusted']],
      ['secure', 'secure-media', []],
      ['large', 'large-media', []],
    ]) {
      const r = timed(process.execPath, [...importArgs(path.join(root, media), `${name}.journal`), ...extra]);
      if (r.status !== 0) throw new Error(`dcmsafe import ${name} (exit ${r.status}): ${r.stderr.slice(-3000)}`);
      const report = JSON.parse(r.stdout);
      results[name] = { seconds: r.seconds, maxRssMB: r.maxRssMB, stored: report.stored.length };
    }
    results.storescu = { seconds: storescu.seconds, maxRssMB: storescu.maxRssMB };
    process.stdout.write(`${JSON.stringify({ prepared, results })}\n`);
  } finally {
    scp.kill('SIGKILL');
  }
}

if (mode === 'prepare') await prepare();
else if (mode === 'run') await runInside();
else throw new Error('usage: bench-import.mjs prepare ROOT SIZE LARGE | run ROOT');
