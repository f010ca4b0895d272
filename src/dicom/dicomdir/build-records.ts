/**
 * Building the keys of directory records from instances, PS3.3 F.5 and PS3.11 D.3.3/H.3.3:
 * values are copied as the instance holds them (bytes and character set kept), legacy date and time
 * forms are normalized to DA/TM, Type 2 keys are present even when empty, and Type 1 keys the
 * instance lacks are supplied and reported (PS3.11 D.3.3.1 note: the FSC must supply them).
 */
import { normalizeCharsetTerm, needsSpecificCharacterSet } from '../charset.js';
import { DataSet, type Element } from '../dataset.js';
import { lookupTag, keywordOf } from '../dictionary.js';
import { ELE, makeElement } from '../part10/writer.js';
import type { Tag } from '../tag.js';
import { T } from '../tags.js';
import { usesSpecificCharacterSet, isVR, type VR } from '../vr.js';
import { checkValue } from '../vr-check.js';
import type { RecordKey } from './record-types.js';

/** A key dcmsafe wrote because the instance had no value for it. */
export interface SuppliedKey {
  readonly record: string;
  readonly key: string;
  readonly value: string;
  /** Which patient, study, series or instance the record is for. */
  readonly scope: string;
}

/** A value changed on its way into the directory (legacy date form, misspelt character set). */
export interface NormalizedKey {
  readonly record: string;
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly scope: string;
}

/** A value invalid for its VR in the instance: left out of the record where the key allows, else kept. */
export interface InvalidKey {
  readonly record: string;
  readonly key: string;
  readonly value: string;
  readonly problem: string;
  readonly action: 'kept' | 'left empty' | 'left out';
  readonly scope: string;
}

export interface RecordReport {
  readonly supplied: SuppliedKey[];
  readonly normalized: NormalizedKey[];
  readonly invalid: InvalidKey[];
  /** Type 1 keys that could be neither copied nor supplied (left empty). */
  readonly missing: SuppliedKey[];
}

export function newRecordReport(): RecordReport {
  return { supplied: [], normalized: [], invalid: [], missing: [] };
}

/** DA values written as YYYY.MM.DD (ACR-NEMA) become YYYYMMDD. */
export function normalizeDate(value: string): string {
  const m = /^(\d{4})[.-](\d{2})[.-](\d{2})$/.exec(value.trim());
  return m ? `${m[1]}${m[2]}${m[3]}` : value.trim();
}

/** TM values written as HH:MM:SS(.frac) become HHMMSS(.frac). */
export function normalizeTime(value: string): string {
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,6})?)?$/.exec(value.trim());
  if (!m) return value.trim();
  return `${m[1]}${m[2]}${m[3] ?? ''}${m[4] ?? ''}`;
}

function dictionaryVR(tag: Tag): VR {
  const vr = lookupTag(tag)?.vr;
  return vr && isVR(vr) ? vr : 'UN';
}

function hasValue(el: Element | undefined): boolean {
  if (!el) return false;
  if (el.items) return el.items.length > 0;
  return (el.value?.toString('latin1').replace(/[\s\0]/g, '').length ?? 0) > 0;
}

function textNeedsCharset(el: Element): boolean {
  if (el.items) return el.items.some((item) => [...item.elements.values()].some(textNeedsCharset));
  return usesSpecificCharacterSet(el.vr) && !!el.value && needsSpecificCharacterSet(el.value);
}

export interface BuildKeysInput {
  readonly recordType: string;
  /** Keys of the record type, then the profile's extra keys for the record's level. */
  readonly keys: readonly RecordKey[];
  /** The instance the values come from (its keys, Explicit VR Little Endian). */
  readonly source: DataSet;
  /** Values that replace or supply the source's (e.g. a generated Patient ID, a study date taken from the series). */
  readonly supply: ReadonlyMap<Tag, string>;
  /** Which patient, study, series or instance, for the report. */
  readonly scope: string;
  readonly report: RecordReport;
}

export function buildRecordKeys(input: BuildKeysInput): DataSet {
  const { recordType, source, supply, scope, report } = input;
  const out = new DataSet(ELE);
  for (const key of input.keys) {
    const keyword = keywordOf(key.tag) ?? String(key.tag);
    const el = source.get(key.tag);
    const present = hasValue(el);
    const supplied = supply.get(key.tag);
    if (supplied !== undefined && !present) {
      out.set(makeElement(key.tag, dictionaryVR(key.tag), supplied));
      report.supplied.push({ record: recordType, key: keyword, value: supplied, scope });
      continue;
    }
    if (el && (present || key.type === '2')) {
      const value = normalized(el, recordType, keyword, scope, report);
      const problem = value.value ? checkValue(value.vr, value.value) : undefined;
      if (problem) {
        // A bad value must not make the directory non-conformant; UIDs and other Type 1 keys stay exact.
        const action = key.type === '1' ? 'kept' : key.type === '2' ? 'left empty' : 'left out';
        report.invalid.push({ record: recordType, key: keyword, value: (value.value as Buffer).toString('latin1').trim(), problem, action, scope });
        if (action === 'kept') out.set(value);
        else if (action === 'left empty') out.set(makeElement(key.tag, value.vr, undefined));
        continue;
      }
      out.set(value);
      continue;
    }
    if (key.type === '2') out.set(makeElement(key.tag, dictionaryVR(key.tag), undefined));
    else if (key.type === '1') {
      out.set(el ?? makeElement(key.tag, dictionaryVR(key.tag), undefined));
      report.missing.push({ record: recordType, key: keyword, value: '', scope });
    }
  }
  if ([...out.elements.values()].some(textNeedsCharset)) {
    const charset = source.get(T.SpecificCharacterSet);
    if (charset?.value) {
      const raw = charset.value.toString('latin1').replace(/[\s\0]+$/, '');
      const fixed = raw
        .split('\\')
        .map((t) => normalizeCharsetTerm(t))
        .join('\\');
      if (fixed !== raw) report.normalized.push({ record: recordType, key: 'SpecificCharacterSet', from: raw, to: fixed, scope });
      out.set(makeElement(T.SpecificCharacterSet, 'CS', fixed));
    }
  }
  return out;
}

function normalized(el: Element, record: string, key: string, scope: string, report: RecordReport): Element {
  if ((el.vr !== 'DA' && el.vr !== 'TM') || !el.value) return el;
  const raw = el.value.toString('latin1').replace(/[\s\0]+$/, '');
  const fixed = el.vr === 'DA' ? normalizeDate(raw) : normalizeTime(raw);
  if (fixed === raw) return el;
  report.normalized.push({ record, key, from: raw, to: fixed, scope });
  return makeElement(el.tag, el.vr, fixed);
}
