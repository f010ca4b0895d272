/**
 * From a File-set plan to the files of one medium: every instance (converted and protected as
 * planned, its exact size known before writing), the DICOMDIR, the File-set Descriptor File and the
 * IHE PDI files. Contents are produced only when a writer asks for them, one file at a time.
 */
import { encodeDicomdir } from '../dicom/dicomdir/encode.js';
import type { DirectoryRecord } from '../dicom/dicomdir/model.js';
import type { FileSetPlan, PlannedInstance } from '../dicom/fileset/plan.js';
import type { ApplicationProfile } from '../dicom/profiles/profiles.js';
import { T } from '../dicom/tags.js';
import { memoryFile, type MediaFile } from '../media/media-file.js';
import { indexHtm, readmeTxt, type VolumeDescription, type VolumeStudy } from '../media/pdi/pdi.js';
import { fileSetDescriptor } from './fileset-descriptor.js';
import { protect } from './protect.js';
import { jobOf, openInstance, outputSizeOf, type ProtectContext } from './instance-output.js';
import { collectChunks } from '../util/chunks.js';

export type { ProtectContext } from './instance-output.js';

/** The size an instance will have on the medium (converted, signed, then protected), found without writing it. */
export function outputSize(p: PlannedInstance, ctx: ProtectContext): Promise<number> {
  return outputSizeOf(jobOf(p), ctx, p.instance.size);
}

export function instanceFile(p: PlannedInstance, size: number, ctx: ProtectContext): MediaFile {
  const job = jobOf(p);
  return { path: p.fileId, size, open: () => (ctx.producer ? ctx.producer.open(job, size) : openInstance(job, size, ctx)) };
}

/** The studies of a File-set as the PDI files describe them, from its directory records. */
export function describeStudies(plan: FileSetPlan): VolumeStudy[] {
  const text = (r: DirectoryRecord, tag: number): string => r.keys.string(tag)?.trim() ?? '';
  const studies: VolumeStudy[] = [];
  for (const patient of plan.fileSet.roots.filter((r) => r.type === 'PATIENT')) {
    for (const study of patient.children) {
      studies.push({
        patientName: text(patient, T.PatientName),
        patientId: text(patient, T.PatientID),
        birthDate: text(patient, T.PatientBirthDate) || birthDateOf(plan, text(patient, T.PatientID)),
        studyDate: text(study, T.StudyDate),
        studyDescription: text(study, T.StudyDescription),
        series: study.children.map((se) => ({ modality: text(se, T.Modality), seriesNumber: text(se, T.SeriesNumber), description: '', instances: se.children.length })),
      });
    }
  }
  return studies;
}

function birthDateOf(plan: FileSetPlan, patientId: string): string {
  return plan.instances.find((p) => (p.instance.patient.id ?? '') === patientId)?.instance.patient.birthDate ?? '';
}

export interface VolumeContext extends ProtectContext {
  readonly profile: ApplicationProfile;
  readonly institution: string;
  readonly mediaKind: string;
  readonly volumeLabel?: string;
  /** Who can open secure media, for README.TXT and INDEX.HTM. */
  readonly secureFor?: readonly string[];
  readonly signedBy?: string;
  /** The signer of the DICOM Digital Signatures in every instance of plain media (PS3.15 Annex C). */
  readonly dicomSignedBy?: string;
}

export interface VolumeFiles {
  readonly files: MediaFile[];
  readonly description: VolumeDescription;
}

/** All files of one medium: the root files first, then the DICOM files in File ID order. */
export async function volumeFiles(plan: FileSetPlan, sizes: ReadonlyMap<string, number>, ctx: VolumeContext): Promise<VolumeFiles> {
  // The DICOMDIR's offsets describe the inner (plain) file; on secure media it is wrapped like any other.
  const plainDicomdir = encodeDicomdir(plan.fileSet);
  const dicomdir = await collectChunks(protect(ctx.security, { size: plainDicomdir.length, stream: () => once(plainDicomdir) }, ctx).stream());
  const description: VolumeDescription = {
    fileSetId: plan.fileSet.fileSetId,
    fileSetUID: plan.fileSet.fileSetUID,
    profile: ctx.profile,
    created: ctx.clock.now(),
    institution: ctx.institution,
    mediaKind: ctx.mediaKind,
    ...(ctx.volumeLabel ? { volumeLabel: ctx.volumeLabel } : {}),
    studies: ctx.security ? [] : describeStudies(plan),
    ...(ctx.secureFor ? { secureFor: ctx.secureFor } : {}),
    ...(ctx.signedBy ? { signedBy: ctx.signedBy } : {}),
    ...(ctx.dicomSignedBy ? { dicomSignedBy: ctx.dicomSignedBy } : {}),
  };
  const files: MediaFile[] = [
    memoryFile(['DICOMDIR'], dicomdir),
    memoryFile(plan.fileSet.descriptorFileId ?? ['README'], fileSetDescriptor(plan, ctx.profile, ctx.clock.now())),
    memoryFile(['README.TXT'], readmeTxt(description)),
    memoryFile(['INDEX.HTM'], indexHtm(description)),
  ];
  for (const p of plan.instances) files.push(instanceFile(p, sizes.get(p.instance.path) as number, ctx));
  return { files, description };
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
