/**
 * Media images checked by the reference tools (PS3.12): ISO 9660 discs by xorriso, isoinfo and 7z;
 * FAT32 USB images by fsck.fat and mtools; ZIPs by unzip and 7z. Each must hold exactly the files of
 * `--media folder` output for the same inputs, byte for byte, and the DICOMDIR on it must pass dciodvfy.
 * Split discs are each checked on their own; a mounted stick is stood in for by a plain folder.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, CORPUS_FOLDERS, describeWithTools, REPO, run, tempDir } from '../helpers/env.js';
import { treeDigest } from '../helpers/files.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const env = { ...process.env, SOURCE_DATE_EPOCH: '1767225600', DCMSAFE_INSECURE_TEST_SEED: '1' };

function dcmsafe(args: string[]) {
  const r = run(process.execPath, [CLI, ...args], { env });
  return r;
}


function dciodvfyErrors(dicomdir: string): string[] {
  const r = run('dciodvfy', [dicomdir]);
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
}

/** Start of the first partition of an MBR disk image, in bytes (entry 1 at byte 446, start LBA at 454). */
function partitionOffset(img: string): number {
  const mbr = readFileSync(img).subarray(0, 512);
  return mbr.readUInt32LE(454) * 512;
}

interface Variant {
  name: string;
  inputs: () => string[];
  extra: string[];
  secure: boolean;
}

let samples = '';
let pki = '';
const variants: Variant[] = [
  { name: 'samples, plain', inputs: () => [samples], extra: [], secure: false },
  { name: 'samples, secure', inputs: () => [samples], extra: ['--seed', 's'], secure: true },
  { name: 'corpus, plain', inputs: () => CORPUS_FOLDERS.map((f) => path.join(CORPUS, f)), extra: [], secure: false },
  { name: 'corpus, secure', inputs: () => CORPUS_FOLDERS.map((f) => path.join(CORPUS, f)), extra: ['--seed', 's'], secure: true },
];

describeWithTools(['xorriso', 'isoinfo', '7z', 'fsck.fat', 'mdir', 'mcopy', 'unzip', 'dciodvfy'], 'media images read by the reference tools', () => {
  const tmp = tempDir();
  beforeAll(() => {
    samples = path.join(tmp, 'samples');
    pki = path.join(tmp, 'pki');
    expect(dcmsafe(['samples', '--out', samples]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
  });

  for (const v of variants) {
    describe(v.name, () => {
      const dir = path.join(tmp, v.name.replace(/\W+/g, '-'));
      let folder: Record<string, string>;
      // A USB stick defaults to STD-GEN-USB-JPEG, a folder to STD-GEN-CD: compare like with like.
      let usbFolder: Record<string, string>;
      const create = (media: string, out: string, more: string[] = []): void => {
        const security = v.secure ? ['--recipient', path.join(pki, 'media-recipient.pem'), '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key')] : [];
        const r = dcmsafe(['create', ...v.inputs(), '--media', media, '--out', out, ...v.extra, ...security, ...more]);
        expect(r.status, r.stderr).toBe(0);
      };

      beforeAll(() => {
        mkdirSync(dir);
        create('folder', path.join(dir, 'folder'));
        folder = treeDigest(path.join(dir, 'folder'));
        create('folder', path.join(dir, 'usb-folder'), ['--profile', 'STD-GEN-USB-JPEG']);
        usbFolder = treeDigest(path.join(dir, 'usb-folder'));
      }, 600_000);

      it('ISO 9660: xorriso lists the files, isoinfo shows the File-set ID and Level 1 names, 7z extracts the same tree', () => {
        const iso = path.join(dir, 'disc.iso');
        create('cd', iso);
        const listed = run('xorriso', ['-indev', iso, '-find', '/', '-type', 'f']);
        expect(listed.status, listed.stderr).toBe(0);
        const names = listed.stdout
          .split('\n')
          .filter((l) => l.startsWith("'/"))
          .map((l) => l.slice(2, -1))
          .sort();
        expect(names).toEqual(Object.keys(folder).sort());
        const d = run('isoinfo', ['-d', '-i', iso]);
        expect(d.stdout).toMatch(/Volume id: DCMSAFE\s*$/m);
        const l = run('isoinfo', ['-l', '-i', iso]);
        const fileNames = l.stdout.split('\n').filter((x) => /;1\s*$/.test(x)).map((x) => x.trim().split(/\s+/).pop() as string);
        expect(fileNames.length).toBe(Object.keys(folder).length);
        for (const n of fileNames) expect(n, n).toMatch(/^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3})?;1$/);
        const x = path.join(dir, 'iso-x');
        expect(run('7z', ['x', `-o${x}`, iso]).status).toBe(0);
        expect(treeDigest(x)).toEqual(folder);
        if (!v.secure) expect(dciodvfyErrors(path.join(x, 'DICOMDIR'))).toEqual([]);
      });

      it('USB image: fsck.fat finds no errors, mtools lists and extracts the same files', () => {
        const img = path.join(dir, 'stick.img');
        create('usb', img);
        const offset = partitionOffset(img);
        const part = path.join(dir, 'partition.img');
        expect(run('dd', [`if=${img}`, `of=${part}`, `bs=512`, `skip=${offset / 512}`, 'status=none']).status).toBe(0);
        const fsck = run('fsck.fat', ['-n', part]);
        expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
        const x = path.join(dir, 'usb-x');
        mkdirSync(x);
        const copy = run('mcopy', ['-s', '-n', '-i', `${img}@@${offset}`, '::/*', x], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
        expect(copy.status, copy.stderr).toBe(0);
        expect(treeDigest(x)).toEqual(usbFolder);
      });

      it('ZIP: unzip -t and 7z t pass, extraction is identical', () => {
        const zip = path.join(dir, 'media.zip');
        create('zip', zip);
        expect(run('unzip', ['-t', zip]).status).toBe(0);
        expect(run('7z', ['t', zip]).status).toBe(0);
        const x = path.join(dir, 'zip-x');
        expect(run('unzip', ['-q', zip, '-d', x]).status).toBe(0);
        expect(treeDigest(x)).toEqual(folder);
      });

      it('mounted stick: a folder standing in for the mount gets the same files, and a second run is refused', () => {
        const stick = path.join(dir, 'stick');
        mkdirSync(stick);
        create('usb', stick);
        expect(treeDigest(stick)).toEqual(usbFolder);
        const again = dcmsafe(['create', ...v.inputs(), '--media', 'usb', '--out', stick, ...(v.secure ? [] : [])]);
        expect(again.status).toBe(2);
        expect(again.stderr).toContain('USB_HAS_FILESET');
      });
    });
  }

  it('splits input larger than the medium into complete discs, each passing the checks', () => {
    const dir = path.join(tmp, 'split');
    mkdirSync(dir);
    const iso = path.join(dir, 'corpus.iso');
    const r = dcmsafe(['create', ...CORPUS_FOLDERS.map((f) => path.join(CORPUS, f)), '--media', 'cd', '--out', iso, '--capacity', '12000000', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { volumes: Array<{ output: string; fileSetId: string; instances: number; studies: string[] }>; counts: { instances: number } };
    expect(s.volumes.length).toBeGreaterThan(1);
    expect(s.volumes.reduce((n, v) => n + v.instances, 0)).toBe(s.counts.instances);
    for (const [i, v] of s.volumes.entries()) {
      expect(v.output).toBe(path.join(dir, `corpus-${i + 1}.iso`));
      expect(statSync(v.output).size).toBeLessThanOrEqual(12000000);
      const x = path.join(dir, `x${i}`);
      expect(run('7z', ['x', `-o${x}`, v.output]).status).toBe(0);
      const listed = run('xorriso', ['-indev', v.output, '-find', '/', '-type', 'f']).stdout.split('\n').filter((l) => l.startsWith("'/")).map((l) => l.slice(2, -1)).sort();
      expect(listed).toEqual(Object.keys(treeDigest(x)).sort());
      expect(dciodvfyErrors(path.join(x, 'DICOMDIR'))).toEqual([]);
      expect(run('isoinfo', ['-d', '-i', v.output]).stdout).toContain(`Volume id: ${v.fileSetId}`);
    }
  });

  it('writes byte-identical images for the same inputs and clock, and the label or letter on request', () => {
    const dir = path.join(tmp, 'repeat');
    mkdirSync(dir);
    const digests = ['a.iso', 'b.iso'].map((name) => {
      const out = path.join(dir, name);
      expect(dcmsafe(['create', samples, '--media', 'cd', '--out', out]).status).toBe(0);
      return createHash('sha256').update(readFileSync(out)).digest('hex');
    });
    expect(digests[1]).toBe(digests[0]);
    const label = path.join(dir, 'label.txt');
    expect(dcmsafe(['create', samples, '--media', 'cd', '--out', path.join(dir, 'c.iso'), '--institution', 'St. Elsewhere', '--manifest', label]).status).toBe(0);
    const text = readFileSync(label, 'utf8');
    expect(text).toContain('DICOM ONLY');
    expect(text).toContain('St. Elsewhere');
    expect(text).toContain('Jürgen Müller');
    const letter = path.join(dir, 'letter.txt');
    const r = dcmsafe(['create', samples, '--media', 'zip', '--out', path.join(dir, 'd.zip'), '--generate-password', '--manifest', letter, '--manifest-include-password', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const password = (JSON.parse(r.stdout) as { generatedPassword: string }).generatedPassword;
    const letterText = readFileSync(letter, 'utf8');
    expect(letterText).toContain(`Password: ${password}`);
    expect(letterText).not.toContain('Müller');
  });
});
