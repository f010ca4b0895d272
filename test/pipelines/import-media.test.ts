/**
 * The import pipeline (src/pipelines/import-media.ts) with a stand-in PACS: what is sent, what the
 * journal and the events say, and the integrity gate (a secure file changed after verification is
 * never completed on the wire). The real peers (storescp, Orthanc) are in test/interop/import.test.ts.
 */
import { existsSync, openSync, readFileSync, readSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';
import type { StoreContextRequest } from '../../src/net/client.js';
import { describeStatus } from '../../src/net/dimse.js';
import { importMedia, type ImportEvent, type ImportOptions, type StoreSessionLike } from '../../src/pipelines/import-media.js';
import { loadCertificates } from '../../src/security/pki/certificates.js';
import { loadPrivateKey } from '../../src/security/pki/keys.js';
import { REPO, run, tempDir } from '../helpers/env.js';
import { listFiles } from '../helpers/files.js';

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
    const r = run('node', [CLI, 'create', path.join(samples, 'patient-a'), '--media', 'folder', '--out', media, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]);
    expect(r.status, r.stderr).toBe(0);
    base = {
      media,
      verify: {
        trust: { anchors: loadCertificates(readFileSync(path.join(pki, 'demo-root-ca.pem'))), crls: [] },
        keys: { certificates: [{ certificate: loadCertificates(readFileSync(path.join(pki, 'media-recipient.pem')))[0]!, privateKey: loadPrivateKey(readFileSync(path.join(pki, 'media-recipient.key'))) }], passwords: [] },
        policy: 'standard',
      },
      destination: { host: '127.0.0.1', port: 2762, calledAE: 'PACS' },
      local: { patientId: 'LOCAL-1', issuerOfPatientId: 'OURHOSP' },
      retryDelayMs: 1,
    };
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
