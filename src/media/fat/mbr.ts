/**
 * The master boot record of a partitioned USB stick image: one sector, boot code area, disk signature
 * and four 16-byte partition records (layout as in UEFI 2.10 §5.2.1 "Legacy Master Boot Record",
 * Tables 5-1 and 5-2). PS3.12 Annex R allows partitioned or unpartitioned media; dcmsafe writes one
 * primary FAT32 (LBA) partition starting at 1 MiB, the alignment every current partitioning tool uses.
 */

export const SECTOR_SIZE = 512;
/** First sector of our one partition: 1 MiB, so clusters line up with flash erase blocks. */
export const PARTITION_START_LBA = 2048;
/** Partition types of FAT volumes (FAT12, FAT16 <32M, FAT16, FAT32 CHS, FAT32 LBA, FAT16 LBA). */
export const FAT_PARTITION_TYPES: ReadonlySet<number> = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);
export const PARTITION_TYPE_FAT32_LBA = 0x0c;
const PARTITION_TABLE_OFFSET = 446;
const PARTITION_RECORD_SIZE = 16;

/** CHS address of an LBA with the 255-head, 63-sector translation, capped at 1023/254/63 (UEFI §5.2.1). */
function chs(lba: number): [number, number, number] {
  const heads = 255;
  const sectors = 63;
  const c = Math.floor(lba / (heads * sectors));
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / sectors) % heads;
  const s = (lba % sectors) + 1;
  return [h, (s & 0x3f) | ((c >> 2) & 0xc0), c & 0xff];
}

export interface MbrPartition {
  type: number;
  startLba: number;
  sectors: number;
}

/** One MBR sector with a single primary partition (record 1), not bootable. */
export function encodeMbr(partition: MbrPartition, diskSignature: number): Buffer {
  const b = Buffer.alloc(SECTOR_SIZE);
  // BootCode (0, 440 bytes): "int 18h" (no bootable partition: the BIOS tries the next device), then halt.
  Buffer.from([0xcd, 0x18, 0xf4, 0xeb, 0xfd]).copy(b, 0);
  b.writeUInt32LE(diskSignature >>> 0, 440); // UniqueMBRDiskSignature (440)
  // Unknown (444, 2 bytes) stays 0.
  const p = PARTITION_TABLE_OFFSET;
  b[p] = 0x00; // BootIndicator (+0): not active
  const [sh, ss, sc] = chs(partition.startLba);
  b[p + 1] = sh; // StartHead (+1)
  b[p + 2] = ss; // StartSector (+2), bits 8-9 of StartTrack in the top bits
  b[p + 3] = sc; // StartTrack (+3)
  b[p + 4] = partition.type; // OSType (+4)
  const [eh, es, ec] = chs(partition.startLba + partition.sectors - 1);
  b[p + 5] = eh; // EndHead (+5)
  b[p + 6] = es; // EndSector (+6)
  b[p + 7] = ec; // EndTrack (+7)
  b.writeUInt32LE(partition.startLba, p + 8); // StartingLBA (+8)
  b.writeUInt32LE(partition.sectors, p + 12); // SizeInLBA (+12)
  b[510] = 0x55; // Signature (510): 0xAA55
  b[511] = 0xaa;
  return b;
}

export interface PartitionRecord extends MbrPartition {
  /** 1-4, the record's place in the table. */
  index: number;
  bootIndicator: number;
}

/** The non-empty partition records of an MBR sector, or undefined when the sector has no 0xAA55 signature. */
export function parsePartitionTable(sector: Buffer): PartitionRecord[] | undefined {
  if (sector.length < SECTOR_SIZE || sector[510] !== 0x55 || sector[511] !== 0xaa) return undefined;
  const out: PartitionRecord[] = [];
  for (let i = 0; i < 4; i++) {
    const p = PARTITION_TABLE_OFFSET + i * PARTITION_RECORD_SIZE;
    const type = sector[p + 4] ?? 0; // OSType (+4)
    const startLba = sector.readUInt32LE(p + 8); // StartingLBA (+8)
    const sectors = sector.readUInt32LE(p + 12); // SizeInLBA (+12)
    if (type === 0 || sectors === 0) continue;
    out.push({ index: i + 1, bootIndicator: sector[p] ?? 0, type, startLba, sectors });
  }
  return out;
}
