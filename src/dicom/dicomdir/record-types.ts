/**
 * Directory record types and their keys, PS3.3 Annex F.4 (Table F.4-1: which record may hold which)
 * and F.5 (the keys of each type), with the SOP Class → record type table that PS3.11 media creators
 * use. Tables, not if-chains: a new SOP class or record type is one line.
 */
import { lookupKeyword } from '../dictionary.js';
import type { Tag } from '../tag.js';
import { T } from '../tags.js';

/** Key types in a record (PS3.3 F.5): 1 needs a value, 2 must be present (maybe empty), 1C present if the instance has it. */
export type RecordKeyType = '1' | '2' | '1C';

export interface RecordKey {
  readonly tag: Tag;
  readonly type: RecordKeyType;
}

function tagOf(keyword: string): Tag {
  const e = lookupKeyword(keyword);
  if (!e) throw new Error(`not in the dictionary: ${keyword}`);
  return e.tag;
}

const k = (keyword: string, type: RecordKeyType): RecordKey => ({ tag: tagOf(keyword), type });

/** Content Identification Macro (PS3.3 Table 10-12) as record keys. */
const CONTENT_IDENTIFICATION: readonly RecordKey[] = [
  k('InstanceNumber', '1'),
  k('ContentDate', '1'),
  k('ContentTime', '1'),
  k('ContentLabel', '1'),
  k('ContentDescription', '2'),
  k('ContentCreatorName', '2'),
];

/** PS3.3 F.5.x: keys of each record type, in the instance's terms. */
export const RECORD_KEYS: Readonly<Record<string, readonly RecordKey[]>> = {
  PATIENT: [k('PatientName', '2'), k('PatientID', '1')],
  STUDY: [
    k('StudyDate', '1'),
    k('StudyTime', '1'),
    k('StudyDescription', '2'),
    // 1C in F.5.2 (needed when the record references no file); written always, as dcmtk and pydicom do.
    k('StudyInstanceUID', '1'),
    k('StudyID', '1'),
    k('AccessionNumber', '2'),
  ],
  SERIES: [k('Modality', '1'), k('SeriesInstanceUID', '1'), k('SeriesNumber', '1')],
  IMAGE: [k('InstanceNumber', '1')],
  'RT DOSE': [k('InstanceNumber', '1'), k('DoseSummationType', '1')],
  'RT STRUCTURE SET': [k('InstanceNumber', '1'), k('StructureSetLabel', '1'), k('StructureSetDate', '2'), k('StructureSetTime', '2')],
  'RT PLAN': [k('InstanceNumber', '1'), k('RTPlanLabel', '1'), k('RTPlanDate', '2'), k('RTPlanTime', '2')],
  'RT TREAT RECORD': [k('InstanceNumber', '1'), k('TreatmentDate', '2'), k('TreatmentTime', '2')],
  PRESENTATION: [
    k('PresentationCreationDate', '1'),
    k('PresentationCreationTime', '1'),
    k('InstanceNumber', '1'),
    k('ContentLabel', '1'),
    k('ContentDescription', '2'),
    k('ContentCreatorName', '2'),
    k('ReferencedSeriesSequence', '1C'),
    k('BlendingSequence', '1C'),
  ],
  WAVEFORM: [k('InstanceNumber', '1'), k('ContentDate', '1'), k('ContentTime', '1')],
  'RAW DATA': [k('InstanceNumber', '1'), k('ContentDate', '1'), k('ContentTime', '1')],
  'SR DOCUMENT': [
    k('InstanceNumber', '1'),
    k('CompletionFlag', '1'),
    k('VerificationFlag', '1'),
    k('ContentDate', '1'),
    k('ContentTime', '1'),
    k('VerificationDateTime', '1C'),
    k('ConceptNameCodeSequence', '1'),
    k('ContentSequence', '1C'),
  ],
  'KEY OBJECT DOC': [
    k('InstanceNumber', '1'),
    k('ContentDate', '1'),
    k('ContentTime', '1'),
    k('ConceptNameCodeSequence', '1'),
    k('ContentSequence', '1C'),
  ],
  SPECTROSCOPY: [
    k('ImageType', '1'),
    k('ContentDate', '1'),
    k('ContentTime', '1'),
    k('InstanceNumber', '1'),
    k('ReferencedImageEvidenceSequence', '1C'),
    k('NumberOfFrames', '1'),
    k('Rows', '1'),
    k('Columns', '1'),
    k('DataPointRows', '1'),
    k('DataPointColumns', '1'),
  ],
  'ENCAP DOC': [
    k('ContentDate', '2'),
    k('ContentTime', '2'),
    k('InstanceNumber', '1'),
    k('DocumentTitle', '2'),
    k('HL7InstanceIdentifier', '1C'),
    k('ConceptNameCodeSequence', '2'),
    k('MIMETypeOfEncapsulatedDocument', '1'),
  ],
  REGISTRATION: CONTENT_IDENTIFICATION,
  FIDUCIAL: CONTENT_IDENTIFICATION,
  'VALUE MAP': CONTENT_IDENTIFICATION,
  MEASUREMENT: CONTENT_IDENTIFICATION,
  SURFACE: CONTENT_IDENTIFICATION,
  TRACT: CONTENT_IDENTIFICATION,
  STEREOMETRIC: [],
  PLAN: [],
  'SURFACE SCAN': [k('ContentDate', '1'), k('ContentTime', '1')],
  ASSESSMENT: [k('InstanceNumber', '1'), k('InstanceCreationDate', '1'), k('InstanceCreationTime', '2')],
  RADIOTHERAPY: [k('InstanceNumber', '1'), k('UserContentLabel', '1C'), k('UserContentLongLabel', '1C'), k('ContentDescription', '2'), k('ContentCreatorName', '2')],
  'HANGING PROTOCOL': [
    k('HangingProtocolCreator', '1'),
    k('HangingProtocolCreationDateTime', '1'),
    k('HangingProtocolDefinitionSequence', '1'),
    k('NumberOfPriorsReferenced', '1'),
    k('HangingProtocolUserIdentificationCodeSequence', '2'),
  ],
  PALETTE: [k('ContentLabel', '1'), k('ContentDescription', '2')],
  IMPLANT: [k('Manufacturer', '1'), k('ImplantName', '1'), k('ImplantSize', '1C'), k('ImplantPartNumber', '1')],
  'IMPLANT ASSY': [k('ImplantAssemblyTemplateName', '1'), k('Manufacturer', '1'), k('ProcedureTypeCodeSequence', '1')],
  'IMPLANT GROUP': [k('ImplantTemplateGroupName', '1'), k('ImplantTemplateGroupIssuer', '1')],
};

/** Record types that sit in the root directory entity and reference a file directly (Table F.4-1). */
export const TOP_LEVEL_RECORD_TYPES: ReadonlySet<string> = new Set(['HANGING PROTOCOL', 'PALETTE', 'IMPLANT', 'IMPLANT ASSY', 'IMPLANT GROUP']);

/** Every record type a reader should know (PS3.3 F.4 and F.5), for validating directories we read. */
export const KNOWN_RECORD_TYPES: ReadonlySet<string> = new Set([...Object.keys(RECORD_KEYS), 'PRIVATE', 'ANNOTATION', 'INVENTORY', 'WAVEFORM PRESENTATION', 'TOPIC', 'VISIT', 'RESULTS', 'INTERPRETATION', 'STUDY COMPONENT', 'STORED PRINT', 'RT TREAT RECORD', 'HL7 STRUC DOC', 'OVERLAY', 'MODALITY LUT', 'VOI LUT', 'CURVE', 'MRDR']);

/** SOP classes whose instances go in the root, not under a patient. */
const TOP_LEVEL_SOP_CLASSES: Readonly<Record<string, string>> = {
  '1.2.840.10008.5.1.4.38.1': 'HANGING PROTOCOL', // Hanging Protocol Storage
  '1.2.840.10008.5.1.4.39.1': 'PALETTE', // Color Palette Storage
  '1.2.840.10008.5.1.4.43.1': 'IMPLANT', // Generic Implant Template Storage
  '1.2.840.10008.5.1.4.44.1': 'IMPLANT ASSY', // Implant Assembly Template Storage
  '1.2.840.10008.5.1.4.45.1': 'IMPLANT GROUP', // Implant Template Group Storage
};

/** Instances of these SOP classes belong to no patient (palettes, hanging protocols, implant templates). */
export function isPatientIndependent(sopClassUID: string): boolean {
  return Object.hasOwn(TOP_LEVEL_SOP_CLASSES, sopClassUID);
}

/** SOP class → leaf record type under SERIES. Anything not here and not an encapsulated document is an IMAGE. */
const LEAF_SOP_CLASSES: Readonly<Record<string, string>> = {
  '1.2.840.10008.5.1.4.1.1.481.2': 'RT DOSE',
  '1.2.840.10008.5.1.4.1.1.481.3': 'RT STRUCTURE SET',
  '1.2.840.10008.5.1.4.1.1.481.5': 'RT PLAN', // RT Plan Storage
  '1.2.840.10008.5.1.4.1.1.481.8': 'RT PLAN', // RT Ion Plan Storage
  '1.2.840.10008.5.1.4.1.1.481.4': 'RT TREAT RECORD',
  '1.2.840.10008.5.1.4.1.1.481.6': 'RT TREAT RECORD',
  '1.2.840.10008.5.1.4.1.1.481.7': 'RT TREAT RECORD',
  '1.2.840.10008.5.1.4.1.1.481.9': 'RT TREAT RECORD',
  '1.2.840.10008.5.1.4.1.1.11.1': 'PRESENTATION',
  '1.2.840.10008.5.1.4.1.1.11.2': 'PRESENTATION',
  '1.2.840.10008.5.1.4.1.1.11.3': 'PRESENTATION',
  '1.2.840.10008.5.1.4.1.1.11.4': 'PRESENTATION',
  '1.2.840.10008.5.1.4.1.1.11.5': 'PRESENTATION',
  '1.2.840.10008.5.1.4.1.1.11.6': 'PRESENTATION', // Grayscale Planar MPR Volumetric Presentation State
  '1.2.840.10008.5.1.4.1.1.11.7': 'PRESENTATION', // Compositing Planar MPR Volumetric Presentation State
  '1.2.840.10008.5.1.4.1.1.11.8': 'PRESENTATION', // Advanced Blending Presentation State
  '1.2.840.10008.5.1.4.1.1.11.9': 'PRESENTATION', // Volume Rendering Volumetric Presentation State
  '1.2.840.10008.5.1.4.1.1.11.10': 'PRESENTATION', // Segmented Volume Rendering Volumetric Presentation State
  '1.2.840.10008.5.1.4.1.1.11.11': 'PRESENTATION', // Multiple Volume Rendering Volumetric Presentation State
  '1.2.840.10008.5.1.4.1.1.131': 'PRESENTATION', // Basic Structured Display
  '1.2.840.10008.5.1.4.1.1.9.4.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.1.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.1.2': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.1.3': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.2.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.3.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.5.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.6.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.4.2': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.7.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.7.2': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.7.3': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.7.4': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.6.2': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.9.8.1': 'WAVEFORM',
  '1.2.840.10008.5.1.4.1.1.88.11': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.22': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.33': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.34': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.35': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.40': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.50': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.65': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.67': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.68': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.69': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.70': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.71': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.72': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.73': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.74': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.75': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.76': 'SR DOCUMENT', // Enhanced X-Ray Radiation Dose SR
  '1.2.840.10008.5.1.4.1.1.78.6': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.79.1': 'SR DOCUMENT',
  '1.2.840.10008.5.1.4.1.1.88.59': 'KEY OBJECT DOC',
  '1.2.840.10008.5.1.4.1.1.4.2': 'SPECTROSCOPY',
  '1.2.840.10008.5.1.4.1.1.66': 'RAW DATA',
  '1.2.840.10008.5.1.4.1.1.66.1': 'REGISTRATION',
  '1.2.840.10008.5.1.4.1.1.66.3': 'REGISTRATION',
  '1.2.840.10008.5.1.4.1.1.66.2': 'FIDUCIAL',
  '1.2.840.10008.5.1.4.1.1.67': 'VALUE MAP',
  '1.2.840.10008.5.1.4.1.1.77.1.5.3': 'STEREOMETRIC',
  '1.2.840.10008.5.1.4.1.1.78.1': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.78.2': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.78.3': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.78.4': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.78.5': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.78.7': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.80.1': 'MEASUREMENT',
  '1.2.840.10008.5.1.4.1.1.66.5': 'SURFACE',
  '1.2.840.10008.5.1.4.1.1.68.1': 'SURFACE SCAN',
  '1.2.840.10008.5.1.4.1.1.68.2': 'SURFACE SCAN',
  '1.2.840.10008.5.1.4.1.1.66.6': 'TRACT',
  '1.2.840.10008.5.1.4.1.1.90.1': 'ASSESSMENT',
  '1.2.840.10008.5.1.4.1.1.104.1': 'ENCAP DOC', // Encapsulated PDF
  '1.2.840.10008.5.1.4.1.1.104.2': 'ENCAP DOC', // Encapsulated CDA
  '1.2.840.10008.5.1.4.1.1.104.3': 'ENCAP DOC', // Encapsulated STL
  '1.2.840.10008.5.1.4.1.1.104.4': 'ENCAP DOC', // Encapsulated OBJ
  '1.2.840.10008.5.1.4.1.1.104.5': 'ENCAP DOC', // Encapsulated MTL
};

/** Modalities of the second-generation RT objects, which use the RADIOTHERAPY record (PS3.3 F.5.x). */
const RADIOTHERAPY_MODALITIES: ReadonlySet<string> = new Set(['RTINTENT', 'RTSEGANN', 'RTRAD']);

export interface RecordTypeChoice {
  readonly type: string;
  readonly topLevel: boolean;
  /** The SOP class is not in the table: the record type is our best guess. */
  readonly guessed: boolean;
}

export function recordTypeFor(sopClassUID: string, modality: string | undefined, hasEncapsulatedDocument: boolean): RecordTypeChoice {
  const top = TOP_LEVEL_SOP_CLASSES[sopClassUID];
  if (top) return { type: top, topLevel: true, guessed: false };
  if (modality && RADIOTHERAPY_MODALITIES.has(modality)) return { type: 'RADIOTHERAPY', topLevel: false, guessed: false };
  if (modality === 'PLAN') return { type: 'PLAN', topLevel: false, guessed: false };
  const leaf = LEAF_SOP_CLASSES[sopClassUID];
  if (leaf) return { type: leaf, topLevel: false, guessed: false };
  if (hasEncapsulatedDocument) return { type: 'ENCAP DOC', topLevel: false, guessed: true };
  // Image storage classes all live under 1.2.840.10008.5.1.4.1.1; anything else is a guess.
  return { type: 'IMAGE', topLevel: false, guessed: !sopClassUID.startsWith('1.2.840.10008.5.1.4.1.1.') };
}

/** Tags any record of any profile may copy from an instance: what the scanner keeps of each header. */
export function allRecordKeyTags(extra: readonly Tag[]): Set<Tag> {
  const tags = new Set<Tag>(extra);
  for (const keys of Object.values(RECORD_KEYS)) for (const key of keys) tags.add(key.tag);
  for (const t of [T.SpecificCharacterSet, T.PatientBirthDate, T.PatientSex]) tags.add(t);
  return tags;
}
