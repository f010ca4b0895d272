/** Pixel data helpers for tests: synthetic RLE frames, the Image Pixel attributes of a data set. */
import type { DataSet } from '../../src/dicom/dataset.js';
import { T } from '../../src/dicom/tags.js';

/** An RLE frame (PS3.5 Annex G) of the given byte planes (most significant first), each as literal runs; even length. */
export function rleFrame(planes: Buffer[]): Buffer {
  const segments = planes.map((plane) => {
    const parts: Buffer[] = [];
    for (let i = 0; i < plane.length; i += 128) {
      const literal = plane.subarray(i, i + 128);
      parts.push(Buffer.from([literal.length - 1]), literal);
    }
    return Buffer.concat(parts);
  });
  const header = Buffer.alloc(64);
  header.writeUInt32LE(planes.length, 0);
  let offset = 64;
  segments.forEach((segment, i) => {
    header.writeUInt32LE(offset, 4 + 4 * i);
    offset += segment.length;
  });
  const frame = Buffer.concat([header, ...segments]);
  return frame.length % 2 ? Buffer.concat([frame, Buffer.alloc(1)]) : frame;
}

/** The Image Pixel attributes a decoder must set (PS3.3 C.7.6.3), for comparing outputs. */
export function imagePixelAttributes(ds: DataSet): Record<string, string | number | undefined> {
  return {
    photometricInterpretation: ds.text(T.PhotometricInterpretation),
    planarConfiguration: (ds.integer(T.SamplesPerPixel) ?? 1) > 1 ? ds.integer(T.PlanarConfiguration) : undefined,
    samplesPerPixel: ds.integer(T.SamplesPerPixel),
    bitsAllocated: ds.integer(T.BitsAllocated),
    bitsStored: ds.integer(T.BitsStored),
    highBit: ds.integer(T.HighBit),
    pixelRepresentation: ds.integer(T.PixelRepresentation),
  };
}

/** An item (FFFE,E000) holding `value`, or another FFFE tag (a delimiter) with its length: encapsulated pixel data pieces. */
export function item(value: Buffer, tag = 0xfffee000): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}
