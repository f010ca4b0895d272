/**
 * Decoding encapsulated pixel data (PS3.5 §8.2, Annex A.4) to native pixels (PS3.5 §8.1.1), for the
 * lossless transcoder that rewrites a file in Explicit VR Little Endian when a media profile does not
 * allow its transfer syntax, and for the forward-only rewrite of an import when the PACS does not
 * accept it (reconcile/rewrite.ts, which finds the frames itself). Only decoding: nothing is ever
 * recompressed. The plan is made from the header alone, so the new Image Pixel attributes can be
 * written before the first frame is decoded; the frames then come one at a time, so memory stays at
 * one compressed and one decoded frame.
 *
 * What the decoded data set must say follows what dcmtk's decoders write with default options
 * (dcmdjpeg, dcmdjpls, dcmdrle), so that our output can be compared with theirs byte for byte:
 * JPEG YCbCr becomes RGB colour-by-pixel; JPEG-LS and RLE keep the Photometric Interpretation and the
 * Planar Configuration; JPEG 2000 and HTJ2K (which dcmtk cannot decode) turn YBR_RCT and YBR_ICT into
 * RGB, colour-by-pixel.
 */
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';
import type { DataSet, Element } from '../dataset.js';
import type { Part10Header } from '../part10/header.js';
import { makeElement } from '../part10/writer.js';
import { formatTag, type Tag } from '../tag.js';
import { T } from '../tags.js';
import type { PixelDecoder, TransferSyntax } from '../transfer-syntax.js';
import { decodeFrame, type FrameDecodeRequest, type FrameLocation } from './codecs.js';
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

/**
 * What planning needs: the data set holding the Image Pixel attributes (up to the pixel data is
 * enough), the transfer syntax it was read in, and a name for messages. A Part10Header is one; the
 * forward-only rewrite (reconcile/rewrite.ts) gives the parts it read itself.
 */
export interface DecodeInput {
  readonly name: string;
  readonly transferSyntax: TransferSyntax;
  readonly dataSet: DataSet;
  /** Tag of the pixel data element where the reader stopped; if absent, the data set is looked in. */
  readonly pixelDataTag?: Tag;
  /** SOP Class UID of the File Meta Information, used when the data set has none. */
  readonly mediaStorageSOPClassUID?: string;
}

/** Everything decoding needs, derived once from the header. */
export interface DecodeSetup {
  readonly plan: DecodePlan;
  readonly request: FrameDecodeRequest;
}

function attributesError(input: DecodeInput, message: string, tag?: Tag): DcmsafeError {
  return new DcmsafeError('PIXEL_ATTRIBUTES', `${input.name}: ${message}`, { file: input.name, ...(tag === undefined ? {} : { tag: formatTag(tag) }) });
}

function unsupported(input: DecodeInput, ts: TransferSyntax, why: string): DcmsafeError {
  return new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${input.name}: ${ts.name} (${ts.uid}): ${why}`, { file: input.name, transferSyntax: ts.uid });
}

/** The planning input of a header read by readPart10Header. */
export function decodeInputOf(header: Part10Header): DecodeInput {
  const sopClass = header.meta?.text(T.MediaStorageSOPClassUID);
  return {
    name: header.name,
    transferSyntax: header.transferSyntax,
    dataSet: header.dataSet,
    ...(header.pixelData ? { pixelDataTag: header.pixelData.tag } : {}),
    ...(sopClass === undefined ? {} : { mediaStorageSOPClassUID: sopClass }),
  };
}

/**
 * The plan and the codec request for decoding, from the header alone. Throws PIXEL_ATTRIBUTES when
 * the Image Pixel attributes are missing or do not fit together, PART10_UNSUPPORTED_SYNTAX when no
 * decoder exists for the transfer syntax.
 */
export function prepareDecode(input: DecodeInput): DecodeSetup {
  const ts = input.transferSyntax;
  if (!ts.encapsulated) throw unsupported(input, ts, 'pixel data is not encapsulated, there is nothing to decode');
  const decoder = ts.decoder;
  if (!decoder) throw unsupported(input, ts, 'no decoder for this transfer syntax');
  const ds = input.dataSet;
  const pixelTag = input.pixelDataTag ?? (ds.has(T.PixelData) ? T.PixelData : undefined);
  if (pixelTag === undefined) throw attributesError(input, 'no Pixel Data (7FE0,0010)');
  if (pixelTag !== T.PixelData) throw attributesError(input, `${formatTag(pixelTag)} cannot be encapsulated`, pixelTag);

  const required = (tag: Tag, what: string): number => {
    const v = ds.integer(tag);
    if (v === undefined) throw attributesError(input, `${what} ${formatTag(tag)} is missing or has no value`, tag);
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
  if (!photometric) throw attributesError(input, 'Photometric Interpretation (0028,0004) is missing or has no value', T.PhotometricInterpretation);

  if (rows < 1 || columns < 1 || rows > 0xffff || columns > 0xffff) throw attributesError(input, `image of ${columns}×${rows} pixels`, rows < 1 ? T.Rows : T.Columns);
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw attributesError(input, `Samples per Pixel ${samplesPerPixel} is not 1 or 3`, T.SamplesPerPixel);
  if (bitsAllocated === 1) throw attributesError(input, 'Bits Allocated 1 (bit-packed pixels) cannot be encapsulated', T.BitsAllocated);
  if (!BITS_ALLOCATED[decoder].includes(bitsAllocated)) throw attributesError(input, `Bits Allocated ${bitsAllocated} with ${ts.name}`, T.BitsAllocated);
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw attributesError(input, `Bits Stored ${bitsStored} with Bits Allocated ${bitsAllocated}`, T.BitsStored);
  // PS3.5 §8.2: in encapsulated pixel data High Bit is one less than Bits Stored.
  if (highBit !== bitsStored - 1) throw attributesError(input, `High Bit ${highBit} with Bits Stored ${bitsStored}`, T.HighBit);
  if (pixelRepresentation !== 0 && pixelRepresentation !== 1) throw attributesError(input, `Pixel Representation ${pixelRepresentation}`, T.PixelRepresentation);
  if (samplesPerPixel === 1 && !MONOCHROME_OR_PALETTE.has(photometric)) throw attributesError(input, `Photometric Interpretation ${photometric} with one sample per pixel`, T.PhotometricInterpretation);
  if (samplesPerPixel === 3 && !COLOUR.has(photometric)) throw attributesError(input, `Photometric Interpretation ${photometric} with three samples per pixel`, T.PhotometricInterpretation);
  if (samplesPerPixel === 3 && !COLOUR_ALLOWED[decoder].has(photometric)) throw attributesError(input, `Photometric Interpretation ${photometric} with ${ts.name}`, T.PhotometricInterpretation);

  let sourcePlanar: number | undefined;
  if (samplesPerPixel > 1 && ds.has(T.PlanarConfiguration)) {
    sourcePlanar = ds.integer(T.PlanarConfiguration);
    if (sourcePlanar !== 0 && sourcePlanar !== 1) throw attributesError(input, `Planar Configuration ${sourcePlanar ?? '(no value)'}`, T.PlanarConfiguration);
  }

  const framesElement = ds.get(T.NumberOfFrames);
  let frameCount = 1;
  if (framesElement?.value && ds.text(T.NumberOfFrames) !== undefined) {
    const n = ds.integer(T.NumberOfFrames);
    if (n === undefined || n < 1) throw attributesError(input, `Number of Frames "${ds.text(T.NumberOfFrames)}"`, T.NumberOfFrames);
    frameCount = n;
  }

  const sopClass = ds.text(T.SOPClassUID) ?? input.mediaStorageSOPClassUID;
  // dcmtk's rule for the decoded layout when nothing else decides it.
  const autoPlanar = (pi: string): number => (sopClass === HARDCOPY_COLOR_IMAGE_STORAGE || (pi === 'YBR_FULL' && sopClass !== undefined && ULTRASOUND_IMAGE_STORAGE.has(sopClass)) ? 1 : 0);

  let photometricInterpretation = photometric;
  let planarConfiguration = 0;
  let convertToRgb = false;
  if (samplesPerPixel > 1) {
    switch (decoder) {
      case 'jpeg':
        convertToRgb = JPEG_CONVERTED_TO_RGB.has(photometric);
        if (convertToRgb && pixelRepresentation !== 0) throw attributesError(input, `signed ${photometric} pixels cannot be converted to RGB`, T.PixelRepresentation);
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
        if (sourcePlanar === undefined) throw attributesError(input, 'Planar Configuration (0028,0006) is missing', T.PlanarConfiguration);
        planarConfiguration = sourcePlanar;
        break;
    }
  }

  const frameSize = rows * columns * samplesPerPixel * (bitsAllocated / 8);
  const totalSize = frameSize * frameCount;
  if (totalSize + (totalSize % 2) > MAX_NATIVE_LENGTH) {
    throw attributesError(input, `${frameCount} decoded frames of ${frameSize} bytes exceed the ${MAX_NATIVE_LENGTH} bytes a native Pixel Data element can hold`, T.NumberOfFrames);
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
  return prepareDecode(decodeInputOf(header)).plan;
}

/**
 * The Image Pixel elements a decoded data set must carry instead of the compressed ones (PS3.3
 * C.7.6.3), and those it must lose (the Extended Offset Table describes fragments that are gone).
 * Lossy history is kept (PS3.3 C.7.6.1.1.5): a lossy source makes Lossy Image Compression "01", and
 * its method is added only when the data set does not already name one (`has` tells).
 */
export function decodedAttributeChanges(plan: DecodePlan, has: (tag: Tag) => boolean): { set: Element[]; remove: Tag[] } {
  const a = plan.attributes;
  const set: Element[] = [
    makeElement(T.PhotometricInterpretation, 'CS', a.photometricInterpretation),
    makeElement(T.SamplesPerPixel, 'US', a.samplesPerPixel),
    makeElement(T.BitsAllocated, 'US', a.bitsAllocated),
    makeElement(T.BitsStored, 'US', a.bitsStored),
    makeElement(T.HighBit, 'US', a.highBit),
    makeElement(T.PixelRepresentation, 'US', a.pixelRepresentation),
  ];
  const remove: Tag[] = [T.ExtendedOffsetTable, T.ExtendedOffsetTableLengths];
  if (a.planarConfiguration !== undefined) set.push(makeElement(T.PlanarConfiguration, 'US', a.planarConfiguration));
  else remove.push(T.PlanarConfiguration);
  if (plan.sourceLossy) {
    set.push(makeElement(T.LossyImageCompression, 'CS', '01'));
    if (!has(T.LossyImageCompressionMethod) && plan.lossyMethod) set.push(makeElement(T.LossyImageCompressionMethod, 'CS', plan.lossyMethod));
  }
  return { set, remove };
}

/** Applies decodedAttributeChanges to a data set held in memory. */
export function applyDecodedAttributes(ds: DataSet, plan: DecodePlan): void {
  const { set, remove } = decodedAttributeChanges(plan, (tag) => ds.has(tag));
  for (const tag of remove) ds.delete(tag);
  for (const el of set) ds.set(el);
}

/** The Pixel Data VR of the decoded pixels: OB for 8-bit samples, OW otherwise (PS3.5 §A.1 c, as the transcoder writes). */
export function decodedPixelDataVR(plan: DecodePlan): 'OB' | 'OW' {
  return plan.attributes.bitsAllocated <= 8 ? 'OB' : 'OW';
}

/**
 * Decodes the compressed bytes of frame `where.frame` (1-based) and checks the result against the
 * plan: exactly plan.frameSize bytes, and for JPEG colour the colour space that was planned. Throws
 * PIXEL_DECODE otherwise.
 */
export async function decodePlannedFrame(encoded: Buffer, prepared: DecodeSetup, where: FrameLocation): Promise<Buffer> {
  const { plan, request } = prepared;
  const decoded = await decodeFrame(encoded, request, where);
  if (request.samplesPerPixel > 1 && decoded.photometricInterpretation !== plan.attributes.photometricInterpretation && request.decoder === 'jpeg') {
    throw new DcmsafeError('PIXEL_DECODE', `${where.file}: frame ${where.frame}: the JPEG decoder gave ${decoded.photometricInterpretation}, ${plan.attributes.photometricInterpretation} was planned`, { ...where });
  }
  if (decoded.pixels.length !== plan.frameSize) {
    throw new DcmsafeError('PIXEL_DECODE', `${where.file}: frame ${where.frame}: ${decoded.pixels.length} bytes decoded, ${plan.frameSize} planned`, { ...where });
  }
  return decoded.pixels;
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
  const prepared = prepareDecode(decodeInputOf(header));
  if (!samePlan(plan, prepared.plan)) throw new DcmsafeError('INTERNAL', `${header.name}: the decode plan does not belong to this header`, { file: header.name });
  const index = await locateFrames(reader, header, plan.frameCount, prepared.request.decoder);
  for (let i = 0; i < index.frames.length; i++) {
    const pieces = index.frames[i] ?? [];
    const where = { file: header.name, frame: i + 1, ...(pieces[0] ? { offset: pieces[0].offset } : {}) };
    yield await decodePlannedFrame(await readFrame(reader, pieces, header.name), prepared, where);
  }
}
