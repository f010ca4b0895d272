/**
 * Audit messages by syslog over TLS (PS3.15 A.6; RFC 5424 messages, RFC 5425 framing) through a disk
 * spool:
 * - formatting: PRI <85>, version 1, RFC 3339 time with the local offset, header fields cut to RFC 5424
 *   lengths and PRINTUSASCII, MSGID DICOM+RFC3881, no structured data, BOM + UTF-8 XML; octet counts for
 *   non-ASCII XML; 40 KB and 64 KB messages intact; above 1 MiB refused;
 * - the spool: one file per message named by its sequence number, durable across a new open,
 *   concurrent writers never overwrite each other, a lock so one delivery runs at a time (a dead
 *   holder's lock is taken over);
 * - delivery to a TLS server written here (node:tls, requiring our client certificate, with a tiny
 *   RFC 5425 reader): server down, all delivered in order and in batches, the server resetting the
 *   connection mid-stream (nothing lost, first sightings in order), a server that never closes, a wrong
 *   CA, no client certificate (TLS 1.3 lets the client finish its handshake before the server refuses).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  formatSyslogMessage,
  frameSyslog,
  MAX_SYSLOG_MESSAGE_OCTETS,
  syslogTimestamp,
  SyslogSpool,
  type SyslogIdentity,
  type SyslogSpoolOptions,
  type SyslogTarget,
} from '../../src/audit/syslog.js';
import { TLS_PROFILE } from '../../src/net/transport.js';
import { makeDemoPki } from '../../src/security/pki/demo.js';
import { tempDir } from '../helpers/env.js';
import { expectCode } from '../helpers/errors.js';

const ID: SyslogIdentity = { hostname: 'host.example', appName: 'dcmsafe', procId: '4242' };
const WHEN = new Date('2026-03-05T14:07:09.123Z');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const xml = (i: number, filler = 0): string => `<AuditMessage n="${i}"><Note>Łódź – 日本 ${'x'.repeat(filler)}</Note></AuditMessage>\n`;

/** The SYSLOG-MSG, split: header fields and the MSG octets. */
function parseMessage(message: Buffer): { fields: string[]; msg: Buffer } {
  let at = 0;
  const fields: string[] = [];
  for (let i = 0; i < 7; i++) {
    const sp = message.indexOf(0x20, at);
    fields.push(message.subarray(at, sp).toString('latin1'));
    at = sp + 1;
  }
  return { fields, msg: message.subarray(at) };
}

/** RFC 5425 frames from a byte stream; the rest is an incomplete frame. */
function readFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, at);
    if (sp < 0) break;
    const digits = buf.subarray(at, sp).toString('latin1');
    if (!/^[1-9]\d{0,6}$/.test(digits)) throw new Error(`not an RFC 5425 frame at ${at}: ${JSON.stringify(digits.slice(0, 20))}`);
    const end = sp + 1 + Number(digits);
    if (buf.length < end) break;
    frames.push(buf.subarray(sp + 1, end));
    at = end;
  }
  return { frames, rest: buf.subarray(at) };
}

// ---- A tiny RFC 5425 receiver ------------------------------------------------------------------

interface Connection {
  frames: Buffer[];
  /** The client ended its side (close_notify) with no partial frame left. */
  cleanEnd: boolean;
  authorized: boolean;
}

interface TestServer {
  port: number;
  connections: Connection[];
  close(): Promise<void>;
}

interface ServerOptions {
  /** Reset (TCP RST) connection number `conn` (0-based) once it holds more than `afterOctets` octets. */
  reset?: { conn: number; afterOctets: number };
  /** Never answer the client's close: a receiver that ignores RFC 5425 §4.4. */
  holdOpen?: boolean;
}

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function startServer(pki: string, options: ServerOptions = {}): Promise<TestServer> {
  const connections: Connection[] = [];
  const raw = new Map<number, net.Socket>();
  const open = new Set<net.Socket>();
  const server = tls.createServer({
    ...TLS_PROFILE,
    key: readFileSync(path.join(pki, 'tls-server.key')),
    cert: readFileSync(path.join(pki, 'tls-server.pem')),
    ca: readFileSync(path.join(pki, 'demo-root-ca.pem')),
    requestCert: true,
    rejectUnauthorized: true,
    allowHalfOpen: options.holdOpen === true,
  });
  server.on('connection', (socket: net.Socket) => {
    raw.set(socket.remotePort ?? 0, socket);
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const index = connections.length;
    const conn: Connection = { frames: [], cleanEnd: false, authorized: socket.authorized };
    connections.push(conn);
    let pending = Buffer.alloc(0);
    let octets = 0;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      const reset = options.reset && options.reset.conn === index && octets + d.length > options.reset.afterOctets;
      // A reset connection "received" only its first afterOctets octets.
      const chunk = reset ? d.subarray(0, Math.max(0, options.reset!.afterOctets - octets)) : d;
      octets += chunk.length;
      const r = readFrames(Buffer.concat([pending, chunk]));
      conn.frames.push(...r.frames);
      pending = Buffer.from(r.rest);
      if (reset) raw.get(socket.remotePort ?? 0)?.resetAndDestroy();
    });
    socket.on('end', () => {
      conn.cleanEnd = pending.length === 0;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const handle: TestServer = {
    port,
    connections,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(handle);
  return handle;
}

/** A port nobody listens on (now). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

// ---- Formatting --------------------------------------------------------------------------------

describe('RFC 5424 message and RFC 5425 frame', () => {
  it('has PRI <85>, version 1, the time with offset, the identity, MSGID DICOM+RFC3881, no SD, then BOM and the UTF-8 XML', () => {
    const text = xml(1);
    const m = formatSyslogMessage(text, WHEN, ID);
    const { fields, msg } = parseMessage(m);
    expect(fields).toEqual(['<85>1', syslogTimestamp(WHEN), 'host.example', 'dcmsafe', '4242', 'DICOM+RFC3881', '-']);
    expect(fields[0]!.slice(0, 4)).toBe(`<${10 * 8 + 5}>`);
    expect(msg.subarray(0, 3)).toEqual(BOM);
    expect(msg.subarray(3).toString('utf8')).toBe(text);
    // A BOM already leading the XML is not doubled.
    expect(formatSyslogMessage(`\uFEFF${text}`, WHEN, ID)).toEqual(m);
  });

  it('writes the time as RFC 3339 with milliseconds and the local UTC offset', () => {
    const saved = process.env.TZ;
    try {
      const cases: [string, Date, string][] = [
        ['UTC', WHEN, '2026-03-05T14:07:09.123+00:00'],
        ['Asia/Kolkata', WHEN, '2026-03-05T19:37:09.123+05:30'],
        ['America/St_Johns', WHEN, '2026-03-05T10:37:09.123-03:30'],
        ['Europe/Paris', new Date('2026-07-01T00:00:00.005Z'), '2026-07-01T02:00:00.005+02:00'],
        ['America/Los_Angeles', new Date('2026-01-01T07:59:59.999Z'), '2025-12-31T23:59:59.999-08:00'],
      ];
      for (const [tz, when, expected] of cases) {
        process.env.TZ = tz;
        expect(syslogTimestamp(when), tz).toBe(expected);
        expect(Date.parse(expected)).toBe(when.getTime());
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    const ts = syslogTimestamp(WHEN);
    expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    expect(Date.parse(ts)).toBe(WHEN.getTime());
  });

  it('cuts header fields to their RFC 5424 lengths and keeps them PRINTUSASCII', () => {
    const id: SyslogIdentity = { hostname: `ho st-é\t${'h'.repeat(300)}`, appName: 'a'.repeat(60), procId: '' };
    const { fields } = parseMessage(formatSyslogMessage('<x/>', WHEN, id));
    expect(fields[2]).toHaveLength(255);
    expect(fields[2]!.startsWith('ho_st-__hhh')).toBe(true);
    expect(fields[3]).toBe('a'.repeat(48));
    expect(fields[4]).toBe('-');
    const ascii = (s: string): boolean => [...s].every((c) => c.charCodeAt(0) >= 33 && c.charCodeAt(0) <= 126);
    expect(fields.every(ascii)).toBe(true);
    expect(parseMessage(formatSyslogMessage('<x/>', WHEN, { hostname: 'h', appName: 'dcmsafe', procId: '9'.repeat(200) })).fields[4]).toHaveLength(128);
  });

  it('counts MSG-LEN in octets, not characters', () => {
    const text = '<AuditMessage>Müller^Jürgen 日本語 🩻</AuditMessage>';
    const m = formatSyslogMessage(text, WHEN, ID);
    const frame = frameSyslog(m);
    const sp = frame.indexOf(0x20);
    const len = Number(frame.subarray(0, sp).toString('ascii'));
    expect(len).toBe(m.length);
    expect(len).toBeGreaterThan(m.toString('utf8').length);
    expect(frame.length).toBe(sp + 1 + len);
    expect(readFrames(frame).frames).toEqual([m]);
  });

  it('keeps 40 KB and 64 KB messages intact and refuses one above 1 MiB', async () => {
    for (const size of [40 * 1024, 64 * 1024, 200 * 1024]) {
      const text = xml(7, size);
      const frame = frameSyslog(formatSyslogMessage(text, WHEN, ID));
      const { frames, rest } = readFrames(frame);
      expect(rest.length).toBe(0);
      expect(frames).toHaveLength(1);
      expect(parseMessage(frames[0]!).msg.subarray(3).toString('utf8')).toBe(text);
    }
    const overhead = formatSyslogMessage('x', WHEN, ID).length - 1;
    expect(formatSyslogMessage('x'.repeat(MAX_SYSLOG_MESSAGE_OCTETS - overhead), WHEN, ID)).toHaveLength(MAX_SYSLOG_MESSAGE_OCTETS);
    await expectCode((async () => formatSyslogMessage('x'.repeat(MAX_SYSLOG_MESSAGE_OCTETS - overhead + 1), WHEN, ID))(), 'AUDIT_SINK', /octets/);
    await expectCode((async () => frameSyslog(Buffer.alloc(MAX_SYSLOG_MESSAGE_OCTETS + 1, 0x41)))(), 'AUDIT_SINK');
    await expectCode((async () => formatSyslogMessage('', WHEN, ID))(), 'AUDIT_SINK', /empty/);
    await expectCode((async () => formatSyslogMessage('<x>\uD800</x>', WHEN, ID))(), 'AUDIT_SINK', /surrogate/);
    await expectCode((async () => formatSyslogMessage('<x/>', new Date(Number.NaN), ID))(), 'AUDIT_SINK');
  });
});

// ---- Spool ------------------------------------------------------------------------------------

describe('syslog spool', () => {
  const dir = tempDir('dcmsafe-syslog-');
  const pki = path.join(dir, 'pki');
  const other = path.join(dir, 'other-pki');
  let counter = 0;
  const spoolDir = (): string => path.join(dir, `spool-${++counter}`);
  const pem = (base: string, name: string): Buffer => readFileSync(path.join(base, name));
  const target = (port: number, extra: Partial<SyslogTarget> = {}): SyslogTarget => ({
    host: '127.0.0.1',
    port,
    ca: [pem(pki, 'demo-root-ca.pem')],
    cert: pem(pki, 'tls-client.pem'),
    key: pem(pki, 'tls-client.key'),
    timeoutMs: 3000,
    ...extra,
  });
  const spoolFiles = (d: string): string[] => readdirSync(d).filter((n) => n.endsWith('.syslog')).sort();
  const expected = (texts: string[]): Buffer[] => texts.map((t) => formatSyslogMessage(t, WHEN, ID));

  async function filled(port: number, n: number, options: SyslogSpoolOptions = {}, extra: Partial<SyslogTarget> = {}): Promise<{ spool: SyslogSpool; dir: string; texts: string[] }> {
    const d = spoolDir();
    const spool = await SyslogSpool.open(d, target(port, extra), ID, options);
    const texts = Array.from({ length: n }, (_, i) => xml(i + 1, i === 1 ? 40 * 1024 : 10));
    for (const t of texts) await spool.enqueue(t, WHEN);
    return { spool, dir: d, texts };
  }

  beforeAll(async () => {
    await makeDemoPki(pki, { now: new Date(), bits: 2048 });
    await makeDemoPki(other, { now: new Date(), bits: 2048 });
  }, 120_000);

  it('stores each message in its own file, named by sequence number, durable across a new open', async () => {
    const { spool, dir: d, texts } = await filled(1, 3);
    expect(readdirSync(d).sort()).toEqual(['0000000000000001.syslog', '0000000000000002.syslog', '0000000000000003.syslog']);
    expect(spoolFiles(d).map((n) => readFileSync(path.join(d, n)))).toEqual(expected(texts).map(frameSyslog));
    expect(await spool.pending()).toBe(3);
    const again = await SyslogSpool.open(d, target(1), ID);
    expect(await again.pending()).toBe(3);
    await again.enqueue(xml(4), WHEN);
    expect(spoolFiles(d).at(-1)).toBe('0000000000000004.syslog');
    // Refused messages leave nothing behind.
    await expectCode(again.enqueue('x'.repeat(MAX_SYSLOG_MESSAGE_OCTETS), WHEN), 'AUDIT_SINK');
    expect(readdirSync(d)).toHaveLength(4);
  });

  it('never lets two writers take one sequence number; leftovers of dead writers go at open', async () => {
    const d = spoolDir();
    const a = await SyslogSpool.open(d, target(1), ID);
    const b = await SyslogSpool.open(d, target(1), ID);
    await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).enqueue(xml(i), WHEN)));
    const names = spoolFiles(d);
    expect(names).toHaveLength(30);
    const bodies = names.map((n) => readFrames(readFileSync(path.join(d, n))).frames[0]!.toString('utf8'));
    expect(new Set(bodies).size).toBe(30);
    // A temporary file of a dead process (a crash before the link) is removed; a live one's is kept.
    const dead = deadPid();
    writeFileSync(path.join(d, `.tmp-${dead}-abcdef`), 'partial');
    writeFileSync(path.join(d, `.tmp-${process.pid}-abcdef`), 'partial');
    await SyslogSpool.open(d, target(1), ID);
    expect(existsSync(path.join(d, `.tmp-${dead}-abcdef`))).toBe(false);
    expect(existsSync(path.join(d, `.tmp-${process.pid}-abcdef`))).toBe(true);
  });

  it('keeps everything and says why when the repository is down', async () => {
    const { spool, dir: d } = await filled(await freePort(), 3);
    const r = await spool.deliver();
    expect(r.sent).toBe(0);
    expect(r.pending).toBe(3);
    expect(r.error).toMatch(/refused/);
    expect(spoolFiles(d)).toHaveLength(3);
    expect(existsSync(path.join(d, 'deliver.lock'))).toBe(false);
  });

  it('delivers everything in order, byte for byte, and removes the files', async () => {
    const server = await startServer(pki);
    const { spool, dir: d, texts } = await filled(server.port, 5);
    expect(await spool.deliver()).toEqual({ sent: 5, pending: 0 });
    expect(server.connections).toHaveLength(1);
    expect(server.connections[0]!.authorized).toBe(true);
    expect(server.connections[0]!.cleanEnd).toBe(true);
    expect(server.connections[0]!.frames).toEqual(expected(texts));
    expect(spoolFiles(d)).toEqual([]);
    expect(await spool.deliver()).toEqual({ sent: 0, pending: 0 });
    expect(server.connections).toHaveLength(1); // nothing to send: no connection
  });

  it('sends in batches, one connection each, in order', async () => {
    const server = await startServer(pki);
    const { spool, texts } = await filled(server.port, 10, { batchMessages: 3 });
    expect(await spool.deliver()).toEqual({ sent: 10, pending: 0 });
    expect(server.connections.map((c) => c.frames.length)).toEqual([3, 3, 3, 1]);
    expect(server.connections.flatMap((c) => c.frames)).toEqual(expected(texts));
    // A byte limit: the 40 KB message goes alone.
    const bytes = await startServer(pki);
    const b = await filled(bytes.port, 4, { batchOctets: 30_000 });
    expect(await b.spool.deliver()).toEqual({ sent: 4, pending: 0 });
    expect(bytes.connections.map((c) => c.frames.length)).toEqual([1, 1, 2]);
  });

  it('loses nothing when the repository resets the connection mid-stream; first sightings keep the order', async () => {
    // Connection 0 (messages 1-4) goes through; connection 1 (5-8) is reset after some octets.
    const server = await startServer(pki, { reset: { conn: 1, afterOctets: 600 } });
    const { spool, dir: d, texts } = await filled(server.port, 10, { batchMessages: 4 });
    const first = await spool.deliver();
    expect(first.sent).toBe(4);
    expect(first.pending).toBe(6);
    expect(first.error).toMatch(/reset|closed/);
    expect(spoolFiles(d)[0]).toBe('0000000000000005.syslog');
    const all = expected(texts);
    expect(server.connections[0]!.frames).toEqual(all.slice(0, 4));
    expect(server.connections[1]!.frames.length).toBeLessThan(4);

    const second = await spool.deliver();
    expect(second).toEqual({ sent: 6, pending: 0 });
    const seen = server.connections.flatMap((c) => c.frames.map((f) => all.findIndex((m) => m.equals(f))));
    expect(seen.every((i) => i >= 0)).toBe(true);
    const firstSightings = seen.filter((i, k) => seen.indexOf(i) === k);
    expect(firstSightings).toEqual([...all.keys()]);
    // The re-sent batch starts from its first message.
    expect(server.connections[2]!.frames).toEqual(all.slice(4, 8));
  });

  it('keeps the batch when the repository never answers our close', async () => {
    const server = await startServer(pki, { holdOpen: true });
    const { spool } = await filled(server.port, 2, {}, { timeoutMs: 700 });
    const r = await spool.deliver();
    expect(server.connections[0]!.frames).toHaveLength(2); // the bytes arrived, but nothing confirmed it
    expect(r).toMatchObject({ sent: 0, pending: 2 });
    expect(r.error).toMatch(/did not close/);
  });

  it('sends nothing to a server whose certificate is not from a trusted CA, or under another name', async () => {
    const server = await startServer(pki);
    const { spool } = await filled(server.port, 2, {}, { ca: [pem(other, 'demo-root-ca.pem')] });
    const r = await spool.deliver();
    expect(r).toMatchObject({ sent: 0, pending: 2 });
    expect(r.error).toMatch(/trusted CA/);
    const named = await filled(server.port, 1, {}, { servername: 'audit.example' });
    const n = await named.spool.deliver();
    expect(n).toMatchObject({ sent: 0, pending: 1 });
    expect(n.error).toMatch(/does not match/);
    expect(server.connections).toHaveLength(0);
  });

  it('keeps the messages when the repository refuses our missing certificate after the handshake (TLS 1.3)', async () => {
    // With TLS 1.3 our handshake is over before the server checks our certificate: the refusal (an
    // alert) arrives while or after we send, and must still keep the messages. (A node:tls server
    // refusing a certificate from a foreign CA closes without an alert, which TLS cannot tell from an
    // answer to our close: that case is checked against rsyslog, which resets the connection.)
    const server = await startServer(pki);
    const { spool } = await filled(server.port, 2, {}, { cert: undefined, key: undefined });
    const r = await spool.deliver();
    expect(r).toMatchObject({ sent: 0, pending: 2 });
    expect(r.error).toMatch(/refused our client certificate or needs one/);
    expect(server.connections).toHaveLength(0);
  });

  it('lets one delivery run at a time and takes over the lock of a dead process', async () => {
    const server = await startServer(pki);
    const { spool, dir: d } = await filled(server.port, 3);
    const lock = path.join(d, 'deliver.lock');
    const host = (await import('node:os')).hostname();
    // Held by a live process (our parent): refused, nothing sent.
    writeFileSync(lock, `${process.ppid}\n${host}\nabc\n`);
    const busy = await spool.deliver();
    expect(busy).toMatchObject({ sent: 0, pending: 3 });
    expect(busy.error).toMatch(new RegExp(`another delivery \\(process ${process.ppid}\\)`));
    expect(readFileSync(lock, 'utf8')).toContain('abc'); // not touched
    // Held by a process that died: taken over.
    writeFileSync(lock, `${deadPid()}\n${host}\nabc\n`);
    expect(await spool.deliver()).toEqual({ sent: 3, pending: 0 });
    expect(existsSync(lock)).toBe(false);
    // Two deliveries at once (two spools on one folder, one process): one sends, the other reports the lock.
    const other2 = await SyslogSpool.open(d, target(server.port), ID);
    for (let i = 0; i < 5; i++) await spool.enqueue(xml(i), WHEN);
    const [x, y] = await Promise.all([spool.deliver(), other2.deliver()]);
    expect(x.sent + y.sent).toBe(5);
    expect([x.error, y.error].filter(Boolean)).toHaveLength(1);
    expect([x.error, y.error].find(Boolean)).toMatch(/this process/);
    expect(server.connections.flatMap((c) => c.frames)).toHaveLength(8);
  });

  it('sets aside a spool file that is not one whole frame, and goes on', async () => {
    const server = await startServer(pki);
    const { spool, dir: d, texts } = await filled(server.port, 3);
    writeFileSync(path.join(d, '0000000000000002.syslog'), '99 <85>1 cut short');
    const r = await spool.deliver();
    expect(r).toEqual({ sent: 2, pending: 0, corrupt: ['0000000000000002.syslog'] });
    expect(existsSync(path.join(d, '0000000000000002.syslog.corrupt'))).toBe(true);
    expect(server.connections[0]!.frames).toEqual(expected([texts[0]!, texts[2]!]));
  });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}
