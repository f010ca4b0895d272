import { describe, expect, it } from 'vitest';
import { findProfile, PROFILES, profilesAllowing, secureTwin } from '../../src/dicom/profiles/profiles.js';

describe('application profiles (PS3.11)', () => {
  it('has every general-purpose profile and its secure twin', () => {
    const ids = PROFILES.map((p) => p.id);
    for (const id of ['STD-GEN-CD', 'STD-GEN-DVD-JPEG', 'STD-GEN-DVD-J2K', 'STD-GEN-USB-JPEG', 'STD-GEN-USB-J2K', 'STD-GEN-BD']) {
      expect(ids).toContain(id);
      expect(ids).toContain(id.replace('STD-GEN-', 'STD-GEN-SEC-'));
    }
  });

  it('allows Explicit VR Little Endian everywhere and compression only where the annex says', () => {
    expect(findProfile('STD-GEN-CD').transferSyntaxes).toEqual(['1.2.840.10008.1.2.1']);
    expect(profilesAllowing('1.2.840.10008.1.2.4.70').sort()).toEqual(['STD-GEN-DVD-JPEG', 'STD-GEN-USB-JPEG']);
    expect(profilesAllowing('1.2.840.10008.1.2.4.90').sort()).toEqual(['STD-GEN-DVD-J2K', 'STD-GEN-USB-J2K']);
    expect(profilesAllowing('1.2.840.10008.1.2.4.80')).toEqual([]);
  });

  it('maps a plain profile to its secure twin with the same syntaxes', () => {
    const sec = secureTwin(findProfile('STD-GEN-USB-J2K'));
    expect(sec.id).toBe('STD-GEN-SEC-USB-J2K');
    expect(sec.secure).toBe(true);
    expect(sec.transferSyntaxes).toEqual(findProfile('STD-GEN-USB-J2K').transferSyntaxes);
    expect(secureTwin(sec)).toBe(sec);
  });

  it('refuses unknown profiles with a usage error', () => {
    expect(() => findProfile('STD-GEN-FLOPPY')).toThrow(expect.objectContaining({ code: 'PROFILE_UNKNOWN' }));
  });
});
