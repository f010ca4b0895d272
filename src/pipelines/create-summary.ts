/**
 * The summary of a create run: what is on the media and everything dcmsafe changed, supplied, merged
 * or left out, so nobody has to guess. The CLI prints it as text or as one JSON document.
 */
import type { DirectoryRecord } from '../dicom/dicomdir/model.js';
import type { FileSetPlan } from '../dicom/fileset/plan.js';
import type { ApplicationProfile, MediaKind } from '../dicom/profiles/profiles.js';
import { T } from '../dicom/tags.js';
import { transferSyntaxName } from '../dicom/transfer-syntax.js';
import type { DeidentificationSummary } from './deidentify-inputs.js';

export interface SeriesSummary {
  readonly seriesInstanceUID: string;
  readonly modality: string;
  readonly seriesNumber: string;
  readonly instances: number;
}
export interface StudySummary {
  readonly studyInstanceUID: string;
  readonly studyDate: string;
  readonly studyDescription: string;
  readonly series: SeriesSummary[];
}
export interface PatientSummary {
  readonly patientId: string;
  readonly patientName: string;
  readonly generatedId: boolean;
  readonly studies: StudySummary[];
}

export interface SecuritySummary {
  readonly cipher: string;
  readonly digest: string;
  readonly signed: boolean;
  readonly signer?: { subject: string; issuer: string; serialNumber: string };
  readonly recipients: Array<{ kind: 'certificate'; subject: string; serialNumber: string; keyTransport: string } | { kind: 'password'; kdf: string; iterations: number }>;
  /** Algorithms chosen only for old readers (PS3.15 D.1 makes readers accept them). */
  readonly legacy: string[];
}

/** One medium written: a folder, an image, or one disc of several. */
export interface VolumeSummary {
  readonly output: string;
  readonly fileSetId: string;
  readonly fileSetUID: string;
  readonly bytes: number;
  readonly instances: number;
  /** Study Instance UIDs on this medium: which study went where when the input was split. */
  readonly studies: string[];
}

export interface CreateSummary {
  /** The medium written (the first one when the input was split over several). */
  readonly output: string;
  readonly volumes: VolumeSummary[];
  readonly media: MediaKind;
  readonly profile: string;
  readonly fileSetId: string;
  readonly fileSetUID: string;
  /** Present on secure media: how every file was signed and encrypted. */
  readonly security?: SecuritySummary;
  readonly counts: { patients: number; studies: number; series: number; instances: number; bytes: number };
  readonly patients: PatientSummary[];
  readonly topLevel: Array<{ recordType: string; sopInstanceUID: string; fileId: string }>;
  /** Every file on the media and where it came from. */
  readonly files: Array<{ fileId: string; input: string; inputTransferSyntaxUID: string; kind: string; sopInstanceUID: string }>;
  readonly transcoded: Array<{ input: string; fileId: string; kind: string; from: string; to: string; reason: string }>;
  readonly merged: FileSetPlan['merged'];
  readonly supplied: FileSetPlan['records']['supplied'];
  readonly normalized: FileSetPlan['records']['normalized'];
  readonly missingKeys: FileSetPlan['records']['missing'];
  readonly invalidKeys: FileSetPlan['records']['invalid'];
  readonly generatedPatientIds: FileSetPlan['generatedPatientIds'];
  readonly patientMismatches: FileSetPlan['patientMismatches'];
  readonly unknownSopClasses: FileSetPlan['unknownSopClasses'];
  readonly skipped: FileSetPlan['skipped'];
  readonly unreadable: FileSetPlan['unreadable'];
  readonly ignoredInputs: Array<{ path: string; reason: string }>;
  /** Present when every instance was signed inside its data set (create --dicom-signature, PS3.15 Annex C). */
  readonly dicomSignature?: { readonly signer: string; readonly profile: string; readonly macAlgorithm: string };
  /** Present on de-identified media (create --deidentify, PS3.15 Annex E). */
  readonly deidentification?: DeidentificationSummary;
  /** Reader warnings per input file (tolerated deviations), e.g. missing group length. */
  readonly inputWarnings: Array<{ input: string; warnings: string[] }>;
}

function text(r: DirectoryRecord, tag: number): string {
  return r.keys.string(tag)?.trim() ?? '';
}

export function summarize(args: {
  plan: FileSetPlan;
  profile: ApplicationProfile;
  media: MediaKind;
  volumes: VolumeSummary[];
  ignoredInputs: Array<{ path: string; reason: string }>;
  security?: SecuritySummary;
}): CreateSummary {
  const { plan } = args;
  const generated = new Set(plan.generatedPatientIds.map((g) => g.patientId));
  const patients: PatientSummary[] = [];
  const topLevel: CreateSummary['topLevel'] = [];
  let studies = 0;
  let series = 0;
  for (const root of plan.fileSet.roots) {
    if (root.type !== 'PATIENT') {
      topLevel.push({ recordType: root.type, sopInstanceUID: root.sopInstanceUID ?? '', fileId: (root.fileId ?? []).join('\\') });
      continue;
    }
    const id = text(root, T.PatientID);
    patients.push({
      patientId: id,
      patientName: text(root, T.PatientName),
      generatedId: generated.has(id),
      studies: root.children.map((st) => {
        studies++;
        return {
          studyInstanceUID: text(st, T.StudyInstanceUID),
          studyDate: text(st, T.StudyDate),
          studyDescription: text(st, T.StudyDescription),
          series: st.children.map((se) => {
            series++;
            return { seriesInstanceUID: text(se, T.SeriesInstanceUID), modality: text(se, T.Modality), seriesNumber: text(se, T.SeriesNumber), instances: se.children.length };
          }),
        };
      }),
    });
  }
  return {
    output: (args.volumes[0] as VolumeSummary).output,
    volumes: args.volumes,
    media: args.media,
    profile: args.profile.id,
    fileSetId: plan.fileSet.fileSetId,
    fileSetUID: plan.fileSet.fileSetUID,
    ...(args.security ? { security: args.security } : {}),
    counts: { patients: patients.length, studies, series, instances: plan.instances.length, bytes: args.volumes.reduce((n, v) => n + v.bytes, 0) },
    patients,
    topLevel,
    files: plan.instances.map((p) => ({
      fileId: p.fileId.join('\\'),
      input: p.instance.path,
      inputTransferSyntaxUID: p.instance.transferSyntax.uid,
      kind: p.kind,
      sopInstanceUID: p.instance.sopInstanceUID,
    })),
    transcoded: plan.instances
      .filter((p) => p.kind !== 'copy')
      .map((p) => ({
        input: p.instance.path,
        fileId: p.fileId.join('\\'),
        kind: p.kind,
        from: transferSyntaxName(p.instance.transferSyntax.uid),
        to: transferSyntaxName(p.outputTransferSyntaxUID),
        reason: p.reason ?? '',
      })),
    merged: plan.merged,
    supplied: plan.records.supplied,
    normalized: plan.records.normalized,
    missingKeys: plan.records.missing,
    invalidKeys: plan.records.invalid,
    generatedPatientIds: plan.generatedPatientIds,
    patientMismatches: plan.patientMismatches,
    unknownSopClasses: plan.unknownSopClasses,
    skipped: plan.skipped,
    unreadable: plan.unreadable,
    ignoredInputs: args.ignoredInputs,
    inputWarnings: plan.instances
      .filter((p) => p.instance.warnings.length > 0)
      .map((p) => ({ input: p.instance.path, warnings: p.instance.warnings.map((w) => `${w.code}: ${w.message}`) })),
  };
}
