/**
 * The worker side of the instance pool: runs one job at a time (convert, sign, protect: the same
 * `openInstance` the main thread would run), sends the content in blocks of at most BLOCK bytes,
 * and waits for credit whenever a window's worth is unconsumed. A cancelled job stops at the next
 * block and closes its input.
 */
import { isDcmsafeError } from '../../errors/index.js';
import { fixedClock } from '../../util/clock.js';
import { randomFromSpec } from '../../util/random.js';
import { openInstance, type ProtectContext } from '../instance-output.js';
import { revive, type FromWorker, type ToWorker, type WorkerSetup } from './protocol.js';

export const BLOCK = 1 << 20;

/** Chunks at least this large are handed over without a copy when they own their memory. */
const MIN_HANDOVER = 64 << 10;

export interface PortLike {
  postMessage(message: FromWorker, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (message: ToWorker) => void): unknown;
}

interface JobState {
  outstanding: number;
  cancelled: boolean;
  wake?: () => void;
}

export function serveJobs(port: PortLike, rawSetup: WorkerSetup): void {
  const setup = revive(rawSetup);
  const base = {
    ...(setup.security ? { security: setup.security } : {}),
    ...(setup.dicomSignature ? { dicomSignature: setup.dicomSignature } : {}),
    random: randomFromSpec(setup.random),
  };
  const states = new Map<number, JobState>();
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
      if (!state.cancelled) await produce(message, state);
      port.postMessage(state.cancelled ? { type: 'cancelled', id: message.id } : { type: 'end', id: message.id });
    } catch (e) {
      port.postMessage(state.cancelled ? { type: 'cancelled', id: message.id } : { type: 'error', id: message.id, error: describe(e) });
    } finally {
      states.delete(message.id);
    }
  };

  const produce = async (message: Extract<ToWorker, { type: 'job' }>, state: JobState): Promise<void> => {
    const ctx: ProtectContext = { ...base, clock: fixedClock(message.now) };
    // Only the CMS writer's output is known to be fresh buffers nobody keeps (see below).
    const owned = base.security !== undefined;
    const opened = await openInstance(revive(message.job), message.size, ctx);
    let left = message.size;
    let block = Buffer.allocUnsafeSlow(Math.max(1, Math.min(BLOCK, left)));
    let fill = 0;
    const send = async (): Promise<void> => {
      const full = block;
      const length = fill;
      fill = 0;
      block = Buffer.allocUnsafeSlow(Math.max(1, Math.min(BLOCK, left - length)));
      await post(full.buffer as ArrayBuffer, length);
    };
    const post = async (data: ArrayBuffer, length: number): Promise<void> => {
      port.postMessage({ type: 'chunk', id: message.id, data, length }, [data]);
      state.outstanding += length;
      left -= length;
      while (state.outstanding >= setup.window && !state.cancelled) await new Promise<void>((resolve) => (state.wake = resolve));
    };
    try {
      for await (const chunk of opened.stream) {
        // Ciphertext blocks are fresh buffers of their own that nothing else holds: handed over as they
        // are (no copy). Anything else (a view into a read buffer) is copied into a block of ours.
        if (owned && fill === 0 && chunk.length >= MIN_HANDOVER && chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length) {
          await post(chunk.buffer as ArrayBuffer, chunk.length);
          if (state.cancelled) return;
          continue;
        }
        for (let at = 0; at < chunk.length && !state.cancelled; ) {
          const n = chunk.copy(block, fill, at);
          fill += n;
          at += n;
          if (fill === block.length) await send();
        }
        if (state.cancelled) return;
      }
      if (fill > 0) await send();
    } finally {
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
    const state = states.get(message.id);
    if (!state) return;
    if (message.type === 'credit') state.outstanding -= message.bytes;
    else state.cancelled = true;
    const wake = state.wake;
    state.wake = undefined;
    wake?.();
  });
}

function describe(e: unknown): { code?: string; message: string; data?: Record<string, unknown> } {
  if (isDcmsafeError(e)) return { code: e.code, message: e.message, data: JSON.parse(JSON.stringify(e.data ?? {})) as Record<string, unknown> };
  return { message: e instanceof Error ? e.message : String(e) };
}
