/**
 * ZipEntryReader: random access over a deflated ZIP entry that the ZIP reader gives only as a
 * forward stream. Any sequence of reads (forward, backward, random; fast-check) gives the entry's
 * bytes; a forward sweep costs one inflate pass; backward reads restart and are counted; after the
 * allowed restarts the entry is buffered whole, or refused (IO) when too large; damage found at the
 * end of a sweep (CRC-32) and a bomb (more bytes than declared) surface as the ZIP reader's errors
 * and stick.
 */
import zlib from 'node:zlib';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { openMedia, type MediaSource, type ZipEntryReader, type ZipEntryReaderOptions } from '../../../src/media/source/index.js';
import { tempDir } from '../../helpers/env.js';
import { buildZip } from '../zip/zip-bytes.js';
import { codeOf, signal, writeZip } from './helpers.js';

const dir = tempDir('dcmsafe-source-zip-');
const SIZE = 1_000_003;
const content = signal(SIZE, 5);
let zipPath: string;

beforeAll(async () => {
  zipPath = await writeZip(dir, new Map([['DICOM/IM1', content]]), 'always');
});

async function withEntry<T>(options: ZipEntryReaderOptions, f: (r: ZipEntryReader, s: MediaSource) => Promise<T>): Promise<T> {
  const s = await openMedia(zipPath, {}, { zipReader: options });
  try {
    const r = (await s.open(s.entries[0] as never)) as ZipEntryReader;
    try {
      return await f(r, s);
    } finally {
      await r.close();
    }
  } finally {
    await s.close();
  }
}

describe('ZipEntryReader', () => {
  it('the entry is deflated (the test is about inflate streams)', async () => {
    const zip = await import('../../../src/media/zip/reader.js');
    const v = await zip.openZip(zipPath);
    expect(v.entries[0]?.method).toBe('deflated');
    expect(v.entries[0]?.compressedSize).toBeLessThan(SIZE * 0.7);
    await v.close();
  });

  it('any reads (forward, backward, random, past the end) give the bytes of the entry', async () => {
    const read = fc.record({ position: fc.oneof(fc.integer({ min: 0, max: SIZE + 10 }), fc.constant(0), fc.constant(SIZE - 1)), length: fc.integer({ min: 0, max: 200_000 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(read, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 300_000 }), async (reads, window) =>
        withEntry({ window, maxRestarts: 1000 }, async (r) => {
          expect(r.size).toBe(SIZE);
          for (const { position, length } of reads) {
            const got = await r.read(position, length);
            expect(got.equals(content.subarray(position, position + length))).toBe(true);
          }
        }),
      ),
      { numRuns: 40 },
    );
  });

  it('a forward sweep is one pass; a read behind the window restarts; reads inside it do not', async () => {
    await withEntry({ window: 64 * 1024 }, async (r) => {
      for (let pos = 0; pos < SIZE; pos += 4096) await r.read(pos, 4096);
      expect(r.stats.restarts).toBe(0);
      expect(r.stats.streamedBytes).toBe(SIZE);
      expect((await r.read(SIZE - 60_000, 1000)).equals(content.subarray(SIZE - 60_000, SIZE - 59_000))).toBe(true);
      expect(r.stats.restarts).toBe(0);
      expect((await r.read(0, 132)).equals(content.subarray(0, 132))).toBe(true);
      expect(r.stats.restarts).toBe(1);
      expect(r.stats.streamedBytes).toBeLessThan(SIZE + 100_000);
    });
  });

  it('after the allowed restarts, buffers the entry whole, then serves everything from memory', async () => {
    await withEntry({ window: 1024, maxRestarts: 2 }, async (r) => {
      for (let i = 0; i < 3; i++) {
        await r.read(500_000, 10);
        await r.read(0, 10);
      }
      expect(r.stats.restarts).toBe(2);
      expect(r.stats.buffered).toBe(true);
      const streamed = r.stats.streamedBytes;
      expect((await r.read(123, 456_789)).equals(content.subarray(123, 123 + 456_789))).toBe(true);
      expect((await r.read(0, SIZE)).equals(content)).toBe(true);
      expect(r.stats.streamedBytes).toBe(streamed);
    });
  });

  it('refuses (IO) to buffer an entry above the bound once restarts run out; reads ahead still work', async () => {
    await withEntry({ window: 1024, maxRestarts: 1, maxBuffered: SIZE - 1 }, async (r) => {
      await r.read(500_000, 10);
      await r.read(0, 10); // restart 1
      await r.read(500_000, 10);
      expect(await codeOf(() => r.read(0, 10))).toBe('IO');
      // Not sticky: reads ahead still work.
      expect((await r.read(600_000, 10)).equals(content.subarray(600_000, 600_010))).toBe(true);
    });
  });

  it('concurrent reads are serialized and all correct', async () => {
    await withEntry({ window: 32 * 1024, maxRestarts: 1000 }, async (r) => {
      const spots = [900_000, 0, 450_000, 10, 999_990, 300_000, 5];
      const got = await Promise.all(spots.map((p) => r.read(p, 20_000)));
      got.forEach((b, i) => expect(b.equals(content.subarray(spots[i], (spots[i] as number) + 20_000))).toBe(true));
    });
  });

  it('a damaged entry (wrong CRC-32) fails when a read reaches its end, and keeps failing', async () => {
    const data = Buffer.from('x'.repeat(100_000));
    const file = path.join(dir, 'crc.zip');
    writeFileSync(file, buildZip([{ name: 'A', data: zlib.deflateRawSync(data), method: 8, size: data.length, crc: zlib.crc32(data) ^ 1 }]));
    const s = await openMedia(file);
    const r = await s.open(s.entries[0] as never);
    expect((await r.read(0, 10)).toString()).toBe('xxxxxxxxxx'); // the CRC is known only at the end
    expect(await codeOf(() => r.read(0, data.length))).toBe('ZIP_INVALID');
    expect(await codeOf(() => r.read(0, 10))).toBe('ZIP_INVALID');
    await r.close();
    await s.close();
  });

  it('an entry that inflates to more than declared is a ZIP_BOMB', async () => {
    const data = Buffer.alloc(2 << 20);
    const file = path.join(dir, 'bomb.zip');
    // Declares 5000 bytes (a ratio the central directory check accepts), inflates to 2 MiB.
    const deflated = zlib.deflateRawSync(data, { level: 9 });
    writeFileSync(file, buildZip([{ name: 'A', data: deflated, method: 8, size: 5000, crc: zlib.crc32(data) }]));
    const s = await openMedia(file);
    const r = await s.open(s.entries[0] as never);
    expect(r.size).toBeLessThanOrEqual(5000);
    expect(await codeOf(() => r.read(0, r.size))).toBe('ZIP_BOMB');
    await r.close();
    await s.close();
  });
});
