// npm run bench [-- --quick]: proves that creating media streams, with memory flat as inputs grow.
// Each case runs in its own process and reports throughput and peak resident memory.
// Cases: copy (large files that go on media as they are), reencode (a large implicit VR file
// rewritten as Explicit VR Little Endian, value by value) secure (one 1 GiB file signed and
// encrypted as a Secure DICOM File) and dvd (a 4 GB ISO 9660 DVD image); import (the samples repeated
// to 1 GB over DICOM TLS to storescp, dcmsafe import beside dcmtk storescu, and one 1 GiB secure
// instance; see bench-import.mjs).
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDataSet, encodeFileMeta, encodePart10 } from '../dist/dicom/part10/writer.js';
import { T } from '../dist/dicom/tags.js';

const quick = process.argv.includes('--quick');
const MiB = 1024 * 1024;
const RSS_LIMIT_MB = 256;
const here = path.dirname(fileURLToPath(import.meta.url));

function identity(i) {
  return [
    [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
    [T.SOPInstanceUID, 'UI', `1.2.826.0.1.3680043.10.999.${i}`],
    [T.PatientID, 'LO', 'BENCH'],
    [T.PatientName, 'PN', 'Bench^Mark'],
    [T.StudyInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.1'],
    [T.SeriesInstanceUID, 'UI', '1.2.826.0.1.3680043.10.999.1.1'],
    [T.InstanceNumber, 'IS', i],
    [T.Rows, 'US', 1024],
    [T.Columns, 'US', 1024],
  ];
}

/** A file with `pixels` bytes of pixel data, written sparse (the bench measures dcmsafe, not the disk). */
function writeLarge(file, header, pixels, vr = 'OW', explicit = true) {
  const el = Buffer.alloc(explicit ? 12 : 8);
  el.writeUInt16LE(0x7fe0, 0);
  el.writeUInt16LE(0x0010, 2);
  if (explicit) {
    el.write(vr, 4, 'latin1');
    el.writeUInt32LE(pixels, 8);
  } else el.writeUInt32LE(pixels, 4);
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.concat([header, el]));
  ftruncateSync(fd, header.length + el.length + pixels);
  closeSync(fd);
}

function implicitHeader(i) {
  const ds = buildDataSet(identity(i));
  const parts = [];
  for (const e of ds.sorted()) {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(e.tag >>> 16, 0);
    h.writeUInt16LE(e.tag & 0xffff, 2);
    h.writeUInt32LE(e.value.length, 4);
    parts.push(h, e.value);
  }
  return Buffer.concat([encodeFileMeta({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: `1.2.826.0.1.3680043.10.999.${i}`, transferSyntaxUID: '1.2.840.10008.1.2' }), ...parts]);
}

function runCase(name, inputs, bytes, mode = 'plain') {
  const out = path.join(path.dirname(inputs), mode === 'dvd' ? `${name}.iso` : `${name}-out`);
  const r = spawnSync(process.execPath, [path.join(here, 'bench-create-child.mjs'), inputs, out, mode], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  const { seconds, maxRssMB } = JSON.parse(r.stdout);
  const mbps = bytes / MiB / seconds;
  console.log(`${name.padEnd(10)} ${(bytes / MiB).toFixed(0).padStart(6)} MiB in ${seconds.toFixed(2)} s = ${mbps.toFixed(0).padStart(5)} MiB/s, peak RSS ${maxRssMB.toFixed(0)} MB`);
  rmSync(out, { recursive: true, force: true });
  rmSync(`${out.replace(/\.iso$/, '')}-1.iso`, { force: true });
  return maxRssMB;
}

/** Issue 6: the import bench, its peers in a network namespace. Returns dcmsafe's peak RSS values. */
function importCase(root) {
  const dir = path.join(root, 'import');
  spawnSync('mkdir', ['-p', dir]);
  const size = quick ? 50 * MiB : 1024 * MiB;
  const large = quick ? 128 * MiB : 1024 * MiB;
  const script = path.join(here, 'bench-import.mjs');
  const ns = spawnSync('unshare', ['--net', '--pid', '--fork', 'true']);
  if (ns.status !== 0) {
    console.log('import     skipped: no network namespace here (unshare --net needs root or user namespaces)');
    return [];
  }
  let r = spawnSync(process.execPath, [script, 'prepare', dir, String(size), String(large)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import bench (prepare): ${r.stderr}`);
  r = spawnSync('unshare', ['--net', '--pid', '--fork', 'sh', '-c', 'ip link set lo up && exec "$0" "$1" run "$2"', process.execPath, script, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import bench: ${r.stderr}`);
  const { prepared, results } = JSON.parse(r.stdout.trim().split('\n').at(-1));
  const rate = (bytes, s) => bytes / MiB / s;
  const base = rate(prepared.bytes, results.storescu.seconds);
  const line = (name, bytes, x, note = '') =>
    console.log(`${name.padEnd(10)} ${(bytes / MiB).toFixed(0).padStart(6)} MiB in ${x.seconds.toFixed(2)} s = ${rate(bytes, x.seconds).toFixed(0).padStart(5)} MiB/s, peak RSS ${x.maxRssMB.toFixed(0)} MB${note}`);
  console.log(`import over TLS to storescp: ${prepared.files} files (the samples repeated), ${(prepared.bytes / MiB).toFixed(0)} MiB`);
  line('storescu', prepared.bytes, results.storescu, ' (dcmtk storescu +tls, the plain files)');
  line('imp-plain', prepared.bytes, results.plain, ` (dcmsafe import, plain medium: verify + coerce + send; ${(rate(prepared.bytes, results.plain.seconds) / base).toFixed(2)}x storescu)`);
  line('imp-secure', prepared.bytes, results.secure, ` (signed and encrypted medium: verify, decrypt + coerce + send; ${(rate(prepared.bytes, results.secure.seconds) / base).toFixed(2)}x storescu)`);
  line('imp-large', prepared.large, results.large, ' (one secure instance)');
  return [results.plain.maxRssMB, results.secure.maxRssMB, results.large.maxRssMB];
}

const root = mkdtempSync(path.join(tmpdir(), 'dcmsafe-bench-'));
try {
  const perFile = quick ? 64 * MiB : 256 * MiB;
  const files = quick ? 2 : 4;
  const copyDir = path.join(root, 'copy');
  spawnSync('mkdir', ['-p', copyDir]);
  for (let i = 1; i <= files; i++) {
    writeLarge(path.join(copyDir, `f${i}.dcm`), encodePart10({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: `1.2.826.0.1.3680043.10.999.${i}` }, buildDataSet(identity(i))), perFile);
  }
  const reDir = path.join(root, 'reencode');
  spawnSync('mkdir', ['-p', reDir]);
  writeLarge(path.join(reDir, 'implicit.dcm'), implicitHeader(100), perFile * (quick ? 1 : 2), 'OW', false);

  const secureDir = path.join(root, 'secure');
  const secureBytes = quick ? 128 * MiB : 1024 * MiB;
  spawnSync('mkdir', ['-p', secureDir]);
  writeLarge(path.join(secureDir, 'large.dcm'), encodePart10({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: '1.2.826.0.1.3680043.10.999.200' }, buildDataSet(identity(200))), secureBytes);

  // Issue 4: a DVD image (ISO 9660) of 4 GB from generated input, streamed.
  const dvdDir = path.join(root, 'dvd');
  const dvdFiles = quick ? 2 : 16;
  spawnSync('mkdir', ['-p', dvdDir]);
  for (let i = 1; i <= dvdFiles; i++) {
    writeLarge(path.join(dvdDir, `d${i}.dcm`), encodePart10({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: `1.2.826.0.1.3680043.10.999.${300 + i}` }, buildDataSet(identity(300 + i))), 250 * 1000 * 1000);
  }

  console.log(`dcmsafe bench${quick ? ' (quick)' : ''}: create --media folder, peak RSS target < ${RSS_LIMIT_MB} MB`);
  const peaks = [
    runCase('copy', copyDir, perFile * files),
    runCase('reencode', reDir, perFile * (quick ? 1 : 2)),
    // Issue 3: sign (SHA-256, RSA) and encrypt (AES-256-CBC) in one streaming pass.
    runCase('secure', secureDir, secureBytes, 'secure'),
    runCase('dvd', dvdDir, dvdFiles * 250 * 1000 * 1000, 'dvd'),
  ];
  peaks.push(...importCase(root));
  const worst = Math.max(...peaks);
  if (worst > RSS_LIMIT_MB) {
    console.error(`peak RSS ${worst.toFixed(0)} MB exceeds ${RSS_LIMIT_MB} MB`);
    process.exitCode = 1;
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
