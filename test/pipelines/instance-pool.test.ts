/**
 * The instance pool (src/pipelines/parallel): jobs served on this thread through MessageChannels (the
 * same protocol and worker code as real threads; the CLI tests run the compiled pool). Same bytes as
 * producing each instance here, in any order the writer opens them; errors keep their codes; a worker
 * never runs more than its window ahead of the writer; abandoned and mis-guessed jobs are cancelled.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDataSet, encodePart10 } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import { collectChunks } from '../../src/util/chunks.js';
import { fixedClock } from '../../src/util/clock.js';
import { randomSpec, seededRandom } from '../../src/util/random.js';
import { openInstance, outputSizeOf, type InstanceJob, type ProtectContext } from '../../src/pipelines/instance-output.js';
import { InstancePool } from '../../src/pipelines/parallel/pool.js';
import type { FromWorker, ToWorker, WorkerLike, WorkerSetup } from '../../src/pipelines/parallel/protocol.js';
import { serveJobs } from '../../src/pipelines/parallel/serve.js';
import type { MediaSecurity } from '../../src/pipelines/protect.js';
import { generateRsaKeyPair } from '../../src/security/pki/issue.js';
import { tempDir } from '../helpers/env.js';
import { issue } from '../security/pki/fixtures.js';

const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.7';
let dir: string;
let security: MediaSecurity;
const pools: InstancePool[] = [];

function instance(i: number, pixels: number): InstanceJob {
  const uid = `1.2.826.0.1.3680043.10.997.${i}`;
  const header = encodePart10(
    { sopClassUID: SOP_CLASS, sopInstanceUID: uid },
    buildDataSet([
      [T.SOPClassUID, 'UI', SOP_CLASS],
      [T.SOPInstanceUID, 'UI', uid],
      [T.PatientID, 'LO', 'POOL'],
      [T.StudyInstanceUID, 'UI', '1.2.826.0.1.3680043.10.997.1'],
      [T.SeriesInstanceUID, 'UI', '1.2.826.0.1.3680043.10.997.1.1'],
    ]),
  );
  const el = Buffer.alloc(12);
  el.writeUInt16LE(0x7fe0, 0);
  el.writeUInt16LE(0x0010, 2);
  el.write('OB', 4, 'latin1');
  el.writeUInt32LE(pixels, 8);
  const file = path.join(dir, `i${i}.dcm`);
  writeFileSync(file, Buffer.concat([header, el, Buffer.alloc(pixels, i & 0xff)]));
  return { path: file, kind: 'copy', sopClassUID: SOP_CLASS, sopInstanceUID: uid, fileId: ['DICOM', `IM${i}`] };
}

/** Worker threads stand-in: the worker code on this thread, behind a MessageChannel; counts what it sent and had back. */
function inThread(stats: { sentAhead: number; maxAhead: number; cancels: number }): (setup: WorkerSetup) => WorkerLike {
  return (setup) => {
    const { port1, port2 } = new MessageChannel();
    serveJobs(port2, setup);
    const inCell = new Map<number, number>();
    return {
      postMessage: (m: ToWorker) => {
        if (m.type === 'release') stats.sentAhead -= inCell.get(m.cell) ?? 0;
        if (m.type === 'cancel') stats.cancels++;
        port1.postMessage(m);
      },
      on: (event: 'message' | 'error', listener: (x: never) => void) => {
        if (event === 'message')
          port1.on('message', (m: FromWorker) => {
            if (m.type === 'chunk') {
              inCell.set(m.cell, m.length);
              stats.sentAhead += m.length;
              stats.maxAhead = Math.max(stats.maxAhead, stats.sentAhead);
            }
            (listener as (x: FromWorker) => void)(m);
          });
        return undefined;
      },
      terminate: () => {
        port1.close();
        port2.close();
        return Promise.resolve(0);
      },
    };
  };
}

const ctx = (): ProtectContext => ({ security, clock: fixedClock('2025-01-01T00:00:00Z'), random: seededRandom('pool test') });

function startPool(workers: number, stats = { sentAhead: 0, maxAhead: 0, cancels: 0 }, window = 4 << 20, hashOutput = false): InstancePool {
  const c = ctx();
  const pool = new InstancePool({ security, random: randomSpec(c.random) as NonNullable<ReturnType<typeof randomSpec>>, window, hashOutput }, { workers, clock: c.clock, spawn: inThread(stats) });
  pools.push(pool);
  return pool;
}

async function bytesOf(open: Promise<{ stream: AsyncIterable<Buffer>; close(): Promise<void> }>): Promise<Buffer> {
  const o = await open;
  try {
    return await collectChunks(o.stream);
  } finally {
    await o.close();
  }
}

beforeAll(async () => {
  dir = tempDir('dcmsafe-pool-');
  mkdirSync(dir, { recursive: true });
  const key = await generateRsaKeyPair(2048);
  const cred = issue('pool signer', key, undefined);
  security = { signer: { certificate: cred.cert, chain: [], privateKey: key.privateKey, digest: 'sha256' }, recipients: [{ kind: 'certificate', certificate: cred.cert }], cipher: 'aes256', digest: 'sha256' };
}, 60_000);

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('instance pool', () => {
  it('gives the bytes producing each instance here gives, in the order the writer opens them', async () => {
    const jobs = Array.from({ length: 9 }, (_, i) => instance(i + 1, 1000 + i * 70_001));
    const sizes = await Promise.all(jobs.map((j) => outputSizeOf(j, ctx())));
    const expected = await Promise.all(jobs.map((j, i) => bytesOf(openInstance(j, sizes[i] as number, ctx()))));
    const pool = startPool(2);
    const seq = pool.sequence(jobs.map((job, i) => ({ job, size: sizes[i] as number })));
    for (const [i, j] of jobs.entries()) expect((await bytesOf(seq.open(j, sizes[i] as number))).equals(expected[i] as Buffer)).toBe(true);
    // The writer's order differs from the guess (guesses are cancelled, the bytes stay the same).
    const stats = { sentAhead: 0, maxAhead: 0, cancels: 0 };
    const seq2 = startPool(2, stats).sequence(jobs.map((job, i) => ({ job, size: sizes[i] as number })));
    for (const i of [4, 0, 8, 1, 2, 7, 3, 5, 6]) expect((await bytesOf(seq2.open(jobs[i] as InstanceJob, sizes[i] as number))).equals(expected[i] as Buffer)).toBe(true);
    expect(stats.cancels).toBeGreaterThan(0);
  }, 60_000);

  it('keeps a worker at most a window (plus one block) ahead of a slow writer', async () => {
    const job = instance(100, 24 << 20);
    const size = await outputSizeOf(job, ctx());
    const stats = { sentAhead: 0, maxAhead: 0, cancels: 0 };
    const window = 2 << 20;
    const seq = startPool(1, stats, window).sequence([{ job, size }]);
    const opened = await seq.open(job, size);
    let n = 0;
    for await (const chunk of opened.stream) {
      n += chunk.length;
      await new Promise((r) => setTimeout(r, 2));
    }
    await opened.close();
    expect(n).toBe(size);
    expect(stats.maxAhead).toBeLessThanOrEqual(window + (1 << 20));
  }, 60_000);

  it('runs many small files ahead of a writer that waits, but holds no more than its byte budget of large ones', async () => {
    // 12 small files: within the budget and the worker's cells (one cell each), more than the old 2 jobs per worker.
    const small = Array.from({ length: 12 }, (_, i) => instance(200 + i, 3000));
    const smallSizes = await Promise.all(small.map((j) => outputSizeOf(j, ctx())));
    const stats = { sentAhead: 0, maxAhead: 0, cancels: 0 };
    const window = 1 << 20;
    const pool = startPool(1, stats, window);
    expect(pool.budget).toBe(2 * window);
    const seq = pool.sequence(small.map((job, i) => ({ job, size: smallSizes[i] as number })));
    const first = await seq.open(small[0] as InstanceJob, smallSizes[0] as number);
    await new Promise((r) => setTimeout(r, 500)); // the writer is busy: the worker goes on alone
    // Every small file fits the budget: all of them were produced ahead (the lookahead is not 2 jobs).
    expect(stats.sentAhead).toBe(smallSizes.reduce((a, b) => a + b, 0));
    await first.close();
    seq.close();

    const large = Array.from({ length: 6 }, (_, i) => instance(300 + i, 3 << 20));
    const largeSizes = await Promise.all(large.map((j) => outputSizeOf(j, ctx())));
    const stats2 = { sentAhead: 0, maxAhead: 0, cancels: 0 };
    const seq2 = startPool(1, stats2, window).sequence(large.map((job, i) => ({ job, size: largeSizes[i] as number })));
    const opened = await seq2.open(large[0] as InstanceJob, largeSizes[0] as number);
    await new Promise((r) => setTimeout(r, 500));
    // The open file and two more (2 windows of budget), each at most a window plus a block ahead.
    expect(stats2.maxAhead).toBeLessThanOrEqual(3 * (window + (1 << 20)));
    let n = 0;
    for await (const chunk of opened.stream) n += chunk.length;
    await opened.close();
    expect(n).toBe(largeSizes[0]);
    seq2.close();
  }, 60_000);

  it('hands over the SHA-256 of each file with its bytes when asked to (the signed manifest lists it)', async () => {
    const jobs = Array.from({ length: 3 }, (_, i) => instance(400 + i, 200_000 + i * 300_001));
    const sizes = await Promise.all(jobs.map((j) => outputSizeOf(j, ctx())));
    const seq = startPool(2, undefined, 4 << 20, true).sequence(jobs.map((job, i) => ({ job, size: sizes[i] as number })));
    for (const [i, j] of jobs.entries()) {
      const o = await seq.open(j, sizes[i] as number);
      expect(o.sha256?.()).toBeUndefined(); // not before the content has ended
      const bytes = await collectChunks(o.stream);
      expect(o.sha256?.()).toBe(createHash('sha256').update(bytes).digest('hex'));
      await o.close();
    }
    // Without the setup's flag, no digest is offered: the manifest hashes on the writer's thread.
    const plain = await startPool(1).sequence([{ job: jobs[0] as InstanceJob, size: sizes[0] as number }]).open(jobs[0] as InstanceJob, sizes[0] as number);
    expect(plain.sha256).toBeUndefined();
    await collectChunks(plain.stream);
    await plain.close();
  }, 60_000);

  it('lends views of the workers\' shared memory to a writer that is done with each chunk when it asks for the next', async () => {
    const jobs = Array.from({ length: 4 }, (_, i) => instance(500 + i, 10_000 + i * 2_500_001));
    const sizes = await Promise.all(jobs.map((j) => outputSizeOf(j, ctx())));
    const expected = await Promise.all(jobs.map((j, i) => bytesOf(openInstance(j, sizes[i] as number, ctx()))));
    const seq = startPool(2).sequence(
      jobs.map((job, i) => ({ job, size: sizes[i] as number })),
      { borrow: true },
    );
    const memory = new Set<ArrayBufferLike>();
    for (const [i, j] of jobs.entries()) {
      const o = await seq.open(j, sizes[i] as number);
      const copies: Buffer[] = [];
      for await (const chunk of o.stream) {
        memory.add(chunk.buffer);
        copies.push(Buffer.from(chunk)); // what writeImageFile does: copy (or write) before asking for more
      }
      await o.close();
      expect(Buffer.concat(copies).equals(expected[i] as Buffer)).toBe(true);
    }
    // 7.5 MB went through two workers' fixed shared memory: no buffer per chunk.
    expect(memory.size).toBe(2);
    expect([...memory].every((m) => m instanceof SharedArrayBuffer)).toBe(true);
  }, 60_000);

  it('sizes a file copied as it is from its scanned size, without opening it, and refuses it when it changed since', async () => {
    const job = instance(600, 50_000);
    const scanned = statSync(job.path).size;
    const size = await outputSizeOf(job, ctx());
    expect(await outputSizeOf(job, ctx(), scanned)).toBe(size);
    expect(await outputSizeOf({ ...job, path: path.join(dir, 'gone.dcm') }, ctx(), scanned)).toBe(size); // not opened
    appendFileSync(job.path, Buffer.alloc(16)); // the file grows between planning and writing
    await expect(openInstance(job, size, ctx())).rejects.toThrow(/output size changed between planning/);
  }, 60_000);

  it('stops a job the writer abandons, and goes on with the next', async () => {
    const jobs = [instance(200, 8 << 20), instance(201, 5000)];
    const sizes = await Promise.all(jobs.map((j) => outputSizeOf(j, ctx())));
    const stats = { sentAhead: 0, maxAhead: 0, cancels: 0 };
    const seq = startPool(1, stats, 1 << 20).sequence(jobs.map((job, i) => ({ job, size: sizes[i] as number })));
    const first = await seq.open(jobs[0] as InstanceJob, sizes[0] as number);
    for await (const chunk of first.stream) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await first.close();
    expect(stats.cancels).toBe(1);
    const second = await bytesOf(seq.open(jobs[1] as InstanceJob, sizes[1] as number));
    expect(second.equals(await bytesOf(openInstance(jobs[1] as InstanceJob, sizes[1] as number, ctx())))).toBe(true);
  }, 60_000);

  it('passes a failing job its typed error, and the size check', async () => {
    const good = instance(300, 100);
    const size = await outputSizeOf(good, ctx());
    const missing: InstanceJob = { ...good, path: path.join(dir, 'gone.dcm'), fileId: ['DICOM', 'GONE'] };
    const seq = startPool(1).sequence([{ job: missing, size }, { job: good, size: size + 16 }]);
    await expect(bytesOf(seq.open(missing, size))).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    await expect(bytesOf(seq.open(good, size + 16))).rejects.toThrow(/output size changed/);
  }, 60_000);

  it('fails the jobs of a worker thread that dies, and every later job, with a typed error', async () => {
    const job = instance(400, 100);
    const size = await outputSizeOf(job, ctx());
    let fail: ((e: Error) => void) | undefined;
    const dying = (setup: WorkerSetup): WorkerLike => {
      const w = inThread({ sentAhead: 0, maxAhead: 0, cancels: 0 })(setup);
      return {
        postMessage: (m: ToWorker) => {
          if (m.type === 'job') setImmediate(() => fail?.(new Error('worker out of memory')));
          else w.postMessage(m);
        },
        on: (event: 'message' | 'error', listener: (x: never) => void) => {
          if (event === 'error') fail = listener as (e: Error) => void;
          else w.on('message', listener as (m: FromWorker) => void);
          return undefined;
        },
        terminate: () => w.terminate(),
      };
    };
    const c = ctx();
    const pool = new InstancePool({ security, random: randomSpec(c.random) as NonNullable<ReturnType<typeof randomSpec>>, window: 1 << 20 }, { workers: 1, clock: c.clock, spawn: dying });
    pools.push(pool);
    const seq = pool.sequence([{ job, size }]);
    await expect(bytesOf(seq.open(job, size))).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/worker thread failed: worker out of memory/) });
    await expect(bytesOf(seq.open(job, size))).rejects.toMatchObject({ code: 'INTERNAL' });
  }, 60_000);
});
