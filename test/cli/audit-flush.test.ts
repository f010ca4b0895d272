/**
 * `dcmsafe audit flush` with spool files that are not one whole RFC 5425 frame (cut short on disk,
 * emptied): they are set aside as NAME.corrupt, kept, and the rest of the spool goes on. Runs the
 * built CLI (npm test builds dist/ first); the repository is a closed port, so nothing is sent.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, run, tempDir } from '../helpers/env.js';

const CLI = path.join(REPO, 'dist/cli/main.js');

/** A port nothing listens on (taken from the system, then let go). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('dcmsafe audit flush with a corrupt spool file', () => {
  const dir = tempDir('dcmsafe-flush-');
  const spool = path.join(dir, 'spool');
  const config = path.join(dir, 'config.json');
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'xdg'), DCMSAFE_CONFIG: config };
  const dcmsafe = (...args: string[]): ReturnType<typeof run> => run(process.execPath, [CLI, '--config', config, ...args], { env, timeout: 60_000 });

  const message = Buffer.from('<85>1 2026-01-01T00:00:00.000+00:00 host dcmsafe 1 DICOM+RFC3881 - \ufeff<AuditMessage/>');
  const whole = Buffer.concat([Buffer.from(`${message.length} `), message]);
  const cut = whole.subarray(0, whole.length - 20); // the length says more than the file holds

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first`);
    const pki = path.join(dir, 'pki');
    const r = run(process.execPath, [CLI, 'pki', 'demo', '--out', pki], { env });
    expect(r.status, r.stderr).toBe(0);
    const port = await closedPort();
    writeFileSync(config, JSON.stringify({ audit: { repository: { host: '127.0.0.1', port, tls: { ca: path.join(pki, 'demo-root-ca.pem') } }, spool } }));
    mkdirSync(spool);
    writeFileSync(path.join(spool, '0000000000000001.syslog'), whole);
    writeFileSync(path.join(spool, '0000000000000002.syslog'), cut);
    writeFileSync(path.join(spool, '0000000000000003.syslog'), '');
  }, 120_000);

  it('sets the corrupt files aside, keeps them, and still tries to send the rest', () => {
    const r = dcmsafe('audit', 'flush', '--json');
    expect(r.status, r.stderr).toBe(4); // the repository is unreachable: a message still waits
    const out = JSON.parse(r.stdout) as { sent: number; pending: number; error?: string; corrupt?: string[] };
    expect(out).toMatchObject({ sent: 0, pending: 1, corrupt: ['0000000000000002.syslog', '0000000000000003.syslog'] });
    expect(out.error).toMatch(/refused/);
    expect(readdirSync(spool).sort()).toEqual(['0000000000000001.syslog', '0000000000000002.syslog.corrupt', '0000000000000003.syslog.corrupt']);
    expect(readFileSync(path.join(spool, '0000000000000002.syslog.corrupt'))).toEqual(cut);
    expect(readFileSync(path.join(spool, '0000000000000003.syslog.corrupt'))).toHaveLength(0);
    expect(readFileSync(path.join(spool, '0000000000000001.syslog'))).toEqual(whole);
  });

  it('leaves the .corrupt files alone on later flushes', () => {
    let r = dcmsafe('audit', 'flush');
    expect(r.status, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/^0 sent, 1 still waiting: .*refused/);
    rmSync(path.join(spool, '0000000000000001.syslog'));
    r = dcmsafe('audit', 'flush', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ sent: 0, pending: 0 });
    expect(readdirSync(spool).sort()).toEqual(['0000000000000002.syslog.corrupt', '0000000000000003.syslog.corrupt']);
    expect(readFileSync(path.join(spool, '0000000000000002.syslog.corrupt'))).toEqual(cut);
  });

  it('says in text output too that a spool file was set aside', () => {
    writeFileSync(path.join(spool, '0000000000000004.syslog'), 'not a frame');
    const r = dcmsafe('audit', 'flush');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('WARNING: 1 spool file(s) held no valid message');
    expect(r.stdout).toContain('0000000000000004.syslog');
    expect(readdirSync(spool)).toContain('0000000000000004.syslog.corrupt');
  });
});
