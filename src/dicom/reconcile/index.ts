/**
 * Patient reconciliation for import (IHE RAD IRWF): IRWF coercion of a data set (PS3.3 C.7.1.1,
 * C.12.1.1.9) and the forward-only rewrite of a Part 10 file that applies it while the pixel data
 * streams through.
 */
export { coerceDataSet, formatDateTime, modifiedKeywords, RT, type Coercion, type CoercionContext, type LocalIdentity } from './coerce.js';
export { encoderFor, isAsciiBytes, type TextEncoderFn } from './charset-encode.js';
export { reconcileError, type ReconcileErrorCode } from './errors.js';
export { DEFAULT_MAX_HEADER_BYTES, encodeHeaderDataSet, openRewrite, type Rewrite, type RewriteOptions } from './rewrite.js';
export { IterableByteSource, RecordingByteSource, remainingChunks, STREAM_CHUNK } from './sources.js';
