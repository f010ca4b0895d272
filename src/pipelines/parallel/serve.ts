/**
 * The worker side of the instance pool: runs one job at a time (convert, sign, protect: the same
 * `openInstance` the main thread would run), copies the content into cells of the memory it shares
 * with the main thread and names each full cell in a message; it waits when it has no free cell, or
 * when a window's worth of the job is not yet given back. A cancelled job stops at the next cell and
 * closes its input.
 */
import { createHash } from 'node:crypto';
import { isDcmsafeError } from '../../errors/index.js';
import { fixedClock } from '../../util/clock.js';
import { randomFromSpec } from '../../util/random.js';
import { openInstance, type ProtectContext } from '../instance-output.js';
import { revive, type FromWorker, type ToWorker, type WorkerSetup } from './protocol.js';

/** Cells of the shared memory a worker fills and the writer's thread reads (see protocol.ts). */
export const CELL_BYTES = 512 << 10;
export const CELL_COUNT = 16;

export interface PortLike {
  postMessage(message: FromWorker, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (message: ToWorker) => void): unknown;
}

interface JobState {
  outstanding: number;
  cancelled: boolean;
  wake?: () => void;
}

function wait(state: JobState): Promise<void> {
  return new Promise<void>((resolve) => (state.wake = resolve));
}

function wake(state: JobState): void {
  const w = state.wake;
  state.wake = undefined;
  w?.();
}

interface Cell {
  readonly index: number;
  readonly bytes: Buffer;
}

/** The worker's side of its shared memory: which cells are free to fill. */
class Cells {
  private readonly free: number[] = [];
  private readonly views: Buffer[] = [];

  constructor(shared: SharedArrayBuffer, private readonly returned: () => void) {
    const count = Math.floor(shared.byteLength / CELL_BYTES);
    if (count < 1) throw new RangeError('the shared memory of a pool worker holds no cell');
    for (let i = 0; i < count; i++) {
      this.views.push(Buffer.from(shared, i * CELL_BYTES, CELL_BYTES));
      this.free.push(i);
    }
  }

  /** A free cell, waiting for one the writer gives back; undefined when the job is cancelled meanwhile. */
  async take(state: JobState): Promise<Cell | undefined> {
    for (;;) {
      if (state.cancelled) return undefined;
      const index = this.free.shift();
      if (index !== undefined) return { index, bytes: this.views[index] as Buffer };
      await wait(state);
    }
  }

  give(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.views.length || this.free.includes(index)) return;
    this.free.push(index);
    this.returned();
  }
}

export function serveJobs(port: PortLike, rawSetup: WorkerSetup): void {
  const setup = revive(rawSetup);
  const base = {
    ...(setup.security ? { security: setup.security } : {}),
    ...(setup.dicomSignature ? { dicomSignature: setup.dicomSignature } : {}),
    random: randomFromSpec(setup.random),
  };
  const states = new Map<number, JobState>();
  /** Cells sent and not yet given back: whose bytes they hold. */
  const lent = new Map<number, { state: JobState; length: number }>();
  const cells = new Cells(setup.shared, () => {
    // A cell came back: wake the job waiting for one (at most one job runs at a time).
    for (const s of states.values()) wake(s);
  });
  const queue: Extract<ToWorker, { type: 'job' }>[] = [];
  let running = false;

  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    for (let next = queue.shift(); next; next = queue.shift()) await run(next);
    running = false;
  };

  const run = async (message: Extract<ToWorker, { type: 'job' }>): Promise<void> => {
    const state = states.get(message.id) as JobState;
    try {
      const sha256 = state.cancelled ? undefined : await produce(message, state);
      port.postMessage(state.cancelled ? { type: 'cancelled', id: message.id } : { type: 'end', id: message.id, ...(sha256 ? { sha256 } : {}) });
    } catch (e) {
      port.postMessage(state.cancelled ? { type: 'cancelled', id: message.id } : { type: 'error', id: message.id, error: describe(e) });
    } finally {
      states.delete(message.id);
    }
  };

  /** Sends the job's content; returns the SHA-256 of it when the setup asks for it. */
  const produce = async (message: Extract<ToWorker, { type: 'job' }>, state: JobState): Promise<string | undefined> => {
    const ctx: ProtectContext = { ...base, clock: fixedClock(message.now) };
    const opened = await openInstance(revive(message.job), message.size, ctx);
    const hash = setup.hashOutput ? createHash('sha256') : undefined;
    let block: Cell | undefined;
    let fill = 0;
    const send = async (): Promise<void> => {
      const full = block as Cell;
      const length = fill;
      block = undefined;
      fill = 0;
      port.postMessage({ type: 'chunk', id: message.id, cell: full.index, length });
      lent.set(full.index, { state, length });
      state.outstanding += length;
      while (state.outstanding >= setup.window && !state.cancelled) await wait(state);
    };
    try {
      for await (const chunk of opened.stream) {
        hash?.update(chunk);
        for (let at = 0; at < chunk.length && !state.cancelled; ) {
          block ??= await cells.take(state);
          if (!block) break; // cancelled while waiting for a cell
          const n = chunk.copy(block.bytes, fill, at);
          fill += n;
          at += n;
          if (fill === block.bytes.length) await send();
        }
        if (state.cancelled) return undefined;
      }
      if (fill > 0) await send();
      return hash?.digest('hex');
    } finally {
      if (block) cells.give(block.index); // taken, never sent (cancelled or failed)
      await opened.close();
    }
  };

  port.on('message', (message) => {
    if (message.type === 'job') {
      states.set(message.id, { outstanding: 0, cancelled: false });
      queue.push(message);
      void pump();
      return;
    }
    if (message.type === 'release') {
      const was = lent.get(message.cell);
      lent.delete(message.cell);
      if (was) was.state.outstanding -= was.length;
      cells.give(message.cell);
      return;
    }
    const state = states.get(message.id);
    if (!state) return;
    state.cancelled = true; // 'cancel'
    wake(state);
  });
}

function describe(e: unknown): { code?: string; message: string; data?: Record<string, unknown> } {
  if (isDcmsafeError(e)) return { code: e.code, message: e.message, data: JSON.parse(JSON.stringify(e.data ?? {})) as Record<string, unknown> };
  return { message: e instanceof Error ? e.message : String(e) };
}
