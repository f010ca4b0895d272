/**
 * Instances produced on all cores, written in order. Converting, signing and encrypting a file is
 * CPU work that does not depend on any other file, so a pool of worker threads produces the next
 * files while the writer (ISO 9660, FAT, ZIP, folder: one sequential stream) consumes the current
 * one. Output order and bytes are the writer's, exactly as without the pool; memory is bounded by
 * the byte budget of the jobs in flight and by each worker's shared cells, whatever the file sizes.
 *
 * The pool guesses the writer's order from the list it is given (`sequence`); when the writer opens
 * a file the guess did not have in flight, the jobs in flight are cancelled and the lookahead starts
 * again from that file: a wrong guess costs work, never correctness or memory.
 */
import { Worker } from 'node:worker_threads';
import { DcmsafeError, ERROR_CODES, type ErrorCode } from '../../errors/index.js';
import type { OpenedContent } from '../../media/media-file.js';
import type { Clock } from '../../util/clock.js';
import { workerCount } from '../../util/workers.js';
import type { InstanceJob, InstanceProducer } from '../instance-output.js';
import type { FromWorker, WorkerError, WorkerLike, WorkerSetup } from './protocol.js';
import { CELL_BYTES, CELL_COUNT } from './serve.js';

/** Per job: bytes a worker may run ahead of the writer. */
export const WINDOW = 4 << 20;

/** Most jobs in flight beyond the one being written (small files: many run ahead within the byte budget). */
export const MAX_LOOKAHEAD = 64;

export interface PoolOptions {
  readonly workers: number;
  /** Jobs in flight beyond the one being written (default MAX_LOOKAHEAD). */
  readonly lookahead?: number;
  /**
   * Bytes the jobs in flight may hold, each counted as the least of its size and the window (a job
   * never holds more): default two windows per worker. Small files run far ahead, large ones a few.
   */
  readonly budget?: number;
  /** Per job: bytes a worker may run ahead of the writer (the setup's window). */
  readonly window?: number;
  readonly clock: Clock;
  /** Starts a worker (tests serve jobs on this thread through a MessageChannel). */
  readonly spawn?: (setup: WorkerSetup) => WorkerLike;
}

/** What the pool is given to start its workers: the setup, less each worker's own shared memory. */
export type PoolSetup = Omit<WorkerSetup, 'shared'>;

export interface SequenceOptions {
  /**
   * The writer is done with a chunk when it asks for the next one (it copies or writes it first, as
   * writeImageFile does): chunks are then views of the workers' shared memory, given back when the
   * next is asked for. Otherwise (writers that queue chunks: ZIP, folders) each chunk is a copy.
   */
  readonly borrow?: boolean;
}

/** A chunk as it arrived: a view of one cell of a worker's shared memory. */
interface Arrived {
  readonly bytes: Buffer;
  readonly cell: number;
}

const WORKER_SCRIPT = new URL('./worker.js', import.meta.url);

/** Worker threads for the pool (util/workers.ts: DCMSAFE_WORKERS, else one per core). */
export function poolSize(env: NodeJS.ProcessEnv = process.env): number {
  return workerCount(WORKER_SCRIPT, env);
}

function spawnThread(setup: WorkerSetup): WorkerLike {
  // A small young generation: the blocks a worker allocates die young, and are freed sooner.
  return new Worker(WORKER_SCRIPT, { workerData: setup, resourceLimits: { maxYoungGenerationSizeMb: 4 } }) as unknown as WorkerLike;
}

class Job {
  readonly chunks: Arrived[] = [];
  ended = false;
  cancelled = false;
  /** SHA-256 of the content, from the worker (when the pool's setup asks for it). */
  sha256: string | undefined;
  error: Error | undefined;
  slot: Slot | undefined;
  private waiter: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly job: InstanceJob,
    readonly size: number,
    private readonly pool: InstancePool,
    private readonly borrow: boolean,
  ) {}

  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  fail(error: Error): void {
    this.error ??= error;
    this.wake();
  }

  opened(): OpenedContent {
    const opened = { stream: this.stream(), close: () => Promise.resolve(this.pool.cancel(this)) };
    return this.pool.hashesOutput ? { ...opened, sha256: () => (this.ended && this.chunks.length === 0 ? this.sha256 : undefined) } : opened;
  }

  private async *stream(): AsyncGenerator<Buffer> {
    let lent: Arrived | undefined;
    try {
      for (;;) {
        const chunk = this.chunks.shift();
        if (chunk) {
          if (this.borrow) {
            lent = chunk;
            yield chunk.bytes;
            lent = undefined;
            this.pool.release(this, chunk.cell); // the writer asked for the next chunk: done with this one
          } else {
            const copy = Buffer.from(chunk.bytes);
            this.pool.release(this, chunk.cell);
            yield copy;
          }
          continue;
        }
        if (this.error) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      if (lent) this.pool.release(this, lent.cell);
      this.pool.cancel(this);
    }
  }
}

interface Slot {
  readonly worker: WorkerLike;
  /** Views of the worker's cells (its shared memory). */
  readonly cells: readonly Buffer[];
  job: Job | undefined;
}

export class InstancePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private broken: Error | undefined;
  readonly lookahead: number;
  readonly budget: number;
  private readonly window: number;
  /** @internal each job's content comes with its SHA-256 (WorkerSetup.hashOutput). */
  readonly hashesOutput: boolean;

  constructor(setup: PoolSetup, private readonly options: PoolOptions) {
    this.hashesOutput = setup.hashOutput === true;
    if (options.workers < 1) throw new RangeError('an instance pool needs at least one worker');
    this.lookahead = options.lookahead ?? MAX_LOOKAHEAD;
    this.window = options.window ?? setup.window;
    this.budget = options.budget ?? options.workers * 2 * this.window;
    const spawn = options.spawn ?? spawnThread;
    for (let i = 0; i < options.workers; i++) {
      const shared = new SharedArrayBuffer(CELL_BYTES * CELL_COUNT);
      const cells = Array.from({ length: CELL_COUNT }, (_, c) => Buffer.from(shared, c * CELL_BYTES, CELL_BYTES));
      const slot: Slot = { worker: spawn({ ...setup, shared }), cells, job: undefined };
      slot.worker.on('message', (m) => this.receive(slot, m));
      slot.worker.on('error', (e) => this.crash(e));
      this.slots.push(slot);
    }
  }

  /** A producer for files the writer will most likely open in this order. */
  sequence(entries: readonly { job: InstanceJob; size: number }[], options: SequenceOptions = {}): InstanceProducer & { close(): void } {
    const borrow = options.borrow === true;
    const index = new Map(entries.map((e, i) => [key(e.job), i]));
    const inFlight = new Map<number, Job>();
    let held = 0; // bytes the jobs in flight may hold
    const weight = (j: Job): number => Math.min(j.size, this.window);
    const drop = (): void => {
      for (const j of inFlight.values()) this.cancel(j);
      inFlight.clear();
      held = 0;
    };
    return {
      open: (job, size) => {
        const i = index.get(key(job));
        if (i === undefined) return Promise.resolve(this.dispatch(job, size, borrow).opened());
        if (!inFlight.has(i)) drop(); // the writer went elsewhere than guessed: start again from here
        const guessed = inFlight.get(i);
        if (guessed) {
          inFlight.delete(i);
          held -= weight(guessed);
        }
        const current = guessed ?? this.dispatch(job, size, borrow);
        // Keys ascend in insertion order: the last one is the furthest guess so far.
        let k = i + 1;
        for (const at of inFlight.keys()) k = Math.max(k, at + 1);
        for (; k < entries.length && inFlight.size < this.lookahead; k++) {
          const e = entries[k] as { job: InstanceJob; size: number };
          const w = Math.min(e.size, this.window);
          if (inFlight.size > 0 && held + w > this.budget) break; // one job always runs ahead, whatever its size
          inFlight.set(k, this.dispatch(e.job, e.size, borrow));
          held += w;
        }
        return Promise.resolve(current.opened());
      },
      close: drop,
    };
  }

  async close(): Promise<void> {
    for (const j of this.jobs.values()) j.fail(new DcmsafeError('INTERNAL', 'the instance pool was closed'));
    this.jobs.clear();
    this.queue.length = 0;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(job: InstanceJob, size: number, borrow: boolean): Job {
    const j = new Job(this.nextId++, job, size, this, borrow);
    if (this.broken) j.fail(this.broken);
    else {
      this.jobs.set(j.id, j);
      this.queue.push(j);
      this.schedule();
    }
    return j;
  }

  /** @internal the writer is done with a chunk: its cell goes back to the worker that filled it, which may produce that much more. */
  release(j: Job, cell: number): void {
    j.slot?.worker.postMessage({ type: 'release', cell });
  }

  /** @internal stop a job that is no longer wanted (finished, abandoned, or a wrong guess). */
  cancel(j: Job): void {
    if (j.cancelled) return;
    j.cancelled = true;
    for (const c of j.chunks.splice(0)) this.release(j, c.cell);
    if (j.slot && !j.ended) j.slot.worker.postMessage({ type: 'cancel', id: j.id });
    if (!j.slot) {
      this.jobs.delete(j.id);
      const at = this.queue.indexOf(j);
      if (at >= 0) this.queue.splice(at, 1);
    }
  }

  private schedule(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const j = this.queue.shift();
      if (!j) return;
      slot.job = j;
      j.slot = slot;
      slot.worker.postMessage({ type: 'job', id: j.id, job: j.job, size: j.size, now: this.options.clock.now().getTime() });
    }
  }

  private receive(slot: Slot, m: FromWorker): void {
    const j = this.jobs.get(m.id);
    if (m.type === 'chunk') {
      const cell = slot.cells[m.cell];
      if (!cell || !Number.isInteger(m.length) || m.length < 1 || m.length > cell.length) {
        this.crash(new Error(`a worker named cell ${m.cell} with ${m.length} bytes`));
        return;
      }
      if (j && !j.cancelled) {
        j.chunks.push({ bytes: cell.subarray(0, m.length), cell: m.cell });
        j.wake();
      } else slot.worker.postMessage({ type: 'release', cell: m.cell });
      return;
    }
    if (j) {
      if (m.type === 'end') {
        j.ended = true;
        j.sha256 = m.sha256;
      }
      else if (m.type === 'error') j.fail(asError(m.error));
      j.wake();
      this.jobs.delete(m.id);
    }
    slot.job = undefined;
    this.schedule();
  }

  private crash(e: Error): void {
    this.broken = new DcmsafeError('INTERNAL', `a worker thread failed: ${e.message}`, {}, { cause: e });
    for (const j of this.jobs.values()) j.fail(this.broken);
    this.jobs.clear();
    this.queue.length = 0;
  }
}

function key(job: InstanceJob): string {
  return job.fileId.join('/');
}

function asError(e: WorkerError): Error {
  if (e.code !== undefined && Object.hasOwn(ERROR_CODES, e.code)) return new DcmsafeError(e.code as ErrorCode, e.message, e.data ?? {});
  return new Error(e.message);
}
