/**
 * Directory Record, ECMA-119 §9.1 (and §6.8.2: records never cross a logical sector boundary; a length
 * byte of 0 where a record would start means the rest of the sector is unused, §6.8.1.1).
 *
 *   BP 1        Length of Directory Record (LEN_DR)
 *   BP 2        Extended Attribute Record Length
 *   BP 3-10     Location of Extent (both-endian 32)
 *   BP 11-18    Data Length (both-endian 32)
 *   BP 19-25    Recording Date and Time (§9.1.5)
 *   BP 26       File Flags (§9.1.6)
 *   BP 27       File Unit Size
 *   BP 28       Interleave Gap Size
 *   BP 29-32    Volume Sequence Number (both-endian 16)
 *   BP 33       Length of File Identifier (LEN_FI)
 *   BP 34-      File Identifier, a padding byte when LEN_FI is even, then System Use
 */
import { decodeRecordingDateTime, encodeRecordingDateTime } from './date-time.js';
import { ISO9660_INVALID, isoError } from './errors.js';
import { readBothUInt16, readBothUInt32, writeBothUInt16, writeBothUInt32, type FieldContext } from './numbers.js';

/** §9.1.6 File Flags. */
export const FILE_FLAG = {
  EXISTENCE: 0x01, // bit 0: hidden
  DIRECTORY: 0x02, // bit 1
  ASSOCIATED_FILE: 0x04, // bit 2
  RECORD: 0x08, // bit 3: record format in the extended attribute record
  PROTECTION: 0x10, // bit 4
  MULTI_EXTENT: 0x80, // bit 7: not the final directory record of the file
} as const;

/** Length of the fixed part of a directory record (BP 1-33). */
export const DIRECTORY_RECORD_FIXED = 33;

export interface DirectoryRecord {
  extendedAttributeLength: number;
  /** Logical block of the extent (of its extended attribute record when there is one). */
  location: number;
  dataLength: number;
  recorded: Date | undefined;
  flags: number;
  fileUnitSize: number;
  interleaveGapSize: number;
  volumeSequenceNumber: number;
  /** The identifier as bytes read as Latin-1 ("\x00" for ".", "\x01" for ".."). */
  identifier: string;
  systemUse: Buffer;
}

/** LEN_DR for an identifier of `identifierLength` bytes and `systemUseLength` bytes of System Use. */
export function sizeOfDirectoryRecord(identifierLength: number, systemUseLength = 0): number {
  return DIRECTORY_RECORD_FIXED + identifierLength + (identifierLength % 2 === 0 ? 1 : 0) + systemUseLength;
}

/** Writes `record` at `offset` of `buf` (which must be zeroed there); returns LEN_DR. */
export function encodeDirectoryRecord(record: DirectoryRecord, buf: Buffer, offset: number): number {
  const id = Buffer.from(record.identifier, 'latin1');
  const length = sizeOfDirectoryRecord(id.length, record.systemUse.length);
  if (length > 255) throw new RangeError(`directory record of ${length} bytes`);
  buf[offset] = length; // BP 1 length of directory record
  buf[offset + 1] = record.extendedAttributeLength; // BP 2 extended attribute record length
  writeBothUInt32(buf, offset + 2, record.location); // BP 3-10 location of extent
  writeBothUInt32(buf, offset + 10, record.dataLength); // BP 11-18 data length
  if (record.recorded) encodeRecordingDateTime(record.recorded, buf, offset + 18); // BP 19-25 recording date and time
  buf[offset + 25] = record.flags; // BP 26 file flags
  buf[offset + 26] = record.fileUnitSize; // BP 27 file unit size
  buf[offset + 27] = record.interleaveGapSize; // BP 28 interleave gap size
  writeBothUInt16(buf, offset + 28, record.volumeSequenceNumber); // BP 29-32 volume sequence number
  buf[offset + 32] = id.length; // BP 33 length of file identifier
  id.copy(buf, offset + 33); // BP 34-(33+LEN_FI) file identifier; the padding byte stays zero
  record.systemUse.copy(buf, offset + length - record.systemUse.length); // system use
  return length;
}

/**
 * Reads the record at `offset` of `buf` (a sector or a whole directory), which the caller has checked
 * starts with a non-zero length byte. `ctx.offset` is the image offset of `buf[0]`. The record must fit
 * in `limit` (the end of its sector).
 */
export function decodeDirectoryRecord(buf: Buffer, offset: number, limit: number, ctx: FieldContext): DirectoryRecord & { length: number } {
  const length = buf[offset] ?? 0;
  const where = { file: ctx.file, offset: ctx.offset + offset };
  if (length < DIRECTORY_RECORD_FIXED + 1) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: directory record at ${where.offset} has length ${length}, less than 34`, where);
  }
  if (offset + length > limit) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: directory record at ${where.offset} (${length} bytes) crosses the end of its sector`, where);
  }
  const idLength = buf[offset + 32] ?? 0;
  if (idLength === 0 || DIRECTORY_RECORD_FIXED + idLength > length) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: directory record at ${where.offset} has a file identifier of ${idLength} bytes in a record of ${length}`, where);
  }
  const sub = { file: ctx.file, offset: ctx.offset + offset };
  const rec = buf.subarray(offset, offset + length);
  const suStart = DIRECTORY_RECORD_FIXED + idLength + (idLength % 2 === 0 ? 1 : 0);
  return {
    length,
    extendedAttributeLength: rec[1] ?? 0,
    location: readBothUInt32(rec, 2, 'location of extent', sub),
    dataLength: readBothUInt32(rec, 10, 'data length', sub),
    recorded: decodeRecordingDateTime(rec, 18),
    flags: rec[25] ?? 0,
    fileUnitSize: rec[26] ?? 0,
    interleaveGapSize: rec[27] ?? 0,
    volumeSequenceNumber: readBothUInt16(rec, 28, 'volume sequence number', sub),
    identifier: rec.toString('latin1', 33, 33 + idLength),
    systemUse: Buffer.from(rec.subarray(Math.min(suStart, length), length)),
  };
}
