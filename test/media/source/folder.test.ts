/**
 * A folder medium is hostile: links (inside or outside the root, to files or folders, dangling) are
 * findings and never followed; FIFOs are skipped without blocking; names that are not UTF-8 or hold
 * control characters are listed and open; limits end the walk with LIMIT findings; and a file swapped
 * after listing (for a link, for another file, for a FIFO, or under a folder swapped for a link) is
 * refused at open.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openMedia } from '../../../src/media/source/index.js';
import { tempDir } from '../../helpers/env.js';
import { codeOf } from './helpers.js';

const base = tempDir('dcmsafe-source-folder-');
let n = 0;
/** A fresh medium folder with a few files, and a secret file outside it. */
function medium(): { root: string; secret: string } {
  const root = path.join(base, `m${n++}`);
  mkdirSync(path.join(root, 'DICOM', 'PA1'), { recursive: true });
  writeFileSync(path.join(root, 'DICOMDIR'), 'dicomdir');
  writeFileSync(path.join(root, 'DICOM', 'PA1', 'IM1'), 'image one');
  writeFileSync(path.join(root, 'DICOM', 'PA1', 'IM2'), 'image two');
  const secret = path.join(base, `secret${n}`);
  writeFileSync(secret, 'outside the medium');
  return { root, secret };
}

const posix = process.platform !== 'win32';

describe.runIf(posix)('folder media', () => {
  it('links inside and outside the root, to files and folders, and dangling: findings, never listed or followed', async () => {
    const { root, secret } = medium();
    symlinkSync(secret, path.join(root, 'OUT'));
    symlinkSync(path.join(root, 'DICOMDIR'), path.join(root, 'IN'));
    symlinkSync('PA1', path.join(root, 'DICOM', 'LOOP'));
    symlinkSync('..', path.join(root, 'DICOM', 'PA1', 'UP'));
    symlinkSync('/nonexistent/x', path.join(root, 'DANGLING'));
    symlinkSync(base, path.join(root, 'OUTDIR'));
    const s = await openMedia(root);
    expect(s.entries.map((e) => e.path.join('/'))).toEqual(['DICOM/PA1/IM1', 'DICOM/PA1/IM2', 'DICOMDIR']);
    const links = s.findings.filter((f) => f.code === 'SYMLINK_NOT_FOLLOWED').map((f) => f.file);
    expect(links.sort()).toEqual(['DANGLING', 'DICOM/LOOP', 'DICOM/PA1/UP', 'IN', 'OUT', 'OUTDIR']);
    expect(s.findings.find((f) => f.file === 'OUT')?.message).toContain(JSON.stringify(secret));
    expect(s.findings).toHaveLength(6);
    await s.close();
  });

  it('a FIFO is skipped (MEDIA_UNREADABLE) without blocking', async () => {
    const { root } = medium();
    const made = spawnSync('mkfifo', [path.join(root, 'PIPE')]);
    if (made.status !== 0) return; // no mkfifo here
    const s = await openMedia(root);
    expect(s.findings).toEqual([{ code: 'MEDIA_UNREADABLE', message: expect.stringContaining('FIFO') as unknown as string, file: 'PIPE' }]);
    expect(s.entries).toHaveLength(3);
  });

  it('names that are not UTF-8 or hold control characters are listed, and open the file they name', async () => {
    const { root } = medium();
    const bad = Buffer.concat([Buffer.from(root), Buffer.from('/A\xff\xfeB', 'latin1')]);
    const bad2 = Buffer.concat([Buffer.from(root), Buffer.from('/A\xfd\xfeB', 'latin1')]); // displays the same as `bad`
    const ctl = path.join(root, 'x\u0001\u001by\nz');
    try {
      writeFileSync(bad, 'not utf-8');
      writeFileSync(bad2, 'not utf-8 either');
      writeFileSync(ctl, 'control');
    } catch {
      return; // a file system that refuses such names
    }
    const s = await openMedia(root);
    const odd = s.entries.filter((e) => e.path[0] !== 'DICOM' && e.path[0] !== 'DICOMDIR');
    expect(odd.map((e) => e.path)).toEqual([['A\ufffd\ufffdB'], ['A\ufffd\ufffdB'], ['x\u0001\u001by\nz']]);
    const texts: string[] = [];
    for (const e of odd) {
      const r = await s.open(e);
      texts.push((await r.read(0, r.size)).toString());
      await r.close();
    }
    // Sorted by bytes: 0xFD before 0xFF.
    expect(texts).toEqual(['not utf-8 either', 'not utf-8', 'control']);
  });

  it('limits: too many items, too deep, too large a file: LIMIT findings, the walk stops, nothing throws', async () => {
    const { root } = medium();
    const many = await openMedia(root, { maxEntries: 3 });
    expect(many.findings.map((f) => f.code)).toEqual(['LIMIT']);
    expect(many.entries.length).toBeLessThan(3);

    const deep = path.join(root, 'D1', 'D2', 'D3', 'D4');
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(deep, 'F'), 'deep');
    const shallow = await openMedia(root, { maxDepth: 4 });
    expect(shallow.findings).toEqual([{ code: 'LIMIT', message: expect.stringContaining('deeper than 4') as unknown as string, file: 'D1/D2/D3/D4/F' }]);
    expect(shallow.entries.map((e) => e.path.join('/'))).toEqual([]); // "D1" sorts before "DICOM": the walk stopped there
    const all = await openMedia(root, { maxDepth: 5 });
    expect(all.findings).toEqual([]);
    expect(all.entries.map((e) => e.path.join('/'))).toContain('D1/D2/D3/D4/F');

    const small = await openMedia(root, { maxFileSize: 8 });
    expect(small.findings.map((f) => [f.code, f.file])).toEqual([
      ['LIMIT', 'DICOM/PA1/IM1'],
      ['LIMIT', 'DICOM/PA1/IM2'],
    ]);
    expect(small.entries.map((e) => e.path.join('/'))).toEqual(['D1/D2/D3/D4/F', 'DICOMDIR']);
  });

  it('a file swapped for a link after listing is refused at open, wherever the link points', async () => {
    const { root, secret } = medium();
    const s = await openMedia(root);
    const im1 = s.entries.find((e) => e.path.join('/') === 'DICOM/PA1/IM1');
    const im2 = s.entries.find((e) => e.path.join('/') === 'DICOM/PA1/IM2');
    unlinkSync(path.join(root, 'DICOM', 'PA1', 'IM1'));
    symlinkSync(secret, path.join(root, 'DICOM', 'PA1', 'IM1'));
    await expect(s.open(im1 as never)).rejects.toMatchObject({ code: 'IO' });
    // Even a link to a file of the medium with the right size is refused.
    unlinkSync(path.join(root, 'DICOM', 'PA1', 'IM2'));
    writeFileSync(path.join(root, 'DICOM', 'PA1', 'IM2.REAL'), 'image two');
    symlinkSync('IM2.REAL', path.join(root, 'DICOM', 'PA1', 'IM2'));
    await expect(s.open(im2 as never)).rejects.toMatchObject({ code: 'IO' });
    // The listed DICOMDIR still opens.
    const r = await s.open(s.entries.find((e) => e.path[0] === 'DICOMDIR') as never);
    expect((await r.read(0, 100)).toString()).toBe('dicomdir');
    await r.close();
  });

  it('a folder on the path swapped for a link (to a copy outside) is refused at open', async () => {
    const { root } = medium();
    const s = await openMedia(root);
    const im1 = s.entries.find((e) => e.path.join('/') === 'DICOM/PA1/IM1');
    const outside = path.join(base, `copy${n++}`);
    renameSync(path.join(root, 'DICOM', 'PA1'), outside);
    writeFileSync(path.join(outside, 'IM1'), 'image one'); // a new file, same size, outside the medium
    symlinkSync(outside, path.join(root, 'DICOM', 'PA1'));
    expect(readFileSync(path.join(root, 'DICOM', 'PA1', 'IM1'), 'utf8')).toBe('image one'); // the OS would follow it
    await expect(s.open(im1 as never)).rejects.toMatchObject({ code: 'IO' });
  });

  it('a file replaced by another file, by a FIFO, changed in size, or removed: refused, never blocking', async () => {
    const { root } = medium();
    const s = await openMedia(root);
    const entry = (p: string): never => s.entries.find((e) => e.path.join('/') === p) as never;
    const im1 = path.join(root, 'DICOM', 'PA1', 'IM1');
    renameSync(im1, `${im1}.OLD`); // kept, so that its inode number is not reused at once
    writeFileSync(im1, 'image one'); // same name and size, another inode
    expect(await codeOf(() => s.open(entry('DICOM/PA1/IM1')))).toBe('IO');
    const im2 = path.join(root, 'DICOM', 'PA1', 'IM2');
    rmSync(im2);
    if (spawnSync('mkfifo', [im2]).status === 0) expect(await codeOf(() => s.open(entry('DICOM/PA1/IM2')))).toBe('IO');
    writeFileSync(path.join(root, 'DICOMDIR'), 'dicomdir, longer now'); // same inode, new size
    expect(await codeOf(() => s.open(entry('DICOMDIR')))).toBe('IO');
    rmSync(path.join(root, 'DICOMDIR'));
    expect(await codeOf(() => s.open(entry('DICOMDIR')))).toBe('IO');
  });

  it('the root given as a link is followed (the caller named it); a missing root is INPUT_NOT_FOUND', async () => {
    const { root } = medium();
    const link = path.join(base, `link${n++}`);
    symlinkSync(root, link);
    const s = await openMedia(link);
    expect(s.kind).toBe('folder');
    expect(s.entries).toHaveLength(3);
    const r = await s.open(s.entries[0] as never);
    expect((await r.read(0, 9)).toString()).toBe('image one');
    await r.close();
    expect(await codeOf(() => openMedia(path.join(base, 'missing')))).toBe('INPUT_NOT_FOUND');
  });
});
