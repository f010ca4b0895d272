/**
 * Messages between the instance pool (main thread) and its workers. Jobs are plain data. Content
 * comes back through memory the two threads share: each worker has its own SharedArrayBuffer of
 * fixed cells; it fills a free cell and names it in a `chunk`, the main thread gives the cell back
 * (`release`) once the writer is done with it. Nothing is allocated or transferred per chunk (each
 * transferred buffer was new external memory on the main thread, and cost it a full garbage
 * collection every few MiB). A worker never has more than a window of one job's bytes in cells not
 * yet given back, nor more than its cells (back-pressure).
 */
import type { DicomSigner } from '../../dicom/signature/sign.js';
import type { RandomSpec } from '../../util/random.js';
import type { InstanceJob } from '../instance-output.js';
import type { MediaSecurity } from '../protect.js';

/** Given to every worker when it starts. */
export interface WorkerSetup {
  readonly security?: MediaSecurity;
  readonly dicomSignature?: DicomSigner;
  readonly random: RandomSpec;
  /** Bytes of one job a worker may have sent and not yet had back (released). */
  readonly window: number;
  /** Hash every job's output (SHA-256) and send it with `end`: the signed media manifest lists it. */
  readonly hashOutput?: boolean;
  /** This worker's cells (serve.ts CELL_BYTES each), shared with the main thread. */
  readonly shared: SharedArrayBuffer;
}

export type ToWorker =
  | { readonly type: 'job'; readonly id: number; readonly job: InstanceJob; readonly size: number; readonly now: number }
  | { readonly type: 'cancel'; readonly id: number }
  | { readonly type: 'release'; readonly cell: number };

export interface WorkerError {
  readonly code?: string;
  readonly message: string;
  readonly data?: Record<string, unknown>;
}

export type FromWorker =
  | { readonly type: 'chunk'; readonly id: number; readonly cell: number; readonly length: number }
  | { readonly type: 'end'; readonly id: number; readonly sha256?: string }
  | { readonly type: 'cancelled'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly error: WorkerError };

/** What the pool needs of a worker: a Worker, or in tests a MessagePort served on this thread. */
export interface WorkerLike {
  postMessage(message: ToWorker): void;
  on(event: 'message', listener: (message: FromWorker) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  terminate(): Promise<unknown>;
}

/** Structured cloning turns Buffers into Uint8Arrays: turn them back, in plain objects and arrays. */
export function revive<T>(value: T): T {
  if (value instanceof Uint8Array) return (Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length)) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => revive(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)])) as T;
  }
  return value;
}
