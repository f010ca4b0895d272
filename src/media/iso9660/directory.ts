/**
 * Directories, ECMA-119 §6.8.1 and §6.8.2: a directory is its records recorded one after the other in
 * an extent, "." first, ".." second, then the others in the order of §9.3. A record never crosses the
 * end of a logical sector: when the next record does not fit, the rest of the sector is left zero and
 * the record starts the next sector. The data length of a directory is a whole number of sectors.
 */
import { encodeDirectoryRecord, sizeOfDirectoryRecord, type DirectoryRecord } from './directory-record.js';
import { SECTOR_SIZE } from './volume-descriptor.js';

/** Where each record of a directory goes (byte offsets in its extent) and how many sectors it takes. */
export function placeRecords(recordSizes: readonly number[]): { offsets: number[]; sectors: number } {
  const offsets: number[] = [];
  let sector = 0;
  let pos = 0;
  for (const size of recordSizes) {
    if (pos + size > SECTOR_SIZE) {
      sector += 1;
      pos = 0;
    }
    offsets.push(sector * SECTOR_SIZE + pos);
    pos += size;
  }
  return { offsets, sectors: sector + 1 };
}

/** Bytes of a directory whose records have identifiers of these lengths (no System Use). */
export function sizeOfDirectory(identifierLengths: readonly number[]): number {
  return placeRecords(identifierLengths.map((n) => sizeOfDirectoryRecord(n))).sectors * SECTOR_SIZE;
}

export function encodeDirectory(records: readonly DirectoryRecord[]): Buffer {
  const sizes = records.map((r) => sizeOfDirectoryRecord(Buffer.byteLength(r.identifier, 'latin1'), r.systemUse.length));
  const { offsets, sectors } = placeRecords(sizes);
  const buf = Buffer.alloc(sectors * SECTOR_SIZE);
  records.forEach((r, i) => encodeDirectoryRecord(r, buf, offsets[i] ?? 0));
  return buf;
}
