import { describe, expect, it } from 'vitest';
import { keywordOf, lookupTag } from '../../src/dicom/dictionary.js';
import { T } from '../../src/dicom/tags.js';
import { decodeText, normalizeCharsetTerm } from '../../src/dicom/charset.js';

describe('tag constants', () => {
  it('match the PS3.6 dictionary', () => {
    for (const [keyword, tag] of Object.entries(T)) {
      if (keyword === 'RecognitionCode') continue; // retired, named differently in the dictionary
      expect(keywordOf(tag), keyword).toBe(keyword);
    }
  });

  it('knows repeating groups and group lengths', () => {
    expect(lookupTag(0x60020010)?.keyword).toBe('OverlayRows');
    expect(lookupTag(0x00090000)?.vr).toBe('UL');
  });
});

describe('character sets', () => {
  it('decodes single-byte, UTF-8 and ISO 2022 values', () => {
    expect(decodeText(Buffer.from('M\xfcller^J\xfcrgen', 'latin1'), ['ISO_IR 100'])).toBe('Müller^Jürgen');
    expect(decodeText(Buffer.from('Łukasiewicz^Zoë', 'utf8'), ['ISO_IR 192'])).toBe('Łukasiewicz^Zoë');
    const jis = Buffer.from([0x1b, 0x24, 0x42, 0x3b, 0x33, 0x45, 0x44, 0x1b, 0x28, 0x42, 0x5e, 0x41]);
    expect(decodeText(jis, ['', 'ISO 2022 IR 87'])).toBe('山田^A');
  });

  it('fixes known misspellings of defined terms', () => {
    expect(normalizeCharsetTerm('ISO-IR 100')).toBe('ISO_IR 100');
    expect(normalizeCharsetTerm('ISO_IR 192')).toBe('ISO_IR 192');
  });

  it('never fails on unknown terms or bad bytes', () => {
    expect(decodeText(Buffer.from([0xff, 0xfe, 0x41]), ['NO SUCH CHARSET'])).toContain('A');
    expect(decodeText(Buffer.from([0x1b, 0x24]), ['', 'ISO 2022 IR 87'])).toBeTypeOf('string');
  });
});
