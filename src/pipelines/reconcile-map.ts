/**
 * --reconcile-map FILE.csv: foreign Patient ID and issuer mapped to local values (IHE IRWF). Columns
 * by header name: foreign_patient_id, foreign_issuer, patient_id, issuer, and optionally
 * patient_name, birth_date, sex, accession, accession_issuer. Plain CSV: comma-separated, fields may
 * be double-quoted, UTF-8. A foreign Patient ID and issuer appear in one row at most.
 */
import { readFile } from 'node:fs/promises';
import { DcmsafeError } from '../errors/index.js';
import type { LocalIdentity } from '../dicom/reconcile/index.js';

export interface MapRow {
  readonly foreignPatientId: string;
  readonly foreignIssuer: string;
  readonly local: LocalIdentity;
}

export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

export function parseReconcileMap(text: string, file: string): MapRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() && !l.startsWith('#'));
  const header = parseCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  for (const required of ['foreign_patient_id', 'patient_id', 'issuer']) {
    if (col(required) < 0) throw new DcmsafeError('USAGE', `${file}: the header has no column ${required}`, { file });
  }
  /** Line of the first row for each foreign Patient ID and issuer. */
  const firstLine = new Map<string, number>();
  return lines.slice(1).map((line, i) => {
    const f = parseCsvLine(line);
    const get = (name: string): string | undefined => {
      const v = col(name) >= 0 ? f[col(name)] : undefined;
      return v ? v : undefined;
    };
    const patientId = get('patient_id');
    const issuer = get('issuer');
    const foreign = get('foreign_patient_id');
    if (!patientId || !issuer || !foreign) throw new DcmsafeError('USAGE', `${file}: line ${i + 2} lacks a foreign Patient ID, a local Patient ID or an issuer`, { file, line: i + 2 });
    const sex = get('sex');
    if (sex && !['M', 'F', 'O'].includes(sex)) throw new DcmsafeError('USAGE', `${file}: line ${i + 2}: sex must be M, F or O`, { file, line: i + 2 });
    const local: LocalIdentity = {
      patientId,
      issuerOfPatientId: issuer,
      ...(get('patient_name') ? { patientName: get('patient_name') as string } : {}),
      ...(get('birth_date') ? { birthDate: get('birth_date') as string } : {}),
      ...(sex ? { sex: sex as 'M' | 'F' | 'O' } : {}),
      ...(get('accession') ? { accessionNumber: get('accession') as string } : {}),
      ...(get('accession_issuer') ? { accessionIssuer: get('accession_issuer') as string } : {}),
    };
    const foreignIssuer = get('foreign_issuer') ?? '';
    // Two rows for one foreign patient would leave the choice of a local identity to the row order.
    const key = JSON.stringify([foreign, foreignIssuer]);
    const earlier = firstLine.get(key);
    if (earlier !== undefined) {
      const whose = `foreign Patient ID ${foreign}${foreignIssuer ? ` of issuer ${foreignIssuer}` : ' (no issuer)'}`;
      throw new DcmsafeError('USAGE', `${file}: lines ${earlier} and ${i + 2} both map ${whose}; keep one row for it`, { file, line: i + 2, firstLine: earlier });
    }
    firstLine.set(key, i + 2);
    return { foreignPatientId: foreign, foreignIssuer, local };
  });
}

export async function loadReconcileMap(file: string): Promise<MapRow[]> {
  const text = await readFile(file, 'utf8').catch((e: unknown) => {
    throw new DcmsafeError('INPUT_NOT_FOUND', `reconciliation map ${file} cannot be read`, { file }, { cause: e });
  });
  return parseReconcileMap(text, file);
}
