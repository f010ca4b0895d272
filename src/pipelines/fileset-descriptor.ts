/**
 * The File-set Descriptor File (PS3.3 F.3.2.1, File-set Descriptor File ID (0004,1141)): a plain
 * text README in the File-set root, in the default repertoire (ASCII), so no Specific Character Set
 * of File-set Descriptor File is needed. It names no patient: the disc label and INDEX.HTM do that.
 */
import type { FileSetPlan } from '../dicom/fileset/plan.js';
import type { ApplicationProfile } from '../dicom/profiles/profiles.js';
import { IMPLEMENTATION_VERSION_NAME } from '../dicom/part10/writer.js';

export function fileSetDescriptor(plan: FileSetPlan, profile: ApplicationProfile, created: Date): Buffer {
  const patients = plan.fileSet.roots.filter((r) => r.type === 'PATIENT');
  const studies = patients.reduce((n, p) => n + p.children.length, 0);
  const lines = [
    `DICOM File-set ${plan.fileSet.fileSetId}`,
    '',
    `This medium holds a DICOM File-set (PS3.10) under the application profile ${profile.id}`,
    `(${profile.title}, PS3.11 Annex ${profile.annex}).`,
    `The DICOMDIR file in this folder indexes ${plan.instances.length} DICOM instance(s) of ${patients.length} patient(s) in ${studies} study(ies).`,
    'Open it with any DICOM viewer. The DICOM files are under the folder DICOM; their names carry no meaning.',
    '',
    `File-set UID: ${plan.fileSet.fileSetUID}`,
    `Created: ${created.toISOString()} by dcmsafe (${IMPLEMENTATION_VERSION_NAME})`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'ascii');
}
