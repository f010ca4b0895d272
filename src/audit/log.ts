/**
 * The local audit log: append-only, one record per line, each chained to the one before it, so that
 * a record removed, edited or moved is found by `dcmsafe audit check` (which names the line).
 *
 * A line is `HASH JSON`: JSON holds the record (seq, time, kind, operator, the PS3.15 A.5 XML message)
 * and HASH is the SHA-256 (hex) of the previous line's HASH followed by this line's JSON bytes, exactly
 * as written. The first line chains to 64 zeros. `FILE.head` holds the last sequence number and hash,
 * so that a cut tail is found too (unless it is rewritten along with the log: the audit repository, which
 * gets every message by syslog, is the copy out of reach). Appends from several processes are serialised
 * with a lock file next to the log (util/durable.ts withFileLock; the lock of a process that died is
 * taken over).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { withFileLock } from '../util/durable.js';

export const GENESIS = '0'.repeat(64);

export interface AuditRecord {
  readonly seq: number;
  readonly time: string;
  readonly kind: string;
  readonly operator: string;
  readonly message: string;
}

export interface AuditCheck {
  readonly ok: boolean;
  readonly records: number;
  /** 1-based line of the first problem, and what it is. */
  readonly line?: number;
  readonly problem?: string;
}

function chain(prev: string, json: string): string {
  return createHash('sha256').update(prev, 'latin1').update(json, 'utf8').digest('hex');
}

function lockError(file: string, e: unknown): DcmsafeError {
  return new DcmsafeError('AUDIT_SINK', `audit log ${file}: cannot take the lock: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
}

/** Longest wait for another process appending to the same log. */
const LOCK_WAIT_MS = 30_000;

/** Runs `fn` holding `FILE.lock`; waits for another holder, takes over the lock of a dead process. */
function withLogLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  return withFileLock(`${file}.lock`, fn, {
    waitMs: LOCK_WAIT_MS,
    busy: (holder): never => {
      throw lockError(file, new Error(`held by process ${holder?.pid ?? '?'} for more than ${LOCK_WAIT_MS} ms`));
    },
    error: (e) => lockError(file, e),
  });
}

/** The last line of a file, read backwards in chunks (records may be long: messages up to megabytes). */
async function lastLine(file: string): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { size } = await handle.stat();
    let end = size;
    const parts: Buffer[] = [];
    let pos = size;
    let first = true;
    while (pos > 0) {
      const n = Math.min(64 * 1024, pos);
      pos -= n;
      const buf = Buffer.alloc(n);
      await handle.read(buf, 0, n, pos);
      let chunk = buf;
      if (first) {
        first = false;
        if (chunk[chunk.length - 1] === 0x0a) {
          chunk = chunk.subarray(0, chunk.length - 1);
          end -= 1;
        }
      }
      const nl = chunk.lastIndexOf(0x0a);
      if (nl >= 0) {
        parts.unshift(chunk.subarray(nl + 1));
        break;
      }
      parts.unshift(chunk);
    }
    return end > 0 ? Buffer.concat(parts).toString('utf8') : undefined;
  } finally {
    await handle.close();
  }
}

function parseLine(line: string): { hash: string; json: string; record: AuditRecord } | undefined {
  const space = line.indexOf(' ');
  if (space !== 64 || !/^[0-9a-f]{64}$/.test(line.slice(0, 64))) return undefined;
  const json = line.slice(65);
  try {
    const record = JSON.parse(json) as AuditRecord;
    if (!Number.isSafeInteger(record.seq) || typeof record.message !== 'string') return undefined;
    return { hash: line.slice(0, 64), json, record };
  } catch {
    return undefined;
  }
}

export class AuditLog {
  constructor(readonly file: string) {}

  /** Appends one record; returns it. Durable (fsync) before it returns. */
  async append(entry: Omit<AuditRecord, 'seq'>): Promise<AuditRecord> {
    await mkdir(path.dirname(path.resolve(this.file)), { recursive: true, mode: 0o700 });
    return withLogLock(this.file, async () => {
      const tail = await lastLine(this.file);
      let prev = GENESIS;
      let seq = 1;
      if (tail !== undefined) {
        const last = parseLine(tail);
        if (!last) throw new DcmsafeError('AUDIT_LOG_BROKEN', `audit log ${this.file}: its last line is not a record; run dcmsafe audit check ${this.file}`, { file: this.file });
        prev = last.hash;
        seq = last.record.seq + 1;
      }
      const record: AuditRecord = { seq, time: entry.time, kind: entry.kind, operator: entry.operator, message: entry.message };
      const json = JSON.stringify(record);
      const hash = chain(prev, json);
      const handle = await open(this.file, 'a', 0o600);
      try {
        await handle.write(`${hash} ${json}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      const head = `${this.file}.head`;
      await writeFile(`${head}.tmp`, `${seq} ${hash}\n`, { mode: 0o600 });
      await rename(`${head}.tmp`, head);
      return record;
    });
  }
}

/**
 * Longest line the checker reads: a record is a few KiB (an export of hundreds of studies some MiB);
 * anything longer is not one, and holding it would cost that much memory.
 */
export const MAX_RECORD_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Checks the chain of an audit log (and its head file, when there is one). The log is streamed, line by
 * line: it grows for years, and reading it whole failed past 512 MiB (the longest string V8 makes) with
 * a misleading "cannot be read", after holding all of it in memory.
 */
export async function checkAuditLog(file: string): Promise<AuditCheck> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    throw new DcmsafeError('INPUT_NOT_FOUND', `audit log ${file} cannot be read`, { file }, { cause: e });
  }
  let prev = GENESIS;
  let expectedSeq = 1;
  let lines = 0;
  // One line (without its newline); a problem found in it ends the check.
  const check = (bytes: Buffer): AuditCheck | undefined => {
    const i = lines;
    const n = i + 1;
    lines++;
    const parsed = parseLine(bytes.toString('utf8'));
    if (!parsed) return { ok: false, records: i, line: n, problem: `line ${n} is not an audit record (edited or damaged)` };
    if (chain(prev, parsed.json) !== parsed.hash) {
      return {
        ok: false,
        records: i,
        line: n,
        problem:
          parsed.record.seq !== expectedSeq
            ? `line ${n} holds record ${parsed.record.seq}, record ${expectedSeq} should come here: a record before it was removed or moved`
            : `line ${n} (record ${parsed.record.seq}) does not match its hash: it was edited, or the line before it was`,
      };
    }
    if (parsed.record.seq !== expectedSeq) return { ok: false, records: i, line: n, problem: `line ${n} holds record ${parsed.record.seq}, expected ${expectedSeq}` };
    prev = parsed.hash;
    expectedSeq++;
    return undefined;
  };
  const tooLong = (): AuditCheck => ({ ok: false, records: lines, line: lines + 1, problem: `line ${lines + 1} is longer than ${MAX_RECORD_LINE_BYTES} bytes: not an audit record (damaged, or not an audit log)` });
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pending: Buffer[] = [];
    let pendingLength = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
        if (pendingLength + nl - start > MAX_RECORD_LINE_BYTES) return tooLong();
        const line = pendingLength > 0 ? Buffer.concat([...pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
        pending = [];
        pendingLength = 0;
        const problem = check(line);
        if (problem) return problem;
        start = nl + 1;
      }
      if (start < bytesRead) {
        pendingLength += bytesRead - start;
        if (pendingLength > MAX_RECORD_LINE_BYTES) return tooLong();
        pending.push(Buffer.from(chunk.subarray(start)));
      }
    }
    // A last line without its newline (an append cut short, or an edit) is checked like the others.
    if (pendingLength > 0) {
      const problem = check(Buffer.concat(pending));
      if (problem) return problem;
    }
  } catch (e) {
    throw new DcmsafeError('INPUT_NOT_FOUND', `audit log ${file} cannot be read: ${e instanceof Error ? e.message : String(e)}`, { file }, { cause: e });
  } finally {
    await handle.close();
  }
  const head = await readFile(`${file}.head`, 'latin1').catch(() => undefined);
  if (head !== undefined) {
    const [seqText, hash] = head.trim().split(' ');
    const seq = Number(seqText);
    if (seq !== expectedSeq - 1 || hash !== prev) {
      return {
        ok: false,
        records: lines,
        line: lines + 1,
        problem: `the log ends at record ${expectedSeq - 1}, but its head file says record ${seq} was written last: records at the end were removed or replaced`,
      };
    }
  }
  return { ok: true, records: lines };
}
