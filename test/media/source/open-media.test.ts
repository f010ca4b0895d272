/**
 * openMedia on each kind of medium, made by our own writers from one tree: an ISO 9660 image, a
 * FAT32 image with an MBR and the same volume without it, ZIPs (deflated and stored) and a folder.
 * Each must list exactly the tree's files, depth first, and give back the same bytes; detection must
 * not depend on the file name; labels come through; findings are empty for honest media.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openMedia, sniffImage, type MediaSource } from '../../../src/media/source/index.js';
import { tempDir } from '../../helpers/env.js';
import { isDepthFirst, readSource, treeContents, writeFat, writeFolder, writeIso, writeZip } from './helpers.js';

const dir = tempDir('dcmsafe-source-');
const contents = treeContents();
const files: Record<string, string> = {};

beforeAll(async () => {
  files.iso = await writeIso(dir, contents, 'a');
  files.fat = await writeFat(dir, contents, 'b');
  // The same FAT32 volume without its MBR ("superfloppy"): the partition starts at 1 MiB.
  files.superfloppy = path.join(dir, 'c');
  writeFileSync(files.superfloppy, readFileSync(files.fat).subarray(1 << 20));
  files.zipDeflated = await writeZip(dir, contents, 'always', 'd');
  files.zipStored = await writeZip(dir, contents, 'never', 'e');
  // A ZIP behind a prefix: found by its end record only.
  files.zipPrefixed = path.join(dir, 'f');
  writeFileSync(files.zipPrefixed, Buffer.concat([Buffer.alloc(4096, 0x90), readFileSync(files.zipStored)]));
  files.folder = writeFolder(path.join(dir, 'folder'), contents);
});

async function withSource<T>(p: string, f: (s: MediaSource) => Promise<T>): Promise<T> {
  const s = await openMedia(p);
  try {
    return await f(s);
  } finally {
    await s.close();
  }
}

describe('openMedia', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['iso', 'iso9660', 'DCMSAFE_TEST'],
    ['fat', 'fat', 'DCMSAFE'],
    ['superfloppy', 'fat', 'DCMSAFE'],
    ['zipDeflated', 'zip', undefined],
    ['zipStored', 'zip', undefined],
    ['folder', 'folder', undefined],
  ];
  it.each(cases)('%s: kind %s, label, the same files and bytes, depth first', async (name, kind, label) => {
    await withSource(files[name] as string, async (s) => {
      expect(s.kind).toBe(kind);
      expect(s.label).toBe(label);
      expect(s.path).toBe(path.resolve(files[name] as string));
      expect(s.findings).toEqual([]);
      expect(new Set(s.entries.map((e) => e.path.join('/')))).toEqual(new Set(contents.keys()));
      for (const e of s.entries) expect(e.size, e.path.join('/')).toBe(contents.get(e.path.join('/'))?.length);
      expect(isDepthFirst(s.entries.map((e) => e.path))).toBe(true);
      const got = await readSource(s);
      for (const [p, b] of contents) expect(got.get(p)?.equals(b), p).toBe(true);
    });
  });

  it('a ZIP behind a prefix is found by its end record and goes to the ZIP reader (which wants absolute offsets)', async () => {
    // Self-extracting archives adjust their offsets (zip -A); this one does not, so yauzl finds no
    // central directory where the end record says: a typed ZIP error, not a USAGE one.
    await expect(openMedia(files.zipPrefixed as string)).rejects.toMatchObject({ code: 'ZIP_INVALID' });
  });

  it('the folder lists each folder sorted by name bytes, and the order is stable across openings', async () => {
    const a = await withSource(files.folder as string, async (s) => s.entries.map((e) => e.path.join('/')));
    const b = await withSource(files.folder as string, async (s) => s.entries.map((e) => e.path.join('/')));
    expect(a).toEqual(b);
    expect(a.slice(0, 3)).toEqual(['DICOM/PA000001/ST000001/SE000001/IM000001', 'DICOM/PA000001/ST000001/SE000001/IM000002', 'DICOM/PA000001/ST000002/SE000001/IM000001']);
    expect(a.slice(-2)).toEqual(['DICOMDIR', 'README.TXT']);
  });

  it('opens an entry rebuilt by the caller (same path), refuses one of another medium', async () => {
    await withSource(files.iso as string, async (s) => {
      const r = await s.open({ path: ['README.TXT'], size: 0 });
      expect((await r.read(0, r.size)).equals(contents.get('README.TXT') as Buffer)).toBe(true);
      await r.close();
      await expect(s.open({ path: ['NOPE'], size: 1 })).rejects.toMatchObject({ code: 'INTERNAL' });
    });
  });

  it('reads nothing more once closed', async () => {
    for (const name of ['iso', 'zipDeflated', 'folder']) {
      const s = await openMedia(files[name] as string);
      const e = s.entries[0];
      await s.close();
      await s.close(); // twice is harmless
      await expect(s.open(e as never), name).rejects.toMatchObject({ code: 'INTERNAL' });
    }
  });

  it('sniffs by content: ISO first, then ZIP local header, FAT, ZIP end record', async () => {
    const kinds: Record<string, string | undefined> = {};
    for (const [name, p] of Object.entries(files)) {
      if (name === 'folder') continue;
      const bytes = readFileSync(p);
      kinds[name] = await sniffImage((at, n) => Promise.resolve(bytes.subarray(at, at + n)), bytes.length);
    }
    expect(kinds).toEqual({ iso: 'iso9660', fat: 'fat', superfloppy: 'fat', zipDeflated: 'zip', zipStored: 'zip', zipPrefixed: 'zip' });
    // An empty ZIP is nothing but its end record.
    const empty = Buffer.alloc(22);
    empty.writeUInt32LE(0x06054b50, 0);
    expect(await sniffImage((at, n) => Promise.resolve(empty.subarray(at, at + n)), empty.length)).toBe('zip');
    // Without a size (a device), the end record is not looked for.
    expect(await sniffImage((at, n) => Promise.resolve(empty.subarray(at, at + n)), undefined)).toBeUndefined();
  });
});
