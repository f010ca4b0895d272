/**
 * Network scenarios against dcmtk and OpenSSL, run by test/interop/net-dcmtk.test.ts inside a private
 * network and PID namespace (`unshare --net --pid --fork`, only `lo` up): every server started here
 * dies with this process. Uses the built dist/ (npm test builds before vitest).
 *
 *   node scenario.mjs '{"scenario": "...", "pki": DIR, "out": DIR, "files": [...]}'
 *
 * Prints one JSON line: what each step gave (results, or error code, reason and message, and time).
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout } from 'node:timers';
import { waitPort } from '../../../scripts/wait-port.mjs';
import { performance } from 'node:perf_hooks';

const dist = new URL('../../../dist/', import.meta.url);
const { echo, openStoreSession } = await import(new URL('net/client.js', dist).href);
const { startStoreScp } = await import(new URL('net/server.js', dist).href);
const { readPart10File } = await import(new URL('dicom/part10/header.js', dist).href);
const { T } = await import(new URL('dicom/tags.js', dist).href);

const config = JSON.parse(process.argv[2] ?? '{}');
const P = (name) => path.join(config.pki, name);
const pem = (name) => readFileSync(P(name));
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const children = [];

function start(cmd, args, options = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.on('error', (e) => (output += `spawn error: ${e.message}`));
  const entry = { child, output: () => output };
  children.push(entry);
  return entry;
}

function runToEnd(cmd, args) {
  return new Promise((resolve) => {
    const e = start(cmd, args);
    e.child.on('close', (status) => resolve({ status, output: e.output() }));
  });
}


/** Runs a step; returns its value, or the error as data. */
async function attempt(fn) {
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ok: true, ms: Math.round(performance.now() - t0), value };
  } catch (e) {
    return { ok: false, ms: Math.round(performance.now() - t0), code: e.code, reason: e.data?.reason, message: e.message, data: e.data };
  }
}

const tlsClient = (overrides = {}) => ({ ca: [pem('ca.crt')], cert: pem('client.crt'), key: pem('client.key'), timeoutMs: 3000, ...overrides });
const peer = (port, extra = {}) => ({ host: '127.0.0.1', port, callingAE: 'DCMSAFE', calledAE: 'STORESCP', timeoutMs: 10_000, ...extra });
const storescpTls = (key, crt, port, extra = []) => start('storescp', ['+tls', P(key), P(crt), '-pw', '+cf', P('ca.crt'), '--require-peer-cert', ...extra, String(port)]);

async function describeFiles(files) {
  const out = [];
  for (const f of files) {
    const h = await readPart10File(f);
    out.push({
      file: f,
      // The data set's own UIDs (some corpus files carry different ones in their meta).
      sopClassUID: h.dataSet.string(T.SOPClassUID) ?? h.meta.string(T.MediaStorageSOPClassUID),
      sopInstanceUID: h.dataSet.string(T.SOPInstanceUID) ?? h.meta.string(T.MediaStorageSOPInstanceUID),
      transferSyntaxUID: h.transferSyntax.uid,
      offset: h.dataSetOffset,
      length: h.size - h.dataSetOffset,
    });
  }
  return out;
}

async function storeAll(options, infos) {
  const session = await openStoreSession({
    ...options,
    contexts: infos.map((i) => ({ sopClassUID: i.sopClassUID, transferSyntaxes: [...new Set([i.transferSyntaxUID, EXPLICIT_LE])] })),
  });
  const results = [];
  for (const i of infos) {
    const ctx = session.accepted(i.sopClassUID).find((c) => c.transferSyntaxUID === i.transferSyntaxUID);
    if (!ctx) {
      results.push({ sopInstanceUID: i.sopInstanceUID, refused: session.refusals(i.sopClassUID) });
      continue;
    }
    const t0 = performance.now();
    const result = await session.store(ctx.contextId, i.sopClassUID, i.sopInstanceUID, createReadStream(i.file, { start: i.offset, highWaterMark: 64 * 1024 }), i.length);
    results.push({ sopInstanceUID: i.sopInstanceUID, transferSyntaxUID: ctx.transferSyntaxUID, result, ms: performance.now() - t0 });
  }
  await session.release();
  return { peer: session.peer, results };
}

const scenarios = {
  /** C-ECHO to storescp, plain and over TLS with a required client certificate. */
  async echo() {
    start('storescp', ['11112']);
    storescpTls('server.key', 'server.crt', 11113);
    await waitPort(11112);
    await waitPort(11113);
    return {
      plain: await attempt(() => echo(peer(11112))),
      tls: await attempt(() => echo(peer(11113, { tls: tlsClient() }))),
      tlsWithoutClientCert: await attempt(() => echo(peer(11113, { tls: { ca: [pem('ca.crt')], timeoutMs: 3000 } }))),
      tlsRogueClientCert: await attempt(() => echo(peer(11113, { tls: tlsClient({ cert: pem('rogue.crt'), key: pem('rogue.key') }) }))),
    };
  },

  /** C-STORE of corpus files to storescp (bit-preserving): over TLS, and one plain. */
  async store() {
    const tlsDir = path.join(config.out, 'tls');
    const plainDir = path.join(config.out, 'plain');
    mkdirSync(tlsDir, { recursive: true });
    mkdirSync(plainDir, { recursive: true });
    storescpTls('server.key', 'server.crt', 11113, ['+xa', '+B', '-od', tlsDir]);
    start('storescp', ['+xa', '+B', '-od', plainDir, '11112']);
    await waitPort(11112);
    await waitPort(11113);
    const infos = await describeFiles(config.files);
    return {
      infos,
      tls: await attempt(() => storeAll(peer(11113, { tls: tlsClient() }), infos)),
      plain: await attempt(() => storeAll(peer(11112), infos.slice(0, 1))),
    };
  },

  /** storescu and echoscu (TLS, client certificates) to our SCP. */
  async scp() {
    const dir = path.join(config.out, 'ours');
    mkdirSync(dir, { recursive: true });
    const scp = await startStoreScp({
      port: 11114,
      aeTitle: 'DCMSAFE_SCP',
      storageDir: dir,
      tls: { cert: pem('server.crt'), key: pem('server.key'), ca: [pem('ca.crt')], requireClientCertificate: true },
    });
    const tlsArgs = (key, crt) => ['+tls', P(key), P(crt), '-pw', '+cf', P('ca.crt'), '-aec', 'DCMSAFE_SCP', '-aet', 'STORESCU'];
    // storescu proposes uncompressed syntaxes unless told which compressed one (-xx: JPEG 12-bit lossy).
    const storescu = [];
    for (const run of config.scuRuns) storescu.push(await runToEnd('storescu', [...tlsArgs('client.key', 'client.crt'), ...run.args, '127.0.0.1', '11114', ...run.files]));
    const echoscu = await runToEnd('echoscu', [...tlsArgs('client.key', 'client.crt'), '127.0.0.1', '11114']);
    const rogue = await runToEnd('storescu', [...tlsArgs('rogue.key', 'rogue.crt'), '127.0.0.1', '11114', config.scuRuns[0].files[0]]);
    const wrongAE = await runToEnd('echoscu', ['+tls', P('client.key'), P('client.crt'), '-pw', '+cf', P('ca.crt'), '-aec', 'SOMEONE', '127.0.0.1', '11114']);
    // The SCP counts a rejection once its A-ASSOCIATE-RJ is sent; echoscu may exit before that count is made.
    for (let i = 0; i < 100 && scp.stats.rejected < 1; i++) await new Promise((r) => setTimeout(r, 20));
    const stats = JSON.parse(JSON.stringify(scp.stats));
    await scp.close();
    return { stats, storescu, echoscu, rogue, wrongAE, dir };
  },

  /** Refusals: unknown CA, name mismatch, TLS 1.1 only, plain peer, silent peer, wrong called AE. */
  async refusals() {
    storescpTls('server.key', 'server.crt', 11113);
    storescpTls('wrongip.key', 'wrongip.crt', 11115);
    start('openssl', ['s_server', '-accept', '11116', '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', '-cert', P('server.crt'), '-key', P('server.key'), '-quiet']);
    start('storescp', ['11112']);
    const silent = net.createServer(() => undefined).listen(11118, '127.0.0.1');
    const qrDir = path.join(config.out, 'qr');
    mkdirSync(path.join(qrDir, 'db'), { recursive: true });
    writeFileSync(
      path.join(qrDir, 'dcmqrscp.cfg'),
      [
        'NetworkTCPPort = 11117',
        'MaxPDUSize = 16384',
        'MaxAssociations = 4',
        'HostTable BEGIN',
        'HostTable END',
        'VendorTable BEGIN',
        'VendorTable END',
        'AETable BEGIN',
        `QRSCP ${path.join(qrDir, 'db')} RW (10, 10mb) ANY`,
        'AETable END',
        '',
      ].join('\n'),
    );
    start('dcmqrscp', ['-c', path.join(qrDir, 'dcmqrscp.cfg'), '--single-process', '11117']);
    for (const port of [11112, 11113, 11115, 11116, 11117]) await waitPort(port);
    const result = {
      unknownCA: await attempt(() => echo(peer(11113, { tls: tlsClient({ ca: [pem('otherca.crt')] }) }))),
      nameMismatch: await attempt(() => echo(peer(11115, { tls: tlsClient() }))),
      servernameOverride: await attempt(() => echo(peer(11115, { tls: tlsClient({ servername: 'pacs.example' }) }))),
      servernameMismatch: await attempt(() => echo(peer(11113, { tls: tlsClient({ servername: 'pacs.example' }) }))),
      tls11Only: await attempt(() => echo(peer(11116, { tls: tlsClient() }))),
      plainPeer: await attempt(() => echo(peer(11112, { tls: tlsClient() }))),
      silentPeer: await attempt(() => echo(peer(11118, { tls: tlsClient({ timeoutMs: 1500 }) }))),
      wrongCalledAE: await attempt(() => echo(peer(11117, { calledAE: 'NOT_QRSCP' }))),
      rightCalledAE: await attempt(() => echo(peer(11117, { calledAE: 'QRSCP' }))),
      refused: await attempt(() => echo(peer(1, {}))),
    };
    silent.close();
    return result;
  },

  /**
   * Throughput and memory, ours against storescu, to `storescp --ignore` (not part of the tests; run
   * by hand: files = [one large Part 10 file]).
   */
  async throughput() {
    start('storescp', ['+xa', '--ignore', '-pdu', String(config.pdu ?? 16384), '11112']);
    await waitPort(11112);
    const infos = await describeFiles(config.files);
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    const ours = await attempt(() => storeAll(peer(11112), infos));
    const oursMs = performance.now() - t0;
    const oursMaxRssKB = process.resourceUsage().maxRSS;
    const t1 = performance.now();
    const su = await runToEnd('/usr/bin/time', ['-f', 'maxrss_kb=%M', 'storescu', '-aec', 'STORESCP', '127.0.0.1', '11112', ...config.files]);
    const suMs = performance.now() - t1;
    const bytes = infos.reduce((n, i) => n + i.length, 0);
    return {
      bytes,
      ours: { ok: ours.ok, ms: Math.round(oursMs), mbPerS: +(bytes / 1e6 / (oursMs / 1000)).toFixed(1), maxRssMB: Math.round(oursMaxRssKB / 1024), rssBeforeMB: Math.round(rssBefore / 1048576), error: ours.message },
      storescu: {
        status: su.status,
        ms: Math.round(suMs),
        mbPerS: +(bytes / 1e6 / (suMs / 1000)).toFixed(1),
        maxRssMB: Math.round(Number(/maxrss_kb=(\d+)/.exec(su.output)?.[1] ?? 0) / 1024),
      },
    };
  },
};

const run = scenarios[config.scenario];
if (!run) {
  console.log(JSON.stringify({ error: `unknown scenario ${config.scenario}` }));
  process.exit(2);
}
try {
  const result = await run();
  result.serverOutput = children.map((c) => c.output().slice(-2000));
  console.log(JSON.stringify(result));
} catch (e) {
  console.log(JSON.stringify({ error: e.stack ?? String(e), serverOutput: children.map((c) => c.output().slice(-2000)) }));
}
for (const c of children) c.child.kill();
process.exit(0);
