/**
 * The error codes of the FAT writer and reader, in one place. FAT_NAME and FAT_CAPACITY are the
 * caller's (usage); FAT_INVALID and FAT_CHAIN are the medium's.
 */
import { DcmsafeError, type ErrorCode, type ErrorData } from '../../errors/index.js';

export type FatErrorCode = 'FAT_NAME' | 'FAT_CAPACITY' | 'FAT_INVALID' | 'FAT_CHAIN';

export function fatError(code: FatErrorCode, message: string, data: ErrorData = {}): DcmsafeError {
  // The cast keeps this module compiling whether or not codes.ts lists the FAT codes yet.
  return new DcmsafeError(code as string as ErrorCode, message, data);
}
