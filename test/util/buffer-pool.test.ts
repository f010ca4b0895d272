/**
 * The import's reusable buffers: the pool gives back what was returned (and only buffers of its size,
 * at most `keep` idle); a folder file read into a caller's buffer gives the same bytes as a plain
 * read, stops at the end of the file, and fails (typed) after close.
 */
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/util/buffer-pool.js';
import { BufferReader, readIntoBuffer } from '../../src/media/io/random-access-reader.js';
import { HandleReader } from '../../src/media/source/handle-reader.js';
import { tempDir } from '../helpers/env.js';

describe('BufferPool', () => {
  it('hands out returned buffers again, keeps at most `keep` idle, and refuses foreign ones', () => {
    const pool = new BufferPool(1024, 2);
    const a = pool.take();
    const b = pool.take();
    const c = pool.take();
    expect(a.length).toBe(1024);
    expect(new Set([a.buffer, b.buffer, c.buffer]).size).toBe(3);
    pool.give(a);
    pool.give(a); // twice: held once
    pool.give(b);
    pool.give(c); // beyond `keep`: left to the garbage collector
    pool.give(Buffer.alloc(512)); // not of the pool's size
    expect(pool.idle).toBe(2);
    const again = [pool.take(), pool.take()];
    expect(again).toContain(a);
    expect(again).toContain(b);
    expect(pool.idle).toBe(0);
  });
});

describe('reading into a buffer of the caller', () => {
  const dir = tempDir('dcmsafe-read-into-');
  const file = path.join(dir, 'f.bin');
  const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff));
  writeFileSync(file, bytes);

  it('reads a file handle in place, short at the end, like read()', async () => {
    const reader = new HandleReader(await open(file, 'r'), bytes.length, file);
    try {
      const buf = Buffer.alloc(8192, 0xee);
      const got = await readIntoBuffer(reader, buf, 0, 8192);
      expect(got.buffer).toBe(buf.buffer); // in place, no copy
      expect(got.equals(bytes)).toBe(true);
      const tail = await readIntoBuffer(reader, buf, 4990, 100);
      expect(tail.equals(bytes.subarray(4990))).toBe(true);
      expect((await reader.read(100, 50)).equals(bytes.subarray(100, 150))).toBe(true);
      await expect(reader.readInto(buf, -1, 10)).rejects.toThrow(RangeError);
    } finally {
      await reader.close();
    }
    await expect(reader.readInto(Buffer.alloc(10), 0, 10)).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('copies from a reader that cannot read in place, and refuses a buffer too small', async () => {
    const reader = new BufferReader(bytes, 'mem');
    const buf = Buffer.alloc(6000);
    const got = await readIntoBuffer(reader, buf, 10, 6000);
    expect(got.buffer).toBe(buf.buffer);
    expect(got.equals(bytes.subarray(10))).toBe(true);
    await expect(readIntoBuffer(reader, Buffer.alloc(10), 0, 100)).rejects.toThrow(RangeError);
  });
});
