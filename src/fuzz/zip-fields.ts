/**
 * The fields a ZIP reader trusts, found by walking a seed (PKWARE APPNOTE 6.3.10): the end of central
 * directory record (4.3.16), the ZIP64 end of central directory locator and record (4.3.15, 4.3.14),
 * every central directory header (4.3.12) with its extra fields (ZIP64 sizes and offsets, 4.5.3), every
 * local header (4.3.7) and data descriptor (4.3.9). 64-bit numbers are given as two 32-bit fields.
 * `linkedZipFields` pairs each central header's method, flags, CRC and sizes with its local header's, so
 * a target can make a change agree in both places (else the local header check refuses it at once).
 * Only hints for the mutator: a walk that gets lost just stops.
 */
import type { Field } from './mutate.js';

const le = (offset: number, size: 1 | 2 | 4): Field => ({ offset, size, endian: 'le' });
const u64 = (offset: number): Field[] => [le(offset, 4), le(offset + 4, 4)];

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;

interface Walk {
  fields: Field[];
  links: Array<readonly [Field, Field]>;
}

function walk(bytes: Buffer, limit: number): Walk {
  const fields: Field[] = [];
  const links: Array<readonly [Field, Field]> = [];
  const u32 = (at: number): number => (at + 4 <= bytes.length ? bytes.readUInt32LE(at) : -1);
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (u32(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) return { fields, links };
  // Disk numbers, entries on this disk, entries, central directory size and offset, comment length.
  fields.push(le(eocd + 4, 2), le(eocd + 6, 2), le(eocd + 8, 2), le(eocd + 10, 2), le(eocd + 12, 4), le(eocd + 16, 4), le(eocd + 20, 2));
  let cdOffset = u32(eocd + 16);
  let cdSize = u32(eocd + 12);
  const locator = eocd - 20;
  if (locator >= 0 && u32(locator) === ZIP64_LOCATOR) {
    fields.push(le(locator + 4, 4), ...u64(locator + 8), le(locator + 16, 4));
    const rec = u32(locator + 8);
    if (rec >= 0 && u32(rec) === ZIP64_EOCD && rec + 56 <= bytes.length) {
      // Record size, versions, disk numbers, entries on this disk, entries, CD size, CD offset.
      fields.push(...u64(rec + 4), le(rec + 12, 2), le(rec + 14, 2), le(rec + 16, 4), le(rec + 20, 4), ...u64(rec + 24), ...u64(rec + 32), ...u64(rec + 40), ...u64(rec + 48));
      cdSize = u32(rec + 40);
      cdOffset = u32(rec + 48);
    }
  }
  for (let at = cdOffset; at >= 0 && at + 46 <= Math.min(bytes.length, cdOffset + cdSize) && u32(at) === CENTRAL && fields.length < limit; ) {
    // Versions, flags, method, CRC-32, sizes, name/extra/comment lengths, disk, attributes, local header offset.
    const c = {
      flags: le(at + 8, 2),
      method: le(at + 10, 2),
      crc: le(at + 16, 4),
      csize: le(at + 20, 4),
      usize: le(at + 24, 4),
    };
    fields.push(le(at + 4, 2), le(at + 6, 2), c.flags, c.method, c.crc, c.csize, c.usize, le(at + 28, 2), le(at + 30, 2), le(at + 32, 2), le(at + 34, 2), le(at + 38, 4), le(at + 42, 4));
    const nameLength = bytes.readUInt16LE(at + 28);
    const extraLength = bytes.readUInt16LE(at + 30);
    const commentLength = bytes.readUInt16LE(at + 32);
    let localOffset = u32(at + 42);
    const extraStart = at + 46 + nameLength;
    for (let x = extraStart; x + 4 <= Math.min(bytes.length, extraStart + extraLength); ) {
      const id = bytes.readUInt16LE(x);
      const size = bytes.readUInt16LE(x + 2);
      fields.push(le(x, 2), le(x + 2, 2));
      if (id === 0x0001) {
        // ZIP64 extended information: the 64-bit values whose 32-bit fields say 0xFFFFFFFF, in order.
        for (let v = x + 4; v + 8 <= Math.min(bytes.length, x + 4 + size); v += 8) fields.push(...u64(v));
        if (localOffset === 0xffffffff && x + 4 + size <= bytes.length && size >= 8) localOffset = u32(x + 4 + size - 8);
      }
      x += 4 + size;
    }
    const csize = bytes.readUInt32LE(at + 20);
    if (localOffset >= 0 && localOffset + 30 <= bytes.length && u32(localOffset) === LOCAL) {
      const l = localOffset;
      const local = { flags: le(l + 6, 2), method: le(l + 8, 2), crc: le(l + 14, 4), csize: le(l + 18, 4), usize: le(l + 22, 4) };
      fields.push(le(l + 4, 2), local.flags, local.method, local.crc, local.csize, local.usize, le(l + 26, 2), le(l + 28, 2));
      links.push([c.flags, local.flags], [c.method, local.method]);
      // With a data descriptor the local header's CRC and sizes are zero: linked only without one.
      if (!(bytes.readUInt16LE(l + 6) & 0x08)) links.push([c.crc, local.crc], [c.csize, local.csize], [c.usize, local.usize]);
      const dataStart = l + 30 + bytes.readUInt16LE(l + 26) + bytes.readUInt16LE(l + 28);
      if (bytes.readUInt16LE(l + 6) & 0x08 && csize !== 0xffffffff) {
        const d = dataStart + csize;
        const withSignature = u32(d) === DESCRIPTOR ? 4 : 0;
        if (d + withSignature + 12 <= bytes.length) fields.push(le(d + withSignature, 4), le(d + withSignature + 4, 4), le(d + withSignature + 8, 4));
      }
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { fields: fields.slice(0, limit), links };
}

export function zipFields(bytes: Buffer, limit = 4096): Field[] {
  return walk(bytes, limit).fields;
}

/** Central header fields and the local header fields that must say the same. */
export function linkedZipFields(bytes: Buffer): Array<readonly [Field, Field]> {
  return walk(bytes, 1 << 20).links;
}

/**
 * The same ZIP with ZIP64 end records (APPNOTE 4.3.14, 4.3.15) before its end of central directory
 * record, whose counts, size and offset then say 0xFFFF and 0xFFFFFFFF: a ZIP64 seed without a file of
 * 4 GiB.
 */
export function withZip64End(zip: Buffer): Buffer {
  let eocd = -1;
  for (let at = zip.length - 22; at >= 0; at--) {
    if (zip.readUInt32LE(at) === EOCD) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) throw new Error('no end of central directory record');
  const entries = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(ZIP64_EOCD, 0);
  record.writeBigUInt64LE(44n, 4); // size of the rest of the record
  record.writeUInt16LE(45, 12); // version made by
  record.writeUInt16LE(45, 14); // version needed
  record.writeBigUInt64LE(BigInt(entries), 24);
  record.writeBigUInt64LE(BigInt(entries), 32);
  record.writeBigUInt64LE(BigInt(cdSize), 40);
  record.writeBigUInt64LE(BigInt(cdOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(ZIP64_LOCATOR, 0);
  locator.writeBigUInt64LE(BigInt(eocd), 8); // the record goes where the EOCD was
  locator.writeUInt32LE(1, 16); // total disks
  const end = Buffer.from(zip.subarray(eocd));
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([zip.subarray(0, eocd), record, locator, end]);
}

/** The DOS modification time and date of every local and central header (APPNOTE 4.4.6) set to 2024-05-06 07:08:08, in place. */
export function fixZipTimes(zip: Buffer): Buffer {
  const time = (7 << 11) | (8 << 5) | 4;
  const date = (44 << 9) | (5 << 5) | 6;
  for (let at = zip.indexOf('PK', 0, 'latin1'); at >= 0 && at + 16 <= zip.length; at = zip.indexOf('PK', at + 2, 'latin1')) {
    const sig = zip.readUInt32LE(at);
    const t = sig === LOCAL ? at + 10 : sig === CENTRAL ? at + 12 : -1;
    if (t < 0) continue;
    zip.writeUInt16LE(time, t);
    zip.writeUInt16LE(date, t + 2);
  }
  return zip;
}
