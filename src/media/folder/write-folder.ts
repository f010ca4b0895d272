/**
 * A File-set written to a folder (the generic file system of PS3.12 Annex A): File IDs become paths,
 * the DICOMDIR and the File-set Descriptor File sit in the root. The folder is built beside the target
 * under a temporary name and renamed into place at the end, so an interrupted run never leaves a
 * folder that looks complete.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DcmsafeError } from '../../errors/index.js';

/** Checks that `out` does not exist or is an empty folder. */
export async function checkOutputFolder(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${out} exists and is not a folder`, { file: out });
  if ((await readdir(out)).length > 0) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${out} exists and is not empty`, { file: out });
}

export class FolderWriter {
  private constructor(
    readonly target: string,
    readonly staging: string,
  ) {}

  /** Starts a staging folder next to `target` (same file system, so the final rename is atomic). */
  static async begin(target: string, suffix: string): Promise<FolderWriter> {
    await checkOutputFolder(target);
    const abs = path.resolve(target);
    const staging = path.join(path.dirname(abs), `.${path.basename(abs)}.partial-${suffix}`);
    await mkdir(path.dirname(abs), { recursive: true });
    await mkdir(staging, { recursive: false });
    return new FolderWriter(abs, staging);
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
    await mkdir(path.dirname(dest), { recursive: true });
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
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, bytes, { flag: 'wx' });
  }

  /** Moves the staging folder into place. */
  async commit(): Promise<string> {
    const existing = await stat(this.target).catch(() => undefined);
    if (existing) {
      await checkOutputFolder(this.target);
      await rmdir(this.target);
    }
    await rename(this.staging, this.target);
    return this.target;
  }

  async abort(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
  }
}
