/**
 * Audit messages to an audit repository by syslog over TLS (PS3.15 A.6, IHE ATNA [ITI-20]): each XML
 * audit message (PS3.15 A.5) goes as one RFC 5424 syslog message, framed by octet counting (RFC 5425
 * §4.3), over TLS 1.2/1.3 with the BCP 195 settings of the DICOM network layer and mutual certificate
 * authentication.
 *
 * Messages wait in a spool folder, one file per message, until delivered, so that none is lost while
 * the repository is unreachable or the process dies.
 *
 * Delivery guarantee (syslog has no application acknowledgement, so this is the most TLS can tell):
 * messages go oldest first, a batch per connection; a batch's files are removed only after every byte
 * of the batch was handed to the operating system, our side of the connection was ended (TLS
 * close_notify, then FIN), and the repository closed its side in turn (RFC 5425 §4.4: it answers
 * close_notify after reading everything before it) with no error. A connection that fails, resets or
 * stays silent at any point keeps the whole batch, which is sent again, from its first message, on the
 * next delivery: the repository may see a message twice, and first sightings keep the spool's order.
 * What the repository does with a message after reading it (its own queue, its disk) is beyond what
 * the protocol can show; a process killed between the repository's close and the removal of the files
 * also sends the batch again. The one case TLS cannot tell apart: a repository that closes the
 * connection on its own (restart, or refusing our certificate after a TLS 1.3 handshake) without an
 * alert and without reading, less than a round trip after our last bytes left, looks like one that
 * answered our close (node:tls does not say whether a close_notify came). rsyslog resets such
 * connections (our unread bytes make its kernel send RST), which fails the batch as it should.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { DcmsafeError } from '../errors/index.js';
import { connectTls, withTimeout, type SocketTransport } from '../net/transport.js';
import { processAlive, withFileLock } from '../util/durable.js';

export interface SyslogTarget {
  readonly host: string;
  readonly port: number;
  /** Trusted CA certificates (PEM or DER) for the repository's certificate. */
  readonly ca: readonly Buffer[];
  /** Our certificate (PEM, chain allowed) and key: ATNA node authentication is mutual. */
  readonly cert?: Buffer;
  readonly key?: KeyObject | Buffer;
  /** The name the repository's certificate must carry; defaults to `host` (an IP matches IP SANs). */
  readonly servername?: string;
  /** Limit for connecting and the handshake, for each write to drain and for the closing (default 10 s). */
  readonly timeoutMs?: number;
}

export interface SyslogIdentity {
  /** RFC 5424 HOSTNAME: FQDN, host name or IP address of this machine. */
  readonly hostname: string;
  /** RFC 5424 APP-NAME: 'dcmsafe'. */
  readonly appName: string;
  /** RFC 5424 PROCID, usually the process id. */
  readonly procId: string;
}

/** Options of a spool, for tests and tuning. */
export interface SyslogSpoolOptions {
  /** Messages per connection at most (default 100). */
  readonly batchMessages?: number;
  /** Octets per connection at most (default 4 MiB; a single larger message still goes alone). */
  readonly batchOctets?: number;
}

export interface SyslogDelivery {
  /** Messages confirmed (see the module comment) and removed from the spool by this call. */
  sent: number;
  /** Messages left in the spool. */
  pending: number;
  /** Why delivery stopped early (network, TLS, timeout, another process delivering). */
  error?: string;
  /** Spool files set aside as NAME.corrupt: they did not hold one valid frame (never written by enqueue). */
  corrupt?: string[];
}

/** PRI: facility 10 (security/authorization, authpriv) × 8 + severity 5 (notice). */
export const SYSLOG_PRI = 85;
/** MSGID for DICOM audit messages (PS3.15 A.6). */
export const SYSLOG_MSGID = 'DICOM+RFC3881';
/** The largest SYSLOG-MSG we accept: far above the 32768 octets PS3.15 A.6 asks receivers to take. */
export const MAX_SYSLOG_MESSAGE_OCTETS = 1024 * 1024;

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** RFC 5424 §6: the longest HOSTNAME, APP-NAME, PROCID and MSGID. */
const FIELD_MAX = { hostname: 255, appName: 48, procId: 128, msgId: 32 } as const;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_BATCH_MESSAGES = 100;
const DEFAULT_BATCH_OCTETS = 4 * 1024 * 1024;
const SPOOL_NAME = /^(\d{16})\.syslog$/;
const TEMP_NAME = /^\.tmp-(\d+)-[0-9a-f]+$/;
const LOCK_NAME = 'deliver.lock';
/** A lock that names no holder older than this is taken over (it is always written whole, so something else wrote it). */
const LOCK_UNWRITTEN_STALE_MS = 60_000;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** This machine and process, as RFC 5424 header fields. */
export function defaultSyslogIdentity(): SyslogIdentity {
  return { hostname: osHostname() || '-', appName: 'dcmsafe', procId: String(process.pid) };
}

/** An RFC 5424 header field: PRINTUSASCII only (others become '_'), at most `max` characters, '-' when empty. */
function headerField(value: string, max: number): string {
  let out = '';
  for (const ch of value) {
    if (out.length >= max) break;
    const c = ch.codePointAt(0) as number;
    out += c >= 33 && c <= 126 ? ch : '_';
  }
  return out || '-';
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** RFC 3339 (RFC 5424 §6.2.3) with milliseconds and this machine's UTC offset, e.g. 2024-03-05T14:07:09.123+01:00. */
export function syslogTimestamp(when: Date): string {
  const t = when.getTime();
  if (!Number.isFinite(t)) throw new DcmsafeError('AUDIT_SINK', 'The audit message has no valid time', {});
  const offset = -when.getTimezoneOffset();
  const local = new Date(t + offset * 60_000);
  const year = local.getUTCFullYear();
  if (year < 0 || year > 9999) throw new DcmsafeError('AUDIT_SINK', `The audit message time ${when.toISOString()} has no 4-digit year`, {});
  const abs = Math.abs(offset);
  return (
    `${pad(year, 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:` +
    `${pad(local.getUTCSeconds())}.${pad(local.getUTCMilliseconds(), 3)}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/**
 * RFC 5424 SYSLOG-MSG: `<85>1 TIMESTAMP HOSTNAME APP-NAME PROCID DICOM+RFC3881 - BOM XML`: facility 10
 * (authpriv), severity 5 (notice), no structured data, MSG = BOM + the XML in UTF-8 (RFC 5424 §6.4; a
 * BOM already leading the XML is not doubled). Header fields are cut to their RFC 5424 lengths and
 * characters outside PRINTUSASCII replaced by '_'. The XML is never cut: an empty one, one with lone
 * surrogates (not UTF-8) or a message above 1 MiB is refused (AUDIT_SINK).
 */
export function formatSyslogMessage(xml: string, when: Date, id: SyslogIdentity): Buffer {
  const text = xml.startsWith('\uFEFF') ? xml.slice(1) : xml;
  if (text.length === 0) throw new DcmsafeError('AUDIT_SINK', 'The audit message is empty', {});
  if (LONE_SURROGATE.test(text)) throw new DcmsafeError('AUDIT_SINK', 'The audit message is not well-formed Unicode (a lone surrogate): it cannot be sent as UTF-8', {});
  const header =
    `<${SYSLOG_PRI}>1 ${syslogTimestamp(when)} ${headerField(id.hostname, FIELD_MAX.hostname)} ${headerField(id.appName, FIELD_MAX.appName)} ` +
    `${headerField(id.procId, FIELD_MAX.procId)} ${headerField(SYSLOG_MSGID, FIELD_MAX.msgId)} - `;
  const body = Buffer.from(text, 'utf8');
  const length = header.length + BOM.length + body.length;
  if (length > MAX_SYSLOG_MESSAGE_OCTETS) {
    throw new DcmsafeError('AUDIT_SINK', `The audit message is ${length} octets; at most ${MAX_SYSLOG_MESSAGE_OCTETS} are sent`, { octets: length, limit: MAX_SYSLOG_MESSAGE_OCTETS });
  }
  return Buffer.concat([Buffer.from(header, 'ascii'), BOM, body], length);
}

/** RFC 5425 §4.3 octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in octets. */
export function frameSyslog(message: Buffer): Buffer {
  if (message.length === 0 || message.length > MAX_SYSLOG_MESSAGE_OCTETS) {
    throw new DcmsafeError('AUDIT_SINK', `A syslog message must hold 1 to ${MAX_SYSLOG_MESSAGE_OCTETS} octets, not ${message.length}`, { octets: message.length });
  }
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/** The SYSLOG-MSG of exactly one frame, or undefined when `frame` is not one whole RFC 5425 frame. */
function unframe(frame: Buffer): Buffer | undefined {
  const sp = frame.indexOf(0x20);
  if (sp < 1 || sp > 7) return undefined;
  const digits = frame.subarray(0, sp).toString('latin1');
  if (!/^[1-9]\d*$/.test(digits)) return undefined;
  const length = Number(digits);
  return length <= MAX_SYSLOG_MESSAGE_OCTETS && frame.length === sp + 1 + length ? frame.subarray(sp + 1) : undefined;
}

// ---- Spool ---------------------------------------------------------------------------------------

const sinkError = (message: string, dir: string, e: unknown): DcmsafeError =>
  new DcmsafeError('AUDIT_SINK', `${message}: ${(e as Error).message}`, { file: dir, ...((e as NodeJS.ErrnoException).code ? { errno: (e as NodeJS.ErrnoException).code } : {}) }, { cause: e });

async function syncDir(dir: string): Promise<void> {
  // Makes a rename, link or unlink durable. Not every platform can open a folder (Windows): best effort there.
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw e;
  } finally {
    await handle?.close();
  }
}

/**
 * A folder of audit messages waiting for the repository: NNNNNNNNNNNNNNNN.syslog, one RFC 5425 frame
 * each, the name a zero-padded sequence number, delivered in that order. Several processes may enqueue
 * into and deliver from one spool: names are taken with link(2), which never replaces a file, and one
 * delivery at a time holds deliver.lock (withFileLock of util/durable.ts: created exclusively, holding
 * the holder's pid and host; the lock of a dead process on this host is taken over, under a second
 * short-lived lock).
 */
export class SyslogSpool {
  private lastSeq = 0;

  private constructor(
    readonly dir: string,
    private readonly target: SyslogTarget,
    private readonly id: SyslogIdentity,
    private readonly options: SyslogSpoolOptions,
  ) {}

  /** Opens (creating, mode 0700) the spool folder; removes temporary files left by dead processes. */
  static async open(dir: string, target: SyslogTarget, id: SyslogIdentity, options: SyslogSpoolOptions = {}): Promise<SyslogSpool> {
    if (!target.host) throw new DcmsafeError('AUDIT_SINK', 'The audit repository has no host', {});
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
      throw new DcmsafeError('AUDIT_SINK', `The audit repository port ${target.port} is not 1 to 65535`, { port: target.port });
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const name of await readdir(dir)) {
        const m = TEMP_NAME.exec(name);
        if (m && !processAlive(Number(m[1]))) await unlink(path.join(dir, name)).catch(() => undefined);
      }
    } catch (e) {
      throw sinkError(`The audit spool ${dir} cannot be opened`, dir, e);
    }
    return new SyslogSpool(dir, target, id, options);
  }

  private fileName(seq: number): string {
    return path.join(this.dir, `${String(seq).padStart(16, '0')}.syslog`);
  }

  /** Spooled message files, oldest first. */
  private async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => SPOOL_NAME.test(n)).sort();
    } catch (e) {
      throw sinkError(`The audit spool ${this.dir} cannot be read`, this.dir, e);
    }
  }

  async pending(): Promise<number> {
    return (await this.list()).length;
  }

  /**
   * Formats and frames the message and stores it durably (temporary file, fsync, link to the next free
   * sequence number, fsync of the folder) before returning. Does not send. AUDIT_SINK when the message
   * is refused (see formatSyslogMessage) or cannot be written.
   */
  async enqueue(xml: string, when: Date): Promise<void> {
    const frame = frameSyslog(formatSyslogMessage(xml, when, this.id));
    const tmp = path.join(this.dir, `.tmp-${process.pid}-${randomBytes(8).toString('hex')}`);
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(frame);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const names = await this.list();
      const highest = names.length ? Number(SPOOL_NAME.exec(names.at(-1) as string)?.[1]) : 0;
      let seq = Math.max(this.lastSeq, highest) + 1;
      for (;;) {
        try {
          await link(tmp, this.fileName(seq));
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          seq++; // another process took this number
        }
      }
      this.lastSeq = seq;
      await unlink(tmp);
      await syncDir(this.dir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (e instanceof DcmsafeError) throw e;
      throw sinkError(`The audit message cannot be stored in the spool ${this.dir}`, this.dir, e);
    }
  }

  /**
   * Sends the spooled messages, oldest first, in batches of one connection each, removing a batch's
   * files once the connection closed cleanly (see the module comment). Stops at the first failure and
   * keeps the rest. Network and TLS failures, and another process delivering this spool, come back as
   * `error`; only a spool that cannot be read or changed throws (AUDIT_SINK).
   */
  async deliver(): Promise<SyslogDelivery> {
    const lockFile = path.join(this.dir, LOCK_NAME);
    // Another delivery running is not waited for: it sends what is spooled.
    return withFileLock(lockFile, () => this.deliverLocked(), {
      waitMs: 0,
      unreadableStaleMs: LOCK_UNWRITTEN_STALE_MS,
      busy: async (holder) => {
        const who = !holder
          ? 'an unknown process'
          : holder.pid === process.pid && holder.host === osHostname()
            ? 'this process'
            : `process ${holder.pid}${holder.host !== osHostname() ? ` on ${holder.host}` : ''}`;
        return { sent: 0, pending: await this.pending(), error: `another delivery (${who}) holds ${lockFile}` };
      },
      error: (e) => sinkError(`The spool lock ${lockFile} cannot be taken`, lockFile, e),
    });
  }

  private async deliverLocked(): Promise<SyslogDelivery> {
    let sent = 0;
    const corrupt: string[] = [];
    const result = async (error?: string): Promise<SyslogDelivery> => ({
      sent,
      pending: await this.pending(),
      ...(error !== undefined ? { error } : {}),
      ...(corrupt.length ? { corrupt } : {}),
    });
    for (;;) {
      const batch = await this.nextBatch(corrupt);
      if (batch.length === 0) return await result();
      const error = await this.send(batch.map((b) => b.frame));
      if (error !== undefined) return await result(error);
      try {
        for (const b of batch) await unlink(b.file).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
        await syncDir(this.dir);
      } catch (e) {
        throw sinkError(`Delivered audit messages cannot be removed from the spool ${this.dir} (they will be sent again)`, this.dir, e);
      }
      sent += batch.length;
    }
  }

  /** The oldest messages, up to the batch limits; files that are not one valid frame are set aside. */
  private async nextBatch(corrupt: string[]): Promise<{ file: string; frame: Buffer }[]> {
    const maxMessages = Math.max(1, this.options.batchMessages ?? DEFAULT_BATCH_MESSAGES);
    const maxOctets = this.options.batchOctets ?? DEFAULT_BATCH_OCTETS;
    const batch: { file: string; frame: Buffer }[] = [];
    let octets = 0;
    for (const name of await this.list()) {
      if (batch.length >= maxMessages) break;
      const file = path.join(this.dir, name);
      let frame: Buffer | undefined;
      try {
        const size = (await stat(file)).size;
        if (batch.length > 0 && octets + size > maxOctets) break;
        frame = size <= MAX_SYSLOG_MESSAGE_OCTETS + 8 ? await readFile(file) : undefined;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // delivered by a process that held the lock before us
        throw sinkError(`The audit spool file ${file} cannot be read`, file, e);
      }
      if (!frame || !unframe(frame)) {
        await rename(file, `${file}.corrupt`).catch((e: unknown) => Promise.reject(sinkError(`The corrupt spool file ${file} cannot be set aside`, file, e)));
        corrupt.push(name);
        continue;
      }
      batch.push({ file, frame });
      octets += frame.length;
    }
    return batch;
  }

  /** One connection: connect, write every frame, end cleanly. The error text, or undefined when confirmed. */
  private async send(frames: Buffer[]): Promise<string | undefined> {
    const t = this.target;
    const timeoutMs = t.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let transport: SocketTransport | undefined;
    try {
      const connection = await connectTls(t.host, t.port, {
        ca: t.ca,
        ...(t.cert ? { cert: t.cert } : {}),
        ...(t.key ? { key: t.key } : {}),
        ...(t.servername ? { servername: t.servername } : {}),
        timeoutMs,
      });
      transport = connection;
      for (const frame of frames) {
        await withTimeout(
          connection.write(frame),
          timeoutMs,
          () => new DcmsafeError('AUDIT_SINK', `the audit repository ${t.host}:${t.port} took no data for ${timeoutMs} ms`, { host: t.host, port: t.port }),
        );
      }
      await connection.endCleanly(timeoutMs);
      return undefined;
    } catch (e) {
      transport?.destroy();
      return e instanceof Error ? e.message : String(e);
    }
  }
}
