/**
 * import against a misbehaving PACS (test/net/faulty-peer.ts) over real sockets on 127.0.0.1: for
 * every fault (failure and warning statuses, stalls, connections dropped in the middle of a PDU either
 * way, malformed PDUs and responses, rejected associations, release refused) the report and events
 * give each instance's fate (stored with its status, failed and why, never attempted), the journal
 * holds exactly the instances the peer acknowledged with success or warning (never one it did not),
 * nothing hangs (short DIMSE/ARTIM timeouts: each case well under 5 s), and a re-run against a
 * well-behaved peer sends exactly what was not acknowledged before.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDataSet, encodePart10 } from '../../src/dicom/part10/writer.js';
import { ERROR_CODES, EXIT, exitCodeForFault, type ErrorCode } from '../../src/errors/index.js';
import { T } from '../../src/dicom/tags.js';
import { openStoreSession, type PeerOptions } from '../../src/net/client.js';
import { importMedia, type ImportEvent, type ImportOptions, type ImportReport } from '../../src/pipelines/import-media.js';
import { loadCertificates } from '../../src/security/pki/certificates.js';
import { loadPrivateKey } from '../../src/security/pki/keys.js';
import { REPO, run, tempDir } from '../helpers/env.js';
import { startFaultyPeer, type FaultyPeer, type FaultyPeerOptions, type StoreBehaviour } from '../net/faulty-peer.js';
import { secureMedium } from './secure-medium.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const CT = '1.2.840.10008.5.1.4.1.1.2';
/** DIMSE and ARTIM timeout of every association here. */
const TIMEOUT_MS = 400;
/** Each case (import and re-run) must end well within this. */
const CASE_MS = 5000;

/** Four CT instances; the third has 1 MiB of pixel data (hundreds of PDUs of 4 KiB), the others 8 KiB. */
const UIDS = [1, 2, 3, 4].map((i) => `1.2.826.0.1.3680043.10.998.${i}`);
const [U1, U2, U3, U4] = UIDS as [string, string, string, string];

function writeInstances(dir: string): void {
  mkdirSync(dir, { recursive: true });
  UIDS.forEach((uid, k) => {
    const pixelBytes = k === 2 ? 1024 * 1024 : 8 * 1024;
    const ds = buildDataSet([
      [T.SOPClassUID, 'UI', CT],
      [T.SOPInstanceUID, 'UI', uid],
      [T.PatientID, 'LO', 'FOREIGN-7'],
      [T.PatientName, 'PN', 'Faulty^Peer'],
      [T.StudyInstanceUID, 'UI', '1.2.826.0.1.3680043.10.998.0'],
      [T.SeriesInstanceUID, 'UI', '1.2.826.0.1.3680043.10.998.0.1'],
      [T.Modality, 'CS', 'CT'],
      [T.InstanceNumber, 'IS', k + 1],
      [T.Rows, 'US', pixelBytes / 512],
      [T.Columns, 'US', 256],
      [T.BitsAllocated, 'US', 16],
      [T.BitsStored, 'US', 16],
      [T.HighBit, 'US', 15],
      [T.PixelRepresentation, 'US', 0],
      [T.SamplesPerPixel, 'US', 1],
      [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    ]);
    const el = Buffer.alloc(12);
    el.writeUInt16LE(0x7fe0, 0);
    el.writeUInt16LE(0x0010, 2);
    el.write('OW', 4, 'latin1');
    el.writeUInt32LE(pixelBytes, 8);
    writeFileSync(path.join(dir, `CT${k + 1}.dcm`), Buffer.concat([encodePart10({ sopClassUID: CT, sopInstanceUID: uid }, ds), el, Buffer.alloc(pixelBytes, k + 1)]));
  });
}

interface Outcome {
  report: ImportReport;
  events: ImportEvent[];
  /** SOP Instance UIDs in the journal file, in order. */
  journal: string[];
  ms: number;
}

describe('import against a faulty peer', () => {
  const dir = tempDir('dcmsafe-import-faulty-');
  const pki = path.join(dir, 'pki');
  const media = path.join(dir, 'media');
  let base: Omit<ImportOptions, 'openSession' | 'journalFile'>;
  let journals = 0;
  const peers: FaultyPeer[] = [];

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first`);
    writeInstances(path.join(dir, 'in'));
    expect(run('node', [CLI, 'pki', 'demo', '--out', pki]).status).toBe(0);
    base = { ...secureMedium(path.join(dir, 'in'), media, pki), destination: { host: '127.0.0.1', port: 104, calledAE: 'PACS' }, local: { patientId: 'LOCAL-7', issuerOfPatientId: 'OURHOSP' }, retries: 0 };
  }, 120_000);

  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close();
  });

  const peer = async (options: FaultyPeerOptions = {}): Promise<FaultyPeer> => {
    const p = await startFaultyPeer(options);
    peers.push(p);
    return p;
  };

  const readJournal = (file: string): string[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => (JSON.parse(l) as { sopInstanceUID: string }).sopInstanceUID)
      : [];

  const importTo = async (p: FaultyPeer, options: Partial<ImportOptions> & { peer?: Partial<PeerOptions> } = {}): Promise<Outcome> => {
    const events: ImportEvent[] = [];
    const journalFile = options.journalFile ?? path.join(dir, `journal-${++journals}.jsonl`);
    const { peer: peerOptions, ...rest } = options;
    const started = performance.now();
    const report = await importMedia({
      ...base,
      journalFile,
      onEvent: (e) => events.push(e),
      openSession: (contexts) => openStoreSession({ host: '127.0.0.1', port: p.port, callingAE: 'DCMSAFE', calledAE: 'PACS', timeoutMs: TIMEOUT_MS, ...peerOptions, contexts }),
      ...rest,
    });
    return { report, events, journal: readJournal(journalFile), ms: performance.now() - started };
  };

  interface Fates {
    /** Stored, with the status the peer gave. */
    stored?: Record<string, number>;
    /** Failed after the C-STORE went out: the reason. */
    failed?: Record<string, RegExp>;
    /** Failed without anything of them reaching the peer: the reason. */
    notAttempted?: Record<string, RegExp>;
  }

  /**
   * Every instance's fate in the report and the events; the journal is exactly the peer's
   * acknowledgements; the exit code; then a re-run against a well-behaved peer sends exactly the rest.
   */
  const expectFates = async (p: FaultyPeer, o: Outcome, fates: Fates): Promise<void> => {
    const stored = fates.stored ?? {};
    const failed = { ...fates.failed, ...fates.notAttempted };
    expect(Object.fromEntries(o.report.stored.map((s) => [s.sopInstanceUID, s.status]))).toEqual(stored);
    expect(o.report.failed.map((f) => f.sopInstanceUID).sort()).toEqual(Object.keys(failed).sort());
    for (const f of o.report.failed) {
      expect(f.reason, f.sopInstanceUID).toMatch(failed[f.sopInstanceUID]!);
      expect(f.attempted, `${f.sopInstanceUID} attempted`).toBe(fates.failed?.[f.sopInstanceUID] !== undefined);
      // Either the PACS's own status, or a network error code: a peer fault, exit code 4.
      if (f.status !== undefined) expect(f.code).toBeUndefined();
      else expect(exitCodeForFault(ERROR_CODES[f.code as ErrorCode].fault), f.code).toBe(EXIT.NETWORK);
      if (f.code) expect(f.reason?.startsWith(`${f.code}: `)).toBe(true);
    }
    // What never reached the peer did not; what failed after reaching it did.
    for (const uid of Object.keys(fates.notAttempted ?? {})) expect(p.attempted()).not.toContain(uid);
    for (const uid of Object.keys(fates.failed ?? {})) expect(p.attempted()).toContain(uid);
    // The journal: exactly what the peer acknowledged with success or warning, never anything else.
    expect([...o.journal].sort()).toEqual(Object.keys(stored).sort());
    expect([...p.acknowledged()].sort()).toEqual(Object.keys(stored).sort());
    // The events say the same.
    const storedEvents = o.events.filter((e) => e.type === 'instance-stored');
    expect(Object.fromEntries(storedEvents.map((e) => [e.sopInstanceUID, e.status]))).toEqual(stored);
    const failedEvents = o.events.filter((e) => e.type === 'instance-failed');
    expect(failedEvents.map((e) => e.sopInstanceUID).sort()).toEqual(Object.keys(failed).sort());
    for (const e of failedEvents) expect(e.reason).toMatch(failed[e.sopInstanceUID]!);
    expect(o.events.at(-1)).toEqual({ type: 'import-finished', stored: Object.keys(stored).length, failed: Object.keys(failed).length, alreadyStored: 0 });
    expect(o.report.exitCode).toBe(Object.keys(failed).length > 0 ? 4 : 0);

    // Re-run against a well-behaved peer with the same journal: exactly the unacknowledged ones go.
    const good = await peer();
    const journalFile = o.report.journal;
    const again = await importTo(good, { journalFile });
    const missing = UIDS.filter((u) => !(u in stored));
    expect(good.attempted()).toEqual(missing);
    expect(again.report.alreadyStored.map((s) => s.sopInstanceUID).sort()).toEqual(Object.keys(stored).sort());
    expect(again.report.stored.map((s) => s.sopInstanceUID)).toEqual(missing);
    expect(again.report.exitCode).toBe(0);
    expect([...again.journal].sort()).toEqual([...UIDS].sort());
    expect(o.ms + again.ms).toBeLessThan(CASE_MS);
  };

  /** Behaves as told for one instance (every attempt at it), stores the others with success. */
  const onlyFor =
    (uid: string, behaviour: StoreBehaviour) =>
    (rq: { sopInstanceUID: string }): StoreBehaviour =>
      rq.sopInstanceUID === uid ? behaviour : { kind: 'status', status: 0 };

  it('a well-behaved peer gets every instance on one association; the journal lists them all', async () => {
    const p = await peer();
    const o = await importTo(p);
    expect(p.associations).toBe(1);
    expect(p.log.every((e) => e.complete)).toBe(true);
    expect(p.log.find((e) => e.sopInstanceUID === U3)!.dataBytes).toBeGreaterThan(1024 * 1024);
    await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U3]: 0, [U4]: 0 } });
  });

  it('failure statuses fail their instance with the status in words, warnings count as stored (journaled with their status); one association throughout', async () => {
    const statuses: Record<string, number> = { [U1]: 0xa700, [U2]: 0xb000, [U3]: 0xa900, [U4]: 0xc000 };
    const p = await peer({ onStore: (rq) => ({ kind: 'status', status: statuses[rq.sopInstanceUID]!, ...(rq.sopInstanceUID === U4 ? { errorComment: 'no parse' } : {}) }) });
    const o = await importTo(p);
    expect(p.associations).toBe(1);
    expect(o.report.failed.find((f) => f.sopInstanceUID === U1)?.status).toBe(0xa700);
    await expectFates(p, o, {
      stored: { [U2]: 0xb000 },
      failed: { [U1]: /^A700 out of resources$/, [U3]: /^A900 data set does not match SOP class$/, [U4]: /^C000 cannot understand: no parse$/ },
    });
  });

  it('more statuses: 0122 refused; B007 and B006 stored with a warning', async () => {
    const statuses: Record<string, number> = { [U1]: 0x0122, [U2]: 0xb007, [U3]: 0xb006, [U4]: 0x0000 };
    const p = await peer({ onStore: (rq) => ({ kind: 'status', status: statuses[rq.sopInstanceUID]! }) });
    const o = await importTo(p);
    const journal = readFileSync(o.report.journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sopInstanceUID: string; status: number });
    expect(Object.fromEntries(journal.map((j) => [j.sopInstanceUID, j.status]))).toEqual({ [U2]: 0xb007, [U3]: 0xb006, [U4]: 0 });
    await expectFates(p, o, { stored: { [U2]: 0xb007, [U3]: 0xb006, [U4]: 0 }, failed: { [U1]: /^0122 SOP class not supported$/ } });
  });

  it('a peer that never answers a C-STORE: the DIMSE timeout fires, the instance fails (after its retry), the rest go on a new association', async () => {
    const p = await peer({ onStore: onlyFor(U2, { kind: 'stall' }) });
    const o = await importTo(p, { retries: 1 });
    expect(p.log.filter((e) => e.sopInstanceUID === U2).map((e) => e.complete)).toEqual([true, true]);
    expect(o.events.filter((e) => e.type === 'retry')).toHaveLength(1);
    expect(p.associations).toBe(3);
    await expectFates(p, o, { stored: { [U1]: 0, [U3]: 0, [U4]: 0 }, failed: { [U2]: /^NET_TIMEOUT: .*400 ms/ } });
  });

  it('a peer that never answers any C-STORE: retries are shared, so the import gives up after two instances instead of waiting on each', async () => {
    const p = await peer({ onStore: () => ({ kind: 'stall' }) });
    const o = await importTo(p, { retries: 1 });
    expect(p.log.map((e) => e.sopInstanceUID)).toEqual([U1, U1, U2]);
    expect(o.events.filter((e) => e.type === 'retry')).toHaveLength(1);
    const timeout = /^NET_TIMEOUT: no answer from the peer within 400 ms \(waiting for the C-STORE-RSP\)$/;
    const gaveUp = /^NET_TIMEOUT: not sent: the PACS failed 3 times in a row \(last: no answer from the peer within 400 ms/;
    await expectFates(p, o, { failed: { [U1]: timeout, [U2]: timeout }, notAttempted: { [U3]: gaveUp, [U4]: gaveUp } });
  });

  it('a peer that stalls before the A-ASSOCIATE-AC: ARTIM fires, nothing is attempted', async () => {
    const p = await peer({ associations: () => ({ kind: 'stall' }) });
    const o = await importTo(p, { retries: 1 });
    expect(p.associations).toBe(2);
    const artim = /^NET_TIMEOUT: .*A-ASSOCIATE-AC/;
    await expectFates(p, o, { notAttempted: { [U1]: artim, [U2]: artim, [U3]: artim, [U4]: artim } });
  });

  it('a peer that drops the connection before the A-ASSOCIATE-AC: NET_CONNECT, nothing attempted', async () => {
    const p = await peer({ associations: () => ({ kind: 'drop' }) });
    const o = await importTo(p, { retries: 1 });
    const dropped = /^NET_CONNECT: /;
    await expectFates(p, o, { notAttempted: { [U1]: dropped, [U2]: dropped, [U3]: dropped, [U4]: dropped } });
  });

  it('the connection dropped in the middle of a data PDU: the instance is not stored, the next goes on a new association', async () => {
    const p = await peer({ onStore: onlyFor(U3, { kind: 'drop-receiving', afterBytes: 6000 }) });
    const o = await importTo(p);
    const dropped = p.log.find((e) => e.sopInstanceUID === U3)!;
    expect(dropped.complete).toBe(false);
    expect(dropped.dataBytes).toBeLessThan(1024 * 1024);
    expect(p.associations).toBe(2);
    await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U4]: 0 }, failed: { [U3]: /^NET_CONNECT: / } });
  });

  it('a drop once is retried: the instance goes on the next association and is journaled once', async () => {
    const p = await peer({ onStore: (rq) => (rq.sopInstanceUID === U3 && rq.attempt === 1 ? { kind: 'drop-receiving' } : { kind: 'status', status: 0 }) });
    const o = await importTo(p, { retries: 2 });
    expect(o.events.filter((e) => e.type === 'retry')).toHaveLength(1);
    expect(p.log.map((e) => e.sopInstanceUID)).toEqual([U1, U2, U3, U3, U4]);
    expect(o.journal).toEqual(UIDS);
    await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U3]: 0, [U4]: 0 } });
  });

  it('a peer that stops reading in the middle of the large data set: the write (or response) timeout fires, not stored', async () => {
    const p = await peer({ onStore: onlyFor(U3, { kind: 'stall-receiving' }) });
    const o = await importTo(p);
    expect(p.log.find((e) => e.sopInstanceUID === U3)!.complete).toBe(false);
    await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U4]: 0 }, failed: { [U3]: /^NET_TIMEOUT: .*within 400 ms/ } });
  }, 15_000);

  it('a drop after the whole data set went but before the response is not an acknowledgement', async () => {
    const p = await peer({ onStore: onlyFor(U2, { kind: 'drop-before-response' }) });
    const o = await importTo(p);
    expect(p.log.find((e) => e.sopInstanceUID === U2)!.complete).toBe(true);
    await expectFates(p, o, { stored: { [U1]: 0, [U3]: 0, [U4]: 0 }, failed: { [U2]: /^NET_CONNECT: / } });
  });

  it('a drop in the middle of the response PDU is not an acknowledgement', async () => {
    const p = await peer({ onStore: onlyFor(U2, { kind: 'drop-sending' }) });
    const o = await importTo(p);
    await expectFates(p, o, { stored: { [U1]: 0, [U3]: 0, [U4]: 0 }, failed: { [U2]: /^NET_CONNECT: / } });
  });

  const malformed: Array<[string, StoreBehaviour, RegExp]> = [
    ['a response to another Message ID', { kind: 'wrong-message-id' }, /^NET_PROTOCOL: expected response .* to message \d+/],
    ['a response for another SOP Instance UID', { kind: 'wrong-sop-instance' }, /^NET_PROTOCOL: C-STORE-RSP names instance .*\.9, not /],
    ['a response for another SOP Class UID', { kind: 'wrong-sop-class' }, /^NET_PROTOCOL: C-STORE-RSP names SOP class /],
    ['a response sent as a data set fragment', { kind: 'response-as-data' }, /^NET_PROTOCOL: a data set fragment came where a command set was expected/],
    ['an unknown PDU type', { kind: 'unknown-pdu-type' }, /^NET_PROTOCOL: unknown PDU type 0x55/],
    ['a PDU length beyond the limit', { kind: 'pdu-too-long' }, /^NET_PROTOCOL: PDU type 0x04 announces 16777216 bytes, more than the \d+ allowed/],
    ['a P-DATA-TF on an unknown presentation context', { kind: 'unknown-context' }, /^NET_PROTOCOL: the peer sent data on presentation context 251/],
    ['a truncated response', { kind: 'truncated-response' }, /^NET_PROTOCOL: command set: element \(0000,1000\) .* claims/],
    ['an A-RELEASE-RP that answers no request', { kind: 'release-rp' }, /^NET_PROTOCOL: unexpected A-RELEASE-RP/],
    ['an A-ABORT after the command set', { kind: 'abort', when: 'after-command' }, /^NET_(ASSOCIATION|CONNECT): .*(aborted by the peer application|reset|closed)/],
    ['an A-ABORT instead of the response', { kind: 'abort', when: 'after-data' }, /^NET_ASSOCIATION: association aborted by the peer application/],
    ['an endless trickle of empty command fragments', { kind: 'trickle', everyMs: 50 }, /^NET_TIMEOUT: .*400 ms/],
  ];

  it.each(malformed)('%s: not an acknowledgement, the instance fails, the others are stored', async (_label, behaviour, reason) => {
    const p = await peer({ onStore: onlyFor(U2, behaviour) });
    const o = await importTo(p);
    expect(p.log.find((e) => e.sopInstanceUID === U2)?.answered).toBeUndefined();
    await expectFates(p, o, { stored: { [U1]: 0, [U3]: 0, [U4]: 0 }, failed: { [U2]: reason } });
  }, 15_000);

  it('an association rejected permanently: every instance fails, none attempted, no retry', async () => {
    const p = await peer({ associations: () => ({ kind: 'reject', result: 1, source: 1, reason: 7 }) });
    const o = await importTo(p, { retries: 3 });
    expect(p.associations).toBe(1);
    expect(o.events.some((e) => e.type === 'retry')).toBe(false);
    const rejected = /^NET_ASSOCIATION: PACS: association rejected permanently by the called application \(service user\): called AE title not recognized$/;
    await expectFates(p, o, { notAttempted: { [U1]: rejected, [U2]: rejected, [U3]: rejected, [U4]: rejected } });
  });

  it('an association rejected transiently (local limit exceeded) is tried again', async () => {
    const p = await peer({ associations: (n) => (n === 1 ? { kind: 'reject', result: 2, source: 3, reason: 2 } : { kind: 'accept' }) });
    const o = await importTo(p, { retries: 2 });
    expect(p.associations).toBe(2);
    expect(o.events.filter((e) => e.type === 'retry')).toHaveLength(1);
    await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U3]: 0, [U4]: 0 } });
  });

  it('an association that accepts no presentation context: every instance fails, none attempted, no retry', async () => {
    const p = await peer({ associations: () => ({ kind: 'accept-none' }) });
    const o = await importTo(p, { retries: 3 });
    expect(p.associations).toBe(1);
    const none = /^NET_ASSOCIATION: PACS accepted none of the \d+ presentation contexts? proposed \(abstract syntax not supported\)$/;
    await expectFates(p, o, { notAttempted: { [U1]: none, [U2]: none, [U3]: none, [U4]: none } });
  });

  it.each([['stall'], ['abort'], ['trickle']] as const)('a peer that does not answer the A-RELEASE-RQ (%s): the release ends within ARTIM, every acknowledged instance stays stored and journaled', async (release) => {
    const p = await peer({ release });
    const o = await importTo(p);
    expect(o.report.exitCode).toBe(0);
    await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U3]: 0, [U4]: 0 } });
  });

  describe('over TLS', () => {
    const tlsPeer = (): Promise<FaultyPeer> =>
      Promise.resolve({ cert: readFileSync(path.join(pki, 'tls-server.pem')), key: loadPrivateKey(readFileSync(path.join(pki, 'tls-server.key'))) }).then((t) => startFaultyPeer({ tls: t }));
    const tlsOptions = (): Partial<PeerOptions> => ({ tls: { ca: loadCertificates(readFileSync(path.join(pki, 'demo-root-ca.pem'))) } });

    it('a well-behaved peer: everything stored over TLS', async () => {
      const p = await tlsPeer();
      peers.push(p);
      const o = await importTo(p, { peer: tlsOptions() });
      await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U3]: 0, [U4]: 0 } });
    });

    const faults: Array<[string, StoreBehaviour, RegExp]> = [
      ['a drop in the middle of a data PDU', { kind: 'drop-receiving', afterBytes: 6000 }, /^NET_CONNECT: /],
      ['a drop before the response', { kind: 'drop-before-response' }, /^NET_CONNECT: /],
      ['a drop in the middle of the response', { kind: 'drop-sending' }, /^NET_CONNECT: /],
      ['a C-STORE never answered', { kind: 'stall' }, /^NET_TIMEOUT: .*400 ms \(waiting for the C-STORE-RSP\)/],
      ['a response to another Message ID', { kind: 'wrong-message-id' }, /^NET_PROTOCOL: /],
    ];
    it.each(faults)('%s (the large instance): not acknowledged, not journaled, sent again by a re-run', async (_label, behaviour, reason) => {
      const p = await startFaultyPeer({ tls: { cert: readFileSync(path.join(pki, 'tls-server.pem')), key: loadPrivateKey(readFileSync(path.join(pki, 'tls-server.key'))) }, onStore: onlyFor(U3, behaviour) });
      peers.push(p);
      const o = await importTo(p, { peer: tlsOptions() });
      expect(p.log.find((e) => e.sopInstanceUID === U3)?.answered).toBeUndefined();
      await expectFates(p, o, { stored: { [U1]: 0, [U2]: 0, [U4]: 0 }, failed: { [U3]: reason } });
    });
  });

  describe('the command line', () => {
    /** `dcmsafe import --json` against the peer, spawned (the peer answers from this process meanwhile). */
    const cli = async (p: FaultyPeer, extra: string[]): Promise<{ status: number | null; report: ImportReport; stderr: string }> => {
      const home = path.join(dir, `home-${++journals}`);
      mkdirSync(home, { recursive: true });
      const args = [CLI, 'import', media, '--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')];
      args.push('--to', `127.0.0.1:${p.port}`, '--aec', 'PACS', '--patient-id', 'LOCAL-7', '--issuer', 'OURHOSP', '--journal', path.join(home, 'journal.jsonl'), '--retries', '0', '--timeout', '0.4', '--json', ...extra);
      const child = spawn('node', args, { env: { ...process.env, HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_CONFIG_HOME: path.join(home, 'config'), DCMSAFE_CONFIG: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      if (!stdout.trim()) throw new Error(`dcmsafe import printed no report (exit ${status}): ${stderr}`);
      return { status, report: JSON.parse(stdout) as ImportReport, stderr };
    };

    it('exit 4 with the network error code per instance: a response to another message over TCP, a C-STORE never answered over TLS', async () => {
      const p = await peer({ onStore: onlyFor(U2, { kind: 'wrong-message-id' }) });
      const plain = await cli(p, []);
      expect(plain.status, plain.stderr).toBe(4);
      expect(plain.report.stored.map((s) => s.sopInstanceUID)).toEqual([U1, U3, U4]);
      expect(plain.report.failed).toMatchObject([{ sopInstanceUID: U2, code: 'NET_PROTOCOL', attempted: true }]);
      expect(plain.stderr).toMatch(/NOT stored .*: NET_PROTOCOL: expected response/);

      const t = await startFaultyPeer({ tls: { cert: readFileSync(path.join(pki, 'tls-server.pem')), key: loadPrivateKey(readFileSync(path.join(pki, 'tls-server.key'))) }, onStore: onlyFor(U4, { kind: 'stall' }) });
      peers.push(t);
      const secure = await cli(t, ['--tls-ca', path.join(pki, 'demo-root-ca.pem')]);
      expect(secure.status, secure.stderr).toBe(4);
      expect(secure.report.stored.map((s) => s.sopInstanceUID)).toEqual([U1, U2, U3]);
      expect(secure.report.failed).toMatchObject([{ sopInstanceUID: U4, code: 'NET_TIMEOUT', attempted: true }]);
      expect(t.acknowledged()).toEqual([U1, U2, U3]);
    });

    it('exit 4 when the PACS rejects the association: every instance listed as not attempted', async () => {
      const p = await peer({ associations: () => ({ kind: 'reject', result: 1, source: 1, reason: 3 }) });
      const r = await cli(p, []);
      expect(r.status, r.stderr).toBe(4);
      expect(r.report.stored).toEqual([]);
      expect(r.report.failed.map((f) => [f.sopInstanceUID, f.code, f.attempted])).toEqual(UIDS.map((u) => [u, 'NET_ASSOCIATION', false]));
    });
  });
});
