/**
 * ZIP64 beyond 4 GiB (PKWARE APPNOTE 4.3.14, 4.5.3): an archive whose later entries and central
 * directory start beyond 4 GiB, and one entry larger than 4 GiB. Writes about 9 GB to the temporary
 * folder and takes a minute or two, so it runs only with DCMSAFE_ZIP_LARGE=1.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MediaFile } from '../../../src/media/media-file.js';
import { memoryFile } from '../../../src/media/media-file.js';
import { openZip, planZip } from '../../../src/media/zip/index.js';
import { hasTool, run, tempDir } from '../../helpers/env.js';
import { collect, writeTo } from './helpers.js';

const NOW = new Date('2024-05-06T07:08:10Z');
const MIB = 1 << 20;

/** `size` bytes of a repeating pattern, streamed from one shared 1 MiB buffer; stored (incompressible hint) to keep it fast. */
function patterned(p: string[], size: number): MediaFile & { compressible: boolean } {
  const block = Buffer.alloc(MIB);
  for (let i = 0; i < MIB; i++) block[i] = (i * 31 + 7) & 0xff;
  return {
    path: p,
    size,
    compressible: false,
    open: () =>
      Promise.resolve({
        stream: (async function* () {
          for (let at = 0; at < size; at += MIB) yield at + MIB <= size ? block : block.subarray(0, size - at);
        })(),
        close: () => Promise.resolve(),
      }),
  };
}

async function drain(chunks: AsyncIterable<Buffer>): Promise<number> {
  let n = 0;
  for await (const c of chunks) n += c.length;
  return n;
}

describe.skipIf(process.env.DCMSAFE_ZIP_LARGE !== '1')('ZIP64 beyond 4 GiB (DCMSAFE_ZIP_LARGE=1)', () => {
  const dir = tempDir('dcmsafe-zip-large-');

  it('entries and central directory beyond 4 GiB: tools and our reader accept it', async () => {
    const zip = path.join(dir, 'offsets.zip');
    const size = 2200 * MIB;
    const plan = planZip([memoryFile(['DICOMDIR'], Buffer.from('dir')), patterned(['A'], size), patterned(['B'], size), memoryFile(['LAST'], Buffer.from('last entry'))], { now: NOW });
    expect(plan.zip64).toBe(true);
    await writeTo(zip, plan.emit());
    if (hasTool('unzip')) expect(run('unzip', ['-tq', zip]).stdout).toMatch(/No errors detected/);
    if (hasTool('7z')) expect(run('7z', ['t', zip]).stdout).toMatch(/Everything is Ok/);
    const volume = await openZip(zip);
    try {
      const last = volume.entries.find((e) => e.path[0] === 'LAST')!;
      expect((await collect(await volume.openFile(last))).toString()).toBe('last entry');
      expect(await drain(await volume.openFile(volume.entries.find((e) => e.path[0] === 'B')!))).toBe(size);
    } finally {
      await volume.close();
      rmSync(zip);
    }
  }, 600_000);

  it('one entry larger than 4 GiB', async () => {
    const zip = path.join(dir, 'big-entry.zip');
    const size = 4200 * MIB;
    await writeTo(zip, planZip([patterned(['BIG'], size), memoryFile(['AFTER'], Buffer.from('after'))], { now: NOW }).emit());
    if (hasTool('unzip')) {
      const r = run('unzip', ['-tq', zip]);
      expect(r.stdout + r.stderr).toMatch(/No errors detected/);
    }
    if (hasTool('7z')) {
      const r = run('7z', ['t', zip]);
      expect(r.stdout + r.stderr).toMatch(/Everything is Ok/);
    }
    const volume = await openZip(zip);
    try {
      expect(volume.entries[0]).toMatchObject({ size, compressedSize: size, method: 'stored' });
      expect(await drain(await volume.openFile(volume.entries[0]!))).toBe(size);
      expect((await collect(await volume.openFile(volume.entries[1]!))).toString()).toBe('after');
    } finally {
      await volume.close();
      rmSync(zip);
    }
  }, 600_000);
});
