// The import case, run by bench.mjs inside a network namespace with only loopback up (unshare --net),
// so nothing else shares the link: dcmtk storescp over TLS receives and discards (--ignore, the disk is
// out), and each sender runs after the other against it: dcmtk storescu +tls (the input files), then
// dcmsafe import of the secure ISO, of the plain medium and of the one large secure instance.
// Prints one JSON line: { name: { seconds, rssMB, stored } }.
//
//   node import-inside.mjs PLAN.json   (PLAN: { root, pki, input, secure, plain, large })
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitPort } from '../wait-port.mjs';
import { CLI, recipientArgs, timedOk } from './run.mjs';

const PORT = 2762;
const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const P = (name) => path.join(plan.pki, name);
const timeFile = path.join(plan.root, 'import.time');

/** dcmsafe import flags (as the earlier import bench had them): TLS to storescp, the patient coerced. */
function importArgs(media, journal) {
  return [
    CLI, 'import', media, ...recipientArgs(plan.pki),
    '--to', `127.0.0.1:${PORT}`, '--aec', 'STORESCP', '--tls-ca', P('demo-root-ca.pem'), '--tls-cert', P('tls-client.pem'), '--tls-key', P('tls-client.key'),
    '--patient-id', 'LOCAL-BENCH', '--issuer', 'OURHOSP', '--confirm-multiple-patients', '--journal', path.join(plan.root, journal), '--json',
  ];
}

function dcmsafeImport(media, journal, extra = []) {
  const r = timedOk(timeFile, process.execPath, [...importArgs(media, journal), ...extra]);
  const report = JSON.parse(r.stdout);
  return { seconds: r.seconds, rssMB: r.rssMB, stored: report.stored.length };
}

// dcmtk leaves Nagle's algorithm on unless TCP_NODELAY is set: with it on, every small DIMSE response
// waits for a delayed ACK (about 80 ms per instance on loopback). Set for both dcmtk tools.
process.env.TCP_NODELAY = '1';
const scp = spawn('storescp', ['+tls', P('tls-server.key'), P('tls-server.pem'), '+cf', P('demo-root-ca.pem'), '--require-peer-cert', '+xa', '-pm', '--ignore', String(PORT)], { stdio: 'ignore' });
try {
  await waitPort(PORT);
  const results = {};
  // -v: one log line per response, so the bench can check that every instance was stored.
  const scu = timedOk(timeFile, 'storescu', ['-v', '+tls', P('tls-client.key'), P('tls-client.pem'), '+cf', P('demo-root-ca.pem'), '-aec', 'STORESCP', '+sd', '+r', '127.0.0.1', String(PORT), plan.input]);
  results.storescu = { seconds: scu.seconds, rssMB: scu.rssMB, stored: (scu.stderr + scu.stdout).split('Received Store Response (Success)').length - 1 };
  results.secure = dcmsafeImport(plan.secure, 'secure.journal');
  results.plain = dcmsafeImport(plan.plain, 'plain.journal', ['--allow-untrusted']);
  results.large = dcmsafeImport(plan.large, 'large.journal');
  process.stdout.write(`${JSON.stringify(results)}\n`);
} finally {
  scp.kill('SIGKILL');
}
