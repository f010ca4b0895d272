/**
 * What an interrupted create leaves, and what the next run does with it (issue 11): partials are
 * named `.NAME.partial-PID-SUFFIX`, removed by a later run only when their writer is gone; a run whose
 * seeded suffix equals a dead run's is not stopped by its partial; a folder or image is never left
 * under its final name half-written; on a mounted stick the DICOMDIR appears last, and parts of a
 * File-set without a DICOMDIR are refused like a File-set.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderWriter } from '../../src/media/folder/write-folder.js';
import { memoryFile, type MediaFile } from '../../src/media/media-file.js';
import { checkStick, writeToStick } from '../../src/media/usb/stick.js';
import { writeImageFile } from '../../src/media/write-image.js';
import { partialPath, removeStalePartials, writeFileExclusive } from '../../src/util/durable.js';
import { tempDir } from '../helpers/env.js';

/** A pid no process has: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

describe('partials of interrupted runs', () => {
  const dir = tempDir('dcmsafe-partials-');

  it('removes the partials of dead writers for this target only, and keeps a live writer\'s', async () => {
    const d = path.join(dir, 'stale');
    mkdirSync(d);
    const dead = deadPid();
    const names = [`.disc.iso.partial-${dead}-0a1b2c3d`, `.disc.iso.partial-${process.ppid}-0a1b2c3d`, `.other.iso.partial-${dead}-0a1b2c3d`, 'disc.iso.partial-1-00', '.disc.iso.partial-x-00'];
    for (const n of names) writeFileSync(path.join(d, n), 'x');
    mkdirSync(path.join(d, `.disc.iso.partial-${dead}-ffff`));
    const removed = await removeStalePartials(path.join(d, 'disc.iso'));
    expect(removed.map((p) => path.basename(p)).sort()).toEqual([`.disc.iso.partial-${dead}-0a1b2c3d`, `.disc.iso.partial-${dead}-ffff`]);
    expect(readdirSync(d).sort()).toEqual(names.slice(1).sort());
    expect(path.basename(partialPath(path.join(d, 'disc.iso'), 'ab12'))).toBe(`.disc.iso.partial-${process.pid}-ab12`);
  });

  it('writes an image although a dead run with the same (seeded) suffix left its partial', async () => {
    const d = path.join(dir, 'image');
    mkdirSync(d);
    const out = path.join(d, 'disc.iso');
    // A run of this very pid (pid reuse) or of a dead one: both partials are stale now.
    writeFileSync(partialPath(out, 'cafe'), 'half');
    writeFileSync(path.join(d, `.disc.iso.partial-${deadPid()}-cafe`), 'half');
    expect(await writeImageFile(out, chunks('abc', 'def'), 'cafe', undefined, 6)).toBe(6);
    expect(readFileSync(out, 'utf8')).toBe('abcdef');
    expect(readdirSync(d)).toEqual(['disc.iso']);
  });

  it('leaves no image under the final name when the stream fails halfway', async () => {
    const d = path.join(dir, 'image-fail');
    mkdirSync(d);
    const out = path.join(d, 'disc.iso');
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.from('abc');
      throw new Error('source died');
    }
    await expect(writeImageFile(out, failing(), 'beef')).rejects.toThrow('source died');
    expect(readdirSync(d)).toEqual([]);
  });

  it('builds a folder beside the target and moves it over the empty target at commit', async () => {
    const d = path.join(dir, 'folder');
    const target = path.join(d, 'disc');
    mkdirSync(target, { recursive: true });
    mkdirSync(path.join(d, `.disc.partial-${deadPid()}-0001`));
    const w = await FolderWriter.begin(target, '0001');
    await w.writeFile(['DICOM', 'IM1'], chunks('12', '34'), 4);
    await w.writeBytes(['DICOMDIR'], Buffer.from('dir'));
    expect(readdirSync(target)).toEqual([]); // nothing under the target until the commit
    await w.commit();
    expect(readdirSync(d)).toEqual(['disc']);
    expect(readFileSync(path.join(target, 'DICOM', 'IM1'), 'utf8')).toBe('1234');
  });

  it('writes a manifest whole or not at all, and never over an existing file', async () => {
    const file = path.join(dir, 'label.txt');
    await writeFileExclusive(file, 'Patient: X\n');
    expect(readFileSync(file, 'utf8')).toBe('Patient: X\n');
    await expect(writeFileExclusive(file, 'other')).rejects.toMatchObject({ code: 'OUTPUT_NOT_EMPTY' });
    expect(readFileSync(file, 'utf8')).toBe('Patient: X\n');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('a mounted stick', () => {
  const dir = tempDir('dcmsafe-stick-');
  const files = (): MediaFile[] => [memoryFile(['DICOMDIR'], Buffer.from('DIR')), memoryFile(['DICOM', 'IM1'], Buffer.from('one')), memoryFile(['README.TXT'], Buffer.from('read me'))];

  it('shows the DICOMDIR only once every file is in place, and removes a dead run\'s hidden folder', async () => {
    const stick = path.join(dir, 'stick');
    mkdirSync(stick);
    const stale = path.join(stick, `.DCMSAFE.partial-${deadPid()}-00aa`);
    mkdirSync(path.join(stale, 'DICOM'), { recursive: true });
    writeFileSync(path.join(stale, 'DICOM', 'IM1'), 'half');
    await checkStick(stick, 100, false);
    let dicomdirBeforeFiles = false;
    const spied = files().map((f) =>
      f.path[0] === 'DICOMDIR'
        ? f
        : {
            ...f,
            open: async () => {
              dicomdirBeforeFiles ||= existsSync(path.join(stick, 'DICOMDIR'));
              return f.open();
            },
          },
    );
    expect(await writeToStick(stick, spied, { replace: false })).toBe(13);
    expect(dicomdirBeforeFiles).toBe(false);
    expect(readdirSync(stick).sort()).toEqual(['DICOM', 'DICOMDIR', 'README.TXT']);
    expect(readFileSync(path.join(stick, 'DICOM', 'IM1'), 'utf8')).toBe('one');
  });

  it('refuses parts of a File-set without a DICOMDIR (an interrupted run) unless --replace', async () => {
    const stick = path.join(dir, 'leftover');
    mkdirSync(path.join(stick, 'DICOM'), { recursive: true });
    await expect(checkStick(stick, 100, false)).rejects.toMatchObject({ code: 'USB_HAS_FILESET' });
    await checkStick(stick, 100, true);
    await writeToStick(stick, files(), { replace: true });
    expect(readdirSync(stick).sort()).toEqual(['DICOM', 'DICOMDIR', 'README.TXT']);
  });
});
