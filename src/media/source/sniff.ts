/**
 * Which kind of image a file (or block device) holds, from a few bytes, strongest evidence first:
 *  1. ISO 9660: "CD001" at byte 32769, the standard identifier of the first volume descriptor
 *     (ECMA-119 §8.1.2, sector 16). Checked first: hybrid ISOs carry an MBR in their system area;
 *  2. ZIP: a local file header signature "PK\3\4" at byte 0 (APPNOTE 4.3.7);
 *  3. FAT: a boot sector at byte 0, or an MBR whose first partition starts with one (PS3.12 Annex R;
 *     the same rules as the FAT reader, so a sniffed FAT image is one the reader tries);
 *  4. ZIP again: an end of central directory record (APPNOTE 4.3.16) that ends exactly at the end of
 *     the file, with its comment (ZIPs with a prefix, e.g. self-extracting, or an empty ZIP). Last,
 *     because it is the weakest sign: the last file of a FAT image could be a ZIP.
 * Nothing here trusts the bytes beyond choosing which reader gets them; the readers check the rest.
 */
import { parseBootSector } from '../fat/boot-sector.js';
import { parsePartitionTable, SECTOR_SIZE } from '../fat/mbr.js';

export type ImageKind = 'iso9660' | 'zip' | 'fat';

export type ReadAt = (position: number, length: number) => Promise<Buffer>;

const ISO_IDENTIFIER_OFFSET = 16 * 2048 + 1;
const LOCAL_HEADER = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const EOCD = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

export async function isIso9660(read: ReadAt): Promise<boolean> {
  return (await read(ISO_IDENTIFIER_OFFSET, 5)).toString('latin1') === 'CD001';
}

/** A FAT boot sector at 0, or in the first partition of an MBR at 0. */
export async function isFat(read: ReadAt, sector0: Buffer): Promise<boolean> {
  if (sector0.length < SECTOR_SIZE) return false;
  if (typeof parseBootSector(sector0) !== 'string') return true;
  const first = parsePartitionTable(sector0)?.[0];
  if (!first || first.startLba === 0) return false;
  const boot = await read(first.startLba * SECTOR_SIZE, SECTOR_SIZE);
  return boot.length === SECTOR_SIZE && typeof parseBootSector(boot) !== 'string';
}

/** An end of central directory record whose comment runs exactly to the end of the file. */
export async function hasEndOfCentralDirectory(read: ReadAt, size: number): Promise<boolean> {
  if (size < EOCD_SIZE) return false;
  const tailStart = Math.max(0, size - EOCD_SIZE - MAX_COMMENT);
  const tail = await read(tailStart, size - tailStart);
  for (let at = tail.length - EOCD_SIZE; at >= 0; at--) {
    at = tail.lastIndexOf(EOCD, at);
    if (at < 0) break;
    if (at + EOCD_SIZE + tail.readUInt16LE(at + 20) === tail.length) return true;
  }
  return false;
}

/** The kind of image, or undefined for anything else. `size` is undefined when unknown (a device): no ZIP then. */
export async function sniffImage(read: ReadAt, size: number | undefined): Promise<ImageKind | undefined> {
  if (await isIso9660(read)) return 'iso9660';
  const sector0 = await read(0, SECTOR_SIZE);
  if (size !== undefined && sector0.subarray(0, 4).equals(LOCAL_HEADER)) return 'zip';
  if (await isFat(read, sector0)) return 'fat';
  if (size !== undefined && (await hasEndOfCentralDirectory(read, size))) return 'zip';
  return undefined;
}
