/**
 * Collecting input files: files as named, folders walked recursively in a stable order. Links to
 * folders are not followed (no loops); links to files are. Paths under `exclude` (the output) are
 * left out, so `create . --out ./disc` does not read its own output.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';

export interface CollectedInputs {
  readonly files: string[];
  /** Paths passed over, with why (links to folders, special files). */
  readonly ignored: Array<{ path: string; reason: string }>;
}

export async function collectInputs(inputs: readonly string[], exclude?: string): Promise<CollectedInputs> {
  const files: string[] = [];
  const ignored: Array<{ path: string; reason: string }> = [];
  const excluded = exclude ? path.resolve(exclude) : undefined;
  const isExcluded = (p: string): boolean => excluded !== undefined && (p === excluded || p.startsWith(excluded + path.sep));

  /** What lstat says of `p`; `entry`, when given, is its directory entry, which says the same without a system call. */
  const visit = async (p: string, top: boolean, entry?: Dirent): Promise<void> => {
    if (isExcluded(p)) return;
    let st: Pick<Dirent, 'isSymbolicLink' | 'isFile' | 'isDirectory'>;
    try {
      st = entry ?? (await lstat(p));
    } catch (e) {
      if (top) throw new DcmsafeError('INPUT_NOT_FOUND', `input ${p} does not exist or cannot be read`, { file: p }, { cause: e });
      ignored.push({ path: p, reason: 'cannot be read' });
      return;
    }
    if (st.isSymbolicLink()) {
      const target = await stat(p).catch(() => undefined);
      if (target?.isFile()) files.push(p);
      else ignored.push({ path: p, reason: target?.isDirectory() ? 'link to a folder: not followed' : 'broken link' });
      return;
    }
    if (st.isFile()) {
      files.push(p);
      return;
    }
    if (st.isDirectory()) {
      // Entries with their types (from the directory itself where the file system records them, else from lstat).
      const entries = (await readdir(p, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) await visit(path.join(p, e.name), false, e);
      return;
    }
    ignored.push({ path: p, reason: 'not a regular file or folder' });
  };

  for (const input of inputs) await visit(path.resolve(input), true);
  return { files: [...new Set(files)], ignored };
}
