/**
 * The fuzz worker: runs inputs [from, to) of one target and reports every failure. The number of the
 * input in hand is kept in shared memory, so the campaign can tell a hang (a loop that never returns
 * to the event loop, or a promise that never settles) and name the input that caused it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { inputAt, prepare, type PreparedTarget } from './inputs.js';
import { runOne, type FuzzTarget, type Outcome, type RunContext } from './target.js';
import { loadTarget } from './targets/index.js';
import type { WorkerFailure, WorkerMessage, WorkerTask } from './protocol.js';

/** An input may allocate this much (Buffers, ArrayBuffers) beyond what it started with; more is a failure. */
const MEMORY_GROWTH_BOUND = 256 * 1024 * 1024;

async function shrink(target: FuzzTarget, bytes: Buffer, signature: string, ctx: RunContext): Promise<Buffer> {
  let best = bytes;
  let attempts = 0;
  const same = async (candidate: Buffer): Promise<boolean> => {
    attempts++;
    const o = await runOne(target, candidate, ctx);
    return o.kind === 'crash' && o.message === signature;
  };
  // Chunk removal, halving the chunk size each round (a small delta debugging).
  for (let chunk = best.length >> 1; chunk >= 1 && attempts < 400; chunk >>= 1) {
    for (let at = 0; at < best.length && attempts < 400; ) {
      const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)]);
      if (candidate.length < best.length && (await same(candidate))) best = candidate;
      else at += chunk;
    }
  }
  return best;
}

async function main(): Promise<void> {
  const task = workerData as WorkerTask;
  const progress = new Int32Array(task.progress);
  const target = await loadTarget(task.target);
  const prepared: PreparedTarget = await prepare(target);
  await mkdir(task.scratch, { recursive: true });
  const ctx: RunContext = { scratch: task.scratch };
  const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
  // Keeps the event loop alive, so a promise that never settles is a hang (seen by the watchdog), not an exit.
  const keepAlive = setInterval(() => {}, 60_000);
  const codes: Record<string, number> = {};
  let accepted = 0;
  let done = 0;
  const flush = (): void => {
    post({ type: 'counts', accepted, codes: { ...codes }, done });
    accepted = 0;
    done = 0;
    for (const k of Object.keys(codes)) delete codes[k];
  };
  try {
    for (let i = task.from; i < task.to; i++) {
      Atomics.store(progress, 0, i);
      const input = inputAt(prepared, task.seed, i);
      const before = process.memoryUsage().arrayBuffers;
      const started = performance.now();
      const outcome: Outcome = await runOne(target, input.bytes, ctx);
      const ms = performance.now() - started;
      const grown = process.memoryUsage().arrayBuffers - before;
      let failure: WorkerFailure | undefined;
      if (outcome.kind === 'crash') {
        const small = await shrink(target, input.bytes, outcome.message, ctx);
        failure = { index: i, kind: 'crash', message: outcome.message, stack: outcome.stack, how: input.how, bytes: small, originalLength: input.bytes.length };
      } else if (ms > task.timeoutMs) {
        failure = { index: i, kind: 'slow', message: `took ${Math.round(ms)} ms (limit ${task.timeoutMs} ms)`, stack: '', how: input.how, bytes: input.bytes, originalLength: input.bytes.length };
      } else if (grown > MEMORY_GROWTH_BOUND) {
        failure = { index: i, kind: 'memory', message: `allocated ${Math.round(grown / 2 ** 20)} MiB for a ${input.bytes.length}-byte input`, stack: '', how: input.how, bytes: input.bytes, originalLength: input.bytes.length };
      }
      // Each input is counted once: as a failure (reported at once), or in the next counts message.
      if (failure) post({ type: 'failure', failure });
      else {
        done++;
        if (outcome.kind === 'accepted') accepted++;
        else if (outcome.kind === 'rejected') codes[outcome.code] = (codes[outcome.code] ?? 0) + 1;
      }
      if (done >= 250) flush();
    }
    flush();
    post({ type: 'done' });
  } finally {
    clearInterval(keepAlive);
    await rm(task.scratch, { recursive: true, force: true });
  }
}

await main();
