/**
 * The fields a DICOM parser trusts, found by walking a seed's elements (explicit VR little endian after
 * the File Meta Information; sequences and items stepped into): each element's group, element and
 * length, and each item's length. Only hints for the mutator: a walk that gets lost just stops.
 */
import type { Field } from './mutate.js';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

function isVrAt(buf: Buffer, at: number): boolean {
  const a = buf[at];
  const b = buf[at + 1];
  return a !== undefined && b !== undefined && a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a;
}

export function dicomFields(bytes: Buffer, limit = 4096): Field[] {
  const fields: Field[] = [];
  let at = bytes.length >= 132 && bytes.toString('latin1', 128, 132) === 'DICM' ? 132 : 0;
  while (at + 8 <= bytes.length && fields.length < limit) {
    const group = bytes.readUInt16LE(at);
    fields.push({ offset: at, size: 2, endian: 'le' }, { offset: at + 2, size: 2, endian: 'le' });
    if (group === 0xfffe) {
      // Item, Item Delimitation, Sequence Delimitation: a 4-byte length; an item's content is walked.
      fields.push({ offset: at + 4, size: 4, endian: 'le' });
      at += 8;
      continue;
    }
    if (!isVrAt(bytes, at + 4)) {
      // Implicit VR: a 4-byte length.
      fields.push({ offset: at + 4, size: 4, endian: 'le' });
      const length = bytes.readUInt32LE(at + 4);
      at += 8 + (length === UNDEFINED ? 0 : length);
      continue;
    }
    const vr = bytes.toString('latin1', at + 4, at + 6);
    if (LONG_VRS.has(vr)) {
      if (at + 12 > bytes.length) break;
      fields.push({ offset: at + 8, size: 4, endian: 'le' });
      const length = bytes.readUInt32LE(at + 8);
      // Sequences and undefined lengths are stepped into; other values skipped.
      at += 12 + (vr === 'SQ' || length === UNDEFINED ? 0 : length);
    } else {
      fields.push({ offset: at + 6, size: 2, endian: 'le' });
      at += 8 + bytes.readUInt16LE(at + 6);
    }
  }
  return fields;
}
