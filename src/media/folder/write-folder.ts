/**
 * A File-set written to a folder (the generic file system of PS3.12 Annex A): File IDs become paths,
 * the DICOMDIR and the File-set Descriptor File sit in the root. The folder is built beside the target
 * under a temporary name (`.NAME.partial-PID-SUFFIX`), every file and folder in it fsync'd, then
 * renamed into place (over the empty target folder, if there is one: rename(2) replaces an empty
 * folder atomically) and the parent fsync'd. So an interrupted run never leaves a folder under the
 * target's name that looks complete: the target is missing, empty as it was, or whole. A temporary
 * sibling rather than a completion marker because a reader of the medium knows nothing of markers:
 * it would take a half-written folder with its DICOMDIR for a File-set. A later run for the same
 * target removes what a killed run left (only partials by our naming whose writer is gone).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DcmsafeError } from '../../errors/index.js';
import { forEachBounded } from '../../util/concurrency.js';
import { partialPath, removeStalePartials, syncFolder, syncPath } from '../../util/durable.js';

/** fsyncs in flight at commit: the file system batches them into few journal commits. */
const SYNCS_IN_FLIGHT = 16;

/** Checks that `out` does not exist or is an empty folder. */
export async function checkOutputFolder(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${out} exists and is not a folder`, { file: out });
  if ((await readdir(out)).length > 0) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${out} exists and is not empty`, { file: out });
}

export class FolderWriter {
  /** Files and folders written, synced at commit. */
  private readonly files: string[] = [];
  private readonly folders = new Set<string>();

  private constructor(
    readonly target: string,
    readonly staging: string,
  ) {
    this.folders.add(staging);
  }

  /** Starts a staging folder next to `target` (same file system, so the final rename is atomic). */
  static async begin(target: string, suffix: string): Promise<FolderWriter> {
    await checkOutputFolder(target);
    const abs = path.resolve(target);
    await mkdir(path.dirname(abs), { recursive: true });
    await removeStalePartials(abs);
    const staging = partialPath(abs, suffix);
    await mkdir(staging, { recursive: false });
    return new FolderWriter(abs, staging);
  }

  private async makeParent(dest: string): Promise<void> {
    const dir = path.dirname(dest);
    if (this.folders.has(dir)) return;
    await mkdir(dir, { recursive: true });
    for (let d = dir; d.startsWith(this.staging) && !this.folders.has(d); d = path.dirname(d)) this.folders.add(d);
  }

  /** Paths are File IDs or the PDI names (README.TXT, INDEX.HTM): plain components, never "." or "..". */
  private resolve(components: readonly string[]): string {
    if (components.length === 0 || components.some((c) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(c))) {
      throw new DcmsafeError('INTERNAL', `unsafe output path ${components.join('/')}`, { path: components.join('/') });
    }
    return path.join(this.staging, ...components);
  }

  /** Writes one file from a stream; returns the bytes written, which must match `expectedSize`. */
  async writeFile(fileId: readonly string[], chunks: AsyncIterable<Buffer>, expectedSize: number): Promise<number> {
    const dest = this.resolve(fileId);
    await this.makeParent(dest);
    this.files.push(dest);
    let written = 0;
    const counted = Readable.from(
      (async function* () {
        for await (const c of chunks) {
          written += c.length;
          yield c;
        }
      })(),
    );
    await pipeline(counted, createWriteStream(dest, { flags: 'wx' }));
    if (written !== expectedSize) {
      throw new DcmsafeError('INTERNAL', `${fileId.join('/')}: wrote ${written} bytes, planned ${expectedSize}`, { fileId: fileId.join('\\') });
    }
    return written;
  }

  async writeBytes(fileId: readonly string[], bytes: Uint8Array): Promise<void> {
    const dest = this.resolve(fileId);
    await this.makeParent(dest);
    this.files.push(dest);
    await writeFile(dest, bytes, { flag: 'wx' });
  }

  /** Syncs every file and folder of the staging folder, then moves it into place. */
  async commit(): Promise<string> {
    await forEachBounded(this.files, SYNCS_IN_FLIGHT, (f) => syncPath(f));
    // Every folder too (their entries); all done before the rename that makes the folder whole.
    await forEachBounded([...this.folders].sort((a, b) => b.length - a.length), SYNCS_IN_FLIGHT, (d) => syncFolder(d));
    await checkOutputFolder(this.target); // again: something may have appeared in it meanwhile
    await rename(this.staging, this.target);
    await syncFolder(path.dirname(this.target));
    return this.target;
  }

  async abort(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
