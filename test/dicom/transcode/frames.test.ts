/**
 * Frames of encapsulated pixel data (PS3.5 §A.4) on synthetic files built byte by byte here: every way
 * of finding frame boundaries (Extended Offset Table, Basic Offset Table, one fragment per frame, one
 * frame, codestream markers), and the hostile layouts that must end in a typed error. The decoding
 * plan (PIXEL_ATTRIBUTES checks) and a few RLE frames decoded end to end are here too, as they need the
 * same synthetic files.
 */
import { describe, expect, it } from 'vitest';
import { DcmsafeError, type ErrorCode } from '../../../src/errors/index.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { readPart10Header, type Part10Header } from '../../../src/dicom/part10/header.js';
import { decodeFrames, planDecode, type DecodePlan } from '../../../src/dicom/transcode/decode-pixels.js';
import { changePlanarConfiguration } from '../../../src/dicom/transcode/codecs.js';
import { item, rleFrame } from '../../helpers/pixels.js';
import { indexFrames, locateFrames, opensFrame, parseBasicOffsetTable, parseExtendedOffsetTable, readFrame, type FrameIndex } from '../../../src/dicom/transcode/frames.js';

const RLE = '1.2.840.10008.1.2.5';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

// --- a tiny Explicit VR Little Endian writer for test files ---------------------------------------

const LONG = new Set(['OB', 'OW', 'OV', 'SQ', 'UN', 'UT']);

function element(tag: number, vr: string, value: Buffer): Buffer {
  const head = Buffer.alloc(LONG.has(vr) ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (LONG.has(vr)) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}
const us = (tag: number, v: number): Buffer => element(tag, 'US', Buffer.from([v & 0xff, v >> 8]));
const text = (tag: number, vr: string, s: string, pad = ' '): Buffer => element(tag, vr, Buffer.from(s.length % 2 ? s + pad : s, 'latin1'));
const ul = (tag: number, v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return element(tag, 'UL', b);
};
const u64s = (values: number[]): Buffer => {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
  return b;
};
const u32s = (values: number[]): Buffer => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32LE(v, 4 * i));
  return b;
};


/** Encapsulated Pixel Data: the BOT item, the fragment items, the sequence delimiter. */
function encapsulated(bot: Buffer, fragments: Buffer[], { delimiter = true } = {}): Buffer {
  const head = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  return Buffer.concat([head, item(bot), ...fragments.map((f) => item(f)), delimiter ? item(Buffer.alloc(0), 0xfffee0dd) : Buffer.alloc(0)]);
}

interface Image {
  rows?: number;
  columns?: number;
  samples?: number;
  bitsAllocated?: number;
  bitsStored?: number;
  highBit?: number;
  pixelRepresentation?: number;
  photometric?: string;
  planar?: number;
  frames?: string;
  omit?: number[];
}

function imageElements(img: Image): Buffer[] {
  const ba = img.bitsAllocated ?? 8;
  const bs = img.bitsStored ?? ba;
  const all: [number, Buffer][] = [
    [0x00080016, text(0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.7', '\0')],
    [0x00280002, us(0x00280002, img.samples ?? 1)],
    [0x00280004, text(0x00280004, 'CS', img.photometric ?? 'MONOCHROME2')],
    [0x00280006, img.planar === undefined ? Buffer.alloc(0) : us(0x00280006, img.planar)],
    [0x00280008, img.frames === undefined ? Buffer.alloc(0) : text(0x00280008, 'IS', img.frames)],
    [0x00280010, us(0x00280010, img.rows ?? 2)],
    [0x00280011, us(0x00280011, img.columns ?? 2)],
    [0x00280100, us(0x00280100, ba)],
    [0x00280101, us(0x00280101, bs)],
    [0x00280102, us(0x00280102, img.highBit ?? bs - 1)],
    [0x00280103, us(0x00280103, img.pixelRepresentation ?? 0)],
  ];
  return all.filter(([tag]) => !(img.omit ?? []).includes(tag)).map(([, b]) => b);
}

function part10(syntax: string, dataSet: Buffer[]): Buffer {
  const metaBody = Buffer.concat([
    element(0x00020001, 'OB', Buffer.from([0, 1])),
    text(0x00020002, 'UI', '1.2.840.10008.5.1.4.1.1.7', '\0'),
    text(0x00020003, 'UI', '2.25.1', '\0'),
    text(0x00020010, 'UI', syntax, '\0'),
  ]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), ul(0x00020000, metaBody.length), metaBody, ...dataSet]);
}

interface Synthetic {
  reader: BufferReader;
  header: Part10Header;
}

async function open(bytes: Buffer, name = 'synthetic.dcm'): Promise<Synthetic> {
  const reader = new BufferReader(bytes, name);
  return { reader, header: await readPart10Header(reader) };
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<DcmsafeError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(DcmsafeError);
  expect((caught as DcmsafeError).code).toBe(code);
  return caught as DcmsafeError;
}

/** File offsets of the fragment values after the BOT (items are laid out back to back). */
function fragmentOffsets(file: Buffer, bot: Buffer, fragments: Buffer[]): number[] {
  const pixelValue = file.length - (8 + fragments.reduce((n, f) => n + 8 + f.length, 0) + 8 + bot.length);
  const out: number[] = [];
  let pos = pixelValue + 8 + bot.length;
  for (const f of fragments) {
    out.push(pos + 8);
    pos += 8 + f.length;
  }
  return out;
}

const jpegLike = (n: number): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(n - 2, 0x11)]);
const filler = (n: number, byte = 0x22): Buffer => Buffer.alloc(n, byte);

async function locate(file: Buffer, frames: number, decoder: 'jpeg' | 'rle' = 'jpeg'): Promise<FrameIndex> {
  const { reader, header } = await open(file);
  return locateFrames(reader, header, frames, decoder);
}

// --- frame boundaries -----------------------------------------------------------------------------

describe('locateFrames: finding frame boundaries (PS3.5 §A.4)', () => {
  it('uses the Basic Offset Table when it has entries, frames spanning several fragments', async () => {
    const fragments = [jpegLike(10), filler(6), jpegLike(4), jpegLike(8), filler(2)];
    // Offsets of the first fragment of each frame, counted from the first fragment's Item tag.
    const bot = u32s([0, 18 + 14, 18 + 14 + 12]);
    const file = part10(JPEG_BASELINE, [...imageElements({ frames: '3' }), encapsulated(bot, fragments)]);
    const index = await locate(file, 3);
    const at = fragmentOffsets(file, bot, fragments);
    expect(index.method).toBe('basic-offset-table');
    expect(index.frames).toEqual([
      [
        { offset: at[0], length: 10 },
        { offset: at[1], length: 6 },
      ],
      [{ offset: at[2], length: 4 }],
      [
        { offset: at[3], length: 8 },
        { offset: at[4], length: 2 },
      ],
    ]);
    const { reader } = await open(file);
    expect(await readFrame(reader, index.frames[0] ?? [], 'x')).toEqual(Buffer.concat([fragments[0] as Buffer, fragments[1] as Buffer]));
  });

  it('prefers the Extended Offset Table, whose lengths exclude trailing padding', async () => {
    const fragments = [jpegLike(10), jpegLike(6)];
    const file = part10(JPEG_BASELINE, [
      ...imageElements({ frames: '2' }),
      element(0x7fe00001, 'OV', u64s([0, 18])),
      element(0x7fe00002, 'OV', u64s([9, 6])),
      encapsulated(Buffer.alloc(0), fragments),
    ]);
    const index = await locate(file, 2);
    const at = fragmentOffsets(file, Buffer.alloc(0), fragments);
    expect(index.method).toBe('extended-offset-table');
    expect(index.frames).toEqual([[{ offset: at[0], length: 9 }], [{ offset: at[1], length: 6 }]]);
  });

  it('takes one fragment per frame when the counts agree and there is no table', async () => {
    const fragments = [jpegLike(4), jpegLike(6), jpegLike(8)];
    const index = await locate(part10(JPEG_BASELINE, [...imageElements({ frames: '3' }), encapsulated(Buffer.alloc(0), fragments)]), 3);
    expect(index.method).toBe('fragment-per-frame');
    expect(index.frames.map((f) => f.map((p) => p.length))).toEqual([[4], [6], [8]]);
  });

  it('takes all fragments as the one frame of a single-frame image', async () => {
    const fragments = [jpegLike(4), filler(6), filler(8)];
    const index = await locate(part10(JPEG_BASELINE, [...imageElements({}), encapsulated(Buffer.alloc(0), fragments)]), 1);
    expect(index.method).toBe('single-frame');
    expect(index.frames.map((f) => f.map((p) => p.length))).toEqual([[4, 6, 8]]);
  });

  it('finds frames by their opening markers when there are more fragments than frames and no table', async () => {
    const fragments = [jpegLike(4), filler(6), jpegLike(8), filler(2), filler(4)];
    const index = await locate(part10(JPEG_BASELINE, [...imageElements({ frames: '2' }), encapsulated(Buffer.alloc(0), fragments)]), 2);
    expect(index.method).toBe('frame-markers');
    expect(index.frames.map((f) => f.map((p) => p.length))).toEqual([[4, 6], [8, 2, 4]]);
  });

  it('recognises the start of JPEG, JPEG 2000 (bare or in a JP2 box) and RLE codestreams', () => {
    expect(opensFrame('jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe(true);
    expect(opensFrame('jpeg-ls', Buffer.from([0xff, 0xd9]))).toBe(false);
    expect(opensFrame('jpeg2000', Buffer.from([0xff, 0x4f, 0xff, 0x51]))).toBe(true);
    expect(opensFrame('htj2k', Buffer.from([0xff, 0x4f, 0x12, 0x34]))).toBe(false);
    expect(opensFrame('jpeg2000', Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20]))).toBe(true);
    expect(opensFrame('rle', u32s([3, 64]))).toBe(true);
    expect(opensFrame('rle', u32s([3, 60]))).toBe(false);
    expect(opensFrame('rle', u32s([16, 64]))).toBe(false);
  });
});

describe('locateFrames: hostile layouts end in PIXEL_FRAGMENTS', () => {
  const threeFrames = [jpegLike(10), jpegLike(4), jpegLike(8)];
  const withBot = (bot: Buffer, frames = '3', fragments = threeFrames): Buffer =>
    part10(JPEG_BASELINE, [...imageElements({ frames }), encapsulated(bot, fragments)]);

  it('a Basic Offset Table entry that is not the start of a fragment', async () => {
    await expectCode(locate(withBot(u32s([0, 18, 31])), 3), 'PIXEL_FRAGMENTS');
  });
  it('a Basic Offset Table that goes backwards', async () => {
    await expectCode(locate(withBot(u32s([0, 30, 18])), 3), 'PIXEL_FRAGMENTS');
  });
  it('a Basic Offset Table that does not start at 0', async () => {
    await expectCode(locate(withBot(u32s([18, 30, 30])), 3), 'PIXEL_FRAGMENTS');
  });
  it('a Basic Offset Table pointing past the data', async () => {
    await expectCode(locate(withBot(u32s([0, 18, 0x7fffffff])), 3), 'PIXEL_FRAGMENTS');
  });
  it('a Basic Offset Table with a different number of frames', async () => {
    const e = await expectCode(locate(withBot(u32s([0, 18])), 3), 'PIXEL_FRAGMENTS');
    expect(e.message).toMatch(/3 frames/);
  });
  it('a Basic Offset Table that is not a list of 32-bit offsets, one per frame', async () => {
    await expectCode(locate(withBot(Buffer.alloc(6)), 3), 'PIXEL_FRAGMENTS');
    await expectCode(() => parseBasicOffsetTable(Buffer.alloc(6), 'x'), 'PIXEL_FRAGMENTS');
    await expectCode(() => parseExtendedOffsetTable(Buffer.alloc(12), Buffer.alloc(8), 'x'), 'PIXEL_FRAGMENTS');
  });
  it('fewer fragments than frames', async () => {
    await expectCode(locate(withBot(Buffer.alloc(0), '4'), 4), 'PIXEL_FRAGMENTS');
  });
  it('more fragments than frames, but the codestream count does not match Number of Frames', async () => {
    const fragments = [jpegLike(4), filler(6), jpegLike(8), jpegLike(2)];
    await expectCode(locate(withBot(Buffer.alloc(0), '2', fragments), 2), 'PIXEL_FRAGMENTS');
  });
  it('more fragments than frames, and the first fragment does not open a codestream', async () => {
    const fragments = [filler(4), jpegLike(6), jpegLike(8)];
    await expectCode(locate(withBot(Buffer.alloc(0), '2', fragments), 2), 'PIXEL_FRAGMENTS');
  });
  it('no fragment after the Basic Offset Table', async () => {
    await expectCode(locate(withBot(Buffer.alloc(0), '1', []), 1), 'PIXEL_FRAGMENTS');
  });
  it('a fragment whose length runs past the end of the file', async () => {
    const file = withBot(Buffer.alloc(0), '1', [jpegLike(10)]);
    const truncated = file.subarray(0, file.length - 8 - 4); // no delimiter, fragment cut short
    const e = await expectCode(locate(truncated, 1), 'PIXEL_FRAGMENTS');
    expect(e.message).toMatch(/truncated/);
  });
  it('pixel data without its sequence delimiter', async () => {
    await expectCode(locate(part10(JPEG_BASELINE, [...imageElements({}), encapsulated(Buffer.alloc(0), [jpegLike(4)], { delimiter: false })]), 1), 'PIXEL_FRAGMENTS');
  });
  it('something other than an item among the fragments', async () => {
    const file = withBot(Buffer.alloc(0), '1', [jpegLike(4)]);
    file.writeUInt16LE(0xe00d, file.length - 8 - 12 + 2); // the fragment's Item tag becomes an Item Delimitation tag
    await expectCode(locate(file, 1), 'PIXEL_FRAGMENTS');
  });

  const withEot = (offsets: Buffer | undefined, lengths: Buffer | undefined): Buffer =>
    part10(JPEG_BASELINE, [
      ...imageElements({ frames: '2' }),
      ...(offsets ? [element(0x7fe00001, 'OV', offsets)] : []),
      ...(lengths ? [element(0x7fe00002, 'OV', lengths)] : []),
      encapsulated(Buffer.alloc(0), [jpegLike(10), jpegLike(6)]),
    ]);
  it('an Extended Offset Table entry that is not the start of a fragment', async () => {
    await expectCode(locate(withEot(u64s([0, 17]), u64s([10, 6])), 2), 'PIXEL_FRAGMENTS');
  });
  it('an Extended Offset Table length larger than its fragment', async () => {
    await expectCode(locate(withEot(u64s([0, 18]), u64s([10, 7])), 2), 'PIXEL_FRAGMENTS');
  });
  it('an Extended Offset Table that goes backwards', async () => {
    await expectCode(locate(withEot(u64s([18, 0]), u64s([6, 10])), 2), 'PIXEL_FRAGMENTS');
  });
  it('an Extended Offset Table with a different number of frames', async () => {
    await expectCode(locate(withEot(u64s([0]), u64s([10])), 2), 'PIXEL_FRAGMENTS');
  });
  it('an Extended Offset Table without its lengths', async () => {
    await expectCode(locate(withEot(u64s([0, 18]), undefined), 2), 'PIXEL_FRAGMENTS');
  });

  it('indexFrames refuses a frame count below 1', () => {
    expect(() => indexFrames({ name: 'x', numberOfFrames: 0, fragments: [{ offset: 0, length: 2 }], basicOffsetTable: [] })).toThrow(DcmsafeError);
  });
});

// --- the decoding plan ----------------------------------------------------------------------------

async function plan(img: Image, syntax = RLE): Promise<DecodePlan> {
  const { header } = await open(part10(syntax, [...imageElements(img), encapsulated(Buffer.alloc(0), [jpegLike(4)])]));
  return planDecode(header);
}

describe('planDecode', () => {
  it('describes the native result of an RLE image and the lossy state of the source', async () => {
    expect(await plan({ rows: 3, columns: 5, bitsAllocated: 16, bitsStored: 12, frames: '4' })).toEqual({
      frameCount: 4,
      frameSize: 30,
      totalSize: 120,
      attributes: { photometricInterpretation: 'MONOCHROME2', samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11, pixelRepresentation: 0 },
      sourceLossy: false,
    });
    const jpeg = await plan({ samples: 3, photometric: 'YBR_FULL_422', planar: 0 }, JPEG_BASELINE);
    expect(jpeg.attributes).toMatchObject({ photometricInterpretation: 'RGB', planarConfiguration: 0 });
    expect(jpeg).toMatchObject({ sourceLossy: true, lossyMethod: 'ISO_10918_1', frameCount: 1, frameSize: 12 });
  });

  it('keeps the Planar Configuration of RLE colour images, as dcmdrle does', async () => {
    expect((await plan({ samples: 3, photometric: 'RGB', planar: 1 })).attributes.planarConfiguration).toBe(1);
  });

  it('refuses what cannot be decoded faithfully', async () => {
    await expectCode(plan({ bitsAllocated: 1, bitsStored: 1 }), 'PIXEL_ATTRIBUTES');
    await expectCode(plan({ omit: [0x00280010] }), 'PIXEL_ATTRIBUTES'); // no Rows
    await expectCode(plan({ omit: [0x00280004] }), 'PIXEL_ATTRIBUTES'); // no Photometric Interpretation
    await expectCode(plan({ bitsAllocated: 16, bitsStored: 12, highBit: 15 }), 'PIXEL_ATTRIBUTES');
    await expectCode(plan({ bitsStored: 9 }), 'PIXEL_ATTRIBUTES');
    await expectCode(plan({ samples: 3, photometric: 'MONOCHROME2', planar: 0 }), 'PIXEL_ATTRIBUTES');
    await expectCode(plan({ samples: 3, photometric: 'RGB' }), 'PIXEL_ATTRIBUTES'); // RLE colour without Planar Configuration
    await expectCode(plan({ samples: 3, photometric: 'YBR_FULL_422', planar: 0 }), 'PIXEL_ATTRIBUTES'); // subsampled is JPEG only
    await expectCode(plan({ frames: '0' }), 'PIXEL_ATTRIBUTES');
    await expectCode(plan({ frames: 'two' }), 'PIXEL_ATTRIBUTES');
    await expectCode(plan({ rows: 65535, columns: 65535, bitsAllocated: 16, frames: '2' }), 'PIXEL_ATTRIBUTES'); // over 4 GiB
  });

  it('counts one frame when Number of Frames is absent', async () => {
    expect((await plan({})).frameCount).toBe(1);
  });

  it('refuses transfer syntaxes without a decoder', async () => {
    await expectCode(plan({}, '1.2.840.10008.1.2.4.100'), 'PART10_UNSUPPORTED_SYNTAX'); // MPEG-2
    const { header } = await open(part10(EXPLICIT_LE, [...imageElements({}), element(0x7fe00010, 'OB', Buffer.alloc(4))]));
    await expectCode(() => planDecode(header), 'PART10_UNSUPPORTED_SYNTAX');
  });
});

// --- RLE frames decoded end to end ----------------------------------------------------------------


async function decodeAll(file: Buffer): Promise<Buffer[]> {
  const { reader, header } = await open(file);
  const out: Buffer[] = [];
  for await (const frame of decodeFrames(reader, header, planDecode(header))) out.push(frame);
  return out;
}

describe('decodeFrames on synthetic RLE', () => {
  // A 2×3 16-bit image: segment 1 holds the high bytes, segment 2 the low bytes (PS3.5 §G.2).
  const values = [[0x0102, 0x0304, 0x0506, 0x0708, 0x090a, 0x0b0c], [0xfffe, 0, 1, 2, 3, 0x8000]];
  const native = (v: number[]): Buffer => Buffer.from(new Uint16Array(v).buffer);
  const planesOf = (v: number[]): Buffer[] => [Buffer.from(v.map((x) => x >> 8)), Buffer.from(v.map((x) => x & 0xff))];
  const image = { rows: 2, columns: 3, bitsAllocated: 16, frames: '2' };

  it('yields each frame as little endian native pixels, with an Extended Offset Table', async () => {
    const f1 = rleFrame(planesOf(values[0] as number[]));
    const f2 = rleFrame(planesOf(values[1] as number[]));
    const file = part10(RLE, [
      ...imageElements(image),
      element(0x7fe00001, 'OV', u64s([0, 8 + f1.length])),
      element(0x7fe00002, 'OV', u64s([f1.length, f2.length])),
      encapsulated(Buffer.alloc(0), [f1, f2]),
    ]);
    expect(await decodeAll(file)).toEqual([native(values[0] as number[]), native(values[1] as number[])]);
  });

  it('writes colour-by-plane when the RLE image says Planar Configuration 1', async () => {
    const r = Buffer.from([1, 2, 3, 4]);
    const g = Buffer.from([5, 6, 7, 8]);
    const b = Buffer.from([9, 10, 11, 12]);
    const img = { samples: 3, photometric: 'RGB', rows: 2, columns: 2 };
    const planar = await decodeAll(part10(RLE, [...imageElements({ ...img, planar: 1 }), encapsulated(Buffer.alloc(0), [rleFrame([r, g, b])])]));
    expect(planar).toEqual([Buffer.concat([r, g, b])]);
    const interleaved = await decodeAll(part10(RLE, [...imageElements({ ...img, planar: 0 }), encapsulated(Buffer.alloc(0), [rleFrame([r, g, b])])]));
    expect(interleaved).toEqual([changePlanarConfiguration(Buffer.concat([r, g, b]), 4, 3, 1, false)]);
  });

  it('refuses an RLE frame with the wrong number of segments, naming the frame', async () => {
    const bad = rleFrame([Buffer.from(values[0] as number[])]); // one segment for 16-bit samples
    const file = part10(RLE, [...imageElements({ ...image, frames: '1' }), encapsulated(Buffer.alloc(0), [bad])]);
    const e = await expectCode(decodeAll(file), 'PIXEL_DECODE');
    expect(e.data).toMatchObject({ file: 'synthetic.dcm', frame: 1 });
  });

  it('refuses an RLE segment that decodes to too few bytes', async () => {
    const planes = planesOf(values[0] as number[]);
    const short = rleFrame([planes[0] as Buffer, (planes[1] as Buffer).subarray(0, 5)]);
    await expectCode(decodeAll(part10(RLE, [...imageElements({ ...image, frames: '1' }), encapsulated(Buffer.alloc(0), [short])])), 'PIXEL_DECODE');
  });

  it('refuses an RLE Header whose segment offsets point outside the frame', async () => {
    const frame = rleFrame(planesOf(values[0] as number[]));
    frame.writeUInt32LE(frame.length + 10, 8);
    await expectCode(decodeAll(part10(RLE, [...imageElements({ ...image, frames: '1' }), encapsulated(Buffer.alloc(0), [frame])])), 'PIXEL_DECODE');
  });
});
