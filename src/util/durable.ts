/**
 * Small file-system helpers for state that must survive a crash (configuration, operator accounts,
 * logs): an atomic replace, and whether the process holding a lock file is still alive.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
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
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
