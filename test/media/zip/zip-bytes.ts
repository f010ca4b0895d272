/**
 * Hand-made ZIP bytes (PKWARE APPNOTE 4.3.7 local file header, 4.3.12 central directory header,
 * 4.3.16 end of central directory record) for tests that need ZIPs no honest writer makes: unsafe
 * names, lying sizes, overlapping entries, mismatched local headers.
 */
import zlib from 'node:zlib';

export interface RawEntry {
  /** Name in the central directory (a string is written as UTF-8 bytes). */
  name: string | Buffer;
  /** The bytes as stored (already deflated for method 8). */
  data: Buffer;
  method?: number;
  /** Declared uncompressed size (default: data.length). */
  size?: number;
  /** Declared compressed size (default: data.length). */
  compressedSize?: number;
  crc?: number;
  flags?: number;
  /** Name in the local header, if it should differ. */
  localName?: string | Buffer;
  /** Extra field of the local header only. */
  localExtra?: Buffer;
  /** Extra field of the central directory header only. */
  centralExtra?: Buffer;
  /** Write no local header and data: the central entry points at `offset` (overlap tests). */
  noLocal?: boolean;
  /** Local header offset written in the central directory (default: where the local header was written). */
  offset?: number;
}

const bytes = (s: string | Buffer): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const DOS_TIME = 0;
const DOS_DATE = (44 << 9) | (1 << 5) | 1; // 2024-01-01

export function localHeader(e: RawEntry): Buffer {
  const name = bytes(e.localName ?? e.name);
  const extra = e.localExtra ?? Buffer.alloc(0);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(e.flags ?? 0, 6);
  h.writeUInt16LE(e.method ?? 0, 8);
  h.writeUInt16LE(DOS_TIME, 10);
  h.writeUInt16LE(DOS_DATE, 12);
  h.writeUInt32LE((e.crc ?? zlib.crc32(e.method === 8 ? Buffer.alloc(0) : e.data)) >>> 0, 14);
  h.writeUInt32LE(e.compressedSize ?? e.data.length, 18);
  h.writeUInt32LE(e.size ?? e.data.length, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(extra.length, 28);
  return Buffer.concat([h, name, extra]);
}

function centralHeader(e: RawEntry, offset: number): Buffer {
  const name = bytes(e.name);
  const extra = e.centralExtra ?? Buffer.alloc(0);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(20, 6);
  h.writeUInt16LE(e.flags ?? 0, 8);
  h.writeUInt16LE(e.method ?? 0, 10);
  h.writeUInt16LE(DOS_TIME, 12);
  h.writeUInt16LE(DOS_DATE, 14);
  h.writeUInt32LE((e.crc ?? zlib.crc32(e.method === 8 ? Buffer.alloc(0) : e.data)) >>> 0, 16);
  h.writeUInt32LE(e.compressedSize ?? e.data.length, 20);
  h.writeUInt32LE(e.size ?? e.data.length, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt16LE(0, 32);
  h.writeUInt32LE(offset, 42);
  return Buffer.concat([h, name, extra]);
}

/** A whole ZIP: local headers and data in order, then the central directory and its end record. */
export function buildZip(entries: readonly RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const e of entries) {
    offsets.push(at);
    if (e.noLocal) continue;
    const lfh = localHeader(e);
    parts.push(lfh, e.data);
    at += lfh.length + e.data.length;
  }
  const centralOffset = at;
  const central = entries.map((e, i) => centralHeader(e, e.offset ?? (offsets[i] as number)));
  const centralBytes = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(centralBytes.length, 12);
  eocd.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([...parts, centralBytes, eocd]);
}

/**
 * A raw deflate stream of `mib` MiB of zeros, built cheaply: one MiB compressed with a full flush
 * (dictionary reset, byte-aligned, not final) is repeated, then a final empty fixed-Huffman block.
 */
export function deflatedZeros(mib: number): Buffer {
  const segment = zlib.deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array<Buffer>(mib).fill(segment), Buffer.from([0x03, 0x00])]);
}

/** CRC-32 of `mib` MiB of zeros. */
export function zerosCrc(mib: number): number {
  const block = Buffer.alloc(1 << 20);
  let crc = 0;
  for (let i = 0; i < mib; i++) crc = zlib.crc32(block, crc);
  return crc >>> 0;
}
