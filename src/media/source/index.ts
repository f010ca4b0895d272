/**
 * One way to open any incoming medium for verification: `openMedia(path)` gives a MediaSource for a
 * folder (a mounted disc or stick), an ISO 9660 image, a FAT image (with or without MBR) or a ZIP,
 * or a block device holding ISO 9660 or FAT (/dev/sr0, /dev/sdb).
 *
 * Detection: a folder is a folder; a regular file or a block device is sniffed (sniff.ts: ISO 9660,
 * then ZIP local header, then FAT, then ZIP end record; a device is never a ZIP, which is only ever
 * read from a file); anything else (missing → INPUT_NOT_FOUND, character devices, FIFOs, sockets,
 * or a file of none of these kinds → USAGE) is refused before a byte is read from a FIFO.
 * The path named by the caller is followed if it is a link (the caller chose it); nothing inside the
 * medium is.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../io/random-access-reader.js';
import { readVolumeDescriptorSet } from '../iso9660/reader.js';
import { openFolder } from './folder.js';
import { HandleReader, probeSize, readAt, sysfsDeviceSize } from './handle-reader.js';
import { openImageSource, openZipSource } from './images.js';
import { sniffImage } from './sniff.js';
import { resolveLimits, type MediaSource, type SourceLimits } from './types.js';
import type { ZipEntryReaderOptions } from './zip-entry-reader.js';

export type { MediaKind, MediaSource, SourceEntry, SourceFinding, SourceFindingCode, SourceLimits } from './types.js';
export { DEFAULT_SOURCE_LIMITS } from './types.js';
export { ZipEntryReader, DEFAULT_ZIP_ENTRY_READER, type ZipEntryReaderOptions, type ZipEntryReadStats } from './zip-entry-reader.js';
export { sniffImage, type ImageKind } from './sniff.js';

export interface OpenMediaOptions {
  /** How ZIP entries are read at random (tests make the window small). */
  zipReader?: ZipEntryReaderOptions;
}

/**
 * A medium image already at hand as a RandomAccessReader (an ISO 9660, FAT or ZIP image in memory,
 * say), sniffed and opened as openMedia opens an image file; `name` stands for it in messages and
 * reports. The source owns `image` from here on (closed by close(), or on failure).
 */
export async function openMediaImage(image: RandomAccessReader, name: string, limits?: Partial<SourceLimits>, options: OpenMediaOptions = {}): Promise<MediaSource> {
  const max = resolveLimits(limits);
  checkLimits(max);
  try {
    const kind = await sniffImage((position, length) => image.read(position, length), image.size);
    if (kind === undefined) throw notAMedium(name, `unknown content, ${image.size} bytes`);
    if (kind === 'zip') return await openZipSource(name, max, options.zipReader, image);
    return await openImageSource(kind, name, image, max);
  } catch (e) {
    await image.close().catch(() => undefined);
    throw e;
  }
}

function notAMedium(where: string, what: string): DcmsafeError {
  return new DcmsafeError('USAGE', `${where} is not a folder, ISO 9660, FAT or ZIP image (${what})`, { file: where });
}

function checkLimits(limits: SourceLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new DcmsafeError('USAGE', `source limit ${name} must be a whole number ≥ 0, not ${String(value)}`);
  }
}

export async function openMedia(input: string, limits?: Partial<SourceLimits>, options: OpenMediaOptions = {}): Promise<MediaSource> {
  const max = resolveLimits(limits);
  checkLimits(max);
  const where = path.resolve(input);
  let st;
  try {
    st = await stat(where);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new DcmsafeError('INPUT_NOT_FOUND', `${where} does not exist or cannot be read (${code})`, { file: where }, { cause: e });
  }
  if (st.isDirectory()) return openFolder(where, max);
  if (!st.isFile() && !st.isBlockDevice()) {
    throw notAMedium(where, st.isCharacterDevice() ? 'a character device' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'not a regular file');
  }

  let handle: FileHandle;
  try {
    // O_NONBLOCK: if the path was swapped for a FIFO since stat, opening it does not hang.
    handle = await open(where, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new DcmsafeError('INPUT_NOT_FOUND', `cannot open ${where} (${code})`, { file: where }, { cause: e });
  }
  try {
    const hst = await handle.stat({ bigint: true });
    const device = hst.isBlockDevice();
    if (!hst.isFile() && !device) throw notAMedium(where, 'not a regular file or block device');
    const size = device ? undefined : Number(hst.size);
    const kind = await sniffImage((position, length) => readAt(handle, position, length), size);
    if (kind === undefined) throw notAMedium(where, device ? 'a block device with neither ISO 9660 nor FAT' : `unknown content, ${size} bytes`);
    if (kind === 'zip') {
      await handle.close();
      return await openZipSource(where, max, options.zipReader);
    }
    let imageSize: number;
    if (size !== undefined) imageSize = size;
    else if (kind === 'iso9660') {
      // The volume's own size (ECMA-119 §8.4.8 × §8.4.12): the device's size is not known yet.
      const set = await readVolumeDescriptorSet(new HandleReader(handle, Number.MAX_SAFE_INTEGER, where));
      imageSize = set.primary.volumeSpaceSize * set.primary.logicalBlockSize;
    } else imageSize = (await sysfsDeviceSize(hst)) ?? (await probeSize(handle));
    return await openImageSource(kind, where, new HandleReader(handle, imageSize, where), max);
  } catch (e) {
    await handle.close().catch(() => undefined); // already closed when the image source failed: harmless
    throw e;
  }
}
