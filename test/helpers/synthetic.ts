/**
 * Small synthetic instances for unit tests, written with our own writer (Explicit VR Little Endian)
 * or, for implicit VR, with a few lines here. Interop tests use files other tools wrote instead.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSet } from '../../src/dicom/dataset.js';
import { buildDataSet, encodeFileMeta, encodePart10, type ElementValue } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import type { VR } from '../../src/dicom/vr.js';

export interface InstanceSpec {
  patientId?: string;
  patientName?: string;
  birthDate?: string;
  study?: string;
  series?: string;
  sop: string;
  sopClass?: string;
  modality?: string;
  studyDate?: string;
  instanceNumber?: number;
  extra?: Array<[number, VR, ElementValue]>;
}

export const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

export function instanceDataSet(spec: InstanceSpec): DataSet {
  const entries: Array<[number, VR, ElementValue]> = [
    [T.SOPClassUID, 'UI', spec.sopClass ?? SECONDARY_CAPTURE],
    [T.SOPInstanceUID, 'UI', spec.sop],
    [T.Modality, 'CS', spec.modality ?? 'OT'],
    [T.PatientName, 'PN', spec.patientName ?? 'Doe^Jane'],
    [T.PatientBirthDate, 'DA', spec.birthDate ?? '19700101'],
  ];
  if (spec.patientId !== undefined) entries.push([T.PatientID, 'LO', spec.patientId]);
  if (spec.study) entries.push([T.StudyInstanceUID, 'UI', spec.study]);
  if (spec.series) entries.push([T.SeriesInstanceUID, 'UI', spec.series]);
  if (spec.studyDate) entries.push([T.StudyDate, 'DA', spec.studyDate]);
  if (spec.instanceNumber !== undefined) entries.push([T.InstanceNumber, 'IS', spec.instanceNumber]);
  for (const e of spec.extra ?? []) entries.push(e);
  return buildDataSet(entries);
}

export function writeInstance(dir: string, name: string, spec: InstanceSpec): string {
  const file = path.join(dir, name);
  writeFileSync(file, encodePart10({ sopClassUID: spec.sopClass ?? SECONDARY_CAPTURE, sopInstanceUID: spec.sop }, instanceDataSet(spec)));
  return file;
}

/** The same instance in Implicit VR Little Endian (PS3.5 §A.1): tag, 32-bit length, value. */
export function writeImplicitInstance(dir: string, name: string, spec: InstanceSpec): string {
  const ds = instanceDataSet(spec);
  const parts: Buffer[] = [];
  for (const el of ds.sorted()) {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(el.tag >>> 16, 0);
    h.writeUInt16LE(el.tag & 0xffff, 2);
    h.writeUInt32LE(el.value?.length ?? 0, 4);
    parts.push(h, el.value ?? Buffer.alloc(0));
  }
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([encodeFileMeta({ sopClassUID: spec.sopClass ?? SECONDARY_CAPTURE, sopInstanceUID: spec.sop, transferSyntaxUID: '1.2.840.10008.1.2' }), ...parts]));
  return file;
}
