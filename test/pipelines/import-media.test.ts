/**
 * The import pipeline (src/pipelines/import-media.ts) with a stand-in PACS: what is sent, what the
 * journal and the events say, and the integrity gate (a secure file changed after verification is
 * never completed on the wire). Secure files larger than the planning window are read once: header
 * before sending, integrity while sending (the gate), with the report completed afterwards. The real peers (storescp, Orthanc) are in test/interop/import.test.ts.
 */
import { existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';
import type { StoreContextRequest } from '../../src/net/client.js';
import { describeStatus } from '../../src/net/dimse.js';
import { buildDataSet, encodePart10 } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import { importMedia, type ImportEvent, type ImportOptions, type StoreSessionLike } from '../../src/pipelines/import-media.js';
import { planMedia } from '../../src/pipelines/verify-media.js';
import { rawPrivate } from '../../src/security/cms/rsa.js';
import { REPO, run, tempDir } from '../helpers/env.js';
import { listFiles } from '../helpers/files.js';
import { secureMedium } from './secure-medium.js';

const CLI = path.join(REPO, 'dist/cli/main.js');

interface Received {
  sopInstanceUID: string;
  bytes: number;
}

/** A PACS that accepts every proposed context and keeps what it was sent. */
function fakePacs(options: { failFor?: (sop: string) => number | undefined; onOpen?: () => void } = {}): {
  open: (contexts: StoreContextRequest[]) => Promise<StoreSessionLike>;
  received: Received[];
  aborted: number;
  opened: number;
} {
  const state = { received: [] as Received[], aborted: 0, opened: 0 };
  const open = async (contexts: StoreContextRequest[]): Promise<StoreSessionLike> => {
    state.opened++;
    options.onOpen?.();
    const accepted = contexts.flatMap((c, i) => c.transferSyntaxes.map((ts, k) => ({ sopClassUID: c.sopClassUID, contextId: 2 * (i * 4 + k) + 1, transferSyntaxUID: ts })));
    return {
      accepted: (sop) => accepted.filter((a) => a.sopClassUID === sop),
      refusals: () => [],
      async store(_contextId, _sopClass, sopInstanceUID, dataSet) {
        let bytes = 0;
        try {
          for await (const chunk of dataSet) bytes += chunk.length;
        } catch (e) {
          // The requestor aborts the association when its source fails: nothing is stored.
          state.aborted++;
          throw e;
        }
        const status = options.failFor?.(sopInstanceUID) ?? 0;
        if (status === 0) state.received.push({ sopInstanceUID, bytes });
        return describeStatus(status);
      },
      release: async () => undefined,
      abort: async () => undefined,
    };
  };
  return {
    open,
    get received() {
      return state.received;
    },
    get aborted() {
      return state.aborted;
    },
    get opened() {
      return state.opened;
    },
  };
}

describe('import pipeline with a stand-in PACS', () => {
  const dir = tempDir('dcmsafe-import-pipeline-');
  const pki = path.join(dir, 'pki');
  const media = path.join(dir, 'media');
  let base: Omit<ImportOptions, 'openSession' | 'journalFile'>;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first`);
    const samples = path.join(dir, 'samples');
    expect(run('node', [CLI, 'samples', '--out', samples]).status).toBe(0);
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    base = secureMedium(path.join(samples, 'patient-a'), media, pki);
  }, 120_000);

  it('sends every instance, journals each acknowledgement, emits the audit events; a re-run sends nothing', async () => {
    const pacs = fakePacs();
    const events: ImportEvent[] = [];
    const journalFile = path.join(dir, 'j1.jsonl');
    const report = await importMedia({ ...base, openSession: pacs.open, journalFile, onEvent: (e) => events.push(e) });
    const instances = report.verify.summary.instances;
    expect(instances).toBeGreaterThan(5);
    expect(report.exitCode).toBe(0);
    expect(report.stored).toHaveLength(instances);
    expect(pacs.received).toHaveLength(instances);
    expect(pacs.opened).toBe(1); // one association for the whole medium
    expect(events[0]).toMatchObject({ type: 'import-started', instances, destination: 'PACS@127.0.0.1:2762' });
    const stored = events.filter((e) => e.type === 'instance-stored');
    expect(stored).toHaveLength(instances);
    expect(stored.every((e) => e.type === 'instance-stored' && e.patientId === 'LOCAL-1' && e.coerced && !e.untrusted && e.studyInstanceUID.length > 0)).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'import-finished', stored: instances, failed: 0, alreadyStored: 0 });
    const lines = readFileSync(journalFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(instances);

    const again = fakePacs();
    const second = await importMedia({ ...base, openSession: again.open, journalFile });
    expect(second.stored).toEqual([]);
    expect(second.alreadyStored).toHaveLength(instances);
    expect(again.opened).toBe(0);
  }, 120_000);

  it('reports PACS failures per instance (exit 4) and journals only successes', async () => {
    let n = 0;
    const pacs = fakePacs({ failFor: () => (++n % 3 === 0 ? 0xa700 : undefined) });
    const journalFile = path.join(dir, 'j2.jsonl');
    const report = await importMedia({ ...base, openSession: pacs.open, journalFile });
    expect(report.exitCode).toBe(4);
    expect(report.failed.length).toBeGreaterThan(0);
    expect(report.failed.every((f) => f.status === 0xa700 && /A700/.test(f.reason ?? ''))).toBe(true);
    expect(readFileSync(journalFile, 'utf8').trim().split('\n')).toHaveLength(report.stored.length);
  }, 120_000);

  it('retries a dropped connection with backoff, then gives up: exit 4, nothing journaled', async () => {
    const events: ImportEvent[] = [];
    const refuse = async (): Promise<StoreSessionLike> => {
      throw new DcmsafeError('NET_CONNECT', 'cannot connect to 127.0.0.1:2762: connection refused', {});
    };
    const report = await importMedia({ ...base, openSession: refuse, journalFile: path.join(dir, 'j3.jsonl'), retries: 2, onEvent: (e) => events.push(e) });
    expect(report.exitCode).toBe(4);
    expect(report.stored).toEqual([]);
    expect(report.failed).toHaveLength(report.verify.summary.instances);
    expect(events.filter((e) => e.type === 'retry').map((e) => (e.type === 'retry' ? e.waitMs : 0))).toEqual([1, 2]);
  }, 120_000);

  it('a secure file changed after verification is never completed on the wire: security alert, association aborted', async () => {
    // Flip a byte near the end of one file's ciphertext once verification is over (when the session opens).
    const target = listFiles(media).find((f) => /IM0+1$/.test(f))!;
    const original = readFileSync(target);
    const pacs = fakePacs({
      onOpen: () => {
        const fd = openSync(target, 'r+');
        const b = Buffer.alloc(1);
        readSync(fd, b, 0, 1, original.length - 40);
        b[0] = b[0]! ^ 0x01;
        writeSync(fd, b, 0, 1, original.length - 40);
        closeSync(fd);
      },
    });
    const events: ImportEvent[] = [];
    try {
      const report = await importMedia({ ...base, openSession: pacs.open, journalFile: path.join(dir, 'j4.jsonl'), onEvent: (e) => events.push(e) });
      const failed = report.failed.find((f) => target.endsWith(f.file));
      // The flipped byte is in the signature: the content streams out whole, but the last fragment waits for the verdict.
      expect(failed?.reason).toMatch(/^IMPORT_SECURITY_ALERT: .* no longer passes verification \(bad-signature\); not sent$/);
      expect(events.some((e) => e.type === 'security-alert' && target.endsWith(e.file))).toBe(true);
      expect(pacs.received.map((r) => r.sopInstanceUID)).not.toContain(failed?.sopInstanceUID);
      expect(pacs.aborted).toBeGreaterThanOrEqual(1);
      expect(report.exitCode).toBe(4);
      expect(report.stored).toHaveLength(report.verify.summary.instances - 1);
    } finally {
      const fd = openSync(target, 'w');
      writeSync(fd, original);
      closeSync(fd);
    }
  }, 120_000);
});

/** CT instances with `pixelBytes` of pixel data each: past the planning window, so only their headers are read before sending. */
function writeLargeInstances(dir: string, n: number, pixelBytes: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= n; i++) {
    const uid = `1.2.826.0.1.3680043.10.997.${i}`;
    const ds = buildDataSet([
      [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.2'],
      [T.SOPInstanceUID, 'UI', uid],
      [T.PatientID, 'LO', 'BIG'],
      [T.PatientName, 'PN', 'Big^Files'],
      [T.StudyInstanceUID, 'UI', '1.2.826.0.1.3680043.10.997.0'],
      [T.SeriesInstanceUID, 'UI', '1.2.826.0.1.3680043.10.997.0.1'],
      [T.Modality, 'CS', 'CT'],
      [T.InstanceNumber, 'IS', i],
      [T.Rows, 'US', pixelBytes / 512],
      [T.Columns, 'US', 256],
      [T.BitsAllocated, 'US', 16],
      [T.BitsStored, 'US', 16],
      [T.HighBit, 'US', 15],
      [T.PixelRepresentation, 'US', 0],
      [T.SamplesPerPixel, 'US', 1],
      [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    ]);
    const pixels = Buffer.alloc(pixelBytes, i);
    const el = Buffer.alloc(12);
    el.writeUInt16LE(0x7fe0, 0);
    el.writeUInt16LE(0x0010, 2);
    el.write('OW', 4, 'latin1');
    el.writeUInt32LE(pixels.length, 8);
    writeFileSync(path.join(dir, `CT${i}.dcm`), Buffer.concat([encodePart10({ sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: uid }, ds), el, pixels]));
  }
}

describe('import in one pass over each secure file (header planned, integrity at the gate)', () => {
  const dir = tempDir('dcmsafe-import-one-pass-');
  const pki = path.join(dir, 'pki');
  const media = path.join(dir, 'media');
  const N = 6;
  let base: Omit<ImportOptions, 'openSession' | 'journalFile'>;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first`);
    writeLargeInstances(path.join(dir, 'in'), N, 256 * 1024);
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    base = secureMedium(path.join(dir, 'in'), media, pki);
  }, 120_000);

  /** The instance files of the medium (not the DICOMDIR), in the order import sends them. */
  const instanceFiles = (): string[] => listFiles(media).filter((f) => path.basename(f) !== 'DICOMDIR' && !/README|INDEX/i.test(f)).sort();

  it('plans from headers only; the report comes out complete once every file was judged', async () => {
    const planned = await planMedia({ ...base.verify, media });
    expect(planned.deferred.size).toBe(N);
    // Before sending: headers (patients, UIDs) known, integrity and signer not yet.
    expect(planned.report.patients.map((p) => p.patientId)).toEqual(['BIG']);
    expect(planned.report.files.filter((f) => planned.deferred.has(f.path)).every((f) => f.sopInstanceUID && f.protection === undefined)).toBe(true);
    expect(() => planned.complete()).toThrow(/never read through/);

    // One RSA private operation per file (and the DICOMDIR), though each is opened twice: planning and sending.
    let rsaOperations = 0;
    const key = base.verify.keys.certificates![0]!;
    const counted = { ...base.verify.keys, certificates: [{ ...key, rawPrivate: async (c: Buffer) => (rsaOperations++, rawPrivate(key.privateKey, c)) }] };
    const pacs = fakePacs();
    const report = await importMedia({ ...base, verify: { ...base.verify, keys: counted }, openSession: pacs.open, journalFile: path.join(dir, 'j1.jsonl') });
    expect(rsaOperations).toBe(N + 1);
    expect(report.exitCode).toBe(0);
    expect(report.stored).toHaveLength(N);
    // One file ahead is opened while one is sent: the PACS still gets them one by one, in order.
    expect(pacs.received.map((r) => r.sopInstanceUID)).toEqual(report.stored.map((s) => s.sopInstanceUID));
    expect(report.stored.every((s) => !s.untrusted)).toBe(true);
    // The same report a verification gives: every file signed and trusted, the signer named.
    expect(report.verify.verdict).toBe('trusted');
    expect(report.verify.summary.trustedFiles).toBe(N + 1);
    expect(report.verify.files.filter((f) => f.kind === 'secure').every((f) => f.protection === 'signed' && f.signer)).toBe(true);
    expect(report.verify.signers).toHaveLength(1);
  }, 120_000);

  it('a file altered on the medium is caught as it is sent: security alert, never stored, FILE_TAMPERED in the report; the rest judged before sending', async () => {
    const files = instanceFiles();
    const target = files[1]!;
    const original = readFileSync(target);
    const altered = Buffer.from(original);
    altered[Math.floor(original.length / 2)]! ^= 0x01; // in the pixel data, far past the planning window
    writeFileSync(target, altered);
    const pacs = fakePacs();
    const events: ImportEvent[] = [];
    try {
      const report = await importMedia({ ...base, openSession: pacs.open, journalFile: path.join(dir, 'j2.jsonl'), onEvent: (e) => events.push(e) });
      const failed = report.failed.find((f) => target.endsWith(f.file));
      expect(failed?.reason).toMatch(/^IMPORT_SECURITY_ALERT: .* no longer passes verification \((altered|bad-signature)\); not sent$/);
      expect(events.some((e) => e.type === 'security-alert' && target.endsWith(e.file))).toBe(true);
      expect(pacs.received.map((r) => r.sopInstanceUID)).not.toContain(failed?.sopInstanceUID);
      expect(pacs.aborted).toBe(1);
      expect(report.stored).toHaveLength(N - 1);
      expect(report.exitCode).toBe(4);
      // The report says what the gate found, as a verification would have.
      expect(report.verify.findings.some((f) => f.code === 'FILE_TAMPERED' && target.endsWith(f.file ?? ''))).toBe(true);
      expect(report.verify.verdict).toBe('problems');
    } finally {
      writeFileSync(target, original);
    }
  }, 120_000);

  it('a secure file swapped for a plain one after planning is never sent as plain', async () => {
    const target = instanceFiles()[2]!;
    const original = readFileSync(target);
    // Same size (the folder source refuses a file whose size changed since it was listed).
    const plain = Buffer.alloc(original.length);
    readFileSync(path.join(dir, 'in', 'CT3.dcm')).copy(plain);
    const pacs = fakePacs({ onOpen: () => writeFileSync(target, plain) });
    const events: ImportEvent[] = [];
    try {
      const report = await importMedia({ ...base, openSession: pacs.open, journalFile: path.join(dir, 'j6.jsonl'), onEvent: (e) => events.push(e) });
      const failed = report.failed.find((f) => target.endsWith(f.file));
      expect(failed?.reason).toMatch(/^IMPORT_SECURITY_ALERT: .* is no longer a Secure DICOM File; not sent$/);
      expect(pacs.received.map((r) => r.sopInstanceUID)).not.toContain(failed?.sopInstanceUID);
      expect(events.some((e) => e.type === 'security-alert' && target.endsWith(e.file))).toBe(true);
      expect(report.stored).toHaveLength(N - 1);
      expect(report.verify.findings.some((f) => f.code === 'SECURE_UNREADABLE' && target.endsWith(f.file ?? ''))).toBe(true);
    } finally {
      writeFileSync(target, original);
    }
  }, 120_000);

  it('an untrusted signer: the first file is withheld at its gate, the rest before a byte is sent; with --allow-untrusted all go', async () => {
    const untrusted = { ...base, verify: { ...base.verify, trust: { anchors: [], crls: [] } } };
    const pacs = fakePacs();
    const events: ImportEvent[] = [];
    const report = await importMedia({ ...untrusted, openSession: pacs.open, journalFile: path.join(dir, 'j3.jsonl'), onEvent: (e) => events.push(e) });
    expect(pacs.received).toEqual([]);
    expect(pacs.aborted).toBe(1); // one association aborted before its last fragment, not one per file
    expect(report.stored).toEqual([]);
    expect(report.failed).toEqual([]);
    expect(report.skipped).toHaveLength(N);
    expect(report.skipped.every((s) => /origin not proven/.test(s.reason ?? ''))).toBe(true);
    expect(events.some((e) => e.type === 'security-alert')).toBe(false);
    expect(report.exitCode).toBe(1);
    expect(report.verify.findings.filter((f) => f.code === 'SIGNER_UNTRUSTED')).toHaveLength(N + 1);

    const allowed = fakePacs();
    const sent = await importMedia({ ...untrusted, allowUntrusted: true, openSession: allowed.open, journalFile: path.join(dir, 'j4.jsonl') });
    expect(sent.stored).toHaveLength(N);
    expect(sent.stored.every((s) => s.untrusted === true)).toBe(true);
    expect(allowed.aborted).toBe(0);
  }, 120_000);

  it('a re-run sends nothing and still judges every file for its report', async () => {
    const journalFile = path.join(dir, 'j5.jsonl');
    await importMedia({ ...base, openSession: fakePacs().open, journalFile });
    const again = fakePacs();
    const report = await importMedia({ ...base, openSession: again.open, journalFile });
    expect(again.opened).toBe(0);
    expect(report.alreadyStored).toHaveLength(N);
    expect(report.verify.verdict).toBe('trusted');
    expect(report.verify.summary.trustedFiles).toBe(N + 1);
  }, 120_000);
});
