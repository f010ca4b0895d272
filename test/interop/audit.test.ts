/**
 * The audit trail from real runs (issue 7 acceptance), read back by xmllint against the DICOM Audit
 * Message Schema (PS3.15 A.5.1, src/audit/schema):
 * - create, verify of a tampered medium, operator sign-in (wrong password, lock-out, unlock), and
 *   import over DICOM-TLS to storescp (in a network namespace), with --audit-log: every message kind
 *   appears, every message validates, each names the operator, exactly one requestor;
 * - `dcmsafe audit check` passes on the log, and fails naming the line when one is removed or edited;
 * - no password is in the log, the operators file, or anything printed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeWithTools, REPO, run, tempDir } from '../helpers/env.js';
import { describeInNetns, makeTestPki, runInNetns } from '../helpers/netns.js';
import { rsyslogHarness } from '../helpers/rsyslog.js';
import { writeInstance } from '../helpers/synthetic.js';
import { listFiles } from '../helpers/files.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const RNG = path.join(REPO, 'src/audit/schema/dicom-audit-message.rng');
const PASSWORD = 'correct horse battery staple 42';

interface LogRecord {
  seq: number;
  kind: string;
  operator: string;
  message: string;
}

function readLog(file: string): LogRecord[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l.slice(65)) as LogRecord);
}

function validate(dir: string, records: LogRecord[]): void {
  const xmlDir = path.join(dir, `xml-${Date.now()}`);
  mkdirSync(xmlDir);
  const files = records.map((r) => {
    const f = path.join(xmlDir, `${r.seq}-${r.kind}.xml`);
    writeFileSync(f, r.message);
    return f;
  });
  const v = run('xmllint', ['--noout', '--relaxng', RNG, ...files]);
  expect(v.status, v.stderr.slice(0, 3000)).toBe(0);
  for (const r of records) expect(r.message.match(/UserIsRequestor="true"/g) ?? [], `${r.kind} #${r.seq}`).toHaveLength(1);
}

describeWithTools(['xmllint'], 'audit trail from create, verify and operator sign-in', () => {
  const dir = tempDir('dcmsafe-audit-');
  const log = path.join(dir, 'audit.log');
  const config = path.join(dir, 'config.json');
  const operators = path.join(dir, 'operators.json');
  const pki = path.join(dir, 'pki');
  const env = { XDG_CONFIG_HOME: path.join(dir, 'xdg'), DCMSAFE_CONFIG: config };
  const dcmsafe = (args: string[]): ReturnType<typeof run> => run('node', [CLI, ...args], { env: { ...process.env, ...env }, timeout: 300_000 });
  const outputs: string[] = [];
  const remember = (r: ReturnType<typeof run>): ReturnType<typeof run> => {
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first`);
    writeFileSync(config, JSON.stringify({ institution: { name: 'St. Test Radiology' }, audit: { log }, operatorsFile: operators }));
    expect(dcmsafe(['samples', '--out', path.join(dir, 'samples')]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    writeFileSync(path.join(dir, 'pw.txt'), `${PASSWORD}\n`);
    writeFileSync(path.join(dir, 'wrong.txt'), 'not the password at all\n');
  }, 120_000);

  it('create and verify: Export, Security Alert, Application Activity, each naming the operator', () => {
    const media = path.join(dir, 'media');
    let r = remember(dcmsafe(['create', path.join(dir, 'samples'), '--media', 'folder', '--out', media, '--operator', 'bob', '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]));
    expect(r.status, r.stderr).toBe(0);
    // Tamper with one file, then verify.
    const victim = listFiles(media).find((f) => /IM0+2$/.test(f))!;
    const bytes = readFileSync(victim);
    bytes[bytes.length - 50] = bytes[bytes.length - 50]! ^ 0xff;
    writeFileSync(victim, bytes);
    r = remember(dcmsafe(['verify', media, '--operator', 'bob', '--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')]));
    expect(r.status).toBe(1);
    const records = readLog(log);
    const kinds = records.map((x) => x.kind);
    expect(kinds).toEqual(['application-activity', 'export', 'application-activity', 'application-activity', 'security-alert', 'application-activity']);
    for (const x of records) expect(x.operator).toBe('bob');
    const exported = records.find((x) => x.kind === 'export')!.message;
    expect(exported).toContain('csd-code="110106"');
    expect(exported).toContain('csd-code="110154"'); // Destination Media
    expect(exported).toMatch(/Łukasiewicz\^Zoë/);
    expect(exported).toMatch(/<Encrypted>true<\/Encrypted>/);
    expect(records.find((x) => x.kind === 'security-alert')!.message).toMatch(/FILE_TAMPERED/);
    validate(dir, records);
  }, 300_000);

  it('operator sign-in: wrong password refused and audited, lock-out after five failures, passwd unlocks; no password anywhere', () => {
    const before = readLog(log).length;
    let r = remember(dcmsafe(['operators', 'add', 'alice', '--role', 'clerk', '--password-file', path.join(dir, 'pw.txt'), '--operator', 'admin1']));
    expect(r.status, r.stderr).toBe(0);
    for (let i = 1; i <= 5; i++) {
      r = remember(dcmsafe(['operators', 'signin', 'alice', '--password-file', path.join(dir, 'wrong.txt')]));
      expect(r.status, `attempt ${i}`).toBe(1);
    }
    r = remember(dcmsafe(['operators', 'signin', 'alice', '--password-file', path.join(dir, 'pw.txt')]));
    expect(r.status).toBe(1);
    expect(`${r.stdout}${r.stderr}`).toMatch(/locked/i);
    r = remember(dcmsafe(['operators', 'passwd', 'alice', '--password-file', path.join(dir, 'pw.txt'), '--operator', 'admin1']));
    expect(r.status, r.stderr).toBe(0);
    r = remember(dcmsafe(['operators', 'signin', 'alice', '--password-file', path.join(dir, 'pw.txt')]));
    expect(r.status, r.stderr).toBe(0);

    const records = readLog(log).slice(before);
    const auth = records.filter((x) => x.kind === 'user-authentication');
    expect(auth).toHaveLength(7);
    expect(auth.map((x) => /EventOutcomeIndicator="(\d+)"/.exec(x.message)![1])).toEqual(['4', '4', '4', '4', '4', '4', '0']);
    for (const a of auth) expect(a.message).toContain('csd-code="110114"');
    const alerts = records.filter((x) => x.kind === 'security-alert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.message).toMatch(/alice is locked/);
    validate(dir, records);
    // Hashes, never the password: not in the operators file, the log, or anything printed.
    const stored = readFileSync(operators, 'utf8');
    expect(stored).toMatch(/\$scrypt\$/);
    for (const text of [stored, readFileSync(log, 'utf8'), ...outputs]) expect(text).not.toContain(PASSWORD);
  }, 300_000);

  it('audit check: intact log passes; a removed or edited line fails and is named', () => {
    let r = dcmsafe(['audit', 'check', log]);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/chain intact/);
    const lines = readFileSync(log, 'utf8').split('\n');
    const removed = path.join(dir, 'removed.log');
    writeFileSync(removed, [...lines.slice(0, 3), ...lines.slice(4)].join('\n'));
    r = dcmsafe(['audit', 'check', removed]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/BROKEN: .*line 4/);
    const edited = path.join(dir, 'edited.log');
    writeFileSync(edited, lines.map((l, i) => (i === 1 ? l.replace('"bob"', '"eve"') : l)).join('\n'));
    r = dcmsafe(['audit', 'check', edited]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/BROKEN: .*line 2/);
  });
});

describeInNetns(['unshare', 'ip', 'storescp', 'xmllint'], 'audit trail from import and echo over DICOM-TLS', () => {
  const dir = tempDir('dcmsafe-audit-net-');
  const pki = path.join(dir, 'pki');
  const log = path.join(dir, 'audit.log');

  it('import: Import, Begin Transferring, DICOM Instances Transferred per patient; a refused server certificate is a Security Alert', () => {
    const cli = (args: string[]): string => `node ${[CLI, ...args].map((a) => JSON.stringify(a)).join(' ')}`;
    expect(run('node', [CLI, 'samples', '--out', path.join(dir, 'samples')]).status).toBe(0);
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    const other = path.join(dir, 'other');
    expect(run('node', [CLI, 'pki', 'demo', '--out', other]).status).toBe(0);
    const media = path.join(dir, 'media');
    expect(run('node', [CLI, 'create', path.join(dir, 'samples'), '--media', 'folder', '--out', media, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
    const common = ['--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem'), '--aec', 'STORESCP', '--tls-ca', path.join(pki, 'demo-root-ca.pem'), '--tls-cert', path.join(pki, 'tls-client.pem'), '--tls-key', path.join(pki, 'tls-client.key'), '--patient-id', 'LOCAL-9', '--issuer', 'OURHOSP', '--confirm-multiple-patients', '--audit-log', log, '--operator', 'carol'];
    const script = `
      mkdir -p ${dir}/recv
      TCP_NODELAY=1 storescp +tls ${path.join(pki, 'tls-server.key')} ${path.join(pki, 'tls-server.pem')} +cf ${path.join(pki, 'demo-root-ca.pem')} --require-peer-cert +xa -od ${dir}/recv 2762 > /dev/null 2>&1 &
      storescp +tls ${path.join(other, 'tls-server.key')} ${path.join(other, 'tls-server.pem')} +cf ${path.join(pki, 'demo-root-ca.pem')} --require-peer-cert +xa -od ${dir}/recv 2763 > /dev/null 2>&1 &
      timeout 20 bash -c 'until (echo > /dev/tcp/127.0.0.1/2762) 2>/dev/null && (echo > /dev/tcp/127.0.0.1/2763) 2>/dev/null; do sleep 0.1; done'
      ${cli(['import', media, '--to', '127.0.0.1:2762', ...common, '--journal', path.join(dir, 'j1')])} > /dev/null 2>&1; echo "good=$?"
      ${cli(['import', media, '--to', '127.0.0.1:2763', ...common, '--journal', path.join(dir, 'j2'), '--retries', '0'])} > /dev/null 2>&1; echo "rogue=$?"
    `;
    const r = runInNetns(script);
    expect(r.stdout, r.stderr).toMatch(/good=0/);
    expect(r.stdout).toMatch(/rogue=4/);
    const records = readLog(log);
    const kinds = records.map((x) => x.kind);
    for (const k of ['import', 'begin-transferring', 'instances-transferred', 'security-alert', 'application-activity']) expect(kinds, k).toContain(k);
    // Two patients on the samples: one Begin Transferring and one Instances Transferred each (first run).
    const firstRun = records.slice(0, kinds.indexOf('application-activity', 1) + 1);
    expect(firstRun.filter((x) => x.kind === 'begin-transferring')).toHaveLength(2);
    expect(firstRun.filter((x) => x.kind === 'instances-transferred')).toHaveLength(2);
    expect(records.find((x) => x.kind === 'import')!.message).toContain('csd-code="110155"'); // Source Media
    const alert = records.find((x) => x.kind === 'security-alert')!.message;
    expect(alert).toContain('csd-code="110126"'); // Node Authentication
    expect(alert).toMatch(/not issued by a trusted CA/);
    for (const x of records) expect(x.operator).toBe('carol');
    validate(dir, records);
    expect(run('node', [CLI, 'audit', 'check', log]).status).toBe(0);
  }, 300_000);
});

describe('audit options', () => {
  const dir = tempDir('dcmsafe-audit-config-');
  it('a configuration with a bad key is refused, naming the key', () => {
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ pacs: [{ name: 'main', host: 'pacs', port: 'abc', calledAE: 'PACS' }] }));
    const r = run('node', [CLI, 'verify', dir, '--config', config]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/pacs\[0\]\.port/);
  });

  it('the configuration supplies trust anchors to verify, and PACS nodes by name to echo and import', () => {
    const pki = path.join(dir, 'pki');
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    expect(run('node', [CLI, 'samples', '--out', path.join(dir, 'samples')]).status).toBe(0);
    const media = path.join(dir, 'media');
    expect(run('node', [CLI, 'create', path.join(dir, 'samples', 'patient-a'), '--media', 'folder', '--out', media, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
    const config = path.join(dir, 'good.json');
    writeFileSync(config, JSON.stringify({ trust: [path.join(pki, 'demo-root-ca.pem')], pacs: [{ name: 'main', host: '127.0.0.1', port: 9, calledAE: 'PACS', tls: { ca: path.join(pki, 'demo-root-ca.pem'), cert: path.join(pki, 'tls-client.pem'), key: path.join(pki, 'tls-client.key') } }] }));
    let r = run('node', [CLI, 'verify', media, '--config', config, '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')]);
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^TRUSTED/);
    // Nothing listens on port 9: the name resolved to the node's address, over TLS.
    r = run('node', [CLI, 'echo', 'main', '--config', config, '--timeout', '3']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/NET_CONNECT: .*127\.0\.0\.1:9/);
  }, 120_000);
});

describeInNetns(['unshare', 'ip', 'ss', 'rsyslogd', 'storescp', 'openssl'], 'audit messages of real runs to rsyslog over TLS, and the spool while it is down', () => {
  const dir = tempDir('dcmsafe-audit-rsyslog-');
  const test = path.join(dir, 'testpki'); // the audit repository's PKI (openssl)
  const pki = path.join(dir, 'pki'); // media and DICOM TLS (dcmsafe demo)

  it('rsyslog receives the messages of a create (one above 32 KB) and an import; while it is down they wait, and arrive after it restarts', () => {
    mkdirSync(test);
    makeTestPki(test);
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    expect(run('node', [CLI, 'samples', '--out', path.join(dir, 'samples')]).status).toBe(0);
    // 120 patients with one study each: an Export message well above 32 KB.
    const many = path.join(dir, 'many');
    mkdirSync(many);
    for (let i = 1; i <= 120; i++) {
      writeInstance(many, `p${i}.dcm`, { sop: `1.2.826.0.1.3680043.10.999.5.${i}`, patientId: `MANY-${i}`, patientName: `Patient^Number ${i}`, study: `1.2.826.0.1.3680043.10.999.6.${i}`, series: `1.2.826.0.1.3680043.10.999.7.${i}` });
    }
    const media = path.join(dir, 'media');
    expect(run('node', [CLI, 'create', path.join(dir, 'samples'), '--media', 'folder', '--out', media, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]).status).toBe(0);
    const log = path.join(dir, 'audit.log');
    const config = path.join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        institution: { name: 'St. Test Radiology' },
        audit: { log, spool: path.join(dir, 'spool'), repository: { host: '127.0.0.1', port: 6514, tls: { ca: path.join(test, 'ca.crt'), cert: path.join(test, 'client.crt'), key: path.join(test, 'client.key') } } },
      }),
    );
    const rs = rsyslogHarness(path.join(dir, 'rsyslog'), 6514, { ca: path.join(test, 'ca.crt'), cert: path.join(test, 'server.crt'), key: path.join(test, 'server.key') });
    const cli = (args: string[]): string => `node ${[CLI, '--config', config, '--operator', 'dave', ...args].map((a) => JSON.stringify(a)).join(' ')}`;
    const tls = ['--tls-ca', path.join(pki, 'demo-root-ca.pem'), '--tls-cert', path.join(pki, 'tls-client.pem'), '--tls-key', path.join(pki, 'tls-client.key')];
    const keys = ['--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')];
    const script = `
      mkdir -p ${dir}/recv
      TCP_NODELAY=1 storescp +tls ${path.join(pki, 'tls-server.key')} ${path.join(pki, 'tls-server.pem')} +cf ${path.join(pki, 'demo-root-ca.pem')} --require-peer-cert +xa -od ${dir}/recv 2762 > /dev/null 2>&1 &
      ${rs.bashStart()}
      ${cli(['create', many, '--media', 'folder', '--out', path.join(dir, 'many-media')])} > /dev/null 2> ${dir}/create.err; echo "create=$?"
      ${cli(['import', media, '--to', '127.0.0.1:2762', '--aec', 'STORESCP', ...tls, ...keys, '--patient-id', 'LOCAL-7', '--issuer', 'OURHOSP', '--confirm-multiple-patients', '--journal', path.join(dir, 'journal')])} > /dev/null 2> ${dir}/import.err; echo "import=$?"
      ${rs.bashStop()}
      # The repository is down: this run's messages wait in the spool.
      ${cli(['create', path.join(dir, 'samples'), '--media', 'folder', '--out', path.join(dir, 'while-down')])} > /dev/null 2> ${dir}/down.err; echo "down=$?"
      ls ${dir}/spool | grep -c '\\.syslog$' > ${dir}/spooled.count
      ${rs.bashStart()}
      ${cli(['audit', 'flush'])} > ${dir}/flush.out 2>&1; echo "flush=$?"
      ${rs.bashStop()}
    `;
    const r = runInNetns(script);
    expect(r.stdout, `${r.stderr}\n${rs.log()}`).toMatch(/create=0/);
    expect(r.stdout, readFileSync(path.join(dir, 'import.err'), 'utf8')).toMatch(/import=0/);
    expect(r.stdout).toMatch(/down=0/);
    expect(readFileSync(path.join(dir, 'down.err'), 'utf8')).toMatch(/wait in the spool/);
    expect(Number(readFileSync(path.join(dir, 'spooled.count'), 'utf8'))).toBe(3); // start, export, stop
    expect(r.stdout, readFileSync(path.join(dir, 'flush.out'), 'utf8')).toMatch(/flush=0/);
    // Everything the local log holds reached rsyslog, in order, intact, once.
    const local = readLog(log);
    const received = rs.received();
    expect(received.map((m) => m.msg.replace(/^\uFEFF/, ''))).toEqual(local.map((x) => x.message));
    for (const m of received) expect(m).toMatchObject({ pri: '85', app: 'dcmsafe', msgid: 'DICOM+RFC3881' });
    const big = local.find((x) => x.kind === 'export' && Buffer.byteLength(x.message) > 32768);
    expect(big, `export sizes: ${local.filter((x) => x.kind === 'export').map((x) => Buffer.byteLength(x.message))}`).toBeDefined();
    for (const k of ['export', 'import', 'begin-transferring', 'instances-transferred', 'application-activity']) expect(local.map((x) => x.kind)).toContain(k);
  }, 300_000);
});
