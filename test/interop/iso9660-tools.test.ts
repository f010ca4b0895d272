/**
 * ISO 9660 against tools nobody here wrote. Our images: xorriso (libisofs) lists and media-checks them,
 * isoinfo (cdrkit) shows their descriptors and Level 1 names, 7z extracts them byte for byte, and
 * genisoimage -iso-level 1 on the same tree gives the same directory order. Their images: genisoimage
 * at ISO levels 1-4 with and without Joliet and Rock Ridge, and xorriso, read by our reader exactly as
 * 7z extracts them; our checker finds nothing to say about genisoimage's and xorriso's Level 1 images.
 */
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileReader } from '../../src/media/io/random-access-reader.js';
import type { MediaFile } from '../../src/media/media-file.js';
import { checkIso9660 } from '../../src/media/iso9660/check.js';
import { openIso9660 } from '../../src/media/iso9660/reader.js';
import { planIso9660 } from '../../src/media/iso9660/writer.js';
import { describeWithTools, run, tempDir } from '../helpers/env.js';
import { bytesOf, contentsOf, dicomLikeFiles, expectedTree, multiExtentImage, OPTIONS, readTree } from '../media/iso9660/helpers.js';

type Tree = Map<string, Buffer | 'dir'>;

/** A folder as a tree map, like readTree gives for an image. */
function walk(root: string): Tree {
  const out: Tree = new Map();
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/');
    out.set(rel, e.isDirectory() ? 'dir' : readFileSync(path.join(root, rel)));
  }
  return out;
}

function sorted(tree: Tree): Array<[string, Buffer | 'dir']> {
  return [...tree.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Runs a tool; fails the test with its output when it does not exit 0. */
function tool(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  expect(r.status, `${cmd} ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

function extract7z(image: string, dir: string): Tree {
  tool('7z', ['x', '-y', `-o${dir}`, image]);
  return walk(dir);
}

async function writeImage(files: readonly MediaFile[], out: string): Promise<number> {
  const plan = planIso9660(files, OPTIONS);
  await pipeline(Readable.from(plan.emit()), createWriteStream(out));
  return plan.size;
}

function writeTree(files: ReadonlyMap<string, Buffer>, root: string): void {
  for (const [p, bytes] of files) {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), bytes);
  }
}

const LEVEL1_FILE = /^[A-Z0-9_]{1,8}\.[A-Z0-9_]{0,3};1$/;
const LEVEL1_DIR = /^[A-Z0-9_]{1,8}$/;

describeWithTools(['xorriso', 'isoinfo', '7z', 'genisoimage'], 'ISO 9660 interop (xorriso, isoinfo, 7z, genisoimage)', () => {
  const tmp = tempDir('dcmsafe-iso9660-');
  const image = path.join(tmp, 'ours.iso');
  const files = dicomLikeFiles();
  let contents: Map<string, Buffer>;
  let expected: Tree;
  let size: number;

  beforeAll(async () => {
    contents = await contentsOf(files);
    expected = expectedTree(files, contents);
    size = await writeImage(files, image);
  });

  describe('our image', () => {
    it('xorriso -find / -type f lists exactly our files, without a warning', () => {
      const out = tool('xorriso', ['-return_with', 'WARNING', '32', '-indev', image, '-find', '/', '-type', 'f']);
      const listed = out
        .split('\n')
        .filter((l) => l.startsWith("'"))
        .map((l) => l.slice(2, -1));
      expect(listed.sort()).toEqual(files.map((f) => f.path.join('/')).sort());
    });

    it('xorriso -check_media reads every block of the volume as good', () => {
      const out = tool('xorriso', ['-return_with', 'WARNING', '32', '-indev', image, '-check_media', '--']);
      expect(out).toMatch(new RegExp(`Media region :\\s+0 ,\\s+${size / 2048} , \\+ good`));
      expect(out).not.toMatch(/- (damaged|unreadable|untested)/);
    });

    it('isoinfo -d shows our volume identifier, a blank system identifier, 2048-byte blocks, no Joliet, no Rock Ridge', () => {
      const out = tool('isoinfo', ['-d', '-i', image]);
      expect(out).toContain('CD-ROM is in ISO 9660 format');
      expect(out).toMatch(/^System id: $/m);
      expect(out).toMatch(/^Volume id: DCMSAFE_TEST$/m);
      expect(out).toMatch(/^Application id: DCMSAFE$/m);
      expect(out).toMatch(/^Volume set size is: 1$/m);
      expect(out).toMatch(/^Volume set sequence number is: 1$/m);
      expect(out).toMatch(/^Logical block size is: 2048$/m);
      expect(out).toMatch(new RegExp(`^Volume size is: ${size / 2048}$`, 'm'));
      expect(out).toContain('NO Joliet present');
      expect(out).toContain('NO Rock Ridge present');
    });

    it('isoinfo -f and -l show only Level 1 names: NAME.;1 and 8.3, directories of 8', () => {
      const listed = tool('isoinfo', ['-f', '-i', image]).trim().split('\n');
      const want = [...expected.entries()].map(([p, v]) => (v === 'dir' ? `/${p}` : `/${p}${p.includes('.') ? '' : '.'};1`));
      expect([...listed].sort()).toEqual(want.sort());
      const long = tool('isoinfo', ['-l', '-i', image]);
      const entries = long.split('\n').filter((l) => /^[d-]/.test(l));
      // Every directory, the root included, also lists "." and "..".
      expect(entries.length).toBe(listed.length + 2 * ([...expected.values()].filter((v) => v === 'dir').length + 1));
      for (const line of entries) {
        const name = line.replace(/^.*\]\s+/, '').trimEnd();
        if (name === '.' || name === '..') continue;
        expect(name).toMatch(line.startsWith('d') ? LEVEL1_DIR : LEVEL1_FILE);
      }
      expect(long).toContain('DICOMDIR.;1');
      expect(long).toContain('README.TXT;1');
      expect(long).toContain('IM000001.;1');
    });

    it('7z x extracts a tree byte-identical to the input', () => {
      expect(sorted(extract7z(image, path.join(tmp, 'ours-7z')))).toEqual(sorted(expected));
    });

    it('has the directory order, path table and names genisoimage -iso-level 1 gives the same tree', async () => {
      const src = path.join(tmp, 'src-dicom');
      writeTree(contents, src);
      const theirs = path.join(tmp, 'genisoimage-same.iso');
      tool('genisoimage', ['-quiet', '-iso-level', '1', '-sysid', '', '-V', 'DCMSAFE_TEST', '-o', theirs, src]);
      expect(tool('isoinfo', ['-f', '-i', image])).toBe(tool('isoinfo', ['-f', '-i', theirs]));
      const names = (img: string): string[] =>
        tool('isoinfo', ['-l', '-i', img])
          .split('\n')
          .filter((l) => /^[d-]|^Directory listing/.test(l))
          .map((l) => (l.startsWith('Directory') ? l : `${l.slice(0, 1)} ${l.replace(/^.*\]\s+/, '')}`));
      expect(names(image)).toEqual(names(theirs));
      const a = await FileReader.open(image);
      const b = await FileReader.open(theirs);
      try {
        const [va, vb] = [await openIso9660(a), await openIso9660(b)];
        expect(va.entries.map((e) => [e.path.join('/'), e.size])).toEqual(vb.entries.map((e) => [e.path.join('/'), e.size]));
        // Our checker says the same of both: nothing.
        expect(await checkIso9660(a)).toEqual([]);
        expect(await checkIso9660(b)).toEqual([]);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  describe('their images, read by our reader as 7z extracts them', () => {
    let shortSrc: string;
    let longSrc: string;
    beforeAll(() => {
      shortSrc = path.join(tmp, 'src-short');
      longSrc = path.join(tmp, 'src-long');
      writeTree(contents, shortSrc);
      const long = new Map(contents);
      long.set('LONG_DIRECTORY_NAME/A_LONGER_FILE_NAME.DATA', bytesOf('long', 3000));
      long.set('FILE_WITH_A_LONG_NAME.TXT', Buffer.from('long name\n'));
      long.set('NOEXTENSION_LONGER', bytesOf('noext', 100));
      writeTree(long, longSrc);
    });

    const cases: Array<{ name: string; long: boolean; joliet: boolean; rockRidge: boolean; make: (src: string, out: string) => [string, string[]] }> = [];
    for (const level of [1, 2, 3, 4]) {
      for (const jr of [false, true]) {
        cases.push({
          name: `genisoimage -iso-level ${level}${jr ? ' -J -R' : ''}`,
          long: level > 1,
          joliet: jr,
          rockRidge: jr,
          make: (src, out) => ['genisoimage', ['-quiet', '-iso-level', String(level), ...(jr ? ['-J', '-R'] : []), '-o', out, src]],
        });
      }
    }
    cases.push(
      // xorriso's mkisofs emulation records Rock Ridge whether -R is given or not.
      { name: 'xorriso -as mkisofs', long: false, joliet: false, rockRidge: true, make: (src, out) => ['xorriso', ['-as', 'mkisofs', '-quiet', '-o', out, src]] },
      {
        name: 'xorriso -as mkisofs -iso-level 3 -J -R',
        long: true,
        joliet: true,
        rockRidge: true,
        make: (src, out) => ['xorriso', ['-as', 'mkisofs', '-quiet', '-iso-level', '3', '-J', '-R', '-o', out, src]],
      },
      { name: 'xorriso -outdev -map (native)', long: false, joliet: false, rockRidge: true, make: (src, out) => ['xorriso', ['-outdev', out, '-map', src, '/']] },
    );

    cases.forEach((c, i) => {
      it(c.name, async () => {
        const src = c.long ? longSrc : shortSrc;
        const out = path.join(tmp, `theirs-${i}.iso`);
        const [cmd, args] = c.make(src, out);
        tool(cmd, args);
        const reader = await FileReader.open(out);
        try {
          const volume = await openIso9660(reader);
          expect({ joliet: volume.joliet, rockRidge: volume.rockRidge, level: volume.level }).toEqual({ joliet: c.joliet, rockRidge: c.rockRidge, level: c.long ? 2 : 1 });
          // isoinfo agrees on Joliet and Rock Ridge.
          const d = tool('isoinfo', ['-d', '-i', out]);
          expect(d.includes('NO Joliet present')).toBe(!c.joliet);
          expect(d.includes('NO Rock Ridge present')).toBe(!c.rockRidge);
          const ours = await readTree(reader);
          expect(sorted(ours)).toEqual(sorted(extract7z(out, path.join(tmp, `theirs-${i}-7z`))));
          expect(sorted(ours)).toEqual(sorted(walk(src)));
          if (!c.long && !cmd.startsWith('genisoimage')) expect(await checkIso9660(reader)).toEqual([]);
          if (!c.long && cmd === 'genisoimage') {
            // genisoimage's only departure from PS3.12 F.2: it writes "LINUX" as System Identifier.
            expect(await checkIso9660(reader)).toEqual([{ rule: 'ps3.12', message: 'system identifier "LINUX" is not blank' }]);
          }
        } finally {
          await reader.close();
        }
      });
    });

    it('a hand-built multi-extent (Level 3) image: 7z and isoinfo see one file of three sections, as we do', async () => {
      const { image: multi, big, small } = multiExtentImage();
      const out = path.join(tmp, 'multi.iso');
      writeFileSync(out, multi);
      const extracted = extract7z(out, path.join(tmp, 'multi-7z'));
      expect(extracted.get('BIG.DAT')).toEqual(big);
      expect(extracted.get('SMALL.TXT')).toEqual(small);
      const reader = await FileReader.open(out);
      try {
        expect(sorted(await readTree(reader))).toEqual(sorted(extracted));
      } finally {
        await reader.close();
      }
      const listing = tool('isoinfo', ['-l', '-i', out]);
      expect(listing.split('\n').filter((l) => l.includes('BIG.DAT;1'))).toHaveLength(3);
      const found = tool('xorriso', ['-return_with', 'WARNING', '32', '-indev', out, '-find', '/', '-type', 'f', '-exec', 'lsdl']);
      expect(found).toMatch(new RegExp(`${big.length}\\s.*'/BIG.DAT'`));
    });
  });
});
