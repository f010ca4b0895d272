/**
 * The fields a BER parser trusts (ITU-T X.690 §8.1), found by walking a seed's TLV tree: each
 * identifier octet and each length (the initial octet, and the long form's value). Constructed
 * elements are stepped into; primitive values (ciphertext, signatures) are skipped. Only hints for
 * the mutator: a walk that gets lost just stops.
 */
import type { Field } from './mutate.js';

/** Fields of the BER elements in `bytes`; `base` is added to every offset (for a prefixed seed). */
export function berFields(bytes: Buffer, base = 0, limit = 4096): Field[] {
  const out: Field[] = [];
  const walk = (start: number, end: number, depth: number): void => {
    let p = start;
    while (p < end && out.length < limit && depth < 64) {
      if (bytes[p] === 0 && bytes[p + 1] === 0) {
        p += 2; // end-of-contents of an indefinite length
        continue;
      }
      const at = p;
      const first = bytes[p++] as number;
      if ((first & 0x1f) === 0x1f) while (p < end && ((bytes[p++] as number) & 0x80) !== 0);
      if (p >= end) return;
      out.push({ offset: base + at, size: 1, endian: 'be' }, { offset: base + p, size: 1, endian: 'be' });
      const lb = bytes[p++] as number;
      // Indefinite length: the children follow inline, up to an end-of-contents skipped above.
      if (lb === 0x80) continue;
      let length = lb;
      if (lb > 0x80) {
        const n = lb & 0x7f;
        if (n > 4 || p + n > end) return;
        if (n === 1 || n === 2 || n === 4) out.push({ offset: base + p, size: n, endian: 'be' });
        else for (let i = 0; i < n; i++) out.push({ offset: base + p + i, size: 1, endian: 'be' });
        length = 0;
        for (let i = 0; i < n; i++) length = length * 256 + (bytes[p++] as number);
      }
      if (p + length > end) return;
      if ((first & 0x20) !== 0) walk(p, p + length, depth + 1);
      p += length;
    }
  };
  walk(0, bytes.length, 0);
  return out;
}
