/**
 * A folder as a medium: a mounted disc or stick, or a copy of one. The folder is hostile, so:
 *  - the walk uses lstat and never follows a symbolic link, wherever it points (each one is a
 *    SYMLINK_NOT_FOLLOWED finding); FIFOs, sockets and devices are skipped (MEDIA_UNREADABLE finding:
 *    opening a FIFO would block), and so are folders that cannot be read;
 *  - names are read as bytes and kept as bytes for opening, so a name that is not valid UTF-8 or holds
 *    control characters is still listed (displayed as Node decodes it, U+FFFD for bad bytes) and
 *    still opens the file it names;
 *  - the entry and depth limits end the walk with a LIMIT finding instead of an error (what was
 *    listed so far stays listed); a file above the size limit is left out with a LIMIT finding;
 *  - `open()` re-checks at open time that the path still resolves (realpath) to where it was listed
 *    under the medium's root, opens with O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped in cannot
 *    block), then checks the handle is the very file listed (regular file, same device and inode,
 *    same size). A file replaced by a link, or a folder on its path replaced by one, between listing
 *    and opening, is refused (IO) instead of followed.
 * Order: each folder's names sorted by their bytes, files and folders interleaved, depth first.
 */
import { constants } from 'node:fs';
import { lstat, open, opendir, readlink, realpath, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../io/random-access-reader.js';
import { HandleReader } from './handle-reader.js';
import { EntryTable, type MediaSource, type SourceEntry, type SourceFinding, type SourceLimits } from './types.js';

interface Listed {
  /** The file's absolute path, as bytes: the medium's real root, then the names as read. */
  readonly raw: Buffer;
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: number;
}

const SEP = Buffer.from(path.sep);
/** Windows has no O_NOFOLLOW; there the realpath and inode checks do the work alone. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

function join(dir: Buffer, name: Buffer): Buffer {
  return dir.length > 0 && dir[dir.length - 1] === SEP[0] ? Buffer.concat([dir, name]) : Buffer.concat([dir, SEP, name]);
}

function decodeName(name: Buffer): string {
  return name.toString('utf8'); // invalid sequences become U+FFFD, as in Node's own string paths
}

function errno(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code ?? (e instanceof Error ? e.message : String(e));
}

/** The names of a folder as bytes, sorted; undefined when there are more than `budget`. */
async function readNames(dir: Buffer, budget: number): Promise<Buffer[] | undefined> {
  // opendir streams the names, so a folder with millions of them is not read whole; its typings
  // know only string encodings, but Node honours 'buffer' here as it does for readdir.
  const handle = await opendir(dir, { encoding: 'buffer' as BufferEncoding, bufferSize: 256 });
  const names: Buffer[] = [];
  try {
    for await (const d of handle) {
      if (names.length >= budget) return undefined;
      names.push(d.name as unknown as Buffer);
    }
  } finally {
    await handle.close().catch(() => undefined); // closed already when the loop ran to its end
  }
  return names.sort(Buffer.compare);
}

export async function openFolder(root: string, limits: SourceLimits): Promise<MediaSource> {
  let rootReal: Buffer;
  try {
    rootReal = await realpath(root, { encoding: 'buffer' });
  } catch (e) {
    throw new DcmsafeError('INPUT_NOT_FOUND', `cannot read the folder ${root}: ${errno(e)}`, { file: root }, { cause: e });
  }
  const entries: SourceEntry[] = [];
  const findings: SourceFinding[] = [];
  const table = new EntryTable<Listed>();
  let items = 0;
  let stopped = false;

  const walk = async (dir: Buffer, rel: readonly string[]): Promise<void> => {
    let names: Buffer[] | undefined;
    try {
      names = await readNames(dir, limits.maxEntries - items);
    } catch (e) {
      if (rel.length === 0) throw new DcmsafeError('INPUT_NOT_FOUND', `cannot read the folder ${root}: ${errno(e)}`, { file: root }, { cause: e });
      findings.push({ code: 'MEDIA_UNREADABLE', message: `folder cannot be read (${errno(e)}): skipped`, file: rel.join('/') });
      return;
    }
    if (names === undefined) {
      findings.push({
        code: 'LIMIT',
        message: `more than ${limits.maxEntries} files and folders: the medium was not read beyond this folder`,
        file: rel.join('/') || '.',
      });
      stopped = true;
      return;
    }
    items += names.length;
    for (const name of names) {
      if (stopped) return;
      const raw = join(dir, name);
      const childRel = [...rel, decodeName(name)];
      const file = childRel.join('/');
      if (childRel.length > limits.maxDepth) {
        findings.push({ code: 'LIMIT', message: `deeper than ${limits.maxDepth} levels: the medium was not read further`, file });
        stopped = true;
        return;
      }
      let st;
      try {
        st = await lstat(raw, { bigint: true });
      } catch (e) {
        findings.push({ code: 'MEDIA_UNREADABLE', message: `cannot be examined (${errno(e)}): skipped`, file });
        continue;
      }
      if (st.isSymbolicLink()) {
        const target = await readlink(raw).catch(() => undefined);
        const to = target === undefined ? '' : ` to ${JSON.stringify(target)}`;
        findings.push({ code: 'SYMLINK_NOT_FOLLOWED', message: `symbolic link${to}: not followed`, file });
      } else if (st.isDirectory()) {
        await walk(raw, childRel);
      } else if (st.isFile()) {
        const size = Number(st.size);
        if (size > limits.maxFileSize) {
          findings.push({ code: 'LIMIT', message: `${size} bytes, more than the limit of ${limits.maxFileSize}: left out`, file });
          continue;
        }
        const entry: SourceEntry = { path: childRel, size };
        entries.push(entry);
        table.add(entry, { raw, dev: st.dev, ino: st.ino, size });
      } else {
        findings.push({ code: 'MEDIA_UNREADABLE', message: 'not a regular file or folder (FIFO, socket or device): skipped', file });
      }
    }
  };
  await walk(rootReal, []);

  let closed = false;
  const refuse = (entry: SourceEntry, why: string, cause?: unknown): DcmsafeError =>
    new DcmsafeError('IO', `${root}: ${entry.path.join('/')}: ${why}`, { file: path.join(root, ...entry.path), reason: why }, cause === undefined ? undefined : { cause });

  async function openEntry(entry: SourceEntry): Promise<RandomAccessReader> {
    const listed = table.get(entry);
    if (!listed) throw new DcmsafeError('INTERNAL', `${root}: ${entry.path.join('/')} is not an entry of this medium`, { file: root });
    if (closed) throw new DcmsafeError('INTERNAL', `${root}: the medium is closed`, { file: root });
    // 1. Every component still a real folder or file where it was: a link anywhere on the path changes the real path.
    let real: Buffer;
    try {
      real = await realpath(listed.raw, { encoding: 'buffer' });
    } catch (e) {
      throw refuse(entry, `cannot be resolved any more (${errno(e)})`, e);
    }
    if (!real.equals(listed.raw)) throw refuse(entry, 'now resolves elsewhere (a link was put on its path): refused');
    // 2. The last component is not followed if it is a link now.
    let handle: FileHandle;
    try {
      handle = await open(listed.raw, OPEN_FLAGS);
    } catch (e) {
      const code = errno(e);
      if (code === 'ELOOP' || code === 'EMLINK') throw refuse(entry, 'is now a symbolic link: not followed', e);
      throw refuse(entry, `cannot be opened (${code})`, e);
    }
    // 3. The handle is the file listed, unchanged in kind and size.
    try {
      const st = await handle.stat({ bigint: true });
      if (!st.isFile()) throw refuse(entry, 'is not a regular file any more: refused');
      if (st.dev !== listed.dev || st.ino !== listed.ino) throw refuse(entry, 'was replaced by another file after it was listed: refused');
      if (Number(st.size) !== listed.size) throw refuse(entry, `changed size since it was listed (${listed.size} → ${st.size} bytes): refused`);
      return new HandleReader(handle, listed.size, path.join(root, ...entry.path));
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  return {
    kind: 'folder',
    path: root,
    entries,
    findings,
    open: openEntry,
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
}
