import { describe, expect, it } from 'vitest';
import { memoryFile, type MediaFile } from '../../../src/media/media-file.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { checkIso9660 } from '../../../src/media/iso9660/check.js';
import { decodePathTable } from '../../../src/media/iso9660/path-table.js';
import { openIso9660, readDirectoryRecords } from '../../../src/media/iso9660/reader.js';
import { planIso9660 } from '../../../src/media/iso9660/writer.js';
import { bytesOf, contentsOf, dicomLikeFiles, emitAll, expectedTree, imageOf, OPTIONS, readTree, T0 } from './helpers.js';

const B = 2048;
const code = (c: string): unknown => expect.objectContaining({ code: c });

/** A MediaFile that records when it is opened and closed, and can lie about its size. */
function tracedFile(path: string[], size: number, yields: number, log: string[]): MediaFile {
  return {
    path,
    size,
    open: () => {
      log.push(`open ${path.join('/')}`);
      return Promise.resolve({
        stream: (async function* () {
          let left = yields;
          while (left > 0) {
            const n = Math.min(left, 1000);
            left -= n;
            yield Buffer.alloc(n, 0x41);
          }
        })(),
        close: () => {
          log.push(`close ${path.join('/')}`);
          return Promise.resolve();
        },
      });
    },
  };
}

describe('ISO 9660 writer: layout', () => {
  it('emits exactly the planned size, in whole blocks, with the descriptors where ECMA-119 puts them', async () => {
    const files = dicomLikeFiles();
    const plan = planIso9660(files, OPTIONS);
    const image = await emitAll(plan);
    expect(image.length).toBe(plan.size);
    expect(plan.size % B).toBe(0);
    expect(image.subarray(0, 16 * B).every((b) => b === 0)).toBe(true); // System Area
    expect(image.toString('latin1', 16 * B, 16 * B + 7)).toBe('\x01CD001\x01');
    expect(image.toString('latin1', 17 * B, 17 * B + 7)).toBe('\xffCD001\x01');
    expect(image.readUInt32LE(16 * B + 80)).toBe(plan.size / B); // volume space size
    expect(image.readUInt32LE(16 * B + 140)).toBe(18); // type L path table right after the terminator
    expect(image.readUInt32BE(16 * B + 148)).toBe(19); // type M after it (one block each here)
  });

  it('is deterministic: two plans and two emits of one plan give the same bytes', async () => {
    const plan = planIso9660(dicomLikeFiles(), OPTIONS);
    const a = await emitAll(plan);
    const b = await emitAll(plan);
    const c = await imageOf(dicomLikeFiles());
    expect(b.equals(a)).toBe(true);
    expect(c.equals(a)).toBe(true);
    // The order in which files are given does not matter either.
    expect((await imageOf([...dicomLikeFiles()].reverse())).equals(a)).toBe(true);
    // Only the recording time moves the bytes.
    expect((await imageOf(dicomLikeFiles(), { ...OPTIONS, recordingTime: new Date(T0.getTime() + 1000) })).equals(a)).toBe(false);
  });

  it('orders the path table by level, parent number, then §9.3 identifier order', async () => {
    const names = ['B', 'A_', 'AB', 'A', '0'];
    const files = names.flatMap((d) => [memoryFile([d, 'Z', 'F'], Buffer.from(d)), memoryFile([d, 'Y', 'F'], Buffer.from(d))]);
    const image = await imageOf(files);
    const size = image.readUInt32LE(16 * B + 132);
    const table = decodePathTable(image.subarray(18 * B, 18 * B + size), 'L', { file: 't', offset: 0 }, 100);
    expect(table.map((r) => `${r.parentNumber}:${r.identifier}`)).toEqual([
      '1:\x00',
      ...['0', 'A', 'AB', 'A_', 'B'].map((d) => `1:${d}`),
      ...[2, 3, 4, 5, 6].flatMap((p) => [`${p}:Y`, `${p}:Z`]),
    ]);
    const m = decodePathTable(image.subarray(19 * B, 19 * B + size), 'M', { file: 't', offset: 0 }, 100);
    expect(m).toEqual(table);
    expect(await checkIso9660(new BufferReader(image))).toEqual([]);
  });

  it('reads back with our reader: paths, sizes, bytes; and our checker finds nothing', async () => {
    const files = dicomLikeFiles();
    const image = await imageOf(files);
    expect(await readTree(image)).toEqual(expectedTree(files, await contentsOf(files)));
    const volume = await openIso9660(new BufferReader(image));
    expect(volume).toMatchObject({ volumeIdentifier: 'DCMSAFE_TEST', systemIdentifier: '', blockSize: 2048, level: 1, joliet: false, rockRidge: false });
    expect(volume.entries.every((e) => e.recorded?.getTime() === T0.getTime())).toBe(true);
    // Depth first, directories before their contents.
    expect(volume.entries.slice(0, 6).map((e) => e.path.join('/'))).toEqual([
      'DICOM',
      'DICOM/PA000001',
      'DICOM/PA000001/ST000001',
      'DICOM/PA000001/ST000001/SE000001',
      'DICOM/PA000001/ST000001/SE000001/IM000001',
      'DICOM/PA000001/ST000001/SE000001/IM000002',
    ]);
    expect(await checkIso9660(new BufferReader(image))).toEqual([]);
  });

  it('handles empty files, a volume of only empty files and a volume without files', async () => {
    const files = [memoryFile(['EMPTY'], Buffer.alloc(0)), memoryFile(['D', 'E2'], Buffer.alloc(0))];
    const image = await imageOf(files);
    const tree = await readTree(image);
    expect(tree.get('EMPTY')).toEqual(Buffer.alloc(0));
    expect(tree.get('D/E2')).toEqual(Buffer.alloc(0));
    const volume = await openIso9660(new BufferReader(image));
    expect(volume.entries.find((e) => e.path.join('/') === 'EMPTY')?.extents).toEqual([{ block: 0, length: 0 }]);
    expect(await checkIso9660(new BufferReader(image))).toEqual([]);
    const none = await imageOf([]);
    expect(none.length).toBe(21 * B); // system area, PVD, terminator, two path tables, root
    expect((await openIso9660(new BufferReader(none))).entries).toEqual([]);
    expect(await checkIso9660(new BufferReader(none))).toEqual([]);
  });

  it('spreads a directory of 300 files over several sectors without a record crossing a sector', async () => {
    const files = Array.from({ length: 300 }, (_, i) => memoryFile(['DIR', `IM${String(i + 1).padStart(6, '0')}`], bytesOf(`f${i}`, i % 5)));
    const image = await imageOf(files);
    const volume = await openIso9660(new BufferReader(image));
    const dir = volume.entries.find((e) => e.path.join('/') === 'DIR');
    // 2 x 34 + 300 x 44 bytes, 45 records of 44 in the first sector after "." and ".." ...: 7 sectors.
    expect(dir?.size).toBe(7 * B);
    const records = await readDirectoryRecords(new BufferReader(image), (dir?.extents[0]?.block ?? 0) * B, dir?.size ?? 0, 1000);
    expect(records).toHaveLength(302);
    for (const r of records) expect(Math.floor(r.offset / B)).toBe(Math.floor((r.offset + r.record.length - 1) / B));
    expect(await readTree(image)).toEqual(expectedTree(files, await contentsOf(files)));
    expect(await checkIso9660(new BufferReader(image))).toEqual([]);
  });
});

describe('ISO 9660 writer: refusals before any byte', () => {
  it('allows 8 levels (root included) and refuses 9 with ISO9660_DEPTH', async () => {
    const deep = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'FILE']; // file in a level-8 directory
    const image = await imageOf([memoryFile(deep, Buffer.from('x'))]);
    expect((await readTree(image)).get(deep.join('/'))).toEqual(Buffer.from('x'));
    expect(await checkIso9660(new BufferReader(image))).toEqual([]);
    expect(() => planIso9660([memoryFile(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'FILE'], Buffer.from('x'))], OPTIONS)).toThrow(code('ISO9660_DEPTH'));
  });

  it('refuses files of 4 GiB or more with ISO9660_FILE_SIZE, and plans 4 GiB - 1 without opening anything', () => {
    const log: string[] = [];
    expect(() => planIso9660([tracedFile(['BIG'], 2 ** 32, 0, log)], OPTIONS)).toThrow(code('ISO9660_FILE_SIZE'));
    expect(() => planIso9660([tracedFile(['BAD'], -1, 0, log)], OPTIONS)).toThrow(code('ISO9660_FILE_SIZE'));
    const plan = planIso9660([tracedFile(['BIG'], 2 ** 32 - 1, 0, log)], OPTIONS);
    expect(plan.size).toBe((21 + 2 ** 21) * B);
    expect(log).toEqual([]);
  });

  it('refuses names Level 1 cannot hold, duplicates and file/directory clashes with ISO9660_NAME', () => {
    const f = (...path: string[]): MediaFile => memoryFile(path, Buffer.from('x'));
    expect(() => planIso9660([f('dicomdir')], OPTIONS)).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660([f('DICOM.DIR', 'IM1')], OPTIONS)).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660([f('A'), f('A')], OPTIONS)).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660([f('A'), f('A', 'B')], OPTIONS)).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660([f('A', 'B'), f('A')], OPTIONS)).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660([memoryFile([], Buffer.alloc(0))], OPTIONS)).toThrow(code('ISO9660_NAME'));
  });

  it('checks the identifiers and the recording time', () => {
    const files = [memoryFile(['A'], Buffer.from('x'))];
    expect(() => planIso9660(files, { ...OPTIONS, volumeIdentifier: 'lower' })).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660(files, { ...OPTIONS, volumeIdentifier: 'MY FILESET' })).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660(files, { ...OPTIONS, volumeIdentifier: 'X'.repeat(33) })).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660(files, { ...OPTIONS, volumeIdentifier: 'X'.repeat(32) })).not.toThrow();
    expect(() => planIso9660(files, { ...OPTIONS, volumeIdentifier: 'FILESET   ' })).not.toThrow();
    expect(() => planIso9660(files, { ...OPTIONS, volumeIdentifier: '' })).not.toThrow();
    expect(() => planIso9660(files, { ...OPTIONS, applicationIdentifier: 'dcmsafe' })).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660(files, { ...OPTIONS, publisherIdentifier: '_README' })).toThrow(code('ISO9660_NAME'));
    expect(() => planIso9660(files, { ...OPTIONS, publisherIdentifier: 'HOSPITAL X, RADIOLOGY (2024)' })).not.toThrow();
    expect(() => planIso9660(files, { ...OPTIONS, recordingTime: new Date(NaN) })).toThrow(code('USAGE'));
    expect(() => planIso9660(files, { ...OPTIONS, recordingTime: new Date('1850-01-01T00:00:00Z') })).toThrow(code('USAGE'));
  });
});

describe('ISO 9660 writer: streaming', () => {
  it('opens each file when its extent comes, one at a time, and closes it', async () => {
    const log: string[] = [];
    const files = [tracedFile(['B'], 5000, 5000, log), tracedFile(['A'], 0, 0, log), tracedFile(['D', 'C'], 3, 3, log)];
    const plan = planIso9660(files, OPTIONS);
    expect(log).toEqual([]);
    const it = plan.emit();
    const first = await it.next();
    expect(first.value?.length).toBe(16 * B);
    expect(log).toEqual([]);
    const rest: Buffer[] = [first.value as Buffer];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    // Root's files first (A, then B, §9.3 order), then those of /D.
    expect(log).toEqual(['open A', 'close A', 'open B', 'close B', 'open D/C', 'close D/C']);
    expect(Buffer.concat(rest).length).toBe(plan.size);
  });

  it('fails with INTERNAL when a file yields more or fewer bytes than its size, and still closes it', async () => {
    for (const yields of [4999, 5001, 0]) {
      const log: string[] = [];
      const plan = planIso9660([tracedFile(['A'], 5000, yields, log)], OPTIONS);
      await expect(emitAll(plan)).rejects.toThrow(code('INTERNAL'));
      expect(log).toEqual(['open A', 'close A']);
    }
    const log: string[] = [];
    await expect(emitAll(planIso9660([tracedFile(['E'], 0, 10, log)], OPTIONS))).rejects.toThrow(code('INTERNAL'));
  });

  it('closes the open file when the consumer stops early', async () => {
    const log: string[] = [];
    const plan = planIso9660([tracedFile(['A'], 50_000, 50_000, log)], OPTIONS);
    let n = 0;
    for await (const chunk of plan.emit()) {
      n += chunk.length;
      if (n > 22 * B) break;
    }
    expect(log).toEqual(['open A', 'close A']);
  });

  it('keeps memory flat: 512 MiB of file content streams through', async () => {
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    const sizeOfEach = 128 << 20;
    const files: MediaFile[] = [0, 1, 2, 3].map((i) => ({
      path: [`F${i}`],
      size: sizeOfEach + i, // not a whole number of blocks
      open: () =>
        Promise.resolve({
          stream: (async function* () {
            for (let left = sizeOfEach + i; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
          })(),
          close: () => Promise.resolve(),
        }),
    }));
    const plan = planIso9660(files, OPTIONS);
    const before = process.memoryUsage();
    let peak = 0;
    let total = 0;
    let k = 0;
    for await (const c of plan.emit()) {
      total += c.length;
      if (++k % 64 === 0) {
        const m = process.memoryUsage();
        peak = Math.max(peak, m.heapUsed + m.arrayBuffers - before.heapUsed - before.arrayBuffers);
      }
    }
    expect(total).toBe(plan.size);
    expect(peak).toBeLessThan(64 << 20);
  });
});
