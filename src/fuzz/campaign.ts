/**
 * A fuzz campaign: `iterations` inputs of one target, spread over worker threads, each worker watched.
 * A failure is a thrown value that is not a typed error (crash), an input that takes longer than the
 * limit (slow) or never finishes (hang: the worker is stopped and replaced), or memory beyond a fixed
 * bound (memory: a worker that runs out of its heap, or an input that allocates too much). Each failure
 * is saved as a fixture (the input, and a JSON note saying how it was made) for the regression tests.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { inputAt, prepare } from './inputs.js';
import type { FailureKind, WorkerFailure, WorkerMessage, WorkerTask } from './protocol.js';
import { loadTarget } from './targets/index.js';

export interface CampaignOptions {
  readonly target: string;
  readonly iterations: number;
  readonly seed: number;
  readonly workers?: number;
  /** One input may take this long (default 1 000 ms). */
  readonly timeoutMs?: number;
  /** Where failures are saved (one folder per target); undefined: not saved. */
  readonly fixtures?: string;
  /** A worker's V8 old generation may grow to this (default 512 MiB); beyond is a memory failure. */
  readonly heapLimitMb?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface CampaignFailure {
  readonly index: number;
  readonly kind: FailureKind;
  readonly message: string;
  readonly how: string;
  readonly fixture?: string;
}

export interface CampaignReport {
  readonly target: string;
  readonly seed: number;
  readonly iterations: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly accepted: number;
  readonly rejected: Record<string, number>;
  readonly failures: readonly CampaignFailure[];
  /** Distinct failures (same kind and message): the first fixtures of each are saved. */
  readonly signatures: number;
}

const FIXTURES_PER_SIGNATURE = 3;

function signatureOf(f: Pick<WorkerFailure, 'kind' | 'message'>): string {
  return `${f.kind}:${f.message.replace(/\d+/g, '#')}`;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const workers = Math.max(1, Math.min(options.workers ?? 1, options.iterations || 1));
  const target = await loadTarget(options.target);
  const prepared = await prepare(target);
  const started = performance.now();
  const failures: CampaignFailure[] = [];
  const seen = new Map<string, number>();
  const rejected: Record<string, number> = {};
  let accepted = 0;
  let done = 0;

  const save = async (f: WorkerFailure): Promise<CampaignFailure> => {
    const sig = signatureOf(f);
    const count = (seen.get(sig) ?? 0) + 1;
    seen.set(sig, count);
    let fixture: string | undefined;
    if (options.fixtures && count <= FIXTURES_PER_SIGNATURE) {
      const dir = path.join(options.fixtures, options.target);
      await mkdir(dir, { recursive: true });
      fixture = path.join(dir, `${f.kind}-seed${options.seed}-input${f.index}.bin`);
      await writeFile(fixture, f.bytes);
      const note = { target: options.target, seed: options.seed, index: f.index, kind: f.kind, message: f.message, how: f.how, originalLength: f.originalLength, savedLength: f.bytes.length, stack: f.stack.split('\n').slice(0, 12) };
      await writeFile(fixture.replace(/\.bin$/, '.json'), `${JSON.stringify(note, null, 2)}\n`);
    }
    return { index: f.index, kind: f.kind, message: f.message, how: f.how, ...(fixture ? { fixture } : {}) };
  };

  // Each worker slot runs a contiguous range and is restarted after the input that killed or hung it.
  const per = Math.ceil(options.iterations / workers);
  const slots = Array.from({ length: workers }, (_, w) => ({ from: w * per, to: Math.min(options.iterations, (w + 1) * per) })).filter((s) => s.from < s.to);

  const runSlot = async (slot: { from: number; to: number }, n: number): Promise<void> => {
    let from = slot.from;
    while (from < slot.to) {
      const progress = new SharedArrayBuffer(4);
      const view = new Int32Array(progress);
      Atomics.store(view, 0, from);
      const task: WorkerTask = { target: options.target, seed: options.seed, from, to: slot.to, timeoutMs, progress, scratch: path.join(os.tmpdir(), `dcmsafe-fuzz-${process.pid}-${n}-${from}`) };
      const pending: Promise<unknown>[] = [];
      const outcome = await new Promise<{ next: number }>((resolve) => {
        const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: task, resourceLimits: { maxOldGenerationSizeMb: options.heapLimitMb ?? 512 } });
        let finished = false;
        let counted = 0;
        let failed = 0;
        let lastIndex = from;
        let lastChange = performance.now();
        const stop = (kind: FailureKind, message: string): void => {
          if (finished) return;
          finished = true;
          clearInterval(watch);
          const index = Atomics.load(view, 0);
          const input = inputAt(prepared, options.seed, index);
          pending.push(save({ index, kind, message, stack: '', how: input.how, bytes: input.bytes, originalLength: input.bytes.length }).then((f) => failures.push(f)));
          // The inputs before this one whose counts died with the worker were run; their outcomes are unknown.
          const lost = index - from - counted - failed;
          if (lost > 0) rejected['(outcome lost with the worker)'] = (rejected['(outcome lost with the worker)'] ?? 0) + lost;
          done += lost + 1;
          void worker.terminate();
          resolve({ next: index + 1 });
        };
        const watch = setInterval(() => {
          const index = Atomics.load(view, 0);
          const now = performance.now();
          if (index !== lastIndex) {
            lastIndex = index;
            lastChange = now;
          } else if (now - lastChange > timeoutMs * 2 + 500) {
            stop('hang', `no result after ${Math.round(now - lastChange)} ms`);
          }
        }, 50);
        worker.on('message', (m: WorkerMessage) => {
          if (m.type === 'counts') {
            accepted += m.accepted;
            done += m.done;
            counted += m.done;
            for (const [k, v] of Object.entries(m.codes)) rejected[k] = (rejected[k] ?? 0) + v;
            options.onProgress?.(done, options.iterations);
          } else if (m.type === 'failure') {
            failed++;
            done++;
            pending.push(save({ ...m.failure, bytes: Buffer.from(m.failure.bytes) }).then((f) => failures.push(f)));
          } else if (m.type === 'done') {
            finished = true;
            clearInterval(watch);
            resolve({ next: slot.to });
          }
        });
        worker.on('error', (e: Error & { code?: string }) => {
          if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') stop('memory', `the worker ran out of its ${options.heapLimitMb ?? 512} MiB heap`);
          else stop('crash', `the worker died: ${e.message}`);
        });
        worker.on('exit', (code) => {
          if (!finished) stop('crash', `the worker exited with code ${code}`);
        });
      });
      await Promise.all(pending);
      // A worker stopped after a hang or killed by its heap limit could not remove its scratch folder.
      await rm(task.scratch, { recursive: true, force: true });
      from = outcome.next;
    }
  };

  await Promise.all(slots.map((s, n) => runSlot(s, n)));
  const seconds = (performance.now() - started) / 1000;
  failures.sort((a, b) => a.index - b.index);
  return { target: options.target, seed: options.seed, iterations: options.iterations, seconds, perSecond: options.iterations / seconds, accepted, rejected, failures, signatures: seen.size };
}
