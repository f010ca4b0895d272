/**
 * openMedia on what is not a medium, and on hostile images: not a medium (random bytes, empty file,
 * character device, FIFO) is USAGE, a missing path INPUT_NOT_FOUND, bad limits USAGE; an ISO 9660
 * directory loop, a FAT cross-linked chain, a ZIP with a "../" name or bomb sizes give the readers'
 * own typed errors; the image readers' limits are their typed errors, the file size limit a LIMIT
 * finding.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { openFatImage } from '../../../src/media/fat/reader.js';
import { readDirectoryRecords, readVolumeDescriptorSet } from '../../../src/media/iso9660/reader.js';
import { openMedia } from '../../../src/media/source/index.js';
import { tempDir } from '../../helpers/env.js';
import { buildZip, deflatedZeros, zerosCrc } from '../zip/zip-bytes.js';
import { bytesOf, codeOf, treeContents, writeFat, writeIso, writeZip } from './helpers.js';

const dir = tempDir('dcmsafe-source-hostile-');
const contents = treeContents();
let iso: string;
let fat: string;
let zip: string;
const put = (name: string, bytes: Buffer): string => {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

beforeAll(async () => {
  iso = await writeIso(dir, contents);
  fat = await writeFat(dir, contents);
  zip = await writeZip(dir, contents);
});

describe('not a medium', () => {
  it('random bytes, an empty file, a text file: USAGE', async () => {
    expect(await codeOf(() => openMedia(put('random.bin', bytesOf('r', 100_000))))).toBe('USAGE');
    expect(await codeOf(() => openMedia(put('empty', Buffer.alloc(0))))).toBe('USAGE');
    expect(await codeOf(() => openMedia(put('notes.txt', Buffer.from('hello\n'))))).toBe('USAGE');
    await expect(openMedia(path.join(dir, 'random.bin'))).rejects.toThrow(/not a folder, ISO 9660, FAT or ZIP image/);
  });

  it('a character device or a FIFO: USAGE, without reading (a FIFO would block)', async () => {
    if (process.platform === 'win32') return;
    expect(await codeOf(() => openMedia('/dev/null'))).toBe('USAGE');
    const fifo = path.join(dir, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) expect(await codeOf(() => openMedia(fifo))).toBe('USAGE');
  });

  it('a missing path: INPUT_NOT_FOUND; bad limits: USAGE', async () => {
    expect(await codeOf(() => openMedia(path.join(dir, 'nothing-here')))).toBe('INPUT_NOT_FOUND');
    expect(await codeOf(() => openMedia(iso, { maxEntries: -1 }))).toBe('USAGE');
    expect(await codeOf(() => openMedia(iso, { maxDepth: 1.5 }))).toBe('USAGE');
  });
});

describe('hostile images give the readers’ typed errors', () => {
  it('ISO 9660: a directory pointing back to the root (a loop)', async () => {
    const image = readFileSync(iso);
    const reader = new BufferReader(image);
    const root = (await readVolumeDescriptorSet(reader)).primary.rootDirectoryRecord;
    const records = await readDirectoryRecords(reader, root.location * 2048, root.dataLength, 1000);
    const dicom = records.find((r) => r.record.identifier === 'DICOM');
    if (!dicom) throw new Error('no DICOM record');
    image.writeUInt32LE(root.location, dicom.offset + 2); // location, both-endian (ECMA-119 §9.1.3)
    image.writeUInt32BE(root.location, dicom.offset + 6);
    expect(await codeOf(() => openMedia(put('loop.iso', image)))).toBe('ISO9660_EXTENT');
  });

  it('FAT: two files sharing a cluster chain (cross-linked)', async () => {
    const image = readFileSync(fat);
    const volume = await openFatImage(new BufferReader(image));
    const dicomdir = volume.entries.find((e) => e.path.join('/') === 'DICOMDIR');
    const at = image.indexOf(Buffer.from('README  TXT', 'latin1'));
    if (!dicomdir || at < 0) throw new Error('no DICOMDIR or README.TXT entry');
    image.writeUInt16LE(dicomdir.firstCluster >>> 16, at + 20); // DIR_FstClusHI
    image.writeUInt16LE(dicomdir.firstCluster & 0xffff, at + 26); // DIR_FstClusLO
    expect(await codeOf(() => openMedia(put('cross.img', image)))).toBe('FAT_CHAIN');
  });

  it('ZIP: a "../" name, declared bomb sizes, too many entries', async () => {
    expect(await codeOf(() => openMedia(put('slip.zip', buildZip([{ name: '../evil', data: Buffer.from('x') }]))))).toBe('ZIP_UNSAFE_NAME');
    expect(await codeOf(() => openMedia(put('abs.zip', buildZip([{ name: '/etc/passwd', data: Buffer.from('x') }]))))).toBe('ZIP_UNSAFE_NAME');
    const zeros = deflatedZeros(4);
    // 4 MiB declared as 4 GiB: a ratio no deflate stream reaches.
    const liar = buildZip([{ name: 'A', data: zeros, method: 8, size: 0xfffffff0, crc: zerosCrc(4) }]);
    expect(await codeOf(() => openMedia(put('bomb.zip', liar)))).toBe('ZIP_BOMB');
    expect(await codeOf(() => openMedia(zip, { maxEntries: 3 }))).toBe('ZIP_BOMB');
  });

  it('a truncated ZIP (end record kept) is ZIP_INVALID', async () => {
    const bytes = readFileSync(zip);
    // Cut inside the central directory but keep the end record: offsets now point past the data.
    const eocd = bytes.subarray(bytes.length - 22);
    const cut = Buffer.concat([bytes.subarray(0, Math.floor(bytes.length / 2)), eocd]);
    expect(await codeOf(() => openMedia(put('cut.zip', cut)))).toBe('ZIP_INVALID');
  });

  it('image limits: entries and depth are the readers’ errors; file size is a LIMIT finding', async () => {
    expect(await codeOf(() => openMedia(iso, { maxEntries: 5 }))).toBe('ISO9660_EXTENT');
    expect(await codeOf(() => openMedia(iso, { maxDepth: 3 }))).toBe('ISO9660_EXTENT');
    expect(await codeOf(() => openMedia(fat, { maxEntries: 5 }))).toBe('FAT_INVALID');
    expect(await codeOf(() => openMedia(fat, { maxDepth: 3 }))).toBe('FAT_INVALID');
    for (const p of [iso, fat, zip]) {
      const s = await openMedia(p, { maxFileSize: 65_536 });
      const big = [...contents].filter(([, b]) => b.length > 65_536).map(([k]) => k);
      expect(big.length).toBeGreaterThan(0);
      expect(s.findings.map((f) => [f.code, f.file]).sort()).toEqual(big.map((k) => ['LIMIT', k]).sort());
      expect(s.entries).toHaveLength(contents.size - big.length);
      await s.close();
    }
    const s = await openMedia(zip, { maxDepth: 4 });
    expect(s.findings.length).toBe(8); // DICOM/PA/ST/SE/IM: 5 components
    expect(s.findings.every((f) => f.code === 'LIMIT')).toBe(true);
    await s.close();
  });

  it('a deflated entry whose local header disagrees with the central directory: ZIP_INVALID at open of the reader', async () => {
    const data = Buffer.from('hello hello hello');
    const bytes = buildZip([{ name: 'A', localName: 'B', data: zlib.deflateRawSync(data), method: 8, size: data.length, crc: zlib.crc32(data) }]);
    const s = await openMedia(put('mismatch.zip', bytes));
    const r = await s.open(s.entries[0] as never);
    expect(await codeOf(() => r.read(0, 5))).toBe('ZIP_INVALID');
    await r.close();
    await s.close();
  });
});
