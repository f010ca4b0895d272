/**
 * Error codes of reconciliation that are not yet in the one table (src/errors/codes.ts):
 *   RECONCILE_CHARSET   (input)  a local value cannot be written in the instance's character set
 *   RECONCILE_CONFLICT  (usage)  the local identity cannot be applied (a required value missing, a
 *                                value that does not fit its VR)
 * Until the table lists them, the cast below lets them through and `fault` is answered here, so
 * that `err.fault` and `toJSON()` work either way.
 */
import { DcmsafeError, ERROR_CODES, type ErrorCode, type ErrorData, type Fault } from '../../errors/index.js';

export type ReconcileErrorCode = 'RECONCILE_CHARSET' | 'RECONCILE_CONFLICT';

const FAULT: Record<ReconcileErrorCode, Fault> = {
  RECONCILE_CHARSET: 'input',
  RECONCILE_CONFLICT: 'usage',
};

export function reconcileError(code: ReconcileErrorCode, message: string, data: ErrorData = {}): DcmsafeError {
  const err = new DcmsafeError(code as ErrorCode, message, data);
  if (!(code in ERROR_CODES)) Object.defineProperty(err, 'fault', { value: FAULT[code], enumerable: false });
  return err;
}
