/**
 * openMedia on real block devices: our ISO 9660 and FAT32 (MBR) images attached read-only to loop
 * devices (losetup, util-linux), as a disc in /dev/sr0 or a stick in /dev/sdb would be. A block
 * device's stat().size is 0: the ISO is sized from its Primary Volume Descriptor, the FAT device from
 * /sys/dev/block/M:m/size, and probing must agree with sysfs. Needs root and a free loop device:
 * skipped (with a message) otherwise. The loop devices are detached after the tests.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMedia } from '../../src/media/source/index.js';
import { probeSize, sysfsDeviceSize } from '../../src/media/source/handle-reader.js';
import { tempDir } from '../helpers/env.js';
import { readSource, treeContents, writeFat, writeIso } from '../media/source/helpers.js';

function loopUsable(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return spawnSync('losetup', ['--find'], { encoding: 'utf8' }).status === 0;
}

const usable = loopUsable();
if (!usable) console.warn('\n!!! SKIPPED "openMedia on loop devices": needs root on Linux and a free loop device (losetup)\n');

describe.runIf(usable)('openMedia on loop devices', () => {
  const dir = tempDir('dcmsafe-source-loop-');
  const contents = treeContents();
  const attached: string[] = [];
  const devices: Record<string, string> = {};

  const attach = (file: string): string => {
    const r = spawnSync('losetup', ['--find', '--show', '--read-only', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`losetup failed: ${r.stderr}`);
    const dev = r.stdout.trim();
    attached.push(dev);
    return dev;
  };

  beforeAll(async () => {
    devices.iso = attach(await writeIso(dir, contents));
    devices.fat = attach(await writeFat(dir, contents));
  });

  afterAll(() => {
    for (const dev of attached) spawnSync('losetup', ['--detach', dev]);
  });

  it.each([
    ['iso', 'iso9660'],
    ['fat', 'fat'],
  ])('%s on a block device: kind %s, the same files and bytes', async (name, kind) => {
    const dev = devices[name] as string;
    expect(statSync(dev).isBlockDevice()).toBe(true);
    expect(statSync(dev).size).toBe(0);
    const s = await openMedia(dev);
    try {
      expect(s.kind).toBe(kind);
      const got = await readSource(s);
      expect(new Set(got.keys())).toEqual(new Set(contents.keys()));
      for (const [p, b] of contents) expect(got.get(p)?.equals(b), p).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('probing finds the size sysfs gives', async () => {
    const dev = devices.fat as string;
    const h = await open(dev, 'r');
    try {
      const st = await h.stat({ bigint: true });
      const sys = await sysfsDeviceSize(st);
      expect(sys).toBeGreaterThan(0);
      expect(await probeSize(h)).toBe(sys);
    } finally {
      await h.close();
    }
  });
});
