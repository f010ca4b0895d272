/**
 * 8.3 names, volume labels, FAT timestamps, short-name decoding and long-name assembly
 * (Microsoft FAT32 File System Specification 1.03 §6.1, §6.2, §7).
 */
import { describe, expect, it } from 'vitest';
import {
  decodeEntry,
  decodeShortName,
  fat83Name,
  fatTimestamp,
  fatVolumeLabel,
  LongNameAssembler,
  shortNameChecksum,
} from '../../../src/media/fat/directory-entry.js';

function fatCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('fat83Name', () => {
  it('accepts DICOM File ID components and the usual 8.3 names, returning the padded entry form', () => {
    expect(fat83Name('DICOMDIR')).toBe('DICOMDIR   ');
    expect(fat83Name('README.TXT')).toBe('README  TXT');
    expect(fat83Name('INDEX.HTM')).toBe('INDEX   HTM');
    expect(fat83Name('IM000001')).toBe('IM000001   ');
    expect(fat83Name('A')).toBe('A          ');
    expect(fat83Name('A_B-C~1.$$$')).toBe('A_B-C~1 $$$');
    expect(fat83Name("!#%&'()@.^`{")).toBe("!#%&'()@^`{");
  });

  it.each([
    ['', 'empty'],
    ['readme.txt', 'lower case'],
    ['ABCDEFGHI', '9 characters'],
    ['A.TEXT', '4-character extension'],
    ['A.B.C', 'two dots'],
    ['A.', 'empty extension'],
    ['.A', 'empty base'],
    ['.', 'dot'],
    ['..', 'dot dot'],
    ['MY FILE', 'space'],
    ['A+B', 'plus'],
    ['A/B', 'slash'],
    ['A\\B', 'backslash'],
    ['ÉCHO', 'non-ASCII'],
    ['CON', 'device name'],
    ['LPT1.TXT', 'device name with extension'],
    ['NUL', 'device name'],
  ])('refuses %j (%s) with FAT_NAME', (name) => {
    expect(fatCode(() => fat83Name(name))).toBe('FAT_NAME');
  });
});

describe('fatVolumeLabel', () => {
  it('pads labels to 11 characters and uses NO NAME for none', () => {
    expect(fatVolumeLabel('DCMSAFE')).toBe('DCMSAFE    ');
    expect(fatVolumeLabel('MY FILESET')).toBe('MY FILESET ');
    expect(fatVolumeLabel('FILESET_ID1')).toBe('FILESET_ID1');
    expect(fatVolumeLabel('')).toBe('NO NAME    ');
  });
  it.each(['TWELVE CHARS', 'lower', ' LEADING', 'A.B', 'Ü'])('refuses %j with FAT_NAME', (label) => {
    expect(fatCode(() => fatVolumeLabel(label))).toBe('FAT_NAME');
  });
});

describe('fatTimestamp', () => {
  it('encodes UTC date, 2-second time and the 10 ms count', () => {
    expect(fatTimestamp(new Date('2024-12-31T23:59:59.990Z'))).toEqual({
      date: (44 << 9) | (12 << 5) | 31,
      time: (23 << 11) | (59 << 5) | 29,
      tenth: 199,
    });
    expect(fatTimestamp(new Date('1980-01-01T00:00:00Z'))).toEqual({ date: (1 << 5) | 1, time: 0, tenth: 0 });
  });
  it('clamps dates outside 1980-2107 and refuses invalid dates', () => {
    expect(fatTimestamp(new Date('1970-01-01T00:00:00Z')).date).toBe((1 << 5) | 1);
    expect(fatTimestamp(new Date('2200-01-01T00:00:00Z')).date).toBe((127 << 9) | (12 << 5) | 31);
    expect(fatCode(() => fatTimestamp(new Date(NaN)))).toBe('FAT_NAME');
  });
});

describe('reading entries', () => {
  function shortEntry(name11: string, ntres = 0, attr = 0x20): Buffer {
    const e = Buffer.alloc(32);
    e.write(name11, 0, 'latin1');
    e[11] = attr;
    e[12] = ntres;
    return e;
  }

  /** Long-name entries for `name` (§7), last first, as they precede the short entry on disk. */
  function longEntries(name: string, checksum: number): Buffer[] {
    const units = [...Buffer.from(name, 'utf16le')];
    const chars: number[] = [];
    for (let i = 0; i < units.length; i += 2) chars.push(units[i]! | (units[i + 1]! << 8));
    if (chars.length % 13 !== 0) chars.push(0);
    while (chars.length % 13 !== 0) chars.push(0xffff);
    const n = chars.length / 13;
    const out: Buffer[] = [];
    for (let k = n; k >= 1; k--) {
      const e = Buffer.alloc(32);
      e[0] = k | (k === n ? 0x40 : 0);
      e[11] = 0x0f;
      e[13] = checksum;
      const part = chars.slice((k - 1) * 13, k * 13);
      const at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
      part.forEach((c, i) => e.writeUInt16LE(c, at[i]!));
      out.push(e);
    }
    return out;
  }

  function assemble(entries: Buffer[]): string | undefined {
    const a = new LongNameAssembler();
    for (const b of entries) {
      const e = decodeEntry(b, true);
      if (e.kind === 'long') a.add(e);
      else if (e.kind === 'short') return a.take(e.raw);
    }
    return undefined;
  }

  it('decodes short names with code page 850, 0x05 and the lower-case flags', () => {
    expect(decodeShortName(shortEntry('README  TXT'))).toBe('README.TXT');
    expect(decodeShortName(shortEntry('README  TXT', 0x18))).toBe('readme.txt');
    expect(decodeShortName(shortEntry('README  TXT', 0x10))).toBe('README.txt');
    const e = shortEntry('XNX     TXT', 0x18);
    e[0] = 0x9a; // Ü in code page 850
    e[2] = 0xd8; // Ï
    expect(decodeShortName(e)).toBe('ÜnÏ.txt');
    const kanji = shortEntry('XABC       ');
    kanji[0] = 0x05;
    expect(decodeShortName(kanji)[0]).toBe('Õ'); // 0xE5 in code page 850
  });

  it('assembles long names whose checksum matches and drops the others', () => {
    const short = shortEntry('LONGFI~1TXT');
    const sum = shortNameChecksum(short);
    expect(assemble([...longEntries('Long File Name.txt', sum), short])).toBe('Long File Name.txt');
    expect(assemble([...longEntries('exactly13char', sum), short])).toBe('exactly13char');
    expect(assemble([...longEntries('Long File Name.txt', (sum + 1) & 0xff), short])).toBeUndefined();
    const [first, second] = longEntries('Long File Name.txt', sum);
    expect(assemble([second!, short])).toBeUndefined(); // the "last" entry is missing
    expect(assemble([first!, short])).toBeUndefined(); // entry 1 is missing
    expect(assemble([first!, second!, second!, short])).toBeUndefined(); // out of order
    expect(assemble([first!, first!, second!, short])).toBe('Long File Name.txt'); // a new sequence starts again
  });
});
