/**
 * Decoding encapsulated pixel data (PS3.5 §8.2, Annex A.4) checked against decoders nobody here wrote.
 * Every encapsulated corpus file with a decoder (picked by MANIFEST.tsv's transfer_syntax_uid, outside
 * malformed/) is decoded frame by frame and compared byte for byte with:
 *   - JPEG, JPEG-LS, RLE: what dcmtk writes after dcmdjpeg / dcmdjpls / dcmdrle (default options),
 *     pixel data and Image Pixel attributes;
 *   - JPEG 2000: what `gdcmconv --raw` writes (GDCM 3.0 on the system OpenJPEG; dcmtk 3.6.7 has no
 *     JPEG 2000 decoder);
 *   - HTJ2K: OpenJPEG's own `opj_decompress` (2.5, which reads HTJ2K) on the frames pydicom extracts;
 *     neither dcmtk 3.6.7 nor GDCM 3.0.21 decodes HTJ2K.
 * Lossless results must be identical; for lossy syntaxes the largest sample difference is measured and
 * printed (a decoder may round differently), and must stay within ±1. Lossless decodes are also
 * compared with the native twin in the corpus (same SOP Instance UID) where one exists.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';
import { BufferReader, FileReader, type RandomAccessReader } from '../../src/media/io/random-access-reader.js';
import { readPart10Header, type Part10Header } from '../../src/dicom/part10/header.js';
import { T } from '../../src/dicom/tags.js';
import { lookupTransferSyntax } from '../../src/dicom/transfer-syntax.js';
import { decodeFrames, planDecode, type DecodePlan } from '../../src/dicom/transcode/decode-pixels.js';
import { corpusManifest, describeWithTools, PYTHON, run, tempDir, type CorpusEntry } from '../helpers/env.js';
import { imagePixelAttributes } from '../helpers/pixels.js';

/** Largest difference accepted from another decoder of a lossy codestream (rounding in the inverse transform). */
const LOSSY_TOLERANCE = 1;

interface Decoded {
  header: Part10Header;
  plan: DecodePlan;
  pixels: Buffer;
}

async function decodeWith(reader: RandomAccessReader): Promise<Decoded> {
  const header = await readPart10Header(reader);
  const plan = planDecode(header);
  const frames: Buffer[] = [];
  for await (const frame of decodeFrames(reader, header, plan)) {
    expect(frame.length).toBe(plan.frameSize);
    frames.push(frame);
  }
  expect(frames.length).toBe(plan.frameCount);
  return { header, plan, pixels: Buffer.concat(frames) };
}

async function decodeFile(file: string): Promise<Decoded> {
  const reader = await FileReader.open(file);
  try {
    return await decodeWith(reader);
  } finally {
    await reader.close();
  }
}

interface Native {
  header: Part10Header;
  pixels: Buffer;
}

/** The native Pixel Data of a file another tool wrote (or of a native corpus file). */
async function readNative(file: string): Promise<Native> {
  const reader = await FileReader.open(file);
  try {
    const header = await readPart10Header(reader);
    const pd = header.pixelData;
    if (!pd || pd.length === undefined) throw new Error(`${file}: no native Pixel Data`);
    return { header, pixels: await reader.read(pd.valueOffset, pd.length) };
  } finally {
    await reader.close();
  }
}

function attributesOf(header: Part10Header): Record<string, string | number | undefined> {
  return imagePixelAttributes(header.dataSet);
}

/** Number of differing samples and the largest difference between their values. */
function compareSamples(ours: Buffer, theirs: Buffer, bitsAllocated: number, signed: boolean): { differing: number; max: number } {
  const bytes = bitsAllocated / 8;
  const sample = (b: Buffer, i: number): number => {
    if (bytes === 1) return signed ? b.readInt8(i) : (b[i] as number);
    if (bytes === 2) return signed ? b.readInt16LE(i) : b.readUInt16LE(i);
    return signed ? b.readInt32LE(i) : b.readUInt32LE(i);
  };
  let differing = 0;
  let max = 0;
  for (let i = 0; i + bytes <= ours.length; i += bytes) {
    const d = Math.abs(sample(ours, i) - sample(theirs, i));
    if (d !== 0) {
      differing++;
      max = Math.max(max, d);
    }
  }
  return { differing, max };
}

interface Finding {
  file: string;
  syntax: string;
  oracle: string;
  result: string;
}
const findings: Finding[] = [];
afterAll(() => {
  if (findings.length === 0) return;
  const width = Math.max(...findings.map((f) => f.file.length));
  console.log(
    `\npixel decode vs independent decoders (${findings.length} files):\n` +
      findings.map((f) => `  ${f.file.padEnd(width)}  ${f.syntax.padEnd(24)}  ${f.oracle.padEnd(14)}  ${f.result}`).join('\n'),
  );
});

/** Checks our pixels against an oracle's; exact for lossless syntaxes, measured for lossy ones. */
function checkPixels(entry: CorpusEntry, oracle: string, ours: Decoded, theirs: Buffer): void {
  const ts = lookupTransferSyntax(entry.transferSyntax);
  expect(theirs.length, 'oracle pixel data length').toBe(ours.plan.totalSize + (ours.plan.totalSize % 2));
  const theirsTrimmed = theirs.subarray(0, ours.plan.totalSize);
  const { differing, max } = compareSamples(ours.pixels, theirsTrimmed, ours.plan.attributes.bitsAllocated, ours.plan.attributes.pixelRepresentation === 1);
  findings.push({
    file: entry.path,
    syntax: ts?.name.slice(0, 24) ?? entry.transferSyntax,
    oracle,
    result: differing === 0 ? 'identical' : `${differing} samples differ, max |difference| ${max}`,
  });
  if (ts?.lossy) expect(max, `max sample difference from ${oracle}`).toBeLessThanOrEqual(LOSSY_TOLERANCE);
  else expect(ours.pixels.equals(theirsTrimmed), `lossless decode identical to ${oracle}`).toBe(true);
}

const entries = corpusManifest().filter((e) => e.isDicom && !e.malformed && lookupTransferSyntax(e.transferSyntax)?.decoder !== undefined);
const byDecoder = (...decoders: string[]): CorpusEntry[] => entries.filter((e) => decoders.includes(lookupTransferSyntax(e.transferSyntax)?.decoder ?? ''));

describe('the corpus has files for every decoder', () => {
  it('JPEG, JPEG-LS, JPEG 2000, HTJ2K and RLE files are present', () => {
    for (const d of ['jpeg', 'jpeg-ls', 'jpeg2000', 'htj2k', 'rle']) expect(byDecoder(d).length, d).toBeGreaterThan(0);
  });
});

const DCMTK_TOOL: Record<string, string> = { jpeg: 'dcmdjpeg', 'jpeg-ls': 'dcmdjpls', rle: 'dcmdrle' };

describeWithTools(['dcmdjpeg', 'dcmdjpls', 'dcmdrle'], 'decode vs dcmtk (JPEG, JPEG-LS, RLE)', () => {
  const dir = tempDir('dcmsafe-pixel-dcmtk-');
  for (const entry of byDecoder('jpeg', 'jpeg-ls', 'rle')) {
    const tool = DCMTK_TOOL[lookupTransferSyntax(entry.transferSyntax)?.decoder ?? ''] as string;
    it(`${entry.path} (${tool})`, async () => {
      const out = path.join(dir, entry.path.replace(/\//g, '_'));
      const r = run(tool, [entry.absolute, out]);
      expect(r.status, r.stderr).toBe(0);
      const ours = await decodeFile(entry.absolute);
      const theirs = await readNative(out);
      expect(ours.plan.attributes, 'Image Pixel attributes as dcmtk writes them').toEqual(attributesOf(theirs.header));
      checkPixels(entry, tool, ours, theirs.pixels);
    });
  }
});

/** A copy of a corpus file with some values changed in place (same lengths), for layouts the corpus lacks. */
async function patchedCopy(entry: CorpusEntry, dir: string, name: string, patch: (bytes: Buffer, header: Part10Header) => void): Promise<string> {
  const bytes = readFileSync(entry.absolute);
  patch(bytes, await readPart10Header(new BufferReader(bytes, entry.path)));
  const out = path.join(dir, name);
  writeFileSync(out, bytes);
  return out;
}

function setUS(bytes: Buffer, header: Part10Header, tag: number, value: number): void {
  const el = header.dataSet.get(tag);
  if (!el || el.length !== 2) throw new Error(`no US ${tag.toString(16)} to patch`);
  bytes.writeUInt16LE(value, el.valueOffset);
}

describeWithTools(['dcmdjpeg', 'dcmdjpls'], 'decode vs dcmtk on patched copies (layouts the corpus lacks)', () => {
  const dir = tempDir('dcmsafe-pixel-patched-');
  const compare = async (file: string, tool: string): Promise<Decoded> => {
    const out = `${file}.${tool}.dcm`;
    const r = run(tool, [file, out]);
    expect(r.status, r.stderr).toBe(0);
    const ours = await decodeFile(file);
    const theirs = await readNative(out);
    expect(ours.plan.attributes).toEqual(attributesOf(theirs.header));
    expect(theirs.pixels.subarray(0, ours.plan.totalSize).equals(ours.pixels)).toBe(true);
    return ours;
  };

  it('JPEG of a (retired) Hardcopy Color Image is decoded colour-by-plane, as dcmdjpeg does', async () => {
    const entry = entries.find((e) => e.path.endsWith('SC_rgb_jpeg_dcmtk.dcm')) as CorpusEntry;
    const file = await patchedCopy(entry, dir, 'hardcopy.dcm', (bytes, header) => {
      const el = header.dataSet.get(T.SOPClassUID);
      if (!el || el.length !== 26) throw new Error('unexpected SOP Class UID');
      bytes.write('1.2.840.10008.5.1.1.30\0\0\0\0', el.valueOffset, 'latin1');
    });
    expect((await compare(file, 'dcmdjpeg')).plan.attributes.planarConfiguration).toBe(1);
  });

  it('JPEG-LS (line interleaved) under Planar Configuration 1 is decoded colour-by-plane, as dcmdjpls restores it', async () => {
    const entry = entries.find((e) => e.path.endsWith('JLSL_RGB_ILV1.dcm')) as CorpusEntry;
    const file = await patchedCopy(entry, dir, 'jls-planar.dcm', (bytes, header) => setUS(bytes, header, T.PlanarConfiguration, 1));
    expect((await compare(file, 'dcmdjpls')).plan.attributes.planarConfiguration).toBe(1);
  });

  it('an 8-bit JPEG-LS codestream under Bits Allocated 16 is widened, values unchanged (dcmdjpls refuses it)', async () => {
    const entry = entries.find((e) => e.path.endsWith('JPEGLSNearLossless_08.dcm')) as CorpusEntry;
    const file = await patchedCopy(entry, dir, 'jls-16.dcm', (bytes, header) => setUS(bytes, header, T.BitsAllocated, 16));
    expect(run('dcmdjpls', [file, `${file}.out`]).status).not.toBe(0);
    const eight = await decodeFile(entry.absolute);
    const sixteen = await decodeFile(file);
    expect(sixteen.plan.attributes.bitsAllocated).toBe(16);
    expect(sixteen.pixels.length).toBe(2 * eight.pixels.length);
    for (let i = 0; i < eight.pixels.length; i++) expect(sixteen.pixels.readUInt16LE(2 * i)).toBe(eight.pixels[i]);
  });
});

describeWithTools(['gdcmconv'], 'decode vs GDCM (JPEG 2000)', () => {
  const dir = tempDir('dcmsafe-pixel-gdcm-');
  for (const entry of byDecoder('jpeg2000')) {
    it(`${entry.path} (gdcmconv --raw)`, async () => {
      const out = path.join(dir, entry.path.replace(/\//g, '_'));
      const r = run('gdcmconv', ['--raw', entry.absolute, out]);
      expect(r.status, r.stderr).toBe(0);
      const ours = await decodeFile(entry.absolute);
      const theirs = await readNative(out);
      // GDCM rewrites Bits Stored from the codestream's precision; the layout must agree.
      const layout = ({ photometricInterpretation, planarConfiguration, samplesPerPixel, bitsAllocated }: Record<string, unknown>): unknown => ({
        photometricInterpretation,
        planarConfiguration,
        samplesPerPixel,
        bitsAllocated,
      });
      expect(layout({ ...ours.plan.attributes })).toEqual(layout(attributesOf(theirs.header)));
      checkPixels(entry, 'gdcmconv', ours, theirs.pixels);
      const gdcm = attributesOf(theirs.header);
      const differ = (['bitsStored', 'highBit', 'pixelRepresentation'] as const).filter((k) => gdcm[k] !== ours.plan.attributes[k]);
      if (differ.length > 0) {
        const last = findings[findings.length - 1] as Finding;
        last.result += ` (attributes: ${differ.map((k) => `${k} ours ${ours.plan.attributes[k]}, GDCM ${gdcm[k]}`).join('; ')})`;
      }
    });
  }
});

/** Frame codestreams as pydicom splits them, so the oracle does not depend on our frame index. */
const EXTRACT_FRAMES = `
import sys, pydicom
from pydicom.encaps import generate_pixel_data_frame
ds = pydicom.dcmread(sys.argv[1])
n = int(ds.get('NumberOfFrames', 1) or 1)
for i, frame in enumerate(generate_pixel_data_frame(ds.PixelData, n)):
    open('%s/frame%05d.j2c' % (sys.argv[2], i), 'wb').write(frame)
`;

/** opj_decompress .rawl output: each component in turn, samples little endian. */
function interleave(planes: Buffer, samples: number, bytesPerSample: number): Buffer {
  if (samples === 1) return planes;
  const out = Buffer.alloc(planes.length);
  const pixels = planes.length / samples / bytesPerSample;
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < pixels; i++) planes.copy(out, (i * samples + s) * bytesPerSample, (s * pixels + i) * bytesPerSample, (s * pixels + i + 1) * bytesPerSample);
  }
  return out;
}

describeWithTools(['opj_decompress', 'pydicom'], 'decode vs OpenJPEG opj_decompress (HTJ2K)', () => {
  const dir = tempDir('dcmsafe-pixel-opj-');
  for (const entry of byDecoder('htj2k')) {
    it(`${entry.path} (opj_decompress)`, async () => {
      const frameDir = path.join(dir, entry.path.replace(/\//g, '_'));
      mkdirSync(frameDir, { recursive: true });
      const script = path.join(dir, 'extract.py');
      writeFileSync(script, EXTRACT_FRAMES);
      const x = run(PYTHON, [script, entry.absolute, frameDir]);
      expect(x.status, x.stderr).toBe(0);
      const ours = await decodeFile(entry.absolute);
      const { samplesPerPixel, bitsAllocated } = ours.plan.attributes;
      const codestreams = readdirSync(frameDir).filter((f) => f.endsWith('.j2c')).sort();
      expect(codestreams.length).toBe(ours.plan.frameCount);
      const frames: Buffer[] = [];
      for (const cs of codestreams) {
        const raw = path.join(frameDir, cs.replace(/\.j2c$/, '.rawl'));
        const r = run('opj_decompress', ['-i', path.join(frameDir, cs), '-o', raw]);
        expect(r.status, r.stderr).toBe(0);
        frames.push(interleave(readFileSync(raw), samplesPerPixel, bitsAllocated / 8));
      }
      const theirs = Buffer.concat(frames);
      checkPixels(entry, 'opj_decompress', ours, Buffer.concat([theirs, Buffer.alloc(theirs.length % 2)]));
    });
  }
});

describe('lossless decodes equal their native twins in the corpus (same SOP Instance UID)', () => {
  const native = corpusManifest().filter((e) => e.isDicom && !e.malformed && ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1'].includes(e.transferSyntax));
  const lossless = entries.filter((e) => !lookupTransferSyntax(e.transferSyntax)?.lossy);
  let twins: Map<string, string> | undefined;
  const twinOf = async (uid: string): Promise<string | undefined> => {
    if (!twins) {
      twins = new Map();
      for (const e of native) {
        try {
          const reader = await FileReader.open(e.absolute);
          const h = await readPart10Header(reader);
          await reader.close();
          const sop = h.dataSet.text(T.SOPInstanceUID);
          if (sop && h.pixelData) twins.set(sop, e.absolute);
        } catch {
          // an unreadable native file is no twin
        }
      }
    }
    return twins.get(uid);
  };
  it('MR_small (JPEG 2000, JPEG-LS, RLE), CT0012 (JPEG lossless, RLE) and RT Dose (RLE) match', async () => {
    const compared: string[] = [];
    for (const entry of lossless) {
      const ours = await decodeFile(entry.absolute);
      const uid = ours.header.dataSet.text(T.SOPInstanceUID);
      const twin = uid === undefined ? undefined : await twinOf(uid);
      if (!twin) continue;
      const theirs = await readNative(twin);
      const a = attributesOf(theirs.header);
      if (a.bitsAllocated !== ours.plan.attributes.bitsAllocated || a.samplesPerPixel !== ours.plan.attributes.samplesPerPixel) continue;
      expect(theirs.pixels.subarray(0, ours.plan.totalSize).equals(ours.pixels), `${entry.path} = ${path.basename(twin)}`).toBe(true);
      compared.push(`${entry.path} = ${path.basename(twin)}`);
    }
    console.log(`\nlossless decodes equal to their native twin:\n  ${compared.join('\n  ')}`);
    expect(compared).toEqual(expect.arrayContaining([expect.stringMatching(/MR_small_jp2klossless.*= MR_small(_implicit)?\.dcm/), expect.stringMatching(/rtdose_rle.*= rtdose\.dcm/)]));
  });
});

describe('failures and memory', () => {
  const jpegFile = entries.find((e) => e.path.endsWith('SC_rgb_jpeg_dcmtk.dcm'));
  const corrupt = async (mutate: (bytes: Buffer, pixelValue: number) => void): Promise<Buffer> => {
    const bytes = readFileSync((jpegFile as CorpusEntry).absolute);
    const h = await readPart10Header(new BufferReader(bytes));
    mutate(bytes, h.pixelData?.valueOffset ?? 0);
    return bytes;
  };
  const marker = (bytes: Buffer, from: number, code: number): number => {
    for (let i = from; i < bytes.length - 1; i++) if (bytes[i] === 0xff && bytes[i + 1] === code) return i;
    throw new Error(`no FF${code.toString(16)} marker`);
  };

  it('a corrupted JPEG frame is PIXEL_DECODE naming file and frame, and the next file decodes', async () => {
    expect(jpegFile).toBeDefined();
    // A scan naming a component the frame does not have: the IJG decoder gives up.
    const bytes = await corrupt((b, at) => {
      b[marker(b, at, 0xda) + 5] = 0x77;
    });
    let caught: unknown;
    try {
      await decodeWith(new BufferReader(bytes, 'corrupt.dcm'));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DcmsafeError);
    expect((caught as DcmsafeError).code).toBe('PIXEL_DECODE');
    expect((caught as DcmsafeError).data).toMatchObject({ file: 'corrupt.dcm', frame: 1 });
    // The failed instance was replaced: the intact file still decodes.
    const ok = await decodeFile((jpegFile as CorpusEntry).absolute);
    expect(ok.pixels.length).toBe(ok.plan.totalSize);
  });

  it('a JPEG frame of other dimensions than Rows and Columns is PIXEL_DECODE', async () => {
    const bytes = await corrupt((b, at) => {
      b.writeUInt16BE(50, marker(b, at, 0xc0) + 5); // SOF0 number of lines
    });
    await expect(decodeWith(new BufferReader(bytes, 'short.dcm'))).rejects.toMatchObject({ code: 'PIXEL_DECODE' });
  });

  it('decodes one frame at a time: no read larger than a frame or the parser window, later frames read later', async () => {
    const multi = entries.find((e) => e.path.endsWith('examples_ybr_color.dcm')) as CorpusEntry;
    const file = await FileReader.open(multi.absolute);
    let largestRead = 0;
    const reader: RandomAccessReader = {
      size: file.size,
      name: file.name,
      read: (position, length) => {
        largestRead = Math.max(largestRead, length);
        return file.read(position, length);
      },
      close: () => file.close(),
    };
    try {
      const header = await readPart10Header(reader);
      const plan = planDecode(header);
      const frames = decodeFrames(reader, header, plan);
      const first = await frames.next();
      expect(first.value?.length).toBe(plan.frameSize);
      const afterFirst = file.stats.bytesRead;
      let count = 1;
      while (!(await frames.next()).done) count++;
      expect(count).toBe(plan.frameCount);
      expect(file.stats.bytesRead).toBeGreaterThan(afterFirst);
      expect(largestRead).toBeLessThanOrEqual(Math.max(64 * 1024, plan.frameSize));
    } finally {
      await reader.close();
    }
  });
});
