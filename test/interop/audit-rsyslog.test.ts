/**
 * Audit messages to a real audit repository: rsyslog 8 (imtcp over GnuTLS, strict TLS, client
 * certificates required and checked against the test CA) receives what the spool holds by syslog over
 * TLS (PS3.15 A.6; RFC 5424 messages in RFC 5425 frames):
 * - every message intact (BOM and UTF-8 XML byte for byte, a 40 KB and a 64 KB one, non-ASCII text,
 *   newlines, tabs, quotes) with the header fields as sent, in order;
 * - rsyslog not running: deliver() keeps everything pending and says why; once rsyslog runs, deliver()
 *   sends it all and rsyslog's file holds each message exactly once;
 * - rsyslog refuses a client certificate from another CA, and no certificate at all; nothing is lost,
 *   and the next delivery with the right certificate brings each message exactly once.
 *
 * Each scenario runs in its own network and PID namespace (test/helpers/netns.ts); the spool is filled
 * here and delivered by test/interop/audit/deliver.mjs (built dist/) between starting and stopping rsyslog.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { formatSyslogMessage, syslogTimestamp, SyslogSpool, type SyslogIdentity } from '../../src/audit/syslog.js';
import { REPO, tempDir } from '../helpers/env.js';
import { describeInNetns, makeTestPki, runInNetns } from '../helpers/netns.js';
import { rsyslogHarness, type RsyslogHarness } from '../helpers/rsyslog.js';

const DELIVER = path.join(REPO, 'test/interop/audit/deliver.mjs');
const DIST_SYSLOG = path.join(REPO, 'dist/audit/syslog.js');
const PORT = 6514; // RFC 5425's syslog-tls port; each namespace has its own
const ID: SyslogIdentity = { hostname: 'workstation.example', appName: 'dcmsafe', procId: '4242' };
const WHEN = new Date('2026-03-05T14:07:09.123Z');

const participant = (i: number): string =>
  `  <ParticipantObjectIdentification ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3" ParticipantObjectID="1.2.826.0.1.3680043.8.498.${i}">\n` +
  `    <ParticipantObjectIDTypeCode csd-code="110180" codeSystemName="DCM" originalText="Study Instance UID"/>\n  </ParticipantObjectIdentification>\n`;
const sized = (octets: number, label: string): string => {
  let body = '';
  for (let i = 0; body.length < octets; i++) body += participant(i);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AuditMessage note="${label}">\n${body}</AuditMessage>\n`;
};
const MESSAGES = [
  '<AuditMessage><EventIdentification EventActionCode="R" EventDateTime="2026-03-05T15:07:09.123+01:00" EventOutcomeIndicator="0"><EventID csd-code="110106" codeSystemName="DCM" originalText="Export"/></EventIdentification></AuditMessage>',
  '<AuditMessage><ParticipantObjectIdentification ParticipantObjectID="Łódź^Zażółć"><ParticipantObjectName>Müller^Jürgen=山田^太郎 🩻 Ωμέγα</ParticipantObjectName></ParticipantObjectIdentification></AuditMessage>',
  sized(40 * 1024, '40 KB'),
  '<AuditMessage>\n\t<Note a="q">C:\\media\\DICOMDIR / "quoted" &amp; \'apos\' &lt;tag&gt;</Note>\r\n</AuditMessage>\n',
  sized(64 * 1024, '64 KB'),
  '<AuditMessage><EventIdentification EventActionCode="C"><EventID csd-code="110107" codeSystemName="DCM" originalText="Import"/></EventIdentification></AuditMessage>',
];

describeInNetns(['unshare', 'ip', 'ss', 'rsyslogd', 'openssl'], 'audit messages to rsyslog over TLS (RFC 5425)', () => {
  const dir = tempDir('dcmsafe-audit-rsyslog-');
  const pki = path.join(dir, 'pki');
  const P = (name: string): string => path.join(pki, name);

  /** A spool holding MESSAGES (the target is only used by deliver.mjs, which brings its own). */
  async function spoolWithMessages(name: string): Promise<string> {
    const spool = path.join(dir, `spool-${name}`);
    const s = await SyslogSpool.open(spool, { host: '127.0.0.1', port: PORT, ca: [readFileSync(P('ca.crt'))] }, ID);
    for (const m of MESSAGES) await s.enqueue(m, WHEN);
    expect(await s.pending()).toBe(MESSAGES.length);
    return spool;
  }

  /** Bash: one delivery, its JSON result into `out`. */
  const deliver = (spool: string, out: string, client: 'client' | 'rogue' | 'none' = 'client'): string => {
    const config = { spool, port: PORT, ca: P('ca.crt'), ...(client === 'none' ? {} : { cert: P(`${client}.crt`), key: P(`${client}.key`) }) };
    return `node ${JSON.stringify(DELIVER)} ${JSON.stringify(JSON.stringify(config))} > ${JSON.stringify(out)} 2>&1`;
  };

  /** Runs the scenario; returns the JSON results it wrote by name. */
  function scenario(name: string, rs: RsyslogHarness, body: (out: (step: string) => string) => string): Record<string, { sent: number; pending: number; error?: string }> {
    const outDir = path.join(dir, `out-${name}`);
    mkdirSync(outDir, { recursive: true });
    const steps: string[] = [];
    const out = (step: string): string => {
      steps.push(step);
      return path.join(outDir, `${step}.json`);
    };
    const r = runInNetns(`${body(out)}\necho scenario-done`);
    expect(r.stdout, `${r.stdout}\n${r.stderr}\n${rs.log()}`).toMatch(/scenario-done/);
    expect(r.stdout, rs.log()).not.toMatch(/fewer than|did not stop/);
    const results: Record<string, { sent: number; pending: number; error?: string }> = {};
    for (const step of steps) results[step] = JSON.parse(readFileSync(path.join(outDir, `${step}.json`), 'utf8').trim().split('\n').at(-1) ?? '');
    return results;
  }

  const expectReceivedOnce = (rs: RsyslogHarness): void => {
    const got = rs.received();
    expect(got.map((g) => g.msg.length)).toEqual(MESSAGES.map((m) => m.length + 1));
    expect(got.map((g) => g.msg)).toEqual(MESSAGES.map((m) => `\uFEFF${m}`));
    for (const g of got) {
      expect(g).toEqual({ pri: '85', hostname: ID.hostname, app: 'dcmsafe', procid: ID.procId, msgid: 'DICOM+RFC3881', timestamp: syslogTimestamp(WHEN), msg: g.msg });
    }
    expect(rs.receivedRaw()).toEqual(MESSAGES.map((m) => formatSyslogMessage(m, WHEN, ID).toString('utf8')));
  };

  beforeAll(() => {
    if (!existsSync(DIST_SYSLOG)) throw new Error(`${DIST_SYSLOG} is missing: build first (npx tsc -p tsconfig.build.json)`);
    mkdirSync(pki);
    makeTestPki(pki);
  });

  it('receives every message intact and in order, with the header fields as sent', async () => {
    const spool = await spoolWithMessages('intact');
    const rs = rsyslogHarness(path.join(dir, 'rsyslog-intact'), PORT, { ca: P('ca.crt'), cert: P('server.crt'), key: P('server.key') });
    const results = scenario('intact', rs, (out) => `
      ${rs.bashStart()}
      ${deliver(spool, out('up'))}
      ${rs.bashWaitMessages(MESSAGES.length)}
      ${rs.bashStop()}`);
    expect(results.up).toEqual({ sent: MESSAGES.length, pending: 0 });
    expectReceivedOnce(rs);
  });

  it('keeps everything while rsyslog is down and delivers each message exactly once when it is up', async () => {
    const spool = await spoolWithMessages('down-up');
    const rs = rsyslogHarness(path.join(dir, 'rsyslog-down-up'), PORT, { ca: P('ca.crt'), cert: P('server.crt'), key: P('server.key') });
    const results = scenario('down-up', rs, (out) => `
      ${deliver(spool, out('down'))}
      ${deliver(spool, out('stillDown'))}
      ${rs.bashStart()}
      ${deliver(spool, out('up'))}
      ${deliver(spool, out('again'))}
      ${rs.bashWaitMessages(MESSAGES.length)}
      ${rs.bashStop()}`);
    for (const step of ['down', 'stillDown']) {
      expect(results[step]).toMatchObject({ sent: 0, pending: MESSAGES.length });
      expect(results[step]!.error).toMatch(/connection refused/);
    }
    expect(results.up).toEqual({ sent: MESSAGES.length, pending: 0 });
    expect(results.again).toEqual({ sent: 0, pending: 0 });
    expectReceivedOnce(rs);
  });

  it('is refused without a client certificate from the CA rsyslog trusts, and loses nothing', async () => {
    const spool = await spoolWithMessages('refused');
    const rs = rsyslogHarness(path.join(dir, 'rsyslog-refused'), PORT, { ca: P('ca.crt'), cert: P('server.crt'), key: P('server.key') });
    const results = scenario('refused', rs, (out) => `
      ${rs.bashStart()}
      ${deliver(spool, out('rogue'), 'rogue')}
      ${deliver(spool, out('none'), 'none')}
      ${deliver(spool, out('client'))}
      ${rs.bashWaitMessages(MESSAGES.length)}
      ${rs.bashStop()}`);
    for (const step of ['rogue', 'none']) {
      expect(results[step], JSON.stringify(results[step])).toMatchObject({ sent: 0, pending: MESSAGES.length });
      expect(results[step]!.error).toBeTruthy();
    }
    expect(results.client).toEqual({ sent: MESSAGES.length, pending: 0 });
    expectReceivedOnce(rs);
    expect(rs.log()).toMatch(/not permitted to talk to it|certificate/i);
  });
});
