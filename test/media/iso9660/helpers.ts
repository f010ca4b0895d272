/** Shared by the ISO 9660 unit and interop tests: images in memory, deterministic contents, a hand-built multi-extent image. */
// The hand-built multi-extent image lives with the ISO fuzz seeds, which use it too.
import { bytesOf } from '../../../src/fuzz/iso9660-multi-extent.js';
export { bytesOf };
export { multiExtentImage } from '../../../src/fuzz/iso9660-multi-extent.js';
import { memoryFile, type ImagePlan, type MediaFile } from '../../../src/media/media-file.js';
import { BufferReader, type RandomAccessReader } from '../../../src/media/io/random-access-reader.js';
import { planIso9660, type Iso9660Options } from '../../../src/media/iso9660/writer.js';
import { openIso9660 } from '../../../src/media/iso9660/reader.js';

export const T0 = new Date('2024-05-06T07:08:09Z');
export const OPTIONS: Iso9660Options = { volumeIdentifier: 'DCMSAFE_TEST', recordingTime: T0, applicationIdentifier: 'DCMSAFE' };

/** Deterministic bytes: SHA-256 in counter mode over a seed. */

export async function emitAll(plan: ImagePlan): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of plan.emit()) chunks.push(c);
  return Buffer.concat(chunks);
}

export async function imageOf(files: readonly MediaFile[], options: Iso9660Options = OPTIONS): Promise<Buffer> {
  return emitAll(planIso9660(files, options));
}

/** A File-set-like tree: DICOMDIR, README.TXT, INDEX.HTM and a few images of awkward sizes. */
export function dicomLikeFiles(): MediaFile[] {
  const files: MediaFile[] = [
    memoryFile(['DICOMDIR'], bytesOf('DICOMDIR', 6000)),
    memoryFile(['README.TXT'], Buffer.from('This CD holds a DICOM File-set.\r\n')),
    memoryFile(['INDEX.HTM'], Buffer.from('<!DOCTYPE html><title>Index</title>\n')),
  ];
  const sizes = [0, 1, 2047, 2048, 2049, 10_000, 65_536];
  let n = 0;
  for (const pa of ['PA000001', 'PA000002']) {
    for (const st of ['ST000001', 'ST000002']) {
      for (const se of ['SE000001']) {
        for (let im = 1; im <= 4; im++) {
          const path = ['DICOM', pa, st, se, `IM${String(im).padStart(6, '0')}`];
          files.push(memoryFile(path, bytesOf(path.join('/'), sizes[n++ % sizes.length] ?? 0)));
        }
      }
    }
  }
  return files;
}

/** Every file of an image read back by our reader: "A/B" -> bytes, directories -> "dir". */
export async function readTree(image: Buffer | RandomAccessReader): Promise<Map<string, Buffer | 'dir'>> {
  const reader = Buffer.isBuffer(image) ? new BufferReader(image) : image;
  const volume = await openIso9660(reader);
  const out = new Map<string, Buffer | 'dir'>();
  for (const e of volume.entries) {
    if (e.isDirectory) {
      out.set(e.path.join('/'), 'dir');
    } else {
      const f = volume.openFile(e);
      out.set(e.path.join('/'), await f.read(0, f.size));
    }
  }
  return out;
}

/** The files of `files` as the same map (directories included). */
export function expectedTree(files: readonly MediaFile[], contents: ReadonlyMap<string, Buffer>): Map<string, Buffer | 'dir'> {
  const out = new Map<string, Buffer | 'dir'>();
  for (const f of files) {
    for (let i = 1; i < f.path.length; i++) out.set(f.path.slice(0, i).join('/'), 'dir');
    out.set(f.path.join('/'), contents.get(f.path.join('/')) ?? Buffer.alloc(0));
  }
  return out;
}

export async function contentsOf(files: readonly MediaFile[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const f of files) {
    const o = await f.open();
    const chunks: Buffer[] = [];
    for await (const c of o.stream) chunks.push(c);
    await o.close();
    out.set(f.path.join('/'), Buffer.concat(chunks));
  }
  return out;
}

