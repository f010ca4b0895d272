/**
 * A File-set written onto a mounted USB stick (PS3.12 Annex R: FAT16/FAT32, File ID = file name,
 * one File-set in the root): free space checked first, an existing File-set refused unless the caller
 * says to replace it, every file flushed to the device, then read back and compared by SHA-256.
 * Reading back goes through the operating system's cache; it proves the file system holds what we
 * wrote, not that the flash cells do (that needs unmounting and remounting the stick).
 */
import { createHash } from 'node:crypto';
import { sha256OfFile } from '../../util/digest.js';
import { mkdir, open, readdir, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../../errors/index.js';
import type { MediaFile } from '../media-file.js';

/** Files and folders of a File-set in the root, removed by --replace. */
const FILESET_ROOT_ENTRIES = ['DICOMDIR', 'DICOM', 'README', 'README.TXT', 'INDEX.HTM'];

export async function checkStick(root: string, bytesNeeded: number, replace: boolean): Promise<void> {
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new DcmsafeError('INPUT_NOT_FOUND', `${root} is not a mounted stick (not a folder)`, { file: root });
  const names = await readdir(root);
  if (names.some((n) => n.toUpperCase() === 'DICOMDIR') && !replace) {
    throw new DcmsafeError('USB_HAS_FILESET', `${root} already holds a DICOM File-set (DICOMDIR); --replace replaces it`, { file: root });
  }
  const fs = await statfs(root);
  // The old File-set's space comes back with --replace, but we do not count on it.
  const free = fs.bavail * fs.bsize;
  if (free < bytesNeeded) {
    throw new DcmsafeError('MEDIA_CAPACITY', `${root} has ${free} bytes free, the File-set needs ${bytesNeeded}`, { file: root, free, needed: bytesNeeded });
  }
}

export async function writeToStick(root: string, files: readonly MediaFile[], options: { replace: boolean; onProgress?: (bytes: number) => void }): Promise<number> {
  if (options.replace) {
    for (const name of await readdir(root)) {
      if (FILESET_ROOT_ENTRIES.includes(name.toUpperCase())) await rm(path.join(root, name), { recursive: true, force: true });
    }
  }
  const written: Array<{ file: string; digest: string }> = [];
  let total = 0;
  for (const f of files) {
    const dest = path.join(root, ...f.path);
    await mkdir(path.dirname(dest), { recursive: true });
    const content = await f.open();
    const handle = await open(dest, 'wx');
    const h = createHash('sha256');
    let n = 0;
    try {
      for await (const chunk of content.stream) {
        h.update(chunk);
        n += chunk.length;
        await handle.write(chunk);
      }
      await handle.sync(); // flushed to the device before the next file
    } finally {
      await handle.close();
      await content.close();
    }
    if (n !== f.size) throw new DcmsafeError('INTERNAL', `${f.path.join('/')}: wrote ${n} bytes, planned ${f.size}`);
    total += n;
    options.onProgress?.(total);
    written.push({ file: dest, digest: h.digest('hex') });
  }
  for (const w of written) {
    if ((await sha256OfFile(w.file)) !== w.digest) throw new DcmsafeError('USB_READBACK', `${w.file} reads back different from what was written`, { file: w.file });
  }
  return total;
}
