/**
 * Fuzz target: the audit log checker (checkAuditLog): the hash-chained JSON-lines log of audit/log.ts,
 * and its head file. The input is the log as written to disk; when its first line is `HEAD ...`, the
 * rest of that line is written as `FILE.head` (so mutations reach the head check too).
 *
 * Mutations: the default byte and field mutations of the seeds, mixed with edits that know the format:
 * a record's field changed, lines dropped, duplicated or swapped, a hash broken, the chain recomputed
 * after an edit (a forger without the head file), huge lines, invalid UTF-8, deep JSON nesting, CRLF.
 * A log found broken ends as `dcmsafe audit check` ends it: AUDIT_LOG_BROKEN (so the histogram shows
 * intact against broken); a broken verdict without a line and a problem is a failure.
 */
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { AuditLog, checkAuditLog, GENESIS } from '../../audit/log.js';
import { DcmsafeError } from '../../errors/index.js';
import { applicationActivityMessage, exportMessage, importMessage, securityAlertMessage, userAuthenticationMessage, type AuditContext } from '../../audit/messages.js';
import type { Field, Seed } from '../mutate.js';
import { mutationsOf, type FuzzInput, type FuzzTarget } from '../target.js';

const HEAD_PREFIX = 'HEAD ';

/** The fields of a log: the first bytes of each hash, the seq value, each line end. */
function logFields(bytes: Buffer): Field[] {
  const out: Field[] = [];
  let start = 0;
  while (start < bytes.length && out.length < 4096) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    if (end - start > 70) {
      out.push({ offset: start, size: 4, endian: 'be' }, { offset: start + 60, size: 4, endian: 'be' }, { offset: start + 64, size: 1, endian: 'be' });
      const seq = bytes.indexOf('"seq":', start);
      if (seq >= 0 && seq < end) out.push({ offset: seq + 6, size: 1, endian: 'be' });
    }
    if (end < bytes.length) out.push({ offset: end, size: 1, endian: 'be' });
    start = end + 1;
  }
  return out;
}

function chain(prev: string, json: string): string {
  return createHash('sha256').update(prev, 'latin1').update(json, 'utf8').digest('hex');
}

const CTX: AuditContext = {
  when: new Date('2026-11-25T10:00:00Z'),
  operator: { userId: 'alice', name: 'Alice Operator' },
  application: { name: 'dcmsafe', version: '0.0.0-fuzz', processId: 4242, host: 'fuzzhost', aeTitle: 'DCMSAFE' },
  auditSourceId: 'Fuzz Clinic',
};

async function writeLog(entries: ReadonlyArray<{ kind: string; message: string }>, withHead: boolean): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dcmsafe-fuzz-audit-'));
  try {
    const file = path.join(dir, 'audit.log');
    const log = new AuditLog(file);
    for (const [i, e] of entries.entries()) await log.append({ time: `2026-11-25T10:00:0${i % 10}.000+00:00`, kind: e.kind, operator: 'alice', message: e.message });
    const body = await readFile(file);
    if (!withHead) return body;
    const head = await readFile(`${file}.head`);
    return Buffer.concat([Buffer.from(HEAD_PREFIX), head, body]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Splits an input into its head-file text (if any) and the log. */
export function splitLogInput(input: Buffer): { head?: Buffer; log: Buffer } {
  if (input.subarray(0, HEAD_PREFIX.length).toString('latin1') !== HEAD_PREFIX) return { log: input };
  const nl = input.indexOf(0x0a);
  if (nl < 0) return { head: input.subarray(HEAD_PREFIX.length), log: Buffer.alloc(0) };
  return { head: input.subarray(HEAD_PREFIX.length, nl + 1), log: input.subarray(nl + 1) };
}

// ---- structure-aware edits ---------------------------------------------------------------------------

export type AuditLogEdit =
  | { op: 'field'; line: number; key: 'seq' | 'time' | 'kind' | 'operator' | 'message'; value: unknown }
  | { op: 'drop' | 'duplicate'; line: number }
  | { op: 'swap'; line: number; other: number }
  | { op: 'break-hash'; line: number; at: number }
  | { op: 'rechain' }
  | { op: 'huge'; line: number; size: number }
  | { op: 'bad-utf8'; line: number; at: number; bytes: number[] }
  | { op: 'nesting'; line: number; depth: number }
  | { op: 'crlf' | 'bom' | 'no-final-newline' | 'blank-line' | 'drop-head' | 'junk-line'; line: number };

const fieldValue = fc.oneof(
  fc.integer({ min: -2, max: 12 }),
  fc.constantFrom(0, 1.5, -0, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e308, null, true, '', 'x', '1', [], {}, [1], { seq: 1 }),
  fc.string({ maxLength: 40 }),
);

export const auditLogEdit: fc.Arbitrary<AuditLogEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('field' as const), line: fc.nat(16), key: fc.constantFrom('seq' as const, 'time' as const, 'kind' as const, 'operator' as const, 'message' as const), value: fieldValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('drop' as const, 'duplicate' as const), line: fc.nat(16) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('swap' as const), line: fc.nat(16), other: fc.nat(16) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('break-hash' as const), line: fc.nat(16), at: fc.nat(63) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'rechain' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('huge' as const), line: fc.nat(16), size: fc.integer({ min: 1000, max: 200_000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('bad-utf8' as const), line: fc.nat(16), at: fc.nat(400), bytes: fc.array(fc.constantFrom(0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf4, 0xf5, 0xfe, 0xff, 0xa0), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('nesting' as const), line: fc.nat(16), depth: fc.constantFrom(100, 10_000, 100_000) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constantFrom('crlf' as const, 'bom' as const, 'no-final-newline' as const, 'blank-line' as const, 'drop-head' as const, 'junk-line' as const), line: fc.nat(16) }),
  },
);

/** Applies the edits to a seed's lines; the head line (if any) stays in front unless dropped. */
export function applyEdits(seedBytes: Buffer, edits: readonly AuditLogEdit[]): Buffer {
  const { head, log } = splitLogInput(seedBytes);
  let headText = head;
  // Lines as bytes, so that invalid UTF-8 survives.
  const lines: Buffer[] = [];
  for (let s = 0; s < log.length; ) {
    let e = log.indexOf(0x0a, s);
    if (e < 0) e = log.length;
    lines.push(log.subarray(s, e));
    s = e + 1;
  }
  let finalNewline = log.length > 0 && log[log.length - 1] === 0x0a;
  let crlf = false;
  let bom = false;
  const pick = (n: number): number => (lines.length === 0 ? -1 : n % lines.length);
  const record = (i: number): { hash: string; value: Record<string, unknown> } | undefined => {
    const text = lines[i]?.toString('utf8') ?? '';
    try {
      return { hash: text.slice(0, 64), value: JSON.parse(text.slice(65)) as Record<string, unknown> };
    } catch {
      return undefined;
    }
  };
  const setJson = (i: number, hash: string, json: string): void => {
    lines[i] = Buffer.from(`${hash} ${json}`, 'utf8');
  };
  // A record nested deeper than JSON.stringify can go (an earlier 'nesting' edit) is left as it is.
  const restringify = (value: object, change: Record<string, unknown>): string | undefined => {
    try {
      return JSON.stringify({ ...value, ...change });
    } catch (e) {
      if (e instanceof RangeError) return undefined;
      throw e;
    }
  };
  for (const e of edits) {
    const i = 'line' in e ? pick(e.line) : -1;
    switch (e.op) {
      case 'field': {
        const r = i >= 0 ? record(i) : undefined;
        const json = r && r.value !== null && typeof r.value === 'object' ? restringify(r.value, { [e.key]: e.value }) : undefined;
        if (r && json !== undefined) setJson(i, r.hash, json);
        break;
      }
      case 'drop':
        if (i >= 0) lines.splice(i, 1);
        break;
      case 'duplicate':
        if (i >= 0) lines.splice(i, 0, lines[i] as Buffer);
        break;
      case 'swap': {
        const j = pick(e.other);
        if (i >= 0 && j >= 0) [lines[i], lines[j]] = [lines[j] as Buffer, lines[i] as Buffer];
        break;
      }
      case 'break-hash':
        if (i >= 0 && (lines[i]?.length ?? 0) > e.at) {
          const b = Buffer.from(lines[i] as Buffer);
          b[e.at] = b[e.at] === 0x30 ? 0x31 : 0x30;
          lines[i] = b;
        }
        break;
      case 'rechain': {
        // A forger who edits the log and recomputes every hash (but cannot reach the head file).
        let prev = GENESIS;
        for (let k = 0; k < lines.length; k++) {
          const text = (lines[k] as Buffer).toString('utf8');
          if (text.length < 66) continue;
          const json = text.slice(65);
          prev = chain(prev, json);
          setJson(k, prev, json);
        }
        break;
      }
      case 'huge': {
        const r = i >= 0 ? record(i) : undefined;
        const json = r && r.value !== null && typeof r.value === 'object' ? restringify(r.value, { message: 'x'.repeat(e.size) }) : undefined;
        if (r && json !== undefined) setJson(i, r.hash, json);
        break;
      }
      case 'bad-utf8':
        if (i >= 0) {
          const b = lines[i] as Buffer;
          const at = Math.min(b.length, 65 + e.at);
          lines[i] = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)]);
        }
        break;
      case 'nesting':
        if (i >= 0) {
          const r = record(i);
          const nested = `${'['.repeat(e.depth)}${']'.repeat(e.depth)}`;
          lines[i] = Buffer.from(`${r?.hash ?? GENESIS} {"seq":${i + 1},"message":"m","x":${nested}}`);
        }
        break;
      case 'crlf':
        crlf = true;
        break;
      case 'bom':
        bom = true;
        break;
      case 'no-final-newline':
        finalNewline = !finalNewline;
        break;
      case 'blank-line':
        lines.splice(Math.max(0, i), 0, Buffer.alloc(0));
        break;
      case 'drop-head':
        headText = undefined;
        break;
      case 'junk-line':
        lines.splice(Math.max(0, i), 0, Buffer.from(`${GENESIS} not json`));
        break;
    }
  }
  const nl = Buffer.from(crlf ? '\r\n' : '\n');
  const parts: Buffer[] = [];
  if (headText) parts.push(Buffer.from(HEAD_PREFIX), headText.at(-1) === 0x0a ? headText : Buffer.concat([headText, Buffer.from('\n')]));
  if (bom) parts.push(Buffer.from([0xef, 0xbb, 0xbf]));
  lines.forEach((l, k) => {
    parts.push(l);
    if (k < lines.length - 1 || finalNewline) parts.push(nl);
  });
  return Buffer.concat(parts);
}

function structured(seeds: readonly Seed[]): fc.Arbitrary<FuzzInput> {
  return fc.record({ seed: fc.nat(seeds.length - 1), edits: fc.array(auditLogEdit, { minLength: 1, maxLength: 4 }) }).map(({ seed, edits }) => {
    const s = seeds[seed] as Seed;
    return { bytes: applyEdits(s.bytes, edits), how: `${s.name}: ${edits.map((e) => JSON.stringify(e, (_k, v: unknown) => (typeof v === 'string' && v.length > 40 ? `${v.slice(0, 40)}…` : v))).join(', ')}` };
  });
}

export const auditLogTarget: FuzzTarget = {
  name: 'audit-log',
  description: 'audit log chain check (checkAuditLog), with its head file; structure-aware record edits',
  async seeds() {
    const studies = [{ studyInstanceUID: '1.2.3.4', patientId: 'PAT1', sopClasses: [{ uid: '1.2.840.10008.5.1.4.1.1.2', instances: 3 }] }];
    const patients = [{ id: 'PAT1', name: 'Łukasiewicz^Zoë' }];
    const entries = [
      { kind: 'application-activity', message: applicationActivityMessage(CTX, { outcome: 0, action: 'start' }) },
      { kind: 'login', message: userAuthenticationMessage(CTX, { outcome: 0, action: 'login', user: { userId: 'alice' } }) },
      { kind: 'export', message: exportMessage(CTX, { outcome: 0, media: { kind: 'cd', identifier: '1.2.3.9', label: 'DCMSAFE' }, patients, studies }) },
      { kind: 'import', message: importMessage(CTX, { outcome: 4, outcomeDescription: 'one file failed', media: { kind: 'usb', identifier: '1.2.3.10' }, patients, studies }) },
      { kind: 'security-alert', message: securityAlertMessage(CTX, { outcome: 8, outcomeDescription: 'signature invalid', alert: 'verification', subject: 'DICOM/IM1' }) },
    ];
    const small = [
      { kind: 'export', message: 'm1' },
      { kind: 'import', message: 'm2\nwith a newline, "quotes" and Zoë' },
      { kind: 'login', message: 'm3' },
    ];
    const all = [
      { name: 'ours:audit messages, with head', bytes: await writeLog(entries, true) },
      { name: 'ours:audit messages, no head', bytes: await writeLog(entries.slice(0, 3), false) },
      { name: 'ours:short records, with head', bytes: await writeLog(small, true) },
      { name: 'ours:one record, with head', bytes: await writeLog(small.slice(0, 1), true) },
    ];
    return all.map((s): Seed => ({ ...s, fields: logFields(s.bytes) }));
  },
  arbitrary(seeds) {
    return fc.oneof(mutationsOf(seeds), structured(seeds));
  },
  async run(input, ctx) {
    const file = path.join(ctx.scratch, 'audit.log');
    const { head, log } = splitLogInput(input);
    // Synchronous: the writes are the target's overhead, not the checker's work (twice the rate).
    writeFileSync(file, log);
    if (head) writeFileSync(`${file}.head`, head);
    else rmSync(`${file}.head`, { force: true });
    const result = await checkAuditLog(file);
    // As `dcmsafe audit check` ends: intact, or broken with the line and what is wrong with it.
    if (!result.ok) {
      if (result.line === undefined || !result.problem) throw new DcmsafeError('INTERNAL', `a broken log without a line or problem: ${JSON.stringify(result)}`);
      throw new DcmsafeError('AUDIT_LOG_BROKEN', result.problem, { file, line: result.line });
    }
    return result.records;
  },
};
