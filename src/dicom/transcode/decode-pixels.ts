/**
 * Decoding encapsulated pixel data (PS3.5 §8.2, Annex A.4) to native pixels (PS3.5 §8.1.1), for the
 * lossless transcoder that rewrites a file in Explicit VR Little Endian when a media profile does not
 * allow its transfer syntax. Only decoding: nothing is ever recompressed. The plan is made from the
 * header alone, so the new Image Pixel attributes can be written before the first frame is decoded;
 * the frames then come one at a time, so memory stays at one compressed and one decoded frame.
 *
 * What the decoded data set must say follows what dcmtk's decoders write with default options
 * (dcmdjpeg, dcmdjpls, dcmdrle), so that our output can be compared with theirs byte for byte:
 * JPEG YCbCr becomes RGB colour-by-pixel; JPEG-LS and RLE keep the Photometric Interpretation and the
 * Planar Configuration; JPEG 2000 and HTJ2K (which dcmtk cannot decode) turn YBR_RCT and YBR_ICT into
 * RGB, colour-by-pixel.
 */
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';
import type { Part10Header } from '../part10/header.js';
import { formatTag, type Tag } from '../tag.js';
import { T } from '../tags.js';
import type { PixelDecoder, TransferSyntax } from '../transfer-syntax.js';
import { decodeFrame, type FrameDecodeRequest } from './codecs.js';
import { locateFrames, readFrame } from './frames.js';

export interface NativeImageAttributes {
  photometricInterpretation: string;
  planarConfiguration?: number; // only when samplesPerPixel > 1
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
}

export interface DecodePlan {
  frameCount: number;
  frameSize: number; // bytes of one decoded frame
  totalSize: number; // frameCount * frameSize (the Pixel Data value length before even-padding)
  attributes: NativeImageAttributes; // values the output data set must carry after decoding
  sourceLossy: boolean; // the source transfer syntax is lossy (so Lossy Image Compression must become "01")
  lossyMethod?: string; // e.g. ISO_10918_1, from the TransferSyntax table
}

/** Largest even value length of a native Pixel Data element (a 32-bit length; FFFFFFFF means undefined). */
const MAX_NATIVE_LENGTH = 0xfffffffe;

// PS3.4 / PS3.3 SOP classes whose IODs fix colour-by-plane (the rule dcmtk's decoders apply).
const HARDCOPY_COLOR_IMAGE_STORAGE = '1.2.840.10008.5.1.1.30';
const ULTRASOUND_IMAGE_STORAGE = new Set(['1.2.840.10008.5.1.4.1.1.6.1', '1.2.840.10008.5.1.4.1.1.3.1']);

const MONOCHROME_OR_PALETTE = new Set(['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR']);
const COLOUR = new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_PARTIAL_422', 'YBR_PARTIAL_420', 'YBR_ICT', 'YBR_RCT']);
/** YCbCr that IJG turns into RGB when dcmtk asks it to (dcmdjpeg +cp, the default). */
const JPEG_CONVERTED_TO_RGB = new Set(['YBR_FULL', 'YBR_FULL_422', 'YBR_PARTIAL_422']);
/** Photometric Interpretations each compression may carry (PS3.5 §8.2 and Annex A.4). */
const COLOUR_ALLOWED: Record<PixelDecoder, ReadonlySet<string>> = {
  jpeg: new Set(['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_PARTIAL_422']),
  'jpeg-ls': new Set(['RGB', 'YBR_FULL']),
  jpeg2000: new Set(['RGB', 'YBR_FULL', 'YBR_ICT', 'YBR_RCT']),
  htj2k: new Set(['RGB', 'YBR_FULL', 'YBR_ICT', 'YBR_RCT']),
  rle: new Set(['RGB', 'YBR_FULL']),
};
const BITS_ALLOCATED: Record<PixelDecoder, readonly number[]> = {
  jpeg: [8, 16],
  'jpeg-ls': [8, 16],
  jpeg2000: [8, 16],
  htj2k: [8, 16],
  rle: [8, 16, 32],
};

/** Everything decoding needs, derived once from the header. */
interface DecodeSetup {
  readonly plan: DecodePlan;
  readonly request: FrameDecodeRequest;
}

function attributesError(header: Part10Header, message: string, tag?: Tag): DcmsafeError {
  return new DcmsafeError('PIXEL_ATTRIBUTES', `${header.name}: ${message}`, { file: header.name, ...(tag === undefined ? {} : { tag: formatTag(tag) }) });
}

function unsupported(header: Part10Header, ts: TransferSyntax, why: string): DcmsafeError {
  return new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${header.name}: ${ts.name} (${ts.uid}): ${why}`, { file: header.name, transferSyntax: ts.uid });
}

function setup(header: Part10Header): DecodeSetup {
  const ts = header.transferSyntax;
  if (!ts.encapsulated) throw unsupported(header, ts, 'pixel data is not encapsulated, there is nothing to decode');
  const decoder = ts.decoder;
  if (!decoder) throw unsupported(header, ts, 'no decoder for this transfer syntax');
  const ds = header.dataSet;
  const pixelTag = header.pixelData?.tag ?? (ds.has(T.PixelData) ? T.PixelData : undefined);
  if (pixelTag === undefined) throw attributesError(header, 'no Pixel Data (7FE0,0010)');
  if (pixelTag !== T.PixelData) throw attributesError(header, `${formatTag(pixelTag)} cannot be encapsulated`, pixelTag);

  const required = (tag: Tag, what: string): number => {
    const v = ds.integer(tag);
    if (v === undefined) throw attributesError(header, `${what} ${formatTag(tag)} is missing or has no value`, tag);
    return v;
  };
  const rows = required(T.Rows, 'Rows');
  const columns = required(T.Columns, 'Columns');
  const samplesPerPixel = required(T.SamplesPerPixel, 'Samples per Pixel');
  const bitsAllocated = required(T.BitsAllocated, 'Bits Allocated');
  const bitsStored = required(T.BitsStored, 'Bits Stored');
  const highBit = required(T.HighBit, 'High Bit');
  const pixelRepresentation = required(T.PixelRepresentation, 'Pixel Representation');
  const photometric = ds.text(T.PhotometricInterpretation)?.toUpperCase();
  if (!photometric) throw attributesError(header, 'Photometric Interpretation (0028,0004) is missing or has no value', T.PhotometricInterpretation);

  if (rows < 1 || columns < 1 || rows > 0xffff || columns > 0xffff) throw attributesError(header, `image of ${columns}×${rows} pixels`, rows < 1 ? T.Rows : T.Columns);
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw attributesError(header, `Samples per Pixel ${samplesPerPixel} is not 1 or 3`, T.SamplesPerPixel);
  if (bitsAllocated === 1) throw attributesError(header, 'Bits Allocated 1 (bit-packed pixels) cannot be encapsulated', T.BitsAllocated);
  if (!BITS_ALLOCATED[decoder].includes(bitsAllocated)) throw attributesError(header, `Bits Allocated ${bitsAllocated} with ${ts.name}`, T.BitsAllocated);
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw attributesError(header, `Bits Stored ${bitsStored} with Bits Allocated ${bitsAllocated}`, T.BitsStored);
  // PS3.5 §8.2: in encapsulated pixel data High Bit is one less than Bits Stored.
  if (highBit !== bitsStored - 1) throw attributesError(header, `High Bit ${highBit} with Bits Stored ${bitsStored}`, T.HighBit);
  if (pixelRepresentation !== 0 && pixelRepresentation !== 1) throw attributesError(header, `Pixel Representation ${pixelRepresentation}`, T.PixelRepresentation);
  if (samplesPerPixel === 1 && !MONOCHROME_OR_PALETTE.has(photometric)) throw attributesError(header, `Photometric Interpretation ${photometric} with one sample per pixel`, T.PhotometricInterpretation);
  if (samplesPerPixel === 3 && !COLOUR.has(photometric)) throw attributesError(header, `Photometric Interpretation ${photometric} with three samples per pixel`, T.PhotometricInterpretation);
  if (samplesPerPixel === 3 && !COLOUR_ALLOWED[decoder].has(photometric)) throw attributesError(header, `Photometric Interpretation ${photometric} with ${ts.name}`, T.PhotometricInterpretation);

  let sourcePlanar: number | undefined;
  if (samplesPerPixel > 1 && ds.has(T.PlanarConfiguration)) {
    sourcePlanar = ds.integer(T.PlanarConfiguration);
    if (sourcePlanar !== 0 && sourcePlanar !== 1) throw attributesError(header, `Planar Configuration ${sourcePlanar ?? '(no value)'}`, T.PlanarConfiguration);
  }

  const framesElement = ds.get(T.NumberOfFrames);
  let frameCount = 1;
  if (framesElement?.value && ds.text(T.NumberOfFrames) !== undefined) {
    const n = ds.integer(T.NumberOfFrames);
    if (n === undefined || n < 1) throw attributesError(header, `Number of Frames "${ds.text(T.NumberOfFrames)}"`, T.NumberOfFrames);
    frameCount = n;
  }

  const sopClass = ds.text(T.SOPClassUID) ?? header.meta?.text(T.MediaStorageSOPClassUID);
  // dcmtk's rule for the decoded layout when nothing else decides it.
  const autoPlanar = (pi: string): number => (sopClass === HARDCOPY_COLOR_IMAGE_STORAGE || (pi === 'YBR_FULL' && sopClass !== undefined && ULTRASOUND_IMAGE_STORAGE.has(sopClass)) ? 1 : 0);

  let photometricInterpretation = photometric;
  let planarConfiguration = 0;
  let convertToRgb = false;
  if (samplesPerPixel > 1) {
    switch (decoder) {
      case 'jpeg':
        convertToRgb = JPEG_CONVERTED_TO_RGB.has(photometric);
        if (convertToRgb && pixelRepresentation !== 0) throw attributesError(header, `signed ${photometric} pixels cannot be converted to RGB`, T.PixelRepresentation);
        if (convertToRgb) photometricInterpretation = 'RGB';
        planarConfiguration = autoPlanar(photometricInterpretation);
        break;
      case 'jpeg-ls':
        planarConfiguration = sourcePlanar ?? autoPlanar(photometric);
        break;
      case 'jpeg2000':
      case 'htj2k':
        if (photometric === 'YBR_RCT' || photometric === 'YBR_ICT') photometricInterpretation = 'RGB';
        break;
      case 'rle':
        if (sourcePlanar === undefined) throw attributesError(header, 'Planar Configuration (0028,0006) is missing', T.PlanarConfiguration);
        planarConfiguration = sourcePlanar;
        break;
    }
  }

  const frameSize = rows * columns * samplesPerPixel * (bitsAllocated / 8);
  const totalSize = frameSize * frameCount;
  if (totalSize + (totalSize % 2) > MAX_NATIVE_LENGTH) {
    throw attributesError(header, `${frameCount} decoded frames of ${frameSize} bytes exceed the ${MAX_NATIVE_LENGTH} bytes a native Pixel Data element can hold`, T.NumberOfFrames);
  }

  const plan: DecodePlan = {
    frameCount,
    frameSize,
    totalSize,
    attributes: {
      photometricInterpretation,
      ...(samplesPerPixel > 1 ? { planarConfiguration } : {}),
      samplesPerPixel,
      bitsAllocated,
      bitsStored,
      highBit,
      pixelRepresentation,
    },
    sourceLossy: ts.lossy,
    ...(ts.lossyMethod ? { lossyMethod: ts.lossyMethod } : {}),
  };
  const request: FrameDecodeRequest = {
    decoder,
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    pixelRepresentation,
    photometricInterpretation: photometric,
    planarConfiguration,
    convertToRgb,
  };
  return { plan, request };
}

/**
 * What decoding this file will produce, from its header alone. Throws PIXEL_ATTRIBUTES when the Image
 * Pixel attributes are missing or do not fit together, PART10_UNSUPPORTED_SYNTAX when no decoder
 * exists for the transfer syntax.
 */
export function planDecode(header: Part10Header): DecodePlan {
  return setup(header).plan;
}

function samePlan(a: DecodePlan, b: DecodePlan): boolean {
  const keys: (keyof NativeImageAttributes)[] = ['photometricInterpretation', 'planarConfiguration', 'samplesPerPixel', 'bitsAllocated', 'bitsStored', 'highBit', 'pixelRepresentation'];
  return a.frameCount === b.frameCount && a.frameSize === b.frameSize && a.totalSize === b.totalSize && keys.every((k) => a.attributes[k] === b.attributes[k]);
}

/**
 * Decodes the frames one after the other: exactly plan.frameCount buffers of exactly plan.frameSize
 * bytes, little endian, in the layout plan.attributes describes. Throws PIXEL_FRAGMENTS when the
 * fragments cannot be split into frames, PIXEL_DECODE when a frame cannot be decoded.
 */
export async function* decodeFrames(reader: RandomAccessReader, header: Part10Header, plan: DecodePlan): AsyncGenerator<Buffer> {
  const { plan: expected, request } = setup(header);
  if (!samePlan(plan, expected)) throw new DcmsafeError('INTERNAL', `${header.name}: the decode plan does not belong to this header`, { file: header.name });
  const index = await locateFrames(reader, header, plan.frameCount, request.decoder);
  for (let i = 0; i < index.frames.length; i++) {
    const pieces = index.frames[i] ?? [];
    const where = { file: header.name, frame: i + 1, ...(pieces[0] ? { offset: pieces[0].offset } : {}) };
    const decoded = await decodeFrame(await readFrame(reader, pieces, header.name), request, where);
    if (request.samplesPerPixel > 1 && decoded.photometricInterpretation !== plan.attributes.photometricInterpretation && request.decoder === 'jpeg') {
      throw new DcmsafeError('PIXEL_DECODE', `${header.name}: frame ${i + 1}: the JPEG decoder gave ${decoded.photometricInterpretation}, ${plan.attributes.photometricInterpretation} was planned`, where);
    }
    if (decoded.pixels.length !== plan.frameSize) {
      throw new DcmsafeError('PIXEL_DECODE', `${header.name}: frame ${i + 1}: ${decoded.pixels.length} bytes decoded, ${plan.frameSize} planned`, where);
    }
    yield decoded.pixels;
  }
}
