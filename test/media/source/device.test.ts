/**
 * The pieces that size a block device (whose stat().size is 0): Linux dev_t decoding, the sysfs size
 * file, and probing by one-byte reads (checked here on regular files of awkward sizes, where reading
 * at or past the end gives 0 bytes exactly as on a device). Real devices: test/interop/media-source-device.test.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { BigIntStats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deviceNumbers, HandleReader, probeSize, sysfsDeviceSize } from '../../../src/media/source/handle-reader.js';
import { tempDir } from '../../helpers/env.js';

const dir = tempDir('dcmsafe-source-device-');

describe('device sizing', () => {
  it('decodes Linux dev_t like gnu_dev_major/gnu_dev_minor', () => {
    expect(deviceNumbers(1792n)).toEqual({ major: 7, minor: 0 }); // /dev/loop0
    expect(deviceNumbers(2833n)).toEqual({ major: 11, minor: 17 }); // 0x0b11
    // major 259 (blkext), minor 300: major bits 8-19, minor low 8 bits and bits 20-31
    const rdev = (259n << 8n) | (300n & 0xffn) | ((300n & ~0xffn) << 12n);
    expect(deviceNumbers(rdev)).toEqual({ major: 259, minor: 300 });
  });

  it('reads /sys/dev/block/M:m/size (512-byte units), ignores junk and absence', async () => {
    const sys = path.join(dir, 'sys');
    mkdirSync(path.join(sys, '7:0'), { recursive: true });
    mkdirSync(path.join(sys, '7:1'), { recursive: true });
    writeFileSync(path.join(sys, '7:0', 'size'), '2048\n');
    writeFileSync(path.join(sys, '7:1', 'size'), 'lots\n');
    const st = (rdev: bigint): BigIntStats => ({ rdev }) as BigIntStats;
    expect(await sysfsDeviceSize(st(1792n), sys)).toBe(1 << 20);
    expect(await sysfsDeviceSize(st(1793n), sys)).toBeUndefined();
    expect(await sysfsDeviceSize(st(1794n), sys)).toBeUndefined();
  });

  it('probes the size by one-byte reads', async () => {
    for (const size of [0, 1, 511, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 5_000_001]) {
      const file = path.join(dir, `probe-${size}`);
      writeFileSync(file, Buffer.alloc(0));
      const h = await open(file, 'r+');
      await h.truncate(size);
      try {
        expect(await probeSize(h)).toBe(size);
      } finally {
        await h.close();
      }
    }
  });

  it('HandleReader reads within its size only, and not after close', async () => {
    const file = path.join(dir, 'h');
    writeFileSync(file, Buffer.from('0123456789'));
    const r = new HandleReader(await open(file, 'r'), 8, 'h');
    expect((await r.read(6, 10)).toString()).toBe('67');
    expect((await r.read(8, 1)).length).toBe(0);
    await expect(r.read(-1, 1)).rejects.toThrow(RangeError);
    await r.close();
    await r.close();
    await expect(r.read(0, 1)).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
