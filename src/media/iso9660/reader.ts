/**
 * ISO 9660 reader (ECMA-119 §6-§9) for our images and those of other mastering tools: Levels 1 to 3
 * (multi-extent files, §6.5.1 and §9.1.6 bit 7), Joliet and Rock Ridge detected but names taken from
 * the primary directory tree (versions ";n" and a trailing "." removed).
 *
 * The input is hostile until proven otherwise: every extent is checked against the image, directory
 * loops are detected, the number of entries, the depth and the bytes of directories read are bounded,
 * and every failure is a typed error (ISO9660_INVALID for malformed structures, ISO9660_EXTENT for
 * extents outside the image, loops and limits).
 */
import { readableLength, type RandomAccessReader } from '../io/random-access-reader.js';
import { decodeDirectoryRecord, FILE_FLAG, type DirectoryRecord } from './directory-record.js';
import { ISO9660_EXTENT, ISO9660_INVALID, isoError } from './errors.js';
import { displayName, PARENT_IDENTIFIER, SELF_IDENTIFIER } from './file-identifier.js';
import { decodePrimaryVolumeDescriptor, type PrimaryVolumeDescriptor } from './primary-volume-descriptor.js';
import {
  decodeVolumeDescriptorHeader,
  isJolietDescriptor,
  SECTOR_SIZE,
  STANDARD_IDENTIFIER,
  SYSTEM_AREA_SECTORS,
  VOLUME_DESCRIPTOR_TYPE,
} from './volume-descriptor.js';

export interface IsoExtent {
  /** Logical block (of `IsoVolume.blockSize` bytes) where the data starts, after any extended attribute record. */
  block: number;
  length: number;
}

export interface IsoEntry {
  /** Names from the root, without ";1" and without a trailing ".". */
  path: string[];
  isDirectory: boolean;
  size: number;
  extents: IsoExtent[];
  recorded?: Date;
}

export interface IsoVolume {
  volumeIdentifier: string;
  systemIdentifier: string;
  blockSize: number;
  /** 3 when a file has several extents, 2 when a name is beyond Level 1's 8.3 d-characters, else 1. */
  level: 1 | 2 | 3;
  joliet: boolean;
  rockRidge: boolean;
  /** Depth first, each directory before its contents, each directory's records in recorded order. */
  entries: IsoEntry[];
  /** The file's bytes, its extents concatenated. The reader stays valid while the image reader is open. */
  openFile(entry: IsoEntry): RandomAccessReader;
}

export interface OpenIso9660Options {
  /** Most directory records (other than "." and "..") read in all; default 1 000 000. */
  maxEntries?: number;
  /** Deepest directory level, the root being 1; default 64. */
  maxDepth?: number;
}

/** A volume descriptor set read from sector 16 up to its terminator. */
export interface VolumeDescriptorSet {
  primary: PrimaryVolumeDescriptor;
  /** Image offset of the Primary Volume Descriptor. */
  primaryOffset: number;
  joliet: boolean;
  /** A version 2 supplementary descriptor (ISO 9660:1999, genisoimage -iso-level 4). */
  enhanced: boolean;
  terminatorSector: number;
}

/** More descriptors than any real image has; bounds the work on an image without a terminator. */
const MAX_DESCRIPTORS = 256;
const DIRECTORY_READ_CHUNK = 32 * SECTOR_SIZE;

export async function readVolumeDescriptorSet(reader: RandomAccessReader): Promise<VolumeDescriptorSet> {
  let primary: PrimaryVolumeDescriptor | undefined;
  let primaryOffset = 0;
  let joliet = false;
  let enhanced = false;
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const sector = SYSTEM_AREA_SECTORS + i;
    const offset = sector * SECTOR_SIZE;
    const buf = await reader.read(offset, SECTOR_SIZE);
    const where = { file: reader.name, offset };
    if (buf.length < SECTOR_SIZE) {
      throw isoError(ISO9660_INVALID, i === 0 ? `${reader.name} is too small to be an ISO 9660 image` : `${reader.name} ends inside its volume descriptor set`, where);
    }
    const h = decodeVolumeDescriptorHeader(buf);
    if (h.standardIdentifier !== STANDARD_IDENTIFIER) {
      throw isoError(ISO9660_INVALID, `${reader.name}: sector ${sector} is not an ISO 9660 volume descriptor (no "CD001")`, where);
    }
    if (h.type === VOLUME_DESCRIPTOR_TYPE.TERMINATOR) {
      if (!primary) throw isoError(ISO9660_INVALID, `${reader.name} has no Primary Volume Descriptor`, where);
      return { primary, primaryOffset, joliet, enhanced, terminatorSector: sector };
    }
    if (h.type === VOLUME_DESCRIPTOR_TYPE.PRIMARY && !primary) {
      primary = decodePrimaryVolumeDescriptor(buf, where);
      primaryOffset = offset;
    } else if (h.type === VOLUME_DESCRIPTOR_TYPE.SUPPLEMENTARY) {
      if (isJolietDescriptor(buf)) joliet = true;
      if (h.version === 2) enhanced = true;
    }
  }
  throw isoError(ISO9660_INVALID, `${reader.name}: no Volume Descriptor Set Terminator in ${MAX_DESCRIPTORS} descriptors`, { file: reader.name });
}

/** A directory record with where it was found. */
export interface LocatedRecord {
  /** With `length`, the LEN_DR byte. */
  record: DirectoryRecord & { length: number };
  /** Image offset of the record. */
  offset: number;
}

/**
 * The records of a directory extent of `dataLength` bytes at byte `start`, in recorded order. A zero
 * length byte ends the records of a sector (§6.8.1.1); a record crossing its sector is an error.
 */
export async function readDirectoryRecords(reader: RandomAccessReader, start: number, dataLength: number, maxRecords: number): Promise<LocatedRecord[]> {
  const out: LocatedRecord[] = [];
  for (let chunkStart = 0; chunkStart < dataLength; chunkStart += DIRECTORY_READ_CHUNK) {
    const chunkLength = Math.min(DIRECTORY_READ_CHUNK, dataLength - chunkStart);
    const buf = await reader.read(start + chunkStart, chunkLength);
    if (buf.length < chunkLength) {
      throw isoError(ISO9660_EXTENT, `${reader.name}: directory at ${start} ends past the image`, { file: reader.name, offset: start + chunkStart + buf.length });
    }
    const ctx = { file: reader.name, offset: start + chunkStart };
    for (let sector = 0; sector < buf.length; sector += SECTOR_SIZE) {
      const limit = Math.min(sector + SECTOR_SIZE, buf.length);
      let pos = sector;
      while (pos < limit && (buf[pos] ?? 0) !== 0) {
        const record = decodeDirectoryRecord(buf, pos, limit, ctx);
        if (out.length >= maxRecords) {
          throw isoError(ISO9660_EXTENT, `${reader.name}: the directory at ${start} has more records than the entry limit allows`, { file: reader.name, offset: ctx.offset + pos });
        }
        out.push({ record, offset: ctx.offset + pos });
        pos += record.length;
      }
    }
  }
  return out;
}

/** Whether the root's "." record starts with the SUSP "SP" entry (IEEE P1281 §5.3) that Rock Ridge requires. */
function hasSuspIndicator(rootSelf: DirectoryRecord): boolean {
  const su = rootSelf.systemUse;
  return su.length >= 7 && su.toString('latin1', 0, 2) === 'SP' && su[2] === 7 && su[4] === 0xbe && su[5] === 0xef;
}

/** §10.1 with §7.5.1: the "." is always recorded in a file identifier. */
const LEVEL1_NAME = /^[A-Z0-9_]{1,8}\.[A-Z0-9_]{0,3}(;\d+)?$/;
const LEVEL1_DIRECTORY = /^[A-Z0-9_]{1,8}$/;

/** Reads the volume descriptors and the whole primary directory tree. */
export async function openIso9660(reader: RandomAccessReader, options: OpenIso9660Options = {}): Promise<IsoVolume> {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const maxDepth = options.maxDepth ?? 64;
  const file = reader.name;
  const set = await readVolumeDescriptorSet(reader);
  const pvd = set.primary;
  const blockSize = pvd.logicalBlockSize;
  if (blockSize !== 512 && blockSize !== 1024 && blockSize !== 2048) {
    throw isoError(ISO9660_INVALID, `${file}: logical block size ${blockSize} (ECMA-119 §6.1.2 allows 512, 1024 or 2048)`, { file, offset: set.primaryOffset + 128 });
  }
  // Extents must lie inside both the bytes we have and the volume space the descriptor declares.
  const limit = Math.min(reader.size, pvd.volumeSpaceSize * blockSize);

  const dataStart = (r: DirectoryRecord): number => (r.location + r.extendedAttributeLength) * blockSize;
  const checkExtent = (r: DirectoryRecord, what: string, recordOffset: number): void => {
    if (r.dataLength === 0) return;
    const start = dataStart(r);
    if (start + r.dataLength > limit) {
      throw isoError(ISO9660_EXTENT, `${file}: ${what} extent (block ${r.location}, ${r.dataLength} bytes) ends past the volume (${limit} bytes)`, {
        file,
        offset: recordOffset,
        block: r.location,
        length: r.dataLength,
      });
    }
  };

  const root = pvd.rootDirectoryRecord;
  if (!(root.flags & FILE_FLAG.DIRECTORY)) throw isoError(ISO9660_INVALID, `${file}: the root directory record is not a directory`, { file, offset: set.primaryOffset + 156 });
  checkExtent(root, 'root directory', set.primaryOffset + 156);

  const entries: IsoEntry[] = [];
  const visited = new Set<number>();
  let records = 0;
  let directoryBytes = 0;
  let multiExtent = false;
  let beyondLevel1 = false;
  let rockRidge = false;

  const readDirectory = async (dir: DirectoryRecord, path: string[], level: number, recordOffset: number): Promise<void> => {
    const start = dataStart(dir);
    const where = { file, offset: recordOffset, path: `/${path.join('/')}` };
    if (visited.has(start)) throw isoError(ISO9660_EXTENT, `${file}: directory /${path.join('/')} is a directory already read (a loop)`, where);
    visited.add(start);
    // Directories do not overlap, so their bytes add up to less than the image: this bounds the work
    // on an image whose directories point into each other at different offsets.
    directoryBytes += dir.dataLength;
    if (directoryBytes > limit) throw isoError(ISO9660_EXTENT, `${file}: directories add up to more bytes than the volume (they overlap)`, where);
    const located = await readDirectoryRecords(reader, start, dir.dataLength, maxEntries - records + 2);
    const [self, parent] = located;
    if (!self || self.record.identifier !== SELF_IDENTIFIER || !parent || parent.record.identifier !== PARENT_IDENTIFIER) {
      throw isoError(ISO9660_INVALID, `${file}: directory /${path.join('/')} does not start with "." and ".." records`, where);
    }
    if (self.record.location !== dir.location) {
      throw isoError(ISO9660_INVALID, `${file}: the "." record of /${path.join('/')} points to block ${self.record.location}, not ${dir.location}`, {
        ...where,
        offset: self.offset,
      });
    }
    if (level === 1) rockRidge = hasSuspIndicator(self.record);

    const names = new Set<string>();
    let chain: LocatedRecord[] = [];
    for (const item of located.slice(2)) {
      const r = item.record;
      records += 1;
      if (records > maxEntries) throw isoError(ISO9660_EXTENT, `${file}: more than ${maxEntries} directory records`, { file, offset: item.offset });
      const at = { file, offset: item.offset };
      if (r.identifier === SELF_IDENTIFIER || r.identifier === PARENT_IDENTIFIER) {
        throw isoError(ISO9660_INVALID, `${file}: a "." or ".." record in the middle of /${path.join('/')}`, at);
      }
      if (chain.length > 0 && chain[0]?.record.identifier !== r.identifier) {
        throw isoError(ISO9660_INVALID, `${file}: multi-extent file ${chain[0]?.record.identifier} has no final record`, at);
      }
      if (r.flags & FILE_FLAG.MULTI_EXTENT) {
        if (r.flags & FILE_FLAG.DIRECTORY) throw isoError(ISO9660_INVALID, `${file}: a directory record with the multi-extent flag`, at);
        chain.push(item);
        continue;
      }
      const parts = [...chain, item];
      chain = [];
      if (r.flags & FILE_FLAG.ASSOCIATED_FILE) continue; // §6.5.4: an associated file belongs to the file of the same name
      if (r.fileUnitSize !== 0 || r.interleaveGapSize !== 0) {
        throw isoError(ISO9660_INVALID, `${file}: ${r.identifier} is recorded in interleaved mode, which this reader does not read`, at);
      }
      const name = displayName(r.identifier);
      if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
        throw isoError(ISO9660_INVALID, `${file}: unusable name ${JSON.stringify(r.identifier)} in /${path.join('/')}`, at);
      }
      if (names.has(name)) throw isoError(ISO9660_INVALID, `${file}: /${[...path, name].join('/')} appears twice`, at);
      names.add(name);
      const isDirectory = (r.flags & FILE_FLAG.DIRECTORY) !== 0;
      if (parts.length > 1) multiExtent = true;
      if (!(isDirectory ? LEVEL1_DIRECTORY : LEVEL1_NAME).test(r.identifier)) beyondLevel1 = true;
      for (const p of parts) checkExtent(p.record, `/${[...path, name].join('/')}`, p.offset);
      const extents = parts.map((p) => ({ block: p.record.location + p.record.extendedAttributeLength, length: p.record.dataLength }));
      const entry: IsoEntry = { path: [...path, name], isDirectory, size: extents.reduce((n, e) => n + e.length, 0), extents };
      if (r.recorded) entry.recorded = r.recorded;
      entries.push(entry);
      if (isDirectory) {
        if (level + 1 > maxDepth) throw isoError(ISO9660_EXTENT, `${file}: /${entry.path.join('/')} is deeper than ${maxDepth} levels`, at);
        await readDirectory(r, entry.path, level + 1, item.offset);
      }
    }
    if (chain.length > 0) throw isoError(ISO9660_INVALID, `${file}: multi-extent file ${chain[0]?.record.identifier} has no final record`, where);
  };

  await readDirectory(root, [], 1, set.primaryOffset + 156);

  return {
    volumeIdentifier: pvd.volumeIdentifier,
    systemIdentifier: pvd.systemIdentifier,
    blockSize,
    level: multiExtent ? 3 : beyondLevel1 ? 2 : 1,
    joliet: set.joliet,
    rockRidge,
    entries,
    openFile: (entry) => new ExtentReader(reader, entry, blockSize),
  };
}

/** A file's extents, concatenated, as one RandomAccessReader. */
class ExtentReader implements RandomAccessReader {
  readonly size: number;
  readonly name: string;

  constructor(
    private readonly image: RandomAccessReader,
    private readonly entry: IsoEntry,
    private readonly blockSize: number,
  ) {
    this.size = entry.extents.reduce((n, e) => n + e.length, 0);
    this.name = `${image.name}:/${entry.path.join('/')}`;
  }

  async read(position: number, length: number): Promise<Buffer> {
    readableLength(position, length, this.size, this.name);
    const end = Math.min(position + length, this.size);
    const parts: Buffer[] = [];
    let base = 0;
    for (const e of this.entry.extents) {
      const from = Math.max(position, base);
      const to = Math.min(end, base + e.length);
      if (from < to) {
        const at = e.block * this.blockSize + (from - base);
        const got = await this.image.read(at, to - from);
        if (got.length < to - from) {
          throw isoError(ISO9660_EXTENT, `${this.name}: the image ends at ${at + got.length}, inside the file`, { file: this.image.name, offset: at + got.length });
        }
        parts.push(got);
      }
      base += e.length;
      if (base >= end) break;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
