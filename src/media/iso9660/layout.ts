/**
 * The layout of a Level 1 volume, ECMA-119 §6 (volume space, §6.2; directory hierarchy, §6.8; path
 * table, §6.9) with every extent assigned before a byte is written:
 *
 *   sectors 0-15   System Area (zeros)
 *   16             Primary Volume Descriptor
 *   17             Volume Descriptor Set Terminator
 *   18-            type L path table, then type M path table
 *   then           directories, in path table order
 *   then           files, directory by directory in path table order, each in §9.3 order
 *
 * The logical block size is 2048, so a logical block is a logical sector.
 */
import type { MediaFile } from '../media-file.js';
import { sizeOfDirectory } from './directory.js';
import { ISO9660_DEPTH, ISO9660_FILE_SIZE, ISO9660_NAME, isoError } from './errors.js';
import { compareIdentifiers, iso9660Name, SELF_IDENTIFIER, splitIdentifier } from './file-identifier.js';
import { sizeOfPathTable, type PathTableRecord } from './path-table.js';
import { SECTOR_SIZE, SYSTEM_AREA_SECTORS } from './volume-descriptor.js';

export const BLOCK_SIZE = SECTOR_SIZE;
/** PS3.12 F.2 and ECMA-119 §6.8.2.1: at most 8 levels, the root being level 1. */
export const MAX_LEVELS = 8;
/** §9.4.4: the parent directory number is 16 bits. */
export const MAX_DIRECTORIES = 0xffff;
/** §9.1.4: the data length of a file section is 32 bits. */
export const MAX_FILE_SIZE = 0xffffffff;
/** §8.4.8: the volume space size is 32 bits of logical blocks. */
const MAX_BLOCKS = 0xffffffff;

export interface LaidOutFile {
  readonly kind: 'file';
  /** "NAME.EXT;1". */
  readonly identifier: string;
  readonly path: readonly string[];
  readonly file: MediaFile;
  readonly size: number;
  location: number;
}

export interface LaidOutDirectory {
  readonly kind: 'directory';
  /** The directory identifier; "\x00" for the root. */
  readonly identifier: string;
  readonly path: readonly string[];
  readonly parent: LaidOutDirectory | undefined;
  /** Root = 1. */
  readonly level: number;
  readonly children: Array<LaidOutDirectory | LaidOutFile>;
  /** Directory number in the path table (root = 1). */
  number: number;
  location: number;
  /** Data length: whole sectors. */
  size: number;
}

export interface Iso9660Layout {
  readonly root: LaidOutDirectory;
  /** In path table order. */
  readonly directories: readonly LaidOutDirectory[];
  /** In the order their extents follow each other. */
  readonly files: readonly LaidOutFile[];
  readonly pathTable: readonly PathTableRecord[];
  readonly pathTableSize: number;
  readonly typeLPathTable: number;
  readonly typeMPathTable: number;
  /** Volume space size in blocks. */
  readonly totalBlocks: number;
}

const blocksOf = (bytes: number): number => Math.ceil(bytes / BLOCK_SIZE);

function sortKey(node: LaidOutDirectory | LaidOutFile): ReturnType<typeof splitIdentifier> {
  return splitIdentifier(node.identifier, node.kind === 'directory');
}

/** Builds the directory tree of `files`, checking names, depth, sizes and clashes. */
function buildTree(files: readonly MediaFile[]): LaidOutDirectory {
  const root: LaidOutDirectory = { kind: 'directory', identifier: SELF_IDENTIFIER, path: [], parent: undefined, level: 1, children: [], number: 1, location: 0, size: 0 };
  const byComponent = new Map<LaidOutDirectory, Map<string, LaidOutDirectory | LaidOutFile>>([[root, new Map()]]);
  for (const file of files) {
    const where = { path: file.path.join('/') };
    if (file.path.length === 0) throw isoError(ISO9660_NAME, 'a file has an empty path', where);
    if (file.path.length > MAX_LEVELS) {
      throw isoError(ISO9660_DEPTH, `${where.path} is ${file.path.length - 1} directories deep; ISO 9660 allows ${MAX_LEVELS} levels, the root included`, where);
    }
    if (!Number.isSafeInteger(file.size) || file.size < 0 || file.size > MAX_FILE_SIZE) {
      throw isoError(ISO9660_FILE_SIZE, `${where.path} is ${file.size} bytes; an ISO 9660 Level 1 file is one extent of at most ${MAX_FILE_SIZE} bytes`, {
        ...where,
        size: file.size,
      });
    }
    let dir = root;
    for (let i = 0; i < file.path.length; i++) {
      const component = file.path[i] ?? '';
      const siblings = byComponent.get(dir) as Map<string, LaidOutDirectory | LaidOutFile>;
      const existing = siblings.get(component);
      const last = i === file.path.length - 1;
      if (last) {
        if (existing) throw isoError(ISO9660_NAME, `${where.path} is given twice, or both as a file and a directory`, where);
        const node: LaidOutFile = { kind: 'file', identifier: iso9660Name(component, false), path: file.path, file, size: file.size, location: 0 };
        siblings.set(component, node);
        dir.children.push(node);
      } else if (existing?.kind === 'directory') {
        dir = existing;
      } else if (existing) {
        throw isoError(ISO9660_NAME, `${file.path.slice(0, i + 1).join('/')} is both a file and a directory`, where);
      } else {
        const node: LaidOutDirectory = {
          kind: 'directory',
          identifier: iso9660Name(component, true),
          path: file.path.slice(0, i + 1),
          parent: dir,
          level: dir.level + 1,
          children: [],
          number: 0,
          location: 0,
          size: 0,
        };
        siblings.set(component, node);
        byComponent.set(node, new Map());
        dir.children.push(node);
        dir = node;
      }
    }
  }
  return root;
}

/** Lays out the volume: path table order, directory sizes, and the location of every extent. */
export function layoutIso9660(files: readonly MediaFile[]): Iso9660Layout {
  const root = buildTree(files);

  // §6.9.1: level by level; within a level by parent number, then identifier. A breadth-first walk
  // over children sorted per §9.3 visits the directories in exactly that order.
  const directories: LaidOutDirectory[] = [];
  const queue: LaidOutDirectory[] = [root];
  for (let q = 0; q < queue.length; q++) {
    const dir = queue[q] as LaidOutDirectory;
    dir.children.sort((a, b) => compareIdentifiers(sortKey(a), sortKey(b)));
    directories.push(dir);
    dir.number = directories.length;
    for (const c of dir.children) if (c.kind === 'directory') queue.push(c);
  }
  if (directories.length > MAX_DIRECTORIES) {
    throw isoError(ISO9660_DEPTH, `${directories.length} directories; a path table numbers at most ${MAX_DIRECTORIES}`, { directories: directories.length });
  }

  const pathTable: PathTableRecord[] = directories.map((d) => ({
    identifier: d.identifier,
    location: 0,
    parentNumber: d.parent ? d.parent.number : 1,
    extendedAttributeLength: 0,
  }));
  const pathTableSize = sizeOfPathTable(pathTable);

  let next = SYSTEM_AREA_SECTORS + 2; // PVD and terminator
  const typeLPathTable = next;
  next += blocksOf(pathTableSize);
  const typeMPathTable = next;
  next += blocksOf(pathTableSize);

  directories.forEach((dir, i) => {
    // "." and ".." have one-byte identifiers.
    dir.size = sizeOfDirectory([1, 1, ...dir.children.map((c) => Buffer.byteLength(c.identifier, 'latin1'))]);
    dir.location = next;
    (pathTable[i] as PathTableRecord).location = next;
    next += dir.size / BLOCK_SIZE;
  });

  const laidOutFiles: LaidOutFile[] = [];
  const inOrder = directories.flatMap((dir) => dir.children.filter((c): c is LaidOutFile => c.kind === 'file'));
  // Files that must be written after all others (the signed manifest: it holds their hashes) go last.
  for (const c of [...inOrder.filter((f) => !f.file.emitLast), ...inOrder.filter((f) => f.file.emitLast)]) {
    {
      // An empty file has no extent: location 0 rather than a neighbour's block (genisoimage) or the
      // block past the end of the volume, which a strict reader could take for a bad extent.
      c.location = c.size === 0 ? 0 : next;
      next += blocksOf(c.size);
      laidOutFiles.push(c);
    }
  }
  if (next > MAX_BLOCKS) throw isoError(ISO9660_FILE_SIZE, `the image would be ${next} blocks; ISO 9660 counts at most ${MAX_BLOCKS}`, { blocks: next });

  return { root, directories, files: laidOutFiles, pathTable, pathTableSize, typeLPathTable, typeMPathTable, totalBlocks: next };
}
