import { describe, expect, it } from 'vitest';
import { compareIdentifiers, displayName, iso9660Name, splitIdentifier } from '../../../src/media/iso9660/file-identifier.js';

describe('ISO 9660 Level 1 names (ECMA-119 §7.5, §7.6, §10.1; PS3.12 F.2)', () => {
  it('maps File ID components to "NAME.;1" and keeps extensions', () => {
    expect(iso9660Name('IM000001', false)).toBe('IM000001.;1');
    expect(iso9660Name('DICOMDIR', false)).toBe('DICOMDIR.;1');
    expect(iso9660Name('README.TXT', false)).toBe('README.TXT;1');
    expect(iso9660Name('INDEX.HTM', false)).toBe('INDEX.HTM;1');
    expect(iso9660Name('A_1.X', false)).toBe('A_1.X;1');
    expect(iso9660Name('DICOM', true)).toBe('DICOM');
    expect(iso9660Name('PA000001', true)).toBe('PA000001');
  });

  it.each([
    ['im000001', false],
    ['IM0000001', false], // 9 characters
    ['README.HTML', false], // extension of 4
    ['A.B.C', false],
    ['README.', false],
    ['.TXT', false],
    ['', false],
    ['A B', false],
    ['Ä', false],
    ['A-B', false],
    ['..', false],
    ['A;1', false],
    ['DIR.X', true], // directories have no extension
    ['TOOLONGDIR', true],
    ['', true],
    ['dicom', true],
  ])('refuses %j (directory: %s) with ISO9660_NAME', (name, dir) => {
    expect(() => iso9660Name(name, dir)).toThrow(expect.objectContaining({ code: 'ISO9660_NAME', data: expect.objectContaining({ component: name }) }));
  });

  it('orders identifiers as §9.3 does: SPACE-padded name, then extension, then version descending', () => {
    const files = ['B.;1', 'A.TXT;1', 'A.;1', 'A_.;1', 'AB.;1', '0.;1', 'A.TXT;2'];
    const sorted = [...files].sort((a, b) => compareIdentifiers(splitIdentifier(a, false), splitIdentifier(b, false)));
    expect(sorted).toEqual(['0.;1', 'A.;1', 'A.TXT;2', 'A.TXT;1', 'AB.;1', 'A_.;1', 'B.;1']);
    // A directory "DICOM" sorts before the file "DICOMDIR" (SPACE < "D").
    expect(compareIdentifiers(splitIdentifier('DICOM', true), splitIdentifier('DICOMDIR.;1', false))).toBeLessThan(0);
  });

  it('shows names without version and without a lone "."', () => {
    expect(displayName('IM000001.;1')).toBe('IM000001');
    expect(displayName('README.TXT;1')).toBe('README.TXT');
    expect(displayName('LONG_NAME.DATA')).toBe('LONG_NAME.DATA');
    expect(displayName('DIR')).toBe('DIR');
    expect(displayName('A.;12')).toBe('A');
  });
});
