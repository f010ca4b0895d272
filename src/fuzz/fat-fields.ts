/**
 * FAT for the fuzzer: the fields a FAT reader trusts, found by walking a seed image, and a builder of
 * tiny FAT32 images for seeds (our writer's smallest FAT32 volume has 65 525 clusters, over 32 MiB, far
 * too big to copy and mutate per input; the reader, like Windows and Linux, takes BPB_FATSz16 = 0 as
 * FAT32 whatever the cluster count, so a FAT32 volume of a few dozen 512-byte clusters is read).
 *
 * Fields: MBR partition records, the BPB, every directory entry of the tree (attributes, NT flags,
 * first cluster high and low, size; long-name order, attribute and checksum), and the active FAT's
 * entries of every chain in use (with FAT[0] and FAT[1]). Only hints for the mutator: a walk that gets
 * lost just stops.
 */
import { encodeFat32BootSector, parseBootSector, type BiosParameterBlock } from '../media/fat/boot-sector.js';
import { shortNameChecksum, writeShortEntry, type FatTimestamp } from '../media/fat/directory-entry.js';
import { encodeFsInfo } from '../media/fat/fsinfo.js';
import { encodeMbr } from '../media/fat/mbr.js';
import type { Field } from './mutate.js';

const SECTOR = 512;
const MAX_CHAIN = 4096;
const MAX_DIRECTORIES = 256;

const le = (offset: number, size: 1 | 2 | 4): Field => ({ offset, size, endian: 'le' });

interface Volume {
  bpb: BiosParameterBlock;
  offset: number;
}

function locate(bytes: Buffer, fields: Field[]): Volume | undefined {
  if (bytes.length < SECTOR) return undefined;
  const direct = parseBootSector(bytes.subarray(0, SECTOR));
  if (typeof direct !== 'string') return { bpb: direct, offset: 0 };
  // MBR: the four partition records (boot indicator, type, start LBA, sectors).
  for (let i = 0; i < 4; i++) {
    const p = 446 + 16 * i;
    fields.push(le(p, 1), le(p + 4, 1), le(p + 8, 4), le(p + 12, 4));
  }
  const start = bytes.readUInt32LE(446 + 8) * SECTOR;
  if (start === 0 || start + SECTOR > bytes.length) return undefined;
  const bpb = parseBootSector(bytes.subarray(start, start + SECTOR));
  return typeof bpb === 'string' ? undefined : { bpb, offset: start };
}

export function fatFields(bytes: Buffer, limit = 4096): Field[] {
  const fields: Field[] = [];
  const v = locate(bytes, fields);
  if (!v) return fields;
  const { bpb, offset } = v;
  const o = offset;
  // BPB_BytsPerSec, SecPerClus, RsvdSecCnt, NumFATs, RootEntCnt, TotSec16, Media, FATSz16, TotSec32.
  fields.push(le(o + 11, 2), le(o + 13, 1), le(o + 14, 2), le(o + 16, 1), le(o + 17, 2), le(o + 19, 2), le(o + 21, 1), le(o + 22, 2), le(o + 32, 4));
  if (bpb.fatType === 'FAT32') fields.push(le(o + 36, 4), le(o + 40, 2), le(o + 44, 4)); // FATSz32, ExtFlags, RootClus
  const bps = bpb.bytesPerSector;
  const clusterBytes = bpb.sectorsPerCluster * bps;
  const fatStart = o + (bpb.reservedSectors + bpb.activeFat * bpb.fatSectors) * bps;
  const dataStart = o + bpb.firstDataSector * bps;
  const fatEntry = (c: number): Field | undefined => {
    if (bpb.fatType === 'FAT32') return fatStart + c * 4 + 4 <= bytes.length ? le(fatStart + c * 4, 4) : undefined;
    if (bpb.fatType === 'FAT16') return fatStart + c * 2 + 2 <= bytes.length ? le(fatStart + c * 2, 2) : undefined;
    const at = fatStart + c + (c >> 1); // FAT12: the two bytes holding the 12 bits
    return at + 2 <= bytes.length ? le(at, 2) : undefined;
  };
  const next = (c: number): number => {
    const f = fatEntry(c);
    if (!f) return 0;
    if (bpb.fatType === 'FAT32') return bytes.readUInt32LE(f.offset) & 0x0fffffff;
    if (bpb.fatType === 'FAT16') return bytes.readUInt16LE(f.offset);
    const w = bytes.readUInt16LE(f.offset);
    return c & 1 ? w >> 4 : w & 0xfff;
  };
  const chain = (first: number): number[] => {
    const out: number[] = [];
    const seen = new Set<number>();
    for (let c = first; c >= 2 && c <= bpb.clusterCount + 1 && !seen.has(c) && out.length < MAX_CHAIN; c = next(c)) {
      seen.add(c);
      out.push(c);
      const f = fatEntry(c);
      if (f) fields.push(f);
    }
    return out;
  };
  for (const c of [0, 1]) {
    const f = fatEntry(c);
    if (f) fields.push(f);
  }

  // Directories: each entry's fields, subdirectories and files followed.
  const dirs: Array<{ at: number[]; length: number }> = [];
  if (bpb.fatType === 'FAT32') dirs.push({ at: chain(bpb.rootCluster).map((c) => dataStart + (c - 2) * clusterBytes), length: clusterBytes });
  else dirs.push({ at: [o + (bpb.reservedSectors + bpb.numFats * bpb.fatSectors) * bps], length: bpb.rootEntryCount * 32 });
  const seenDirs = new Set<number>();
  for (let d = 0; d < dirs.length && d < MAX_DIRECTORIES && fields.length < limit; d++) {
    const dir = dirs[d]!;
    let ended = false;
    for (const start of dir.at) {
      for (let e = start; e + 32 <= Math.min(start + dir.length, bytes.length) && !ended; e += 32) {
        const first = bytes[e];
        if (first === 0) {
          ended = true;
          break;
        }
        const attr = bytes[e + 11]!;
        if ((attr & 0x3f) === 0x0f) {
          fields.push(le(e, 1), le(e + 11, 1), le(e + 13, 1), le(e + 26, 2)); // LDIR_Ord, Attr, Chksum, FstClusLO
          continue;
        }
        fields.push(le(e, 1), le(e + 11, 1), le(e + 12, 1), le(e + 20, 2), le(e + 26, 2), le(e + 28, 4)); // name[0], Attr, NTRes, FstClusHI/LO, FileSize
        if (first === 0xe5 || attr & 0x08) continue;
        const name = bytes.toString('latin1', e, e + 11);
        if (name.startsWith('.')) continue;
        const firstCluster = ((bpb.fatType === 'FAT32' ? bytes.readUInt16LE(e + 20) << 16 : 0) | bytes.readUInt16LE(e + 26)) >>> 0;
        if (firstCluster === 0) continue;
        const clusters = seenDirs.has(firstCluster) ? [] : chain(firstCluster);
        if (attr & 0x10 && !seenDirs.has(firstCluster)) {
          seenDirs.add(firstCluster);
          dirs.push({ at: clusters.map((c) => dataStart + (c - 2) * clusterBytes), length: clusterBytes });
        }
      }
      if (ended) break;
    }
  }
  return fields.slice(0, limit);
}

// ---------------------------------------------------------------------------------------------
// A tiny FAT32 image, for seeds

export interface TinyFile {
  /** Path components; names that are not 8.3 upper case get long-name entries. */
  readonly path: readonly string[];
  readonly bytes: Buffer;
  /** Its clusters with a free one between each (runs of one cluster). */
  readonly fragmented?: boolean;
}

interface Node {
  name: string;
  children: Map<string, Node>;
  file?: TinyFile;
  clusters: number[];
  short11: string;
}

const STAMP: FatTimestamp = { date: (44 << 9) | (5 << 5) | 6, time: (7 << 11) | (8 << 5) | 4, tenth: 100 };

function isShort(name: string): boolean {
  return /^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{1,3})?$/.test(name);
}

function shortOf(name: string, n: number): string {
  if (isShort(name)) {
    const [base, ext = ''] = name.split('.');
    return base!.padEnd(8, ' ') + ext.padEnd(3, ' ');
  }
  const dot = name.lastIndexOf('.');
  const base = (dot > 0 ? name.slice(0, dot) : name).toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 6) || 'F';
  const ext = (dot > 0 ? name.slice(dot + 1) : '').toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 3);
  return `${base}~${n}`.padEnd(8, ' ') + ext.padEnd(3, ' ');
}

/** Long-name entries (§7) for `name`, last first as they are recorded, then the short entry goes after. */
function longEntries(name: string, short11: string): Buffer[] {
  const units = Buffer.from(`${name}\u0000`, 'utf16le');
  const count = Math.ceil(name.length / 13);
  const padded = Buffer.alloc(count * 26, 0xff);
  units.copy(padded, 0, 0, Math.min(units.length, padded.length));
  const sum = shortNameChecksum(Buffer.from(short11, 'latin1'));
  const out: Buffer[] = [];
  for (let ord = count; ord >= 1; ord--) {
    const e = Buffer.alloc(32);
    const chars = padded.subarray((ord - 1) * 26, ord * 26);
    e[0] = ord | (ord === count ? 0x40 : 0); // LDIR_Ord
    chars.copy(e, 1, 0, 10); // LDIR_Name1
    e[11] = 0x0f; // LDIR_Attr
    e[13] = sum; // LDIR_Chksum
    chars.copy(e, 14, 10, 22); // LDIR_Name2
    chars.copy(e, 28, 22, 26); // LDIR_Name3
    out.push(e);
  }
  return out;
}

/**
 * A FAT32 volume of 512-byte sectors and clusters holding `files` (folders made as needed), with a
 * volume label entry, long names, "." and ".." entries, and `spare` free clusters; optionally behind an
 * MBR whose one partition starts at sector `partitionLba`.
 */
export function tinyFat32(files: readonly TinyFile[], options: { label?: string; spare?: number; partitionLba?: number } = {}): Buffer {
  const root: Node = { name: '', children: new Map(), clusters: [], short11: '' };
  for (const f of files) {
    let node = root;
    f.path.forEach((name, i) => {
      let child = node.children.get(name);
      if (!child) {
        child = { name, children: new Map(), clusters: [], short11: shortOf(name, node.children.size + 1), ...(i === f.path.length - 1 ? { file: f } : {}) };
        node.children.set(name, child);
      }
      node = child;
    });
  }
  const dirBytes = (n: Node): number => {
    let count = n === root ? 1 : 2; // the label, or "." and ".."
    for (const c of n.children.values()) count += 1 + (isShort(c.name) ? 0 : Math.ceil(c.name.length / 13));
    return count * 32;
  };
  // Clusters, depth first: a folder, then its children.
  let nextCluster = 2;
  const allocate = (n: Node): void => {
    const bytes = n.file ? n.file.bytes.length : dirBytes(n);
    const count = Math.max(n.file ? 0 : 1, Math.ceil(bytes / SECTOR));
    for (let i = 0; i < count; i++) {
      n.clusters.push(nextCluster++);
      if (n.file?.fragmented) nextCluster++;
    }
    for (const c of n.children.values()) allocate(c);
  };
  allocate(root);
  const clusterCount = nextCluster - 2 + (options.spare ?? 4);
  const fatSectors = Math.ceil(((clusterCount + 2) * 4) / SECTOR);
  const reserved = 32;
  const totalSectors = reserved + 2 * fatSectors + clusterCount;
  const volume = Buffer.alloc(totalSectors * SECTOR);
  const label = (options.label ?? 'FUZZ').padEnd(11, ' ');
  const boot = encodeFat32BootSector({ sectorsPerCluster: 1, totalSectors, fatSectors, hiddenSectors: options.partitionLba ?? 0, volumeId: 0x12345678, volumeLabel: label });
  boot.copy(volume, 0);
  boot.copy(volume, 6 * SECTOR);
  encodeFsInfo(clusterCount - (nextCluster - 2), nextCluster).copy(volume, SECTOR);
  const fat = Buffer.alloc(fatSectors * SECTOR);
  fat.writeUInt32LE(0x0ffffff8, 0);
  fat.writeUInt32LE(0x0fffffff, 4);
  const dataAt = (c: number): number => (reserved + 2 * fatSectors + c - 2) * SECTOR;
  const write = (n: Node, parent: Node | undefined): void => {
    n.clusters.forEach((c, i) => fat.writeUInt32LE(n.clusters[i + 1] ?? 0x0fffffff, c * 4));
    if (n.file) {
      n.clusters.forEach((c, i) => n.file!.bytes.copy(volume, dataAt(c), i * SECTOR, (i + 1) * SECTOR));
      return;
    }
    const entries: Buffer[] = [];
    const short = (name11: string, attr: number, firstCluster: number, size: number): Buffer => {
      const e = Buffer.alloc(32);
      writeShortEntry(e, 0, { name11, attr, firstCluster, size, stamp: STAMP });
      return e;
    };
    if (!parent) entries.push(short(label, 0x08, 0, 0));
    else entries.push(short('.          ', 0x10, n.clusters[0]!, 0), short('..         ', 0x10, parent === root ? 0 : parent.clusters[0]!, 0));
    for (const c of n.children.values()) {
      if (!isShort(c.name)) entries.push(...longEntries(c.name, c.short11));
      entries.push(short(c.short11, c.file ? 0x20 : 0x10, c.file && c.file.bytes.length === 0 ? 0 : c.clusters[0]!, c.file ? c.file.bytes.length : 0));
    }
    const bytes = Buffer.concat(entries);
    n.clusters.forEach((c, i) => bytes.copy(volume, dataAt(c), i * SECTOR, (i + 1) * SECTOR));
    for (const c of n.children.values()) write(c, n);
  };
  // An empty file keeps no cluster.
  const dropEmpty = (n: Node): void => {
    if (n.file && n.file.bytes.length === 0) n.clusters = [];
    n.children.forEach(dropEmpty);
  };
  dropEmpty(root);
  write(root, undefined);
  fat.copy(volume, reserved * SECTOR);
  fat.copy(volume, (reserved + fatSectors) * SECTOR);
  if (options.partitionLba === undefined) return volume;
  const mbr = Buffer.alloc(options.partitionLba * SECTOR);
  encodeMbr({ type: 0x0c, startLba: options.partitionLba, sectors: totalSectors }, 0xcafe).copy(mbr, 0);
  return Buffer.concat([mbr, volume]);
}
