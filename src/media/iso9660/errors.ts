/**
 * Error codes of the ISO 9660 writer and reader. They are not yet in src/errors/codes.ts; until they
 * are, `isoError` casts them to ErrorCode. Faults: NAME, DEPTH and FILE_SIZE are the caller's (usage),
 * INVALID and EXTENT the medium's (media).
 */
import { DcmsafeError, type ErrorCode, type ErrorData } from '../../errors/index.js';

/** A path component that ISO 9660 Level 1 (8.3 d-characters) cannot hold, or two files with one name. */
export const ISO9660_NAME = 'ISO9660_NAME';
/** More than 8 directory levels (root = level 1), or more directories than a path table can number. */
export const ISO9660_DEPTH = 'ISO9660_DEPTH';
/** A file of 4 GiB or more: Level 1 records a file as one extent whose length is a 32-bit number. */
export const ISO9660_FILE_SIZE = 'ISO9660_FILE_SIZE';
/** The image is not ISO 9660, or its descriptors or directory records are malformed. */
export const ISO9660_INVALID = 'ISO9660_INVALID';
/** An extent outside the image, an absurd size, a directory loop, or a reading limit exceeded. */
export const ISO9660_EXTENT = 'ISO9660_EXTENT';

export type Iso9660ErrorCode = typeof ISO9660_NAME | typeof ISO9660_DEPTH | typeof ISO9660_FILE_SIZE | typeof ISO9660_INVALID | typeof ISO9660_EXTENT;

export function isoError(code: Iso9660ErrorCode | ErrorCode, message: string, data: ErrorData = {}, options?: { cause?: unknown }): DcmsafeError {
  return new DcmsafeError(code as ErrorCode, message, data, options);
}
