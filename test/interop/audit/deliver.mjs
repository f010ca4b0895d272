/**
 * One delivery of an audit spool to a syslog-over-TLS repository, for test/interop/audit-rsyslog.test.ts:
 * the test enqueues into the spool (in its own process), and its bash scenario runs this between starting
 * and stopping rsyslog inside a private network namespace. Uses the built dist/ (npm test builds first).
 *
 *   node deliver.mjs '{"spool": DIR, "port": N, "ca": FILE, "cert": FILE?, "key": FILE?, "timeoutMs": N?}'
 *
 * Prints one JSON line: deliver()'s result ({ sent, pending, error? }).
 */
import { readFileSync } from 'node:fs';

const dist = new URL('../../../dist/', import.meta.url);
const { SyslogSpool } = await import(new URL('audit/syslog.js', dist).href);

const config = JSON.parse(process.argv[2] ?? '{}');
const target = {
  host: '127.0.0.1',
  port: config.port,
  ca: [readFileSync(config.ca)],
  ...(config.cert ? { cert: readFileSync(config.cert), key: readFileSync(config.key) } : {}),
  timeoutMs: config.timeoutMs ?? 5000,
};
try {
  const spool = await SyslogSpool.open(config.spool, target, { hostname: 'deliverer.example', appName: 'dcmsafe', procId: String(process.pid) });
  console.log(JSON.stringify(await spool.deliver()));
} catch (e) {
  console.log(JSON.stringify({ thrown: true, code: e.code, message: e.message }));
  process.exitCode = 1;
}
