/**
 * Instances produced on all cores, written in order. Converting, signing and encrypting a file is
 * CPU work that does not depend on any other file, so a pool of worker threads produces the next
 * files while the writer (ISO 9660, FAT, ZIP, folder: one sequential stream) consumes the current
 * one. Output order and bytes are the writer's, exactly as without the pool; memory is bounded by
 * LOOKAHEAD jobs × the per-job window, whatever the file sizes (a worker waits for credit).
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

/** Per job: bytes a worker may run ahead of the writer. */
export const WINDOW = 4 << 20;

export interface PoolOptions {
  readonly workers: number;
  /** Jobs in flight beyond the one being written. */
  readonly lookahead?: number;
  readonly clock: Clock;
  /** Starts a worker (tests serve jobs on this thread through a MessageChannel). */
  readonly spawn?: (setup: WorkerSetup) => WorkerLike;
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
  readonly chunks: Buffer[] = [];
  ended = false;
  cancelled = false;
  error: Error | undefined;
  slot: Slot | undefined;
  private waiter: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly job: InstanceJob,
    readonly size: number,
    private readonly pool: InstancePool,
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
    return { stream: this.stream(), close: () => Promise.resolve(this.pool.cancel(this)) };
  }

  private async *stream(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const chunk = this.chunks.shift();
        if (chunk) {
          this.pool.credit(this, chunk.length);
          yield chunk;
          continue;
        }
        if (this.error) throw this.error;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.pool.cancel(this);
    }
  }
}

interface Slot {
  readonly worker: WorkerLike;
  job: Job | undefined;
}

export class InstancePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private broken: Error | undefined;
  readonly lookahead: number;

  constructor(setup: WorkerSetup, private readonly options: PoolOptions) {
    if (options.workers < 1) throw new RangeError('an instance pool needs at least one worker');
    this.lookahead = options.lookahead ?? options.workers * 2;
    const spawn = options.spawn ?? spawnThread;
    for (let i = 0; i < options.workers; i++) {
      const slot: Slot = { worker: spawn(setup), job: undefined };
      slot.worker.on('message', (m) => this.receive(slot, m));
      slot.worker.on('error', (e) => this.crash(e));
      this.slots.push(slot);
    }
  }

  /** A producer for files the writer will most likely open in this order. */
  sequence(entries: readonly { job: InstanceJob; size: number }[]): InstanceProducer & { close(): void } {
    const index = new Map(entries.map((e, i) => [key(e.job), i]));
    const inFlight = new Map<number, Job>();
    return {
      open: (job, size) => {
        const i = index.get(key(job));
        if (i === undefined) return Promise.resolve(this.dispatch(job, size).opened());
        if (!inFlight.has(i)) {
          // The writer went elsewhere than guessed: drop the guesses, start again from here.
          for (const j of inFlight.values()) this.cancel(j);
          inFlight.clear();
        }
        const current = inFlight.get(i) ?? this.dispatch(job, size);
        inFlight.delete(i);
        for (let k = i + 1; k < entries.length && inFlight.size < this.lookahead; k++) {
          if (inFlight.has(k)) continue;
          const e = entries[k] as { job: InstanceJob; size: number };
          inFlight.set(k, this.dispatch(e.job, e.size));
        }
        return Promise.resolve(current.opened());
      },
      close: () => {
        for (const j of inFlight.values()) this.cancel(j);
        inFlight.clear();
      },
    };
  }

  async close(): Promise<void> {
    for (const j of this.jobs.values()) j.fail(new DcmsafeError('INTERNAL', 'the instance pool was closed'));
    this.jobs.clear();
    this.queue.length = 0;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(job: InstanceJob, size: number): Job {
    const j = new Job(this.nextId++, job, size, this);
    if (this.broken) j.fail(this.broken);
    else {
      this.jobs.set(j.id, j);
      this.queue.push(j);
      this.schedule();
    }
    return j;
  }

  /** @internal the writer took `bytes` of the job: the worker may produce that much more. */
  credit(j: Job, bytes: number): void {
    if (j.slot) j.slot.worker.postMessage({ type: 'credit', id: j.id, bytes });
  }

  /** @internal stop a job that is no longer wanted (finished, abandoned, or a wrong guess). */
  cancel(j: Job): void {
    if (j.cancelled) return;
    j.cancelled = true;
    j.chunks.length = 0;
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
      if (j && !j.cancelled) {
        j.chunks.push(Buffer.from(m.data, 0, m.length));
        j.wake();
      }
      return;
    }
    if (j) {
      if (m.type === 'end') j.ended = true;
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
