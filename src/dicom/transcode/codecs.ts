/**
 * Decoding one compressed frame to native pixels (PS3.5 §8.2 and Annex A.4: JPEG ISO 10918-1, JPEG-LS
 * ISO 14495-1, JPEG 2000 ISO 15444-1, HTJ2K ISO 15444-15, RLE Annex G) with the WASM codecs of
 * dcmjs-codecs. The codecs trust what they are told and what the codestream says, so each frame's own
 * header is read here first and checked against the image attributes: a codestream that disagrees
 * (other size, other sample count, more bits than fit) is refused instead of being decoded into the
 * wrong place or clipped. The output is always little endian, in the layout the caller asked for.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as DcmjsCodecs from 'dcmjs-codecs';
import { DcmsafeError } from '../../errors/index.js';
import type { PixelDecoder } from '../transfer-syntax.js';

type CodecLibrary = typeof DcmjsCodecs;
type CodecContext = InstanceType<CodecLibrary['Context']>;

const require = createRequire(import.meta.url);

/** What the decoder needs to know about the image, and the layout wanted back. */
export interface FrameDecodeRequest {
  readonly decoder: PixelDecoder;
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly pixelRepresentation: number;
  /** Photometric Interpretation of the compressed data. */
  readonly photometricInterpretation: string;
  /** Layout wanted for samplesPerPixel > 1: 0 colour-by-pixel, 1 colour-by-plane. */
  readonly planarConfiguration: number;
  /** JPEG only: turn YCbCr into RGB while decoding. */
  readonly convertToRgb: boolean;
}

/** Where a frame comes from, for error messages. */
export interface FrameLocation {
  readonly file: string;
  /** 1-based, as frames are numbered in the standard. */
  readonly frame: number;
  /** File offset of the frame's first fragment. */
  readonly offset?: number;
}

export interface DecodedFrame {
  /** rows × columns × samples × bitsAllocated/8 bytes, little endian. */
  readonly pixels: Buffer;
  /** The colour space of `pixels` as the codec reports it (RGB after a JPEG YCbCr conversion). */
  readonly photometricInterpretation: string;
}

// --- the WASM module: loaded once, lazily, and replaced after a failure -------------------------

let library: CodecLibrary | undefined;
let ready: Promise<CodecLibrary> | undefined;

function loadLibrary(): CodecLibrary {
  if (!library) {
    library = require('dcmjs-codecs') as CodecLibrary;
    // The library logs codec complaints on its own; ours go into typed errors instead.
    library.log.setLevel('silent');
  }
  return library;
}

/** Path of the .wasm file shipped next to the library's main script. */
export function codecsWasmPath(): string {
  return path.join(path.dirname(require.resolve('dcmjs-codecs')), 'dcmjs-native-codecs.wasm');
}

/** Instantiates the WASM codecs once; later calls share the same instance. */
export function ensureCodecs(): Promise<CodecLibrary> {
  if (!ready) {
    const attempt = (async (): Promise<CodecLibrary> => {
      const lib = loadLibrary();
      if (!lib.NativeCodecs.isInitialized()) await lib.NativeCodecs.initializeAsync({ webAssemblyModulePathOrUrl: codecsWasmPath() });
      return lib;
    })();
    ready = attempt;
    attempt.catch(() => {
      if (ready === attempt) ready = undefined;
    });
  }
  return ready;
}

/**
 * A codec error is a JavaScript exception thrown from inside the WASM code: the C++ side neither
 * frees what it allocated nor restores its stack pointer. The instance is dropped and a fresh one is
 * made on the next use, so one corrupt frame cannot poison the frames of other files.
 */
function discardInstance(): void {
  library?.NativeCodecs.release();
  ready = undefined;
}

function decodeError(where: FrameLocation, message: string, cause?: unknown): DcmsafeError {
  return new DcmsafeError(
    'PIXEL_DECODE',
    `${where.file}: frame ${where.frame}: ${message}`,
    { file: where.file, frame: where.frame, ...(where.offset === undefined ? {} : { offset: where.offset }) },
    cause === undefined ? undefined : { cause },
  );
}

// --- codestream headers ---------------------------------------------------------------------------

/** The parts of a JPEG or JPEG-LS main header that decide the decoded layout. */
export interface JpegFrameHeader {
  readonly marker: number;
  readonly precision: number;
  /** 0 when the height is given later by a DNL marker. */
  readonly rows: number;
  readonly columns: number;
  readonly components: number;
  /** JPEG-LS interleave mode of the first scan (ISO 14495-1 C.2.3): 0 none, 1 line, 2 sample. */
  readonly interleave: number;
}

const SOF_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf, 0xf7, 0xf9]);

/** Walks the marker segments from SOI to the first SOS (ISO 10918-1 B.2, ISO 14495-1 C.2). */
export function readJpegFrameHeader(data: Uint8Array): JpegFrameHeader {
  const u16 = (p: number): number => ((data[p] as number) << 8) | (data[p + 1] as number);
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) throw new Error('the codestream does not start with SOI (FFD8)');
  let pos = 2;
  let sof: Omit<JpegFrameHeader, 'interleave'> | undefined;
  while (pos + 4 <= data.length) {
    if (data[pos] !== 0xff) throw new Error(`no marker at byte ${pos} of the header`);
    const marker = data[pos + 1] as number;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      pos += 2; // markers without a segment
      continue;
    }
    if (marker === 0xd9) throw new Error('EOI before any scan');
    const length = u16(pos + 2);
    const end = pos + 2 + length;
    if (length < 2 || end > data.length) throw new Error(`marker segment FF${marker.toString(16).toUpperCase()} at byte ${pos} runs past the data`);
    if (SOF_MARKERS.has(marker)) {
      if (length < 8) throw new Error('frame header too short');
      sof = { marker, precision: data[pos + 4] as number, rows: u16(pos + 5), columns: u16(pos + 7), components: data[pos + 9] as number };
    } else if (marker === 0xda) {
      if (!sof) throw new Error('scan before the frame header');
      const ns = data[pos + 4] as number;
      const ilvAt = pos + 4 + 1 + 2 * ns + 1;
      const interleave = sof.marker === 0xf7 || sof.marker === 0xf9 ? (ilvAt < end ? (data[ilvAt] as number) : 0) : ns > 1 ? 2 : 0;
      return { ...sof, interleave };
    }
    pos = end;
  }
  throw new Error('no scan (SOS) in the codestream');
}

/** The parts of a JPEG 2000 main header that decide the decoded layout (ISO 15444-1 A.5.1, A.6.1). */
export interface J2kFrameHeader {
  readonly columns: number;
  readonly rows: number;
  readonly components: number;
  readonly precision: readonly number[];
  readonly signed: readonly boolean[];
  readonly subsampled: boolean;
  /** Multiple component transformation in COD (undefined if no COD before the first tile). */
  readonly multipleComponentTransform: boolean | undefined;
}

/** Start of the codestream: 0, or the content of the 'jp2c' box of a JP2 file (ISO 15444-1 I.5). */
function codestreamStart(data: Uint8Array): number {
  if (data[0] === 0xff && data[1] === 0x4f) return 0;
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  let pos = 0;
  while (pos + 8 <= view.length) {
    let length = view.readUInt32BE(pos);
    const type = view.toString('latin1', pos + 4, pos + 8);
    let header = 8;
    if (length === 1) {
      if (pos + 16 > view.length) break;
      length = Number(view.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (length === 0) {
      length = view.length - pos;
    }
    if (type === 'jp2c') return pos + header;
    if (length < header) break;
    pos += length;
  }
  throw new Error('no JPEG 2000 codestream (SOC FF4F) found');
}

export function readJ2kFrameHeader(data: Uint8Array): J2kFrameHeader {
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  const cs = codestreamStart(data);
  if (cs + 42 > view.length || view.readUInt16BE(cs) !== 0xff4f || view.readUInt16BE(cs + 2) !== 0xff51) throw new Error('the codestream does not start with SOC and SIZ');
  const lsiz = view.readUInt16BE(cs + 4);
  const components = view.readUInt16BE(cs + 40);
  if (components < 1 || lsiz !== 38 + 3 * components || cs + 4 + lsiz > view.length) throw new Error('malformed SIZ marker segment');
  const precision: number[] = [];
  const signed: boolean[] = [];
  let subsampled = false;
  for (let c = 0; c < components; c++) {
    const ssiz = view[cs + 42 + 3 * c] as number;
    precision.push((ssiz & 0x7f) + 1);
    signed.push((ssiz & 0x80) !== 0);
    if (view[cs + 43 + 3 * c] !== 1 || view[cs + 44 + 3 * c] !== 1) subsampled = true;
  }
  let multipleComponentTransform: boolean | undefined;
  let pos = cs + 4 + lsiz;
  while (pos + 4 <= view.length) {
    const marker = view.readUInt16BE(pos);
    if (marker === 0xff90 || (marker & 0xff00) !== 0xff00) break; // first tile-part, or not a marker
    const length = view.readUInt16BE(pos + 2);
    if (marker === 0xff52 && length >= 12 && pos + 10 < view.length) multipleComponentTransform = view[pos + 8] !== 0;
    if (length < 2) break;
    pos += 2 + length;
  }
  return {
    columns: view.readUInt32BE(cs + 8) - view.readUInt32BE(cs + 16),
    rows: view.readUInt32BE(cs + 12) - view.readUInt32BE(cs + 20),
    components,
    precision,
    signed,
    subsampled,
    multipleComponentTransform,
  };
}

/** PackBits output of each RLE segment (PS3.5 §G.3.1): must fill exactly one byte plane. */
export function checkRleFrame(data: Uint8Array, segmentsExpected: number, bytesPerSegment: number): void {
  if (data.length < 64) throw new Error(`RLE frame of ${data.length} bytes is shorter than the 64-byte RLE Header`);
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  const segments = view.readUInt32LE(0);
  if (segments !== segmentsExpected) throw new Error(`RLE Header lists ${segments} segments, the image needs ${segmentsExpected}`);
  const offsets: number[] = [];
  for (let i = 0; i < segments; i++) offsets.push(view.readUInt32LE(4 + 4 * i));
  for (let i = 0; i < segments; i++) {
    const start = offsets[i] as number;
    const end = i + 1 < segments ? (offsets[i + 1] as number) : data.length;
    if (start < 64 || start >= end || end > data.length) throw new Error(`RLE segment ${i + 1} offset ${start} is out of order or outside the frame`);
    let produced = 0;
    let p = start;
    while (produced < bytesPerSegment) {
      if (p >= end) throw new Error(`RLE segment ${i + 1} decodes to ${produced} bytes, ${bytesPerSegment} expected`);
      const n = (data[p] as number) << 24 >> 24; // the header byte is signed
      if (n >= 0) {
        if (p + 1 + n + 1 > end) throw new Error(`RLE segment ${i + 1}: literal run at byte ${p - start} runs past the segment`);
        produced += n + 1;
        p += n + 2;
      } else if (n > -128) {
        if (p + 2 > end) throw new Error(`RLE segment ${i + 1}: replicate run at byte ${p - start} runs past the segment`);
        produced += 1 - n;
        p += 2;
      } else {
        p += 1; // -128: no operation
      }
      if (produced > bytesPerSegment) throw new Error(`RLE segment ${i + 1} decodes to more than ${bytesPerSegment} bytes`);
    }
  }
}

// --- layout helpers -------------------------------------------------------------------------------

/** Colour-by-pixel to colour-by-plane, or back (PS3.3 C.7.6.3.1.3). */
export function changePlanarConfiguration(src: Buffer, pixels: number, samples: number, bytesPerSample: number, toPlanar: boolean): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  const plane = pixels * bytesPerSample;
  const stride = samples * bytesPerSample;
  for (let s = 0; s < samples; s++) {
    let interleaved = s * bytesPerSample;
    let planar = s * plane;
    for (let i = 0; i < pixels; i++, interleaved += stride, planar += bytesPerSample) {
      for (let b = 0; b < bytesPerSample; b++) {
        if (toPlanar) out[planar + b] = src[interleaved + b] as number;
        else out[interleaved + b] = src[planar + b] as number;
      }
    }
  }
  return out;
}

/** 8-bit samples into 16-bit little endian words, values unchanged. */
function widenTo16(src: Uint8Array): Buffer {
  const out = Buffer.alloc(src.length * 2);
  for (let i = 0; i < src.length; i++) out[2 * i] = src[i] as number;
  return out;
}

// --- decoding -------------------------------------------------------------------------------------

interface CodecCall {
  readonly context: CodecContext;
  /** Bytes per sample in the codec's output. */
  readonly sampleBytes: number;
  /** Whether the codec's output is colour-by-plane. */
  readonly planar: boolean;
  readonly run: (context: CodecContext) => CodecContext;
}

function bytesFor(precision: number): number {
  return precision <= 8 ? 1 : 2;
}

function prepare(lib: CodecLibrary, encoded: Buffer, r: FrameDecodeRequest): CodecCall {
  const context = (overrides: { bitsAllocated?: number; pixelRepresentation?: number }): CodecContext =>
    new lib.Context({
      width: r.columns,
      height: r.rows,
      bitsAllocated: overrides.bitsAllocated ?? r.bitsAllocated,
      bitsStored: Math.min(r.bitsStored, overrides.bitsAllocated ?? r.bitsAllocated),
      samplesPerPixel: r.samplesPerPixel,
      pixelRepresentation: overrides.pixelRepresentation ?? r.pixelRepresentation,
      // Only the RLE decoder reads it, and writes that layout directly.
      planarConfiguration: r.planarConfiguration,
      photometricInterpretation: r.photometricInterpretation,
      encodedBuffer: encoded,
    });
  const checkSize = (columns: number, rows: number, components: number): void => {
    if (columns !== r.columns || (rows !== 0 && rows !== r.rows)) throw new Error(`codestream is ${columns}×${rows}, the image ${r.columns}×${r.rows}`);
    if (components !== r.samplesPerPixel) throw new Error(`codestream has ${components} components, Samples per Pixel is ${r.samplesPerPixel}`);
  };
  const checkPrecision = (precision: number): number => {
    if (precision < 2 || precision > 16) throw new Error(`sample precision ${precision} is not supported`);
    const bytes = bytesFor(precision);
    if (bytes * 8 > r.bitsAllocated) throw new Error(`sample precision ${precision} does not fit Bits Allocated ${r.bitsAllocated}`);
    return bytes;
  };

  switch (r.decoder) {
    case 'jpeg': {
      const h = readJpegFrameHeader(encoded);
      checkSize(h.columns, h.rows, h.components);
      const sampleBytes = checkPrecision(h.precision);
      return {
        context: context({ bitsAllocated: sampleBytes * 8 }),
        sampleBytes,
        planar: false,
        run: (c) => lib.NativeCodecs.decodeJpeg(c, { convertColorspaceToRgb: r.convertToRgb }),
      };
    }
    case 'jpeg-ls': {
      const h = readJpegFrameHeader(encoded);
      if (h.marker !== 0xf7) throw new Error('not a JPEG-LS codestream (no SOF55)');
      checkSize(h.columns, h.rows, h.components);
      const sampleBytes = checkPrecision(h.precision);
      // CharLS returns the samples as scanned: one scan per component (interleave none) is by plane.
      return { context: context({ bitsAllocated: sampleBytes * 8 }), sampleBytes, planar: h.components > 1 && h.interleave === 0, run: (c) => lib.NativeCodecs.decodeJpegLs(c) };
    }
    case 'jpeg2000':
    case 'htj2k': {
      const h = readJ2kFrameHeader(encoded);
      checkSize(h.columns, h.rows, h.components);
      if (h.subsampled) throw new Error('components are subsampled (XRsiz/YRsiz not 1)');
      const precision = h.precision[0] as number;
      if (h.precision.some((p) => p !== precision) || h.signed.some((s) => s !== h.signed[0])) throw new Error('components differ in precision or signedness');
      const sampleBytes = checkPrecision(precision);
      if (/^YBR_(RCT|ICT)$/.test(r.photometricInterpretation) && h.multipleComponentTransform === false) {
        throw new Error(`${r.photometricInterpretation} but the codestream does not use the multiple component transformation`);
      }
      if (r.decoder === 'jpeg2000') {
        // OpenJPEG output is written by the adapter only as 8-bit when there are three components.
        if (h.components > 1 && sampleBytes > 1) throw new Error(`${h.components} components of ${precision} bits are not supported by the JPEG 2000 decoder`);
        return { context: context({ bitsAllocated: sampleBytes * 8 }), sampleBytes, planar: false, run: (c) => lib.NativeCodecs.decodeJpeg2000(c) };
      }
      // The HTJ2K adapter clamps each sample to the range of the output type it is told; telling it
      // the codestream's own signedness keeps every bit pattern, and 8-bit signed output would clip.
      if (h.signed[0] && r.bitsAllocated === 8) throw new Error('signed 8-bit samples are not supported by the HTJ2K decoder');
      return {
        context: context({ pixelRepresentation: h.signed[0] ? 1 : 0 }),
        sampleBytes: r.bitsAllocated / 8,
        planar: false,
        run: (c) => lib.NativeCodecs.decodeHtJpeg2000(c),
      };
    }
    case 'rle': {
      const bytesPerSample = r.bitsAllocated / 8;
      checkRleFrame(encoded, bytesPerSample * r.samplesPerPixel, r.rows * r.columns);
      return { context: context({}), sampleBytes: bytesPerSample, planar: r.samplesPerPixel > 1 && r.planarConfiguration === 1, run: (c) => lib.NativeCodecs.decodeRle(c) };
    }
  }
}

/**
 * Decodes one frame. The result has exactly rows × columns × samples × bitsAllocated/8 bytes, little
 * endian, colour-by-plane or by pixel as requested; anything else is a PIXEL_DECODE error naming the
 * file and frame.
 */
export async function decodeFrame(encoded: Buffer, request: FrameDecodeRequest, where: FrameLocation): Promise<DecodedFrame> {
  const lib = await ensureCodecs();
  let call: CodecCall;
  try {
    call = prepare(lib, encoded, request);
  } catch (e) {
    throw decodeError(where, (e as Error).message, e);
  }
  let result: CodecContext;
  try {
    result = call.run(call.context);
  } catch (e) {
    discardInstance();
    throw decodeError(where, `${request.decoder} decoder failed: ${(e as Error).message}`, e);
  }
  const decoded = result.getDecodedBuffer();
  const pixels = request.rows * request.columns;
  const expected = pixels * request.samplesPerPixel * call.sampleBytes;
  if (!decoded || decoded.length !== expected) {
    throw decodeError(where, `${request.decoder} decoder returned ${decoded?.length ?? 0} bytes, ${expected} expected`);
  }
  let out = Buffer.from(decoded.buffer, decoded.byteOffset, decoded.length);
  let sampleBytes = call.sampleBytes;
  if (sampleBytes * 8 < request.bitsAllocated) {
    out = widenTo16(out);
    sampleBytes = 2;
  }
  const wantPlanar = request.samplesPerPixel > 1 && request.planarConfiguration === 1;
  if (request.samplesPerPixel > 1 && call.planar !== wantPlanar) {
    out = changePlanarConfiguration(out, pixels, request.samplesPerPixel, sampleBytes, wantPlanar);
  }
  return { pixels: out, photometricInterpretation: result.getPhotometricInterpretation() ?? request.photometricInterpretation };
}
