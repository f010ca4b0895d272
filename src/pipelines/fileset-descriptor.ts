/**
 * The File-set Descriptor File (PS3.3 F.3.2.1, File-set Descriptor File ID (0004,1141)): a plain
 * text README in the File-set root, in the default repertoire (ASCII), so no Specific Character Set
 * of File-set Descriptor File is needed. It names no patient: the disc label and INDEX.HTM do that.
 */
import { DcmsafeError } from '../errors/index.js';
import type { FileSetPlan } from '../dicom/fileset/plan.js';
import type { ApplicationProfile } from '../dicom/profiles/profiles.js';
import { IMPLEMENTATION_VERSION_NAME } from '../dicom/part10/writer.js';
import { renderTemplate } from '../util/template.js';

export function fileSetDescriptor(plan: FileSetPlan, profile: ApplicationProfile, created: Date): Buffer {
  const patients = plan.fileSet.roots.filter((r) => r.type === 'PATIENT');
  const text = renderTemplate('fileset-readme.txt', {
    fileSetId: plan.fileSet.fileSetId,
    profileId: profile.id,
    profileTitle: profile.title,
    profileAnnex: profile.annex,
    instances: plan.instances.length,
    patients: patients.length,
    studies: patients.reduce((n, p) => n + p.children.length, 0),
    fileSetUID: plan.fileSet.fileSetUID,
    created: created.toISOString(),
    implementation: IMPLEMENTATION_VERSION_NAME,
  });
  if (/[^\x20-\x7e\n]/.test(text)) throw new DcmsafeError('INTERNAL', 'the File-set descriptor must be ASCII');
  return Buffer.from(text.replace(/\n/g, '\r\n'), 'ascii');
}
