/** write -> read gives the same tree, for random small trees (fast-check); and every image we write passes our checker. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryFile, type MediaFile } from '../../../src/media/media-file.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { checkIso9660 } from '../../../src/media/iso9660/check.js';
import { contentsOf, expectedTree, imageOf, readTree } from './helpers.js';

const D = 'ABCZ019_'.split('');
const dirName = fc.array(fc.constantFrom(...D), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
const fileName = fc
  .tuple(dirName, fc.option(fc.array(fc.constantFrom(...D), { minLength: 1, maxLength: 3 }).map((a) => a.join('')), { nil: undefined }))
  .map(([n, e]) => (e === undefined ? n : `${n}.${e}`));
interface Entry {
  dirs: string[];
  name: string;
  size: number;
  seed: number;
}

const entry: fc.Arbitrary<Entry> = fc.record({
  dirs: fc.array(dirName, { maxLength: 4 }),
  name: fileName,
  size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 }), fc.constantFrom(2047, 2048, 2049, 4096)),
  seed: fc.integer({ min: 0, max: 255 }),
});

/** Keeps the first file of each path and drops files whose path clashes with a directory. */
function consistent(entries: Entry[]): MediaFile[] {
  const files: MediaFile[] = [];
  const filePaths = new Set<string>();
  const dirPaths = new Set<string>();
  for (const e of entries) {
    const path = [...e.dirs, e.name];
    const key = path.join('/');
    const prefixes = e.dirs.map((_, i) => e.dirs.slice(0, i + 1).join('/'));
    if (filePaths.has(key) || dirPaths.has(key) || prefixes.some((p) => filePaths.has(p))) continue;
    filePaths.add(key);
    for (const p of prefixes) dirPaths.add(p);
    files.push(memoryFile(path, Buffer.alloc(e.size, e.seed)));
  }
  return files;
}

describe('ISO 9660 write -> read (fast-check)', () => {
  it('gives back the same tree and bytes, and the image conforms', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 25 }), async (entries) => {
        const files = consistent(entries);
        const image = await imageOf(files);
        expect(await readTree(image)).toEqual(expectedTree(files, await contentsOf(files)));
        expect(await checkIso9660(new BufferReader(image))).toEqual([]);
      }),
      { numRuns: 150, seed: 42 },
    );
  });
});
