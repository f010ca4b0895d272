/**
 * FAT directory entries (Microsoft FAT32 File System Specification 1.03, §6 "FAT Directory
 * Structure", §6.1 file/directory name field, §6.2 date and time, §7 "FAT Long Directory Entries";
 * ECMA-107 §6.6). Each entry is 32 bytes. dcmsafe writes short (8.3) entries only; the reader also
 * assembles long names (§7) when their checksum matches the short entry that follows them.
 */
import { fatError } from './errors.js';

export const DIR_ENTRY_SIZE = 32;
/** §6: a directory holds at most 65 536 entries (2 MiB). */
export const MAX_DIR_ENTRIES = 65536;

export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_LONG_NAME = ATTR_READ_ONLY | ATTR_HIDDEN | ATTR_SYSTEM | ATTR_VOLUME_ID;
const ATTR_LONG_NAME_MASK = 0x3f;

/** Characters allowed in a short name besides A-Z and 0-9 (§6.1; no space: some tools refuse it inside names). */
const SHORT_NAME_SYMBOLS = "!#$%&'()-@^_`{}~";
const DEVICE_NAMES = /^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])$/;

function shortChar(c: string): boolean {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || SHORT_NAME_SYMBOLS.includes(c);
}

/**
 * Checks that `component` is an 8.3 upper-case name (1-8 characters, optionally a dot and 1-3
 * characters of extension, from A-Z 0-9 and !#$%&'()-@^_`{}~) and returns its 11-character
 * directory-entry form, base and extension space-padded: "README.TXT" → "README  TXT".
 * Throws FAT_NAME otherwise, and for DOS device names (CON, PRN, AUX, NUL, COM1-9, LPT1-9).
 */
export function fat83Name(component: string): string {
  const bad = (why: string): never => {
    throw fatError('FAT_NAME', `"${component}" is not an 8.3 upper-case FAT name: ${why}`, { name: component });
  };
  const dot = component.indexOf('.');
  const base = dot < 0 ? component : component.slice(0, dot);
  const ext = dot < 0 ? '' : component.slice(dot + 1);
  if (base.length === 0) bad('empty name');
  if (base.length > 8) bad('more than 8 characters before the dot');
  if (dot >= 0 && ext.length === 0) bad('empty extension after the dot');
  if (ext.includes('.')) bad('more than one dot');
  if (ext.length > 3) bad('more than 3 characters after the dot');
  for (const c of base + ext) {
    if (!shortChar(c)) bad(`character ${JSON.stringify(c)} (allowed: A-Z 0-9 ${SHORT_NAME_SYMBOLS})`);
  }
  if (DEVICE_NAMES.test(base)) bad('a DOS device name');
  return base.padEnd(8, ' ') + ext.padEnd(3, ' ');
}

/** "README  TXT" → "README.TXT". */
export function displayShortName(name11: string): string {
  const base = name11.slice(0, 8).replace(/ +$/, '');
  const ext = name11.slice(8, 11).replace(/ +$/, '');
  return ext ? `${base}.${ext}` : base;
}

/**
 * Checks a volume label (≤ 11 characters from the short-name set plus inner spaces, no lower case)
 * and returns its 11-character space-padded form; '' gives "NO NAME    ", the BPB value for none (§3.1).
 */
export function fatVolumeLabel(label: string): string {
  const trimmed = label.replace(/ +$/, '');
  if (trimmed === '') return 'NO NAME    ';
  const bad = (why: string): never => {
    throw fatError('FAT_NAME', `"${label}" is not a FAT volume label: ${why}`, { label });
  };
  if (trimmed.length > 11) bad('more than 11 characters');
  if (trimmed.startsWith(' ')) bad('starts with a space');
  for (const c of trimmed) {
    if (c !== ' ' && !shortChar(c)) bad(`character ${JSON.stringify(c)} (allowed: A-Z 0-9 space ${SHORT_NAME_SYMBOLS})`);
  }
  return trimmed.padEnd(11, ' ');
}

/** A FAT date and time (§6.2: dates from 1980 to 2107, times in 2-second units plus a 10 ms count). */
export interface FatTimestamp {
  date: number;
  time: number;
  /** 0-199: hundredths of a second within the 2-second unit. */
  tenth: number;
}

/**
 * The FAT timestamp of `now`, from its UTC fields so that an image does not depend on the time zone of
 * the machine that wrote it. Dates outside 1980-2107 are clamped to the nearest representable one.
 */
export function fatTimestamp(now: Date): FatTimestamp {
  const t = now.getTime();
  if (!Number.isFinite(t)) throw fatError('FAT_NAME', 'the timestamp for directory entries is not a valid date');
  const year = now.getUTCFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0, tenth: 0 };
  if (year > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29, tenth: 199 };
  const sec = now.getUTCSeconds();
  return {
    date: ((year - 1980) << 9) | ((now.getUTCMonth() + 1) << 5) | now.getUTCDate(),
    time: (now.getUTCHours() << 11) | (now.getUTCMinutes() << 5) | (sec >> 1),
    tenth: (sec & 1) * 100 + Math.floor(now.getUTCMilliseconds() / 10),
  };
}

export interface ShortEntry {
  /** 11 characters: fat83Name's form, or "." / ".." padded, or a volume label. */
  name11: string;
  attr: number;
  firstCluster: number;
  size: number;
  stamp: FatTimestamp;
}

/** Writes one short directory entry (§6, Table 18) at `offset` of `b`. */
export function writeShortEntry(b: Buffer, offset: number, e: ShortEntry): void {
  b.write(e.name11, offset, 11, 'latin1'); // DIR_Name (0)
  b[offset + 11] = e.attr; // DIR_Attr (11)
  b[offset + 12] = 0; // DIR_NTRes (12)
  b[offset + 13] = e.stamp.tenth; // DIR_CrtTimeTenth (13)
  b.writeUInt16LE(e.stamp.time, offset + 14); // DIR_CrtTime (14)
  b.writeUInt16LE(e.stamp.date, offset + 16); // DIR_CrtDate (16)
  b.writeUInt16LE(e.stamp.date, offset + 18); // DIR_LstAccDate (18)
  b.writeUInt16LE((e.firstCluster >>> 16) & 0xffff, offset + 20); // DIR_FstClusHI (20)
  b.writeUInt16LE(e.stamp.time, offset + 22); // DIR_WrtTime (22)
  b.writeUInt16LE(e.stamp.date, offset + 24); // DIR_WrtDate (24)
  b.writeUInt16LE(e.firstCluster & 0xffff, offset + 26); // DIR_FstClusLO (26)
  b.writeUInt32LE(e.size >>> 0, offset + 28); // DIR_FileSize (28)
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Code page 850 (mtools' and mkfs.fat's default) for short-name bytes 0x80-0xFF. */
const CP850_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u00ad±‗¾¶§÷¸°¨·¹³²■\u00a0';

function decodeOem(bytes: Buffer): string {
  let s = '';
  for (const byte of bytes) s += byte < 0x80 ? String.fromCharCode(byte) : (CP850_HIGH[byte - 0x80] as string);
  return s;
}

/** The short name of a raw entry as text ("README.TXT"), bytes ≥ 0x80 as code page 850, DIR_NTRes lower-case flags applied. */
export function decodeShortName(raw: Buffer): string {
  const name = Buffer.from(raw.subarray(0, 11));
  if (name[0] === 0x05) name[0] = 0xe5; // §6.1: 0x05 stands for a real 0xE5 first byte
  const ntres = raw[12] ?? 0; // DIR_NTRes (12): bit 3 base lower case, bit 4 extension lower case
  let base = decodeOem(name.subarray(0, 8)).replace(/ +$/, '');
  let ext = decodeOem(name.subarray(8, 11)).replace(/ +$/, '');
  // Only A-Z change case, as mtools and Linux do: the flags are defined for the 8.3 character set.
  const lower = (t: string): string => t.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (ntres & 0x08) base = lower(base);
  if (ntres & 0x10) ext = lower(ext);
  return ext ? `${base}.${ext}` : base;
}

/** §7.2: the checksum of an 11-byte short name that its long-name entries carry. */
export function shortNameChecksum(name11: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((sum & 1 ? 0x80 : 0) + (sum >> 1) + (name11[i] ?? 0)) & 0xff;
  return sum;
}

export type RawEntry =
  | { kind: 'end' }
  | { kind: 'deleted' }
  | { kind: 'long'; order: number; last: boolean; checksum: number; chars: Buffer }
  | { kind: 'label'; label: string }
  | { kind: 'dot' | 'dotdot'; firstCluster: number }
  | { kind: 'short'; raw: Buffer; shortName: string; attr: number; firstCluster: number; size: number };

/** Decodes one 32-byte entry (§6 Table 18, §7 Table 22) without judging its cluster or size. */
export function decodeEntry(e: Buffer, fat32: boolean): RawEntry {
  const first = e[0]; // DIR_Name[0] (0)
  if (first === 0x00) return { kind: 'end' };
  if (first === 0xe5) return { kind: 'deleted' };
  const attr = e[11] ?? 0; // DIR_Attr (11)
  if ((attr & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME) {
    const ord = first ?? 0; // LDIR_Ord (0)
    const chars = Buffer.concat([e.subarray(1, 11), e.subarray(14, 26), e.subarray(28, 32)]); // LDIR_Name1 (1), LDIR_Name2 (14), LDIR_Name3 (28)
    return { kind: 'long', order: ord & 0x3f, last: (ord & 0x40) !== 0, checksum: e[13] ?? 0, chars }; // LDIR_Chksum (13)
  }
  const hi = fat32 ? e.readUInt16LE(20) : 0; // DIR_FstClusHI (20): only meaningful on FAT32
  const firstCluster = (hi << 16) | e.readUInt16LE(26); // DIR_FstClusLO (26)
  if (attr & ATTR_VOLUME_ID) return { kind: 'label', label: decodeOem(e.subarray(0, 11)).replace(/ +$/, '') };
  const name = e.toString('latin1', 0, 11);
  if (name === '.          ') return { kind: 'dot', firstCluster };
  if (name === '..         ') return { kind: 'dotdot', firstCluster };
  return { kind: 'short', raw: e, shortName: decodeShortName(e), attr, firstCluster: firstCluster >>> 0, size: e.readUInt32LE(28) }; // DIR_FileSize (28)
}

/**
 * Collects long-name entries (§7) and hands out the long name of the short entry they belong to.
 * A sequence that is out of order, incomplete or carries the wrong checksum is dropped (§7.1: the
 * short name then stands alone), as Windows and Linux do.
 */
export class LongNameAssembler {
  private parts: string[] = [];
  private expected = 0;
  private checksum = -1;

  add(e: Extract<RawEntry, { kind: 'long' }>): void {
    if (e.last) {
      if (e.order < 1 || e.order > 20) {
        this.reset();
        return;
      }
      this.parts = new Array<string>(e.order).fill('');
      this.checksum = e.checksum;
    } else if (e.order !== this.expected || e.checksum !== this.checksum || this.expected === 0) {
      this.reset();
      return;
    }
    this.parts[e.order - 1] = e.chars.toString('utf16le');
    this.expected = e.order - 1;
  }

  reset(): void {
    this.parts = [];
    this.expected = 0;
    this.checksum = -1;
  }

  /** The long name for the short entry `raw`, if a complete sequence with its checksum came before it. */
  take(raw: Buffer): string | undefined {
    const complete = this.parts.length > 0 && this.expected === 0 && this.checksum === shortNameChecksum(raw.subarray(0, 11));
    const name = complete ? this.parts.join('') : undefined;
    this.reset();
    if (name === undefined) return undefined;
    const nul = name.indexOf('\u0000'); // §7: the name ends at a NUL, then 0xFFFF padding
    return nul >= 0 ? name.slice(0, nul) : name.replace(/\uffff+$/, '');
  }
}

/** Whether a name read from a directory is safe as one path component (no separators, controls, dot names). */
export function safeComponent(name: string): boolean {
  if (name === '' || name === '.' || name === '..') return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001f/\\]/.test(name);
}
