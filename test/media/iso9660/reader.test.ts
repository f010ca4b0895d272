/** The reader on hand-built and mutated images: multi-extent files, and hostile input giving typed errors in bounded time. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDcmsafeError } from '../../../src/errors/index.js';
import { memoryFile } from '../../../src/media/media-file.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { checkIso9660 } from '../../../src/media/iso9660/check.js';
import { openIso9660, readDirectoryRecords, type LocatedRecord } from '../../../src/media/iso9660/reader.js';
import { bytesOf, dicomLikeFiles, imageOf, multiExtentImage, readTree } from './helpers.js';

const B = 2048;
const PVD = 16 * B;
const ISO_CODES = ['ISO9660_INVALID', 'ISO9660_EXTENT'];

function setBoth32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

/** The records of the directory at `path` in `image` (root for []). */
async function recordsOf(image: Buffer, path: string[]): Promise<LocatedRecord[]> {
  const volume = await openIso9660(new BufferReader(image));
  const dir = path.length === 0 ? undefined : volume.entries.find((e) => e.path.join('/') === path.join('/'));
  const block = dir ? (dir.extents[0]?.block ?? 0) : image.readUInt32LE(PVD + 156 + 2);
  const size = dir ? dir.size : image.readUInt32LE(PVD + 156 + 10);
  return readDirectoryRecords(new BufferReader(image), block * B, size, 10_000);
}

function find(records: LocatedRecord[], identifier: string): LocatedRecord {
  const r = records.find((x) => x.record.identifier === identifier);
  if (!r) throw new Error(`no ${identifier}`);
  return r;
}

/** Opens the image and reads every file; resolves to the error code, or "ok". */
async function outcome(image: Buffer, options = {}): Promise<string> {
  const start = performance.now();
  try {
    const volume = await openIso9660(new BufferReader(image), options);
    for (const e of volume.entries) {
      if (!e.isDirectory) {
        const f = volume.openFile(e);
        await f.read(0, f.size);
      }
    }
    return 'ok';
  } catch (e) {
    if (!isDcmsafeError(e)) throw e;
    return e.code;
  } finally {
    expect(performance.now() - start).toBeLessThan(2000);
  }
}

describe('ISO 9660 reader: multi-extent files (Level 3)', () => {
  it('concatenates the sections of a file recorded as several extents, in record order', async () => {
    const { image, big, small } = multiExtentImage();
    const volume = await openIso9660(new BufferReader(image));
    expect(volume.level).toBe(3);
    const entry = volume.entries.find((e) => e.path[0] === 'BIG.DAT');
    expect(entry?.extents).toEqual([
      { block: 24, length: 4096 },
      { block: 21, length: 2048 },
      { block: 23, length: 1000 },
    ]);
    expect(entry?.size).toBe(big.length);
    const f = volume.openFile(entry!);
    expect((await f.read(0, f.size)).equals(big)).toBe(true);
    // Reads that straddle sections, and reads past the end.
    expect((await f.read(4000, 200)).equals(big.subarray(4000, 4200))).toBe(true);
    expect((await f.read(6000, 2000)).equals(big.subarray(6000))).toBe(true);
    expect((await f.read(big.length, 10)).length).toBe(0);
    expect((await readTree(image)).get('SMALL.TXT')).toEqual(small);
    const findings = await checkIso9660(new BufferReader(image));
    expect(findings).toEqual([{ rule: 'level1', message: 'a file has more than one extent' }]);
  });

  it('refuses a multi-extent chain without its final record, or on a directory', async () => {
    const { image } = multiExtentImage();
    const records = await recordsOf(image, []);
    const last = records.filter((r) => r.record.identifier === 'BIG.DAT;1').at(-1)!;
    const a = Buffer.from(image);
    a[last.offset + 25] = 0x80; // the last section says more follow, then SMALL.TXT comes
    expect(await outcome(a)).toBe('ISO9660_INVALID');
    const b = Buffer.from(image);
    b[last.offset + 25] = 0x82;
    expect(await outcome(b)).toBe('ISO9660_INVALID');
  });
});

describe('ISO 9660 reader: hostile images give typed errors within 2 s', () => {
  let image: Buffer;
  const fresh = async (): Promise<Buffer> => {
    image ??= await imageOf(dicomLikeFiles());
    return Buffer.from(image);
  };

  it('reads the untouched image', async () => {
    expect(await outcome(await fresh())).toBe('ok');
  });

  it('not ISO 9660: zeroed PVD, too small, no terminator, no PVD', async () => {
    const a = await fresh();
    a.fill(0, PVD, PVD + B);
    expect(await outcome(a)).toBe('ISO9660_INVALID');
    expect(await outcome((await fresh()).subarray(0, 16 * B + 100))).toBe('ISO9660_INVALID');
    expect(await outcome(Buffer.alloc(0))).toBe('ISO9660_INVALID');
    const c = await fresh();
    c[17 * B] = 1; // the terminator becomes a second PVD; the next sector is not a descriptor
    expect(await outcome(c)).toBe('ISO9660_INVALID');
    const d = await fresh();
    d[PVD] = 2; // the PVD becomes a supplementary descriptor
    expect(await outcome(d)).toBe('ISO9660_INVALID');
    // A descriptor set of 256 PVD-like sectors without a terminator is bounded.
    const e = Buffer.alloc(300 * B);
    for (let s = 16; s < 300; s++) e.write('\x02CD001\x01', s * B, 'latin1');
    expect(await outcome(e)).toBe('ISO9660_INVALID');
  });

  it('root extent past the end of the image or of the volume space', async () => {
    const a = await fresh();
    setBoth32(a, PVD + 156 + 2, 0x7fffffff);
    expect(await outcome(a)).toBe('ISO9660_EXTENT');
    const b = await fresh();
    setBoth32(b, PVD + 80, 19); // volume space ends before the root directory
    expect(await outcome(b)).toBe('ISO9660_EXTENT');
    const c = await fresh();
    expect(await outcome(c.subarray(0, 20 * B))).toBe('ISO9660_EXTENT'); // truncated image
  });

  it('a directory pointing to itself, to its parent, to the root', async () => {
    const base = await fresh();
    const dicom = find(await recordsOf(base, []), 'DICOM');
    const pa = find(await recordsOf(base, ['DICOM']), 'PA000001');
    const a = Buffer.from(base);
    setBoth32(a, pa.offset + 2, dicom.record.location); // /DICOM/PA000001 -> /DICOM
    expect(await outcome(a)).toBe('ISO9660_EXTENT');
    const b = Buffer.from(base);
    setBoth32(b, dicom.offset + 2, image.readUInt32LE(PVD + 156 + 2)); // /DICOM -> root
    expect(await outcome(b)).toBe('ISO9660_EXTENT');
    // PA000002 pointing into the middle of PA000001's tree (a different start: caught as a loop further down or as overlap).
    const pa2 = find(await recordsOf(base, ['DICOM']), 'PA000002');
    const c = Buffer.from(base);
    setBoth32(c, pa2.offset + 2, pa.record.location);
    expect(ISO_CODES).toContain(await outcome(c));
  });

  it('record lengths that cross a sector, too short, or identifiers past the record', async () => {
    const files = Array.from({ length: 120 }, (_, i) => memoryFile(['DIR', `IM${String(i + 1).padStart(6, '0')}`], Buffer.from('x')));
    const base = await imageOf(files);
    const records = await recordsOf(base, ['DIR']);
    // The last record of the first sector: its successor starts the next sector.
    const lastInSector = records.find((r, i) => Math.floor(r.offset / B) !== Math.floor((records[i + 1]?.offset ?? r.offset) / B))!;
    const a = Buffer.from(base);
    a[lastInSector.offset] = B - (lastInSector.offset % B) + 2;
    expect(await outcome(a)).toBe('ISO9660_INVALID');
    const b = Buffer.from(base);
    b[records[5]!.offset] = 10;
    expect(await outcome(b)).toBe('ISO9660_INVALID');
    const c = Buffer.from(base);
    c[records[5]!.offset + 32] = 200;
    expect(await outcome(c)).toBe('ISO9660_INVALID');
  });

  it('4 GB and absurd sizes: file and directory data lengths, both-endian disagreement, block size', async () => {
    const base = await fresh();
    const dicomdir = find(await recordsOf(base, []), 'DICOMDIR.;1');
    const a = Buffer.from(base);
    setBoth32(a, dicomdir.offset + 10, 0xffffffff);
    expect(await outcome(a)).toBe('ISO9660_EXTENT');
    const dicom = find(await recordsOf(base, []), 'DICOM');
    const b = Buffer.from(base);
    setBoth32(b, dicom.offset + 10, 0xfffff800);
    expect(await outcome(b)).toBe('ISO9660_EXTENT');
    const c = Buffer.from(base);
    c.writeUInt32BE(1, dicomdir.offset + 14); // BE half of the data length disagrees
    expect(await outcome(c)).toBe('ISO9660_INVALID');
    const d = Buffer.from(base);
    d.writeUInt16LE(4096, PVD + 128);
    d.writeUInt16BE(4096, PVD + 130);
    expect(await outcome(d)).toBe('ISO9660_INVALID');
    const e = Buffer.from(base);
    setBoth32(e, dicom.offset + 10, 0); // a directory with no "." record
    expect(await outcome(e)).toBe('ISO9660_INVALID');
  });

  it('unusable names and duplicates', async () => {
    const base = await imageOf([memoryFile(['AB'], Buffer.from('1')), memoryFile(['AC'], Buffer.from('2'))]);
    const records = await recordsOf(base, []);
    const ab = find(records, 'AB.;1');
    const a = Buffer.from(base);
    a.write('AC', ab.offset + 33, 'latin1'); // two files named AC
    expect(await outcome(a)).toBe('ISO9660_INVALID');
    const b = Buffer.from(base);
    b.write('..', ab.offset + 33, 'latin1'); // "..;1" displays as ".."
    expect(await outcome(b)).toBe('ISO9660_INVALID');
    const c = Buffer.from(base);
    c.write('A/', ab.offset + 33, 'latin1');
    expect(await outcome(c)).toBe('ISO9660_INVALID');
  });

  it('limits on entries and depth', async () => {
    const base = await fresh();
    expect(await outcome(base, { maxEntries: 5 })).toBe('ISO9660_EXTENT');
    expect(await outcome(base, { maxDepth: 3 })).toBe('ISO9660_EXTENT');
    expect(await outcome(base, { maxDepth: 5 })).toBe('ok');
  });

  it('random byte changes in the descriptors, path tables and directories never escape as untyped errors (fast-check)', async () => {
    const base = await fresh();
    const volume = await openIso9660(new BufferReader(base));
    // Everything before the first file's data: descriptors, path tables and directories.
    const metaEnd = Math.min(...volume.entries.filter((e) => !e.isDirectory && e.size > 0).map((e) => e.extents[0]!.block)) * B;
    expect(metaEnd).toBe(32 * B);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 16 * B, max: metaEnd - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), async (changes) => {
        const img = Buffer.from(base);
        for (const [at, v] of changes) img[at] = v;
        const result = await outcome(img);
        expect(['ok', ...ISO_CODES]).toContain(result);
      }),
      { numRuns: 300, seed: 9660 },
    );
  });

  it('a random image is not taken for ISO 9660', async () => {
    expect(await outcome(bytesOf('random', 40 * B))).toBe('ISO9660_INVALID');
  });
});
