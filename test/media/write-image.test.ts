/**
 * writeImageFile's CoalescingWriter: chunks of any size are gathered into blocks of WRITE_BLOCK bytes
 * (a few large writes instead of one per chunk), the next block fills while the previous one is being
 * written, a chunk may be reused by its producer once put() returns, and a failed write is thrown
 * by the next put or by finish (never an unhandled rejection).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoalescingWriter, WRITE_BLOCK, writeImageFile } from '../../src/media/write-image.js';
import { tempDir } from '../helpers/env.js';

/** Chunks of 1 byte to 5 MiB (a fixed LCG picks the sizes), each filled with its own byte pattern. */
function chunksOf(total: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  let x = seed;
  for (let left = total; left > 0; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const n = Math.min(left, 1 + (x % (5 << 20)));
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4096) b[i] = (x + i) & 0xff;
    out.push(b.fill(out.length & 0xff, 0, Math.min(n, 64)));
    left -= n;
  }
  return out;
}

describe('CoalescingWriter', () => {
  it('writes whole blocks (the last one short) holding exactly the chunks, whatever their sizes', async () => {
    const chunks = chunksOf(3 * WRITE_BLOCK + 12_345, 1);
    const writes: Buffer[] = [];
    let inFlight = 0;
    let most = 0;
    const w = new CoalescingWriter(async (block, n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      writes.push(Buffer.from(block.subarray(0, n)));
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    });
    for (const c of chunks) {
      const before = Buffer.from(c);
      await w.put(c);
      c.fill(0xee); // the producer reuses its memory: what was put is already copied
      before.copy(c);
    }
    await w.finish();
    expect(writes.map((b) => b.length)).toEqual([WRITE_BLOCK, WRITE_BLOCK, WRITE_BLOCK, 12_345]);
    expect(Buffer.concat(writes).equals(Buffer.concat(chunks))).toBe(true);
    expect(most).toBe(1); // one write at a time, in order
  });

  it('throws a failed write from the next put or from finish, and settle() waits without throwing', async () => {
    const failing = new CoalescingWriter(() => Promise.reject(new Error('disk full')));
    await failing.put(Buffer.alloc(WRITE_BLOCK)); // the write starts in the background
    await expect(failing.put(Buffer.alloc(WRITE_BLOCK))).rejects.toThrow('disk full');
    await failing.settle();
    const atEnd = new CoalescingWriter(() => Promise.reject(new Error('I/O error')));
    await atEnd.put(Buffer.alloc(10));
    await expect(atEnd.finish()).rejects.toThrow('I/O error');
  });
});

describe('writeImageFile', () => {
  it('writes the chunks to the named file, and nothing when the source fails', async () => {
    const dir = tempDir('dcmsafe-write-image-');
    const chunks = chunksOf(WRITE_BLOCK + 777, 2);
    const out = path.join(dir, 'A.iso');
    async function* source(fail: boolean): AsyncGenerator<Buffer> {
      for (const c of chunks) yield c;
      if (fail) throw new Error('source failed');
    }
    expect(await writeImageFile(out, source(false), 'x1', undefined, WRITE_BLOCK + 777)).toBe(WRITE_BLOCK + 777);
    expect(readFileSync(out).equals(Buffer.concat(chunks))).toBe(true);
    const bad = path.join(dir, 'B.iso');
    await expect(writeImageFile(bad, source(true), 'x2')).rejects.toThrow('source failed');
    expect(() => readFileSync(bad)).toThrow();
  });
});
