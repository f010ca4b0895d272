/**
 * The guarded ZIP reader: name validation (checkEntryName and hand-made ZIPs with traversal names),
 * zip bombs refused from declared sizes and while streaming, Fifield's overlapping entries, damaged
 * and truncated ZIPs, local headers that disagree with the central directory.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { memoryFile } from '../../../src/media/media-file.js';
import { checkEntryName, openZip, planZip, type ZipLimits, type ZipVolume } from '../../../src/media/zip/index.js';
import { tempDir } from '../../helpers/env.js';
import { collect, readAll, signal } from './helpers.js';
import { buildZip, deflatedZeros, localHeader, type RawEntry } from './zip-bytes.js';

const dir = tempDir('dcmsafe-zip-reader-');
let counter = 0;

function zipFile(bytes: Buffer): string {
  const file = path.join(dir, `t${counter++}.zip`);
  writeFileSync(file, bytes);
  return file;
}

async function withZip<T>(bytes: Buffer, body: (v: ZipVolume) => Promise<T>, limits?: ZipLimits): Promise<T> {
  const volume = await openZip(zipFile(bytes), limits);
  try {
    return await body(volume);
  } finally {
    await volume.close();
  }
}

const stored = (name: string | Buffer, data: Buffer, more: Partial<RawEntry> = {}): RawEntry => ({ name, data, ...more });
const deflated = (name: string, content: Buffer, more: Partial<RawEntry> = {}): RawEntry => ({
  name,
  data: zlib.deflateRawSync(content),
  method: 8,
  size: content.length,
  crc: zlib.crc32(content),
  ...more,
});

describe('checkEntryName', () => {
  it('returns the path components of safe names (a trailing "/" marks a folder)', () => {
    expect(checkEntryName('DICOMDIR')).toEqual(['DICOMDIR']);
    expect(checkEntryName('DICOM/PA000001/ST000001/SE000001/IM000001')).toEqual(['DICOM', 'PA000001', 'ST000001', 'SE000001', 'IM000001']);
    expect(checkEntryName('DICOM/')).toEqual(['DICOM']);
    expect(checkEntryName('viewer/app.v2/index.html')).toEqual(['viewer', 'app.v2', 'index.html']);
    expect(checkEntryName('..a/b_c')).toEqual(['..a', 'b_c']);
  });

  const unsafe = [
    '../evil',
    'a/../../b',
    'a/..',
    '..',
    '/abs',
    '/',
    'C:\\x',
    'C:/x',
    'c:x',
    'a\\..\\b',
    'a\\b',
    'x:y',
    'a\0b',
    'a\nb',
    '',
    'a//b',
    './a',
    'a/./b',
    '...',
    'a/. /b',
    'a/b./c',
    'a/b ',
  ];
  for (const name of unsafe) {
    it(`refuses ${JSON.stringify(name)} with ZIP_UNSAFE_NAME`, () => {
      expect(() => checkEntryName(name)).toThrow(expect.objectContaining({ code: 'ZIP_UNSAFE_NAME' }));
    });
  }
});

describe('openZip: names', () => {
  for (const name of ['../evil', '/abs', 'C:\\x', 'a\\..\\b', 'ok/../../x', 'nul\0byte']) {
    it(`refuses an entry named ${JSON.stringify(name)} (hand-made ZIP) with ZIP_UNSAFE_NAME`, async () => {
      const bytes = buildZip([stored('DICOMDIR', Buffer.from('d')), stored(name, Buffer.from('evil'))]);
      await expect(openZip(zipFile(bytes))).rejects.toMatchObject({ code: 'ZIP_UNSAFE_NAME' });
    });
  }

  it('checks the Info-ZIP Unicode Path extra field too (a benign raw name hiding "../evil")', async () => {
    const raw = Buffer.from('benign');
    const unicode = Buffer.from('../evil', 'utf8');
    const field = Buffer.alloc(4 + 5 + unicode.length);
    field.writeUInt16LE(0x7075, 0);
    field.writeUInt16LE(5 + unicode.length, 2);
    field.writeUInt8(1, 4);
    field.writeUInt32LE(zlib.crc32(raw), 5);
    unicode.copy(field, 9);
    const bytes = buildZip([stored(raw, Buffer.from('x'), { centralExtra: field })]);
    await expect(openZip(zipFile(bytes))).rejects.toMatchObject({ code: 'ZIP_UNSAFE_NAME' });
  });

  it('refuses colliding names: duplicates, a file used as a folder, names differing only in case (ZIP_INVALID)', async () => {
    const x = Buffer.from('x');
    for (const names of [
      ['A/B', 'A/B'],
      ['A', 'A/B'],
      ['A/B', 'A'],
      ['A/', 'A'],
      ['IM000001', 'im000001'],
    ]) {
      const bytes = buildZip(names.map((n) => stored(n, n.endsWith('/') ? Buffer.alloc(0) : x)));
      await expect(openZip(zipFile(bytes)), names.join(' ')).rejects.toMatchObject({ code: 'ZIP_INVALID' });
    }
  });

  it('lists folder entries as folders with no content', async () => {
    const bytes = buildZip([stored('DICOM/', Buffer.alloc(0)), stored('DICOM/IM1', Buffer.from('abc'))]);
    await withZip(bytes, async (v) => {
      expect(v.entries.map((e) => [e.path, e.isDirectory])).toEqual([
        [['DICOM'], true],
        [['DICOM', 'IM1'], false],
      ]);
      expect((await collect(await v.openFile(v.entries[0]!))).length).toBe(0);
      expect((await collect(await v.openFile(v.entries[1]!))).toString()).toBe('abc');
    });
  });
});

describe('openZip: zip bombs', () => {
  // 1 GiB of zeros in about 1 MB of deflate: an honest ratio near deflate's maximum (~1030:1).
  const GIB_OF_ZEROS = deflatedZeros(1024);

  it('refuses declared sizes whose ratio is impossible for deflate (4 GB from 10 KB), before reading content', async () => {
    const bytes = buildZip([{ name: 'BOMB', data: GIB_OF_ZEROS.subarray(0, 10_000), method: 8, size: 0xfffffffe, crc: 0 }]);
    await expect(openZip(zipFile(bytes))).rejects.toMatchObject({ code: 'ZIP_BOMB' });
  });

  it('refuses the honest 1 GiB entry under a lower total-size limit or ratio limit', async () => {
    const entry: RawEntry = { name: 'ZEROS', data: GIB_OF_ZEROS, method: 8, size: 2 ** 30, crc: 0 };
    const file = zipFile(buildZip([entry]));
    const volume = await openZip(file); // the defaults let it through: 1 GiB, ratio ~1030
    expect(volume.entries[0]).toMatchObject({ size: 2 ** 30, method: 'deflated' });
    await volume.close();
    await expect(openZip(file, { maxTotalSize: 512 * 2 ** 20 })).rejects.toMatchObject({ code: 'ZIP_BOMB' });
    await expect(openZip(file, { maxRatio: 100 })).rejects.toMatchObject({ code: 'ZIP_BOMB' });
  });

  it('refuses a total of declared sizes beyond the limit, across entries', async () => {
    const entries = [0, 1, 2].map((i) => ({ name: `Z${i}`, data: GIB_OF_ZEROS, method: 8, size: 2 ** 30, crc: 0 }));
    await expect(openZip(zipFile(buildZip(entries)), { maxTotalSize: 2.5 * 2 ** 30 })).rejects.toMatchObject({ code: 'ZIP_BOMB' });
  });

  it('refuses more entries than the limit', async () => {
    const bytes = buildZip(Array.from({ length: 11 }, (_, i) => stored(`F${i}`, Buffer.from('x'))));
    await expect(openZip(zipFile(bytes), { maxEntries: 10 })).rejects.toMatchObject({ code: 'ZIP_BOMB' });
    await withZip(bytes, async (v) => expect(v.entries.length).toBe(11), { maxEntries: 11 });
  });

  it('aborts while streaming when an entry inflates beyond its declared size (1 GiB declared as 1 MiB)', async () => {
    const bytes = buildZip([{ name: 'LIAR', data: GIB_OF_ZEROS, method: 8, size: 2 ** 20, crc: 0 }]);
    await withZip(bytes, async (v) => {
      const started = Date.now();
      let seen = 0;
      const read = async (): Promise<void> => {
        for await (const chunk of await v.openFile(v.entries[0]!)) seen += chunk.length;
      };
      await expect(read()).rejects.toMatchObject({ code: 'ZIP_BOMB' });
      expect(seen).toBeLessThanOrEqual(2 ** 20);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });

  it('refuses overlapping entries: many central entries sharing one local header (Fifield "full overlap")', async () => {
    const kernel = deflated('K', Buffer.alloc(1 << 20));
    const entries: RawEntry[] = [kernel, ...[1, 2, 3].map((i) => ({ ...kernel, name: `K${i}`, noLocal: true, offset: 0 }))];
    await expect(openZip(zipFile(buildZip(entries)))).rejects.toMatchObject({ code: 'ZIP_BOMB' });
  });

  it('refuses overlapping entries: an entry whose data spans the next local header (Fifield "quoted overlap")', async () => {
    const inner = stored('B', Buffer.from('the kernel'));
    const innerBytes = Buffer.concat([localHeader(inner), inner.data]);
    // A's stored data quotes B's local header and data: A's span covers B's header.
    const outer = stored('A', innerBytes);
    const aHeader = localHeader(outer);
    const bytes = buildZip([outer, { ...inner, noLocal: true, offset: aHeader.length }]);
    await expect(openZip(zipFile(bytes))).rejects.toMatchObject({ code: 'ZIP_BOMB' });
  });

  it('refuses, when the file is opened, data that overlaps the next entry once the local extra field is counted', async () => {
    // Only the local header shows the overlap: A's local extra field hides B's local header.
    const b = stored('B', Buffer.from('bee'));
    const bBytes = Buffer.concat([localHeader(b), b.data]);
    const extra = Buffer.concat([Buffer.from([0xfe, 0xca]), Buffer.alloc(2), bBytes]);
    extra.writeUInt16LE(bBytes.length, 2);
    const a = stored('A', Buffer.from('ay'), { localExtra: extra });
    const bOffset = 30 + 1 + 4; // A's header, name, extra field header
    const bytes = buildZip([a, { ...b, noLocal: true, offset: bOffset }]);
    await withZip(bytes, async (v) => {
      const entryA = v.entries.find((e) => e.path[0] === 'A')!;
      await expect(v.openFile(entryA)).rejects.toMatchObject({ code: 'ZIP_BOMB' });
      // B itself is whole and readable.
      expect((await collect(await v.openFile(v.entries.find((e) => e.path[0] === 'B')!))).toString()).toBe('bee');
    });
  });
});

describe('openZip: damaged ZIPs', () => {
  const NOW = new Date('2024-05-06T07:08:10Z');
  async function good(): Promise<Buffer> {
    return collect(
      planZip([memoryFile(['DICOMDIR'], signal(20_000, 1)), memoryFile(['DICOM', 'IM1'], signal(50_000, 2)), memoryFile(['README.TXT'], Buffer.from('hello\n'))], { now: NOW }).emit(),
    );
  }

  it('refuses a truncated ZIP (ZIP_INVALID)', async () => {
    const bytes = await good();
    for (const keep of [0, 10, 1000, bytes.length >> 1, bytes.length - 30, bytes.length - 1]) {
      await expect(openZip(zipFile(bytes.subarray(0, keep))), `first ${keep} bytes`).rejects.toMatchObject({ code: 'ZIP_INVALID' });
    }
  });

  it('refuses a ZIP with bytes cut from the middle (offsets point at the wrong place)', async () => {
    const bytes = await good();
    const cut = Buffer.concat([bytes.subarray(0, 100), bytes.subarray(5000)]);
    await expect(openZip(zipFile(cut))).rejects.toMatchObject({ code: 'ZIP_INVALID' });
  });

  it('refuses what is no ZIP at all, and reports a missing file as IO', async () => {
    await expect(openZip(zipFile(Buffer.from('this is plain text, not a zip file\n'.repeat(10))))).rejects.toMatchObject({ code: 'ZIP_INVALID' });
    await expect(openZip(path.join(dir, 'missing.zip'))).rejects.toMatchObject({ code: 'IO' });
  });

  it('reports damaged content while streaming: bad deflate data, CRC mismatch, too few bytes (ZIP_INVALID)', async () => {
    const content = signal(100_000, 5);
    const flipped = deflated('D', content);
    const middle = flipped.data.length >> 1;
    flipped.data = Buffer.from(flipped.data);
    flipped.data.writeUInt8(flipped.data.readUInt8(middle) ^ 0xff, middle);
    const cases: RawEntry[] = [
      flipped,
      stored('S', content, { crc: (zlib.crc32(content) ^ 1) >>> 0 }),
      deflated('D', content, { size: content.length + 10 }),
    ];
    for (const c of cases) {
      await withZip(buildZip([c]), async (v) => {
        await expect(collect(await v.openFile(v.entries[0]!))).rejects.toMatchObject({ code: 'ZIP_INVALID' });
      });
    }
  });

  it('refuses local headers that disagree with the central directory (name, method)', async () => {
    for (const more of [{ localName: 'OTHER' }, { localName: 'EVIL/../../X' }]) {
      await withZip(buildZip([stored('GOOD', Buffer.from('x'), more)]), async (v) => {
        await expect(v.openFile(v.entries[0]!)).rejects.toMatchObject({ code: 'ZIP_INVALID' });
      });
    }
  });

  it('refuses encrypted entries and compression methods other than stored and deflated', async () => {
    // Traditional PKWARE encryption: a 12-byte header before the data (APPNOTE 6.1).
    const encrypted = stored('E', Buffer.alloc(13), { flags: 1, size: 1 });
    await expect(openZip(zipFile(buildZip([encrypted])))).rejects.toThrow(/encrypted entries are not supported/);
    await expect(openZip(zipFile(buildZip([stored('B', Buffer.from('x'), { method: 12 })])))).rejects.toMatchObject({ code: 'ZIP_INVALID' });
  });

  it('reads our own ZIP whole, and close() ends a half-read stream', async () => {
    const bytes = await good();
    const volume = await openZip(zipFile(bytes));
    const all = await readAll(volume);
    expect([...all.keys()]).toEqual(['DICOMDIR', 'DICOM/IM1', 'README.TXT']);
    const iterator = (await volume.openFile(volume.entries[1]!))[Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    await volume.close();
    await expect(volume.openFile(volume.entries[0]!)).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
