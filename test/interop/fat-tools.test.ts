/**
 * FAT images checked by tools nobody here wrote (dosfstools 4.2, mtools 4.0):
 * - images dcmsafe writes: `fsck.fat -n -V` on the partition (fsck.fat has no offset option, so the
 *   partition is cut out with dd at the offset the MBR gives) reports no error, `mdir -/ -b` lists
 *   exactly our files, `mcopy -s` extracts a byte-identical tree, `minfo` shows FAT32 and our label;
 * - images mkfs.fat and mcopy make (FAT12/16/32, superfloppy or partitioned, long names, a file
 *   fragmented over freed clusters): our reader gives the same tree and bytes as mcopy's extraction.
 */
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileReader } from '../../src/media/io/random-access-reader.js';
import { encodeMbr } from '../../src/media/fat/mbr.js';
import { openFatImage, type FatVolume } from '../../src/media/fat/reader.js';
import { planFat32Image } from '../../src/media/fat/writer.js';
import { chainRunCount, contentSlice, expectedDigest, fileSetTree, generatedFile, readAll, writeSparse, type GeneratedFile } from '../media/fat/fat-helpers.js';
import { describeWithTools, run, tempDir } from '../helpers/env.js';

const NOW = new Date('2024-05-06T07:08:09Z');
/** mtools converts long names with the locale's character set. */
const TOOL_ENV = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

function tool(cmd: string, args: string[], okStatus = 0): string {
  const r = run(cmd, args, { env: TOOL_ENV });
  expect(r.status, `${cmd} ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(okStatus);
  return r.stdout;
}

/** Every file (path → SHA-256) and folder (path + "/" → "") under `root`. */
function hostTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir)) {
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(abs).isDirectory()) {
        out.set(`${r}/`, '');
        walk(abs, r);
      } else out.set(r, createHash('sha256').update(readFileSync(abs)).digest('hex'));
    }
  };
  walk(root, '');
  return out;
}

/** The same map from our reader. */
async function volumeTree(vol: FatVolume): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of vol.entries) {
    const p = e.path.join('/');
    if (e.isDirectory) out.set(`${p}/`, '');
    else out.set(p, createHash('sha256').update(await readAll(vol.openFile(e), 1 << 20)).digest('hex'));
  }
  return out;
}

function sorted(m: Map<string, string>): Array<[string, string]> {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The first partition's byte offset, read from the MBR (no sfdisk here: entry 1 at 446, start LBA at 454). */
function partitionOffset(image: string): number {
  const b = Buffer.alloc(512);
  const fd = openSync(image, 'r');
  try {
    readSync(fd, b, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  expect(b.readUInt16LE(510)).toBe(0xaa55);
  return b.readUInt32LE(454) * 512;
}

/** What our files should look like on the volume: paths → digests, with every folder. */
function expectedTree(files: readonly GeneratedFile[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of files) {
    for (let i = 1; i < f.path.length; i++) out.set(`${f.path.slice(0, i).join('/')}/`, '');
    out.set(f.path.join('/'), expectedDigest(f));
  }
  return out;
}

describeWithTools(['fsck.fat', 'mkfs.fat', 'mdir', 'mcopy', 'mdel', 'minfo', 'dd'], 'FAT images and the dosfstools/mtools reference tools', () => {
  const tmp = tempDir('dcmsafe-fat-');

  // Two images of ours: the default size (512-byte clusters) and 300 MiB (4 KiB clusters), both sparse on disk.
  for (const variant of [
    { name: 'default size', size: undefined, label: 'DCMSAFE', clusterBytes: 512 },
    { name: '300 MiB', size: 300 << 20, label: 'FILESET_01', clusterBytes: 4096 },
  ]) {
    describe(`a File-set image written by dcmsafe (${variant.name})`, () => {
      const image = path.join(tmp, `ours-${variant.clusterBytes}.img`);
      const files = [...fileSetTree(1), generatedFile(['DICOM', 'EMPTY'], 0, 99)];
      let offset = 0;
      let spec = '';

      beforeAll(async () => {
        const plan = planFat32Image(files, { volumeLabel: variant.label, now: NOW, size: variant.size });
        expect(await writeSparse(plan, image)).toBe(plan.size);
        expect(statSync(image).size).toBe(plan.size);
        offset = partitionOffset(image);
        expect(offset).toBe(1 << 20);
        spec = `${image}@@${offset}`;
      });

      it('passes fsck.fat -n -V on the partition with no error', () => {
        const part = path.join(tmp, `part-${variant.clusterBytes}.img`);
        tool('dd', [`if=${image}`, `of=${part}`, 'bs=1M', `skip=${offset >> 20}`, 'conv=sparse', 'status=none']);
        const out = tool('fsck.fat', ['-n', '-V', part]);
        const lines = out.trim().split('\n');
        const unexpected = lines.filter((l) => !/^fsck\.fat \d|^Starting (check\/repair|verification) pass\.$|: \d+ files, \d+\/\d+ clusters$/.test(l));
        expect(unexpected, out).toEqual([]);
        const dirs = [...expectedTree(files).keys()].filter((k) => k.endsWith('/')).length;
        // fsck.fat counts the volume label entry as a file.
        expect(lines[lines.length - 1]).toMatch(new RegExp(`: ${files.length + dirs + 1} files, \\d+/\\d+ clusters$`));
        // Control: fsck.fat does check what we claim (a wrong FSInfo free count is reported).
        const fd = openSync(part, 'r+');
        const b = Buffer.alloc(4);
        readSync(fd, b, 0, 4, 512 + 488);
        b.writeUInt32LE(b.readUInt32LE(0) - 1, 0);
        writeSync(fd, b, 0, 4, 512 + 488);
        closeSync(fd);
        const bad = run('fsck.fat', ['-n', part], { env: TOOL_ENV });
        expect(bad.status).not.toBe(0);
        expect(bad.stdout + bad.stderr).toMatch(/[Ff]ree cluster summary wrong/);
      });

      it('is listed by mdir with exactly our files and folders', () => {
        const out = tool('mdir', ['-i', spec, '-/', '-b', '::']);
        const listed = out
          .trim()
          .split('\n')
          .map((l) => l.replace(/^::\//, ''))
          .sort();
        expect(listed).toEqual([...expectedTree(files).keys()].sort());
      });

      it('is extracted by mcopy -s into a byte-identical tree', () => {
        const dest = path.join(tmp, `mcopy-${variant.clusterBytes}`);
        mkdirSync(dest);
        tool('mcopy', ['-i', spec, '-s', '-n', '::/', dest]);
        expect(sorted(hostTree(dest))).toEqual(sorted(expectedTree(files)));
      });

      it('is FAT32 with our label and cluster size according to minfo', () => {
        const out = tool('minfo', ['-i', spec, '::']);
        expect(out).toContain('disk type="FAT32   "');
        expect(out).toContain(`disk label="${variant.label.padEnd(11, ' ')}"`);
        expect(out).toContain(`cluster size: ${variant.clusterBytes / 512} sectors`);
        expect(out).toContain('hidden sectors: 2048');
      });

      it('is read back by our reader as written', async () => {
        const reader = await FileReader.open(image);
        try {
          const vol = await openFatImage(reader);
          expect(vol.label).toBe(variant.label);
          expect(sorted(await volumeTree(vol))).toEqual(sorted(expectedTree(files)));
          for (const e of vol.entries) if (e.firstCluster !== 0) expect(await chainRunCount(reader, offset, e.firstCluster)).toBe(1); // contiguous
        } finally {
          await reader.close();
        }
      });
    });
  }

  // Images of mkfs.fat + mcopy, read by our reader and compared with mcopy's own extraction.
  const source = path.join(tmp, 'source');
  beforeAll(() => {
    const put = (rel: string, bytes: Buffer): void => {
      mkdirSync(path.dirname(path.join(source, rel)), { recursive: true });
      writeFileSync(path.join(source, rel), bytes);
    };
    put('Long File Name.txt', Buffer.from('long names are assembled\n'));
    put('lower.txt', Buffer.from('lower-case 8.3 name (DIR_NTRes flags)\n'));
    put('UPPER.TXT', Buffer.from('upper\n'));
    put('MixedCase.Dat', contentSlice(1, 0, 3000));
    put('empty.dat', Buffer.alloc(0));
    put('a.b.c.d', Buffer.from('several dots\n'));
    put('ÜnÏ.txt', Buffer.from('code page 850 short name\n'));
    put('sub dir/deeper/A much longer name than 8.3 allows.bin', contentSlice(2, 0, 200_000));
    for (let i = 1; i <= 120; i++) put(`many/file number ${String(i).padStart(3, '0')}.dcm`, contentSlice(100 + i, 0, 1000 + i * 97));
    put('big.bin', contentSlice(3, 0, 3_000_000));
  });

  for (const v of [
    { fat: 12, kib: 4096, partitioned: false },
    { fat: 16, kib: 40960, partitioned: false },
    { fat: 16, kib: 40960, partitioned: true },
    { fat: 32, kib: 40960, partitioned: false },
    { fat: 32, kib: 40960, partitioned: true },
  ]) {
    const name = `FAT${v.fat} ${v.partitioned ? 'partitioned (MBR, partition at 1 MiB)' : 'superfloppy'}`;
    it(`reads a ${name} image made by mkfs.fat and mcopy like mcopy extracts it`, async () => {
      const image = path.join(tmp, `mkfs-${v.fat}-${v.partitioned ? 'p' : 's'}.img`);
      const label = `MKFS${v.fat}`;
      let spec = image;
      if (v.partitioned) {
        const fd = openSync(image, 'w');
        ftruncateSync(fd, (2048 + v.kib * 2) * 512);
        writeSync(fd, encodeMbr({ type: v.fat === 32 ? 0x0c : 0x06, startLba: 2048, sectors: v.kib * 2 }, 0x5eed));
        closeSync(fd);
        tool('mkfs.fat', ['-F', String(v.fat), '--offset', '2048', '-h', '2048', '-n', label, '-i', '12345678', image, String(v.kib)]);
        spec = `${image}@@1M`;
      } else {
        tool('mkfs.fat', ['-C', '-F', String(v.fat), '-n', label, '-i', '12345678', image, String(v.kib)]);
      }
      const sub = v.fat === 12 ? ['Long File Name.txt', 'lower.txt', 'UPPER.TXT', 'MixedCase.Dat', 'empty.dat', 'a.b.c.d', 'ÜnÏ.txt', 'sub dir'] : readdirSync(source);
      tool('mcopy', ['-i', spec, '-s', ...sub.map((s) => path.join(source, s)), '::/']);
      if (v.fat !== 12) {
        // Free clusters in the middle, then a file bigger than the free space after them: mtools fills
        // the end of the volume and wraps around into the holes, a fragmented chain.
        tool('mdel', ['-i', spec, '::/many/file number 010.dcm', '::/many/file number 050.dcm', '::/many/file number 090.dcm']);
        const free = Number(/([\d ]+) bytes free/.exec(tool('mdir', ['-i', spec, '::']))?.[1]?.replace(/ /g, ''));
        expect(free).toBeGreaterThan(1 << 20);
        const frag = path.join(tmp, `frag-${v.fat}.bin`);
        writeFileSync(frag, contentSlice(4, 0, free - 8192));
        tool('mcopy', ['-i', spec, frag, '::/fragmented.bin']);
      }
      const dest = path.join(tmp, `extract-${v.fat}-${v.partitioned ? 'p' : 's'}`);
      mkdirSync(dest);
      tool('mcopy', ['-i', spec, '-s', '-n', '::/', dest]);
      const expected = hostTree(dest);
      expect(expected.has('sub dir/deeper/A much longer name than 8.3 allows.bin')).toBe(true);

      const reader = await FileReader.open(image);
      try {
        const vol = await openFatImage(reader);
        expect(vol.fatType).toBe(`FAT${v.fat}`);
        expect(vol.label).toBe(label);
        expect(vol.partitionOffset).toBe(v.partitioned ? 1 << 20 : 0);
        expect(sorted(await volumeTree(vol))).toEqual(sorted(expected));
        if (v.fat !== 12) {
          const frag = vol.entries.find((e) => e.path.join('/') === 'fragmented.bin');
          expect(frag?.shortName).toBe('FRAGME~1.BIN');
          expect(await chainRunCount(reader, vol.partitionOffset, frag?.firstCluster ?? 0)).toBeGreaterThan(1);
        }
      } finally {
        await reader.close();
      }
    });
  }
});
