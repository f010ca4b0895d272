/**
 * Transfer syntaxes (PS3.5 §10, Annex A; registry in PS3.6 Annex A) as data: how the data set is
 * encoded, whether pixel data is encapsulated, whether the compression loses information, and which
 * decoder (if any) can turn it back into native pixels.
 */
export type PixelDecoder = 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k' | 'rle';

export interface TransferSyntax {
  readonly uid: string;
  readonly name: string;
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
  readonly deflated: boolean;
  /** Pixel data is encapsulated (fragments in an undefined-length OB element). */
  readonly encapsulated: boolean;
  /** The compression may lose information (PS3.5 §8.2: "lossy"). */
  readonly lossy: boolean;
  /** How to decode the frames to native pixels; undefined if we cannot. */
  readonly decoder?: PixelDecoder;
  /** Value for Lossy Image Compression Method (0028,2114), PS3.3 C.7.6.1.1.5.1. */
  readonly lossyMethod?: string;
}

export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BIG_ENDIAN = '1.2.840.10008.1.2.2';

function native(uid: string, name: string, explicitVR: boolean, littleEndian: boolean, deflated = false): TransferSyntax {
  return { uid, name, explicitVR, littleEndian, deflated, encapsulated: false, lossy: false };
}

function compressed(uid: string, name: string, lossy: boolean, decoder?: PixelDecoder, lossyMethod?: string): TransferSyntax {
  const ts: TransferSyntax = { uid, name, explicitVR: true, littleEndian: true, deflated: false, encapsulated: true, lossy };
  return { ...ts, ...(decoder ? { decoder } : {}), ...(lossyMethod ? { lossyMethod } : {}) };
}

const ALL: TransferSyntax[] = [
  native(IMPLICIT_VR_LITTLE_ENDIAN, 'Implicit VR Little Endian', false, true),
  native(EXPLICIT_VR_LITTLE_ENDIAN, 'Explicit VR Little Endian', true, true),
  native(DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, 'Deflated Explicit VR Little Endian', true, true, true),
  native(EXPLICIT_VR_BIG_ENDIAN, 'Explicit VR Big Endian (retired)', true, false),
  compressed('1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian', false),
  compressed('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', true, 'jpeg', 'ISO_10918_1'),
  compressed('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', true, 'jpeg', 'ISO_10918_1'),
  compressed('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', false, 'jpeg'),
  compressed('1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 SV1)', false, 'jpeg'),
  compressed('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', false, 'jpeg-ls'),
  compressed('1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless)', true, 'jpeg-ls', 'ISO_14495_1'),
  compressed('1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', false, 'jpeg2000'),
  compressed('1.2.840.10008.1.2.4.91', 'JPEG 2000', true, 'jpeg2000', 'ISO_15444_1'),
  compressed('1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component (Lossless Only)', false),
  compressed('1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component', true),
  compressed('1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level', true),
  compressed('1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level', true),
  compressed('1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1', true),
  compressed('1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1', true),
  compressed('1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video', true),
  compressed('1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video', true),
  compressed('1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2', true),
  compressed('1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1', true),
  compressed('1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1', true),
  compressed('1.2.840.10008.1.2.4.110', 'JPEG XL Lossless', false),
  compressed('1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression', true),
  compressed('1.2.840.10008.1.2.4.112', 'JPEG XL', true),
  compressed('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)', false, 'htj2k'),
  compressed('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', false, 'htj2k'),
  compressed('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000', true, 'htj2k', 'ISO_15444_15'),
  compressed('1.2.840.10008.1.2.5', 'RLE Lossless', false, 'rle'),
];

const BY_UID = new Map(ALL.map((ts) => [ts.uid, ts]));

export function lookupTransferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid);
}

export function transferSyntaxName(uid: string): string {
  return BY_UID.get(uid)?.name ?? uid;
}

/** Any retired JPEG process (1.2.840.10008.1.2.4.52 to .66) is encapsulated, lossy or not; we cannot decode it. */
export function transferSyntaxOrGuess(uid: string): TransferSyntax | undefined {
  const known = BY_UID.get(uid);
  if (known) return known;
  if (/^1\.2\.840\.10008\.1\.2\.4\.\d+$/.test(uid)) return compressed(uid, `Encapsulated ${uid}`, true);
  return undefined;
}
