/**
 * Writes a FAT32 USB stick image (PS3.12 Annex R; Microsoft FAT32 File System Specification 1.03):
 * an MBR with one partition, then a FAT32 volume holding the files under 8.3 names. The whole layout
 * (every cluster) is computed first (layout.ts); `emit()` then yields the image in one sequential pass:
 * the FATs are generated chunk by chunk from the layout, each directory is built when its clusters
 * come (at most 2 MiB), and each file is opened when its clusters come and streamed through, never
 * buffered. Same files, label, `now`, size and volume ID give a byte-identical image.
 */
import { createHash } from 'node:crypto';
import { DcmsafeError } from '../../errors/index.js';
import type { ImagePlan, MediaFile } from '../media-file.js';
import { BACKUP_BOOT_SECTOR, encodeFat32BootSector, FSINFO_SECTOR, MEDIA_FIXED, NUM_FATS, RESERVED_SECTORS } from './boot-sector.js';
import {
  ATTR_ARCHIVE,
  ATTR_DIRECTORY,
  ATTR_VOLUME_ID,
  DIR_ENTRY_SIZE,
  fatTimestamp,
  fatVolumeLabel,
  writeShortEntry,
  type FatTimestamp,
} from './directory-entry.js';
import { fat32TableChunks } from './fat-table.js';
import { encodeFsInfo, FSINFO_UNKNOWN } from './fsinfo.js';
import { directoryEntryCount, layoutFat32, type DirNode, type Fat32Layout, type FileNode } from './layout.js';
import { encodeMbr, PARTITION_TYPE_FAT32_LBA, SECTOR_SIZE } from './mbr.js';

export { fat83Name } from './directory-entry.js';
export { minimumFat32Size } from './layout.js';

export interface Fat32Options {
  /** ≤ 11 characters from A-Z 0-9 space and the short-name symbols (e.g. the File-set ID, cut to 11); '' for none. */
  volumeLabel: string;
  /** The injected clock: every directory entry's times (UTC fields). */
  now: Date;
  /** Image bytes, a whole number of 512-byte sectors; default: the files plus a margin, at least the FAT32 minimum. */
  size?: number;
  /** Volume serial number (taken modulo 2^32); default derived from the label and `now`. */
  volumeId?: number;
}

const ZERO_CHUNK = Buffer.alloc(1 << 20);

/** `n` zero bytes, as slices of one shared zero buffer (consumers must not write into what they get). */
function* zeros(n: number): Generator<Buffer> {
  while (n > 0) {
    const k = Math.min(n, ZERO_CHUNK.length);
    yield ZERO_CHUNK.subarray(0, k);
    n -= k;
  }
}

/** The default BS_VolID: the first four bytes of SHA-256(label NUL ISO time), so that it is reproducible. */
export function defaultVolumeId(volumeLabel: string, now: Date): number {
  return createHash('sha256').update(`${volumeLabel}\u0000${now.toISOString()}`).digest().readUInt32LE(0);
}

function directoryBytes(dir: DirNode, clusterBytes: number, label11: string | undefined, stamp: FatTimestamp): Buffer {
  const b = Buffer.alloc(dir.clusters * clusterBytes);
  let off = 0;
  const put = (name11: string, attr: number, firstCluster: number, size: number): void => {
    writeShortEntry(b, off, { name11, attr, firstCluster, size, stamp });
    off += DIR_ENTRY_SIZE;
  };
  if (dir.parent) {
    put('.          ', ATTR_DIRECTORY, dir.firstCluster, 0);
    // §6.3: ".." of a directory whose parent is the root points to cluster 0.
    put('..         ', ATTR_DIRECTORY, dir.parent.parent ? dir.parent.firstCluster : 0, 0);
  } else if (label11 !== undefined) {
    put(label11, ATTR_VOLUME_ID, 0, 0);
  }
  for (const c of dir.children) {
    if (c.kind === 'dir') put(c.name11, ATTR_DIRECTORY, c.firstCluster, 0);
    else put(c.name11, ATTR_ARCHIVE, c.firstCluster, c.file.size);
  }
  if (off !== directoryEntryCount(dir, label11 !== undefined) * DIR_ENTRY_SIZE) {
    throw new DcmsafeError('INTERNAL', `${dir.display}: wrote ${off / DIR_ENTRY_SIZE} entries, the layout counted others`, { path: dir.display });
  }
  return b;
}

/** Streams one file's content, checking it yields exactly its declared size, then pads its last cluster. */
async function* fileBytes(node: FileNode, clusterBytes: number): AsyncGenerator<Buffer> {
  const size = node.file.size;
  const mismatch = (got: string): DcmsafeError =>
    new DcmsafeError('INTERNAL', `${node.display}: its content ${got}, ${size} bytes were planned`, { path: node.display, size });
  const content = await node.file.open();
  let n = 0;
  try {
    for await (const chunk of content.stream) {
      if (n + chunk.length > size) throw mismatch('is longer');
      n += chunk.length;
      if (chunk.length > 0) yield chunk;
    }
  } finally {
    await content.close();
  }
  if (n !== size) throw mismatch(`ends after ${n} bytes`);
  yield* zeros(node.clusters * clusterBytes - size);
}

/** Opens a file that takes no cluster, to check that it is indeed empty. */
async function checkEmpty(file: MediaFile, display: string): Promise<void> {
  const content = await file.open();
  try {
    for await (const chunk of content.stream) {
      if (chunk.length > 0) throw new DcmsafeError('INTERNAL', `${display}: its content is longer than the 0 bytes planned`, { path: display });
    }
  } finally {
    await content.close();
  }
}

async function* emitImage(layout: Fat32Layout, label11: string | undefined, stamp: FatTimestamp, volumeId: number): AsyncGenerator<Buffer> {
  const g = layout.geometry;
  let emitted = 0;
  const counted = function* (chunks: Iterable<Buffer>): Generator<Buffer> {
    for (const c of chunks) {
      emitted += c.length;
      yield c;
    }
  };

  // Sector 0: the MBR; then the gap up to the partition.
  yield* counted([encodeMbr({ type: PARTITION_TYPE_FAT32_LBA, startLba: layout.partitionStartLba, sectors: g.volumeSectors }, volumeId)]);
  yield* counted(zeros((layout.partitionStartLba - 1) * SECTOR_SIZE));

  // Reserved region: boot sector, FSInfo, and their backups at BPB_BkBootSec.
  const boot = encodeFat32BootSector({
    sectorsPerCluster: g.sectorsPerCluster,
    totalSectors: g.volumeSectors,
    fatSectors: g.fatSectors,
    hiddenSectors: layout.partitionStartLba,
    volumeId,
    volumeLabel: label11 ?? 'NO NAME    ',
  });
  const free = g.clusterCount - layout.usedClusters;
  const fsinfo = encodeFsInfo(free, free > 0 ? 2 + layout.usedClusters : FSINFO_UNKNOWN);
  for (let s = 0; s < RESERVED_SECTORS; s++) {
    if (s === 0 || s === BACKUP_BOOT_SECTOR) yield* counted([boot]);
    else if (s === FSINFO_SECTOR || s === BACKUP_BOOT_SECTOR + FSINFO_SECTOR) yield* counted([fsinfo]);
    else yield* counted(zeros(SECTOR_SIZE));
  }

  // The FATs, generated from the extents.
  for (let i = 0; i < NUM_FATS; i++) yield* counted(fat32TableChunks(layout.extents, g.fatSectors * SECTOR_SIZE, MEDIA_FIXED));

  // The data region, cluster 2 onwards.
  for (const extent of layout.extents) {
    const node = extent.node;
    if (node.kind === 'dir') {
      yield* counted([directoryBytes(node, g.clusterBytes, label11, stamp)]);
      for (const c of node.children) if (c.kind === 'file' && c.clusters === 0) await checkEmpty(c.file, c.display);
    } else {
      for await (const chunk of fileBytes(node, g.clusterBytes)) {
        emitted += chunk.length;
        yield chunk;
      }
    }
  }
  const tailSectors = g.volumeSectors - g.dataStartSector - layout.usedClusters * g.sectorsPerCluster;
  yield* counted(zeros(tailSectors * SECTOR_SIZE));
  if (emitted !== layout.imageSize) {
    throw new DcmsafeError('INTERNAL', `FAT32 image: emitted ${emitted} bytes, planned ${layout.imageSize}`, { size: layout.imageSize });
  }
}

/**
 * Lays out a FAT32 stick image of `files` (paths of 8.3 upper-case names) and returns its size and a
 * one-pass emitter. Throws FAT_NAME for names 8.3 cannot hold, FAT_CAPACITY when the files do not
 * fit `size` or a file is 4 GiB or larger.
 */
export function planFat32Image(files: readonly MediaFile[], options: Fat32Options): ImagePlan {
  const padded = fatVolumeLabel(options.volumeLabel);
  const label11 = padded === 'NO NAME    ' ? undefined : padded;
  const stamp = fatTimestamp(options.now);
  const volumeId = options.volumeId === undefined ? defaultVolumeId(padded.trimEnd(), options.now) : options.volumeId >>> 0;
  const layout = layoutFat32(files, label11 !== undefined, options.size);
  return {
    size: layout.imageSize,
    emit: () => emitImage(layout, label11, stamp, volumeId),
  };
}
