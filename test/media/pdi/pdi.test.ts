import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProfile } from '../../../src/dicom/profiles/profiles.js';
import { indexHtm, manifest, readmeTxt, toAscii, type VolumeDescription } from '../../../src/media/pdi/pdi.js';
import { hasTool, run, tempDir } from '../../helpers/env.js';

const plain: VolumeDescription = {
  fileSetId: 'DCMSAFE',
  fileSetUID: '2.25.1',
  profile: findProfile('STD-GEN-CD'),
  created: new Date('2026-01-01T00:00:00Z'),
  institution: 'St. Elsewhere <Radiology> & Co',
  mediaKind: 'CD',
  studies: [
    { patientName: 'Łukasiewicz^Zoë', patientId: 'SAMPLE-A', birthDate: '19780314', studyDate: '20240315', studyDescription: 'CT chest', series: [{ modality: 'CT', seriesNumber: '1', description: '', instances: 20 }] },
  ],
};
const secure: VolumeDescription = { ...plain, profile: findProfile('STD-GEN-SEC-CD'), studies: [], secureFor: ['whoever has the password of this medium'], signedBy: 'CN=Signer' };

describe('IHE PDI content', () => {
  it('README.TXT is ASCII and lists the studies of plain media', () => {
    const text = readmeTxt(plain).toString('latin1');
    expect(/^[\x20-\x7e\r\n]*$/.test(text)).toBe(true);
    expect(text).toContain('Zoe Lukasiewicz');
    expect(text).toContain('2024-03-15');
    expect(text).toContain('STD-GEN-CD');
    expect(text).toContain('nothing on it runs by itself');
  });

  it('README.TXT and INDEX.HTM of secure media hold no patient data', () => {
    const readme = readmeTxt(secure).toString('latin1');
    const index = indexHtm(secure).toString('utf8');
    for (const t of [readme, index]) {
      expect(t).not.toMatch(/Lukasiewicz|Łukasiewicz|SAMPLE-A|1978/);
      expect(t).toMatch(/encrypted/i);
      expect(t).toContain('password');
    }
  });

  it('INDEX.HTM is well-formed XHTML with values escaped', () => {
    const html = indexHtm(plain).toString('utf8');
    expect(html).toContain('St. Elsewhere &lt;Radiology&gt; &amp; Co');
    expect(html).toContain('Zoë Łukasiewicz');
    if (hasTool('xmllint')) {
      const f = path.join(tempDir(), 'INDEX.HTM');
      writeFileSync(f, html);
      expect(run('xmllint', ['--noout', f]).status).toBe(0);
    }
  });

  it('writes a label for plain media and a letter without the password unless given', () => {
    expect(manifest(plain, { passwordMedia: false })).toContain('DICOM ONLY');
    expect(manifest(plain, { passwordMedia: false })).toContain('Zoë Łukasiewicz *1978-03-14');
    const letter = manifest(secure, { passwordMedia: true });
    expect(letter).toContain('written in by hand');
    expect(manifest(secure, { passwordMedia: true, password: 'ABCD-EFGH' })).toContain('Password: ABCD-EFGH');
  });

  it('transliterates what ASCII cannot hold', () => {
    expect(toAscii('Müller^Jürgen Ødegård Straße')).toBe('Muller^Jurgen Odegard Strasse');
    expect(toAscii('王')).toBe('?');
  });
});
