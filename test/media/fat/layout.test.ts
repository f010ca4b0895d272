/**
 * FAT32 geometry (cluster size table, FAT size, FAT32 cluster-count limits), minimum sizes and the
 * capacity and name refusals of the writer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MediaFile } from '../../../src/media/media-file.js';
import { parseBootSector } from '../../../src/media/fat/boot-sector.js';
import { fat32Geometry, minimumFat32Size, sectorsPerClusterFor } from '../../../src/media/fat/layout.js';
import { planFat32Image } from '../../../src/media/fat/writer.js';

const NOW = new Date('2024-05-06T07:08:09Z');

/** A file that must never be opened (layout-only tests). */
function sized(path: string[], size: number): MediaFile {
  return { path, size, open: () => Promise.reject(new Error(`${path.join('/')} opened`)) };
}

function codeOf(f: () => unknown): { code?: string; data?: Record<string, unknown> } {
  try {
    f();
  } catch (e) {
    return e as { code?: string; data?: Record<string, unknown> };
  }
  return {};
}

describe('fat32Geometry', () => {
  it.each([
    [70_000, 1],
    [532_480, 1],
    [532_481, 8],
    [16_777_216, 8],
    [16_777_217, 16],
    [33_554_433, 32],
    [67_108_865, 64],
    [2 ** 32 - 2048, 64],
  ])('a volume of %i sectors gets %i sectors per cluster (DskTableFAT32)', (sectors, spc) => {
    expect(sectorsPerClusterFor(sectors)).toBe(spc);
    expect(fat32Geometry(sectors)?.sectorsPerCluster).toBe(spc);
  });

  it('refuses volumes below 65 525 clusters and beyond what the MBR addresses', () => {
    expect(fat32Geometry(66_000)).toBeUndefined();
    expect(fat32Geometry(2 ** 32)).toBeUndefined();
  });

  it('always gives a FAT big enough, not much bigger, and a cluster-aligned data region', () => {
    fc.assert(
      fc.property(fc.integer({ min: 66_000, max: 2 ** 32 - 2048 }), (sectors) => {
        const g = fat32Geometry(sectors);
        if (!g) return;
        expect(g.clusterCount).toBeGreaterThanOrEqual(65525);
        expect(g.clusterCount).toBeLessThanOrEqual(0x0ffffff5);
        expect(g.fatSectors * 128).toBeGreaterThanOrEqual(g.clusterCount + 2);
        expect(g.fatSectors).toBeLessThanOrEqual(Math.ceil((g.clusterCount + 2) / 128) + Math.max(1, g.sectorsPerCluster / 2));
        expect(g.dataStartSector % g.sectorsPerCluster).toBe(0);
        expect(g.dataStartSector + g.clusterCount * g.sectorsPerCluster).toBeLessThanOrEqual(sectors);
        expect(sectors - g.dataStartSector - g.clusterCount * g.sectorsPerCluster).toBeLessThan(g.sectorsPerCluster);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('sizes and capacity', () => {
  it('gives the exact minimum: it fits, one sector less does not', () => {
    for (const files of [[], [sized(['DICOMDIR'], 5000)], [sized(['DICOM', 'IM000001'], 300_000_000), sized(['README.TXT'], 10)]]) {
      const min = minimumFat32Size(files);
      expect(min % 512).toBe(0);
      expect(planFat32Image(files, { volumeLabel: 'L', now: NOW, size: min }).size).toBe(min);
      const e = codeOf(() => planFat32Image(files, { volumeLabel: 'L', now: NOW, size: min - 512 }));
      expect(e.code).toBe('FAT_CAPACITY');
      expect(e.data?.minimum).toBe(min);
    }
    const empty = minimumFat32Size([]);
    expect(empty).toBeGreaterThan(34_000_000);
    expect(empty).toBeLessThan(35_200_000);
  });

  it('defaults to the minimum plus a margin, in whole MiB', () => {
    const files = [sized(['DICOM', 'IM000001'], 100_000_000)];
    const plan = planFat32Image(files, { volumeLabel: 'L', now: NOW });
    expect(plan.size % (1 << 20)).toBe(0);
    expect(plan.size).toBeGreaterThanOrEqual(minimumFat32Size(files) + (1 << 20));
  });

  it('refuses files of 4 GiB or more, and accepts 4 GiB - 1', () => {
    expect(codeOf(() => planFat32Image([sized(['BIG'], 2 ** 32)], { volumeLabel: '', now: NOW })).code).toBe('FAT_CAPACITY');
    expect(planFat32Image([sized(['BIG'], 2 ** 32 - 1)], { volumeLabel: '', now: NOW }).size).toBeGreaterThan(2 ** 32);
    expect(codeOf(() => planFat32Image([sized(['BAD'], -1)], { volumeLabel: '', now: NOW })).code).toBe('FAT_CAPACITY');
  });

  it('refuses sizes that are not whole sectors, too small for FAT32, or beyond 2 TiB', () => {
    for (const size of [40_000_001, 1 << 20, 20 << 20, 2 ** 41 + 2 ** 20]) {
      expect(codeOf(() => planFat32Image([], { volumeLabel: '', now: NOW, size })).code, String(size)).toBe('FAT_CAPACITY');
    }
  });

  it('refuses a directory of more than 65 536 entries', () => {
    const files: MediaFile[] = [];
    for (let i = 0; i < 65_536; i++) files.push(sized(['DICOM', `F${i}`], 0));
    expect(codeOf(() => planFat32Image(files, { volumeLabel: '', now: NOW })).code).toBe('FAT_CAPACITY');
    files.pop();
    files.pop();
    expect(planFat32Image(files, { volumeLabel: '', now: NOW }).size).toBeGreaterThan(0); // 65 534 + "." + ".."
  });

  it('refuses bad names, duplicates and file/folder clashes with FAT_NAME', () => {
    const plan = (files: MediaFile[], label = ''): string | undefined => codeOf(() => planFat32Image(files, { volumeLabel: label, now: NOW })).code;
    expect(plan([sized(['dicom'], 1)])).toBe('FAT_NAME');
    expect(plan([sized([], 1)])).toBe('FAT_NAME');
    expect(plan([sized(['A'], 1), sized(['A'], 2)])).toBe('FAT_NAME');
    expect(plan([sized(['A'], 1), sized(['A', 'B'], 2)])).toBe('FAT_NAME');
    expect(plan([sized(['A', 'B'], 1), sized(['A'], 2)])).toBe('FAT_NAME');
    expect(plan([sized(['DICOM', 'TOOLONGNAME'], 1)])).toBe('FAT_NAME');
    expect(plan([sized(['A'], 1)], 'lower')).toBe('FAT_NAME');
  });

  it('lays out a 64 GiB image with 32 KiB clusters without emitting it', async () => {
    const plan = planFat32Image([sized(['DICOMDIR'], 1000)], { volumeLabel: 'BIG', now: NOW, size: 64 * 2 ** 30 });
    const it = plan.emit();
    let head = Buffer.alloc(0);
    while (head.length < (1 << 20) + 512) head = Buffer.concat([head, (await it.next()).value as Buffer]);
    await it.return(undefined);
    const bpb = parseBootSector(head.subarray(1 << 20, (1 << 20) + 512));
    if (typeof bpb === 'string') throw new Error(bpb);
    expect(bpb.sectorsPerCluster).toBe(64);
    expect(bpb.totalSectors).toBe(64 * 2 ** 21 - 2048);
  });
});
