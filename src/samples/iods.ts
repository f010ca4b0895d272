/**
 * The IODs of the samples, module by module (PS3.3): CT Image (A.3), MR Image (A.4), US Multi-frame
 * Image (A.7), Basic Text SR (A.35.1) and Encapsulated PDF (A.45.1). Each module function returns
 * the module's attributes as [tag, VR, value] entries; an IOD is the concatenation of its modules.
 * Every Type 1 and Type 2 attribute is written, and required Type 1C/2C ones where their condition
 * holds; Type 3 ones where they make the samples more useful to a viewer or a DICOMDIR.
 */
import { lookupKeyword } from '../dicom/dictionary.js';
import { buildDataSet, type ElementValue } from '../dicom/part10/writer.js';
import type { DataSet } from '../dicom/dataset.js';
import type { Tag } from '../dicom/tag.js';
import { isVR, type VR } from '../dicom/vr.js';
import { DcmsafeError } from '../errors/index.js';

export const SOP_CLASS = {
  CTImageStorage: '1.2.840.10008.5.1.4.1.1.2',
  MRImageStorage: '1.2.840.10008.5.1.4.1.1.4',
  UltrasoundMultiFrameImageStorage: '1.2.840.10008.5.1.4.1.1.3.1',
  BasicTextSRStorage: '1.2.840.10008.5.1.4.1.1.88.11',
  EncapsulatedPDFStorage: '1.2.840.10008.5.1.4.1.1.104.1',
} as const;

export type Entry = readonly [Tag, VR, ElementValue];

/** Specific Character Set values used by the samples (PS3.3 C.12.1.1.2). */
export type SampleCharset = 'ISO_IR 100' | 'ISO_IR 192';

/**
 * An entry by keyword, with the dictionary's VR unless one is given (needed where the dictionary
 * has a choice: US or SS, OB or OW).
 */
export function el(keyword: string, value: ElementValue, vr?: VR): Entry {
  const entry = lookupKeyword(keyword);
  if (!entry) throw new DcmsafeError('INTERNAL', `unknown attribute keyword ${keyword}`);
  const chosen = vr ?? (isVR(entry.vr) ? entry.vr : undefined);
  if (!chosen) throw new DcmsafeError('INTERNAL', `${keyword}: VR ${entry.vr} needs a choice`);
  if (chosen === 'DS' && value !== undefined) {
    // DS is at most 16 characters (PS3.5 §6.2); String() of a number with a long fraction is not.
    for (const n of typeof value === 'number' ? [value] : Array.isArray(value) ? value : []) {
      if (typeof n === 'number' && (!Number.isFinite(n) || String(n).length > 16)) {
        throw new DcmsafeError('INTERNAL', `${keyword}: ${n} does not fit DS`);
      }
    }
  }
  return [entry.tag, chosen, value];
}

/** Text in the data set's character set: ASCII stays a string, anything else becomes its bytes. */
export function text(value: string, charset: SampleCharset): string | Buffer {
  if (/^[\x20-\x7e]*$/.test(value)) return value;
  if (charset === 'ISO_IR 192') return Buffer.from(value, 'utf8');
  if (/[^\x20-\x7e\xa0-\xff]/.test(value)) throw new DcmsafeError('INTERNAL', `${JSON.stringify(value)} is not in ISO_IR 100`);
  return Buffer.from(value, 'latin1');
}

/** An item of a code sequence (PS3.3 Table 8.8-1, Code Sequence Macro). */
export function code(value: string, scheme: string, meaning: string): DataSet {
  return buildDataSet([el('CodeValue', value), el('CodingSchemeDesignator', scheme), el('CodeMeaning', meaning)]);
}

/** Attribute Tag (AT) value: group and element, each 16-bit little endian (PS3.5 §6.2). */
export function attributeTag(keyword: string): Buffer {
  const entry = lookupKeyword(keyword);
  if (!entry) throw new DcmsafeError('INTERNAL', `unknown attribute keyword ${keyword}`);
  const b = Buffer.alloc(4);
  b.writeUInt16LE(entry.tag >>> 16, 0);
  b.writeUInt16LE(entry.tag & 0xffff, 2);
  return b;
}

// ---- what the modules are made from ------------------------------------------------------------

export interface Patient {
  readonly id: string;
  /** Unicode; encoded with the patient's character set. */
  readonly name: string;
  readonly charset: SampleCharset;
  readonly birthDate: string;
  readonly sex: 'F' | 'M' | 'O';
}

export interface Study {
  readonly instanceUID: string;
  readonly date: string;
  readonly time: string;
  readonly id: string;
  readonly accessionNumber: string;
  readonly description: string;
  readonly referringPhysicianName: string;
  readonly institutionName: string;
}

export interface Series {
  readonly instanceUID: string;
  readonly number: number;
  readonly modality: string;
  readonly description: string;
  readonly date: string;
  readonly time: string;
  /**
   * Body Part Examined (PS3.16 Annex L). Also settles Laterality (Type 2C): it is needed only for
   * paired body parts, which these are not.
   */
  readonly bodyPartExamined?: string;
}

export interface Instance {
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly number: number;
  /** Content Date and Time: when the data were created. */
  readonly contentDate: string;
  readonly contentTime: string;
}

export interface Context {
  readonly patient: Patient;
  readonly study: Study;
  readonly series: Series;
  readonly instance: Instance;
}

export const EQUIPMENT = {
  manufacturer: 'dcmsafe',
  manufacturerModelName: 'dcmsafe synthetic samples',
  stationName: 'SAMPLES',
  softwareVersions: '1',
  deviceSerialNumber: '0001',
} as const;

/** Whole years between two DA values, as an Age String (AS, PS3.5 §6.2). */
export function ageAt(birthDate: string, date: string): string {
  const n = (s: string, a: number, b: number): number => Number.parseInt(s.slice(a, b), 10);
  let years = n(date, 0, 4) - n(birthDate, 0, 4);
  if (date.slice(4) < birthDate.slice(4)) years--;
  return `${String(years).padStart(3, '0')}Y`;
}

// ---- common modules ----------------------------------------------------------------------------

/** Patient Module, C.7.1.1. */
export function patientModule(p: Patient): Entry[] {
  return [
    el('PatientName', text(p.name, p.charset)),
    el('PatientID', p.id),
    el('PatientBirthDate', p.birthDate),
    el('PatientSex', p.sex),
  ];
}

/** General Study Module, C.7.2.1. */
export function generalStudyModule(ctx: Context): Entry[] {
  const { study, patient } = ctx;
  return [
    el('StudyInstanceUID', study.instanceUID),
    el('StudyDate', study.date),
    el('StudyTime', study.time),
    el('ReferringPhysicianName', text(study.referringPhysicianName, patient.charset)),
    el('StudyID', study.id),
    el('AccessionNumber', study.accessionNumber),
    el('StudyDescription', text(study.description, patient.charset)),
  ];
}

/** Patient Study Module, C.7.2.2 (all Type 3; the age lets a viewer show it without arithmetic). */
export function patientStudyModule(ctx: Context): Entry[] {
  return [el('PatientAge', ageAt(ctx.patient.birthDate, ctx.study.date))];
}

/** General Series Module, C.7.3.1. Patient Position is Type 2C, required for CT and MR images. */
export function generalSeriesModule(ctx: Context, patientPosition?: string): Entry[] {
  const { series } = ctx;
  return [
    el('Modality', series.modality),
    el('SeriesInstanceUID', series.instanceUID),
    el('SeriesNumber', series.number),
    el('SeriesDate', series.date),
    el('SeriesTime', series.time),
    el('SeriesDescription', text(series.description, ctx.patient.charset)),
    ...(series.bodyPartExamined ? [el('BodyPartExamined', series.bodyPartExamined)] : []),
    ...(patientPosition ? [el('PatientPosition', patientPosition)] : []),
  ];
}

/** Frame of Reference Module, C.7.4.1. */
export function frameOfReferenceModule(frameOfReferenceUID: string): Entry[] {
  return [el('FrameOfReferenceUID', frameOfReferenceUID), el('PositionReferenceIndicator', undefined)];
}

/** General Equipment Module, C.7.5.1. */
export function generalEquipmentModule(ctx: Context): Entry[] {
  return [
    el('Manufacturer', EQUIPMENT.manufacturer),
    el('InstitutionName', text(ctx.study.institutionName, ctx.patient.charset)),
    el('StationName', EQUIPMENT.stationName),
    el('ManufacturerModelName', EQUIPMENT.manufacturerModelName),
    el('DeviceSerialNumber', EQUIPMENT.deviceSerialNumber),
    el('SoftwareVersions', EQUIPMENT.softwareVersions),
  ];
}

/** General Acquisition Module, C.7.10.1 (all Type 3). */
export function generalAcquisitionModule(ctx: Context, acquisitionNumber: number): Entry[] {
  const { instance } = ctx;
  return [
    el('AcquisitionNumber', acquisitionNumber),
    el('AcquisitionDate', instance.contentDate),
    el('AcquisitionTime', instance.contentTime),
  ];
}

/**
 * General Image Module, C.7.6.1. Patient Orientation is Type 2C: needed (and left empty, unknown)
 * when the image has no Image Plane Module. Content Date and Time are Type 2C for images in a
 * temporally related series; written always.
 */
export function generalImageModule(ctx: Context, withImagePlane: boolean): Entry[] {
  const { instance } = ctx;
  return [
    el('InstanceNumber', instance.number),
    ...(withImagePlane ? [] : [el('PatientOrientation', undefined)]),
    el('ContentDate', instance.contentDate),
    el('ContentTime', instance.contentTime),
    el('BurnedInAnnotation', 'NO'),
    el('LossyImageCompression', '00'),
  ];
}

export interface ImagePlane {
  readonly pixelSpacing: readonly [number, number];
  readonly imageOrientationPatient: readonly number[];
  readonly imagePositionPatient: readonly [number, number, number];
  readonly sliceThickness: number;
  readonly spacingBetweenSlices?: number;
  readonly sliceLocation: number;
}

/** Image Plane Module, C.7.6.2. */
export function imagePlaneModule(p: ImagePlane): Entry[] {
  return [
    el('PixelSpacing', p.pixelSpacing),
    el('ImageOrientationPatient', p.imageOrientationPatient),
    el('ImagePositionPatient', p.imagePositionPatient),
    el('SliceThickness', p.sliceThickness),
    ...(p.spacingBetweenSlices !== undefined ? [el('SpacingBetweenSlices', p.spacingBetweenSlices)] : []),
    el('SliceLocation', p.sliceLocation),
  ];
}

export interface ImagePixel {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: 1 | 3;
  readonly photometricInterpretation: 'MONOCHROME2' | 'RGB';
  readonly bitsAllocated: 8 | 16;
  readonly bitsStored: number;
  readonly pixelRepresentation: 0 | 1;
  readonly pixelData: Buffer;
}

/** Image Pixel Module, C.7.6.3. Planar Configuration is Type 1C: present when there are 3 samples. */
export function imagePixelModule(p: ImagePixel): Entry[] {
  return [
    el('SamplesPerPixel', p.samplesPerPixel),
    el('PhotometricInterpretation', p.photometricInterpretation),
    ...(p.samplesPerPixel > 1 ? [el('PlanarConfiguration', 0)] : []),
    el('Rows', p.rows),
    el('Columns', p.columns),
    el('BitsAllocated', p.bitsAllocated),
    el('BitsStored', p.bitsStored),
    el('HighBit', p.bitsStored - 1),
    el('PixelRepresentation', p.pixelRepresentation),
    el('PixelData', p.pixelData, p.bitsAllocated === 8 ? 'OB' : 'OW'),
  ];
}

/** VOI LUT Module, C.11.2: a default window so viewers open the image sensibly. */
export function voiLutModule(center: number, width: number, explanation: string): Entry[] {
  return [el('WindowCenter', center), el('WindowWidth', width), el('WindowCenterWidthExplanation', explanation)];
}

/** SOP Common Module, C.12.1. */
export function sopCommonModule(ctx: Context, creation: { date: string; time: string }): Entry[] {
  return [
    el('SpecificCharacterSet', ctx.patient.charset),
    el('InstanceCreationDate', creation.date),
    el('InstanceCreationTime', creation.time),
    el('SOPClassUID', ctx.instance.sopClassUID),
    el('SOPInstanceUID', ctx.instance.sopInstanceUID),
  ];
}

// ---- CT Image IOD, A.3 -------------------------------------------------------------------------

export interface CtImage {
  readonly frameOfReferenceUID: string;
  readonly plane: ImagePlane;
  readonly pixel: ImagePixel;
  readonly rescaleIntercept: number;
  readonly pixelPaddingValue: number;
  readonly creation: { date: string; time: string };
}

/** CT Image Module, C.8.2.1. */
function ctImageModule(ct: CtImage): Entry[] {
  return [
    el('ImageType', ['ORIGINAL', 'PRIMARY', 'AXIAL']),
    el('ScanOptions', 'HELICAL_CT'),
    el('KVP', 120),
    el('DataCollectionDiameter', 500),
    el('ReconstructionDiameter', ct.pixel.columns * ct.plane.pixelSpacing[1]),
    el('GantryDetectorTilt', 0),
    el('TableHeight', 150),
    el('RotationDirection', 'CW'),
    el('ExposureTime', 500),
    el('XRayTubeCurrent', 200),
    el('Exposure', 100),
    el('ConvolutionKernel', 'STANDARD'),
    el('RescaleIntercept', ct.rescaleIntercept),
    el('RescaleSlope', 1),
    el('RescaleType', 'HU'),
  ];
}

export function ctImageDataSet(ctx: Context, ct: CtImage): DataSet {
  return buildDataSet([
    ...sopCommonModule(ctx, ct.creation),
    ...patientModule(ctx.patient),
    ...generalStudyModule(ctx),
    ...patientStudyModule(ctx),
    ...generalSeriesModule(ctx, 'HFS'),
    ...frameOfReferenceModule(ct.frameOfReferenceUID),
    ...generalEquipmentModule(ctx),
    ...generalAcquisitionModule(ctx, 1),
    ...generalImageModule(ctx, true),
    ...imagePlaneModule(ct.plane),
    ...imagePixelModule(ct.pixel),
    // Image Pixel (C.7.6.3): the value outside the reconstruction circle, as signed as the pixels.
    el('PixelPaddingValue', ct.pixelPaddingValue, ct.pixel.pixelRepresentation === 1 ? 'SS' : 'US'),
    ...ctImageModule(ct),
    ...voiLutModule(40, 400, 'SOFT TISSUE'),
  ]);
}

// ---- MR Image IOD, A.4 -------------------------------------------------------------------------

export interface MrImage {
  readonly frameOfReferenceUID: string;
  readonly plane: ImagePlane;
  readonly pixel: ImagePixel;
  readonly creation: { date: string; time: string };
}

/** MR Image Module, C.8.3.1: a T1-weighted 2D spin echo. */
function mrImageModule(): Entry[] {
  return [
    el('ImageType', ['ORIGINAL', 'PRIMARY', 'OTHER']),
    el('ScanningSequence', 'SE'),
    el('SequenceVariant', 'NONE'),
    el('ScanOptions', undefined),
    el('MRAcquisitionType', '2D'),
    el('SequenceName', 'se2d1'),
    el('RepetitionTime', 500),
    el('EchoTime', 15),
    el('EchoTrainLength', 1),
    el('NumberOfAverages', 1),
    el('ImagingFrequency', 63.87),
    el('ImagedNucleus', '1H'),
    el('EchoNumbers', 1),
    el('MagneticFieldStrength', 1.5),
    el('FlipAngle', 90),
  ];
}

export function mrImageDataSet(ctx: Context, mr: MrImage): DataSet {
  return buildDataSet([
    ...sopCommonModule(ctx, mr.creation),
    ...patientModule(ctx.patient),
    ...generalStudyModule(ctx),
    ...patientStudyModule(ctx),
    ...generalSeriesModule(ctx, 'HFS'),
    ...frameOfReferenceModule(mr.frameOfReferenceUID),
    ...generalEquipmentModule(ctx),
    ...generalAcquisitionModule(ctx, 1),
    ...generalImageModule(ctx, true),
    ...imagePlaneModule(mr.plane),
    ...imagePixelModule(mr.pixel),
    ...mrImageModule(),
    ...voiLutModule(600, 1200, 'T1 BRAIN'),
  ]);
}

// ---- US Multi-frame Image IOD, A.7 -------------------------------------------------------------

export interface UsMultiFrameImage {
  readonly pixel: ImagePixel;
  readonly numberOfFrames: number;
  /** Milliseconds between frames. */
  readonly frameTime: number;
  readonly creation: { date: string; time: string };
}

/**
 * US Image Module, C.8.5.6. Image Type value 4 is a hexadecimal bit map of the modes shown
 * (C.8.5.6.1.1): 0001 2D imaging + 0010 colour Doppler. Value 3 TTE: transthoracic echo.
 */
function usImageModule(): Entry[] {
  return [
    el('ImageType', ['ORIGINAL', 'PRIMARY', 'TTE', '0011']),
    el('UltrasoundColorDataPresent', 1),
  ];
}

/** Cine Module, C.7.6.5: Frame Time is Type 1C, required as the Frame Increment Pointer points at it. */
function cineModule(us: UsMultiFrameImage): Entry[] {
  return [
    el('FrameTime', us.frameTime),
    el('CineRate', Math.round(1000 / us.frameTime)), // IS: frames per second, whole
    el('RecommendedDisplayFrameRate', Math.round(1000 / us.frameTime)),
    el('PreferredPlaybackSequencing', 0), // looping
  ];
}

/** Multi-frame Module, C.7.6.6. */
function multiFrameModule(us: UsMultiFrameImage): Entry[] {
  return [el('NumberOfFrames', us.numberOfFrames), el('FrameIncrementPointer', attributeTag('FrameTime'))];
}

export function usMultiFrameDataSet(ctx: Context, us: UsMultiFrameImage): DataSet {
  return buildDataSet([
    ...sopCommonModule(ctx, us.creation),
    ...patientModule(ctx.patient),
    ...generalStudyModule(ctx),
    ...patientStudyModule(ctx),
    ...generalSeriesModule(ctx),
    ...generalEquipmentModule(ctx),
    ...generalAcquisitionModule(ctx, 1),
    ...generalImageModule(ctx, false),
    ...imagePixelModule(us.pixel),
    ...cineModule(us),
    ...multiFrameModule(us),
    ...usImageModule(),
  ]);
}

// ---- Basic Text SR IOD, A.35.1 -----------------------------------------------------------------

/** A content item of an SR tree (C.17.3): a container or a text, with its relationship to its parent. */
export type ContentItem =
  | { readonly kind: 'CONTAINER'; readonly relationship?: string; readonly concept: DataSet; readonly children: readonly ContentItem[] }
  | { readonly kind: 'TEXT'; readonly relationship: string; readonly concept: DataSet; readonly text: string }
  | { readonly kind: 'PNAME'; readonly relationship: string; readonly concept: DataSet; readonly name: string };

/** Document Content Macro and Document Relationship Macro (C.17.3, Tables C.17-5 and C.17-6). */
function contentItemEntries(item: ContentItem, charset: SampleCharset): Entry[] {
  const entries: Entry[] = [el('ValueType', item.kind), el('ConceptNameCodeSequence', [item.concept])];
  if (item.relationship) entries.push(el('RelationshipType', item.relationship));
  switch (item.kind) {
    case 'CONTAINER':
      entries.push(el('ContinuityOfContent', 'SEPARATE'));
      if (item.children.length > 0) {
        entries.push(el('ContentSequence', item.children.map((c) => buildDataSet(contentItemEntries(c, charset)))));
      }
      break;
    case 'TEXT':
      entries.push(el('TextValue', text(item.text, charset)));
      break;
    case 'PNAME':
      entries.push(el('PersonName', text(item.name, charset)));
      break;
  }
  return entries;
}

export interface BasicTextSr {
  readonly root: ContentItem & { kind: 'CONTAINER' };
  readonly creation: { date: string; time: string };
}

export function basicTextSrDataSet(ctx: Context, sr: BasicTextSr): DataSet {
  const { series, instance } = ctx;
  return buildDataSet([
    ...sopCommonModule(ctx, sr.creation),
    ...patientModule(ctx.patient),
    ...generalStudyModule(ctx),
    ...patientStudyModule(ctx),
    // SR Document Series Module, C.17.1.
    el('Modality', 'SR'),
    el('SeriesInstanceUID', series.instanceUID),
    el('SeriesNumber', series.number),
    el('SeriesDate', series.date),
    el('SeriesTime', series.time),
    el('SeriesDescription', text(series.description, ctx.patient.charset)),
    el('ReferencedPerformedProcedureStepSequence', []),
    ...generalEquipmentModule(ctx),
    // SR Document General Module, C.17.2.
    el('InstanceNumber', instance.number),
    el('CompletionFlag', 'COMPLETE'),
    el('VerificationFlag', 'UNVERIFIED'),
    el('ContentDate', instance.contentDate),
    el('ContentTime', instance.contentTime),
    el('PerformedProcedureCodeSequence', []),
    // SR Document Content Module, C.17.3: the root is a CONTAINER with no relationship.
    ...contentItemEntries(sr.root, ctx.patient.charset),
  ]);
}

// ---- Encapsulated PDF IOD, A.45.1 --------------------------------------------------------------

export interface EncapsulatedPdf {
  readonly documentTitle: string;
  readonly concept: DataSet;
  readonly pdf: Buffer;
  readonly creation: { date: string; time: string };
}

export function encapsulatedPdfDataSet(ctx: Context, doc: EncapsulatedPdf): DataSet {
  const { series, instance } = ctx;
  return buildDataSet([
    ...sopCommonModule(ctx, doc.creation),
    ...patientModule(ctx.patient),
    ...generalStudyModule(ctx),
    ...patientStudyModule(ctx),
    // Encapsulated Document Series Module, C.24.1.
    el('Modality', 'DOC'),
    el('SeriesInstanceUID', series.instanceUID),
    el('SeriesNumber', series.number),
    el('SeriesDate', series.date),
    el('SeriesTime', series.time),
    el('SeriesDescription', text(series.description, ctx.patient.charset)),
    ...generalEquipmentModule(ctx),
    // SC Equipment Module, C.8.6.1: the document was made by software, not scanned.
    el('ConversionType', 'SYN'),
    // Encapsulated Document Module, C.24.2.
    el('InstanceNumber', instance.number),
    el('ContentDate', instance.contentDate),
    el('ContentTime', instance.contentTime),
    el('AcquisitionDateTime', `${instance.contentDate}${instance.contentTime}`),
    el('BurnedInAnnotation', 'NO'),
    el('DocumentTitle', text(doc.documentTitle, ctx.patient.charset)),
    el('ConceptNameCodeSequence', [doc.concept]),
    el('MIMETypeOfEncapsulatedDocument', 'application/pdf'),
    el('EncapsulatedDocument', doc.pdf, 'OB'),
    // The value is padded to even length; this says where the PDF really ends.
    el('EncapsulatedDocumentLength', doc.pdf.length),
  ]);
}
