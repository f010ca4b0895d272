/**
 * Fuzz target: the FAT reader as verify uses it (openImageSource('fat') over the image: boot sector or
 * MBR, the whole tree, every file read along its cluster chain). Seeds: tiny FAT32 images (superfloppy
 * and partitioned; long names, nested folders, a fragmented file, a folder over several clusters) and,
 * when mkfs.fat and mtools are installed at seed time, a FAT12 and a FAT16 image made by them.
 */
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { openImageSource } from '../../media/source/images.js';
import { resolveLimits } from '../../media/source/types.js';
import { fatFields, tinyFat32, type TinyFile } from '../fat-fields.js';
import { hasTool, readWholeSource, runTool } from '../media-inputs.js';
import type { Seed } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

function content(name: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 13 + name.charCodeAt(i % name.length)) & 0xff;
  return b;
}

const tf = (p: string, size: number, fragmented = false): TinyFile => ({ path: p.split('/'), bytes: content(p, size), fragmented });

function ourSeeds(): Array<{ name: string; bytes: Buffer }> {
  const small = [tf('DICOMDIR', 700), tf('README.TXT', 20), tf('EMPTY', 0)];
  const nested = [
    tf('DICOMDIR', 100),
    tf('DICOM/PA000001/ST000001/IM000001', 1500, true),
    tf('DICOM/PA000001/ST000001/IM000002', 512),
    tf('DICOM/PA000002/ST000001/IM000001', 3),
    tf('Some Folder/a rather long file name.dcm', 600),
    tf('Some Folder/ünïcode näme.txt', 40),
  ];
  const wide = Array.from({ length: 24 }, (_, i) => tf(`LOTS/file number ${i}.dat`, i % 4 === 0 ? 0 : 10 + i));
  return [
    { name: 'tiny32:small', bytes: tinyFat32(small) },
    { name: 'tiny32:nested', bytes: tinyFat32(nested, { label: 'NESTED' }) },
    { name: 'tiny32:wide-partitioned', bytes: tinyFat32(wide, { partitionLba: 4, spare: 8 }) },
  ];
}

/** mkfs.fat + mtools images (FAT12 and the smallest FAT16, long names, nested folders), when installed. */
function toolSeeds(): Array<{ name: string; bytes: Buffer }> {
  if (!hasTool('mkfs.fat') || !hasTool('mcopy') || !hasTool('mmd')) return [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dcmsafe-fuzz-fat-'));
  const out: Array<{ name: string; bytes: Buffer }> = [];
  // Fixed times and volume ID (SOURCE_DATE_EPOCH, --invariant, mcopy -m): the same seed bytes on every run.
  const t0 = new Date('2024-05-06T07:08:09Z');
  const env = { MTOOLS_SKIP_CHECK: '1', SOURCE_DATE_EPOCH: String(t0.getTime() / 1000) };
  const run = (tool: string, args: string[]): boolean => runTool(tool, args, dir, env);
  try {
    writeFileSync(path.join(dir, 'a.dcm'), content('a', 1300));
    writeFileSync(path.join(dir, 'b.txt'), content('b', 9));
    for (const f of ['a.dcm', 'b.txt']) utimesSync(path.join(dir, f), t0, t0);
    // FAT12: 96 KiB, 512-byte clusters; FAT16: just over 4085 clusters of 512 bytes.
    for (const [name, args] of [
      ['mkfs.fat:FAT12', ['-F', '12', '-s', '1', '-r', '32', '-n', 'FAT12SEED', '--invariant', '-i', '12345678', '-C', 'img', '96']],
      ['mkfs.fat:FAT16', ['-F', '16', '-s', '1', '-r', '32', '-n', 'FAT16SEED', '--invariant', '-i', '12345678', '-C', 'img', '2100']],
    ] as const) {
      rmSync(path.join(dir, 'img'), { force: true });
      const ok =
        run('mkfs.fat', [...args]) &&
        run('mmd', ['-i', 'img', '::/DICOM', '::/DICOM/Long Folder Name']) &&
        run('mcopy', ['-m', '-i', 'img', 'a.dcm', '::/DICOM/Long Folder Name/image one.dcm']) &&
        run('mcopy', ['-m', '-i', 'img', 'b.txt', '::/README.TXT']) &&
        run('mcopy', ['-m', '-i', 'img', 'b.txt', '::/DICOM/B.TXT']);
      if (ok) out.push({ name, bytes: readFileSync(path.join(dir, 'img')) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export const fatTarget: FuzzTarget = {
  name: 'fat',
  description: 'FAT12/16/32 image as verify reads it: boot sector or MBR, the whole tree, every file (openImageSource)',
  async seeds() {
    return [...ourSeeds(), ...toolSeeds()].map((s): Seed => ({ ...s, fields: fatFields(s.bytes) }));
  },
  async run(input) {
    const source = await openImageSource('fat', 'fuzz.img', new BufferReader(input, 'fuzz.img'), resolveLimits());
    await readWholeSource(source);
  },
};
