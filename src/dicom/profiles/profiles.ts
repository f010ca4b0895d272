/**
 * General Purpose media application profiles, PS3.11 Annexes D (CD-R, BD), H (DVD) and J (USB and
 * flash), as data: which transfer syntaxes a file may have on the medium, and which extra keys the
 * directory records carry (Tables D.3-2 and H.3-2, J reusing H).
 */
import { DcmsafeError } from '../../errors/index.js';
import type { Tag } from '../tag.js';
import { T } from '../tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../transfer-syntax.js';

export type PlainProfileId = 'STD-GEN-CD' | 'STD-GEN-DVD-JPEG' | 'STD-GEN-DVD-J2K' | 'STD-GEN-USB-JPEG' | 'STD-GEN-USB-J2K' | 'STD-GEN-BD';
/** The secure twins (PS3.11 D.3.5, H.3.5, J.3.5): the same media and syntaxes, every file a Secure DICOM File. */
export type SecureProfileId = 'STD-GEN-SEC-CD' | 'STD-GEN-SEC-DVD-JPEG' | 'STD-GEN-SEC-DVD-J2K' | 'STD-GEN-SEC-USB-JPEG' | 'STD-GEN-SEC-USB-J2K' | 'STD-GEN-SEC-BD';
export type ProfileId = PlainProfileId | SecureProfileId;

export type MediaKind = 'cd' | 'dvd' | 'bd' | 'usb' | 'zip' | 'folder';

/** Type of a key in a directory record: 1 must have a value, 2 must be present, 1C present if the instance has it. */
export type KeyType = '1' | '1C' | '2';

export interface ExtraKey {
  readonly tag: Tag;
  readonly type: KeyType;
}

export interface ApplicationProfile {
  readonly id: ProfileId;
  /** Every file, the DICOMDIR included, is a Secure DICOM File (PS3.10 §7.4, PS3.15 D.1). */
  readonly secure: boolean;
  readonly annex: 'D' | 'H' | 'J';
  readonly title: string;
  readonly transferSyntaxes: readonly string[];
  /** Keys added to PATIENT, SERIES and image-level records beyond PS3.3 Annex F. */
  readonly extraKeys: {
    readonly patient: readonly ExtraKey[];
    readonly series: readonly ExtraKey[];
    readonly image: readonly ExtraKey[];
  };
}

const JPEG = ['1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51'];
const J2K = ['1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.91'];

/** Table D.3-2: STD-GEN-CD (and the other Annex D profiles) add Image Type and Referenced Image Sequence. */
const ANNEX_D_KEYS = {
  patient: [],
  series: [],
  image: [
    { tag: T.ImageType, type: '1C' },
    { tag: T.ReferencedImageSequence, type: '1C' },
  ],
} as const satisfies ApplicationProfile['extraKeys'];

/** Table H.3-2 (DVD), also used by Annex J (USB): more keys, all "if present in the instance" but Rows and Columns. */
const ANNEX_H_KEYS = {
  patient: [
    { tag: T.PatientBirthDate, type: '1C' },
    { tag: T.PatientSex, type: '1C' },
  ],
  series: [
    { tag: T.InstitutionName, type: '1C' },
    { tag: T.InstitutionAddress, type: '1C' },
    { tag: T.PerformingPhysicianName, type: '1C' },
  ],
  image: [
    { tag: T.ImageType, type: '1C' },
    { tag: T.CalibrationImage, type: '1C' },
    { tag: T.ReferencedImageSequence, type: '1C' },
    { tag: T.LossyImageCompressionRatio, type: '1C' },
    { tag: T.FrameOfReferenceUID, type: '1C' },
    { tag: T.SynchronizationFrameOfReferenceUID, type: '1C' },
    { tag: T.NumberOfFrames, type: '1C' },
    { tag: T.AcquisitionTimeSynchronized, type: '1C' },
    { tag: T.AcquisitionDateTime, type: '1C' },
    { tag: T.ImagePositionPatient, type: '1C' },
    { tag: T.ImageOrientationPatient, type: '1C' },
    { tag: T.PixelSpacing, type: '1C' },
    { tag: T.Rows, type: '1' },
    { tag: T.Columns, type: '1' },
  ],
} as const satisfies ApplicationProfile['extraKeys'];

const PLAIN_PROFILES: readonly ApplicationProfile[] = [
  { id: 'STD-GEN-CD', secure: false, annex: 'D', title: 'General Purpose CD-R Interchange', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN], extraKeys: ANNEX_D_KEYS },
  { id: 'STD-GEN-BD', secure: false, annex: 'D', title: 'General Purpose BD Interchange', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN], extraKeys: ANNEX_D_KEYS },
  { id: 'STD-GEN-DVD-JPEG', secure: false, annex: 'H', title: 'General Purpose DVD Interchange with JPEG', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...JPEG], extraKeys: ANNEX_H_KEYS },
  { id: 'STD-GEN-DVD-J2K', secure: false, annex: 'H', title: 'General Purpose DVD Interchange with JPEG 2000', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...J2K], extraKeys: ANNEX_H_KEYS },
  { id: 'STD-GEN-USB-JPEG', secure: false, annex: 'J', title: 'General Purpose USB and Flash Memory with JPEG', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...JPEG], extraKeys: ANNEX_H_KEYS },
  { id: 'STD-GEN-USB-J2K', secure: false, annex: 'J', title: 'General Purpose USB and Flash Memory with JPEG 2000', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...J2K], extraKeys: ANNEX_H_KEYS },
];

function secureTwinOf(p: ApplicationProfile): ApplicationProfile {
  return { ...p, id: p.id.replace('STD-GEN-', 'STD-GEN-SEC-') as SecureProfileId, secure: true, title: `${p.title}, Secure` };
}

export const PROFILES: readonly ApplicationProfile[] = [...PLAIN_PROFILES, ...PLAIN_PROFILES.map(secureTwinOf)];

/** The secure twin of a plain profile (a secure profile is its own twin). */
export function secureTwin(profile: ApplicationProfile): ApplicationProfile {
  return profile.secure ? profile : findProfile(profile.id.replace('STD-GEN-', 'STD-GEN-SEC-'));
}

/**
 * The profile used when none is named. A folder or ZIP has no profile of its own in PS3.11; we use
 * STD-GEN-CD there, because every reader must read Explicit VR Little Endian.
 */
export const DEFAULT_PROFILE_FOR_MEDIA: Record<MediaKind, PlainProfileId> = {
  cd: 'STD-GEN-CD',
  dvd: 'STD-GEN-DVD-JPEG',
  bd: 'STD-GEN-BD',
  usb: 'STD-GEN-USB-JPEG',
  zip: 'STD-GEN-CD',
  folder: 'STD-GEN-CD',
};

export function findProfile(id: string): ApplicationProfile {
  const p = PROFILES.find((x) => x.id === id.toUpperCase());
  if (!p) throw new DcmsafeError('PROFILE_UNKNOWN', `unknown application profile ${id}; known: ${PROFILES.map((x) => x.id).join(', ')}`, { profile: id });
  return p;
}

export function profileAllows(profile: ApplicationProfile, transferSyntaxUID: string): boolean {
  return profile.transferSyntaxes.includes(transferSyntaxUID);
}

/** Profiles that take a transfer syntax as it is: named in the error when a file cannot be placed. */
export function profilesAllowing(transferSyntaxUID: string): ProfileId[] {
  return PLAIN_PROFILES.filter((p) => profileAllows(p, transferSyntaxUID)).map((p) => p.id);
}
