/**
 * PS3.15 E.1.1 and E.2: the Basic Application Level Confidentiality Profile applied to a data set,
 * with the options of E.3 (Retain Longitudinal Temporal Information with Full or Modified Dates,
 * Retain Patient Characteristics, Device Identity, UIDs, Safe Private, Institution Identity; Clean
 * Descriptors). Every attribute of Table E.1-1 gets its action wherever it occurs, top level or inside
 * sequence items; attributes not in the table are kept (the table is the standard's list); private
 * attributes are removed.
 *
 * One Deidentifier serves a whole set of instances, so that replacements are consistent across it
 * (E.1.1 note 3): a UID maps to the same new UID everywhere (references inside sequences included),
 * a patient gets the same pseudonymous Patient ID and Name and the same date shift. All of them
 * derive from a secret drawn once from the injected Random (HMAC-SHA-256 of the original value), so
 * they do not depend on the order of the files, are byte-identical for a seed, and cannot be undone
 * without the secret, which is never written anywhere.
 *
 * Decisions the standard leaves to the de-identifier (documented in README.md):
 * - The combinations of Table E.1-1a pick by the attribute's Type in its IOD. We know no module
 *   tables, so a present attribute is kept present: D when the combination allows D (a Type 1 value
 *   cannot be empty), otherwise Z; an empty value stays empty. X/Z/U* sequences are kept with their
 *   UIDs replaced (the references between instances must keep resolving). X/Z on a sequence removes
 *   it (an empty sequence is invalid where it is Type 3, as these mostly are). The few attributes the
 *   table removes although an IOD makes them Type 2 are emptied instead (TYPE_2_DESPITE_X).
 * - D on a sequence keeps its items, processed recursively (their identifying attributes are in the
 *   table themselves); Z on a sequence empties it.
 * - Overlays (60xx) and curves (50xx) lose their whole group when their data is removed, so no
 *   incomplete Overlay Plane is left behind.
 * - Retain Safe Private: no private attribute is known to be safe here, so all are removed and the
 *   option is not claimed in De-identification Method Code Sequence.
 * - Dates and times not in the table are handled by their VR, as note 4 of Table E.1-1 suggests.
 * - Clean (C) of descriptive text removes, from the text, every identifying value of the instance
 *   (patient name components, IDs, accession number, institution and physician names, birth date).
 */
import { createHmac } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { Random } from '../../util/random.js';
import { decodeText } from '../charset.js';
import { DataSet, splitValues, trimPadding, type Element } from '../dataset.js';
import { ELE, makeElement, padValue } from '../part10/writer.js';
import { encoderFor } from '../reconcile/charset-encode.js';
import { tagElement, tagGroup, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { isTextVR, type VR } from '../vr.js';
import { actionFor, CID_7050, isPrivateTag, tableRow, type Action, type Code, type OptionKey } from './actions.js';

export const PATIENT_IDENTITY_REMOVED = 0x00120062;
export const DEIDENTIFICATION_METHOD = 0x00120063;
export const DEIDENTIFICATION_METHOD_CODE_SEQUENCE = 0x00120064;
export const LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED = 0x00280303;
const OTHER_PATIENT_IDS = 0x00101000;
const REFERRING_PHYSICIAN_NAME = 0x00080090;
const PERFORMING_PHYSICIAN_NAME = 0x00081050;
const OPERATORS_NAME = 0x00081070;
const PHYSICIANS_OF_RECORD = 0x00081048;
const INSTITUTION_ADDRESS = 0x00080081;
const STATION_NAME = 0x00081010;

/**
 * UI attributes outside the table whose values name public things (SOP classes, transfer syntaxes,
 * coding schemes, mapping resources): never replaced, even when an input happens to use the same
 * string as an instance UID.
 */
const PUBLIC_UID_TAGS: ReadonlySet<Tag> = new Set([0x00020002, 0x00020010, 0x00041510, 0x00041512, 0x0004151a, 0x00080016, 0x0008001a, 0x00081150, 0x0008010c, 0x0008010d, 0x00080118, 0x04000510]);

/**
 * Attributes Table E.1-1 removes (X) that PS3.3 makes Type 2 in a standard IOD: they are emptied
 * instead, so the IOD stays valid (E.1.1 note 1). Treatment Machine Name: RT Beams Module (C.8.8.14).
 */
const TYPE_2_DESPITE_X: ReadonlySet<Tag> = new Set([0x300a00b2]);

/** Sequences marked X/Z that a standard IOD makes Type 2 (Acquisition Context Module, C.7.6.14): emptied, not removed. */
const TYPE_2_SEQUENCES: ReadonlySet<Tag> = new Set([0x00400555]);

/** The dummy text of action D (short enough for SH, CS and AE, upper case for CS). */
export const DUMMY_TEXT = 'ANONYMIZED';
const DUMMY: Partial<Record<VR, string>> = { DA: '19000101', DT: '19000101000000', TM: '000000', AS: '000Y', DS: '0', IS: '0' };

export interface DeidentifyConfig {
  readonly options: ReadonlySet<OptionKey>;
}

/** The options that may be chosen together; full and modified dates exclude each other (E.3.6). */
export function checkOptions(options: ReadonlySet<OptionKey>): void {
  if (options.has('retainLongitudinalFullDates') && options.has('retainLongitudinalModifiedDates')) {
    throw new DcmsafeError('USAGE', 'retain-longitudinal-full-dates and retain-longitudinal-modified-dates exclude each other (PS3.15 E.3.6)', {});
  }
}

/** The CID 7050 codes of the profile and of the options actually applied. */
export function methodCodes(options: ReadonlySet<OptionKey>): Code[] {
  const codes: Code[] = [CID_7050.basic];
  for (const o of options) if (o !== 'retainSafePrivate') codes.push(CID_7050[o]);
  return codes.sort((a, b) => a.value.localeCompare(b.value));
}

export interface Pseudonym {
  readonly patientId: string;
  readonly patientName: string;
  /** Days every date of this patient moves back (Retain Longitudinal Modified Dates). */
  readonly dateShiftDays: number;
}

export interface DeidentifiedDataSet {
  readonly dataSet: DataSet;
  /** Top-level attributes as they were, for each one removed or changed (the Modified Attributes Sequence item). */
  readonly originals: DataSet;
  readonly pseudonym: Pseudonym;
}

interface Context {
  readonly pseudonym: Pseudonym;
  /** Identifying strings removed by cleaning, upper case ASCII. */
  readonly identifying: readonly string[];
}

function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => c.toUpperCase());
}

/** 2.25 UID (PS3.5 B.2) from 16 bytes made a version 4 UUID (RFC 4122). */
export function uuidUid(bytes: Buffer): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${b.toString('hex')}`).toString(10)}`;
}

function shiftDate(yyyymmdd: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(yyyymmdd);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(t)) return undefined;
  const d = new Date(t - days * 86_400_000);
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) return undefined;
  return `${String(y).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

export class Deidentifier {
  private readonly secret: Buffer;
  private readonly uids = new Map<string, string>();
  private readonly patients = new Map<string, Pseudonym>();
  readonly options: ReadonlySet<OptionKey>;

  constructor(config: DeidentifyConfig, random: Random) {
    checkOptions(config.options);
    this.options = config.options;
    this.secret = random.fork('deidentify').bytes(32);
  }

  private mac(purpose: string, value: string): Buffer {
    return createHmac('sha256', this.secret).update(purpose).update('\u0000').update(value).digest();
  }

  /** The replacement of a UID: the same for the same UID across the whole set. */
  replaceUid(uid: string): string {
    const known = this.uids.get(uid);
    if (known) return known;
    const fresh = uuidUid(this.mac('uid', uid));
    this.uids.set(uid, fresh);
    return fresh;
  }

  /** Original UIDs replaced so far, with their replacements. */
  get uidMap(): ReadonlyMap<string, string> {
    return this.uids;
  }

  /** The pseudonym of the patient of a (top-level) data set. */
  pseudonymFor(ds: DataSet): Pseudonym {
    const id = ds.text(T.PatientID);
    const key = id ? `id:${id}|${ds.text(T.IssuerOfPatientID) ?? ''}` : `name:${ds.string(T.PatientName)?.trim() ?? ''}|${ds.text(T.PatientBirthDate) ?? ''}`;
    const known = this.patients.get(key);
    if (known) return known;
    const mac = this.mac('patient', key);
    const patientId = `ANON${mac.subarray(0, 6).toString('hex').toUpperCase()}`;
    const p: Pseudonym = { patientId, patientName: patientId, dateShiftDays: 365 + (mac.readUInt32BE(8) % 3650) };
    this.patients.set(key, p);
    return p;
  }

  get patientCount(): number {
    return this.patients.size;
  }

  /** De-identifies a top-level data set in Explicit VR Little Endian (values in memory). */
  deidentify(input: DataSet): DeidentifiedDataSet {
    const pseudonym = this.pseudonymFor(input);
    const ctx: Context = { pseudonym, identifying: identifyingStrings(input) };
    const originals = new DataSet(ELE);
    const out = new DataSet(ELE);
    // Overlay and curve groups whose data goes: the whole group goes (see the header comment).
    const droppedGroups = new Set<number>();
    for (const el of input.elements.values()) {
      const g = tagGroup(el.tag);
      const repeating = (g & 0xff01) === 0x6000 || (g & 0xff01) === 0x5000;
      if (repeating && !isPrivateTag(el.tag)) {
        const row = tableRow(el.tag);
        if (row && actionFor(row, this.options) === 'X') droppedGroups.add(g);
      }
    }
    for (const el of input.sorted()) {
      if (droppedGroups.has(tagGroup(el.tag))) {
        originals.set(el);
        continue;
      }
      const result = this.element(el, out, ctx);
      if (result !== el) originals.set(el);
      if (result) out.set(result);
    }
    // The character set goes with the originals, so their text decodes as it did (C.12.1.1.4 keeps
    // the item a data set of its own).
    const charset = input.get(T.SpecificCharacterSet);
    if (charset && originals.elements.size > 0) originals.set(charset);
    this.addMarkers(out);
    return { dataSet: out, originals, pseudonym };
  }

  private addMarkers(out: DataSet): void {
    out.set(makeElement(PATIENT_IDENTITY_REMOVED, 'CS', 'YES'));
    const codes = methodCodes(this.options);
    out.set(makeElement(DEIDENTIFICATION_METHOD, 'LO', codes.map((c) => c.meaning.slice(0, 64))));
    out.set(
      makeElement(
        DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        'SQ',
        codes.map((c) => {
          const item = new DataSet(ELE, out);
          item.set(makeElement(T.CodeValue, 'SH', c.value));
          item.set(makeElement(T.CodingSchemeDesignator, 'SH', c.scheme));
          item.set(makeElement(T.CodeMeaning, 'LO', c.meaning));
          return item;
        }),
      ),
    );
    const temporal = this.options.has('retainLongitudinalFullDates') ? 'UNMODIFIED' : this.options.has('retainLongitudinalModifiedDates') ? 'MODIFIED' : 'REMOVED';
    out.set(makeElement(LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED, 'CS', temporal));
  }

  /** The element as it is to be written (the same object when unchanged), or undefined to remove it. */
  private element(el: Element, parent: DataSet, ctx: Context): Element | undefined {
    if (tagGroup(el.tag) === 0x0002) return undefined; // File Meta Information is written anew
    if (tagElement(el.tag) === 0x0000) return undefined; // group lengths (retired) would no longer hold
    if (el.tag === T.PatientID) return textElement(el, ctx.pseudonym.patientId);
    if (el.tag === T.PatientName) return textElement(el, ctx.pseudonym.patientName);
    const row = tableRow(el.tag);
    if (!row) {
      if (isPrivateTag(el.tag)) return undefined;
      if (el.items) return this.sequence(el, parent, ctx);
      // Table E.1-1 note 4: dates and times the table does not list (Instance Creation Date, frame
      // times...) are handled by their VR as the table's date rows are: kept with full dates, shifted
      // with modified dates, else replaced by a dummy (present attributes stay present: their Type is unknown).
      if (el.vr === 'DA' || el.vr === 'DT' || el.vr === 'TM') {
        if (this.options.has('retainLongitudinalFullDates')) return el;
        if (this.options.has('retainLongitudinalModifiedDates')) return this.clean(el, parent, ctx);
        return this.apply('X/D', el, parent, ctx);
      }
      if (el.vr === 'UI' && el.value && !PUBLIC_UID_TAGS.has(el.tag)) {
        // Not in the table, but the value is a UID replaced elsewhere in the set (a reference).
        const values = splitValues(trimPadding(el.value, 'UI').toString('latin1'));
        if (values.some((v) => this.uids.has(v))) return uidElement(el, values.map((v) => this.uids.get(v) ?? v));
      }
      return el;
    }
    if (isPrivateTag(el.tag)) return undefined; // Retain Safe Private: nothing is known safe (see above)
    const action = actionFor(row, this.options);
    return this.apply(action === 'X' && TYPE_2_DESPITE_X.has(el.tag) ? 'Z' : action, el, parent, ctx);
  }

  private apply(action: Action, el: Element, parent: DataSet, ctx: Context): Element | undefined {
    const empty = !el.items && (!el.value || trimPadding(el.value, el.vr).length === 0);
    switch (action) {
      case 'K':
        return el.items ? this.sequence(el, parent, ctx) : el;
      case 'X':
        return undefined;
      case 'Z':
        return el.items ? { ...el, items: [] } : empty ? el : emptied(el);
      case 'D':
        return el.items ? this.sequence(el, parent, ctx) : this.dummy(el);
      case 'U':
        if (el.items) return this.sequence(el, parent, ctx);
        if (el.vr !== 'UI') return this.dummy(el);
        return uidElement(el, splitValues(trimPadding(el.value ?? Buffer.alloc(0), 'UI').toString('latin1')).map((v) => (v ? this.replaceUid(v.trim()) : v)));
      case 'C':
        return this.clean(el, parent, ctx);
      case 'Z/D':
      case 'X/D':
      case 'X/Z/D':
        return empty ? el : this.apply('D', el, parent, ctx);
      case 'X/Z':
        // A sequence present with no item is wrong where it is Type 3 (VM 1-n), which the sequences
        // marked X/Z mostly are (Referenced Study Sequence in the General Study Module).
        return el.items && !TYPE_2_SEQUENCES.has(el.tag) ? undefined : this.apply('Z', el, parent, ctx);
      case 'X/Z/U*':
        return el.items ? this.sequence(el, parent, ctx) : this.apply('Z', el, parent, ctx);
    }
  }

  private dummy(el: Element): Element {
    if (el.vr === 'UI') return uidElement(el, [this.replaceUid(trimPadding(el.value ?? Buffer.alloc(0), 'UI').toString('latin1') || 'dummy')]);
    if (el.vr === 'PN' || isTextVR(el.vr) || el.vr in DUMMY) return textElement(el, DUMMY[el.vr] ?? DUMMY_TEXT);
    // Binary VRs: zeros, one unit long.
    const unit = el.vr === 'FD' || el.vr === 'OD' || el.vr === 'SV' || el.vr === 'UV' || el.vr === 'OV' ? 8 : el.vr === 'FL' || el.vr === 'UL' || el.vr === 'SL' || el.vr === 'OF' || el.vr === 'OL' || el.vr === 'AT' ? 4 : 2;
    return { ...el, value: Buffer.alloc(unit), length: unit };
  }

  private clean(el: Element, parent: DataSet, ctx: Context): Element | undefined {
    if (el.items) return this.sequence(el, parent, ctx);
    if (!el.value) return el;
    if (el.vr === 'DA' || el.vr === 'DT') {
      if (!this.options.has('retainLongitudinalModifiedDates')) return el;
      const days = ctx.pseudonym.dateShiftDays;
      const values = splitValues(trimPadding(el.value, el.vr).toString('latin1')).map((v) =>
        v
          .trim()
          .split('-')
          .map((part) => (part === '' ? part : (shiftDate(part.slice(0, 8), days) ?? '') + (el.vr === 'DT' && part.length >= 8 ? part.slice(8) : '')))
          .join('-'),
      );
      return textElement(el, values.join('\\'));
    }
    if (el.vr === 'TM') return el; // times of day are kept by the date options (only dates move)
    if (el.vr === 'PN' || isTextVR(el.vr)) {
      // `parent` is the data set being written: it already holds Specific Character Set (0008,0005),
      // which sorts first and is kept, or inherits it from the enclosing data set.
      const text = decodeText(trimPadding(el.value, el.vr), parent.charsets());
      let cleaned = text;
      for (const id of ctx.identifying) {
        for (let at = asciiUpper(cleaned).indexOf(id); at >= 0; at = asciiUpper(cleaned).indexOf(id)) cleaned = cleaned.slice(0, at) + '*'.repeat(id.length) + cleaned.slice(at + id.length);
      }
      if (cleaned === text) return el;
      const encoded = encoderFor(parent.charsets())(cleaned);
      return encoded ? { ...el, value: padValue(encoded, el.vr), length: padValue(encoded, el.vr).length } : emptied(el);
    }
    return el;
  }

  /** A sequence with each item processed; the same object when nothing inside changed. */
  private sequence(el: Element, parent: DataSet, ctx: Context): Element {
    let changed = false;
    const items = (el.items ?? []).map((item) => {
      const out = new DataSet(ELE, parent);
      for (const inner of item.sorted()) {
        const result = this.element(inner, out, ctx);
        if (result !== inner) changed = true;
        if (result) out.set(result);
      }
      return out;
    });
    return changed ? { ...el, items } : el;
  }
}

function textElement(el: Element, text: string): Element {
  const vr = el.vr === 'UN' ? 'LO' : el.vr;
  const value = padValue(Buffer.from(text, 'latin1'), vr);
  return { tag: el.tag, vr, offset: -1, valueOffset: -1, length: value.length, value };
}

function uidElement(el: Element, uids: string[]): Element {
  const value = padValue(Buffer.from(uids.join('\\'), 'latin1'), 'UI');
  return { tag: el.tag, vr: 'UI', offset: -1, valueOffset: -1, length: value.length, value };
}

function emptied(el: Element): Element {
  return { tag: el.tag, vr: el.vr, offset: -1, valueOffset: -1, length: 0, value: Buffer.alloc(0) };
}

/** Identifying values of an instance that cleaning removes from descriptive text (three characters or more). */
function identifyingStrings(ds: DataSet): string[] {
  const found = new Set<string>();
  const add = (s: string | undefined): void => {
    const v = asciiUpper((s ?? '').trim());
    if (v.length >= 3) found.add(v);
  };
  for (const tag of [T.PatientName, REFERRING_PHYSICIAN_NAME, PERFORMING_PHYSICIAN_NAME, OPERATORS_NAME, PHYSICIANS_OF_RECORD]) {
    for (const name of ds.strings(tag)) {
      add(name);
      for (const part of name.split(/[\^=\s,]+/)) add(part);
    }
  }
  for (const tag of [T.PatientID, OTHER_PATIENT_IDS, T.AccessionNumber, T.PatientBirthDate, T.InstitutionName, INSTITUTION_ADDRESS, STATION_NAME]) for (const v of ds.strings(tag)) add(v);
  // Longest first, so a full name goes before its components.
  return [...found].sort((a, b) => b.length - a.length);
}

export type { Tag };
