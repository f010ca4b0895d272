/**
 * The File Allocation Table (Microsoft FAT32 File System Specification 1.03, §4 "FAT Data Structure";
 * ECMA-107 §6.5): one entry per cluster, 12, 16 or 32 bits (FAT32 uses the low 28), holding the next
 * cluster of a chain, 0 for free, BAD (…FF7) or end of chain (≥ …FF8). Entries 0 and 1 are reserved:
 * FAT[0] carries BPB_Media in its low byte, FAT[1] the end-of-chain mark with the clean-shutdown and
 * no-error bits set (§4.2).
 *
 * Writer: the FAT is generated chunk by chunk from the list of contiguous runs, never held whole.
 * Reader: entries are read on demand through a small cache of FAT blocks (FAT12/16 FATs are read
 * whole: at most 128 KiB).
 */
import type { RandomAccessReader } from '../io/random-access-reader.js';
import type { FatType } from './boot-sector.js';
import { fatError } from './errors.js';

/** FAT32 end-of-chain mark written by dcmsafe (any value ≥ 0x0FFFFFF8 ends a chain). */
export const FAT32_EOC = 0x0fffffff;
export const FAT32_ENTRY_BYTES = 4;

/** A contiguous chain: clusters start..start+count-1, each pointing to the next, the last one EOC. */
export interface ClusterRun {
  readonly start: number;
  readonly count: number;
}

/**
 * The bytes of one FAT32 FAT of `fatSectors` sectors, in chunks of at most `chunkBytes`, for runs
 * sorted by start and not overlapping. Entries beyond the runs are 0 (free).
 */
export function* fat32TableChunks(runs: readonly ClusterRun[], fatBytes: number, media: number, chunkBytes = 1 << 20): Generator<Buffer> {
  const perChunk = Math.max(1, Math.floor(chunkBytes / FAT32_ENTRY_BYTES));
  const totalEntries = fatBytes / FAT32_ENTRY_BYTES;
  let r = 0;
  for (let e0 = 0; e0 < totalEntries; e0 += perChunk) {
    const e1 = Math.min(totalEntries, e0 + perChunk);
    const b = Buffer.alloc((e1 - e0) * FAT32_ENTRY_BYTES);
    if (e0 === 0) {
      b.writeUInt32LE((0x0fffff00 | media) >>> 0, 0); // FAT[0] (0): media byte in bits 0-7, the rest set
      if (e1 > 1) b.writeUInt32LE(FAT32_EOC | 0x0c000000, 4); // FAT[1] (4): EOC, ClnShutBit and HrdErrBit set (clean)
    }
    while (r < runs.length && (runs[r] as ClusterRun).start + (runs[r] as ClusterRun).count <= e0) r++;
    for (let k = r; k < runs.length; k++) {
      const run = runs[k] as ClusterRun;
      if (run.start >= e1) break;
      const last = run.start + run.count - 1;
      const from = Math.max(run.start, e0);
      const to = Math.min(last + 1, e1);
      for (let c = from; c < to; c++) {
        b.writeUInt32LE(c === last ? FAT32_EOC : c + 1, (c - e0) * FAT32_ENTRY_BYTES); // FAT[c]: next cluster or EOC
      }
    }
    yield b;
  }
}

export type FatEntryKind = 'free' | 'next' | 'eoc' | 'bad' | 'reserved';

/** What a FAT entry value means for the FAT type (§4: …FF7 BAD, ≥ …FF8 EOC, 1 and …FF0-…FF6 reserved). */
export function classifyFatEntry(type: FatType, value: number): FatEntryKind {
  const bad = type === 'FAT32' ? 0x0ffffff7 : type === 'FAT16' ? 0xfff7 : 0xff7;
  if (value === 0) return 'free';
  if (value === 1) return 'reserved';
  if (value > bad) return 'eoc';
  if (value === bad) return 'bad';
  if (value >= bad - 7) return 'reserved';
  return 'next';
}

const BLOCK_BYTES = 64 << 10;
const MAX_BLOCKS = 256;

/** Read access to one FAT of a volume. */
export class FatTable {
  private readonly blocks = new Map<number, Buffer>();

  /**
   * @param offset byte position of the FAT in the image
   * @param fatBytes bytes of one FAT (BPB FAT size × bytes per sector)
   * @param entries entries to be read: clusterCount + 2
   */
  constructor(
    private readonly reader: RandomAccessReader,
    readonly type: FatType,
    private readonly offset: number,
    private readonly fatBytes: number,
    readonly entries: number,
  ) {}

  private blockSize(): number {
    // FAT12 entries straddle byte boundaries: FAT12/16 FATs (≤ 128 KiB) are one block.
    return this.type === 'FAT32' ? BLOCK_BYTES : this.fatBytes;
  }

  /** The entry of `cluster` when its block is cached, else undefined (call load first). */
  peek(cluster: number): number | undefined {
    const bs = this.blockSize();
    if (this.type === 'FAT32') {
      const pos = cluster * 4;
      const block = this.blocks.get(Math.floor(pos / bs));
      return block ? block.readUInt32LE(pos % bs) & 0x0fffffff : undefined;
    }
    const block = this.blocks.get(0);
    if (!block) return undefined;
    if (this.type === 'FAT16') return block.readUInt16LE(cluster * 2);
    const pos = cluster + (cluster >> 1); // FAT12: 1.5 bytes per entry (§4.1)
    const v = block.readUInt16LE(pos);
    return cluster & 1 ? v >> 4 : v & 0x0fff;
  }

  /** Reads the block holding `cluster`'s entry. */
  async load(cluster: number): Promise<void> {
    if (!Number.isInteger(cluster) || cluster < 0 || cluster >= this.entries) {
      throw fatError('FAT_CHAIN', `cluster ${cluster} is outside the FAT (${this.entries} entries)`, { cluster });
    }
    const bs = this.blockSize();
    const index = this.type === 'FAT32' ? Math.floor((cluster * 4) / bs) : 0;
    if (this.blocks.has(index)) return;
    const start = index * bs;
    const length = Math.min(bs, this.fatBytes - start);
    const block = await this.reader.read(this.offset + start, length);
    if (block.length !== length) {
      throw fatError('FAT_INVALID', `${this.reader.name}: the image ends inside the FAT`, { file: this.reader.name, offset: this.offset + start });
    }
    if (this.blocks.size >= MAX_BLOCKS) {
      const oldest = this.blocks.keys().next().value;
      if (oldest !== undefined) this.blocks.delete(oldest);
    }
    this.blocks.set(index, block);
  }

  async entry(cluster: number): Promise<number> {
    let v = this.peek(cluster);
    if (v === undefined) {
      await this.load(cluster);
      v = this.peek(cluster) as number;
    }
    return v;
  }
}
