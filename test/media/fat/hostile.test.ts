/**
 * The reader against hostile images: mutations of an image we wrote (boot sector, MBR, FAT chains,
 * directory entries, sizes), limits, truncation, and random byte flips (fast-check). Every case ends
 * in a typed error (FAT_INVALID or FAT_CHAIN) within a time bound, never a hang or a raw exception.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { memoryFile } from '../../../src/media/media-file.js';
import { parseBootSector, type BiosParameterBlock } from '../../../src/media/fat/boot-sector.js';
import { openFatImage, type FatOpenOptions, type FatVolume } from '../../../src/media/fat/reader.js';
import { planFat32Image } from '../../../src/media/fat/writer.js';
import { collect, readAll } from './fat-helpers.js';

const NOW = new Date('2024-05-06T07:08:09Z');
const P = 1 << 20; // the partition's offset
const TIME_BOUND_MS = 2000;

let img: Buffer;
let bpb: BiosParameterBlock;
let vol: FatVolume;

const fatOffset = (c: number): number => P + bpb.reservedSectors * 512 + c * 4;
const clusterOffset = (c: number): number => P + bpb.firstDataSector * 512 + (c - 2) * 512;
const entry = (p: string): { firstCluster: number; size: number } => {
  const e = vol.entries.find((x) => x.path.join('/') === p);
  if (!e) throw new Error(`no ${p}`);
  return e;
};
/** Offset of the 32-byte directory entry named `name11` inside the directory starting at `dirCluster` (first cluster only). */
function entryOffset(dirCluster: number, name11: string): number {
  const dir = clusterOffset(dirCluster);
  for (let o = dir; o < dir + 512; o += 32) if (img.toString('latin1', o, o + 11) === name11) return o;
  throw new Error(`no ${name11}`);
}

/** Applies writes, runs `f`, restores the image. */
async function mutated<T>(writes: Array<[number, Buffer]>, f: (b: Buffer) => Promise<T>): Promise<T> {
  const saved = writes.map(([at, bytes]) => [at, Buffer.from(img.subarray(at, at + bytes.length))] as const);
  for (const [at, bytes] of writes) bytes.copy(img, at);
  try {
    return await f(img);
  } finally {
    for (const [at, bytes] of saved.reverse()) bytes.copy(img, at);
  }
}

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
/** DIR_FstClusHI (20) and DIR_FstClusLO (26) of an entry. */
const firstClusterWrites = (at: number, c: number): Array<[number, Buffer]> => [
  [at + 20, u16(c >>> 16)],
  [at + 26, u16(c & 0xffff)],
];

async function expectError(b: Buffer, code: 'FAT_INVALID' | 'FAT_CHAIN', pattern?: RegExp, options?: FatOpenOptions): Promise<void> {
  const t0 = performance.now();
  const err: unknown = await openFatImage(new BufferReader(b, 'hostile.img'), options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(performance.now() - t0).toBeLessThan(TIME_BOUND_MS);
  expect(err).toBeInstanceOf(DcmsafeError);
  expect((err as DcmsafeError).code, (err as Error).message).toBe(code);
  if (pattern) expect((err as Error).message).toMatch(pattern);
}

beforeAll(async () => {
  const files = [
    memoryFile(['DICOMDIR'], Buffer.alloc(1500, 1)),
    memoryFile(['README.TXT'], Buffer.from('read me\n')),
    memoryFile(['DICOM', 'PA000001', 'IM000001'], Buffer.alloc(1300, 2)), // 3 clusters
    memoryFile(['DICOM', 'PA000001', 'IM000002'], Buffer.alloc(600, 3)),
    memoryFile(['DICOM', 'PA000002', 'IM000001'], Buffer.alloc(100, 4)),
  ];
  img = await collect(planFat32Image(files, { volumeLabel: 'HOSTILE', now: NOW }));
  const parsed = parseBootSector(img.subarray(P, P + 512));
  if (typeof parsed === 'string') throw new Error(parsed);
  bpb = parsed;
  vol = await openFatImage(new BufferReader(img));
  expect(vol.entries).toHaveLength(8);
});

describe('boot sector and partition table', () => {
  it('zeroed boot sector: FAT_INVALID', async () => {
    await mutated([[P, Buffer.alloc(512)]], (b) => expectError(b, 'FAT_INVALID', /not a FAT boot sector/));
  });
  it('zeroed MBR and boot sector, garbage, or less than a sector: FAT_INVALID', async () => {
    await mutated(
      [
        [0, Buffer.alloc(512)],
        [P, Buffer.alloc(512)],
      ],
      (b) => expectError(b, 'FAT_INVALID'),
    );
    await expectError(Buffer.from('hello, this is not a disk image'.repeat(100)), 'FAT_INVALID');
    await expectError(Buffer.alloc(100), 'FAT_INVALID');
    await expectError(Buffer.alloc(0), 'FAT_INVALID');
  });
  it('a partition outside the image, a GPT protective MBR: FAT_INVALID', async () => {
    await mutated([[454, u32(0x7fffffff)]], (b) => expectError(b, 'FAT_INVALID', /outside the image/));
    await mutated([[450, Buffer.from([0xee])]], (b) => expectError(b, 'FAT_INVALID', /GPT/));
  });
  it('bad BPB fields: bytes per sector, cluster size, FAT too small, root cluster: FAT_INVALID', async () => {
    await mutated([[P + 11, u16(100)]], (b) => expectError(b, 'FAT_INVALID', /bytes per sector/));
    await mutated([[P + 13, Buffer.from([3])]], (b) => expectError(b, 'FAT_INVALID', /sectors per cluster/));
    await mutated([[P + 36, u32(1)]], (b) => expectError(b, 'FAT_INVALID', /FAT too small/));
    await mutated([[P + 44, u32(0x0fffffff)]], (b) => expectError(b, 'FAT_INVALID', /root cluster/));
    await mutated([[P + 32, u32(0xffffffff)]], (b) => expectError(b, 'FAT_INVALID'));
  });
  it('a truncated image: FAT_INVALID', async () => {
    await expectError(img.subarray(0, 3 << 20), 'FAT_INVALID', /the image has/);
  });
});

describe('cluster chains', () => {
  it('a loop in a file chain: FAT_CHAIN', async () => {
    const f = entry('DICOM/PA000001/IM000001');
    await mutated([[fatOffset(f.firstCluster + 2), u32(f.firstCluster)]], (b) => expectError(b, 'FAT_CHAIN', /loop/));
  });
  it('a loop in a directory chain: FAT_CHAIN', async () => {
    const d = entry('DICOM');
    await mutated([[fatOffset(d.firstCluster), u32(d.firstCluster)]], (b) => expectError(b, 'FAT_CHAIN', /loop/));
  });
  it('a loop in the root directory chain: FAT_CHAIN', async () => {
    await mutated([[fatOffset(2), u32(2)]], (b) => expectError(b, 'FAT_CHAIN', /loop/));
  });
  it('first clusters and FAT entries out of range, free or reserved in a chain: FAT_CHAIN', async () => {
    const f = entry('DICOM/PA000001/IM000001');
    const at = entryOffset(entry('DICOM/PA000001').firstCluster, 'IM000001   ');
    await mutated(firstClusterWrites(at, bpb.clusterCount + 2), (b) => expectError(b, 'FAT_CHAIN', /outside/));
    await mutated(firstClusterWrites(at, 1), (b) => expectError(b, 'FAT_CHAIN', /outside/));
    await mutated([[fatOffset(f.firstCluster), u32(bpb.clusterCount + 5)]], (b) => expectError(b, 'FAT_CHAIN', /outside/));
    await mutated([[fatOffset(f.firstCluster), u32(0)]], (b) => expectError(b, 'FAT_CHAIN', /free/));
    await mutated([[fatOffset(f.firstCluster), u32(0x0ffffff7)]], (b) => expectError(b, 'FAT_CHAIN', /bad/));
    await mutated([[fatOffset(f.firstCluster), u32(0x0ffffff2)]], (b) => expectError(b, 'FAT_CHAIN', /reserved/));
  });
  it('a directory pointing to itself, to its parent or to the root: FAT_CHAIN', async () => {
    const dicom = entry('DICOM').firstCluster;
    const pa1 = entryOffset(dicom, 'PA000001   ');
    await mutated(firstClusterWrites(pa1, dicom), (b) => expectError(b, 'FAT_CHAIN', /another chain/));
    await mutated(firstClusterWrites(pa1, 2), (b) => expectError(b, 'FAT_CHAIN', /another chain/));
    const inner = entry('DICOM/PA000001').firstCluster;
    // PA000001's first child points back at PA000001 itself.
    await mutated([...firstClusterWrites(entryOffset(inner, 'IM000001   '), inner), [entryOffset(inner, 'IM000001   ') + 11, Buffer.from([0x10])]], (b) =>
      expectError(b, 'FAT_CHAIN', /another chain/),
    );
  });
  it('cross-linked files: FAT_CHAIN', async () => {
    const at = entryOffset(2, 'README  TXT');
    await mutated(firstClusterWrites(at, entry('DICOMDIR').firstCluster), (b) => expectError(b, 'FAT_CHAIN', /another chain/));
  });
  it('a size larger or smaller than the chain: FAT_CHAIN', async () => {
    const at = entryOffset(entry('DICOM/PA000001').firstCluster, 'IM000001   ');
    await mutated([[at + 28, u32(1300 + 512)]], (b) => expectError(b, 'FAT_CHAIN', /chain of 3 cluster/));
    await mutated([[at + 28, u32(0xffffffff)]], (b) => expectError(b, 'FAT_CHAIN'));
    await mutated([[at + 28, u32(1000)]], (b) => expectError(b, 'FAT_CHAIN', /longer than/));
    await mutated([[at + 28, u32(0)]], (b) => expectError(b, 'FAT_CHAIN', /empty file with a cluster chain/));
  });
  it('a chain through every free cluster that ends in a loop: FAT_CHAIN, in bounded time', async () => {
    const f = entry('DICOM/PA000001/IM000001');
    const last = bpb.clusterCount + 1;
    const writes: Array<[number, Buffer]> = [[fatOffset(f.firstCluster + 2), u32(20)]];
    const chain = Buffer.alloc((last - 20 + 1) * 4);
    for (let c = 20; c < last; c++) chain.writeUInt32LE(c + 1, (c - 20) * 4);
    chain.writeUInt32LE(20, (last - 20) * 4);
    writes.push([fatOffset(20), chain]);
    const at = entryOffset(entry('DICOM/PA000001').firstCluster, 'IM000001   ');
    writes.push([at + 28, u32(0xffffffff)]);
    await mutated(writes, (b) => expectError(b, 'FAT_CHAIN', /loop/));
  });
  it('a directory chain longer than 65 536 entries: FAT_INVALID', async () => {
    const d = entry('DICOM').firstCluster;
    const n = 4200; // 512-byte clusters: 4096 make 2 MiB
    const chain = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) chain.writeUInt32LE(i === n - 1 ? 0x0fffffff : 1000 + i + 1, i * 4);
    await mutated(
      [
        [fatOffset(d), u32(1000)],
        [fatOffset(1000), chain],
      ],
      (b) => expectError(b, 'FAT_INVALID', /larger than 65536 entries/),
    );
  });
});

describe('directories', () => {
  it('depth and entry-count limits: FAT_INVALID', async () => {
    await expectError(img, 'FAT_INVALID', /deeper than 2/, { maxDepth: 2 });
    await expectError(img, 'FAT_INVALID', /more than 5 files/, { maxEntries: 5 });
  });
  it('names with a path separator or control character, duplicates, a folder without clusters: FAT_INVALID', async () => {
    const at = entryOffset(2, 'README  TXT');
    await mutated([[at, Buffer.from('A/B     ')]], (b) => expectError(b, 'FAT_INVALID', /unusable name/));
    await mutated([[at, Buffer.from('A\\B     ')]], (b) => expectError(b, 'FAT_INVALID', /unusable name/));
    await mutated([[at + 1, Buffer.from([0x01])]], (b) => expectError(b, 'FAT_INVALID', /unusable name/));
    await mutated([[at, Buffer.from('DICOMDIR   ')]], (b) => expectError(b, 'FAT_INVALID', /twice/));
    await mutated(firstClusterWrites(entryOffset(2, 'DICOM      '), 0), (b) => expectError(b, 'FAT_INVALID', /without clusters/));
  });
  it('random byte flips in the MBR, boot sector, FAT and directories: a typed error or a readable volume', async () => {
    const regions: Array<[number, number]> = [
      [0, 512],
      [P, 512],
      [fatOffset(0), 64 * 4],
      [clusterOffset(2), 16 * 512],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(regions.length - 1), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (flips) => {
          const writes: Array<[number, Buffer]> = flips.map(([r, pos, value]) => {
            const [start, len] = regions[r]!;
            return [start + (pos % len), Buffer.from([value])];
          });
          await mutated(writes, async (b) => {
            const t0 = performance.now();
            try {
              const v = await openFatImage(new BufferReader(b, 'fuzz.img'));
              for (const e of v.entries) if (!e.isDirectory) await readAll(v.openFile(e));
            } catch (e) {
              expect(e).toBeInstanceOf(DcmsafeError);
              expect(['FAT_INVALID', 'FAT_CHAIN']).toContain((e as DcmsafeError).code);
            }
            expect(performance.now() - t0).toBeLessThan(TIME_BOUND_MS);
          });
        },
      ),
      { numRuns: 400 },
    );
  });
});
