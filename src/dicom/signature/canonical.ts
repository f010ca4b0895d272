/**
 * The canonical encoding of string values a signer writes (PS3.5 §6.2, Table 6.2-1): the padding
 * the standard calls insignificant is removed, then the value is padded to even length with one
 * space (one NUL for UI). A verifier may normalise values as it reads them — dcmtk, dcmsign's
 * library, drops every trailing padding character of a string value (its automatic input data
 * correction) and pads again — so a signature over padding as stored in the source would not verify
 * there. Over the canonical encoding, what is signed, what is written and what any reader computes
 * are the same bytes.
 *
 *   AE CS DS IS LO PN SH   each value: leading and trailing spaces removed
 *   AS DA DT TM UC         each value: trailing spaces removed
 *   LT ST UT UR            single value (backslash is text): trailing spaces removed
 *   UI                     trailing NULs removed
 * Values are separated by backslash (5CH). Where 5CH can be part of a multi-byte character (GB18030,
 * GBK, ISO 2022 with a multi-byte set) the values of character set dependent VRs are not split: only
 * the trailing spaces of the whole value go (20H is never part of such a character).
 * Binary VRs, pixel data, values of VR UN (and anything inside them), values not in memory: untouched.
 */
import { DataSet, type Element } from '../dataset.js';
import { padValue } from '../part10/writer.js';
import { usesSpecificCharacterSet, type VR } from '../vr.js';

const SPACE = 0x20;
const NUL = 0x00;
const BACKSLASH = 0x5c;

type Rule = 'both' | 'trailing' | 'text' | 'uid';

const RULES: Readonly<Partial<Record<VR, Rule>>> = {
  AE: 'both',
  CS: 'both',
  DS: 'both',
  IS: 'both',
  LO: 'both',
  PN: 'both',
  SH: 'both',
  AS: 'trailing',
  DA: 'trailing',
  DT: 'trailing',
  TM: 'trailing',
  UC: 'trailing',
  LT: 'text',
  ST: 'text',
  UT: 'text',
  UR: 'text',
  UI: 'uid',
};

/** Character sets in which byte 5CH may be the second byte of a character. */
const MULTI_BYTE = /^(GB18030|GBK|ISO 2022 IR (87|159|149|58))$/;

function trimEnd(b: Buffer, pad: number): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === pad) end--;
  return b.subarray(0, end);
}

function trimStart(b: Buffer): Buffer {
  let start = 0;
  while (start < b.length && b[start] === SPACE) start++;
  return b.subarray(start);
}

function splitOnBackslash(b: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === BACKSLASH) {
      parts.push(b.subarray(from, i));
      from = i + 1;
    }
  }
  parts.push(b.subarray(from));
  return parts;
}

/**
 * The canonical bytes of a string value of VR `vr` (the value as stored, padding included);
 * `charsets` are the Specific Character Set values in effect. Other VRs come back unchanged.
 */
export function canonicalValue(value: Buffer, vr: VR, charsets: readonly string[] = []): Buffer {
  const rule = RULES[vr];
  if (rule === undefined) return value;
  let out: Buffer;
  if (rule === 'uid') out = trimEnd(value, NUL);
  else if (rule === 'text' || (usesSpecificCharacterSet(vr) && charsets.some((c) => MULTI_BYTE.test(c)))) out = trimEnd(value, SPACE);
  else {
    const parts = splitOnBackslash(value).map((v) => (rule === 'both' ? trimStart(trimEnd(v, SPACE)) : trimEnd(v, SPACE)));
    out = Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from([BACKSLASH]), p])));
  }
  out = padValue(out, vr);
  return out.equals(value) ? value : Buffer.from(out);
}

/** The element with its string values canonical, items of sequences included; `holder` is the data set it is in. */
export function canonicalElement(el: Element, holder: DataSet): Element {
  if (el.vr === 'UN' || el.fragments || el.bulk) return el;
  if (el.items) return { ...el, items: el.items.map((item) => canonicalDataSet(item, holder)) };
  if (!el.value || RULES[el.vr] === undefined) return el;
  const value = canonicalValue(el.value, el.vr, holder.charsets());
  return value === el.value ? el : { ...el, value, length: value.length };
}

/**
 * A new data set: `ds` with every string value canonical, in sequence items too (`ds` is not
 * changed). `parent` is the data set holding the sequence the new one is an item of.
 */
export function canonicalDataSet(ds: DataSet, parent: DataSet | undefined = ds.parent): DataSet {
  const out = new DataSet(ds.syntax, parent, ds.offset);
  for (const el of ds.sorted()) out.set(el);
  canonicaliseInPlace(out);
  return out;
}

/** Makes every string value of `ds` canonical in place (the signer's header and trailing elements). */
export function canonicaliseInPlace(ds: DataSet): void {
  for (const el of ds.sorted()) ds.set(canonicalElement(el, ds));
}
