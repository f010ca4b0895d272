import { ERROR_CODES, type ErrorCode, type Fault } from './codes.js';

export { ERROR_CODES, EXIT, exitCodeForFault, type ErrorCode, type Fault } from './codes.js';

/** Structured context of an error: where it happened, in the input's own terms. */
export interface ErrorData {
  file?: string;
  offset?: number;
  tag?: string;
  [key: string]: unknown;
}

/**
 * The one error base class of dcmsafe. `code` is stable (see codes.ts), `data` says where, `fault`
 * says who is at fault. The message is for people; programs use code and data.
 */
export class DcmsafeError extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData;

  constructor(code: ErrorCode, message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DcmsafeError';
    this.code = code;
    this.data = data;
  }

  get fault(): Fault {
    return ERROR_CODES[this.code].fault;
  }

  toJSON(): { code: ErrorCode; fault: Fault; message: string; data: ErrorData } {
    return { code: this.code, fault: this.fault, message: this.message, data: this.data };
  }
}

export function isDcmsafeError(e: unknown): e is DcmsafeError {
  return e instanceof DcmsafeError;
}

/** Wraps anything thrown into a DcmsafeError, keeping typed errors as they are. */
export function asDcmsafeError(e: unknown, data: ErrorData = {}): DcmsafeError {
  if (e instanceof DcmsafeError) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  if (err && typeof err.code === 'string' && typeof err.syscall === 'string') {
    return new DcmsafeError('IO', `${err.syscall} failed: ${err.message}`, { ...data, errno: err.code }, { cause: e });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new DcmsafeError('INTERNAL', message, data, { cause: e });
}
