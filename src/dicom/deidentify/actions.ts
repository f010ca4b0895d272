/**
 * PS3.15 Annex E.1 and E.3: the action codes of Table E.1-1 (and their combinations, as Table
 * E.1-1a defines them), the options of the Basic Application Level Confidentiality Profile, and the
 * codes of CID 7050 "De-identification Method" that name them in De-identification Method Code
 * Sequence (0012,0064). The table itself is data (table-e1-1.ts); this module resolves which action
 * applies to a tag under a set of options.
 */
import { tagElement, tagGroup, type Tag } from '../tag.js';
import { TABLE_E1_1 } from './table-e1-1.js';

/**
 * D replace with a non-empty dummy; Z replace with an empty value (or a dummy); X remove; K keep
 * (sequences are still processed); C clean; U replace a UID consistently; the combinations pick by
 * the attribute's Type in its IOD (E.1-1a).
 */
export type Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'Z/D' | 'X/Z' | 'X/D' | 'X/Z/D' | 'X/Z/U*';

/** The option columns of Table E.1-1 (PS3.15 E.3.1 to E.3.11). */
export type OptionKey =
  | 'retainSafePrivate'
  | 'retainUIDs'
  | 'retainDeviceIdentity'
  | 'retainInstitutionIdentity'
  | 'retainPatientCharacteristics'
  | 'retainLongitudinalFullDates'
  | 'retainLongitudinalModifiedDates'
  | 'cleanDescriptors'
  | 'cleanStructuredContent'
  | 'cleanGraphics';

export interface TableRow {
  /** "gggg,eeee" in lower case hex; x stands for any digit (curves 50xx, overlays 60xx); "gggg,eeee" itself is the private attributes row. */
  readonly tag: string;
  readonly name: string;
  /** "In Std. Comp. IOD" column. */
  readonly inStandardIOD: boolean;
  readonly basic: Action;
  readonly options: Partial<Record<OptionKey, Action>>;
}

/** The options a user may choose, by their command-line names (the E.3 option names). */
export const OPTION_NAMES: Readonly<Record<string, OptionKey>> = {
  'retain-longitudinal-full-dates': 'retainLongitudinalFullDates',
  'retain-longitudinal-modified-dates': 'retainLongitudinalModifiedDates',
  'retain-patient-characteristics': 'retainPatientCharacteristics',
  'retain-device-identity': 'retainDeviceIdentity',
  'retain-uids': 'retainUIDs',
  'retain-safe-private': 'retainSafePrivate',
  'retain-institution-identity': 'retainInstitutionIdentity',
  'clean-descriptors': 'cleanDescriptors',
};

export interface Code {
  readonly value: string;
  readonly scheme: 'DCM';
  readonly meaning: string;
}

/** CID 7050 (PS3.16): the profile and each option (checked against pydicom's CID 7050 concepts). */
export const CID_7050 = {
  basic: { value: '113100', scheme: 'DCM', meaning: 'Basic Application Confidentiality Profile' },
  cleanPixelData: { value: '113101', scheme: 'DCM', meaning: 'Clean Pixel Data Option' },
  cleanRecognizableVisualFeatures: { value: '113102', scheme: 'DCM', meaning: 'Clean Recognizable Visual Features Option' },
  cleanGraphics: { value: '113103', scheme: 'DCM', meaning: 'Clean Graphics Option' },
  cleanStructuredContent: { value: '113104', scheme: 'DCM', meaning: 'Clean Structured Content Option' },
  cleanDescriptors: { value: '113105', scheme: 'DCM', meaning: 'Clean Descriptors Option' },
  retainLongitudinalFullDates: { value: '113106', scheme: 'DCM', meaning: 'Retain Longitudinal Temporal Information Full Dates Option' },
  retainLongitudinalModifiedDates: { value: '113107', scheme: 'DCM', meaning: 'Retain Longitudinal Temporal Information Modified Dates Option' },
  retainPatientCharacteristics: { value: '113108', scheme: 'DCM', meaning: 'Retain Patient Characteristics Option' },
  retainDeviceIdentity: { value: '113109', scheme: 'DCM', meaning: 'Retain Device Identity Option' },
  retainUIDs: { value: '113110', scheme: 'DCM', meaning: 'Retain UIDs Option' },
  retainSafePrivate: { value: '113111', scheme: 'DCM', meaning: 'Retain Safe Private Option' },
  retainInstitutionIdentity: { value: '113112', scheme: 'DCM', meaning: 'Retain Institution Identity Option' },
} as const satisfies Record<string, Code>;

interface Pattern {
  readonly value: number;
  readonly mask: number;
  readonly row: TableRow;
}

const exact = new Map<Tag, TableRow>();
const patterns: Pattern[] = [];
let privateRow: TableRow | undefined;
for (const row of TABLE_E1_1) {
  if (row.tag === 'gggg,eeee') {
    privateRow = row;
    continue;
  }
  const hex = row.tag.replace(',', '');
  if (!hex.includes('x')) {
    exact.set(Number.parseInt(hex, 16) >>> 0, row);
    continue;
  }
  let value = 0;
  let mask = 0;
  for (const c of hex) {
    value = (value << 4) | (c === 'x' ? 0 : Number.parseInt(c, 16));
    mask = (mask << 4) | (c === 'x' ? 0 : 0xf);
  }
  patterns.push({ value: value >>> 0, mask: mask >>> 0, row });
}

export function isPrivateTag(tag: Tag): boolean {
  return tagGroup(tag) % 2 === 1;
}

/** The row of Table E.1-1 for a tag, if it has one (private tags: the "private attributes" row). */
export function tableRow(tag: Tag): TableRow | undefined {
  if (isPrivateTag(tag)) return privateRow;
  const found = exact.get(tag);
  if (found) return found;
  // Repeating groups (PS3.5 §7.6): only the even groups 5000-501E and 6000-601E repeat.
  return patterns.find((p) => ((tag & p.mask) >>> 0) === p.value && tagElement(tag) >= 0 && (tagGroup(tag) & 0xff01) === (p.value >>> 16))?.row;
}

/** The action for a row under a set of options: an option's action, when it has one, overrides the profile's (E.1). */
export function actionFor(row: TableRow, options: ReadonlySet<OptionKey>): Action {
  for (const o of options) {
    const a = row.options[o];
    if (a) return a;
  }
  return row.basic;
}
