/**
 * Error codes of the ZIP writer and reader (PKWARE APPNOTE 6.3.10; PS3.12 Annex V). They are not in
 * src/errors/codes.ts yet: until they are, `zipError` casts them, so `code` is right but `fault`
 * (looked up in the table) is not available. Once the table has them the cast is a no-op.
 *
 *   ZIP_INVALID      media  The ZIP is not a ZIP, is truncated or malformed (headers, sizes, CRC, methods).
 *   ZIP_UNSAFE_NAME  media  An entry name could escape the extraction root (absolute, "..", "\", drive, NUL).
 *   ZIP_BOMB         media  Declared or actual entry sizes, counts or ratios exceed the limits, or entries overlap.
 */
import { DcmsafeError, type ErrorCode, type ErrorData } from '../../errors/index.js';

export type ZipErrorCode = 'ZIP_INVALID' | 'ZIP_UNSAFE_NAME' | 'ZIP_BOMB';

export function zipError(code: ZipErrorCode, message: string, data: ErrorData = {}, cause?: unknown): DcmsafeError {
  return new DcmsafeError(code as unknown as ErrorCode, message, data, cause === undefined ? undefined : { cause });
}
