/**
 * The FAT boot sector and its BIOS Parameter Block (Microsoft FAT32 File System Specification 1.03,
 * §3 "Boot Sector and BPB", §3.1 common fields, §3.2 FAT12/16 fields, §3.3 FAT32 fields; ECMA-107
 * 2nd ed. §6.3 for the common part). The writer emits FAT32 only; the reader parses all three FAT
 * types and decides the type by the count of clusters as §3.5 says, except that a BPB with
 * BPB_FATSz16 = 0 is FAT32 whatever its count (as Windows and Linux decide).
 */
import { fatError } from './errors.js';

export const RESERVED_SECTORS = 32;
export const NUM_FATS = 2;
export const FSINFO_SECTOR = 1;
export const BACKUP_BOOT_SECTOR = 6;
export const ROOT_CLUSTER = 2;
/** BPB_Media for fixed (non-removable) media; also the low byte of FAT[0]. */
export const MEDIA_FIXED = 0xf8;
export const BYTES_PER_SECTOR = 512;
/** Fewest clusters of a FAT32 volume, and the largest cluster count FAT16 allows plus one (§3.5). */
export const FAT32_MIN_CLUSTERS = 65525;
/** Most clusters of a FAT32 volume: cluster numbers stop below 0x0FFFFFF7 (BAD), so 2..0x0FFFFFF6. */
export const FAT32_MAX_CLUSTERS = 0x0ffffff5;
export const FAT12_MAX_CLUSTERS = 4084;
export const FAT16_MAX_CLUSTERS = 65524;

export type FatType = 'FAT12' | 'FAT16' | 'FAT32';

export interface Fat32BootParams {
  sectorsPerCluster: number;
  /** Sectors of the volume (BPB_TotSec32). */
  totalSectors: number;
  /** Sectors of one FAT (BPB_FATSz32). */
  fatSectors: number;
  /** Sectors before the volume on the medium (BPB_HiddSec): the partition's start LBA. */
  hiddenSectors: number;
  volumeId: number;
  /** 11 characters, space-padded ("NO NAME    " for none). */
  volumeLabel: string;
}

/** A FAT32 boot sector (§3.1 and §3.3), 512 bytes. Written at sector 0 and again at BPB_BkBootSec. */
export function encodeFat32BootSector(p: Fat32BootParams): Buffer {
  const b = Buffer.alloc(BYTES_PER_SECTOR);
  b[0] = 0xeb; // BS_jmpBoot (0): short jump to the boot code at 90, then NOP
  b[1] = 0x58;
  b[2] = 0x90;
  b.write('MSWIN4.1', 3, 'latin1'); // BS_OEMName (3): the value §3.1 calls the most compatible
  b.writeUInt16LE(BYTES_PER_SECTOR, 11); // BPB_BytsPerSec (11)
  b[13] = p.sectorsPerCluster; // BPB_SecPerClus (13)
  b.writeUInt16LE(RESERVED_SECTORS, 14); // BPB_RsvdSecCnt (14)
  b[16] = NUM_FATS; // BPB_NumFATs (16)
  b.writeUInt16LE(0, 17); // BPB_RootEntCnt (17): 0 on FAT32
  b.writeUInt16LE(0, 19); // BPB_TotSec16 (19): 0 on FAT32
  b[21] = MEDIA_FIXED; // BPB_Media (21)
  b.writeUInt16LE(0, 22); // BPB_FATSz16 (22): 0 on FAT32
  b.writeUInt16LE(63, 24); // BPB_SecPerTrk (24): the usual LBA translation geometry
  b.writeUInt16LE(255, 26); // BPB_NumHeads (26)
  b.writeUInt32LE(p.hiddenSectors, 28); // BPB_HiddSec (28)
  b.writeUInt32LE(p.totalSectors, 32); // BPB_TotSec32 (32)
  b.writeUInt32LE(p.fatSectors, 36); // BPB_FATSz32 (36)
  b.writeUInt16LE(0, 40); // BPB_ExtFlags (40): FATs mirrored at runtime
  b.writeUInt16LE(0, 42); // BPB_FSVer (42): 0.0
  b.writeUInt32LE(ROOT_CLUSTER, 44); // BPB_RootClus (44)
  b.writeUInt16LE(FSINFO_SECTOR, 48); // BPB_FSInfo (48)
  b.writeUInt16LE(BACKUP_BOOT_SECTOR, 50); // BPB_BkBootSec (50)
  // BPB_Reserved (52, 12 bytes) stays 0.
  b[64] = 0x80; // BS_DrvNum (64): hard disk
  b[65] = 0; // BS_Reserved1 (65)
  b[66] = 0x29; // BS_BootSig (66): the next three fields are present
  b.writeUInt32LE(p.volumeId >>> 0, 67); // BS_VolID (67)
  b.write(p.volumeLabel.padEnd(11, ' ').slice(0, 11), 71, 'latin1'); // BS_VolLab (71)
  b.write('FAT32   ', 82, 'latin1'); // BS_FilSysType (82): informative only (§3.3)
  // Boot code (90): "int 18h" (not bootable: the BIOS tries the next device), then halt.
  Buffer.from([0xcd, 0x18, 0xf4, 0xeb, 0xfd]).copy(b, 90);
  b[510] = 0x55; // Signature_word (510): 0xAA55
  b[511] = 0xaa;
  return b;
}

/** What the reader needs from a boot sector, with the derived layout (§3.5). */
export interface BiosParameterBlock {
  fatType: FatType;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  rootEntryCount: number;
  totalSectors: number;
  fatSectors: number;
  /** FAT32: BPB_RootClus; FAT12/16: 0 (the root is a fixed region). */
  rootCluster: number;
  /** FAT32 BPB_ExtFlags bits 0-3 when bit 7 (mirroring off) is set; otherwise 0. */
  activeFat: number;
  /** BS_VolLab, trailing spaces removed; '' when absent or "NO NAME". */
  volumeLabel: string;
  rootDirSectors: number;
  firstDataSector: number;
  clusterCount: number;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * Parses and checks a boot sector (at least 512 bytes). Returns a reason string instead of throwing
 * when the sector is not a FAT boot sector, so that the caller can try it as an MBR instead.
 */
export function parseBootSector(b: Buffer): BiosParameterBlock | string {
  if (b.length < BYTES_PER_SECTOR) return 'shorter than one sector';
  const jmp = (b[0] === 0xeb && b[2] === 0x90) || b[0] === 0xe9; // BS_jmpBoot (0)
  if (!jmp) return 'no jump instruction at byte 0';
  if (b[510] !== 0x55 || b[511] !== 0xaa) return 'no 0xAA55 signature at byte 510';
  const bytesPerSector = b.readUInt16LE(11); // BPB_BytsPerSec (11)
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) return `bytes per sector ${bytesPerSector}`;
  const sectorsPerCluster = b[13] ?? 0; // BPB_SecPerClus (13)
  if (!isPowerOfTwo(sectorsPerCluster) || sectorsPerCluster > 128) return `sectors per cluster ${sectorsPerCluster}`;
  if (sectorsPerCluster * bytesPerSector > 65536) return `cluster size ${sectorsPerCluster * bytesPerSector}`;
  const reservedSectors = b.readUInt16LE(14); // BPB_RsvdSecCnt (14)
  if (reservedSectors < 1) return 'no reserved sectors';
  const numFats = b[16] ?? 0; // BPB_NumFATs (16)
  if (numFats < 1 || numFats > 4) return `${numFats} FATs`;
  const rootEntryCount = b.readUInt16LE(17); // BPB_RootEntCnt (17)
  const totSec16 = b.readUInt16LE(19); // BPB_TotSec16 (19)
  const media = b[21] ?? 0; // BPB_Media (21)
  if (media !== 0xf0 && media < 0xf8) return `media byte 0x${media.toString(16)}`;
  const fatSz16 = b.readUInt16LE(22); // BPB_FATSz16 (22)
  const totSec32 = b.readUInt32LE(32); // BPB_TotSec32 (32)
  const totalSectors = totSec16 !== 0 ? totSec16 : totSec32;
  if (totalSectors === 0) return 'no total sector count';
  const fat32Layout = fatSz16 === 0;
  const fatSectors = fat32Layout ? b.readUInt32LE(36) : fatSz16; // BPB_FATSz32 (36) or BPB_FATSz16 (22)
  if (fatSectors === 0) return 'no FAT size';
  if (fat32Layout && rootEntryCount !== 0) return 'FAT32 BPB with a fixed root directory';
  if (!fat32Layout && rootEntryCount === 0) return 'FAT12/16 BPB without root directory entries';
  const rootDirSectors = Math.ceil((rootEntryCount * 32) / bytesPerSector);
  const firstDataSector = reservedSectors + numFats * fatSectors + rootDirSectors;
  if (firstDataSector >= totalSectors) return 'no data region';
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  if (clusterCount < 1) return 'no clusters';
  let fatType: FatType;
  if (fat32Layout) fatType = 'FAT32';
  else if (clusterCount <= FAT12_MAX_CLUSTERS) fatType = 'FAT12';
  else if (clusterCount <= FAT16_MAX_CLUSTERS) fatType = 'FAT16';
  else return `${clusterCount} clusters with a FAT12/16 BPB`;
  if (fatType === 'FAT32' && clusterCount > FAT32_MAX_CLUSTERS) return `${clusterCount} clusters`;
  const bits = fatType === 'FAT32' ? 32 : fatType === 'FAT16' ? 16 : 12;
  if (Math.floor((fatSectors * bytesPerSector * 8) / bits) < clusterCount + 2) return 'FAT too small for the cluster count';
  let rootCluster = 0;
  let activeFat = 0;
  let labelOffset = 43; // BS_VolLab (43) on FAT12/16
  let bootSigOffset = 38; // BS_BootSig (38) on FAT12/16
  if (fatType === 'FAT32') {
    const extFlags = b.readUInt16LE(40); // BPB_ExtFlags (40)
    if (extFlags & 0x80) activeFat = extFlags & 0x0f;
    if (activeFat >= numFats) return `active FAT ${activeFat} of ${numFats}`;
    rootCluster = b.readUInt32LE(44); // BPB_RootClus (44)
    if (rootCluster < 2 || rootCluster > clusterCount + 1) return `root cluster ${rootCluster} outside 2..${clusterCount + 1}`;
    labelOffset = 71; // BS_VolLab (71)
    bootSigOffset = 66; // BS_BootSig (66)
  }
  let volumeLabel = '';
  if (b[bootSigOffset] === 0x29) {
    volumeLabel = b.toString('latin1', labelOffset, labelOffset + 11).replace(/ +$/, '');
    if (volumeLabel === 'NO NAME') volumeLabel = '';
  }
  return {
    fatType,
    bytesPerSector,
    sectorsPerCluster,
    reservedSectors,
    numFats,
    rootEntryCount,
    totalSectors,
    fatSectors,
    rootCluster,
    activeFat,
    volumeLabel,
    rootDirSectors,
    firstDataSector,
    clusterCount,
  };
}

/** Like parseBootSector, but a sector that is not a FAT boot sector is a FAT_INVALID error. */
export function requireBootSector(b: Buffer, where: string): BiosParameterBlock {
  const r = parseBootSector(b);
  if (typeof r === 'string') throw fatError('FAT_INVALID', `${where}: not a FAT boot sector (${r})`);
  return r;
}
