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
import { ReaderByteSource, type ByteSource } from '../dicom/part10/byte-source.js';
import { openMedia, type MediaSource, type SourceEntry } from '../media/source/index.js';
import type { RandomAccessReader } from '../media/io/random-access-reader.js';
import { ByteCursor } from '../security/asn1/cursor.js';
import { looksLikeSecureFile } from '../security/cms/reader.js';
import { openJudgedSecureFile, type JudgedSecureFile } from '../security/secure-file.js';
import { systemClock, type Clock } from '../util/clock.js';
import { VERSION } from '../version.js';
import type { StoreContextRequest, StoreSession } from '../net/client.js';
import type { StoreResult } from '../net/dimse.js';
import { ImportJournal, journalPath, defaultJournalDir } from './import-journal.js';
import type { MapRow } from './reconcile-map.js';
import { policyPasses, verifyMedia, type VerifyOptions } from './verify-media.js';
import type { FileReport, VerifyReport } from './verify-report.js';

/** What import needs of an association (src/net's store session; tests may stand in). */
export type StoreSessionLike = Pick<StoreSession, 'accepted' | 'refusals' | 'store' | 'release' | 'abort'>;

export type OpenSession = (contexts: StoreContextRequest[]) => Promise<StoreSessionLike>;

export type ImportEvent =
  | { readonly type: 'import-started'; readonly media: string; readonly destination: string; readonly instances: number }
  | { readonly type: 'instance-stored'; readonly file: string; readonly sopInstanceUID: string; readonly studyInstanceUID: string; readonly patientId: string; readonly untrusted: boolean; readonly coerced: boolean; readonly status: number }
  | { readonly type: 'instance-failed'; readonly file: string; readonly sopInstanceUID: string; readonly reason: string }
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
  readonly status?: number;
  readonly untrusted?: boolean;
  readonly reason?: string;
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

function decide(file: FileReport, report: VerifyReport, allowUntrusted: boolean): { send: boolean; untrusted: boolean; reason?: string } {
  const findings = report.findings.filter((f) => f.file === file.path);
  const blocking = findings.find((f) => NEVER.has(f.code));
  if (blocking) return { send: false, untrusted: false, reason: `${blocking.code}: ${blocking.message}` };
  const trusted = file.kind === 'secure' && file.protection === 'signed' && !findings.some((f) => UNTRUSTED.has(f.code));
  if (!trusted && !allowUntrusted) return { send: false, untrusted: true, reason: 'origin not proven (unsigned or untrusted); --allow-untrusted sends it anyway' };
  const policyFindings = findings.filter((f) => !UNTRUSTED.has(f.code));
  if (!policyPasses(report.policy, report.verdict === 'unreadable' ? 'problems' : 'intact-unsigned', policyFindings)) {
    return { send: false, untrusted: !trusted, reason: `fails the ${report.policy} policy: ${policyFindings.filter((f) => f.severity !== 'info').map((f) => f.code).join(', ')}` };
  }
  return { send: true, untrusted: !trusted };
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

export async function importMedia(options: ImportOptions): Promise<ImportReport> {
  const emit = options.onEvent ?? ((): void => undefined);
  const clock = options.clock ?? systemClock;
  const report = await verifyMedia({ ...options.verify, media: options.media, clock });
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

  interface Job {
    readonly file: FileReport;
    readonly untrusted: boolean;
  }
  const jobs: Job[] = [];
  for (const file of report.files) {
    if ((file.kind !== 'dicom' && file.kind !== 'secure') || !file.sopInstanceUID) continue;
    if (isPatientIndependent(file.sopClassUID ?? '')) {
      notPatientData.push({ file: file.path, sopInstanceUID: file.sopInstanceUID, reason: `SOP class ${file.sopClassUID} belongs to no patient: not part of a patient import` });
      continue;
    }
    const d = decide(file, report, options.allowUntrusted ?? false);
    if (!d.send) {
      skipped.push({ file: file.path, sopInstanceUID: file.sopInstanceUID, reason: d.reason ?? 'not sent' });
      continue;
    }
    if (journal.has(file.sopInstanceUID)) {
      alreadyStored.push({ file: file.path, sopInstanceUID: file.sopInstanceUID, status: 0 });
      continue;
    }
    jobs.push({ file, untrusted: d.untrusted });
  }
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
  let session: StoreSessionLike | undefined;
  const retries = options.retries ?? 5;
  const baseDelay = options.retryDelayMs ?? 1000;
  const dropSession = async (): Promise<void> => {
    const s = session;
    session = undefined;
    await s?.abort().catch(() => undefined);
  };
  /** Every job from `from` on fails with the same reason (the peer refused us: retrying cannot help). */
  const failRest = (from: number, reason: string): void => {
    for (const job of jobs.slice(from)) {
      failed.push({ file: job.file.path, sopInstanceUID: job.file.sopInstanceUID as string, reason });
      emit({ type: 'instance-failed', file: job.file.path, sopInstanceUID: job.file.sopInstanceUID as string, reason });
    }
  };
  try {
    jobs: for (const [index, job] of jobs.entries()) {
      const entry = byPath.get(job.file.path);
      const sop = job.file.sopInstanceUID as string;
      if (!entry) {
        failed.push({ file: job.file.path, sopInstanceUID: sop, reason: 'the file disappeared from the medium' });
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        if (!session) {
          try {
            session = await options.openSession(contextList);
          } catch (e) {
            const code = isDcmsafeError(e) ? e.code : 'INTERNAL';
            const message = e instanceof Error ? e.message : String(e);
            if (NETWORK.has(code) && attempt < retries) {
              const waitMs = baseDelay * 2 ** attempt;
              emit({ type: 'retry', attempt: attempt + 1, waitMs, reason: message });
              await sleep(waitMs);
              continue;
            }
            // TLS refused, association rejected, or the peer stayed away: nothing more can go.
            if (code === 'NET_TLS') emit({ type: 'security-alert', file: '', reason: message });
            failRest(index, `${code}: ${message}`);
            break jobs;
          }
        }
        try {
          const result = await sendOne(session, source, entry, job, options, clock);
          if (result.category === 'failure') {
            const reason = `${result.meaning}${result.errorComment ? `: ${result.errorComment}` : ''}`;
            failed.push({ file: job.file.path, sopInstanceUID: sop, status: result.status, reason });
            emit({ type: 'instance-failed', file: job.file.path, sopInstanceUID: sop, reason });
          } else {
            await journal.record({ sopInstanceUID: sop, storedAt: clock.now().toISOString(), status: result.status, file: job.file.path, ...(job.untrusted ? { untrusted: true } : {}) });
            stored.push({ file: job.file.path, sopInstanceUID: sop, status: result.status, ...(job.untrusted ? { untrusted: true } : {}) });
            emit({ type: 'instance-stored', file: job.file.path, sopInstanceUID: sop, studyInstanceUID: result.studyInstanceUID, patientId: result.patientId, untrusted: job.untrusted, coerced: result.coerced, status: result.status });
          }
          break;
        } catch (e) {
          const code = isDcmsafeError(e) ? e.code : 'INTERNAL';
          const message = e instanceof Error ? e.message : String(e);
          if (code === 'IMPORT_SECURITY_ALERT') {
            // The association was aborted before the last fragment: the PACS discards the partial instance.
            emit({ type: 'security-alert', file: job.file.path, reason: message });
            failed.push({ file: job.file.path, sopInstanceUID: sop, reason: `${code}: ${message}` });
            await dropSession();
            break;
          }
          // The association may be mid-message (a source that failed while streaming): start afresh.
          await dropSession();
          if (!NETWORK.has(code) || attempt >= retries) {
            // A fault of this instance (unreadable, no mapping, syntax not accepted) or a network that stayed down.
            failed.push({ file: job.file.path, sopInstanceUID: sop, reason: `${code}: ${message}` });
            emit({ type: 'instance-failed', file: job.file.path, sopInstanceUID: sop, reason: message });
            break;
          }
          const waitMs = baseDelay * 2 ** attempt;
          emit({ type: 'retry', attempt: attempt + 1, waitMs, reason: message });
          await sleep(waitMs);
        }
      }
    }
    if (session) await session.release().catch(() => dropSession());
  } finally {
    await dropSession();
    await source.close();
    await journal.close();
  }
  emit({ type: 'import-finished', stored: stored.length, failed: failed.length, alreadyStored: alreadyStored.length });
  const exitCode = failed.length > 0 ? 4 : skipped.length > 0 ? 1 : 0;
  return { verify: report, destination, journal: journalFile, stored, alreadyStored, failed, skipped, notPatientData, exitCode };
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

/** One instance: from the medium (decrypted in memory if secure), coerced, streamed to the session. */
async function sendOne(
  session: StoreSessionLike,
  source: MediaSource,
  entry: SourceEntry,
  job: { readonly file: FileReport; readonly untrusted: boolean },
  options: ImportOptions,
  clock: Clock,
): Promise<SentResult> {
  const file = job.file;
  const reader: RandomAccessReader = await source.open(entry);
  let judged: Promise<JudgedSecureFile> | undefined;
  try {
    const head = await reader.read(0, 140);
    let bytes: ByteSource;
    if (looksLikeSecureFile(head)) {
      const opened = await openJudgedSecureFile(reader, options.verify.keys, { ...options.verify.trust, now: clock.now() });
      bytes = ByteCursor.fromIterator(file.path, opened.content[Symbol.asyncIterator](), 'CMS_MALFORMED');
      judged = opened.result;
    } else {
      bytes = new ReaderByteSource(reader, 0);
    }
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
          // Verified before; if the file changed since (or its signer is no longer trusted), it must not go.
          const ok = j.cms.valid && (job.untrusted || j.status === 'trusted');
          if (!ok) throw new DcmsafeError('IMPORT_SECURITY_ALERT', `${file.path} no longer passes verification (${j.status}); not sent`, { file: file.path });
        })
      : rewrite.dataSet;
    const result = await session.store(context.contextId, rewrite.sopClassUID, rewrite.sopInstanceUID, dataSet, undefined);
    return { ...result, studyInstanceUID, patientId, coerced };
  } finally {
    judged?.catch(() => undefined);
    await reader.close();
  }
}
