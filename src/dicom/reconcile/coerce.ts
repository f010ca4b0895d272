/**
 * Patient reconciliation of an imported instance: IHE RAD Import Reconciliation Workflow (IRWF,
 * IRWF.b), with the DICOM mechanisms it relies on:
 *   - PS3.3 C.7.1.1 Patient Module: Patient ID, Issuer of Patient ID, Other Patient IDs Sequence
 *     (0010,1002) where the foreign identifier is kept, with its issuer and Type of Patient ID;
 *   - PS3.3 C.12.1 SOP Common Module: Instance Coercion DateTime (0008,0015), and C.12.1.1.9
 *     Original Attributes Sequence (0400,0561), one item per modification, never removing items;
 *   - PS3.3 C.12.1.1.2 Specific Character Set: new text is written in the instance's repertoire.
 *
 * What goes into the Modified Attributes Sequence (0400,0550) item, following C.12.1.1.9.1:
 *   - the prior value of every top-level attribute replaced, added or removed;
 *   - an attribute that was absent or empty and got a value is listed with a zero-length value (the
 *     "may" of C.12.1.1.9.1, taken so that the item says exactly what the coercion touched);
 *   - a sequence that got an item (Other Patient IDs Sequence) is listed with its entire prior
 *     value, as C.12.1.1.9.1 asks for attributes changed inside a sequence;
 *   - Issuer of Patient ID is listed whenever Patient ID is, even if unchanged (C.12.1.1.9 note);
 *   - Original Attributes Sequence itself is not listed: it is the record, not a modified value.
 */
import { DataSet, type Element } from '../dataset.js';
import { keywordOf } from '../dictionary.js';
import { ELE, makeElement } from '../part10/writer.js';
import { formatTag, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { dataSetToExplicitLE } from '../transcode/convert.js';
import { usesSpecificCharacterSet, type VR } from '../vr.js';
import { encoderFor, isAsciiBytes, type TextEncoderFn } from './charset-encode.js';
import { reconcileError } from './errors.js';

/** Tags of reconciliation not in the shared table (a test checks them against the dictionary). */
export const RT = {
  InstanceCoercionDateTime: 0x00080015, // DT
  IssuerOfAccessionNumberSequence: 0x00080051, // SQ
  TypeOfPatientID: 0x00100022, // CS
  IssuerOfPatientIDQualifiersSequence: 0x00100024, // SQ
  OtherPatientIDsSequence: 0x00101002, // SQ
  LocalNamespaceEntityID: 0x00400031, // UT
  ModifiedAttributesSequence: 0x04000550, // SQ
  OriginalAttributesSequence: 0x04000561, // SQ
  AttributeModificationDateTime: 0x04000562, // DT
  ModifyingSystem: 0x04000563, // LO
  SourceOfPreviousValues: 0x04000564, // LO
  ReasonForTheAttributeModification: 0x04000565, // CS
} as const;

export interface LocalIdentity {
  patientId: string;
  issuerOfPatientId: string;
  /** Unicode, PN form "Family^Given". */
  patientName?: string;
  /** YYYYMMDD. */
  birthDate?: string;
  sex?: 'M' | 'F' | 'O';
  accessionNumber?: string;
  /** Local Namespace Entity ID (0040,0031) of the Issuer of Accession Number Sequence. */
  accessionIssuer?: string;
}

export interface CoercionContext {
  /** Modifying System (0400,0563), e.g. "dcmsafe 0.1.0". */
  modifyingSystem: string;
  now: Date;
}

export interface Coercion {
  /** The identity attributes replaced (and Specific Character Set, if it had to change). */
  changes: Array<{ keyword: string; from: string; to: string }>;
  /** The instance's Patient ID, when it was kept in Other Patient IDs Sequence. */
  foreignPatientId?: string;
  foreignIssuer?: string;
}

const UTF8_TERM = 'ISO_IR 192';

/** Length limits of the VRs written here, in characters (PS3.5 Table 6.2-1). */
const MAX_CHARS: Partial<Record<VR, number>> = { LO: 64, SH: 16, CS: 16 };

function conflict(message: string, data: Record<string, unknown> = {}): never {
  throw reconcileError('RECONCILE_CONFLICT', message, data);
}

/** Text a value of `vr` may hold: no backslash (value delimiter), no control characters. */
function hasControlOrBackslash(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0x5c) return true;
  }
  return false;
}

function checkText(keyword: string, vr: VR, value: string): void {
  if (hasControlOrBackslash(value)) conflict(`${keyword}: "${value}" holds a backslash or a control character, which ${vr} does not allow`, { keyword });
  if (value !== value.trim()) conflict(`${keyword}: "${value}" has leading or trailing spaces, which ${vr} does not keep`, { keyword });
  const max = MAX_CHARS[vr];
  if (max !== undefined && [...value].length > max) conflict(`${keyword}: "${value}" is longer than ${max} characters (${vr})`, { keyword });
}

function checkPersonName(value: string): void {
  checkText('PatientName', 'PN', value);
  const groups = value.split('=');
  if (groups.length > 3) conflict(`PatientName: "${value}" has more than 3 component groups`, { keyword: 'PatientName' });
  for (const g of groups) {
    if ([...g].length > 64) conflict(`PatientName: a component group of "${value}" is longer than 64 characters`, { keyword: 'PatientName' });
    if (g.split('^').length > 5) conflict(`PatientName: "${value}" has more than 5 components in a group`, { keyword: 'PatientName' });
  }
}

function validate(local: LocalIdentity, ctx: CoercionContext): void {
  const required = (keyword: string, value: string | undefined): void => {
    if (typeof value !== 'string' || value.trim() === '') conflict(`${keyword}: the local value is required`, { keyword });
  };
  required('PatientID', local.patientId);
  required('IssuerOfPatientID', local.issuerOfPatientId);
  required('ModifyingSystem', ctx.modifyingSystem);
  checkText('PatientID', 'LO', local.patientId);
  checkText('IssuerOfPatientID', 'LO', local.issuerOfPatientId);
  checkText('ModifyingSystem', 'LO', ctx.modifyingSystem);
  const optional = (keyword: string, value: string | undefined): value is string => {
    if (value === undefined) return false;
    // An empty string is more likely a bug upstream than a wish to blank the attribute.
    if (value.trim() === '') conflict(`${keyword}: give a local value or leave it out`, { keyword });
    return true;
  };
  if (optional('PatientName', local.patientName)) checkPersonName(local.patientName);
  if (optional('PatientBirthDate', local.birthDate)) {
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(local.birthDate);
    const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
    if (!m || !d || d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
      conflict(`PatientBirthDate: "${local.birthDate}" is not a date YYYYMMDD`, { keyword: 'PatientBirthDate' });
    }
  }
  if (optional('PatientSex', local.sex) && !['M', 'F', 'O'].includes(local.sex)) conflict(`PatientSex: "${local.sex}" is not M, F or O`, { keyword: 'PatientSex' });
  if (optional('AccessionNumber', local.accessionNumber)) checkText('AccessionNumber', 'SH', local.accessionNumber);
  if (optional('IssuerOfAccessionNumberSequence', local.accessionIssuer)) {
    if (local.accessionNumber === undefined) conflict('IssuerOfAccessionNumberSequence: an accession issuer without the accession number it issued', { keyword: 'IssuerOfAccessionNumberSequence' });
    checkText('LocalNamespaceEntityID', 'UT', local.accessionIssuer);
  }
  if (!(ctx.now instanceof Date) || Number.isNaN(ctx.now.getTime())) conflict('the coercion time is not a valid date');
}

/** DT with its UTC offset (PS3.5 Table 6.2-1), so that the value does not depend on where it is read. */
export function formatDateTime(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}+0000`;
}

/** Person names compare without trailing empty components or groups ("Doe^Jane^^" is "Doe^Jane"). */
function normalizePersonName(s: string): string {
  return s
    .split('=')
    .map((g) => g.replace(/[\^ ]+$/, ''))
    .join('=')
    .replace(/=+$/, '');
}

/** Every text value affected by Specific Character Set, at every level, is in the default repertoire. */
function allTextAscii(ds: DataSet): boolean {
  for (const el of ds.elements.values()) {
    if (el.items) {
      if (!el.items.every(allTextAscii)) return false;
    } else if (usesSpecificCharacterSet(el.vr)) {
      // A value not in memory cannot be checked; assume it is not ASCII.
      if (!el.value || !isAsciiBytes(el.value)) return false;
    }
  }
  return true;
}

interface Replacement {
  tag: Tag;
  vr: VR;
  keyword: string;
  from: string;
  to: string;
}

/**
 * Applies IRWF coercion to an Explicit VR Little Endian data set (top level), on a copy: the input
 * is not changed. UIDs are never touched. If the instance already carries the local identity, the
 * copy comes back with no changes and nothing added.
 */
export function coerceDataSet(input: DataSet, local: LocalIdentity, ctx: CoercionContext): { dataSet: DataSet; coercion: Coercion } {
  validate(local, ctx);
  // A deep copy whose items have the copy as their parent, so new and old items inherit the
  // character set the copy ends up with.
  const ds = dataSetToExplicitLE(input);
  const old = (tag: Tag): string => ds.string(tag)?.trim() ?? '';

  const replacements: Replacement[] = [];
  const consider = (tag: Tag, vr: VR, keyword: string, to: string | undefined, same: (a: string, b: string) => boolean = (a, b) => a === b): void => {
    if (to === undefined) return;
    const from = old(tag);
    if (!same(from, to)) replacements.push({ tag, vr, keyword, from, to });
  };
  consider(T.PatientID, 'LO', 'PatientID', local.patientId);
  consider(T.IssuerOfPatientID, 'LO', 'IssuerOfPatientID', local.issuerOfPatientId);
  consider(T.PatientName, 'PN', 'PatientName', local.patientName, (a, b) => normalizePersonName(a) === normalizePersonName(b));
  consider(T.PatientBirthDate, 'DA', 'PatientBirthDate', local.birthDate);
  consider(T.PatientSex, 'CS', 'PatientSex', local.sex);
  consider(T.AccessionNumber, 'SH', 'AccessionNumber', local.accessionNumber);

  // Issuer of Accession Number Sequence: replaced when a local issuer is given; when only the
  // accession number changes, the foreign issuer no longer describes it and is removed.
  const accessionIssuers = ds.items(RT.IssuerOfAccessionNumberSequence);
  const oldAccessionIssuer = accessionIssuers[0]?.string(RT.LocalNamespaceEntityID)?.trim() ?? '';
  let accessionIssuerAction: 'replace' | 'remove' | undefined;
  if (local.accessionIssuer !== undefined) {
    if (accessionIssuers.length !== 1 || oldAccessionIssuer !== local.accessionIssuer) accessionIssuerAction = 'replace';
  } else if (replacements.some((r) => r.tag === T.AccessionNumber) && ds.has(RT.IssuerOfAccessionNumberSequence)) {
    accessionIssuerAction = 'remove';
  }

  if (replacements.length === 0 && !accessionIssuerAction) return { dataSet: ds, coercion: { changes: [] } };

  const oldId = old(T.PatientID);
  const oldIssuer = old(T.IssuerOfPatientID);
  // The foreign identifier is kept when it names someone else's record: another ID, or the same ID
  // from another issuer. The same ID that merely had no issuer gets the local issuer and is not kept.
  const keepForeign = oldId !== '' && (oldId !== local.patientId || (oldIssuer !== '' && oldIssuer !== local.issuerOfPatientId));

  // ---- character set: encode every new text value, or switch to UTF-8 when nothing else breaks
  const texts: Array<{ keyword: string; text: string }> = [
    ...replacements.filter((r) => usesSpecificCharacterSet(r.vr)).map((r) => ({ keyword: r.keyword, text: r.to })),
    { keyword: 'ModifyingSystem', text: ctx.modifyingSystem },
    ...(accessionIssuerAction === 'replace' ? [{ keyword: 'LocalNamespaceEntityID', text: local.accessionIssuer as string }] : []),
  ];
  const charsets = ds.charsets();
  let encode: TextEncoderFn = encoderFor(charsets);
  let switchToUtf8 = false;
  const refused = texts.find((t) => encode(t.text) === undefined);
  if (refused) {
    if (!allTextAscii(ds)) {
      throw reconcileError(
        'RECONCILE_CHARSET',
        `${refused.keyword}: "${refused.text}" cannot be written in the instance's character set (${charsets.join('\\') || 'ISO_IR 6'}), and the instance holds non-ASCII text, so it cannot switch to ${UTF8_TERM}`,
        { keyword: refused.keyword, specificCharacterSet: charsets.join('\\') },
      );
    }
    switchToUtf8 = true;
    encode = encoderFor([UTF8_TERM]);
  }
  const bytesOf = (text: string): Buffer => encode(text) as Buffer;

  // ---- the record of prior values, built as attributes change
  const oaItem = new DataSet(ELE, ds);
  const modified = new DataSet(ELE, oaItem);
  const recordPrior = (tag: Tag, vr: VR): void => {
    if (modified.has(tag)) return;
    const prior = ds.get(tag);
    modified.set(prior ?? makeElement(tag, vr, vr === 'SQ' ? [] : undefined));
  };
  const priorPatientId = ds.get(T.PatientID);
  const priorIssuer = ds.get(T.IssuerOfPatientID);

  for (const r of replacements) {
    recordPrior(r.tag, r.vr);
    const value = usesSpecificCharacterSet(r.vr) ? bytesOf(r.to) : Buffer.from(r.to, 'latin1');
    ds.set(makeElement(r.tag, r.vr, value));
  }
  if (replacements.some((r) => r.tag === T.PatientID)) recordPrior(T.IssuerOfPatientID, 'LO');

  const coercion: Coercion = { changes: replacements.map((r) => ({ keyword: r.keyword, from: r.from, to: r.to })) };

  if (keepForeign) {
    const existing = ds.items(RT.OtherPatientIDsSequence);
    const known = existing.some((item) => (item.string(T.PatientID)?.trim() ?? '') === oldId && (item.string(T.IssuerOfPatientID)?.trim() ?? '') === oldIssuer);
    const qualifiers = ds.get(RT.IssuerOfPatientIDQualifiersSequence);
    if (!known) {
      // Other Patient IDs Sequence item (C.7.1.1): Patient ID (1), Issuer of Patient ID (3),
      // Issuer of Patient ID Qualifiers Sequence (3), Type of Patient ID (1). Values are the
      // instance's own bytes, which the item's (inherited) character set still decodes.
      const item = new DataSet(ELE, ds);
      if (priorPatientId) item.set(priorPatientId);
      if (priorIssuer && oldIssuer !== '') item.set(priorIssuer);
      if (qualifiers) item.set(qualifiers);
      item.set(makeElement(RT.TypeOfPatientID, 'CS', ds.text(RT.TypeOfPatientID) ?? 'TEXT'));
      recordPrior(RT.OtherPatientIDsSequence, 'SQ');
      ds.set(makeElement(RT.OtherPatientIDsSequence, 'SQ', [...existing, item]));
    }
    // The qualifiers describe the foreign issuer: they go with it.
    if (qualifiers) {
      recordPrior(RT.IssuerOfPatientIDQualifiersSequence, 'SQ');
      ds.delete(RT.IssuerOfPatientIDQualifiersSequence);
      coercion.changes.push({ keyword: 'IssuerOfPatientIDQualifiersSequence', from: `${qualifiers.items?.length ?? 0} item(s)`, to: '' });
    }
    coercion.foreignPatientId = oldId;
    if (oldIssuer !== '') coercion.foreignIssuer = oldIssuer;
  }

  if (accessionIssuerAction) {
    recordPrior(RT.IssuerOfAccessionNumberSequence, 'SQ');
    if (accessionIssuerAction === 'replace') {
      const item = new DataSet(ELE, ds);
      item.set(makeElement(RT.LocalNamespaceEntityID, 'UT', bytesOf(local.accessionIssuer as string)));
      ds.set(makeElement(RT.IssuerOfAccessionNumberSequence, 'SQ', [item]));
    } else {
      ds.delete(RT.IssuerOfAccessionNumberSequence);
    }
    coercion.changes.push({ keyword: 'IssuerOfAccessionNumberSequence', from: oldAccessionIssuer, to: local.accessionIssuer ?? '' });
  }

  if (switchToUtf8) {
    recordPrior(T.SpecificCharacterSet, 'CS');
    coercion.changes.push({ keyword: 'SpecificCharacterSet', from: charsets.join('\\'), to: UTF8_TERM });
    ds.set(makeElement(T.SpecificCharacterSet, 'CS', UTF8_TERM));
  }

  const now = formatDateTime(ctx.now);
  recordPrior(RT.InstanceCoercionDateTime, 'DT');
  ds.set(makeElement(RT.InstanceCoercionDateTime, 'DT', now));

  // Original Attributes Sequence item (C.12.1.1.9, Table C.12.1.1.9-1), appended to any there.
  const source = priorIssuer && oldIssuer !== '' ? (priorIssuer.value ?? Buffer.alloc(0)) : Buffer.alloc(0);
  oaItem.set(makeElement(RT.SourceOfPreviousValues, 'LO', source)); // Type 2: the foreign issuer, or empty
  oaItem.set(makeElement(RT.AttributeModificationDateTime, 'DT', now)); // Type 1
  oaItem.set(makeElement(RT.ModifyingSystem, 'LO', bytesOf(ctx.modifyingSystem))); // Type 1
  oaItem.set(makeElement(RT.ReasonForTheAttributeModification, 'CS', 'COERCE')); // Type 1
  oaItem.set(makeElement(RT.ModifiedAttributesSequence, 'SQ', [modified])); // Type 1, a single item
  ds.set(makeElement(RT.OriginalAttributesSequence, 'SQ', [...ds.items(RT.OriginalAttributesSequence), oaItem]));

  return { dataSet: ds, coercion };
}

/** The keywords of the attributes an Original Attributes item lists as modified (for reports and tests). */
export function modifiedKeywords(item: DataSet): string[] {
  return item
    .items(RT.ModifiedAttributesSequence)
    .flatMap((m) => m.sorted())
    .map((el: Element) => keywordOf(el.tag) ?? formatTag(el.tag));
}
