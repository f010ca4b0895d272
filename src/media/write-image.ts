/**
 * Writing a laid-out medium image (ISO 9660, FAT32, ZIP) to a file: streamed to a temporary name
 * beside the target (`.NAME.partial-PID-SUFFIX`), fsync'd, renamed to the final name, and the folder
 * fsync'd, so an interrupted run (killed, crashed, power cut) never leaves an image that looks whole:
 * the final name holds the complete image or does not exist. What a killed run left behind is removed
 * by the next run for the same name (only partials by our naming, and only when their writer is gone).
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { partialPath, removeStalePartials, syncFolder } from '../util/durable.js';

export async function checkOutputFile(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (st) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${out} exists; dcmsafe does not overwrite images`, { file: out });
  const dir = await stat(path.dirname(path.resolve(out))).catch(() => undefined);
  if (!dir?.isDirectory()) throw new DcmsafeError('INPUT_NOT_FOUND', `the folder of ${out} does not exist`, { file: out });
}

/** Streams `chunks` into `out`; returns the bytes written, which must be `expected` when given. */
export async function writeImageFile(out: string, chunks: AsyncIterable<Buffer>, suffix: string, onProgress?: (bytes: number) => void, expected?: number): Promise<number> {
  await checkOutputFile(out);
  await removeStalePartials(out);
  const partial = partialPath(out, suffix);
  let written = 0;
  let reported = 0;
  try {
    const handle = await open(partial, 'wx', 0o644);
    try {
      for await (const c of chunks) {
        for (let done = 0; done < c.length; ) done += (await handle.write(c, done, c.length - done)).bytesWritten;
        written += c.length;
        if (onProgress && written - reported >= 64 << 20) {
          reported = written;
          onProgress(written);
        }
      }
      if (expected !== undefined && written !== expected) {
        throw new DcmsafeError('INTERNAL', `${out}: wrote ${written} bytes, planned ${expected}`, { file: out });
      }
      await handle.sync(); // every byte on the device before the name says the image is whole
    } finally {
      await handle.close();
    }
    // The check again, right before the rename (which would replace a file made meanwhile).
    await checkOutputFile(out);
    await rename(partial, out);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
  await syncFolder(path.dirname(path.resolve(out)));
  onProgress?.(written);
  return written;
}
