/**
 * Error codes of the DICOM network layer (PS3.8 Upper Layer, PS3.7 DIMSE, PS3.15 Annex B TLS), all
 * with fault 'peer' (exit code 4):
 *
 *   NET_CONNECT      peer  Cannot connect to the peer, or the connection dropped.
 *   NET_TLS          peer  The TLS handshake failed: unknown CA, name mismatch, protocol version, missing certificate.
 *   NET_ASSOCIATION  peer  The association was rejected or aborted, or no presentation context was accepted.
 *   NET_PROTOCOL     peer  The peer sent a malformed or unexpected PDU or DIMSE message.
 *   NET_TIMEOUT      peer  The peer did not answer in time (connect, TLS handshake, ARTIM, DIMSE).
 */
import { DcmsafeError, type ErrorData } from '../errors/index.js';

export type NetErrorCode = 'NET_CONNECT' | 'NET_TLS' | 'NET_ASSOCIATION' | 'NET_PROTOCOL' | 'NET_TIMEOUT';

export function netError(code: NetErrorCode, message: string, data: ErrorData = {}, cause?: unknown): DcmsafeError {
  return new DcmsafeError(code, message, data, cause === undefined ? undefined : { cause });
}

/** Errors of the caller's own parameters (AE titles, contexts, lengths): a usage error, not the peer's. */
export function usageError(message: string, data: ErrorData = {}): DcmsafeError {
  return new DcmsafeError('USAGE', message, data);
}

export function isNetError(e: unknown, code?: NetErrorCode): e is DcmsafeError {
  return e instanceof DcmsafeError && (code === undefined ? e.code.startsWith('NET_') : e.code === code);
}
