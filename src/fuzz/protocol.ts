/** Messages between the fuzz campaign and its workers. */
export interface WorkerTask {
  readonly target: string;
  readonly seed: number;
  readonly from: number;
  readonly to: number;
  readonly timeoutMs: number;
  readonly scratch: string;
  /** Int32 [0]: the number of the input in hand. */
  readonly progress: SharedArrayBuffer;
}

export type FailureKind = 'crash' | 'slow' | 'hang' | 'memory';

export interface WorkerFailure {
  readonly index: number;
  readonly kind: FailureKind;
  readonly message: string;
  readonly stack: string;
  readonly how: string;
  readonly bytes: Uint8Array;
  readonly originalLength: number;
}

export type WorkerMessage =
  | { readonly type: 'counts'; readonly accepted: number; readonly codes: Record<string, number>; readonly done: number }
  | { readonly type: 'failure'; readonly failure: WorkerFailure }
  | { readonly type: 'done' };
