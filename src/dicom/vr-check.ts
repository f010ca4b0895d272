/**
 * Checks of values against their VR (PS3.5 §6.2, Table 6.2-1): length limits and character
 * repertoires. Used where a value is copied into a place that must conform (directory records), so
 * an instance's bad value is noticed instead of spreading.
 */
import type { VR } from './vr.js';

/** Maximum length of one value in bytes (characters for the default repertoire). */
const MAX_LENGTH: Partial<Record<VR, number>> = {
  AE: 16,
  AS: 4,
  CS: 16,
  DA: 18, // a range "YYYYMMDD-YYYYMMDD" in queries; 8 in instances
  DS: 16,
  DT: 26,
  IS: 12,
  LO: 64,
  LT: 10240,
  SH: 16,
  ST: 1024,
  TM: 16,
  UI: 64,
};

const PATTERN: Partial<Record<VR, RegExp>> = {
  AE: /^[\x20-\x5b\x5d-\x7e]*$/,
  AS: /^\d{3}[DWMY]$/,
  CS: /^[A-Z0-9 _]*$/,
  DA: /^\d{8}$/,
  DS: /^ *[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)? *$/,
  DT: /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/,
  IS: /^ *[+-]?\d+ *$/,
  TM: /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/,
  UI: /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/,
};

/** VRs whose value is one text with no backslash-separated multiplicity. */
const SINGLE_VALUED: ReadonlySet<VR> = new Set<VR>(['LT', 'ST', 'UT', 'UR']);

/** Why a value is invalid for its VR, or undefined if it is valid (empty values are valid). */
export function checkValue(vr: VR, value: Buffer): string | undefined {
  const max = MAX_LENGTH[vr];
  const pattern = PATTERN[vr];
  if (max === undefined && pattern === undefined) return undefined;
  const text = value.toString('latin1').replace(/[\0 ]+$/, '');
  const values = SINGLE_VALUED.has(vr) ? [text] : text.split('\\');
  for (const v of values) {
    if (max !== undefined && v.length > max) return `value of ${v.length} characters, ${vr} allows ${max}`;
    if (pattern && v.length > 0) {
      const trimmed = vr === 'UI' ? v : v.replace(/^ +| +$/g, '');
      if (!pattern.test(trimmed)) return `"${v.slice(0, 40)}" is not a valid ${vr}`;
    }
  }
  return undefined;
}
