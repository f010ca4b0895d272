/**
 * A File-set written onto a mounted USB stick (PS3.12 Annex R: FAT16/FAT32, File ID = file name,
 * one File-set in the root): free space checked first, an existing File-set refused unless the caller
 * says to replace it, every file flushed to the device, then read back and compared by SHA-256.
 * Reading back goes through the operating system's cache; it proves the file system holds what we
 * wrote, not that the flash cells do (that needs unmounting and remounting the stick).
 *
 * Crash safety: a stick is not renamed into place as an image or a folder is, so the File-set is
 * written into a hidden folder in the stick's root (`.DCMSAFE.partial-PID-SUFFIX`), every file
 * fsync'd, then its entries are renamed into the root with the DICOMDIR last, each rename followed by
 * an fsync of the root. So the root holds a DICOMDIR only once every file it references is complete
 * and flushed: a reader never sees a whole-looking File-set that is not. A killed run leaves the hidden
 * folder, which the next run removes (ours by name, its writer gone); killed during the few renames,
 * it leaves File-set entries without a DICOMDIR, which the next run refuses as it refuses a File-set
 * (`--replace` replaces them). FAT has no journal: after a power cut the file system itself may need
 * a check; what the device's own write cache does after fsync is the device's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sha256OfFile } from '../../util/digest.js';
import { mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../../errors/index.js';
import { partialPath, removeStalePartials, syncFolder } from '../../util/durable.js';
import type { MediaFile } from '../media-file.js';

/** Files and folders of a File-set in the root, removed by --replace. */
const FILESET_ROOT_ENTRIES = ['DICOMDIR', 'DICOM', 'README', 'README.TXT', 'INDEX.HTM'];

/** The name the hidden staging folder is derived from (`.DCMSAFE.partial-PID-SUFFIX`). */
const STAGING_BASE = 'DCMSAFE';

export async function checkStick(root: string, bytesNeeded: number, replace: boolean): Promise<void> {
  const st = await stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new DcmsafeError('INPUT_NOT_FOUND', `${root} is not a mounted stick (not a folder)`, { file: root });
  const names = await readdir(root);
  if (names.some((n) => n.toUpperCase() === 'DICOMDIR') && !replace) {
    throw new DcmsafeError('USB_HAS_FILESET', `${root} already holds a DICOM File-set (DICOMDIR); --replace replaces it`, { file: root });
  }
  const left = names.filter((n) => FILESET_ROOT_ENTRIES.includes(n.toUpperCase()));
  if (left.length > 0 && !replace) {
    throw new DcmsafeError('USB_HAS_FILESET', `${root} holds parts of a DICOM File-set without a DICOMDIR (${left.join(', ')}; an interrupted run?); --replace replaces them`, { file: root, entries: left });
  }
  const fs = await statfs(root);
  // The old File-set's space comes back with --replace, but we do not count on it.
  const free = fs.bavail * fs.bsize;
  if (free < bytesNeeded) {
    throw new DcmsafeError('MEDIA_CAPACITY', `${root} has ${free} bytes free, the File-set needs ${bytesNeeded}`, { file: root, free, needed: bytesNeeded });
  }
}

export async function writeToStick(root: string, files: readonly MediaFile[], options: { replace: boolean; onProgress?: (bytes: number) => void }): Promise<number> {
  const base = path.join(path.resolve(root), STAGING_BASE);
  await removeStalePartials(base);
  const staging = partialPath(base, randomBytes(4).toString('hex'));
  await mkdir(staging);
  try {
    const written: Array<{ id: readonly string[]; digest: string }> = [];
    let total = 0;
    for (const f of files) {
      const dest = path.join(staging, ...f.path);
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
      written.push({ id: f.path, digest: h.digest('hex') });
    }
    for (const w of written) {
      const file = path.join(staging, ...w.id);
      if ((await sha256OfFile(file)) !== w.digest) throw new DcmsafeError('USB_READBACK', `${file} reads back different from what was written`, { file });
    }
    for (const dir of folders(staging, written.map((w) => w.id))) await syncFolder(dir);
    if (options.replace) {
      // The old DICOMDIR first: a half-removed File-set never keeps a DICOMDIR that names missing files.
      const old = (await readdir(root)).filter((name) => FILESET_ROOT_ENTRIES.includes(name.toUpperCase()));
      for (const name of old.sort((a, b) => Number(b.toUpperCase() === 'DICOMDIR') - Number(a.toUpperCase() === 'DICOMDIR'))) {
        await rm(path.join(root, name), { recursive: true, force: true });
      }
      await syncFolder(root);
    }
    // Into the root, the DICOMDIR last: once it is there, everything it references is.
    const top = [...new Set(written.map((w) => w.id[0] as string))].sort((a, b) => Number(a === 'DICOMDIR') - Number(b === 'DICOMDIR'));
    for (const name of top) {
      await rename(path.join(staging, name), path.join(root, name));
      await syncFolder(root);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return files.reduce((n, f) => n + f.size, 0);
}

/** Every folder of the staging tree (the files' parents and theirs), for fsync. */
function folders(staging: string, ids: ReadonlyArray<readonly string[]>): string[] {
  const set = new Set<string>([staging]);
  for (const id of ids) for (let i = 1; i < id.length; i++) set.add(path.join(staging, ...id.slice(0, i)));
  return [...set];
}
