/**
 * A RandomAccessReader over an already open file handle whose size the caller determined: the files
 * of a folder medium (opened with O_NOFOLLOW and checked, see folder.ts) and block devices, whose
 * `stat().size` is 0 on Linux (and macOS), so that FileReader cannot serve them.
 *
 * Device size, in this order (no ioctl: Node has none):
 *  1. an ISO 9660 volume: the Primary Volume Descriptor's volume space size × logical block size
 *     (ECMA-119 §8.4.8, §8.4.12). It is what the disc claims, and never reaches the unreadable
 *     run-out blocks past a recorded session, which a capacity query may include;
 *  2. Linux: /sys/dev/block/MAJOR:MINOR/size, in 512-byte units whatever the sector size;
 *  3. elsewhere: probing. Reading a block device at or past its end gives 0 bytes, so one-byte reads
 *     at doubling offsets, then a binary search, find the end in about 2 × 50 reads. A read error is
 *     taken as "past the end" (a damaged area shortens the device: what is past it is then reported
 *     by the image reader as outside the image, a typed error).
 */
import { readFile, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { DcmsafeError } from '../../errors/index.js';
import { fillFully, readableLength, readFully, type RandomAccessReader, type ReadsInto, type ReadStats } from '../io/random-access-reader.js';

/** Reads up to `length` bytes at `position`; fewer only at the end of the data (or when the file shrank). */
export function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  return readFully(length, position, async (b, off, len, pos) => (await handle.read(b, off, len, pos)).bytesRead);
}

export class HandleReader implements RandomAccessReader, ReadsInto {
  readonly stats: ReadStats = { bytesRead: 0, reads: 0 };
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly name: string,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    const n = readableLength(position, length, this.size, this.name);
    if (this.closed) throw new DcmsafeError('INTERNAL', `${this.name}: read after close`, { file: this.name });
    const buf = n === 0 ? Buffer.alloc(0) : await readAt(this.handle, position, n);
    this.stats.bytesRead += buf.length;
    this.stats.reads += 1;
    return buf;
  }

  async readInto(buf: Buffer, position: number, length: number): Promise<number> {
    const n = readableLength(position, Math.min(length, buf.length), this.size, this.name);
    if (this.closed) throw new DcmsafeError('INTERNAL', `${this.name}: read after close`, { file: this.name });
    const got = n === 0 ? 0 : await fillFully(buf, n, position, async (b, off, len, pos) => (await this.handle.read(b, off, len, pos)).bytesRead);
    this.stats.bytesRead += got;
    this.stats.reads += 1;
    return got;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** Linux dev_t (glibc's gnu_dev_major/gnu_dev_minor): major in bits 8-19 and 32-43, minor in bits 0-7 and 20-31. */
export function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

/** The size Linux gives in /sys/dev/block/M:m/size (512-byte units), or undefined when there is none. */
export async function sysfsDeviceSize(st: BigIntStats, sysRoot = '/sys/dev/block'): Promise<number | undefined> {
  const { major, minor } = deviceNumbers(st.rdev);
  try {
    const text = (await readFile(`${sysRoot}/${major}:${minor}/size`, 'latin1')).trim();
    if (!/^\d{1,16}$/.test(text)) return undefined;
    const bytes = Number(text) * 512;
    return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** The first offset at which a one-byte read gives nothing (the size), found by doubling then bisection. */
export async function probeSize(handle: FileHandle, maxSize = 2 ** 50): Promise<number> {
  const one = Buffer.alloc(1);
  const has = async (at: number): Promise<boolean> => {
    try {
      return (await handle.read(one, 0, 1, at)).bytesRead === 1;
    } catch {
      return false;
    }
  };
  if (!(await has(0))) return 0;
  // Invariant: byte `lo` exists, byte `hi` does not.
  let lo = 0;
  let hi = 1 << 20;
  while (await has(hi)) {
    lo = hi;
    if (hi >= maxSize) return hi + 1; // absurdly large: the image readers bound what they read anyway
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (await has(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}
