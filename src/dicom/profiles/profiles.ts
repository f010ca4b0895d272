/**
 * General Purpose media application profiles, PS3.11 Annexes D (CD-R, BD), H (DVD) and J (USB and
 * flash), as data: which transfer syntaxes a file may have on the medium, and which extra keys the
 * directory records carry (Tables D.3-2 and H.3-2, J reusing H).
 */
import { DcmsafeError } from '../../errors/index.js';
import type { Tag } from '../tag.js';
import { T } from '../tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../transfer-syntax.js';

export type ProfileId = 'STD-GEN-CD' | 'STD-GEN-DVD-JPEG' | 'STD-GEN-DVD-J2K' | 'STD-GEN-USB-JPEG' | 'STD-GEN-USB-J2K' | 'STD-GEN-BD';

export type MediaKind = 'cd' | 'dvd' | 'bd' | 'usb' | 'zip' | 'folder';

/** Type of a key in a directory record: 1 must have a value, 2 must be present, 1C present if the instance has it. */
export type KeyType = '1' | '1C' | '2';

export interface ExtraKey {
  readonly tag: Tag;
  readonly type: KeyType;
}

export interface ApplicationProfile {
  readonly id: ProfileId;
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

export const PROFILES: readonly ApplicationProfile[] = [
  { id: 'STD-GEN-CD', annex: 'D', title: 'General Purpose CD-R Interchange', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN], extraKeys: ANNEX_D_KEYS },
  { id: 'STD-GEN-BD', annex: 'D', title: 'General Purpose BD Interchange', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN], extraKeys: ANNEX_D_KEYS },
  { id: 'STD-GEN-DVD-JPEG', annex: 'H', title: 'General Purpose DVD Interchange with JPEG', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...JPEG], extraKeys: ANNEX_H_KEYS },
  { id: 'STD-GEN-DVD-J2K', annex: 'H', title: 'General Purpose DVD Interchange with JPEG 2000', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...J2K], extraKeys: ANNEX_H_KEYS },
  { id: 'STD-GEN-USB-JPEG', annex: 'J', title: 'General Purpose USB and Flash Memory with JPEG', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...JPEG], extraKeys: ANNEX_H_KEYS },
  { id: 'STD-GEN-USB-J2K', annex: 'J', title: 'General Purpose USB and Flash Memory with JPEG 2000', transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, ...J2K], extraKeys: ANNEX_H_KEYS },
];

/**
 * The profile used when none is named. A folder or ZIP has no profile of its own in PS3.11; we use
 * STD-GEN-CD there, because every reader must read Explicit VR Little Endian.
 */
export const DEFAULT_PROFILE_FOR_MEDIA: Record<MediaKind, ProfileId> = {
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
  return PROFILES.filter((p) => profileAllows(p, transferSyntaxUID)).map((p) => p.id);
}
