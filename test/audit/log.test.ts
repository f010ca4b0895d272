/**
 * The hash-chained local audit log: records appended from several writers at once stay one chain;
 * removing, editing, moving or cutting off a record makes the check fail and name the line.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditLog, checkAuditLog, MAX_RECORD_LINE_BYTES } from '../../src/audit/log.js';
import { applyEdits, auditLogEdit, splitLogInput } from '../../src/fuzz/targets/audit-log.js';
import { tempDir } from '../helpers/env.js';

const message = (i: number): string => `<AuditMessage><EventIdentification n="${i}"/>${'x'.repeat(i * 300)}\nŁukasiewicz</AuditMessage>`;

async function makeLog(dir: string, name: string, n: number): Promise<string> {
  const file = path.join(dir, name);
  const log = new AuditLog(file);
  for (let i = 1; i <= n; i++) await log.append({ time: `2026-11-25T04:00:0${i % 10}.000+00:00`, kind: 'export', operator: 'alice', message: message(i) });
  return file;
}

function rewrite(file: string, change: (lines: string[]) => string[]): void {
  const lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
  writeFileSync(file, `${change(lines).join('\n')}\n`);
}

describe('local audit log', () => {
  const dir = tempDir('dcmsafe-audit-log-');

  it('appends one record per line, chained, and checks clean', async () => {
    const file = await makeLog(dir, 'clean.log', 6);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(7);
    expect(JSON.parse(lines[2]!.slice(65)).seq).toBe(3);
    expect(await checkAuditLog(file)).toEqual({ ok: true, records: 6 });
  });

  it('keeps one chain when several writers append at once', async () => {
    const file = path.join(dir, 'concurrent.log');
    const writers = Array.from({ length: 4 }, () => new AuditLog(file));
    await Promise.all(writers.flatMap((w, k) => Array.from({ length: 10 }, (_, i) => w.append({ time: 't', kind: 'import', operator: `op${k}`, message: message(i) }))));
    expect(await checkAuditLog(file)).toEqual({ ok: true, records: 40 });
  });

  it.each([
    ['a record removed', (l: string[]) => [...l.slice(0, 2), ...l.slice(3)], 3, /record 4, record 3 should come here/],
    ['a record edited', (l: string[]) => l.map((x, i) => (i === 3 ? x.replace('alice', 'mallory') : x)), 4, /line 4 .*does not match its hash/],
    ['two records swapped', (l: string[]) => [l[0]!, l[2]!, l[1]!, ...l.slice(3)], 2, /line 2/],
    ['a line that is not a record', (l: string[]) => l.map((x, i) => (i === 4 ? 'garbage' : x)), 5, /not an audit record/],
    ['the last record removed', (l: string[]) => l.slice(0, -1), 6, /head file says record 6/],
    ['the last record edited', (l: string[]) => l.map((x, i) => (i === 5 ? x.replace('"export"', '"import"') : x)), 6, /line 6/],
  ])('fails and names the line when %s', async (label, change, line, pattern) => {
    const file = await makeLog(dir, `${label.replace(/\W+/g, '-')}.log`, 6);
    rewrite(file, change);
    const r = await checkAuditLog(file);
    expect(r.ok).toBe(false);
    expect(r.line).toBe(line);
    expect(r.problem).toMatch(pattern);
  });

  it('refuses to append after a damaged last line', async () => {
    const file = await makeLog(dir, 'damaged.log', 2);
    writeFileSync(file, `${readFileSync(file, 'utf8')}not a record\n`);
    await expect(new AuditLog(file).append({ time: 't', kind: 'x', operator: 'o', message: 'm' })).rejects.toMatchObject({ code: 'AUDIT_LOG_BROKEN' });
  });

  it('streams the log: a file beyond 512 MiB is checked, not refused as unreadable (a damaged first line of 600 MiB of zeros)', async () => {
    // Reading the log whole made a 600 MiB log "cannot be read" (INPUT_NOT_FOUND: RangeError, the
    // longest string V8 makes) after holding it all in memory. Sparse: costs no disk.
    const file = path.join(dir, 'huge.log');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 600 * 1024 * 1024);
    closeSync(fd);
    try {
      const r = await checkAuditLog(file);
      expect(r).toMatchObject({ ok: false, records: 0, line: 1 });
      expect(r.problem).toMatch(new RegExp(`longer than ${MAX_RECORD_LINE_BYTES} bytes`));
    } finally {
      rmSync(file);
    }
  });

  it('a log that was tampered with is never reported intact while its head file is there (fast-check, the fuzz target\'s record edits)', async () => {
    const file = await makeLog(dir, 'property.log', 5);
    const seed = Buffer.concat([Buffer.from('HEAD '), readFileSync(`${file}.head`), readFileSync(file)]);
    const original = splitLogInput(seed);
    // Edits that change the records (not the head file's presence, not the final newline alone).
    const tamper = auditLogEdit.filter((e) => e.op !== 'drop-head' && e.op !== 'no-final-newline');
    const target = path.join(dir, 'tampered.log');
    await fc.assert(
      fc.asyncProperty(fc.array(tamper, { minLength: 1, maxLength: 3 }), async (edits) => {
        const { head, log } = splitLogInput(applyEdits(seed, edits));
        fc.pre(!log.equals(original.log));
        writeFileSync(target, log);
        writeFileSync(`${target}.head`, head ?? original.head ?? '');
        const r = await checkAuditLog(target);
        expect(r.ok, JSON.stringify(edits).slice(0, 300)).toBe(false);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});
