/**
 * Small file-system helpers for state that must survive a crash (configuration, operator accounts,
 * logs, the audit spool, the media create writes): an atomic replace, an atomic exclusive write,
 * fsync of files and folders, whether a process is still alive, a lock file, and the partials an
 * interrupted run left behind.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';

/**
 * Replaces `target` with `text` atomically: a temporary file (0600) beside it, fsync, rename, fsync
 * of the folder (created 0700 when missing). Readers see the old file or the new one, never a part.
 */
export async function writeFileAtomic(target: string, text: string): Promise<void> {
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (e) {
    await rm(temp, { force: true });
    const errno = (e as NodeJS.ErrnoException).code;
    throw new DcmsafeError('IO', `Cannot write ${target} (${errno ?? 'error'})`, { file: target, errno }, { cause: e });
  }
  // The rename is durable once the folder is synced; some file systems refuse to sync a folder.
  const folder = await open(dir, 'r').catch(() => undefined);
  if (folder) await folder.sync().catch(() => undefined).finally(() => folder.close());
}

/** Whether a process of this pid exists on this machine (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  // 0 and negative numbers name process groups, not a process.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---------------------------------------------------------------------------------------------
// Lock files

/** Who holds a lock file; the file holds `PID\nHOST\nTOKEN\n`, the token telling one holding from another. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

export interface FileLockOptions<T> {
  /** Longest wait for another holder, in ms (default 15 000); 0 tries once. */
  readonly waitMs?: number;
  /** A lock older than this is taken over even if its holder seems alive: pid reuse, another host, a hung holder (default: never). */
  readonly maxAgeMs?: number;
  /** A lock that names no holder (someone else wrote it, or a file system without hard links left it empty) is taken over when older than this (default 1 000 ms). */
  readonly unreadableStaleMs?: number;
  /** What withFileLock gives when the lock is still held after `waitMs`: a value, or a throw. By default it throws IO. */
  readonly busy?: (holder: LockHolder | undefined) => T | Promise<T>;
  /** The error for a lock that cannot be created or read (default: IO). */
  readonly error?: (e: unknown) => Error;
}

/** A guard held for a few system calls while a stale lock is removed: older than this, its holder hung or died. */
const BREAK_STALE_MS = 30_000;
/** errno of link(2) on file systems without hard links (FAT, some network shares). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

interface FoundLock {
  readonly holder: LockHolder | undefined;
  readonly ageMs: number;
}

const errnoOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

async function readLock(lockFile: string): Promise<FoundLock | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(lockFile, 'utf8'), stat(lockFile)]);
    const [pid, host, token] = text.split('\n');
    const holder = pid && host && token && /^\d+$/.test(pid) && Number(pid) > 0 ? { pid: Number(pid), host, token } : undefined;
    return { holder, ageMs: Date.now() - st.mtimeMs };
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function isStale(found: FoundLock, maxAgeMs: number, unreadableStaleMs: number): boolean {
  if (found.ageMs > maxAgeMs) return true;
  if (!found.holder) return found.ageMs > unreadableStaleMs;
  if (found.holder.host !== hostname()) return false; // another machine's process: cannot tell, keep out
  return !processAlive(found.holder.pid);
}

/** Creates `file` exclusively (O_EXCL) with `content`; false when it exists. */
async function createExclusive(file: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (e) {
    if (errnoOf(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * Puts `temp` (holding `content`) in place as `lockFile` unless that exists. Linked: link(2), like
 * O_EXCL, fails when the name exists, and the lock is never seen without its holder. On a file
 * system without hard links, created with O_EXCL and then written.
 */
async function placeLock(lockFile: string, temp: string, content: string): Promise<boolean> {
  try {
    await link(temp, lockFile);
    return true;
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'EEXIST') return false;
    if (errno === undefined || !NO_HARD_LINKS.has(errno)) throw e;
    return createExclusive(lockFile, content);
  }
}

/**
 * Removes the stale lock `seen`, under `<lock>.break` (itself an O_EXCL file, held for a few system
 * calls), after checking again under it that the lock is still the same stale one: two processes
 * that both saw it stale cannot remove a fresh lock by mistake. False when another process holds
 * the guard (it is removing the lock), true when it is worth trying the lock again at once.
 */
async function breakStaleLock(lockFile: string, seen: FoundLock, maxAgeMs: number, unreadableStaleMs: number): Promise<boolean> {
  const guard = `${lockFile}.break`;
  if (!(await createExclusive(guard, `${process.pid}\n${hostname()}\n${randomBytes(8).toString('hex')}\n`))) {
    const other = await readLock(guard);
    if (!other) return true;
    if (!isStale(other, BREAK_STALE_MS, 1000)) return false;
    await unlink(guard).catch(() => undefined);
    return true;
  }
  try {
    const now = await readLock(lockFile);
    if (now && now.holder?.token === seen.holder?.token && isStale(now, maxAgeMs, unreadableStaleMs)) {
      // A lock that cannot be removed is an error, not a reason to try again at once, forever.
      await unlink(lockFile).catch((e: unknown) => (errnoOf(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    }
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes the lock: true, or who holds it after `waitMs`. */
async function takeLock(lockFile: string, content: string, options: FileLockOptions<unknown>): Promise<true | { holder: LockHolder | undefined }> {
  const maxAgeMs = options.maxAgeMs ?? Infinity;
  const unreadableStaleMs = options.unreadableStaleMs ?? 1000;
  const deadline = Date.now() + (options.waitMs ?? 15_000);
  const temp = path.join(path.dirname(lockFile), `.${path.basename(lockFile)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let pause = 5;
  try {
    await writeFile(temp, content, { flag: 'wx', mode: 0o600 });
    for (;;) {
      if (await placeLock(lockFile, temp, content)) return true;
      const found = await readLock(lockFile);
      if (!found) continue; // released meanwhile
      if (isStale(found, maxAgeMs, unreadableStaleMs) && (await breakStaleLock(lockFile, found, maxAgeMs, unreadableStaleMs))) continue;
      if (Date.now() >= deadline) return { holder: found.holder };
      await sleep(pause + Math.random() * pause);
      pause = Math.min(pause * 2, 100);
    }
  } catch (e) {
    if (e instanceof DcmsafeError) throw e;
    throw options.error?.(e) ?? new DcmsafeError('IO', `Cannot lock ${lockFile} (${errnoOf(e) ?? 'error'})`, { file: lockFile, errno: errnoOf(e) }, { cause: e });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Runs `fn` holding the lock file `lockFile` (created exclusively, holding this process's pid, host
 * and a token of this holding), then removes it if it is still ours. Waits up to `waitMs` for another
 * holder; takes over the lock of a process that died on this host, one that names no holder, and
 * one older than `maxAgeMs`. `fn` gets `stillHeld`, to check before a write that the lock was not
 * taken over meanwhile (a holder that hung past `maxAgeMs`).
 */
export async function withFileLock<T>(lockFile: string, fn: (stillHeld: () => Promise<boolean>) => Promise<T>, options: FileLockOptions<T> = {}): Promise<T> {
  const token = randomBytes(12).toString('hex');
  const taken = await takeLock(lockFile, `${process.pid}\n${hostname()}\n${token}\n`, options);
  if (taken !== true) {
    if (options.busy) return options.busy(taken.holder);
    const who = taken.holder ? ` by process ${taken.holder.pid} on ${taken.holder.host}` : '';
    throw new DcmsafeError('IO', `${lockFile} is held${who}; try again, or remove it if no dcmsafe is running`, { file: lockFile });
  }
  const stillHeld = async (): Promise<boolean> => (await readLock(lockFile).catch(() => undefined))?.holder?.token === token;
  try {
    return await fn(stillHeld);
  } finally {
    if (await stillHeld()) await unlink(lockFile).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Durable output: fsync, exclusive atomic files, partials of interrupted runs

/** fsync of a file or folder by path. Folders: some file systems refuse (EINVAL, EISDIR): ignored. */
export async function syncPath(file: string, options: { folder?: boolean } = {}): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await (options.folder ? handle.sync().catch(() => undefined) : handle.sync());
  } finally {
    await handle.close();
  }
}

/** fsync of a folder (the names in it: a rename or a new file is durable once its folder is synced). */
export async function syncFolder(dir: string): Promise<void> {
  await syncPath(dir, { folder: true }).catch(() => undefined);
}

/**
 * Writes `data` to `target`, which must not exist: a temporary file beside it, fsync, then link(2)
 * to the final name (which, unlike rename, never replaces a file that appeared meanwhile), then the
 * folder synced. A crash leaves either no `target` or the whole one, never a part under its name.
 */
export async function writeFileExclusive(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = path.dirname(path.resolve(target));
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, target).catch(async (e: unknown) => {
      const errno = errnoOf(e);
      if (errno === undefined || !NO_HARD_LINKS.has(errno)) throw e;
      // FAT and some shares have no hard links: rename, after a check (a small window, not an atomic one).
      if (await stat(target).then(() => true, () => false)) throw Object.assign(new Error(`${target} exists`), { code: 'EEXIST' });
      await rename(temp, target);
    });
  } catch (e) {
    const errno = errnoOf(e);
    if (errno === 'EEXIST') throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${target} exists; dcmsafe does not overwrite it`, { file: target }, { cause: e });
    throw new DcmsafeError('IO', `Cannot write ${target} (${errno ?? 'error'})`, { file: target, errno }, { cause: e });
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncFolder(dir);
}

/**
 * The name under which `target` is built: `.NAME.partial-PID-SUFFIX` beside it (same file system, so
 * the final rename is atomic). The pid tells a later run whether the writer is still alive.
 */
export function partialPath(target: string, suffix: string): string {
  const abs = path.resolve(target);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.partial-${process.pid}-${suffix}`);
}

const PARTIAL = /^\.(.+)\.partial-(\d+)-[0-9a-f]+$/;

/**
 * Removes what interrupted runs left while building `target` (files or folders named as
 * `partialPath` names them): only ours by name, and only when the process that wrote them is gone
 * (or is this one: it has not started on `target` yet). Returns the paths removed.
 */
export async function removeStalePartials(target: string): Promise<string[]> {
  const abs = path.resolve(target);
  const dir = path.dirname(abs);
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const m = PARTIAL.exec(name);
    if (!m || m[1] !== path.basename(abs)) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && processAlive(pid)) continue; // another run is writing it
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(path.join(dir, name));
  }
  return removed;
}
