/**
 * Reads a FAT12, FAT16 or FAT32 volume from an image (Microsoft FAT32 File System Specification 1.03;
 * ECMA-107): a "superfloppy" that starts with the boot sector, or a partitioned medium whose first
 * partition holds the volume (PS3.12 Annex R). Lists every file and folder (long names assembled from
 * §7 entries when their checksum matches, otherwise the 8.3 name) and opens files as random-access
 * readers over their cluster chains.
 *
 * The image is hostile until proven otherwise: cluster numbers are checked against the cluster count,
 * every cluster may belong to one chain only (so loops, cross-links and directories pointing to
 * themselves or an ancestor are found), chains must be exactly as long as the file sizes say, and
 * directory sizes, depth and the number of entries are bounded. All the work is linear in the FAT and
 * directory sizes. Errors are FAT_INVALID (not FAT, malformed boot sector or directories) and
 * FAT_CHAIN (cluster chains).
 */
import { DcmsafeError } from '../../errors/index.js';
import { readableLength, type RandomAccessReader } from '../io/random-access-reader.js';
import { parseBootSector, requireBootSector, type BiosParameterBlock, type FatType } from './boot-sector.js';
import { ATTR_DIRECTORY, decodeEntry, DIR_ENTRY_SIZE, LongNameAssembler, MAX_DIR_ENTRIES, safeComponent } from './directory-entry.js';
import { fatError } from './errors.js';
import { classifyFatEntry, FatTable, type ClusterRun } from './fat-table.js';
import { parsePartitionTable, SECTOR_SIZE } from './mbr.js';

export interface FatEntry {
  /** Path components from the root: long names where the directory has them, else 8.3 names. */
  path: string[];
  isDirectory: boolean;
  size: number;
  firstCluster: number;
  /** The 8.3 name of the last component as stored ("README.TXT"). */
  shortName: string;
}

export interface FatVolume {
  /** The volume label: the root directory's label entry, else the boot sector's; '' for none. */
  label: string;
  fatType: FatType;
  /** Byte offset of the volume in the image (0 for a superfloppy). */
  partitionOffset: number;
  /** Every file and folder, depth first, each directory's entries in on-disk order. */
  entries: FatEntry[];
  /** A reader over a file's cluster chain (checked when the volume was opened). Closing it leaves the image open. */
  openFile(entry: FatEntry): RandomAccessReader;
}

export interface FatOpenOptions {
  /** Most files and folders in the volume (default 1 000 000). */
  maxEntries?: number;
  /** Most path components (default 32). */
  maxDepth?: number;
}

const MBR_PROTECTIVE_GPT = 0xee;
const EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);

/** Finds the volume: the image's sector 0 as a boot sector, or else its first partition's (PS3.12 Annex R). */
async function locateVolume(reader: RandomAccessReader): Promise<{ bpb: BiosParameterBlock; offset: number }> {
  const sector0 = await reader.read(0, SECTOR_SIZE);
  if (sector0.length < SECTOR_SIZE) throw fatError('FAT_INVALID', `${reader.name}: shorter than one sector`, { file: reader.name });
  const direct = parseBootSector(sector0);
  if (typeof direct !== 'string') return { bpb: direct, offset: 0 };
  const parts = parsePartitionTable(sector0);
  if (!parts) throw fatError('FAT_INVALID', `${reader.name}: neither a FAT boot sector (${direct}) nor a partition table`, { file: reader.name });
  const first = parts[0];
  if (!first) throw fatError('FAT_INVALID', `${reader.name}: the partition table is empty and sector 0 is not a FAT boot sector (${direct})`, { file: reader.name });
  if (first.type === MBR_PROTECTIVE_GPT) throw fatError('FAT_INVALID', `${reader.name}: GPT-partitioned; only MBR partitions are read`, { file: reader.name });
  if (EXTENDED_TYPES.has(first.type)) throw fatError('FAT_INVALID', `${reader.name}: the first partition is an extended partition`, { file: reader.name });
  const offset = first.startLba * SECTOR_SIZE;
  if (first.startLba === 0 || offset + SECTOR_SIZE > reader.size) {
    throw fatError('FAT_INVALID', `${reader.name}: partition 1 starts at sector ${first.startLba}, outside the image`, { file: reader.name, offset });
  }
  const boot = await reader.read(offset, SECTOR_SIZE);
  const bpb = requireBootSector(boot, `${reader.name} partition ${first.index} (type 0x${first.type.toString(16).padStart(2, '0')})`);
  if (bpb.totalSectors * bpb.bytesPerSector > first.sectors * SECTOR_SIZE) {
    throw fatError('FAT_INVALID', `${reader.name}: the volume is larger than its partition`, { file: reader.name, offset });
  }
  return { bpb, offset };
}

class ClusterMap {
  private readonly bits: Uint8Array;
  constructor(entries: number) {
    this.bits = new Uint8Array(Math.ceil(entries / 8));
  }
  has(c: number): boolean {
    return ((this.bits[c >> 3] ?? 0) & (1 << (c & 7))) !== 0;
  }
  add(c: number): void {
    this.bits[c >> 3] = (this.bits[c >> 3] ?? 0) | (1 << (c & 7));
  }
}

function runsContain(runs: readonly ClusterRun[], c: number): boolean {
  return runs.some((r) => c >= r.start && c < r.start + r.count);
}

/** A file's bytes over its runs of clusters. */
class ChainReader implements RandomAccessReader {
  private readonly starts: number[] = [];

  constructor(
    private readonly image: RandomAccessReader,
    readonly name: string,
    readonly size: number,
    private readonly runs: readonly ClusterRun[],
    private readonly clusterBytes: number,
    private readonly clusterOffset: (cluster: number) => number,
  ) {
    let at = 0;
    for (const r of runs) {
      this.starts.push(at);
      at += r.count * clusterBytes;
    }
  }

  async read(position: number, length: number): Promise<Buffer> {
    readableLength(position, length, this.size, this.name);
    const end = Math.min(this.size, position + length);
    if (position >= end) return Buffer.alloc(0);
    // The last run starting at or before `position`.
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= position) lo = mid;
      else hi = mid - 1;
    }
    const pieces: Buffer[] = [];
    let pos = position;
    for (let i = lo; pos < end && i < this.runs.length; i++) {
      const run = this.runs[i] as ClusterRun;
      const runStart = this.starts[i] as number;
      const runEnd = runStart + run.count * this.clusterBytes;
      const n = Math.min(end, runEnd) - pos;
      const at = this.clusterOffset(run.start) + (pos - runStart);
      const piece = await this.image.read(at, n);
      if (piece.length !== n) {
        throw fatError('FAT_INVALID', `${this.image.name}: the image ends inside ${this.name}`, { file: this.image.name, offset: at + piece.length });
      }
      pieces.push(piece);
      pos += n;
    }
    return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export async function openFatImage(reader: RandomAccessReader, options: FatOpenOptions = {}): Promise<FatVolume> {
  const maxEntries = options.maxEntries ?? 1_000_000;
  const maxDepth = options.maxDepth ?? 32;
  const { bpb, offset } = await locateVolume(reader);
  const bps = bpb.bytesPerSector;
  const volumeEnd = offset + bpb.totalSectors * bps;
  if (volumeEnd > reader.size) {
    throw fatError('FAT_INVALID', `${reader.name}: the volume needs ${volumeEnd} bytes, the image has ${reader.size}`, { file: reader.name });
  }
  const clusterBytes = bpb.sectorsPerCluster * bps;
  const lastCluster = bpb.clusterCount + 1;
  const dataOffset = offset + bpb.firstDataSector * bps;
  const clusterOffset = (c: number): number => dataOffset + (c - 2) * clusterBytes;
  const fat = new FatTable(reader, bpb.fatType, offset + (bpb.reservedSectors + bpb.activeFat * bpb.fatSectors) * bps, bpb.fatSectors * bps, bpb.clusterCount + 2);
  const claimed = new ClusterMap(bpb.clusterCount + 2);
  const where = (path: readonly string[]): string => `${reader.name}: /${path.join('/')}`;

  /** Follows a chain, claiming its clusters; `tooLong` is thrown past `maxClusters`. */
  const walkChain = async (first: number, maxClusters: number, path: readonly string[], tooLong: () => DcmsafeError): Promise<ClusterRun[]> => {
    const runs: Array<{ start: number; count: number }> = [];
    let c = first;
    let n = 0;
    for (;;) {
      if (c < 2 || c > lastCluster) {
        throw fatError('FAT_CHAIN', `${where(path)}: cluster ${c} is outside 2..${lastCluster}`, { file: reader.name, cluster: c });
      }
      if (claimed.has(c)) {
        const loop = runsContain(runs, c);
        throw fatError('FAT_CHAIN', `${where(path)}: cluster ${c} ${loop ? 'comes twice in the chain (a loop)' : 'belongs to another chain (cross-linked)'}`, {
          file: reader.name,
          cluster: c,
        });
      }
      claimed.add(c);
      if (++n > maxClusters) throw tooLong();
      const last = runs[runs.length - 1];
      if (last && last.start + last.count === c) last.count++;
      else runs.push({ start: c, count: 1 });
      let v = fat.peek(c);
      if (v === undefined) {
        await fat.load(c);
        v = fat.peek(c) as number;
      }
      const kind = classifyFatEntry(bpb.fatType, v);
      if (kind === 'eoc') return runs;
      if (kind !== 'next') {
        throw fatError('FAT_CHAIN', `${where(path)}: the chain reaches a ${kind} FAT entry (0x${v.toString(16)}) at cluster ${c}`, { file: reader.name, cluster: c });
      }
      c = v;
    }
  };

  const readRuns = async (runs: readonly ClusterRun[]): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for (const r of runs) {
      const n = r.count * clusterBytes;
      const b = await reader.read(clusterOffset(r.start), n);
      if (b.length !== n) throw fatError('FAT_INVALID', `${reader.name}: the image ends inside a directory`, { file: reader.name });
      parts.push(b);
    }
    return Buffer.concat(parts);
  };

  const entries: FatEntry[] = [];
  const fileRuns = new Map<number, { size: number; runs: ClusterRun[] }>();
  let label: string | undefined;
  const maxDirClusters = Math.ceil((MAX_DIR_ENTRIES * DIR_ENTRY_SIZE) / clusterBytes);

  const walkDirectory = async (bytes: Buffer, path: string[]): Promise<void> => {
    const isRoot = path.length === 0;
    const names = new Set<string>();
    const lfn = new LongNameAssembler();
    for (let off = 0; off + DIR_ENTRY_SIZE <= bytes.length; off += DIR_ENTRY_SIZE) {
      const e = decodeEntry(bytes.subarray(off, off + DIR_ENTRY_SIZE), bpb.fatType === 'FAT32');
      if (e.kind === 'end') break;
      if (e.kind === 'long') {
        lfn.add(e);
        continue;
      }
      if (e.kind !== 'short') {
        lfn.reset();
        if (e.kind === 'label' && isRoot && label === undefined) label = e.label;
        continue;
      }
      const longName = lfn.take(e.raw);
      const name = longName ?? e.shortName;
      const childPath = [...path, name];
      if (!safeComponent(name) || !safeComponent(e.shortName)) {
        throw fatError('FAT_INVALID', `${where(path)}: unusable name ${JSON.stringify(name)}`, { file: reader.name });
      }
      const key = name.toLowerCase();
      if (names.has(key)) throw fatError('FAT_INVALID', `${where(childPath)} appears twice`, { file: reader.name });
      names.add(key);
      if (entries.length >= maxEntries) throw fatError('FAT_INVALID', `${reader.name}: more than ${maxEntries} files and folders`, { file: reader.name });
      if (childPath.length > maxDepth) throw fatError('FAT_INVALID', `${where(childPath)}: deeper than ${maxDepth} levels`, { file: reader.name });
      if (e.attr & ATTR_DIRECTORY) {
        if (e.firstCluster === 0) throw fatError('FAT_INVALID', `${where(childPath)}: a folder without clusters`, { file: reader.name });
        entries.push({ path: childPath, isDirectory: true, size: 0, firstCluster: e.firstCluster, shortName: e.shortName });
        const runs = await walkChain(e.firstCluster, maxDirClusters, childPath, () =>
          fatError('FAT_INVALID', `${where(childPath)}: a folder larger than ${MAX_DIR_ENTRIES} entries`, { file: reader.name }),
        );
        await walkDirectory(await readRuns(runs), childPath);
      } else {
        const needed = Math.ceil(e.size / clusterBytes);
        if (e.size === 0) {
          if (e.firstCluster !== 0) throw fatError('FAT_CHAIN', `${where(childPath)}: an empty file with a cluster chain`, { file: reader.name });
        } else {
          if (e.firstCluster === 0) throw fatError('FAT_CHAIN', `${where(childPath)}: ${e.size} bytes but no clusters`, { file: reader.name });
          const tooLong = (): DcmsafeError =>
            fatError('FAT_CHAIN', `${where(childPath)}: the chain is longer than the ${e.size} bytes of the file`, { file: reader.name });
          const runs = await walkChain(e.firstCluster, needed, childPath, tooLong);
          const got = runs.reduce((s, r) => s + r.count, 0);
          if (got !== needed) {
            throw fatError('FAT_CHAIN', `${where(childPath)}: ${e.size} bytes but a chain of ${got} cluster(s) (${got * clusterBytes} bytes)`, { file: reader.name });
          }
          fileRuns.set(e.firstCluster, { size: e.size, runs });
        }
        entries.push({ path: childPath, isDirectory: false, size: e.size, firstCluster: e.firstCluster, shortName: e.shortName });
      }
    }
  };

  // The root: a cluster chain on FAT32, a fixed region after the FATs on FAT12/16 (§3.2, §6).
  let rootBytes: Buffer;
  if (bpb.fatType === 'FAT32') {
    const runs = await walkChain(bpb.rootCluster, maxDirClusters, [], () => fatError('FAT_INVALID', `${reader.name}: a root folder larger than ${MAX_DIR_ENTRIES} entries`));
    rootBytes = await readRuns(runs);
  } else {
    const at = offset + (bpb.reservedSectors + bpb.numFats * bpb.fatSectors) * bps;
    rootBytes = await reader.read(at, bpb.rootEntryCount * DIR_ENTRY_SIZE);
    if (rootBytes.length !== bpb.rootEntryCount * DIR_ENTRY_SIZE) throw fatError('FAT_INVALID', `${reader.name}: the image ends inside the root folder`);
  }
  await walkDirectory(rootBytes, []);

  return {
    label: label ?? bpb.volumeLabel,
    fatType: bpb.fatType,
    partitionOffset: offset,
    entries,
    openFile(entry: FatEntry): RandomAccessReader {
      const name = `${reader.name}:/${entry.path.join('/')}`;
      if (entry.isDirectory) throw new DcmsafeError('INTERNAL', `${name} is a folder, not a file`, { file: reader.name });
      if (entry.size === 0 && entry.firstCluster === 0) return new ChainReader(reader, name, 0, [], clusterBytes, clusterOffset);
      const chain = fileRuns.get(entry.firstCluster);
      if (!chain || chain.size !== entry.size) throw new DcmsafeError('INTERNAL', `${name} is not a file of this volume`, { file: reader.name });
      return new ChainReader(reader, name, chain.size, chain.runs, clusterBytes, clusterOffset);
    },
  };
}
