/**
 * The import journal after a crash (issue 11): a last line cut while it was written is repaired when
 * the journal is opened (kept when it is a whole record that only lacks its newline, else cut off), and
 * an instance is journaled once however often it is recorded.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImportJournal } from '../../src/pipelines/import-journal.js';
import { tempDir } from '../helpers/env.js';

const entry = (sop: string) => ({ sopInstanceUID: sop, storedAt: '2026-01-01T00:00:00.000Z', status: 0, file: `DICOM/${sop}` });
const line = (sop: string): string => `${JSON.stringify(entry(sop))}\n`;

describe('import journal after a crash', () => {
  const dir = tempDir('dcmsafe-journal-repair-');

  it('cuts off a torn last line, leaving whole lines only, and appends after them', async () => {
    const file = path.join(dir, 'torn.jsonl');
    writeFileSync(file, line('1.1') + line('1.2'));
    appendFileSync(file, '{"sopInstanceUID":"1.3","stor');
    const j = await ImportJournal.open(file);
    expect(readFileSync(file, 'utf8')).toBe(line('1.1') + line('1.2'));
    expect(j.has('1.3')).toBe(false);
    await j.record(entry('1.3'));
    await j.close();
    expect(readFileSync(file, 'utf8')).toBe(line('1.1') + line('1.2') + line('1.3'));
  });

  it('keeps a whole last record that lacks only its newline', async () => {
    const file = path.join(dir, 'no-newline.jsonl');
    writeFileSync(file, line('2.1') + line('2.2').trimEnd());
    const j = await ImportJournal.open(file);
    expect(j.has('2.2')).toBe(true);
    await j.record(entry('2.3'));
    await j.close();
    expect(readFileSync(file, 'utf8')).toBe(line('2.1') + line('2.2') + line('2.3'));
  });

  it('journals an instance once', async () => {
    const file = path.join(dir, 'once.jsonl');
    const j = await ImportJournal.open(file, { syncEveryMs: 0 });
    await j.record(entry('3.1'));
    await j.record(entry('3.1'));
    await j.close();
    const again = await ImportJournal.open(file);
    await again.record(entry('3.1'));
    await again.close();
    expect(readFileSync(file, 'utf8')).toBe(line('3.1'));
  });
});
