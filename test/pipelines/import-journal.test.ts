import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImportJournal, journalPath } from '../../src/pipelines/import-journal.js';
import { parseReconcileMap } from '../../src/pipelines/reconcile-map.js';
import { tempDir } from '../helpers/env.js';

describe('import journal', () => {
  const dir = tempDir();

  it('remembers what was stored across runs, and survives a line cut by a crash', async () => {
    const file = journalPath(dir, { host: '127.0.0.1', port: 2762, calledAE: 'PACS' }, { patientId: 'L1' });
    const first = await ImportJournal.open(file);
    await first.record({ sopInstanceUID: '1.2.3', storedAt: '2026-01-01T00:00:00Z', status: 0, file: 'DICOM/IM1' });
    appendFileSync(file, '{"sopInstanceUID": "1.2.4", "stor');
    await first.close();
    const again = await ImportJournal.open(file);
    expect(again.has('1.2.3')).toBe(true);
    expect(again.has('1.2.4')).toBe(false);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toContain('1.2.3');
    // The next record goes on a line of its own, after the cut one.
    await again.record({ sopInstanceUID: '1.2.5', storedAt: '2026-01-01T00:00:01Z', status: 0, file: 'DICOM/IM3' });
    await again.close();
    const third = await ImportJournal.open(file);
    expect(third.has('1.2.5')).toBe(true);
    expect(third.entries.map((e) => e.sopInstanceUID)).toEqual(['1.2.3', '1.2.5']);
  });

  it('keeps one journal per destination and reconciliation', () => {
    const a = journalPath(dir, { host: 'h', port: 1, calledAE: 'PACS' }, { patientId: 'L1' });
    const b = journalPath(dir, { host: 'h', port: 1, calledAE: 'PACS' }, { patientId: 'L2' });
    const c = journalPath(dir, { host: 'h', port: 2, calledAE: 'PACS' }, { patientId: 'L1' });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(path.dirname(a)).toBe(dir);
  });
});

describe('reconciliation map', () => {
  it('reads quoted CSV with optional columns', () => {
    const rows = parseReconcileMap('foreign_patient_id,foreign_issuer,patient_id,issuer,patient_name,sex\n"F,1",OUTSIDE,L-1,LOCAL,"Doe^Jane",F\n', 'map.csv');
    expect(rows).toEqual([{ foreignPatientId: 'F,1', foreignIssuer: 'OUTSIDE', local: { patientId: 'L-1', issuerOfPatientId: 'LOCAL', patientName: 'Doe^Jane', sex: 'F' } }]);
  });

  it('refuses a map without the required columns or with bad values', () => {
    expect(() => parseReconcileMap('patient_id,issuer\nL,I\n', 'm.csv')).toThrow(expect.objectContaining({ code: 'USAGE' }));
    expect(() => parseReconcileMap('foreign_patient_id,patient_id,issuer,sex\nF,L,I,X\n', 'm.csv')).toThrow(/sex/);
    expect(() => parseReconcileMap('foreign_patient_id,patient_id,issuer\nF,,I\n', 'm.csv')).toThrow(/line 2/);
  });

  it('refuses two rows for the same foreign Patient ID and issuer, naming both lines', () => {
    const header = 'foreign_patient_id,foreign_issuer,patient_id,issuer\n';
    const twice = `${header}F1,OUTSIDE,L-1,LOCAL\nF2,OUTSIDE,L-2,LOCAL\n"F1", OUTSIDE ,L-3,LOCAL\n`;
    expect(() => parseReconcileMap(twice, 'm.csv')).toThrow(
      expect.objectContaining({ code: 'USAGE', message: 'm.csv: lines 2 and 4 both map foreign Patient ID F1 of issuer OUTSIDE; keep one row for it', data: { file: 'm.csv', line: 4, firstLine: 2 } }),
    );
    // Without an issuer column (or with it empty) the Patient ID alone is the key.
    expect(() => parseReconcileMap('foreign_patient_id,patient_id,issuer\nF1,L-1,LOCAL\nF1,L-1,LOCAL\n', 'm.csv')).toThrow(/lines 2 and 3 both map foreign Patient ID F1 \(no issuer\)/);
    // The same foreign Patient ID from two issuers is two patients.
    const rows = parseReconcileMap(`${header}F1,OUTSIDE,L-1,LOCAL\nF1,ELSEWHERE,L-2,LOCAL\nF1,,L-3,LOCAL\n`, 'm.csv');
    expect(rows.map((r) => [r.foreignIssuer, r.local.patientId])).toEqual([
      ['OUTSIDE', 'L-1'],
      ['ELSEWHERE', 'L-2'],
      ['', 'L-3'],
    ]);
  });
});
