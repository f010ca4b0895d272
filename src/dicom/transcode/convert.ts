/**
 * Converting elements read in any uncompressed transfer syntax (PS3.5 Annex A: Implicit VR Little
 * Endian, Explicit VR Big Endian) to Explicit VR Little Endian: binary values are byte-swapped by
 * their VR's unit, VRs come from the reader (dictionary for implicit files), group lengths are
 * dropped (retired, and wrong once lengths change).
 */
import { DataSet, type Element, type Syntax } from '../dataset.js';
import { ELE } from '../part10/writer.js';
import { isPrivateTag, tagElement } from '../tag.js';
import { implicitVR } from '../part10/parser.js';
import { hasLongLength, MAX_SHORT_LENGTH, swapUnit, type VR } from '../vr.js';

/** Swaps every `unit`-byte group of `bytes` into a new buffer (a trailing partial unit is kept as is). */
export function swapBytes(bytes: Buffer, unit: 1 | 2 | 4 | 8): Buffer {
  const out = Buffer.from(bytes);
  if (unit === 1) return out;
  const whole = out.length - (out.length % unit);
  const view = out.subarray(0, whole);
  if (unit === 2) view.swap16();
  else if (unit === 4) view.swap32();
  else view.swap64();
  return out;
}

/** The VR to write in explicit VR: a value too long for a 16-bit length becomes UN (PS3.5 §6.2.2). */
export function explicitVRFor(vr: VR, length: number): VR {
  return !hasLongLength(vr) && length > MAX_SHORT_LENGTH ? 'UN' : vr;
}

/** An element's value in little endian, or undefined if it is bulk, a sequence or fragments. */
export function littleEndianValue(el: Element, from: Syntax): Buffer | undefined {
  if (!el.value) return undefined;
  return from.littleEndian ? el.value : swapBytes(el.value, swapUnit(el.vr));
}

/**
 * A copy of `ds` in Explicit VR Little Endian (values in memory only; bulk values keep their
 * position and are streamed by the writer). Group length elements are left out.
 */
export function dataSetToExplicitLE(ds: DataSet, parent?: DataSet): DataSet {
  const out = new DataSet(ELE, parent, ds.offset);
  for (const el of ds.elements.values()) {
    if (tagElement(el.tag) === 0x0000) continue;
    const converted = elementToExplicitLE(el, ds.syntax, out);
    out.set(converted);
  }
  return out;
}

/**
 * Some writers turn standard elements into UN when they convert files (seen from gdcmconv). A known
 * public tag gets its dictionary VR back, so directory keys and converted files carry proper VRs.
 * Sequences stay UN: their bytes would need parsing as items.
 */
export function resolveUnknownVR(el: Element, context: DataSet | undefined): Element {
  if (el.vr !== 'UN' || !el.value || isPrivateTag(el.tag) || !context) return el;
  const vr = implicitVR(el.tag, el.value.length, context);
  if (vr === 'UN' || vr === 'SQ') return el;
  if (!hasLongLength(vr) && el.value.length > MAX_SHORT_LENGTH) return el;
  return { ...el, vr };
}

export function elementToExplicitLE(input: Element, from: Syntax, parent?: DataSet): Element {
  const el = from.littleEndian ? resolveUnknownVR(input, parent) : input;
  if (el.items) {
    return { ...el, vr: 'SQ', items: el.items.map((item) => dataSetToExplicitLE(item, parent)) };
  }
  if (el.fragments || el.bulk || !el.value) return { ...el, vr: el.value || el.bulk ? explicitVRFor(el.vr, el.length ?? 0) : el.vr };
  const value = littleEndianValue(el, from) as Buffer;
  return { ...el, vr: explicitVRFor(el.vr, value.length), value };
}
