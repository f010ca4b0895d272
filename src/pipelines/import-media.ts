/**
 * import: verify the medium → choose what may go (the policy; untrusted or unsigned only with
 * --allow-untrusted) → reconcile the patient (IHE IRWF) → C-STORE over DICOM-TLS, streaming each file
 * from the medium through decryption and coercion to the socket → journal every acknowledged
 * instance, so a re-run sends only what is missing. Encrypted media is decrypted in memory only.
 * Emits typed events that the audit trail turns into PS3.15 A.5 messages.
 */
import { DcmsafeError, isDcmsafeError } from '../errors/index.js';
import { patientNameKey } from '../dicom/fileset/plan.js';
import { coerceDataSet, openRewrite, type LocalIdentity } from '../dicom/reconcile/index.js';
import { isPatientIndependent } from '../dicom/dicomdir/record-types.js';
import { T } from '../dicom/tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, lookupTransferSyntax } from '../dicom/transfer-syntax.js';
import { PrefixedReader, ReaderByteSource, type ByteSource } from '../dicom/part10/byte-source.js';
import { openMedia, type MediaSource, type SourceEntry } from '../media/source/index.js';
import { readIntoBuffer, type RandomAccessReader } from '../media/io/random-access-reader.js';
import { BufferPool } from '../util/buffer-pool.js';
import { ByteCursor } from '../security/asn1/cursor.js';
import { looksLikeSecureFile } from '../security/cms/reader.js';
import { lazyRsaService } from '../security/cms/rsa-service.js';
import { ContentKeyCache, openJudgedSecureFile, type JudgedSecureFile } from '../security/secure-file.js';
import { systemClock, type Clock } from '../util/clock.js';
import { VERSION } from '../version.js';
import type { StoreContextRequest, StoreSession } from '../net/client.js';
import type { StoreResult } from '../net/dimse.js';
import { ImportJournal, journalPath, defaultJournalDir } from './import-journal.js';
import type { MapRow } from './reconcile-map.js';
import { planMedia, policyPasses, type PlannedMedia, type VerifyOptions } from './verify-media.js';
import type { FileReport, Finding, Policy, VerifyReport } from './verify-report.js';

/** What import needs of an association (src/net's store session; tests may stand in). */
export type StoreSessionLike = Pick<StoreSession, 'accepted' | 'refusals' | 'store' | 'release' | 'abort'>;

export type OpenSession = (contexts: StoreContextRequest[]) => Promise<StoreSessionLike>;

export type ImportEvent =
  | { readonly type: 'import-started'; readonly media: string; readonly destination: string; readonly instances: number }
  | { readonly type: 'instance-stored'; readonly file: string; readonly sopInstanceUID: string; readonly studyInstanceUID: string; readonly patientId: string; readonly untrusted: boolean; readonly coerced: boolean; readonly status: number }
  | {
      readonly type: 'instance-failed';
      readonly file: string;
      readonly sopInstanceUID: string;
      readonly reason: string;
      /** As in the report's failed list: the error code, the PACS status, whether a C-STORE of it went out. */
      readonly code?: string;
      readonly status?: number;
      readonly attempted?: boolean;
    }
  | { readonly type: 'security-alert'; readonly file: string; readonly reason: string }
  | { readonly type: 'retry'; readonly attempt: number; readonly waitMs: number; readonly reason: string }
  | { readonly type: 'import-finished'; readonly stored: number; readonly failed: number; readonly alreadyStored: number };

export interface ImportOptions {
  readonly media: string;
  readonly verify: Omit<VerifyOptions, 'media' | 'extract' | 'includeFailed'>;
  readonly destination: { readonly host: string; readonly port: number; readonly calledAE: string };
  readonly openSession: OpenSession;
  /** One local identity for every instance, or a map from foreign Patient ID and issuer. */
  readonly local?: LocalIdentity;
  readonly map?: readonly MapRow[];
  readonly allowUntrusted?: boolean;
  readonly confirmMultiplePatients?: boolean;
  readonly confirmDemographics?: boolean;
  readonly journalFile?: string;
  /** Reconnection attempts after a dropped connection (default 5), with doubling waits from `retryDelayMs`. */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly clock?: Clock;
  readonly onEvent?: (event: ImportEvent) => void;
}

export interface ImportedInstance {
  readonly file: string;
  readonly sopInstanceUID: string;
  /** The C-STORE status: success or warning when stored, the PACS's refusal when failed. */
  readonly status?: number;
  readonly untrusted?: boolean;
  readonly reason?: string;
  /** Failed: the error code (NET_TIMEOUT, NET_CONNECT, NET_PROTOCOL, NET_ASSOCIATION, NET_TLS...); absent when the PACS refused it with a status. */
  readonly code?: string;
  /**
   * Failed: whether a C-STORE of it went out (in any attempt). False: nothing of it reached the PACS
   * (peer unreachable, association refused, file unreadable). True without a status: the PACS may or
   * may not hold it (no acknowledgement came); it is not journaled, and a re-run sends it again.
   */
  readonly attempted?: boolean;
}

export interface ImportReport {
  readonly verify: VerifyReport;
  readonly destination: string;
  readonly journal: string;
  readonly stored: ImportedInstance[];
  readonly alreadyStored: ImportedInstance[];
  readonly failed: ImportedInstance[];
  /** Not sent: failed the policy, tampered, untrusted without --allow-untrusted, no mapping. */
  readonly skipped: ImportedInstance[];
  /** Not sent because they are no patient's data (Color Palette, Hanging Protocol, implant templates). */
  readonly notPatientData: ImportedInstance[];
  /** 0 all sent; 1 some withheld by the verification; 4 some not stored (network or PACS). */
  readonly exitCode: number;
}

const NEVER = new Set(['FILE_TAMPERED', 'SECURE_UNREADABLE', 'DICOM_UNREADABLE', 'SECURE_NO_KEY', 'NO_INTEGRITY', 'MEDIA_UNREADABLE']);
const UNTRUSTED = new Set(['SIGNER_UNTRUSTED', 'SIGNER_CERTIFICATE_MISSING', 'DOWNGRADE']);
const NETWORK = new Set(['NET_CONNECT', 'NET_TIMEOUT', 'NET_PROTOCOL', 'IO']);

/** Worth another association: the connection dropped or timed out, the peer garbled the protocol, or it rejected us for now (rejected-transient, PS3.8 §9.3.4: busy). */
function retryable(e: unknown): boolean {
  if (!isDcmsafeError(e)) return false;
  return NETWORK.has(e.code) || (e.code === 'NET_ASSOCIATION' && e.data.rejectResult === 2);
}

interface Decision {
  readonly send: boolean;
  readonly untrusted: boolean;
  readonly reason?: string;
}

/**
 * Whether a file may go, from its findings. `protection` is the secure file's CMS structure once
 * judged; 'deferred' while only its header has been read (planMedia): then only what the header shows
 * can hold it back, and the rest (integrity, signer, the policy on their findings) is decided at the
 * integrity gate, before the last fragment.
 */
function decide(kind: FileReport['kind'], protection: FileReport['protection'] | 'deferred', findings: readonly Finding[], policy: Policy, allowUntrusted: boolean): Decision {
  const blocking = findings.find((f) => NEVER.has(f.code));
  if (blocking) return { send: false, untrusted: false, reason: `${blocking.code}: ${blocking.message}` };
  const policyFindings = findings.filter((f) => !UNTRUSTED.has(f.code));
  const failsPolicy = (untrusted: boolean): Decision => ({
    send: false,
    untrusted,
    reason: `fails the ${policy} policy: ${policyFindings.filter((f) => f.severity !== 'info').map((f) => f.code).join(', ')}`,
  });
  if (protection === 'deferred') return policyPasses(policy, 'intact-unsigned', policyFindings) ? { send: true, untrusted: false } : failsPolicy(false);
  const trusted = kind === 'secure' && protection === 'signed' && !findings.some((f) => UNTRUSTED.has(f.code));
  if (!trusted && !allowUntrusted) return { send: false, untrusted: true, reason: 'origin not proven (unsigned or untrusted); --allow-untrusted sends it anyway' };
  if (!policyPasses(policy, 'intact-unsigned', policyFindings)) return failsPolicy(!trusted);
  return { send: true, untrusted: !trusted };
}

interface Job {
  readonly file: FileReport;
  /** Set when the file is judged (at the gate, or before sending once verifyFirst is on). */
  untrusted: boolean;
  /** Only the header was read in planning: the gate judges integrity, signer and policy. */
  deferred: boolean;
}

/** What the integrity gate needs to judge deferred files, shared by the send loop. */
interface Judging {
  readonly planned: PlannedMedia;
  readonly findingsOf: (file: string) => readonly Finding[];
  /** Deferred files not yet judged. */
  readonly unsettled: Set<string>;
  /** After a deferred file failed its gate: the remaining ones are judged before sending (two passes). */
  verifyFirst: boolean;
  readonly policy: Policy;
  readonly allowUntrusted: boolean;
}

/** The planning report's findings per file, looked up once per file (not a scan of every finding per file). */
function findingsByFile(report: VerifyReport): (file: string) => readonly Finding[] {
  const byFile = new Map<string, Finding[]>();
  for (const f of report.findings) {
    if (f.file === undefined) continue;
    const list = byFile.get(f.file);
    if (list) list.push(f);
    else byFile.set(f.file, [f]);
  }
  return (file) => byFile.get(file) ?? [];
}

function settle(judging: Judging, file: string, outcome: { readonly judged: JudgedSecureFile } | { readonly error: unknown }): readonly Finding[] {
  judging.unsettled.delete(file);
  return judging.planned.settle(file, outcome);
}

/** A deferred file's decision once judged: its planning findings and those its judgement adds. */
function judgeDeferred(judging: Judging, job: Job, outcome: { readonly judged: JudgedSecureFile } | { readonly error: unknown }): { decision: Decision; added: readonly Finding[] } {
  const added = settle(judging, job.file.path, outcome);
  job.deferred = false;
  const protection = 'judged' in outcome ? outcome.judged.cms.structure : undefined;
  const decision = decide(job.file.kind, protection, [...judging.findingsOf(job.file.path), ...added], judging.policy, judging.allowUntrusted);
  job.untrusted = decision.untrusted;
  return { decision, added };
}

/** Reads a secure file through without sending it: its judgement, or why it could not be read. */
async function judgeThrough(source: MediaSource, entry: SourceEntry, options: ImportOptions, clock: Clock): Promise<{ judged: JudgedSecureFile } | { error: unknown }> {
  let reader: RandomAccessReader | undefined;
  try {
    reader = await source.open(entry);
    const opened = await openJudgedSecureFile(reader, options.verify.keys, { ...options.verify.trust, now: clock.now() });
    for await (const chunk of opened.content) void chunk;
    return { judged: await opened.result };
  } catch (e) {
    return { error: e };
  } finally {
    await reader?.close();
  }
}

/** Judges a deferred file by reading it through before it is sent (the two-pass way, after a gate failed). */
async function judgeBeforeSending(source: MediaSource, entry: SourceEntry, job: Job, judging: Judging, options: ImportOptions, clock: Clock): Promise<Decision> {
  return judgeDeferred(judging, job, await judgeThrough(source, entry, options, clock)).decision;
}

/** The transfer syntax a forward-only rewrite produces (implicit VR, big endian and deflate become Explicit VR LE). */
function rewrittenSyntax(uid: string): string {
  const ts = lookupTransferSyntax(uid);
  return !ts || !ts.explicitVR || !ts.littleEndian || ts.deflated ? EXPLICIT_VR_LITTLE_ENDIAN : uid;
}

function checkDemographics(p: { patientName: string; birthDate: string }, local: LocalIdentity): void {
  if (local.patientName && p.patientName && patientNameKey(local.patientName) !== patientNameKey(p.patientName)) {
    throw new DcmsafeError('RECONCILE_CONFLICT', `the medium's patient is "${p.patientName}", the local name given is "${local.patientName}": check it is the same person, then confirm with --confirm-demographics`, {});
  }
  if (local.birthDate && p.birthDate && local.birthDate !== p.birthDate) {
    throw new DcmsafeError('RECONCILE_CONFLICT', `the medium's birth date for "${p.patientName}" is ${p.birthDate}, the local one given is ${local.birthDate}: check it is the same person, then confirm with --confirm-demographics`, {});
  }
}

/**
 * Before anything is sent: one local identity for a medium of several patients needs a confirmation;
 * a map must cover every patient on the medium; names and birth dates that disagree with the local
 * ones need a confirmation (the wrong-patient check of IRWF).
 */
function checkReconciliation(report: VerifyReport, options: ImportOptions): void {
  const who = (p: { patientName: string; patientId: string }): string => `${p.patientName || '(no name)'} (ID ${p.patientId || 'none'})`;
  if (options.local) {
    if (report.patients.length > 1 && !options.confirmMultiplePatients) {
      throw new DcmsafeError('RECONCILE_CONFLICT', `the medium holds ${report.patients.length} patients (${report.patients.map(who).join('; ')}), all would get Patient ID ${options.local.patientId}; import them one at a time with --reconcile-map, or confirm with --confirm-multiple-patients`, { patients: report.patients.length });
    }
    if (!options.confirmDemographics) for (const p of report.patients) checkDemographics(p, options.local);
  } else if (options.map) {
    const unmapped = report.patients.filter((p) => !options.map?.some((r) => r.foreignPatientId === p.patientId));
    if (unmapped.length > 0) {
      throw new DcmsafeError('RECONCILE_CONFLICT', `the reconciliation map has no row for ${unmapped.map(who).join('; ')}`, { patients: unmapped.length });
    }
    if (!options.confirmDemographics) {
      for (const p of report.patients) for (const r of options.map.filter((row) => row.foreignPatientId === p.patientId)) checkDemographics(p, r.local);
    }
  }
}

/** The local identity for one instance: the one given, or the map's row for its foreign Patient ID and issuer. */
function localFor(options: ImportOptions, patientId: string, issuer: string): LocalIdentity | undefined {
  if (options.local) return options.local;
  if (!options.map) return undefined;
  return options.map.find((r) => r.foreignPatientId === patientId && (r.foreignIssuer === '' || r.foreignIssuer === issuer))?.local;
}

/**
 * Content keys are opened on worker threads (rsa-service.ts) for planning and sending alike, and each
 * file's raw RSA result is kept from its planning for its sending (ContentKeyCache, wiped at the end):
 * one private-key operation per file, off the thread that streams.
 */
export async function importMedia(options: ImportOptions): Promise<ImportReport> {
  const rsa = lazyRsaService(options.verify.keys);
  const contentKeys = new ContentKeyCache();
  try {
    return await importWith({ ...options, verify: { ...options.verify, keys: contentKeys.wrap(rsa.keys) } });
  } finally {
    contentKeys.clear();
    await rsa.close();
  }
}

async function importWith(options: ImportOptions): Promise<ImportReport> {
  const emit = options.onEvent ?? ((): void => undefined);
  const clock = options.clock ?? systemClock;
  // Headers only for secure files: their integrity is checked in the same pass that sends them.
  const planned = await planMedia({ ...options.verify, media: options.media, clock });
  const report = planned.report;
  if (report.verdict === 'unreadable') throw new DcmsafeError('MEDIA_UNREADABLE', `${options.media} cannot be read: ${report.findings.map((f) => f.message).join('; ')}`, { file: options.media });
  checkReconciliation(report, options);

  const destination = `${options.destination.calledAE}@${options.destination.host}:${options.destination.port}`;
  const journalFile = options.journalFile ?? journalPath(defaultJournalDir(), options.destination, { local: options.local ?? null, map: options.map ?? null });
  const journal = await ImportJournal.open(journalFile);
  const stored: ImportedInstance[] = [];
  const alreadyStored: ImportedInstance[] = [];
  const failed: ImportedInstance[] = [];
  const skipped: ImportedInstance[] = [];
  const notPatientData: ImportedInstance[] = [];

  const findingsOf = findingsByFile(report);
  const jobs: Job[] = [];
  for (const file of report.files) {
    if ((file.kind !== 'dicom' && file.kind !== 'secure') || !file.sopInstanceUID) continue;
    if (isPatientIndependent(file.sopClassUID ?? '')) {
      notPatientData.push({ file: file.path, sopInstanceUID: file.sopInstanceUID, reason: `SOP class ${file.sopClassUID} belongs to no patient: not part of a patient import` });
      continue;
    }
    const deferred = planned.deferred.has(file.path);
    const d = decide(file.kind, deferred ? 'deferred' : file.protection, findingsOf(file.path), report.policy, options.allowUntrusted ?? false);
    if (!d.send) {
      skipped.push({ file: file.path, sopInstanceUID: file.sopInstanceUID, reason: d.reason ?? 'not sent' });
      continue;
    }
    if (journal.has(file.sopInstanceUID)) {
      alreadyStored.push({ file: file.path, sopInstanceUID: file.sopInstanceUID, status: 0 });
      continue;
    }
    jobs.push({ file, untrusted: d.untrusted, deferred });
  }
  const judging: Judging = {
    planned,
    findingsOf,
    unsettled: new Set(planned.deferred),
    verifyFirst: false,
    policy: report.policy,
    allowUntrusted: options.allowUntrusted ?? false,
  };
  emit({ type: 'import-started', media: options.media, destination, instances: jobs.length });

  const contexts = new Map<string, Set<string>>();
  for (const j of jobs) {
    const set = contexts.get(j.file.sopClassUID ?? '') ?? new Set<string>();
    set.add(rewrittenSyntax(j.file.transferSyntaxUID ?? EXPLICIT_VR_LITTLE_ENDIAN));
    set.add(EXPLICIT_VR_LITTLE_ENDIAN);
    contexts.set(j.file.sopClassUID ?? '', set);
  }
  const contextList = [...contexts].map(([sopClassUID, ts]) => ({ sopClassUID, transferSyntaxes: [...ts] }));

  const source = await openMedia(options.media);
  const byPath = new Map(source.entries.map((e) => [e.path.join('/'), e]));
  const heads = headPool();
  let session: StoreSessionLike | undefined;
  const retries = options.retries ?? 5;
  const baseDelay = options.retryDelayMs ?? 1000;
  /**
   * Retries are shared: `streak` counts the network failures in a row (any answer from the PACS, a
   * refusal too, ends the streak), so a PACS that accepts associations and then fails every C-STORE
   * (a stall, a drop) costs `retries` retries in all, not per instance. An instance whose retries are
   * spent fails; the next one gets a single attempt (the first may have been the PACS's problem with
   * that instance alone); if it fails on the network as well, the rest are not attempted.
   */
  let streak = 0;
  let spent = false;
  const mayRetry = (e: unknown): boolean => retryable(e) && !spent && streak < retries;
  const retryAfter = async (message: string): Promise<void> => {
    streak++;
    const waitMs = baseDelay * 2 ** (streak - 1);
    emit({ type: 'retry', attempt: streak, waitMs, reason: message });
    await sleep(waitMs);
  };
  const dropSession = async (): Promise<void> => {
    const s = session;
    session = undefined;
    await s?.abort().catch(() => undefined);
  };
  /** One failed instance, in the report and as an event. */
  const fail = (job: Job, reason: string, what: { code?: string; status?: number; attempted: boolean }): void => {
    const sopInstanceUID = job.file.sopInstanceUID as string;
    const detail = { ...(what.code !== undefined ? { code: what.code } : {}), ...(what.status !== undefined ? { status: what.status } : {}), attempted: what.attempted };
    failed.push({ file: job.file.path, sopInstanceUID, reason, ...detail });
    emit({ type: 'instance-failed', file: job.file.path, sopInstanceUID, reason, ...detail });
  };
  /**
   * Every job from `from` on fails with the same reason (the peer refused us, or stayed away through
   * every retry): none of them was attempted, but the first may have been, before the connection went.
   */
  const failRest = (from: number, code: string, reason: string, firstAttempted: boolean): void => {
    for (const [k, job] of jobs.slice(from).entries()) fail(job, reason, { code, attempted: k === 0 && firstAttempted });
  };
  let ahead: { readonly index: number; readonly opened: Promise<Opened> } | undefined;
  const openAhead = (index: number): void => {
    const job = jobs[index];
    const entry = job && byPath.get(job.file.path);
    if (!entry || ahead?.index === index) return;
    const opened = openEntry(source, entry, options, clock, heads);
    opened.catch(() => undefined); // handled when its turn comes (or by discard)
    ahead = { index, opened };
  };
  const takeAhead = (index: number): Promise<Opened> | undefined => {
    const a = ahead;
    ahead = undefined;
    if (a?.index === index) return a.opened;
    void discard(a?.opened);
    return undefined;
  };
  try {
    jobs: for (const [index, job] of jobs.entries()) {
      const entry = byPath.get(job.file.path);
      const sop = job.file.sopInstanceUID as string;
      // The file opened while the previous one was sent, if any (a stale one is closed).
      const prefetched = takeAhead(index);
      if (!entry) {
        await discard(prefetched);
        fail(job, 'the file disappeared from the medium', { code: 'MEDIA_UNREADABLE', attempted: false });
        continue;
      }
      if (job.deferred && judging.verifyFirst) {
        // A deferred file failed at the gate before: judge the rest before a byte of them goes.
        const d = await judgeBeforeSending(source, entry, job, judging, options, clock);
        if (!d.send) {
          await discard(prefetched);
          skipped.push({ file: job.file.path, sopInstanceUID: sop, reason: d.reason ?? 'not sent' });
          continue;
        }
      }
      let pending: Promise<Opened> | undefined = prefetched;
      /** A C-STORE of this instance went out (in some attempt). */
      let attempted = false;
      const storing = (): void => {
        attempted = true;
      };
      for (;;) {
        if (!session) {
          try {
            session = await options.openSession(contextList);
          } catch (e) {
            const code = isDcmsafeError(e) ? e.code : 'INTERNAL';
            const message = e instanceof Error ? e.message : String(e);
            if (mayRetry(e)) {
              await retryAfter(message);
              continue;
            }
            // TLS refused, association rejected, or the peer stayed away: nothing more can go.
            if (code === 'NET_TLS') emit({ type: 'security-alert', file: '', reason: message });
            failRest(index, code, `${code}: ${message}`, attempted);
            await discard(pending);
            break jobs;
          }
        }
        try {
          // Opened ahead on the first attempt; afresh on a retry (the stream of a failed attempt is spent).
          const opening = pending ?? openEntry(source, entry, options, clock, heads);
          pending = undefined;
          const opened = await opening;
          // One file ahead: the next is opened (content key recovered) while this one is on the wire;
          // its content is pulled only at its turn, so back-pressure and order are those of one file.
          openAhead(index + 1);
          const result = await sendOne(session, opened, job, judging, options, clock, storing);
          // The PACS answered: the network works.
          streak = 0;
          spent = false;
          if (result.category === 'failure') {
            fail(job, `${result.meaning}${result.errorComment ? `: ${result.errorComment}` : ''}`, { status: result.status, attempted: true });
          } else {
            await journal.record({ sopInstanceUID: sop, storedAt: clock.now().toISOString(), status: result.status, file: job.file.path, ...(job.untrusted ? { untrusted: true } : {}) });
            stored.push({ file: job.file.path, sopInstanceUID: sop, status: result.status, ...(job.untrusted ? { untrusted: true } : {}) });
            emit({ type: 'instance-stored', file: job.file.path, sopInstanceUID: sop, studyInstanceUID: result.studyInstanceUID, patientId: result.patientId, untrusted: job.untrusted, coerced: result.coerced, status: result.status });
          }
          break;
        } catch (e) {
          const code = isDcmsafeError(e) ? e.code : 'INTERNAL';
          const message = e instanceof Error ? e.message : String(e);
          if (code === 'IMPORT_SECURITY_ALERT' || (job.deferred && code.startsWith('CMS_'))) {
            // A file judged as it was sent did not pass (or could not be read): judge the rest before sending
            // them, so a medium of untrusted or damaged files does not cost an aborted association each.
            judging.verifyFirst = true;
          }
          if (code === 'IMPORT_SECURITY_ALERT' && isDcmsafeError(e) && typeof e.data.withheld === 'string') {
            // Intact but not to be sent (untrusted signer, policy): aborted before the last fragment, withheld as before.
            skipped.push({ file: job.file.path, sopInstanceUID: sop, reason: e.data.withheld });
            await dropSession();
            break;
          }
          if (code === 'IMPORT_SECURITY_ALERT') {
            // The association was aborted before the last fragment: the PACS discards the partial instance.
            emit({ type: 'security-alert', file: job.file.path, reason: message });
            fail(job, `${code}: ${message}`, { code, attempted });
            await dropSession();
            break;
          }
          // The association may be mid-message (a source that failed while streaming): start afresh.
          await dropSession();
          if (!mayRetry(e)) {
            // A fault of this instance (unreadable, no mapping, syntax not accepted) or a network that stayed down.
            fail(job, `${code}: ${message}`, { code, attempted });
            if (retryable(e) && code.startsWith('NET_')) {
              if (spent) {
                // Two instances in a row lost to the network, retries spent: the PACS is not taking anything now.
                failRest(index + 1, code, `${code}: not sent: the PACS failed ${streak + 2} times in a row (last: ${message})`, false);
                await discard(pending);
                break jobs;
              }
              spent = true;
            }
            break;
          }
          await retryAfter(message);
        }
      }
      await discard(pending); // only when no attempt got as far as opening it
    }
    if (session) await session.release().catch(() => dropSession());
    // Deferred files that did not go through the gate (not sent, already stored, failed): judged now,
    // so the report is complete.
    for (const file of [...judging.unsettled]) {
      const entry = byPath.get(file);
      settle(judging, file, entry ? await judgeThrough(source, entry, options, clock) : { error: new DcmsafeError('MEDIA_UNREADABLE', `${file} disappeared from the medium`, { file }) });
    }
  } finally {
    await discard(ahead?.opened);
    await dropSession();
    await source.close();
    await journal.close();
  }
  emit({ type: 'import-finished', stored: stored.length, failed: failed.length, alreadyStored: alreadyStored.length });
  const exitCode = failed.length > 0 ? 4 : skipped.length > 0 ? 1 : 0;
  return { verify: planned.complete(), destination, journal: journalFile, stored, alreadyStored, failed, skipped, notPatientData, exitCode };
}

interface SentResult extends StoreResult {
  readonly studyInstanceUID: string;
  readonly patientId: string;
  readonly coerced: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The data set, with its last chunk held back until `gate` (the signature check of a secure file,
 * which settles once its content has been read) agrees: if it does not, the association is aborted
 * before the last fragment, so the PACS never holds an instance whose integrity failed.
 */
async function* gated(dataSet: AsyncIterable<Buffer>, gate: () => Promise<void>): AsyncGenerator<Buffer> {
  let held: Buffer | undefined;
  for await (const chunk of dataSet) {
    if (held) yield held;
    held = chunk;
  }
  await gate();
  if (held) yield held;
}

/**
 * A file opened for sending: its reader and, for a secure file, its decrypting stream (the content
 * key already recovered). The next file is opened this way while the current one is on the wire.
 */
interface Opened {
  readonly reader: RandomAccessReader;
  readonly secure?: { readonly content: AsyncIterable<Buffer>; readonly result: Promise<JudgedSecureFile> };
}

/**
 * Bytes read from the start of each file as it is opened: all of a CT or MR slice, the header and the
 * first frames of a larger file. One read instead of a look at its first bytes and then a read per
 * 64 KiB, and it is done ahead, while the previous file is on the wire.
 */
const HEAD_BYTES = 1 << 20;

/** Reads past the head, for the rest of a large file: each thread-pool round trip carries 1 MiB. */
const STREAM_READ_BYTES = 1 << 20;

/**
 * The head of a file in a buffer of the import's pool, given back when the file is closed. Its views
 * (the pixel data handed to the association, which copies it into P-DATA PDUs) are all spent by then:
 * sendOne closes the file only once its C-STORE is over, and reads after closing fail.
 */
class PooledHeadReader extends PrefixedReader {
  private released = false;

  constructor(
    inner: RandomAccessReader,
    head: Buffer,
    private readonly buffer: Buffer,
    private readonly pool: BufferPool,
  ) {
    super(inner, head);
  }

  override read(position: number, length: number): Promise<Buffer> {
    if (this.released) return Promise.reject(new DcmsafeError('INTERNAL', `${this.name}: read after close`, { file: this.name }));
    return super.read(position, length);
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      if (!this.released) {
        this.released = true;
        this.pool.give(this.buffer);
      }
    }
  }
}

/** The import's head buffers: the file being sent, the one opened ahead, one being given back. */
function headPool(): BufferPool {
  return new BufferPool(HEAD_BYTES, 3);
}

async function openEntry(source: MediaSource, entry: SourceEntry, options: ImportOptions, clock: Clock, headPool: BufferPool): Promise<Opened> {
  const raw = await source.open(entry);
  const buffer = headPool.take();
  let reader: PooledHeadReader | undefined;
  try {
    reader = new PooledHeadReader(raw, await readIntoBuffer(raw, buffer, 0, Math.min(HEAD_BYTES, raw.size)), buffer, headPool);
    if (!looksLikeSecureFile(reader.head.subarray(0, 140))) return { reader };
    return { reader, secure: await openJudgedSecureFile(reader, options.verify.keys, { ...options.verify.trust, now: clock.now() }) };
  } catch (e) {
    if (reader) await reader.close();
    else {
      await raw.close();
      headPool.give(buffer);
    }
    throw e;
  }
}

/**
 * Closes a file opened ahead but not sent. Its stream is started and stopped, so the decoder wipes
 * the content key (a stream never started keeps it until the garbage collector takes it).
 */
async function discard(opened: Promise<Opened> | undefined): Promise<void> {
  const o = await opened?.catch(() => undefined);
  if (!o) return;
  try {
    if (o.secure) {
      const it = o.secure.content[Symbol.asyncIterator]();
      await it.next().catch(() => undefined);
      await it.return?.().catch(() => undefined);
    }
  } finally {
    await o.reader.close().catch(() => undefined);
  }
}

/**
 * The integrity gate of a file whose header alone was checked before sending: its judgement settles
 * the report, then decides as the planning would have. Altered: a security alert. Intact but not to
 * go (untrusted without --allow-untrusted, the policy): withheld, reported as skipped.
 */
function deferredGate(judging: Judging, job: Job, j: JudgedSecureFile): void {
  const { decision, added } = judgeDeferred(judging, job, { judged: j });
  if (decision.send) return;
  const file = job.file.path;
  if (added.some((f) => NEVER.has(f.code))) {
    throw new DcmsafeError('IMPORT_SECURITY_ALERT', `${file} (signature checked while sending) no longer passes verification (${j.status}); not sent`, { file });
  }
  throw new DcmsafeError('IMPORT_SECURITY_ALERT', `${file} withheld: ${decision.reason ?? 'not sent'}`, { file, withheld: decision.reason ?? 'not sent' });
}

/** One instance: from the medium (decrypted in memory if secure), coerced, streamed to the session. `storing` is told just before its C-STORE goes out. */
async function sendOne(session: StoreSessionLike, opened: Opened, job: Job, judging: Judging, options: ImportOptions, clock: Clock, storing: () => void): Promise<SentResult> {
  const file = job.file;
  const reader = opened.reader;
  const judged = opened.secure?.result;
  try {
    if (file.kind === 'secure' && !opened.secure) {
      // Planned (and judged, or to be judged at the gate) as a Secure DICOM File, now something else: never sent as plain.
      throw new DcmsafeError('IMPORT_SECURITY_ALERT', `${file.path} is no longer a Secure DICOM File; not sent`, { file: file.path });
    }
    const bytes: ByteSource = opened.secure
      ? ByteCursor.fromIterator(file.path, opened.secure.content[Symbol.asyncIterator](), 'CMS_MALFORMED')
      : new ReaderByteSource(reader, 0, STREAM_READ_BYTES);
    // The file's own syntax when the PACS takes it, else Explicit VR Little Endian with the pixel data decoded (lossless).
    const own = rewrittenSyntax(file.transferSyntaxUID ?? EXPLICIT_VR_LITTLE_ENDIAN);
    const accepted = session.accepted(file.sopClassUID ?? '');
    const decodePixelData = !accepted.some((c) => c.transferSyntaxUID === own) && accepted.some((c) => c.transferSyntaxUID === EXPLICIT_VR_LITTLE_ENDIAN);
    let coerced = false;
    let patientId = '';
    let studyInstanceUID = '';
    const rewrite = await openRewrite(bytes, {
      name: file.path,
      decodePixelData,
      transform: (ds) => {
        patientId = ds.text(T.PatientID) ?? '';
        studyInstanceUID = ds.text(T.StudyInstanceUID) ?? '';
        const local = localFor(options, patientId, ds.text(T.IssuerOfPatientID) ?? '');
        if (!local) {
          if (options.map) throw new DcmsafeError('RECONCILE_CONFLICT', `${file.path}: no mapping for Patient ID ${patientId || '(none)'}`, { file: file.path });
          return ds;
        }
        const { dataSet, coercion } = coerceDataSet(ds, local, { modifyingSystem: `dcmsafe ${VERSION}`, now: clock.now() });
        coerced = coercion.changes.length > 0;
        patientId = local.patientId;
        return dataSet;
      },
    });
    const context = session.accepted(rewrite.sopClassUID).find((c) => c.transferSyntaxUID === rewrite.transferSyntaxUID);
    if (!context) {
      const others = session.accepted(rewrite.sopClassUID).map((c) => c.transferSyntaxUID);
      const why = others.length
        ? `accepts it only in ${others.join(', ')}, not ${rewrite.transferSyntaxUID}`
        : `does not accept this SOP class (${[...new Set(session.refusals(rewrite.sopClassUID).map((r) => r.reason))].join(', ') || 'not proposed'})`;
      throw new DcmsafeError('NET_ASSOCIATION', `${file.path}: the PACS ${why} (SOP class ${rewrite.sopClassUID})`, { file: file.path, sopClassUID: rewrite.sopClassUID });
    }
    const dataSet = judged
      ? gated(rewrite.dataSet, async () => {
          const j = await (judged as Promise<JudgedSecureFile>);
          if (job.deferred) return deferredGate(judging, job, j);
          // Verified before; if the file changed since (or its signer is no longer trusted), it must not go.
          const ok = j.cms.valid && (job.untrusted || j.status === 'trusted');
          if (!ok) throw new DcmsafeError('IMPORT_SECURITY_ALERT', `${file.path} no longer passes verification (${j.status}); not sent`, { file: file.path });
        })
      : rewrite.dataSet;
    storing();
    const result = await session.store(context.contextId, rewrite.sopClassUID, rewrite.sopInstanceUID, dataSet, undefined);
    return { ...result, studyInstanceUID, patientId, coerced };
  } finally {
    judged?.catch(() => undefined);
    await reader.close();
  }
}
