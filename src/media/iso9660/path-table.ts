/**
 * Path Table, ECMA-119 §9.4 (records) and §6.9.1 (order: by level, then by parent directory number,
 * then by directory identifier as §9.3 orders them). The root is directory number 1 and its own
 * parent. Type L tables hold the numbers little endian (§7.3.1/§7.2.1), type M big endian.
 *
 *   BP 1        Length of Directory Identifier (LEN_DI)
 *   BP 2        Extended Attribute Record Length
 *   BP 3-6      Location of Extent (32, L or M)
 *   BP 7-8      Parent Directory Number (16, L or M)
 *   BP 9-       Directory Identifier, then a padding byte when LEN_DI is odd
 */
import { ISO9660_INVALID, isoError } from './errors.js';
import type { FieldContext } from './numbers.js';

export interface PathTableRecord {
  /** "\x00" for the root. */
  identifier: string;
  location: number;
  parentNumber: number;
  extendedAttributeLength: number;
}

export type PathTableType = 'L' | 'M';

export function sizeOfPathTableRecord(identifierLength: number): number {
  return 8 + identifierLength + (identifierLength % 2);
}

export function sizeOfPathTable(records: readonly PathTableRecord[]): number {
  let n = 0;
  for (const r of records) n += sizeOfPathTableRecord(Buffer.byteLength(r.identifier, 'latin1'));
  return n;
}

export function encodePathTable(records: readonly PathTableRecord[], type: PathTableType): Buffer {
  const buf = Buffer.alloc(sizeOfPathTable(records));
  let pos = 0;
  for (const r of records) {
    const id = Buffer.from(r.identifier, 'latin1');
    buf[pos] = id.length; // BP 1 length of directory identifier
    buf[pos + 1] = r.extendedAttributeLength; // BP 2 extended attribute record length
    if (type === 'L') {
      buf.writeUInt32LE(r.location, pos + 2); // BP 3-6 location of extent
      buf.writeUInt16LE(r.parentNumber, pos + 6); // BP 7-8 parent directory number
    } else {
      buf.writeUInt32BE(r.location, pos + 2); // BP 3-6 location of extent
      buf.writeUInt16BE(r.parentNumber, pos + 6); // BP 7-8 parent directory number
    }
    id.copy(buf, pos + 8); // BP 9- directory identifier, padding byte stays zero
    pos += sizeOfPathTableRecord(id.length);
  }
  return buf;
}

export function decodePathTable(buf: Buffer, type: PathTableType, ctx: FieldContext, maxRecords: number): PathTableRecord[] {
  const out: PathTableRecord[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const idLength = buf[pos] ?? 0;
    const where = { file: ctx.file, offset: ctx.offset + pos };
    if (idLength === 0) throw isoError(ISO9660_INVALID, `${ctx.file}: path table ${type} record at ${where.offset} has an empty directory identifier`, where);
    const size = sizeOfPathTableRecord(idLength);
    if (pos + size > buf.length) throw isoError(ISO9660_INVALID, `${ctx.file}: path table ${type} record at ${where.offset} runs past the table's size`, where);
    if (out.length >= maxRecords) throw isoError(ISO9660_INVALID, `${ctx.file}: path table ${type} has more than ${maxRecords} records`, where);
    out.push({
      extendedAttributeLength: buf[pos + 1] ?? 0,
      location: type === 'L' ? buf.readUInt32LE(pos + 2) : buf.readUInt32BE(pos + 2),
      parentNumber: type === 'L' ? buf.readUInt16LE(pos + 6) : buf.readUInt16BE(pos + 6),
      identifier: buf.toString('latin1', pos + 8, pos + 8 + idLength),
    });
    pos += size;
  }
  return out;
}
