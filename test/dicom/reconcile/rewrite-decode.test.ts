/**
 * The forward-only rewrite with decodePixelData (src/dicom/reconcile/rewrite.ts): encapsulated pixel
 * data (PS3.5 §A.4) decoded to native pixels (PS3.5 §8.1.1) while it streams, output in Explicit VR
 * Little Endian. Corpus files of every decoder (picked from MANIFEST.tsv by transfer syntax, single and
 * multi-frame, with and without Basic Offset Table, fragmented frames) are fed through a read stream
 * seen only as an async iterator (the shape of decrypted content) and compared with:
 *   - the random-access media transcoder's 'decode' kind (src/dicom/transcode/transcode.ts) on the same
 *     file: the same data set, pixel data byte for byte (or the same error code where it refuses);
 *   - dcmtk's decoders (dcmdjpeg, dcmdjpls, dcmdrle, default options): Image Pixel attributes and
 *     pixels (identical when lossless, within ±1 when lossy, as test/interop/pixel-decode.test.ts);
 *   - dcmdump (which by default stops at an error, unlike +E) reads our output without an error, and
 *     dciodvfy reports no error on it that it does not report on dcmtk's decoded file (for JPEG 2000
 *     and HTJ2K, which dcmtk 3.6.7 cannot decode, on the transcoder's).
 * Synthetic RLE files (PS3.5 Annex G) built here cover the frame-finding rules and the hostile inputs,
 * which must end in a typed error, never in a hang; a large synthetic multi-frame shows memory staying
 * at about a frame.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DataSet } from '../../../src/dicom/dataset.js';
import { ReaderByteSource } from '../../../src/dicom/part10/byte-source.js';
import { readPart10File, readPart10Header, type Part10Header } from '../../../src/dicom/part10/header.js';
import { buildDataSet, elementHeaderBytes, encodeFileMeta, type ElementValue } from '../../../src/dicom/part10/writer.js';
import { T } from '../../../src/dicom/tags.js';
import { lookupTransferSyntax } from '../../../src/dicom/transfer-syntax.js';
import { prepareOutput } from '../../../src/dicom/transcode/transcode.js';
import type { VR } from '../../../src/dicom/vr.js';
import { coerceDataSet, encodeHeaderDataSet, IterableByteSource, openRewrite, RT, type Rewrite, type RewriteOptions } from '../../../src/dicom/reconcile/index.js';
import { DcmsafeError } from '../../../src/errors/index.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { CORPUS, corpusManifest, describeWithTools, run, tempDir, type CorpusEntry } from '../../helpers/env.js';
import { SECONDARY_CAPTURE } from '../../helpers/synthetic.js';
import { expectCode } from '../../helpers/errors.js';
import { imagePixelAttributes, item, rleFrame } from '../../helpers/pixels.js';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const RLE = '1.2.840.10008.1.2.5';
const LOCAL = { patientId: 'LOC-0001', issuerOfPatientId: 'LOCAL_HOSP', patientName: 'Local^Patient', birthDate: '19800214', sex: 'F' as const };
const CTX = { modifyingSystem: 'dcmsafe 0.1.0', now: new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 10)) };
const coerce = (ds: DataSet): DataSet => coerceDataSet(ds, LOCAL, CTX).dataSet;

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield Buffer.from(bytes.subarray(i, i + size));
}

/** A file read forward-only: a read stream seen as an async iterator, length unknown (as decrypted content). */
function streamSource(file: string, highWaterMark = 64 * 1024): IterableByteSource {
  return new IterableByteSource(createReadStream(file, { highWaterMark }), path.basename(file));
}

async function rewriteFile(file: string, options: Omit<RewriteOptions, 'name'>, highWaterMark?: number): Promise<{ rewrite: Rewrite; bytes: Buffer }> {
  const rewrite = await openRewrite(streamSource(file, highWaterMark), { name: path.basename(file), decodePixelData: true, ...options });
  return { rewrite, bytes: await collect(rewrite.part10()) };
}

/** What the media transcoder's 'decode' kind writes for the same file. */
async function transcoded(file: string): Promise<Buffer> {
  const h = await readPart10File(file);
  const identity = {
    sopClassUID: h.dataSet.text(T.SOPClassUID) ?? h.meta?.text(T.MediaStorageSOPClassUID) ?? '',
    sopInstanceUID: h.dataSet.text(T.SOPInstanceUID) ?? h.meta?.text(T.MediaStorageSOPInstanceUID) ?? '',
  };
  const out = await prepareOutput(file, 'decode', identity);
  try {
    return await collect(out.stream());
  } finally {
    await out.close();
  }
}

interface Read {
  header: Part10Header;
  whole: Part10Header;
  pixels: Buffer;
}

/** The header and the native Pixel Data value of an output file. */
async function readOutput(bytes: Buffer, name = 'out'): Promise<Read> {
  const header = await readPart10Header(new BufferReader(bytes, name));
  const whole = await readPart10Header(new BufferReader(bytes, name), { stopAtPixelData: false });
  const px = header.pixelData;
  if (!px || px.length === undefined) throw new Error(`${name}: no native Pixel Data`);
  return { header, whole, pixels: bytes.subarray(px.valueOffset, px.valueOffset + px.length) };
}

/** Every element, recursively, as tag, VR and value digest (bulk values by length): what two writers must agree on. */
function elementsOf(ds: DataSet): unknown[] {
  return ds.sorted().map((el) => {
    const tag = el.tag.toString(16).padStart(8, '0');
    if (el.items) return { tag, vr: el.vr, items: el.items.map(elementsOf) };
    if (el.fragments) return { tag, vr: el.vr, fragments: el.fragments.map((f) => f.length) };
    if (el.bulk) return { tag, vr: el.vr, bulk: el.length };
    return { tag, vr: el.vr, value: createHash('sha256').update(el.value ?? Buffer.alloc(0)).digest('hex').slice(0, 16) };
  });
}

function imagePixel(ds: DataSet): Record<string, string | number | undefined> {
  return { ...imagePixelAttributes(ds), numberOfFrames: ds.integer(T.NumberOfFrames), lossyImageCompression: ds.text(T.LossyImageCompression) };
}

/** Largest difference between samples of two native pixel buffers. */
function largestDifference(a: Buffer, b: Buffer, bitsAllocated: number, signed: boolean): number {
  const bytes = bitsAllocated / 8;
  const sample = (buf: Buffer, i: number): number => (bytes === 1 ? (signed ? buf.readInt8(i) : (buf[i] as number)) : signed ? buf.readInt16LE(i) : buf.readUInt16LE(i));
  let max = 0;
  for (let i = 0; i + bytes <= a.length; i += bytes) max = Math.max(max, Math.abs(sample(a, i) - sample(b, i)));
  return max;
}


// --- corpus files -------------------------------------------------------------------------------------

const DECODABLE = corpusManifest().filter((e) => e.isDicom && !e.malformed && lookupTransferSyntax(e.transferSyntax)?.decoder !== undefined);
const decoderOf = (e: CorpusEntry): string => lookupTransferSyntax(e.transferSyntax)?.decoder ?? '';

/** Number of Frames as MANIFEST.tsv gives it (empty: single frame). */
const MANIFEST_FRAMES = ((): Map<string, number> => {
  const lines = readFileSync(path.join(CORPUS, 'MANIFEST.tsv'), 'utf8').trimEnd().split('\n');
  const header = (lines[0] ?? '').split('\t');
  return new Map(lines.slice(1).map((l) => l.split('\t')).map((f) => [f[header.indexOf('path')] ?? '', Number(f[header.indexOf('frames')] || '1')]));
})();
const isMultiFrame = (e: CorpusEntry): boolean => (MANIFEST_FRAMES.get(e.path) ?? 1) > 1;

describe('the corpus has what these tests need', () => {
  it('JPEG baseline, JPEG lossless, JPEG-LS, JPEG 2000 and RLE files, single and multi-frame', () => {
    const uids = new Set(DECODABLE.map((e) => e.transferSyntax));
    for (const uid of ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', RLE]) expect(uids.has(uid), uid).toBe(true);
    for (const d of ['jpeg', 'rle']) {
      expect(DECODABLE.some((e) => decoderOf(e) === d && isMultiFrame(e)), `multi-frame ${d}`).toBe(true);
      expect(DECODABLE.some((e) => decoderOf(e) === d && !isMultiFrame(e)), `single-frame ${d}`).toBe(true);
    }
  });
});

/**
 * The file itself, or, when it has no SOP Instance UID (which a C-STORE needs and the rewrite
 * refuses), a copy behind a File Meta Information that gives one.
 */
async function inputFor(entry: CorpusEntry, dir: string): Promise<string> {
  const h = await readPart10File(entry.absolute);
  if (h.dataSet.text(T.SOPInstanceUID) ?? h.meta?.text(T.MediaStorageSOPInstanceUID)) return entry.absolute;
  const bytes = readFileSync(entry.absolute);
  const sopClassUID = h.dataSet.text(T.SOPClassUID) ?? h.meta?.text(T.MediaStorageSOPClassUID) ?? SECONDARY_CAPTURE;
  const copy = path.join(dir, `${entry.path.replace(/\//g, '_')}.with-uid.dcm`);
  writeFileSync(copy, Buffer.concat([encodeFileMeta({ sopClassUID, sopInstanceUID: '2.25.4242', transferSyntaxUID: h.transferSyntax.uid }), bytes.subarray(h.dataSetOffset)]));
  return copy;
}

const outputName = (entry: CorpusEntry, kind: string): string => `${entry.path.replace(/\//g, '_')}.${kind}.dcm`;

describe('decoding rewrite of corpus files, against the random-access transcoder', () => {
  const dir = tempDir('dcmsafe-rewrite-decode-');
  for (const entry of DECODABLE) {
    it(`${entry.path} (${lookupTransferSyntax(entry.transferSyntax)?.name ?? entry.transferSyntax}, ${MANIFEST_FRAMES.get(entry.path) ?? 1} frame(s))`, async () => {
      const file = await inputFor(entry, dir);
      let reference: Buffer | undefined;
      let refused: DcmsafeError | undefined;
      try {
        reference = await transcoded(file);
      } catch (e) {
        if (!(e instanceof DcmsafeError)) throw e;
        refused = e;
      }
      if (refused) {
        // What the transcoder refuses, the rewrite refuses with the same code (when opened or when streamed).
        await expectCode(rewriteFile(file, {}), refused.code);
        return;
      }
      const ref = await readOutput(reference as Buffer, 'transcoded');

      // Without a transform: the same data set as the transcoder writes, pixel data included.
      const plain = await rewriteFile(file, {});
      expect(plain.rewrite.transferSyntaxUID).toBe(EXPLICIT_LE);
      expect(plain.rewrite.sourceTransferSyntaxUID).toBe(entry.transferSyntax);
      const ours = await readOutput(plain.bytes);
      expect(ours.header.transferSyntax.uid).toBe(EXPLICIT_LE);
      const plan = plain.rewrite.decodePlan;
      expect(plan?.frameCount).toBe(MANIFEST_FRAMES.get(entry.path) ?? 1);
      expect(ours.pixels.length).toBe((plan?.totalSize ?? 0) + ((plan?.totalSize ?? 0) % 2));
      expect(ours.pixels.equals(ref.pixels), 'pixel data identical to the transcoder').toBe(true);
      expect(imagePixel(ours.header.dataSet)).toEqual(imagePixel(ref.header.dataSet));
      expect(elementsOf(ours.whole.dataSet), 'whole data set as the transcoder writes it').toEqual(elementsOf(ref.whole.dataSet));
      writeFileSync(path.join(dir, outputName(entry, 'plain')), plain.bytes);
      writeFileSync(path.join(dir, outputName(entry, 'transcoded')), reference as Buffer);

      // With the coercion and another chunking: patient changed, pixels the same.
      const coerced = await rewriteFile(file, { transform: coerce }, 7777);
      const c = await readOutput(coerced.bytes);
      expect(c.header.dataSet.text(T.PatientID)).toBe(LOCAL.patientId);
      expect(c.header.dataSet.items(RT.OriginalAttributesSequence).length).toBeGreaterThan(0);
      expect(imagePixel(c.header.dataSet)).toEqual(imagePixel(ref.header.dataSet));
      expect(c.pixels.equals(ref.pixels)).toBe(true);
      writeFileSync(path.join(dir, outputName(entry, 'coerced')), coerced.bytes);
    }, 30_000);
  }

  const DCMTK_TOOL: Record<string, string> = { jpeg: 'dcmdjpeg', 'jpeg-ls': 'dcmdjpls', rle: 'dcmdrle' };

  /** First lines of dciodvfy's errors (values may run over several lines). */
  const dciodvfyErrors = (file: string): Set<string> => {
    const r = run('dciodvfy', [file]);
    return new Set(`${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('Error')));
  };

  describeWithTools(['dcmdjpeg', 'dcmdjpls', 'dcmdrle', 'dcmdump', 'dciodvfy'], 'against dcmtk: decoders, dcmdump, dciodvfy', () => {
    for (const entry of DECODABLE) {
      const tool = DCMTK_TOOL[decoderOf(entry)];
      it(`${entry.path} (${tool ?? 'no dcmtk decoder: dciodvfy against the transcoder'})`, async () => {
        const file = await inputFor(entry, dir);
        const oursFile = path.join(dir, outputName(entry, 'plain-dcmtk'));
        let plain: { rewrite: Rewrite; bytes: Buffer };
        try {
          plain = await rewriteFile(file, {});
        } catch (e) {
          // Refused alike by the transcoder (checked above); nothing to compare.
          await expectCode(transcoded(file), (e as DcmsafeError).code);
          return;
        }
        writeFileSync(oursFile, plain.bytes);
        const coercedFile = path.join(dir, outputName(entry, 'coerced-dcmtk'));
        writeFileSync(coercedFile, (await rewriteFile(file, { transform: coerce })).bytes);
        for (const f of [oursFile, coercedFile]) {
          const dump = run('dcmdump', [f]);
          expect(dump.status, dump.stderr).toBe(0);
          expect(`${dump.stdout}\n${dump.stderr}`).not.toMatch(/^E: /m);
        }

        let theirsFile: string;
        if (tool) {
          theirsFile = path.join(dir, outputName(entry, tool));
          const r = run(tool, [file, theirsFile]);
          expect(r.status, r.stderr).toBe(0);
          const ours = await readOutput(plain.bytes);
          const theirs = await readOutput(readFileSync(theirsFile), tool);
          const { numberOfFrames: _n, lossyImageCompression: _l, ...attributes } = imagePixel(ours.header.dataSet);
          const { numberOfFrames: _n2, lossyImageCompression: _l2, ...theirAttributes } = imagePixel(theirs.header.dataSet);
          expect(attributes, `Image Pixel attributes as ${tool} writes them`).toEqual(theirAttributes);
          expect(theirs.pixels.length).toBe(ours.pixels.length);
          const bits = ours.header.dataSet.integer(T.BitsAllocated) ?? 8;
          const signed = ours.header.dataSet.integer(T.PixelRepresentation) === 1;
          if (lookupTransferSyntax(entry.transferSyntax)?.lossy) expect(largestDifference(ours.pixels, theirs.pixels, bits, signed)).toBeLessThanOrEqual(1);
          else expect(ours.pixels.equals(theirs.pixels), `lossless decode identical to ${tool}`).toBe(true);
        } else {
          theirsFile = path.join(dir, outputName(entry, 'transcoded-dcmtk'));
          writeFileSync(theirsFile, await transcoded(file));
        }
        const theirErrors = dciodvfyErrors(theirsFile);
        const newErrors = [...dciodvfyErrors(oursFile)].filter((l) => !theirErrors.has(l));
        expect(newErrors, 'dciodvfy errors on our output that the reference does not have').toEqual([]);
      }, 30_000);
    }
  });
});

// --- synthetic RLE files (PS3.5 Annex G) ---------------------------------------------------------------


/** Byte planes of 16-bit samples (high bytes first, PS3.5 §G.2). */
const planes16 = (values: readonly number[]): Buffer[] => [Buffer.from(values.map((v) => v >> 8)), Buffer.from(values.map((v) => v & 0xff))];
const native16 = (values: readonly number[]): Buffer => Buffer.from(new Uint16Array(values).buffer);

const SEQUENCE_DELIMITER = item(Buffer.alloc(0), 0xfffee0dd);

const u32s = (values: readonly number[]): Buffer => Buffer.from(new Uint32Array(values).buffer);
const u64s = (values: readonly number[]): Buffer => {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
  return b;
};

interface SyntheticSpec {
  rows: number;
  columns: number;
  bitsAllocated: number;
  numberOfFrames?: number;
  syntax?: string;
  /** Value of the Basic Offset Table item (empty by default). */
  bot?: Buffer;
  fragments: Buffer[];
  extra?: Array<[number, VR, ElementValue]>;
  /** Leave out the sequence delimiter and what follows. */
  cut?: boolean;
}

const SOP = '2.25.31415926';

/** The data set elements before the pixel data of a synthetic monochrome image. */
function imageEntries(spec: Pick<SyntheticSpec, 'rows' | 'columns' | 'bitsAllocated' | 'numberOfFrames'>): Array<[number, VR, ElementValue]> {
  return [
    [T.SamplesPerPixel, 'US', 1],
    [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    ...(spec.numberOfFrames === undefined ? [] : ([[T.NumberOfFrames, 'IS', spec.numberOfFrames]] as Array<[number, VR, ElementValue]>)),
    [T.Rows, 'US', spec.rows],
    [T.Columns, 'US', spec.columns],
    [T.BitsAllocated, 'US', spec.bitsAllocated],
    [T.BitsStored, 'US', spec.bitsAllocated],
    [T.HighBit, 'US', spec.bitsAllocated - 1],
    [T.PixelRepresentation, 'US', 0],
  ];
}

/** The parts of a synthetic Part 10 file in order: meta and header, pixel data header, items, delimiter and trailing padding. */
function syntheticParts(spec: SyntheticSpec): Buffer[] {
  const ds = buildDataSet([
    [T.SOPClassUID, 'UI', SECONDARY_CAPTURE],
    [T.SOPInstanceUID, 'UI', SOP],
    [T.Modality, 'CS', 'OT'],
    [T.PatientName, 'PN', 'Foreign^Name'],
    [T.PatientID, 'LO', 'F123'],
    ...imageEntries(spec),
    ...(spec.extra ?? []),
  ]);
  return [
    encodeFileMeta({ sopClassUID: SECONDARY_CAPTURE, sopInstanceUID: SOP, transferSyntaxUID: spec.syntax ?? RLE }),
    encodeHeaderDataSet(ds),
    elementHeaderBytes(T.PixelData, 'OB', 0xffffffff),
    item(spec.bot ?? Buffer.alloc(0)),
    ...spec.fragments.map((f) => item(f)),
    ...(spec.cut ? [] : [SEQUENCE_DELIMITER, elementHeaderBytes(T.DataSetTrailingPadding, 'OB', 4), Buffer.alloc(4)]),
  ];
}

const synthetic = (spec: SyntheticSpec): Buffer => Buffer.concat(syntheticParts(spec));

async function decodeSynthetic(bytes: Buffer, options: Omit<RewriteOptions, 'name'> = {}, chunk = 5): Promise<{ rewrite: Rewrite; bytes: Buffer }> {
  const rewrite = await openRewrite(new IterableByteSource(chunked(bytes, chunk), 'synthetic.dcm'), { name: 'synthetic.dcm', decodePixelData: true, ...options });
  return { rewrite, bytes: await collect(rewrite.part10()) };
}

const VALUES = [
  [0x0102, 0x0304, 0x0506, 0x0708, 0x090a, 0x0b0c],
  [0xfffe, 0, 1, 2, 3, 0x8000],
  [7, 7, 7, 0x7777, 0x1234, 0xabcd],
];
const IMAGE = { rows: 2, columns: 3, bitsAllocated: 16 };

describe('decoding rewrite: how frames are found forward-only', () => {
  const frames = VALUES.map((v) => rleFrame(planes16(v)));
  const expected = Buffer.concat(VALUES.map(native16));
  /** A frame split in two fragments; the second does not look like an RLE Header. */
  const halves = (f: Buffer): Buffer[] => [f.subarray(0, 70), f.subarray(70)];

  it('one fragment per frame, no Basic Offset Table (markers), trailing elements kept', async () => {
    const { rewrite, bytes } = await decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, fragments: frames }));
    expect(rewrite.transferSyntaxUID).toBe(EXPLICIT_LE);
    const out = await readOutput(bytes);
    expect(out.pixels.equals(expected)).toBe(true);
    expect(out.whole.dataSet.get(T.DataSetTrailingPadding)?.length).toBe(4);
    expect(out.header.dataSet.get(T.PixelData)).toBeUndefined();
    expect(out.header.pixelData?.vr).toBe('OW');
  });

  it('frames in several fragments, with a Basic Offset Table', async () => {
    const fragments = frames.flatMap(halves);
    const starts = [0, 8 + 70 + 8 + (frames[0] as Buffer).length - 70];
    starts.push((starts[1] as number) + 16 + (frames[1] as Buffer).length);
    const { bytes } = await decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, bot: u32s(starts), fragments }), {}, 1);
    expect((await readOutput(bytes)).pixels.equals(expected)).toBe(true);
  });

  it('frames in several fragments, without a table: a frame starts where an RLE Header is', async () => {
    const { bytes } = await decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, fragments: frames.flatMap(halves) }));
    expect((await readOutput(bytes)).pixels.equals(expected)).toBe(true);
  });

  it('one frame spread over fragments (no Number of Frames)', async () => {
    const { bytes } = await decodeSynthetic(synthetic({ ...IMAGE, fragments: halves(frames[0] as Buffer) }));
    expect((await readOutput(bytes)).pixels.equals(native16(VALUES[0] as number[]))).toBe(true);
  });

  it('an Extended Offset Table: its lengths are used, and it is left out of the output', async () => {
    // Each fragment carries two bytes more than its frame: the lengths must leave them out, which the
    // frame limit (exactly one frame) proves.
    const fragments = frames.map((f) => Buffer.concat([f, Buffer.from([0xaa, 0xaa])]));
    const offsets = [0, 8 + (fragments[0] as Buffer).length, 16 + (fragments[0] as Buffer).length + (fragments[1] as Buffer).length];
    const extra: Array<[number, VR, ElementValue]> = [
      [T.ExtendedOffsetTable, 'OV', u64s(offsets)],
      [T.ExtendedOffsetTableLengths, 'OV', u64s(frames.map((f) => f.length))],
    ];
    const { bytes } = await decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, fragments, extra }), { maxFrameBytes: (frames[0] as Buffer).length });
    const out = await readOutput(bytes);
    expect(out.pixels.equals(expected)).toBe(true);
    expect(out.header.dataSet.has(T.ExtendedOffsetTable)).toBe(false);
    expect(out.header.dataSet.has(T.ExtendedOffsetTableLengths)).toBe(false);
    const tooLong = [...extra.slice(0, 1), [T.ExtendedOffsetTableLengths, 'OV', u64s(fragments.map((f) => f.length + 2))] as [number, VR, ElementValue]];
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, fragments, extra: tooLong })), 'PIXEL_FRAGMENTS');
  });

  it('an odd number of decoded bytes gets one padding byte (8-bit, OB)', async () => {
    const pixels = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const { rewrite, bytes } = await decodeSynthetic(synthetic({ rows: 3, columns: 3, bitsAllocated: 8, fragments: [rleFrame([pixels])] }));
    expect(rewrite.decodePlan?.totalSize).toBe(9);
    const out = await readOutput(bytes);
    expect(out.header.pixelData?.vr).toBe('OB');
    expect(out.pixels).toEqual(Buffer.concat([pixels, Buffer.alloc(1)]));
  });

  it('an encapsulated icon (Icon Image Sequence) is decoded in memory too', async () => {
    const icon = buildDataSet(imageEntries({ rows: 2, columns: 2, bitsAllocated: 8 }));
    const iconPixels = Buffer.from([10, 20, 30, 40]);
    const fragments = [Buffer.alloc(0), rleFrame([iconPixels])];
    const iconItems = Buffer.concat(fragments.map((f) => item(f)));
    const iconHeader = encodeHeaderDataSet(icon);
    const iconBody = Buffer.concat([iconHeader, elementHeaderBytes(T.PixelData, 'OB', 0xffffffff), iconItems, SEQUENCE_DELIMITER]);
    const undefinedLengthItem = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
    const itemDelimiter = item(Buffer.alloc(0), 0xfffee00d);
    const iconSequence = Buffer.concat([elementHeaderBytes(T.IconImageSequence, 'SQ', 0xffffffff), undefinedLengthItem, iconBody, itemDelimiter, SEQUENCE_DELIMITER]);
    const parts = syntheticParts({ ...IMAGE, numberOfFrames: 1, fragments: [frames[0] as Buffer] });
    // The Icon Image Sequence (0088,0200) comes after the image attributes (0028,xxxx), before the pixel data.
    const file = Buffer.concat([parts[0] as Buffer, parts[1] as Buffer, iconSequence, ...parts.slice(2)]);
    for (const chunk of [1, 4096]) {
      const { bytes } = await decodeSynthetic(file, { transform: coerce }, chunk);
      const out = await readOutput(bytes);
      expect(out.pixels.equals(native16(VALUES[0] as number[]))).toBe(true);
      const decodedIcon = out.header.dataSet.items(T.IconImageSequence)[0];
      expect(decodedIcon?.get(T.PixelData)?.value).toEqual(iconPixels);
      expect(decodedIcon?.get(T.PixelData)?.vr).toBe('OB');
      expect(out.header.dataSet.text(T.PatientID)).toBe(LOCAL.patientId);
    }
  });

  it('changes nothing for native files and files without pixel data', async () => {
    for (const file of ['mr/MR_small.dcm', 'mr/MR_small_implicit.dcm', 'sr/report_dfl', 'rt/rtstruct.dcm']) {
      const input = readFileSync(path.join(CORPUS, file));
      const open = (decodePixelData: boolean): Promise<Rewrite> => openRewrite(new IterableByteSource(chunked(input, 1000), file), { name: file, decodePixelData, transform: coerce });
      const withOption = await open(true);
      const without = await open(false);
      expect(withOption.transferSyntaxUID).toBe(without.transferSyntaxUID);
      expect(withOption.decodePlan).toBeUndefined();
      expect((await collect(withOption.part10())).equals(await collect(without.part10()))).toBe(true);
    }
  });
});

describe('decoding rewrite: bad input ends in a typed error', () => {
  const frames = VALUES.map((v) => rleFrame(planes16(v)));

  it('more frames than Number of Frames (PIXEL_FRAGMENTS), before the extra frame is decoded', async () => {
    const e = await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 2, fragments: frames })), 'PIXEL_FRAGMENTS');
    expect(e.data).toMatchObject({ file: 'synthetic.dcm', frame: 3 });
  });

  it('fewer frames than Number of Frames (PIXEL_FRAGMENTS)', async () => {
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 4, fragments: frames })), 'PIXEL_FRAGMENTS');
  });

  it('a Basic Offset Table that does not fit (PIXEL_FRAGMENTS)', async () => {
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, bot: u32s([0, 100]), fragments: frames })), 'PIXEL_FRAGMENTS'); // two entries
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, bot: u32s([0, 100, 200]), fragments: frames })), 'PIXEL_FRAGMENTS'); // not fragment starts
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, bot: u32s([8, 100, 200]), fragments: frames })), 'PIXEL_FRAGMENTS'); // not from 0
  });

  it('no fragment, or something other than an item among the fragments (PIXEL_FRAGMENTS)', async () => {
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, fragments: [] })), 'PIXEL_FRAGMENTS');
    const parts = syntheticParts({ ...IMAGE, fragments: [frames[0] as Buffer] });
    const stray = Buffer.concat([...parts.slice(0, 4), elementHeaderBytes(T.PatientID, 'LO', 4), Buffer.from('ABCD'), ...parts.slice(4)]);
    await expectCode(decodeSynthetic(stray), 'PIXEL_FRAGMENTS');
  });

  it('a first fragment that opens no codestream when frames must be found by markers (PIXEL_FRAGMENTS)', async () => {
    await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 2, fragments: [Buffer.alloc(16, 0xee), ...frames.slice(0, 2)] })), 'PIXEL_FRAGMENTS');
  });

  it('an undecodable frame (PIXEL_DECODE naming the frame)', async () => {
    const bad = rleFrame([Buffer.from(VALUES[1] as number[])]); // one segment where 16-bit samples need two
    const e = await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, fragments: [frames[0] as Buffer, bad, frames[2] as Buffer] })), 'PIXEL_DECODE');
    expect(e.data).toMatchObject({ file: 'synthetic.dcm', frame: 2 });
  });

  it('a corrupted JPEG frame from the corpus (PIXEL_DECODE), and the next rewrite still decodes', async () => {
    const entry = DECODABLE.find((e) => decoderOf(e) === 'jpeg' && isMultiFrame(e)) as CorpusEntry;
    const bytes = readFileSync(entry.absolute);
    const h = await readPart10Header(new BufferReader(bytes));
    let sos = -1;
    for (let i = h.pixelData?.valueOffset ?? 0; i < bytes.length - 1 && sos < 0; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xda) sos = i;
    bytes[sos + 5] = 0x77; // a scan component the frame does not have
    const e = await expectCode(decodeSynthetic(bytes, {}, 65536), 'PIXEL_DECODE');
    expect(e.data).toMatchObject({ frame: 1 });
    const ok = await decodeSynthetic(readFileSync(entry.absolute), {}, 65536);
    expect(ok.rewrite.decodePlan?.frameCount).toBeGreaterThan(1);
  });

  it('a stream cut inside a fragment or before the delimiter (PART10_TRUNCATED), from a stream and from a file', async () => {
    const entry = DECODABLE.find((e) => decoderOf(e) === 'jpeg' && isMultiFrame(e)) as CorpusEntry;
    const full = readFileSync(entry.absolute);
    for (const cut of [full.subarray(0, Math.floor(full.length * 0.6)), synthetic({ ...IMAGE, numberOfFrames: 3, fragments: frames, cut: true })]) {
      await expectCode(decodeSynthetic(cut, {}, 4096), 'PART10_TRUNCATED');
      const fromFile = openRewrite(new ReaderByteSource(new BufferReader(cut, 'cut.dcm')), { name: 'cut.dcm', decodePixelData: true }).then((r) => collect(r.part10()));
      await expectCode(fromFile, 'PART10_TRUNCATED');
    }
  });

  it('a frame above maxFrameBytes (PART10_LIMIT)', async () => {
    const e = await expectCode(decodeSynthetic(synthetic({ ...IMAGE, numberOfFrames: 3, fragments: frames }), { maxFrameBytes: 32 }), 'PART10_LIMIT');
    expect(e.data).toMatchObject({ frame: 1, limit: 32 });
  });

  it('what cannot be decoded is refused when opened: no decoder, bad Image Pixel attributes', async () => {
    const mpeg2 = synthetic({ ...IMAGE, syntax: '1.2.840.10008.1.2.4.100', fragments: [frames[0] as Buffer] });
    await expectCode(openRewrite(new IterableByteSource([mpeg2], 'mpeg2'), { name: 'mpeg2', decodePixelData: true }), 'PART10_UNSUPPORTED_SYNTAX');
    const odd = synthetic({ ...IMAGE, bitsAllocated: 12, fragments: [frames[0] as Buffer] });
    await expectCode(openRewrite(new IterableByteSource([odd], 'odd'), { name: 'odd', decodePixelData: true }), 'PIXEL_ATTRIBUTES');
  });
});

describe('decoding rewrite: memory stays at about a frame', () => {
  it('a 200 MiB multi-frame RLE instance (100 frames of 1024×1024×16 bits) from an async iterator', async () => {
    const rows = 1024;
    const columns = 1024;
    const frameCount = 100;
    const plane = rows * columns;
    const value = (i: number): number => (i * 0x0101 + 0x1234) & 0xffff;
    // A constant plane as replicate runs of 128 (PS3.5 §G.3.1): 16 KiB per segment.
    const constantSegment = (byte: number): Buffer => Buffer.from(Array.from({ length: plane / 128 }, () => [0x81, byte]).flat());
    const frame = (i: number): Buffer => {
      const high = constantSegment(value(i) >> 8);
      const low = constantSegment(value(i) & 0xff);
      const header = Buffer.alloc(64);
      header.writeUInt32LE(2, 0);
      header.writeUInt32LE(64, 4);
      header.writeUInt32LE(64 + high.length, 8);
      return Buffer.concat([header, high, low]);
    };
    const head = syntheticParts({ rows, columns, bitsAllocated: 16, numberOfFrames: frameCount, fragments: [] }).slice(0, 4);
    async function* produce(): AsyncGenerator<Buffer> {
      yield* head;
      for (let i = 0; i < frameCount; i++) yield item(frame(i));
      yield SEQUENCE_DELIMITER;
    }
    const expected = createHash('sha256');
    const expectedFrame = Buffer.alloc(2 * plane);
    for (let i = 0; i < frameCount; i++) expected.update(expectedFrame.fill(Buffer.from([value(i) & 0xff, value(i) >> 8])));

    const memory = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const base = memory();
    let peak = 0;
    const rewrite = await openRewrite(new IterableByteSource(produce(), 'large-rle'), { name: 'large-rle', decodePixelData: true });
    const hash = createHash('sha256');
    let pixelBytes = 0;
    let headerSeen = false;
    let n = 0;
    for await (const chunk of rewrite.dataSet) {
      if (headerSeen) {
        hash.update(chunk);
        pixelBytes += chunk.length;
      } else if (chunk.length === 12 && chunk.readUInt32LE(0) === 0x00107fe0) {
        headerSeen = true; // the Pixel Data element header: what follows is the decoded pixels
        expect(chunk.readUInt32LE(8)).toBe(2 * plane * frameCount);
      }
      peak = Math.max(peak, memory() - base);
      n++;
    }
    expect(n).toBeGreaterThan(frameCount);
    console.log(`200 MiB decoding rewrite: memory grew by at most ${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(pixelBytes).toBe(2 * plane * frameCount);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(peak).toBeLessThan(64 * 2 ** 20);
  }, 60_000);
});
