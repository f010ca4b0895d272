/**
 * The FAT32 stick image writer, checked with our reader and by reading the structures directly:
 * size = emitted bytes, determinism, MBR/BPB/FSInfo fields, contents, empty files, multi-cluster
 * directories, lazy opening and streaming of files.
 */
import { describe, expect, it } from 'vitest';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { memoryFile, type MediaFile } from '../../../src/media/media-file.js';
import { parseBootSector } from '../../../src/media/fat/boot-sector.js';
import { parsePartitionTable } from '../../../src/media/fat/mbr.js';
import { openFatImage } from '../../../src/media/fat/reader.js';
import { planFat32Image } from '../../../src/media/fat/writer.js';
import { collect, expectedDigest, fileSetTree, generatedFile, readAll, sha256 } from './fat-helpers.js';

const NOW = new Date('2024-05-06T07:08:09.120Z');

describe('planFat32Image', () => {
  it('emits exactly plan.size bytes, byte-identical on every run, and different with another clock', async () => {
    const files = fileSetTree(0.2);
    const a = planFat32Image(files, { volumeLabel: 'DCMSAFE', now: NOW });
    const b = planFat32Image(files, { volumeLabel: 'DCMSAFE', now: NOW });
    const imgA = await collect(a);
    const imgA2 = await collect(a);
    const imgB = await collect(b);
    expect(a.size).toBe(b.size);
    expect(a.size % (1 << 20)).toBe(0); // default size: whole MiB
    expect(sha256(imgA)).toBe(sha256(imgB));
    expect(sha256(imgA)).toBe(sha256(imgA2));
    const later = await collect(planFat32Image(files, { volumeLabel: 'DCMSAFE', now: new Date(NOW.getTime() + 2000) }));
    expect(sha256(later)).not.toBe(sha256(imgA));
  });

  it('writes an MBR with one FAT32 LBA partition at 1 MiB and a FAT32 boot sector, FSInfo and backups', async () => {
    const files = fileSetTree(0.1);
    const plan = planFat32Image(files, { volumeLabel: 'MY FILESET', now: NOW, volumeId: 0x1234abcd });
    const img = await collect(plan);
    const parts = parsePartitionTable(img.subarray(0, 512));
    expect(parts).toEqual([{ index: 1, bootIndicator: 0, type: 0x0c, startLba: 2048, sectors: plan.size / 512 - 2048 }]);
    const boot = img.subarray(2048 * 512, 2049 * 512);
    const bpb = parseBootSector(boot);
    if (typeof bpb === 'string') throw new Error(bpb);
    expect(bpb).toMatchObject({ fatType: 'FAT32', bytesPerSector: 512, reservedSectors: 32, numFats: 2, rootCluster: 2, volumeLabel: 'MY FILESET' });
    expect(bpb.clusterCount).toBeGreaterThanOrEqual(65525);
    expect(boot.readUInt32LE(28)).toBe(2048); // BPB_HiddSec
    expect(boot.readUInt32LE(67)).toBe(0x1234abcd); // BS_VolID
    expect(boot.toString('latin1', 82, 90)).toBe('FAT32   ');
    expect(boot[21]).toBe(0xf8);
    expect(boot.readUInt16LE(48)).toBe(1); // BPB_FSInfo
    expect(boot.readUInt16LE(50)).toBe(6); // BPB_BkBootSec
    expect(img.subarray((2048 + 6) * 512, (2048 + 7) * 512).equals(boot)).toBe(true);
    const fsinfo = img.subarray((2048 + 1) * 512, (2048 + 2) * 512);
    expect(img.subarray((2048 + 7) * 512, (2048 + 8) * 512).equals(fsinfo)).toBe(true);
    expect(fsinfo.readUInt32LE(0)).toBe(0x41615252);
    expect(fsinfo.readUInt32LE(484)).toBe(0x61417272);
    expect(fsinfo.readUInt32LE(508)).toBe(0xaa550000);
    // Free count: clusters whose FAT entry is 0; next free: the first of them.
    const fat = img.subarray((2048 + 32) * 512, (2048 + 32 + bpb.fatSectors) * 512);
    let free = 0;
    let firstFree = -1;
    for (let c = 2; c < bpb.clusterCount + 2; c++) {
      if (fat.readUInt32LE(c * 4) === 0) {
        free++;
        if (firstFree < 0) firstFree = c;
      }
    }
    expect(fsinfo.readUInt32LE(488)).toBe(free);
    expect(fsinfo.readUInt32LE(492)).toBe(firstFree);
    expect(fat.readUInt32LE(0)).toBe(0x0ffffff8);
    // Both FATs identical; the data region starts on a cluster boundary.
    const fat2 = img.subarray((2048 + 32 + bpb.fatSectors) * 512, (2048 + 32 + 2 * bpb.fatSectors) * 512);
    expect(fat2.equals(fat)).toBe(true);
    expect(bpb.firstDataSector % bpb.sectorsPerCluster).toBe(0);
  });

  it('is read back by our reader: paths, sizes, bytes, label, timestamps in the entries', async () => {
    const files = fileSetTree(0.5);
    const img = await collect(planFat32Image(files, { volumeLabel: 'DCMSAFE', now: NOW }));
    const vol = await openFatImage(new BufferReader(img, 'img'));
    expect(vol.fatType).toBe('FAT32');
    expect(vol.label).toBe('DCMSAFE');
    expect(vol.partitionOffset).toBe(1 << 20);
    const fileEntries = vol.entries.filter((e) => !e.isDirectory);
    expect(fileEntries.map((e) => e.path.join('/'))).toEqual(files.map((f) => f.path.join('/')));
    const dirs = vol.entries.filter((e) => e.isDirectory).map((e) => e.path.join('/'));
    expect(dirs).toContain('DICOM/PA000001/ST000001/SE000003');
    for (const [i, e] of fileEntries.entries()) {
      const f = files[i]!;
      expect(e.size).toBe(f.size);
      const r = vol.openFile(e);
      expect(r.size).toBe(f.size);
      expect(sha256(await readAll(r)), e.path.join('/')).toBe(expectedDigest(f));
    }
    // Reads across the end and past it.
    const big = fileEntries[fileEntries.length - 1]!;
    const r = vol.openFile(big);
    expect((await r.read(big.size - 10, 100)).length).toBe(10);
    expect((await r.read(big.size + 5, 100)).length).toBe(0);
  });

  it('writes FAT dates and times of `now` (UTC) into the entries', async () => {
    const img = await collect(planFat32Image([memoryFile(['README.TXT'], Buffer.from('hi'))], { volumeLabel: 'X', now: NOW }));
    const vol = await openFatImage(new BufferReader(img));
    const bpb = parseBootSector(img.subarray(1 << 20, (1 << 20) + 512));
    if (typeof bpb === 'string') throw new Error(bpb);
    const root = img.subarray((1 << 20) + bpb.firstDataSector * 512);
    // Entry 0: the volume label; entry 1: README.TXT.
    expect(root.toString('latin1', 0, 11)).toBe('X          ');
    expect(root[11]).toBe(0x08);
    const e = root.subarray(32, 64);
    expect(e.toString('latin1', 0, 11)).toBe('README  TXT');
    expect(e[11]).toBe(0x20);
    expect(e.readUInt16LE(24)).toBe(((2024 - 1980) << 9) | (5 << 5) | 6); // DIR_WrtDate
    expect(e.readUInt16LE(22)).toBe((7 << 11) | (8 << 5) | 4); // DIR_WrtTime: 07:08:08 (2 s units)
    expect(e[13]).toBe(100 + 12); // DIR_CrtTimeTenth: the odd second and 120 ms
    expect(vol.entries.map((x) => x.shortName)).toEqual(['README.TXT']);
  });

  it('handles empty files (no cluster) and opens them to check that they are empty', async () => {
    const empty = generatedFile(['DICOM', 'EMPTY'], 0, 5);
    const files = [generatedFile(['DICOMDIR'], 100, 4), empty, generatedFile(['DICOM', 'IM000001'], 700, 6)];
    const img = await collect(planFat32Image(files, { volumeLabel: '', now: NOW }));
    expect(empty.opened).toBe(1);
    const vol = await openFatImage(new BufferReader(img));
    expect(vol.label).toBe('');
    const e = vol.entries.find((x) => x.path.join('/') === 'DICOM/EMPTY')!;
    expect(e).toMatchObject({ size: 0, firstCluster: 0, isDirectory: false });
    expect((await vol.openFile(e).read(0, 10)).length).toBe(0);
    const liar: MediaFile = { path: ['LIAR'], size: 0, open: memoryFile(['LIAR'], Buffer.from('x')).open };
    await expect(collect(planFat32Image([liar], { volumeLabel: '', now: NOW }))).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('spreads a directory of many entries over several clusters', async () => {
    const files: MediaFile[] = [];
    for (let i = 1; i <= 300; i++) files.push(memoryFile(['DICOM', `IM${String(i).padStart(6, '0')}`], Buffer.from(`file ${i}`)));
    const img = await collect(planFat32Image(files, { volumeLabel: 'MANY', now: NOW }));
    const vol = await openFatImage(new BufferReader(img));
    const dicom = vol.entries.find((e) => e.path.join('/') === 'DICOM')!;
    // 302 entries × 32 bytes = 19 clusters of 512 bytes, contiguous from the DICOM folder's first cluster.
    const bpb = parseBootSector(img.subarray(1 << 20, (1 << 20) + 512));
    if (typeof bpb === 'string') throw new Error(bpb);
    expect(bpb.sectorsPerCluster).toBe(1);
    const fat = img.subarray((1 << 20) + 32 * 512);
    let n = 1;
    for (let c = dicom.firstCluster; fat.readUInt32LE(c * 4) !== 0x0fffffff; c = fat.readUInt32LE(c * 4)) n++;
    expect(n).toBe(Math.ceil((302 * 32) / 512));
    const listed = vol.entries.filter((e) => !e.isDirectory);
    expect(listed).toHaveLength(300);
    for (const e of [listed[0]!, listed[150]!, listed[299]!]) {
      const i = Number(e.path[1]!.slice(2));
      expect((await vol.openFile(e).read(0, 100)).toString()).toBe(`file ${i}`);
    }
  });

  it('opens each file only when its clusters come, and passes its chunks through without copying them', async () => {
    const seen: Buffer[] = [];
    let emittedAtOpen = -1;
    let emitted = 0;
    const chunk = Buffer.alloc(4096, 7);
    const file: MediaFile = {
      path: ['DICOM', 'IM000001'],
      size: 3 * 4096,
      open: () => {
        emittedAtOpen = emitted;
        return Promise.resolve({
          stream: (async function* () {
            for (let i = 0; i < 3; i++) {
              const c = chunk.subarray(0); // a distinct view of the same memory
              seen.push(c);
              yield c;
            }
          })(),
          close: () => Promise.resolve(),
        });
      },
    };
    const plan = planFat32Image([file], { volumeLabel: '', now: NOW });
    const out: Buffer[] = [];
    for await (const c of plan.emit()) {
      out.push(c);
      emitted += c.length;
    }
    expect(emittedAtOpen).toBeGreaterThan(1 << 20); // after the MBR gap, boot sectors and FATs
    for (const c of seen) expect(out).toContain(c);
  });

  it('fails when a file yields fewer or more bytes than its size', async () => {
    const short: MediaFile = { path: ['A'], size: 10, open: memoryFile(['A'], Buffer.alloc(9)).open };
    const long: MediaFile = { path: ['A'], size: 10, open: memoryFile(['A'], Buffer.alloc(11)).open };
    await expect(collect(planFat32Image([short], { volumeLabel: '', now: NOW }))).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(collect(planFat32Image([long], { volumeLabel: '', now: NOW }))).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
