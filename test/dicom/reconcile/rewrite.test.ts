/**
 * The forward-only rewrite (src/dicom/reconcile/rewrite.ts) on corpus files in every transfer
 * syntax it must pass (PS3.5 Annex A: explicit and implicit VR little endian, big endian, deflated,
 * JPEG and RLE encapsulation), read from a file and from a chunked async iterator (the shape of
 * decrypted content). The output is read back with our own header reader; pixel data must be the
 * input's, byte for byte (swapped to little endian for a big endian source).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataSet } from '../../../src/dicom/dataset.js';
import { ReaderByteSource, type ByteSource } from '../../../src/dicom/part10/byte-source.js';
import { readPart10Header, type Part10Header } from '../../../src/dicom/part10/header.js';
import { buildDataSet, encodeFileMeta, encodePart10, ELE } from '../../../src/dicom/part10/writer.js';
import { T } from '../../../src/dicom/tags.js';
import { dataSetToExplicitLE, swapBytes } from '../../../src/dicom/transcode/convert.js';
import { swapUnit } from '../../../src/dicom/vr.js';
import { coerceDataSet, encodeHeaderDataSet, IterableByteSource, openRewrite, RT, type Rewrite } from '../../../src/dicom/reconcile/index.js';
import { DcmsafeError } from '../../../src/errors/index.js';
import { ByteCursor } from '../../../src/security/asn1/cursor.js';
import { BufferReader, FileReader } from '../../../src/media/io/random-access-reader.js';
import { CORPUS } from '../../helpers/env.js';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';

interface Case {
  file: string;
  outputSyntax: string;
  hasPixels: boolean;
}

const CASES: Case[] = [
  { file: 'mr/MR_small.dcm', outputSyntax: EXPLICIT_LE, hasPixels: true },
  { file: 'mr/MR_small_implicit.dcm', outputSyntax: EXPLICIT_LE, hasPixels: true },
  { file: 'mr/MR_small_bigendian.dcm', outputSyntax: EXPLICIT_LE, hasPixels: true },
  { file: 'transfer-syntax/SC_rgb_small_odd_big_endian.dcm', outputSyntax: EXPLICIT_LE, hasPixels: true },
  { file: 'sr/report_dfl', outputSyntax: EXPLICIT_LE, hasPixels: false },
  { file: 'transfer-syntax/image_dfl.dcm', outputSyntax: EXPLICIT_LE, hasPixels: true },
  { file: 'transfer-syntax/SC_rgb_jpeg_dcmtk.dcm', outputSyntax: '1.2.840.10008.1.2.4.50', hasPixels: true },
  { file: 'mr/MR_small_RLE.dcm', outputSyntax: '1.2.840.10008.1.2.5', hasPixels: true },
  { file: 'transfer-syntax/SC_rgb_rle.dcm', outputSyntax: '1.2.840.10008.1.2.5', hasPixels: true },
];

const CHUNK_SIZES = [1, 7, 4096, 1 << 20];

const LOCAL = { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP', patientName: 'Local^Patient', birthDate: '19800214', sex: 'F' as const };
const CTX = { modifyingSystem: 'dcmsafe 0.1.0', now: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)) };

/** Copies of `bytes` in chunks of `size`, as a producer would hand them over. */
async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield Buffer.from(bytes.subarray(i, i + size));
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function header(bytes: Buffer, name = 'out'): Promise<Part10Header> {
  return readPart10Header(new BufferReader(bytes, name));
}

/** The bytes a data set's stream holds from the start of the data set (inflated for deflated files). */
function dataSetBytes(file: Buffer, h: Part10Header): Buffer {
  const rest = file.subarray(h.dataSetOffset);
  return h.transferSyntax.deflated ? inflateRawSync(rest) : rest;
}

/** Native pixel value in little endian, or the encapsulated items and everything after them. */
function pixelsOf(file: Buffer, h: Part10Header): Buffer {
  const px = h.pixelData;
  if (!px) return Buffer.alloc(0);
  const stream = dataSetBytes(file, h);
  const base = h.transferSyntax.deflated ? 0 : h.dataSetOffset;
  const start = px.valueOffset - base;
  if (px.length === undefined) return stream.subarray(start);
  const value = stream.subarray(start, start + px.length);
  return h.transferSyntax.littleEndian ? value : swapBytes(value, swapUnit(px.vr));
}

async function rewriteFrom(source: ByteSource, name: string, coerce: boolean): Promise<Rewrite> {
  return openRewrite(source, { name, ...(coerce ? { transform: (ds: DataSet) => coerceDataSet(ds, LOCAL, CTX).dataSet } : {}) });
}

describe('streamed rewrite of corpus files', () => {
  for (const c of CASES) {
    describe(c.file, () => {
      const absolute = path.join(CORPUS, c.file);
      const input = readFileSync(absolute);

      it('without a transform, gives back the same data set in the output transfer syntax (file source)', async () => {
        const reader = await FileReader.open(absolute);
        try {
          const r = await rewriteFrom(new ReaderByteSource(reader), c.file, false);
          expect(r.transferSyntaxUID).toBe(c.outputSyntax);
          const out = await collect(r.part10());
          const inH = await readPart10Header(new BufferReader(input, c.file));
          const outH = await header(out);
          expect(outH.transferSyntax.uid).toBe(c.outputSyntax);
          expect(outH.format).toBe('part10');
          expect(outH.meta?.text(T.MediaStorageSOPInstanceUID)).toBe(inH.dataSet.text(T.SOPInstanceUID));
          expect(r.sopInstanceUID).toBe(inH.dataSet.text(T.SOPInstanceUID));
          expect(r.sopClassUID).toBe(inH.dataSet.text(T.SOPClassUID));
          // The header, once both are in explicit VR little endian with defined lengths, is the same.
          expect(encodeHeaderDataSet(dataSetToExplicitLE(outH.dataSet)).equals(encodeHeaderDataSet(dataSetToExplicitLE(inH.dataSet)))).toBe(true);
          expect(Boolean(outH.pixelData)).toBe(c.hasPixels);
          if (c.hasPixels) expect(pixelsOf(out, outH).equals(pixelsOf(input, inH))).toBe(true);
          // A whole-data-set read of both agrees on every element after the pixel data too.
          const inAll = await readPart10Header(new BufferReader(input, c.file), { stopAtPixelData: false });
          const outAll = await readPart10Header(new BufferReader(out, 'out'), { stopAtPixelData: false });
          expect([...outAll.dataSet.elements.keys()].sort()).toEqual([...inAll.dataSet.elements.keys()].filter((t) => (t & 0xffff) !== 0).sort());
        } finally {
          await reader.close();
        }
      });

      for (const size of CHUNK_SIZES) {
        it(`coerces from a chunked source (chunks of ${size} bytes): header changed, pixel data identical`, async () => {
          const r = await rewriteFrom(new IterableByteSource(chunked(input, size), c.file), c.file, true);
          const data = await collect(r.dataSet);
          // The data set alone (what a C-STORE sends) is the Part 10 file minus its meta.
          const meta = encodeFileMeta({ sopClassUID: r.sopClassUID, sopInstanceUID: r.sopInstanceUID, transferSyntaxUID: r.transferSyntaxUID });
          const out = Buffer.concat([meta, data]);
          const inH = await readPart10Header(new BufferReader(input, c.file));
          const outH = await header(out);
          expect(outH.warnings.filter((w) => w.code !== 'ODD_LENGTH')).toEqual([]);
          expect(outH.dataSet.text(T.PatientID)).toBe(LOCAL.patientId);
          expect(outH.dataSet.text(T.IssuerOfPatientID)).toBe(LOCAL.issuerOfPatientId);
          expect(outH.dataSet.items(RT.OriginalAttributesSequence)).toHaveLength(inH.dataSet.items(RT.OriginalAttributesSequence).length + 1);
          for (const tag of [T.SOPInstanceUID, T.StudyInstanceUID, T.SeriesInstanceUID]) expect(outH.dataSet.text(tag)).toBe(inH.dataSet.text(tag));
          expect(r.original.text(T.PatientID)).toBe(inH.dataSet.text(T.PatientID));
          if (c.hasPixels) expect(pixelsOf(out, outH).equals(pixelsOf(input, inH))).toBe(true);
          else expect(outH.pixelData).toBeUndefined();
        });
      }
    });
  }
});

describe('streamed rewrite: edges', () => {
  const sop = '1.2.826.0.1.3680043.8.498.1';
  const base: Array<[number, 'UI' | 'LO' | 'PN' | 'US' | 'CS', string | number]> = [
    [T.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.7'],
    [T.SOPInstanceUID, 'UI', sop],
    [T.PatientName, 'PN', 'Foreign^Name'],
    [T.PatientID, 'LO', 'F123'],
  ];

  it('keeps a header value above the parser loaded limit, taken from the tape', async () => {
    const big = Buffer.alloc(3 << 20, 0xab);
    const ds = buildDataSet([...base, [T.EncapsulatedDocument, 'OB', big]]);
    const file = encodePart10({ sopClassUID: base[0]![2] as string, sopInstanceUID: sop }, ds);
    const r = await openRewrite(new IterableByteSource(chunked(file, 65536), 'big'), { name: 'big' });
    const out = await collect(r.part10());
    const h = await readPart10Header(new BufferReader(out), { limits: { maxLoadedValue: 8 << 20, maxLoadedBytes: 64 << 20, maxDepth: 8, maxElements: 1000, maxInflated: 1 << 30 } });
    expect(h.dataSet.get(T.EncapsulatedDocument)?.value?.equals(big)).toBe(true);
  });

  it('refuses a header larger than maxHeaderBytes with PART10_LIMIT', async () => {
    const ds = buildDataSet([...base, [T.EncapsulatedDocument, 'OB', Buffer.alloc(1 << 20)]]);
    const file = encodePart10({ sopClassUID: base[0]![2] as string, sopInstanceUID: sop }, ds);
    await expect(openRewrite(new IterableByteSource([file], 'x'), { name: 'x', maxHeaderBytes: 512 << 10 })).rejects.toMatchObject({ code: 'PART10_LIMIT' });
  });

  it('applies maxHeaderBytes to the header alone, however much of the pixel data the source has buffered', async () => {
    // A header of some 40 KB before 512 KB of native pixels: read in small chunks, or with the whole file in
    // one chunk (the tape then takes a look-ahead of what is buffered), the smallest limit that passes is the same.
    const ds = buildDataSet([...base, [T.EncapsulatedDocument, 'OB', Buffer.alloc(40_001, 0x5a)], [T.Rows, 'US', 512], [T.Columns, 'US', 512], [T.BitsAllocated, 'US', 16], [T.PixelData, 'OW', Buffer.alloc(512 << 10, 0x11)]]);
    const file = encodePart10({ sopClassUID: base[0]![2] as string, sopInstanceUID: sop }, ds);
    const passes = async (chunks: () => AsyncIterable<Buffer> | Buffer[], limit: number): Promise<boolean> => {
      try {
        const r = await openRewrite(new IterableByteSource(chunks(), 'x'), { name: 'x', maxHeaderBytes: limit });
        await r.discard();
        return true;
      } catch (e) {
        if (e instanceof DcmsafeError && e.code === 'PART10_LIMIT') return false;
        throw e;
      }
    };
    const smallest = async (chunks: () => AsyncIterable<Buffer> | Buffer[]): Promise<number> => {
      let lo = 1; // fails
      let hi = 1 << 20; // passes
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (await passes(chunks, mid)) hi = mid;
        else lo = mid;
      }
      return hi;
    };
    const oneChunk = await smallest(() => [file]);
    expect(oneChunk).toBeGreaterThan(40_000);
    expect(oneChunk).toBeLessThan(41_000);
    expect(await smallest(() => chunked(file, 97))).toBe(oneChunk);
    // And the output is the same either way.
    const whole = await collect((await openRewrite(new IterableByteSource([file], 'x'), { name: 'x', maxHeaderBytes: oneChunk })).dataSet);
    const bytewise = await collect((await openRewrite(new IterableByteSource(chunked(file, 97), 'x'), { name: 'x', maxHeaderBytes: oneChunk })).dataSet);
    expect(whole.equals(bytewise)).toBe(true);
  });

  it('keeps encapsulated pixel data inside a sequence (an icon), which the parser only locates', async () => {
    // Icon Image Sequence item whose Pixel Data is encapsulated (PS3.5 §A.4 allows it in an encapsulated file).
    const fragments = [Buffer.alloc(0), Buffer.from('ICONFRAGMENT')];
    const items = fragments.map((f) => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(0xe000fffe, 0);
      h.writeUInt32LE(f.length, 4);
      return Buffer.concat([h, f]);
    });
    const sqDelim = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const iconPixel = Buffer.concat([Buffer.from([0xe0, 0x7f, 0x10, 0x00]), Buffer.from('OB'), Buffer.from([0, 0, 0xff, 0xff, 0xff, 0xff]), ...items, sqDelim]);
    const iconItemBody = Buffer.concat([encodeHeaderDataSet(buildDataSet([[T.Rows, 'US', 1]])), iconPixel]);
    const iconItem = Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]), iconItemBody, Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0])]);
    const iconSeq = Buffer.concat([Buffer.from([0x88, 0x00, 0x00, 0x02]), Buffer.from('SQ'), Buffer.from([0, 0, 0xff, 0xff, 0xff, 0xff]), iconItem, sqDelim]);
    const mainPixel = Buffer.concat([Buffer.from([0xe0, 0x7f, 0x10, 0x00]), Buffer.from('OB'), Buffer.from([0, 0, 0xff, 0xff, 0xff, 0xff]), ...items, sqDelim]);
    const head = encodeHeaderDataSet(buildDataSet(base));
    const jpeg = '1.2.840.10008.1.2.4.50';
    const file = Buffer.concat([encodeFileMeta({ sopClassUID: base[0]![2] as string, sopInstanceUID: sop, transferSyntaxUID: jpeg }), head, iconSeq, mainPixel]);
    for (const size of [1, 5, 1 << 20]) {
      const r = await openRewrite(new IterableByteSource(chunked(file, size), 'icon'), { name: 'icon', transform: (ds) => coerceDataSet(ds, LOCAL, CTX).dataSet });
      const out = await collect(r.part10());
      const h = await readPart10Header(new BufferReader(out), { stopAtPixelData: false });
      const icon = h.dataSet.items(T.IconImageSequence)[0];
      expect(icon?.get(T.PixelData)?.fragments?.map((f) => f.length)).toEqual([0, 12]);
      expect(h.dataSet.get(T.PixelData)?.fragments?.map((f) => f.length)).toEqual([0, 12]);
      expect(h.dataSet.text(T.PatientID)).toBe(LOCAL.patientId);
    }
  });

  it('pads an odd native pixel value and odd fragments to even length (PS3.5 §7.1.1, §A.4)', async () => {
    const odd = Buffer.from([1, 2, 3, 4, 5]);
    const ds = buildDataSet(base);
    const head = encodePart10({ sopClassUID: base[0]![2] as string, sopInstanceUID: sop }, ds);
    const px = Buffer.alloc(12);
    px.writeUInt32LE(0x00107fe0, 0);
    px.write('OB', 4, 'latin1');
    px.writeUInt32LE(odd.length, 8);
    const native = await openRewrite(new IterableByteSource([head, px, odd], 'odd'), { name: 'odd' });
    const out = await collect(native.part10());
    const h = await header(out);
    expect(h.pixelData?.length).toBe(6);
    expect(out.subarray(h.pixelData!.valueOffset)).toEqual(Buffer.from([1, 2, 3, 4, 5, 0]));

    // Encapsulated (JPEG baseline): an empty offset table and one fragment of 5 bytes.
    const jpegHead = Buffer.concat([encodeFileMeta({ sopClassUID: base[0]![2] as string, sopInstanceUID: sop, transferSyntaxUID: '1.2.840.10008.1.2.4.50' }), encodeHeaderDataSet(ds)]);
    const el = Buffer.alloc(12);
    el.writeUInt32LE(0x00107fe0, 0);
    el.write('OB', 4, 'latin1');
    el.writeUInt32LE(0xffffffff, 8);
    const item = (n: number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(0xe000fffe, 0);
      b.writeUInt32LE(n, 4);
      return b;
    };
    const end = Buffer.alloc(8);
    end.writeUInt32LE(0xe0ddfffe, 0);
    const encapsulated = await openRewrite(new IterableByteSource([jpegHead, el, item(0), item(5), odd, end], 'oddfrag'), { name: 'oddfrag' });
    const data = await collect(encapsulated.dataSet);
    expect(data.length % 2).toBe(0);
    const tail = Buffer.concat([item(0), item(6), odd, Buffer.from([0]), end]);
    expect(data.subarray(data.length - tail.length)).toEqual(tail);
  });

  it('notices a stream cut inside the pixel data (PART10_TRUNCATED)', async () => {
    const file = readFileSync(path.join(CORPUS, 'mr/MR_small.dcm'));
    const cut = file.subarray(0, file.length - 1000); // inside the 8192 bytes of pixel data
    const r = await openRewrite(new IterableByteSource(chunked(cut, 4096), 'cut'), { name: 'cut' });
    await expect(collect(r.dataSet)).rejects.toMatchObject({ code: 'PART10_TRUNCATED' });
  });

  it('reads from the cursor the CMS reader gives over decrypted content', async () => {
    const file = readFileSync(path.join(CORPUS, 'transfer-syntax/SC_rgb_jpeg_dcmtk.dcm'));
    const cursor = ByteCursor.fromIterator('decrypted', chunked(file, 1000), 'CMS_MALFORMED');
    const r = await openRewrite(cursor, { name: 'decrypted', transform: (ds) => coerceDataSet(ds, LOCAL, CTX).dataSet });
    const out = await collect(r.part10());
    const inH = await readPart10Header(new BufferReader(file));
    const outH = await header(out);
    expect(outH.dataSet.text(T.PatientID)).toBe(LOCAL.patientId);
    expect(pixelsOf(out, outH).equals(pixelsOf(file, inH))).toBe(true);
  });

  it('is read once: a second read is an error', async () => {
    const file = readFileSync(path.join(CORPUS, 'mr/MR_small.dcm'));
    const r = await openRewrite(new IterableByteSource([file], 'once'), { name: 'once' });
    await collect(r.dataSet);
    await expect(collect(r.part10())).rejects.toBeInstanceOf(DcmsafeError);
  });

  it('reads a bare data set (no meta) and gives it a File Meta Information', async () => {
    const file = readFileSync(path.join(CORPUS, 'rt/rtstruct.dcm'));
    const r = await openRewrite(new IterableByteSource(chunked(file, 333), 'bare'), { name: 'bare' });
    expect(r.warnings.map((w) => w.code)).toContain('NO_META');
    const out = await collect(r.part10());
    const h = await header(out);
    expect(h.format).toBe('part10');
    expect(h.meta?.text(T.MediaStorageSOPInstanceUID)).toBe(r.sopInstanceUID);
  });

  it('encodes a header held in memory like the writer does', () => {
    const ds = buildDataSet(base);
    ds.set({ tag: T.ReferencedImageSequence, vr: 'SQ', length: undefined, offset: -1, valueOffset: -1, items: [new DataSet(ELE, ds)] });
    expect(encodeHeaderDataSet(ds).length).toBeGreaterThan(0);
  });
});
