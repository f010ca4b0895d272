/**
 * The FAT32 FSInfo sector (Microsoft FAT32 File System Specification 1.03, §5 "FAT32 FSInfo Sector
 * Structure and Backup Boot Sector"): a hint of the free cluster count and of where to look for a free
 * cluster. dcmsafe writes it with exact values (the whole layout is known), at BPB_FSInfo and again
 * in the backup boot record (BPB_BkBootSec + 1). The reader ignores it, as §5 allows.
 */
import { BYTES_PER_SECTOR } from './boot-sector.js';

/** FSI_Nxt_Free / FSI_Free_Count value meaning "unknown". */
export const FSINFO_UNKNOWN = 0xffffffff;

export function encodeFsInfo(freeCount: number, nextFree: number): Buffer {
  const b = Buffer.alloc(BYTES_PER_SECTOR);
  b.writeUInt32LE(0x41615252, 0); // FSI_LeadSig (0): "RRaA"
  // FSI_Reserved1 (4, 480 bytes) stays 0.
  b.writeUInt32LE(0x61417272, 484); // FSI_StrucSig (484): "rrAa"
  b.writeUInt32LE(freeCount >>> 0, 488); // FSI_Free_Count (488)
  b.writeUInt32LE(nextFree >>> 0, 492); // FSI_Nxt_Free (492)
  // FSI_Reserved2 (496, 12 bytes) stays 0.
  b.writeUInt32LE(0xaa550000, 508); // FSI_TrailSig (508)
  return b;
}
