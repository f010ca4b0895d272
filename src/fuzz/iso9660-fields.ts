/**
 * The fields an ISO 9660 reader trusts, found by walking a seed image (ECMA-119): every volume
 * descriptor's sizes and locations and its root directory record, every directory record of the
 * primary and supplementary (Joliet) trees, and the path table records. Both-endian numbers (§7.2.3,
 * §7.3.3) are given as two fields, little endian then big endian, next to each other: `bothEndianPairs` finds
 * them again so the target can make the two halves agree (else nearly every change is refused at once
 * as a disagreement). Only hints for the mutator: a walk that gets lost just stops.
 */
import type { Field, Seed } from './mutate.js';

const SECTOR = 2048;
const MAX_DESCRIPTORS = 32;
const MAX_DIRECTORIES = 256;

function le(offset: number, size: 1 | 2 | 4): Field {
  return { offset, size, endian: 'le' };
}
function be(offset: number, size: 2 | 4): Field {
  return { offset, size, endian: 'be' };
}
/** A both-endian number at `offset`: its little-endian half, then its big-endian half. */
function both(offset: number, size: 2 | 4): Field[] {
  return [le(offset, size), be(offset + size, size)];
}

/** The fields of the directory record at `at` (BP 1 length, 2 extended attribute length, 3-10 location, 11-18 data length, 26 flags, 27-28 interleaving, 29-32 volume sequence, 33 identifier length). */
function recordFields(at: number): Field[] {
  return [le(at, 1), le(at + 1, 1), ...both(at + 2, 4), ...both(at + 10, 4), le(at + 25, 1), le(at + 26, 1), le(at + 27, 1), ...both(at + 28, 2), le(at + 32, 1)];
}

export function iso9660Fields(bytes: Buffer, limit = 4096): Field[] {
  const fields: Field[] = [];
  const roots: Array<{ location: number; length: number; blockSize: number }> = [];
  const pathTables: Array<{ at: number; size: number; endian: 'le' | 'be' }> = [];
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const d = (16 + i) * SECTOR;
    if (d + SECTOR > bytes.length || bytes.toString('latin1', d + 1, d + 6) !== 'CD001') break;
    const type = bytes[d];
    fields.push(le(d, 1), le(d + 6, 1)); // type, version
    if (type === 255) break;
    if (type !== 1 && type !== 2) continue;
    // Volume space size (BP 81-88), set size (121-124), sequence number (125-128), block size (129-132),
    // path table size (133-140), the four path table locations (141-156), the root record (157-190).
    fields.push(...both(d + 80, 4), ...both(d + 120, 2), ...both(d + 124, 2), ...both(d + 128, 2), ...both(d + 132, 4));
    fields.push(le(d + 140, 4), le(d + 144, 4), be(d + 148, 4), be(d + 152, 4), ...recordFields(d + 156));
    const blockSize = bytes.readUInt16LE(d + 128) || SECTOR;
    roots.push({ location: bytes.readUInt32LE(d + 158), length: bytes.readUInt32LE(d + 166), blockSize });
    const tableSize = bytes.readUInt32LE(d + 132);
    pathTables.push({ at: bytes.readUInt32LE(d + 140) * blockSize, size: tableSize, endian: 'le' }, { at: bytes.readUInt32BE(d + 148) * blockSize, size: tableSize, endian: 'be' });
  }

  // Every directory of every tree, breadth first, each once.
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0 && seen.size < MAX_DIRECTORIES && fields.length < limit) {
    const dir = queue.shift()!;
    const start = dir.location * dir.blockSize;
    if (seen.has(start) || start + dir.length > bytes.length) continue;
    seen.add(start);
    for (let sector = start; sector < start + dir.length; sector += SECTOR) {
      let at = sector;
      const end = Math.min(sector + SECTOR, start + dir.length);
      while (at < end && bytes[at] !== 0) {
        const length = bytes[at]!;
        if (length < 34 || at + length > end) break;
        fields.push(...recordFields(at));
        const flags = bytes[at + 25]!;
        const isSelf = bytes[at + 32] === 1 && (bytes[at + 33] === 0 || bytes[at + 33] === 1);
        if (flags & 2 && !isSelf) queue.push({ location: bytes.readUInt32LE(at + 2), length: bytes.readUInt32LE(at + 10), blockSize: dir.blockSize });
        at += length;
      }
    }
  }

  // Path table records (§9.4): identifier length, extended attribute length, location, parent number.
  for (const t of pathTables) {
    if (t.at === 0 || t.at + t.size > bytes.length) continue;
    let at = t.at;
    while (at + 8 <= t.at + t.size && fields.length < limit) {
      const idLength = bytes[at]!;
      if (idLength === 0) break;
      fields.push(le(at, 1), le(at + 1, 1), { offset: at + 2, size: 4, endian: t.endian }, { offset: at + 6, size: 2, endian: t.endian });
      at += 8 + idLength + (idLength % 2);
    }
  }
  return fields.slice(0, limit);
}

/** The both-endian pairs among a seed's fields: a little-endian field followed by its big-endian half. */
export function bothEndianPairs(seed: Seed): Array<readonly [Field, Field]> {
  const out: Array<readonly [Field, Field]> = [];
  const f = seed.fields;
  for (let i = 0; i + 1 < f.length; i++) {
    const a = f[i]!;
    const b = f[i + 1]!;
    if (a.endian === 'le' && b.endian === 'be' && a.size === b.size && a.size > 1 && b.offset === a.offset + a.size) out.push([a, b]);
  }
  return out;
}
