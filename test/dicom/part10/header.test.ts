import { writeFileSync, openSync, closeSync, ftruncateSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { readPart10File, readPart10Header, detectSyntax } from '../../../src/dicom/part10/header.js';
import { BufferReader, FileReader } from '../../../src/media/io/random-access-reader.js';
import { buildDataSet, encodeDataSet, encodeFileMeta, encodePart10 } from '../../../src/dicom/part10/writer.js';
import { T } from '../../../src/dicom/tags.js';
import { corpusManifest, tempDir } from '../../helpers/env.js';

const manifest = corpusManifest().filter((e) => e.isDicom);

async function expectCode(p: Promise<unknown>, code: string): Promise<DcmsafeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DcmsafeError);
    expect((e as DcmsafeError).code).toBe(code);
    return e as DcmsafeError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

describe('Part 10 header reader on the corpus', () => {
  for (const entry of manifest.filter((e) => !e.malformed)) {
    it(`reads ${entry.path}`, async () => {
      const h = await readPart10File(entry.absolute);
      expect(h.dataSet.elements.size).toBeGreaterThan(0);
      const expected = entry.transferSyntax.match(/1\.2\.840\.10008[0-9.]*/)?.[0];
      if (expected) expect(h.transferSyntax.uid).toBe(expected);
    });
  }

  it('tells the layouts apart: preamble, no preamble, no meta, ACR-NEMA', async () => {
    const fmt = async (p: string): Promise<string> => (await readPart10File(manifest.find((e) => e.path === p)!.absolute)).format;
    expect(await fmt('ct/CT_small.dcm')).toBe('part10');
    expect(await fmt('no-meta/JLSL_RGB_ILV1.dcm')).toBe('no-preamble');
    expect(await fmt('rt/rtstruct.dcm')).toBe('no-meta');
    expect(await fmt('no-meta/GH340_ACR-NEMA.dcm')).toBe('acr-nema');
  });

  it('reads deflated and big endian data sets', async () => {
    const dfl = await readPart10File(manifest.find((e) => e.path === 'sr/report_dfl')!.absolute);
    expect(dfl.dataSet.text(T.PatientName)).toBe('Osterman^Phillip B.');
    const be = await readPart10File(manifest.find((e) => e.path === 'mr/MR_small_bigendian.dcm')!.absolute);
    expect(be.dataSet.uint16(T.Rows)).toBe(64);
  });

  it('decodes names in their character sets', async () => {
    const name = async (p: string): Promise<string | undefined> => (await readPart10File(manifest.find((e) => e.path === p)!.absolute)).dataSet.string(T.PatientName);
    expect(await name('charset/chrGerm.dcm')).toBe('Äneas^Rüdiger');
    expect(await name('charset/chrRuss.dcm')).toBe('Люкceмбypг');
    expect(await name('charset/chrJapMulti.dcm')).toBe('やまだ^たろう');
    expect(await name('charset/chrX2.dcm')).toBe('Wang^XiaoDong=王^小东=');
  });
});

describe('Part 10 header reader on malformed files', () => {
  for (const entry of manifest.filter((e) => e.malformed)) {
    it(`reads or refuses ${entry.path} with a typed error`, async () => {
      try {
        const h = await readPart10File(entry.absolute);
        expect(h.dataSet.elements.size).toBeGreaterThan(0);
      } catch (e) {
        expect(e).toBeInstanceOf(DcmsafeError);
        const err = e as DcmsafeError;
        expect(err.data.file).toBe(entry.absolute);
        expect(typeof err.data.offset).toBe('number');
      }
    });
  }
});

describe('Part 10 header reader on generated bad input', () => {
  const good = encodePart10({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: '1.2.3.4' }, buildDataSet([
    [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
    [T.SOPInstanceUID, 'UI', '1.2.3.4'],
    [T.PatientName, 'PN', 'Doe^Jane'],
    [T.ConceptNameCodeSequence, 'SQ', [buildDataSet([[T.CodeValue, 'SH', '1']])]],
  ]));

  it('reads what the writer wrote', async () => {
    const h = await readPart10Header(new BufferReader(good, 'good'));
    expect(h.format).toBe('part10');
    expect(h.dataSet.text(T.PatientName)).toBe('Doe^Jane');
    expect(h.dataSet.items(T.ConceptNameCodeSequence)[0]?.text(T.CodeValue)).toBe('1');
    expect(h.warnings).toEqual([]);
  });

  it('refuses every truncation with a typed error', async () => {
    for (let cut = 1; cut < good.length; cut += 7) {
      try {
        await readPart10Header(new BufferReader(good.subarray(0, cut), 'cut'));
      } catch (e) {
        expect(e).toBeInstanceOf(DcmsafeError);
        expect(['PART10_TRUNCATED', 'PART10_NOT_DICOM', 'PART10_BAD_META', 'PART10_BAD_ELEMENT']).toContain((e as DcmsafeError).code);
      }
    }
  });

  it('refuses an element whose length runs past the end', async () => {
    const bad = Buffer.from(good);
    const at = bad.indexOf(Buffer.from('PN', 'latin1'), 132);
    bad.writeUInt16LE(0xfff0, at + 2);
    const err = await expectCode(readPart10Header(new BufferReader(bad, 'long')), 'PART10_TRUNCATED');
    expect(err.data.offset).toBeGreaterThan(132);
    expect(err.data.tag).toBe('(0010,0010)');
  });

  it('refuses an invalid VR', async () => {
    const bad = Buffer.from(good);
    const at = bad.indexOf(Buffer.from('PN', 'latin1'), 132);
    bad.write('p!', at, 'latin1');
    await expectCode(readPart10Header(new BufferReader(bad, 'vr')), 'PART10_BAD_ELEMENT');
  });

  it('refuses random bytes and tiny files', async () => {
    await expectCode(readPart10Header(new BufferReader(Buffer.from('hello'), 'tiny')), 'PART10_NOT_DICOM');
    await expectCode(readPart10Header(new BufferReader(Buffer.from('%PDF-1.4 this is not DICOM at all....'), 'pdf')), 'PART10_NOT_DICOM');
  });

  it('bounds sequence nesting', async () => {
    let ds = buildDataSet([[T.CodeValue, 'SH', 'x']]);
    for (let i = 0; i < 80; i++) ds = buildDataSet([[T.ContentSequence, 'SQ', [ds]]]);
    const bytes = Buffer.concat([encodeFileMeta({ sopClassUID: '1.2', sopInstanceUID: '1.3', transferSyntaxUID: '1.2.840.10008.1.2.1' }), encodeDataSet(ds)]);
    await expectCode(readPart10Header(new BufferReader(bytes, 'deep')), 'PART10_LIMIT');
  });

  it('refuses an unknown transfer syntax', async () => {
    const bytes = Buffer.concat([encodeFileMeta({ sopClassUID: '1.2', sopInstanceUID: '1.3', transferSyntaxUID: '1.2.3.4.5' }), encodeDataSet(buildDataSet([[T.PatientID, 'LO', 'x']]))]);
    await expectCode(readPart10Header(new BufferReader(bytes, 'ts')), 'PART10_UNSUPPORTED_SYNTAX');
  });

  it('detects the encoding of bare data sets', () => {
    const ele = encodeDataSet(buildDataSet([[T.SpecificCharacterSet, 'CS', 'ISO_IR 100']]));
    expect(detectSyntax(ele)).toBe('1.2.840.10008.1.2.1');
  });
});

describe('scanning reads headers only', () => {
  it('scans a 200 MB file without reading its pixel data', async () => {
    const dir = tempDir('dcmsafe-big-');
    const file = path.join(dir, 'big.dcm');
    const pixels = 200 * 1024 * 1024;
    const header = encodePart10({ sopClassUID: '1.2.840.10008.5.1.4.1.1.7', sopInstanceUID: '1.2.3.4.5' }, buildDataSet([
      [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
      [T.SOPInstanceUID, 'UI', '1.2.3.4.5'],
      [T.Rows, 'US', 10240],
      [T.Columns, 'US', 10240],
    ]));
    const pxHeader = Buffer.alloc(12);
    pxHeader.writeUInt16LE(0x7fe0, 0);
    pxHeader.writeUInt16LE(0x0010, 2);
    pxHeader.write('OW', 4, 'latin1');
    pxHeader.writeUInt32LE(pixels, 8);
    writeFileSync(file, Buffer.concat([header, pxHeader]));
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, header.length + 12 + pixels); // sparse: the pixel data is never on disk
    writeSync(fd, Buffer.from([0xab]), 0, 1, header.length + 12 + pixels - 1);
    closeSync(fd);

    const reader = await FileReader.open(file);
    const h = await readPart10Header(reader);
    await reader.close();
    expect(h.pixelData?.length).toBe(pixels);
    expect(reader.size).toBeGreaterThan(pixels);
    expect(reader.stats.bytesRead).toBeLessThan(256 * 1024);
  });
});
