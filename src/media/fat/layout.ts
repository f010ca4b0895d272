/**
 * The complete layout of a FAT32 USB stick image, computed before a byte is written (PS3.12 Annex R:
 * FAT32 on USB mass storage, partitioned, one File-set in the first partition):
 *
 *   sector 0            MBR, one partition (type 0x0C) from sector 2048 to the end of the image
 *   sector 2048 + 0     boot sector (Microsoft FAT32 File System Specification 1.03 §3)
 *                 1     FSInfo (§5);   6, 7: backup boot sector and FSInfo;  32 reserved sectors
 *                 32    FAT 1, then FAT 2 (§4), each BPB_FATSz32 sectors
 *                 …     data region from cluster 2: the root directory, then depth first each
 *                       directory's children in the order the files were given (files and folders
 *                       contiguous), then free clusters
 *
 * The cluster size follows the volume size as in the specification's DskTableFAT32 (§3.5, also what
 * mkfs.fat and Windows format choose); BPB_FATSz32 is the smallest FAT that covers the clusters with
 * the data region starting on a cluster boundary.
 */
import type { MediaFile } from '../media-file.js';
import { FAT32_MAX_CLUSTERS, FAT32_MIN_CLUSTERS, NUM_FATS, RESERVED_SECTORS } from './boot-sector.js';
import { DIR_ENTRY_SIZE, fat83Name, MAX_DIR_ENTRIES } from './directory-entry.js';
import { fatError } from './errors.js';
import { FAT32_ENTRY_BYTES } from './fat-table.js';
import { PARTITION_START_LBA, SECTOR_SIZE } from './mbr.js';

/** Largest FAT32 file: the 32-bit DIR_FileSize (§6). */
export const MAX_FILE_SIZE = 0xffffffff;
/** The MBR addresses 32-bit LBAs: the partition must end below 2^32 sectors (2 TiB). */
export const MAX_VOLUME_SECTORS = 2 ** 32 - PARTITION_START_LBA;

/** DskTableFAT32 (§3.5): volume sectors up to `upTo` get `sectorsPerCluster`. */
export const CLUSTER_SIZE_TABLE: ReadonlyArray<{ upTo: number; sectorsPerCluster: number }> = [
  { upTo: 532_480, sectorsPerCluster: 1 }, //     ≤ 260 MiB:  512-byte clusters
  { upTo: 16_777_216, sectorsPerCluster: 8 }, //  ≤ 8 GiB:    4 KiB
  { upTo: 33_554_432, sectorsPerCluster: 16 }, // ≤ 16 GiB:   8 KiB
  { upTo: 67_108_864, sectorsPerCluster: 32 }, // ≤ 32 GiB:   16 KiB
  { upTo: Infinity, sectorsPerCluster: 64 }, //   larger:     32 KiB
];

export function sectorsPerClusterFor(volumeSectors: number): number {
  for (const row of CLUSTER_SIZE_TABLE) if (volumeSectors <= row.upTo) return row.sectorsPerCluster;
  return 64;
}

export interface Fat32Geometry {
  volumeSectors: number;
  sectorsPerCluster: number;
  clusterBytes: number;
  /** Sectors of one FAT. */
  fatSectors: number;
  /** First sector of cluster 2, from the start of the volume. */
  dataStartSector: number;
  clusterCount: number;
}

/** Sectors by which BPB_FATSz32 can change while keeping the data region on a cluster boundary. */
function fatAlignmentStep(spc: number): number {
  let step = 1;
  while ((NUM_FATS * step) % spc !== 0) step++;
  return step;
}

/**
 * The FAT32 geometry of a volume of `volumeSectors`, or undefined when it cannot be a FAT32 volume.
 * BPB_FATSz32 is the smallest FAT that holds an entry for every cluster with the data region on a
 * cluster boundary (the §3.5 formula would over-allocate by up to 1/130).
 */
export function fat32Geometry(volumeSectors: number, sectorsPerCluster = sectorsPerClusterFor(volumeSectors)): Fat32Geometry | undefined {
  if (!Number.isSafeInteger(volumeSectors) || volumeSectors <= RESERVED_SECTORS || volumeSectors > MAX_VOLUME_SECTORS) return undefined;
  const spc = sectorsPerCluster;
  const entriesPerSector = SECTOR_SIZE / FAT32_ENTRY_BYTES;
  const clustersWith = (fatSectors: number): number => Math.floor((volumeSectors - RESERVED_SECTORS - NUM_FATS * fatSectors) / spc);
  const covers = (fatSectors: number): boolean => fatSectors * entriesPerSector >= clustersWith(fatSectors) + 2;
  const aligned = (fatSectors: number): boolean => (RESERVED_SECTORS + NUM_FATS * fatSectors) % spc === 0;
  // Enough: 128·F·spc ≥ (N − reserved − 2F) + 2·spc, i.e. F ≥ (N − reserved + 2·spc) / (128·spc + 2).
  let fatSectors = Math.ceil((volumeSectors - RESERVED_SECTORS + 2 * spc) / (entriesPerSector * spc + NUM_FATS));
  while (!aligned(fatSectors)) fatSectors++;
  const step = fatAlignmentStep(spc);
  while (fatSectors - step > 0 && covers(fatSectors - step)) fatSectors -= step;
  while (!covers(fatSectors)) fatSectors += step; // not reached: the first estimate covers
  const dataStartSector = RESERVED_SECTORS + NUM_FATS * fatSectors;
  if (dataStartSector >= volumeSectors) return undefined;
  const clusterCount = clustersWith(fatSectors);
  if (clusterCount < FAT32_MIN_CLUSTERS || clusterCount > FAT32_MAX_CLUSTERS) return undefined;
  return { volumeSectors, sectorsPerCluster: spc, clusterBytes: spc * SECTOR_SIZE, fatSectors, dataStartSector, clusterCount };
}

// ---------------------------------------------------------------------------------------------
// The directory tree

interface NodeBase {
  /** 11-character directory-entry name; '' for the root. */
  readonly name11: string;
  /** The path from the root, for messages. */
  readonly display: string;
  firstCluster: number;
  clusters: number;
}

export interface FileNode extends NodeBase {
  readonly kind: 'file';
  readonly file: MediaFile;
}

export interface DirNode extends NodeBase {
  readonly kind: 'dir';
  readonly parent: DirNode | undefined;
  readonly children: TreeNode[];
  readonly byName: Map<string, TreeNode>;
}

export type TreeNode = FileNode | DirNode;

function newDir(name11: string, display: string, parent: DirNode | undefined): DirNode {
  return { kind: 'dir', name11, display, parent, children: [], byName: new Map(), firstCluster: 0, clusters: 0 };
}

/**
 * The tree of the files' paths, folders created as needed, children in the order first given.
 * Checks every name (FAT_NAME), duplicates and file/folder clashes (FAT_NAME), and sizes (FAT_CAPACITY).
 */
export function buildTree(files: readonly MediaFile[]): DirNode {
  const root = newDir('', '/', undefined);
  for (const file of files) {
    const display = '/' + file.path.join('/');
    if (file.path.length === 0) throw fatError('FAT_NAME', 'a file has an empty path', { path: display });
    if (!Number.isSafeInteger(file.size) || file.size < 0) {
      throw fatError('FAT_CAPACITY', `${display}: invalid size ${file.size}`, { path: display, size: file.size });
    }
    if (file.size > MAX_FILE_SIZE) {
      throw fatError('FAT_CAPACITY', `${display} is ${file.size} bytes; FAT32 files must be smaller than 4 GiB`, { path: display, size: file.size });
    }
    let dir = root;
    file.path.forEach((component, i) => {
      const name11 = fat83Name(component);
      const existing = dir.byName.get(name11);
      const last = i === file.path.length - 1;
      const here = '/' + file.path.slice(0, i + 1).join('/');
      if (last) {
        if (existing) throw fatError('FAT_NAME', `${here} is given twice${existing.kind === 'dir' ? ' (as a folder and as a file)' : ''}`, { path: here });
        const node: FileNode = { kind: 'file', name11, display: here, file, firstCluster: 0, clusters: 0 };
        dir.children.push(node);
        dir.byName.set(name11, node);
      } else if (existing) {
        if (existing.kind !== 'dir') throw fatError('FAT_NAME', `${here} is given as a file and as a folder`, { path: here });
        dir = existing;
      } else {
        const sub = newDir(name11, here, dir);
        dir.children.push(sub);
        dir.byName.set(name11, sub);
        dir = sub;
      }
    });
  }
  return root;
}

/** Entries of a directory: its children, "." and ".." (not in the root), the volume label (root only). */
export function directoryEntryCount(dir: DirNode, hasLabel: boolean): number {
  return dir.children.length + (dir.parent ? 2 : hasLabel ? 1 : 0);
}

/** Checks the §6 limit of 65 536 entries per directory. */
function checkDirectorySizes(dir: DirNode, hasLabel: boolean): void {
  const n = directoryEntryCount(dir, hasLabel);
  if (n > MAX_DIR_ENTRIES) {
    throw fatError('FAT_CAPACITY', `${dir.display} would hold ${n} entries; a FAT directory holds at most ${MAX_DIR_ENTRIES}`, { path: dir.display });
  }
  for (const c of dir.children) if (c.kind === 'dir') checkDirectorySizes(c, hasLabel);
}

function nodeClusters(node: TreeNode, clusterBytes: number, hasLabel: boolean): number {
  if (node.kind === 'file') return Math.ceil(node.file.size / clusterBytes);
  return Math.max(1, Math.ceil((directoryEntryCount(node, hasLabel) * DIR_ENTRY_SIZE) / clusterBytes));
}

/** Clusters the whole tree takes with `clusterBytes` clusters. */
export function clustersNeeded(root: DirNode, clusterBytes: number, hasLabel: boolean): number {
  let n = 0;
  const stack: TreeNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as TreeNode;
    n += nodeClusters(node, clusterBytes, hasLabel);
    if (node.kind === 'dir') stack.push(...node.children);
  }
  return n;
}

export interface Extent {
  readonly start: number;
  readonly count: number;
  readonly node: TreeNode;
}

/** Gives every node its clusters from cluster 2 on, depth first (a directory, then its children in order). */
function allocate(root: DirNode, clusterBytes: number, hasLabel: boolean): Extent[] {
  const extents: Extent[] = [];
  let next = 2;
  const visit = (node: TreeNode): void => {
    node.clusters = nodeClusters(node, clusterBytes, hasLabel);
    node.firstCluster = node.clusters > 0 ? next : 0;
    if (node.clusters > 0) extents.push({ start: next, count: node.clusters, node });
    next += node.clusters;
    if (node.kind === 'dir') for (const c of node.children) visit(c);
  };
  visit(root);
  return extents;
}

export interface Fat32Layout {
  readonly imageSize: number;
  readonly partitionStartLba: number;
  readonly geometry: Fat32Geometry;
  readonly root: DirNode;
  /** Every directory and non-empty file, by increasing cluster: cluster 2 onwards with no gap. */
  readonly extents: readonly Extent[];
  readonly usedClusters: number;
}

function fits(root: DirNode, hasLabel: boolean, imageSectors: number): Fat32Geometry | undefined {
  const g = fat32Geometry(imageSectors - PARTITION_START_LBA);
  if (!g) return undefined;
  return clustersNeeded(root, g.clusterBytes, hasLabel) <= g.clusterCount ? g : undefined;
}

/** Smallest image (in sectors) holding the tree, or undefined when none can (beyond 2 TiB). */
function minimumSectors(root: DirNode, hasLabel: boolean): number | undefined {
  let lowerEnd = RESERVED_SECTORS;
  for (const row of CLUSTER_SIZE_TABLE) {
    const spc = row.sectorsPerCluster;
    const lo = lowerEnd + 1;
    const hi = Math.min(row.upTo, MAX_VOLUME_SECTORS);
    lowerEnd = row.upTo;
    const target = Math.max(FAT32_MIN_CLUSTERS, clustersNeeded(root, spc * SECTOR_SIZE, hasLabel));
    if (target > FAT32_MAX_CLUSTERS) continue;
    // A lower bound: the reserved sectors, two FATs just big enough, and the clusters themselves.
    const bound = RESERVED_SECTORS + NUM_FATS * Math.ceil(((target + 2) * FAT32_ENTRY_BYTES) / SECTOR_SIZE) + target * spc;
    for (let n = Math.max(lo, bound); n <= hi; n++) {
      const g = fat32Geometry(n, spc);
      if (g && g.clusterCount >= target) return PARTITION_START_LBA + n;
      if (n - bound > 1_000_000) break; // cannot happen: the bound is within a few clusters of the answer
    }
  }
  return undefined;
}

const MIB = 1 << 20;

/**
 * Smallest image size in bytes (a whole number of sectors) that holds `files` as a FAT32 stick image,
 * counting a volume label entry in the root (without a label the same size always fits too). At least
 * the FAT32 minimum of 65 525 clusters: about 35.1 MB with the 1 MiB before the partition.
 */
export function minimumFat32Size(files: readonly MediaFile[], hasLabel = true): number {
  const root = buildTree(files);
  checkDirectorySizes(root, hasLabel);
  const sectors = minimumSectors(root, hasLabel);
  if (sectors === undefined) throw fatError('FAT_CAPACITY', 'the files do not fit a FAT32 volume on an MBR-partitioned image (2 TiB)');
  return sectors * SECTOR_SIZE;
}

/**
 * Lays out the image. Without `size`: the minimum plus a margin of 1% (at least 1 MiB), rounded up to
 * whole MiB (or the minimum itself, if the margin would move the volume to a cluster size that no
 * longer fits). With `size`: a whole number of sectors, refused with FAT_CAPACITY when too small.
 */
export function layoutFat32(files: readonly MediaFile[], hasLabel: boolean, size?: number): Fat32Layout {
  const root = buildTree(files);
  checkDirectorySizes(root, hasLabel);
  const minSectors = minimumSectors(root, hasLabel);
  if (minSectors === undefined) throw fatError('FAT_CAPACITY', 'the files do not fit a FAT32 volume on an MBR-partitioned image (2 TiB)');
  let imageSectors: number;
  let geometry: Fat32Geometry | undefined;
  if (size === undefined) {
    const minBytes = minSectors * SECTOR_SIZE;
    const withMargin = Math.ceil((minBytes + Math.max(MIB, Math.ceil(minBytes / 100))) / MIB) * MIB;
    imageSectors = withMargin / SECTOR_SIZE;
    geometry = fits(root, hasLabel, imageSectors);
    if (!geometry) {
      imageSectors = minSectors;
      geometry = fits(root, hasLabel, imageSectors);
    }
  } else {
    if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR_SIZE !== 0) {
      throw fatError('FAT_CAPACITY', `image size ${size} is not a whole number of ${SECTOR_SIZE}-byte sectors`, { size });
    }
    imageSectors = size / SECTOR_SIZE;
    if (imageSectors - PARTITION_START_LBA > MAX_VOLUME_SECTORS) {
      throw fatError('FAT_CAPACITY', `image size ${size} exceeds what an MBR partition can address (2 TiB)`, { size });
    }
    geometry = fits(root, hasLabel, imageSectors);
    if (!geometry) {
      const why = fat32Geometry(imageSectors - PARTITION_START_LBA) ? 'the files do not fit' : 'below the FAT32 minimum of 65 525 clusters';
      throw fatError('FAT_CAPACITY', `image size ${size}: ${why}; the smallest image that holds them is ${minSectors * SECTOR_SIZE} bytes`, {
        size,
        minimum: minSectors * SECTOR_SIZE,
      });
    }
  }
  if (!geometry) throw fatError('FAT_CAPACITY', 'no FAT32 geometry holds the files'); // unreachable: minSectors fits
  const extents = allocate(root, geometry.clusterBytes, hasLabel);
  const usedClusters = extents.reduce((n, e) => n + e.count, 0);
  return { imageSize: imageSectors * SECTOR_SIZE, partitionStartLba: PARTITION_START_LBA, geometry, root, extents, usedClusters };
}
