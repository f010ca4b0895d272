/**
 * What each pipeline's outcome means for the audit trail (PS3.15 A.5.3): create → Export (110106) per
 * medium written; verify → Security Alert (110113) for tampered, unreadable or untrusted files; import →
 * Import (110107) of the source medium, Begin Transferring (110102) and DICOM Instances Transferred
 * (110104) per patient, Security Alerts for TLS refusals and files that changed after verification;
 * echo → Security Alert when the peer's certificate is refused.
 */
import type { MediaKind as CreateMediaKind } from '../dicom/profiles/profiles.js';
import type { CreateSummary } from '../pipelines/create-summary.js';
import type { ImportEvent, ImportReport } from '../pipelines/import-media.js';
import type { VerifyReport } from '../pipelines/verify-report.js';
import {
  beginTransferringMessage,
  exportMessage,
  importMessage,
  instancesTransferredMessage,
  securityAlertMessage,
  userAuthenticationMessage,
  type MediaKind,
  type Outcome,
  type PatientRef,
  type PeerRef,
  type StudyRef,
} from './messages.js';
import type { AuditTrail } from './trail.js';

/** Export of a created medium (one message per volume written). */
export async function auditCreate(trail: AuditTrail, summary: CreateSummary): Promise<void> {
  const encrypted = summary.security !== undefined;
  const patients: PatientRef[] = summary.patients.map((p) => ({ id: p.patientId, ...(p.patientName ? { name: p.patientName } : {}) }));
  const studies: StudyRef[] = summary.patients.flatMap((p) => p.studies.map((s) => ({ studyInstanceUID: s.studyInstanceUID, patientId: p.patientId, encrypted })));
  const volumes = summary.volumes.length > 0 ? summary.volumes : [{ output: summary.output }];
  for (const [i, v] of volumes.entries()) {
    await trail.record('export', (ctx) =>
      exportMessage(ctx, {
        outcome: 0,
        media: { kind: summary.media as CreateMediaKind as MediaKind, identifier: volumes.length > 1 ? `${summary.fileSetUID}#${i + 1}` : summary.fileSetUID, label: v.output },
        patients,
        studies,
      }),
    );
  }
}

/** A create that failed: an Export with a serious-failure outcome, saying why. */
export async function auditCreateFailed(trail: AuditTrail, media: CreateMediaKind, out: string, why: string): Promise<void> {
  await trail.record('export', (ctx) => exportMessage(ctx, { outcome: 8, outcomeDescription: why, media: { kind: media as MediaKind, identifier: out, label: out }, patients: [], studies: [] }));
}

const VERIFICATION_ALERTS: Readonly<Record<string, 'verification' | 'untrusted-signer'>> = {
  FILE_TAMPERED: 'verification',
  SECURE_UNREADABLE: 'verification',
  DOWNGRADE: 'verification',
  NO_INTEGRITY: 'verification',
  SIGNER_UNTRUSTED: 'untrusted-signer',
  SIGNER_CERTIFICATE_MISSING: 'untrusted-signer',
};

/** One Security Alert per kind of verification failure found on a medium. */
export async function auditVerify(trail: AuditTrail, report: VerifyReport): Promise<void> {
  const byCode = new Map<string, string[]>();
  for (const f of report.findings) {
    if (!VERIFICATION_ALERTS[f.code]) continue;
    const list = byCode.get(f.code) ?? [];
    list.push(f.file ?? report.media.path);
    byCode.set(f.code, list);
  }
  for (const [code, files] of byCode) {
    const shown = files.slice(0, 5).join(', ');
    await trail.record('security-alert', (ctx) =>
      securityAlertMessage(ctx, {
        outcome: 8,
        alert: VERIFICATION_ALERTS[code] as 'verification' | 'untrusted-signer',
        outcomeDescription: `${code} on ${files.length} file(s) of ${report.media.path}: ${shown}${files.length > 5 ? ', ...' : ''}`,
        subject: report.media.path,
      }),
    );
  }
}

function sourceMediaKind(report: VerifyReport): MediaKind {
  switch (report.media.kind) {
    case 'iso9660':
      return 'cd';
    case 'fat':
      return 'usb';
    case 'zip':
      return 'zip';
    default:
      return 'folder';
  }
}

/** Collects, during an import, what the audit messages need (start time, TLS refusals, changed files). */
export class ImportAudit {
  started?: Date;
  readonly alerts: Array<{ when: Date; file: string; reason: string }> = [];
  /** Instances the PACS acknowledged, by Study Instance UID. */
  readonly storedByStudy = new Map<string, number>();

  constructor(private readonly now: () => Date) {}

  onEvent(e: ImportEvent): void {
    if (e.type === 'import-started') this.started = this.now();
    if (e.type === 'security-alert') this.alerts.push({ when: this.now(), file: e.file, reason: e.reason });
    if (e.type === 'instance-stored') this.storedByStudy.set(e.studyInstanceUID, (this.storedByStudy.get(e.studyInstanceUID) ?? 0) + 1);
  }
}

/** Import of the source medium, then Begin Transferring and Instances Transferred per patient, and the alerts. */
export async function auditImport(trail: AuditTrail, report: ImportReport, destination: PeerRef, collected: ImportAudit, localPatient: (foreignId: string) => PatientRef): Promise<void> {
  const v = report.verify;
  const mediaPatients: PatientRef[] = v.patients.map((p) => ({ id: p.patientId, ...(p.patientName ? { name: p.patientName } : {}) }));
  const mediaStudies: StudyRef[] = v.patients.flatMap((p) => p.studies.map((s) => ({ studyInstanceUID: s.studyInstanceUID, patientId: p.patientId, ...(s.accessionNumber ? { accessionNumber: s.accessionNumber } : {}), encrypted: v.media.secure })));
  const media = { kind: sourceMediaKind(v), identifier: v.media.label ?? v.media.path, label: v.media.path };
  const sent = report.stored.length + report.failed.length;
  await trail.record('import', (ctx) =>
    importMessage(ctx, {
      outcome: report.failed.length === 0 ? 0 : sent > report.failed.length ? 4 : 8,
      ...(report.failed.length ? { outcomeDescription: `${report.failed.length} instance(s) not stored` } : {}),
      media,
      patients: mediaPatients,
      studies: mediaStudies,
    }),
  );
  // One patient per message (A.5.3.3, A.5.3.7): group by the patient the instances belong to on the medium.
  for (const p of v.patients) {
    const stored = p.studies.reduce((n, st) => n + (collected.storedByStudy.get(st.studyInstanceUID) ?? 0), 0);
    if (stored === 0 && report.failed.length === 0) continue; // nothing of this patient was sent in this run
    const patient = localPatient(p.patientId);
    const studies: StudyRef[] = p.studies.map((s) => ({ studyInstanceUID: s.studyInstanceUID, patientId: patient.id, ...(s.accessionNumber ? { accessionNumber: s.accessionNumber } : {}) }));
    const outcome: Outcome = report.failed.length === 0 ? 0 : stored > 0 ? 4 : 8;
    const description = report.failed.length === 0 ? {} : { outcomeDescription: `${report.failed.length} instance(s) of the medium not stored; ${stored} of this patient stored` };
    await trail.record('begin-transferring', (ctx) => beginTransferringMessage(ctx, { outcome: 0, destination, patient, studies }), collected.started);
    await trail.record('instances-transferred', (ctx) => instancesTransferredMessage(ctx, { outcome, ...description, action: 'C', destination, patient, studies }));
  }
  for (const a of collected.alerts) {
    await trail.record(
      'security-alert',
      (ctx) =>
        securityAlertMessage(ctx, {
          outcome: 8,
          alert: a.file === '' ? 'node-authentication' : 'verification',
          outcomeDescription: a.reason,
          subject: a.file === '' ? `${destination.aeTitle}@${destination.host}${destination.port ? `:${destination.port}` : ''}` : a.file,
        }),
      a.when,
    );
  }
}

/** A peer whose TLS certificate or association was refused (echo, or import before any instance). */
export async function auditNodeRefused(trail: AuditTrail, peer: PeerRef, reason: string): Promise<void> {
  await trail.record('security-alert', (ctx) => securityAlertMessage(ctx, { outcome: 8, alert: 'node-authentication', outcomeDescription: reason, subject: `${peer.aeTitle}@${peer.host}${peer.port ? `:${peer.port}` : ''}` }));
}

/** A sign-in attempt as the operator store judged it (CLI `operators signin` and the front desk). */
export interface SignInAttempt {
  readonly user: string;
  readonly ok: boolean;
  readonly reason?: string;
  /** This failure locked the account. */
  readonly lockedNow?: boolean;
}

/**
 * Who the audit trail names for a sign-in: a name that is no account is not written down (it is
 * often the password typed into the wrong field).
 */
export function signInUserId(a: SignInAttempt, unknownOperator: string): string {
  return !a.ok && a.reason === 'unknown' ? unknownOperator : a.user;
}

/** User Authentication (110114, Login), and a Security Alert when the attempt locked the account. */
export async function auditSignIn(trail: AuditTrail, a: SignInAttempt, unknownOperator: string): Promise<void> {
  const who = signInUserId(a, unknownOperator);
  await trail.record('user-authentication', (ctx) =>
    userAuthenticationMessage(ctx, { outcome: a.ok ? 0 : 4, action: 'login', user: { userId: who }, ...(a.ok ? {} : { outcomeDescription: `sign-in refused (${a.reason ?? 'failed'})` }) }),
  );
  if (a.lockedNow) {
    await trail.record('security-alert', (ctx) => securityAlertMessage(ctx, { outcome: 8, alert: 'user-authentication', outcomeDescription: `operator account ${a.user} is locked after repeated failed sign-ins`, subject: a.user }));
  }
}
