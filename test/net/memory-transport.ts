/**
 * Two connected in-memory `Transport`s, with the back-pressure of a socket: a write resolves only
 * once the bytes queued for the reader are below the high-water mark. `stats` records, per direction,
 * the largest number of bytes ever queued, and an optional tap sees every chunk written.
 */
import type { Transport, TransportInfo } from '../../src/net/transport.js';

interface Pipe {
  queue: Buffer[];
  queued: number;
  maxQueued: number;
  ended: boolean;
  reader?: () => void;
  writers: Array<() => void>;
}

export interface MemoryPairOptions {
  highWaterMark?: number;
  /** Called with every chunk the first transport writes. */
  tapAtoB?: (chunk: Buffer) => void;
  /**
   * As a socket does: each chunk written is copied, and the writer's `onWritten` called once the copy
   * is queued (in a microtask), so the writer may reuse its buffer. Without it the chunk itself is
   * queued and `onWritten` never called.
   */
  copyWrites?: boolean;
}

export interface MemoryPair {
  a: Transport;
  b: Transport;
  stats: { maxQueuedAtoB: number; maxQueuedBtoA: number };
}

function pipe(): Pipe {
  return { queue: [], queued: 0, maxQueued: 0, ended: false, writers: [] };
}

export function memoryTransportPair(options: MemoryPairOptions = {}): MemoryPair {
  const hwm = options.highWaterMark ?? 64 * 1024;
  const ab = pipe();
  const ba = pipe();
  let destroyed = false;

  const wake = (p: Pipe): void => {
    const r = p.reader;
    p.reader = undefined;
    r?.();
  };
  const release = (p: Pipe): void => {
    if (p.queued < hwm || p.ended) {
      const ws = p.writers;
      p.writers = [];
      for (const w of ws) w();
    }
  };
  const end = (): void => {
    destroyed = true;
    for (const p of [ab, ba]) {
      p.ended = true;
      wake(p);
      const ws = p.writers;
      p.writers = [];
      for (const w of ws) w();
    }
  };

  const make = (out: Pipe, inp: Pipe, tap?: (chunk: Buffer) => void): Transport => {
    const info: TransportInfo = { remoteAddress: 'memory', remotePort: 0 };
    return {
      info,
      async write(chunk: Buffer, onWritten?: () => void): Promise<void> {
        if (destroyed || out.ended) throw Object.assign(new Error('memory transport closed'), { code: 'EPIPE' });
        tap?.(chunk);
        if (options.copyWrites) {
          chunk = Buffer.from(chunk);
          if (onWritten) queueMicrotask(onWritten);
        }
        out.queue.push(chunk);
        out.queued += chunk.length;
        out.maxQueued = Math.max(out.maxQueued, out.queued);
        wake(out);
        if (out.queued >= hwm) await new Promise<void>((resolve) => out.writers.push(resolve));
      },
      async read(): Promise<Buffer | null> {
        for (;;) {
          const c = inp.queue.shift();
          if (c) {
            inp.queued -= c.length;
            release(inp);
            return c;
          }
          if (inp.ended) return null;
          await new Promise<void>((resolve) => {
            inp.reader = resolve;
          });
        }
      },
      async close(): Promise<void> {
        end();
      },
      destroy(): void {
        end();
      },
    };
  };

  const stats = {
    get maxQueuedAtoB() {
      return ab.maxQueued;
    },
    get maxQueuedBtoA() {
      return ba.maxQueued;
    },
  };
  return { a: make(ab, ba, options.tapAtoB), b: make(ba, ab), stats };
}
