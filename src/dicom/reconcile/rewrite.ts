/**
 * Rewriting a Part 10 file (PS3.10 §7.1) forward-only, for the import of reconciled instances
 * (IHE RAD IRWF): the data set up to the pixel data is parsed, changed by a transform (the IRWF
 * coercion) and written again in Explicit VR Little Endian (PS3.5 §7.1.2, defined lengths); the
 * pixel data and what follows it stream through without ever being held in memory. The source may
 * be a file or the output of a decryptor: nothing here seeks back.
 *
 * How each transfer syntax (PS3.5 Annex A) passes:
 *   Explicit VR LE, encapsulated (A.4)  pixel data element and everything after it copied byte for
 *                                       byte; fragments are walked item by item so a cut is noticed
 *   Implicit VR LE (A.1)                pixel data element header written as explicit (OB/OW), its
 *                                       value streamed; trailing elements parsed and re-encoded
 *   Explicit VR BE (A.3, retired)       the same, with the pixel value swapped by its VR's unit
 *   Deflated Explicit VR LE (A.5)       inflated on the fly; output is Explicit VR Little Endian
 *   encapsulated, with decodePixelData  frames decoded to native pixels one at a time (PS3.5 §8.2 to
 *                                       §8.1.1); output is Explicit VR Little Endian
 *
 * The header is held in memory: a "tape" of its bytes (see sources.ts) gives back the values the
 * parser does not load (large values, encapsulated pixel data inside sequences such as an icon), so
 * nothing before the pixel data is lost; its size is bounded by `maxHeaderBytes`.
 *
 * Decoding (for a PACS that does not accept the compressed transfer syntax) is planned from the header
 * alone, as the media transcoder does (transcode/decode-pixels.ts), so the Pixel Data length is known
 * before the first frame is decoded. The frames are then found forward-only as the fragments pass
 * (transcode/frames.ts FrameSplitter): memory holds one compressed frame (bounded by `maxFrameBytes`)
 * and one decoded frame, never the whole pixel data.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet, type Element, type Syntax } from '../dataset.js';
import { InflateByteSource, type ByteSource } from '../part10/byte-source.js';
import { checkDeclaredSyntax, detectSyntax, parseFileMeta } from '../part10/header.js';
import { DataSetParser, DEFAULT_LIMITS, type PixelDataPosition, type ReadLimits, type ReadWarning } from '../part10/parser.js';
import { itemHeader, SEQUENCE_DELIMITER } from '../part10/stream-writer.js';
import { elementHeaderBytes, encodeFileMeta, padValue } from '../part10/writer.js';
import { formatTag, ITEM, SEQUENCE_DELIMITATION, UNDEFINED_LENGTH } from '../tag.js';
import { T } from '../tags.js';
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, transferSyntaxOrGuess, type TransferSyntax } from '../transfer-syntax.js';
import { dataSetToExplicitLE, swapBytes } from '../transcode/convert.js';
import { applyDecodedAttributes, decodedPixelDataVR, decodePlannedFrame, prepareDecode, type DecodePlan, type DecodeSetup } from '../transcode/decode-pixels.js';
import { FrameSplitter, indexFrames, opensFrame, OPENING_BYTES, parseBasicOffsetTable, parseExtendedOffsetTable, type ExtendedOffsetTable } from '../transcode/frames.js';
import { isVR, swapUnit } from '../vr.js';
import { RecordingByteSource, remainingChunks, STREAM_CHUNK } from './sources.js';

/** Default bound on the data set before the pixel data (what a rewrite holds in memory). */
export const DEFAULT_MAX_HEADER_BYTES = 256 << 20;

/** Default bound on the compressed bytes of one frame held for decoding. */
export const DEFAULT_MAX_FRAME_BYTES = 512 << 20;

export interface RewriteOptions {
  /** Applied to the header (Explicit VR Little Endian, up to the pixel data) before it is written. */
  transform?: (ds: DataSet) => DataSet | Promise<DataSet>;
  /**
   * Applied to the elements after the pixel data (Explicit VR Little Endian), which are then parsed
   * and re-encoded even when they could be copied (de-identification removes trailing padding and
   * digital signatures, PS3.15 E.1-1).
   */
  transformTrailing?: (ds: DataSet) => DataSet;
  /** Name of the input in messages. */
  name: string;
  /** Most bytes of data set before the pixel data (and of elements after it, when re-encoded). */
  maxHeaderBytes?: number;
  /**
   * Decode encapsulated pixel data (JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE) to native pixels and write
   * the data set in Explicit VR Little Endian, for a peer that does not accept the compressed transfer
   * syntax. The Image Pixel attributes are rewritten as the media transcoder's 'decode' does (dcmtk's
   * decoders' conventions; Lossy Image Compression "01" after a lossy source), after `transform` has
   * run, so that they describe the pixels written whatever the transform did. Encapsulated pixel data
   * inside sequences (an icon) is decoded too, in memory, as Explicit VR Little Endian cannot carry it.
   * No effect when the transfer syntax is not encapsulated or there is no encapsulated top-level Pixel
   * Data. A transfer syntax without a decoder, or Image Pixel attributes that do not allow a faithful
   * decode, fail openRewrite (PART10_UNSUPPORTED_SYNTAX, PIXEL_ATTRIBUTES); fragments that cannot be
   * split into Number of Frames frames fail the stream (PIXEL_FRAGMENTS), as does a frame that cannot
   * be decoded (PIXEL_DECODE).
   */
  decodePixelData?: boolean;
  /** With decodePixelData: most compressed bytes of one frame held for decoding (PART10_LIMIT beyond). */
  maxFrameBytes?: number;
  /**
   * Runs last on the header, after decodePixelData's attribute changes, with the tag of the top-level
   * pixel data if there is one: what it sees is exactly what is written (digital signatures name the
   * elements they cover from it).
   */
  finalize?: (ds: DataSet, written: { pixelDataTag: number | undefined; transferSyntaxUID: string }) => void;
}

export interface Rewrite {
  /** Transfer syntax of the output data set: the source's, or Explicit VR LE for implicit, big endian and deflated sources and when pixel data is decoded. */
  transferSyntaxUID: string;
  /** Transfer syntax the source was read in. */
  sourceTransferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
  /** The header as read, in the source's encoding (for checks and reports). */
  original: DataSet;
  /** The File Meta Information as read, if the source had one. */
  meta?: DataSet;
  /** What the reader tolerated (no preamble, transfer syntax mismatch...). */
  warnings: readonly ReadWarning[];
  /** With decodePixelData, when the top-level pixel data is decoded: what it decodes to. */
  decodePlan?: DecodePlan;
  /** The rewritten data set without preamble and meta (what a C-STORE sends); readable once. */
  dataSet: AsyncIterable<Buffer>;
  /** The same behind a new preamble and File Meta Information, for writing a file; readable once (instead of dataSet). */
  part10(): AsyncIterable<Buffer>;
  /** Releases what reading holds (an inflater for deflated sources) when the output will not be read. */
  discard(): Promise<void>;
}

const ITEM_HEADER_LENGTH = 8;

function notDicom(name: string, why: string): DcmsafeError {
  return new DcmsafeError('PART10_NOT_DICOM', `${name}: not a DICOM file (${why})`, { file: name, offset: 0 });
}

// ---- encoding the header ---------------------------------------------------------------------

function encodeElementInto(el: Element, out: Buffer[]): void {
  if (el.items) {
    const parts: Buffer[] = [];
    for (const item of el.items) {
      const body = encodeHeaderDataSet(item);
      parts.push(itemHeader(body.length), body);
    }
    const value = Buffer.concat(parts);
    out.push(elementHeaderBytes(el.tag, 'SQ', value.length), value);
    return;
  }
  if (el.fragments) {
    // Encapsulated pixel data inside a sequence (PS3.5 §A.4): undefined length, the fragment items
    // as read (see fillFromTape), and a sequence delimiter.
    if (!el.value) throw new DcmsafeError('INTERNAL', `${formatTag(el.tag)}: encapsulated value not in memory`, { tag: formatTag(el.tag) });
    out.push(elementHeaderBytes(el.tag, el.vr, UNDEFINED_LENGTH), el.value, SEQUENCE_DELIMITER);
    return;
  }
  if (el.bulk) throw new DcmsafeError('INTERNAL', `${formatTag(el.tag)}: value not in memory`, { tag: formatTag(el.tag) });
  const value = padValue(el.value ?? Buffer.alloc(0), el.vr);
  out.push(elementHeaderBytes(el.tag, el.vr, value.length), value);
}

/**
 * An Explicit VR Little Endian data set held in memory, in ascending tag order, sequences and items
 * with defined lengths. Unlike writer.ts's encodeDataSet it also writes encapsulated values kept
 * from the source.
 */
export function encodeHeaderDataSet(ds: DataSet): Buffer {
  const out: Buffer[] = [];
  for (const el of ds.sorted()) encodeElementInto(el, out);
  return Buffer.concat(out);
}

// ---- reading ---------------------------------------------------------------------------------


interface MetaRead {
  meta?: DataSet;
  transferSyntax: TransferSyntax;
  warnings: ReadWarning[];
}

/** Preamble, "DICM" and File Meta Information read forward-only (the layouts header.ts tolerates). */
async function readMeta(src: ByteSource, name: string): Promise<MetaRead> {
  const warnings: ReadWarning[] = [];
  const have = await src.fill(132);
  if (have < 8) throw notDicom(name, `only ${have} bytes`);
  const start = src.peek(132);
  let hasMeta = true;
  if (have >= 132 && start.toString('latin1', 128, 132) === 'DICM') {
    await src.skip(132);
  } else if (start.toString('latin1', 0, 4) === 'DICM') {
    warnings.push({ code: 'NO_PREAMBLE', message: 'DICM prefix without the 128-byte preamble', offset: 0 });
    await src.skip(4);
  } else if (start.readUInt16LE(0) === 0x0002 && isVR(start.toString('latin1', 4, 6))) {
    warnings.push({ code: 'NO_PREAMBLE', message: 'File Meta Information without the 128-byte preamble and DICM prefix', offset: 0 });
  } else {
    hasMeta = false;
    warnings.push({ code: 'NO_META', message: 'data set without preamble and File Meta Information', offset: 0 });
  }

  let meta: DataSet | undefined;
  let tsUID: string | undefined;
  if (hasMeta) {
    const read = await parseFileMeta(src, name, DEFAULT_LIMITS);
    meta = read.meta;
    warnings.push(...read.warnings);
    tsUID = read.transferSyntaxUID;
    if (!tsUID) warnings.push({ code: 'META_NO_TRANSFER_SYNTAX', message: 'File Meta Information lacks Transfer Syntax UID; detected from the data', offset: meta.offset });
  }

  await src.fill(16);
  const head = Buffer.from(src.peek(16));
  if (tsUID) {
    const declared = transferSyntaxOrGuess(tsUID);
    if (!declared) throw new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${name}: unknown transfer syntax ${tsUID}`, { file: name, offset: src.position, transferSyntax: tsUID });
    const corrected = checkDeclaredSyntax(declared, head);
    if (corrected) {
      warnings.push({ code: 'TRANSFER_SYNTAX_MISMATCH', message: `declared ${tsUID} but the data set is encoded as ${corrected}`, offset: src.position });
      tsUID = corrected;
    }
  } else {
    if (head.length === 0) throw new DcmsafeError('PART10_TRUNCATED', `${name}: File Meta Information but no data set`, { file: name, offset: src.position });
    tsUID = detectSyntax(head);
    if (!tsUID) throw notDicom(name, 'the first bytes are not a data element');
  }
  return { ...(meta ? { meta } : {}), transferSyntax: transferSyntaxOrGuess(tsUID) as TransferSyntax, warnings };
}

/**
 * Puts back into the header what the parser left in the stream: values above its loaded limit,
 * and encapsulated values inside sequences (kept as their fragment items, in the element's value).
 */
function fillFromTape(ds: DataSet, tape: RecordingByteSource): void {
  for (const el of [...ds.elements.values()]) {
    if (el.items) {
      for (const item of el.items) fillFromTape(item, tape);
    } else if (el.fragments) {
      if (!ds.syntax.littleEndian) {
        throw new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${tape.name}: encapsulated ${formatTag(el.tag)} in a big endian data set`, { file: tape.name, offset: el.offset, tag: formatTag(el.tag) });
      }
      const last = el.fragments[el.fragments.length - 1];
      const end = last ? last.offset + last.length : el.valueOffset;
      for (const f of el.fragments) {
        // The fragment's item header must be on the tape where the parser saw it; a sequence read
        // from a UN value has offsets relative to that value instead, which this catches.
        const h = tape.slice(f.offset - ITEM_HEADER_LENGTH, ITEM_HEADER_LENGTH);
        if (h.readUInt16LE(0) !== ITEM >>> 16 || h.readUInt16LE(2) !== (ITEM & 0xffff) || h.readUInt32LE(4) !== f.length) {
          throw new DcmsafeError('PIXEL_FRAGMENTS', `${tape.name}: the fragments of ${formatTag(el.tag)} cannot be located in the stream`, { file: tape.name, offset: f.offset, tag: formatTag(el.tag) });
        }
      }
      ds.set({ ...el, value: tape.slice(el.valueOffset, end - el.valueOffset) });
    } else if (el.bulk) {
      const { bulk: _bulk, ...rest } = el;
      ds.set({ ...rest, value: tape.slice(el.valueOffset, el.length ?? 0) });
    }
  }
}

/** Parses elements from the tape's position to `stop`, with every value in memory. */
async function parseHeld(tape: RecordingByteSource, target: DataSet, limits: ReadLimits, stopAtPixelData: boolean): Promise<DataSetParser> {
  tape.startRecording();
  try {
    const parser = new DataSetParser(tape, limits);
    await parser.parse(target, { stopAtPixelData });
    tape.stopRecording();
    fillFromTape(target, tape);
    return parser;
  } finally {
    tape.dropTape();
  }
}

// ---- streaming the pixel data ----------------------------------------------------------------

/** `length` bytes of the source, swapped by `unit` (1: as they are), in chunks that never split a unit. */
async function* streamValue(src: ByteSource, length: number, unit: 1 | 2 | 4 | 8): AsyncGenerator<Buffer> {
  let remaining = length;
  let carry: Buffer | undefined;
  while (remaining > 0) {
    let chunk = await src.readSome(Math.min(STREAM_CHUNK, remaining));
    remaining -= chunk.length;
    if (unit === 1) {
      yield chunk;
      continue;
    }
    if (carry) {
      chunk = Buffer.concat([carry, chunk]);
      carry = undefined;
    }
    const whole = chunk.length - (chunk.length % unit);
    if (whole < chunk.length) carry = Buffer.from(chunk.subarray(whole));
    if (whole > 0) yield swapBytes(chunk.subarray(0, whole), unit);
  }
  // A trailing partial unit (odd length) is kept as it is, as swapBytes does.
  if (carry) yield carry;
}

interface ItemHead {
  /** Stream position of the Item tag. */
  offset: number;
  tag: number;
  length: number;
}

async function readItemHead(src: ByteSource): Promise<ItemHead> {
  const offset = src.position;
  const head = await src.view(ITEM_HEADER_LENGTH);
  return { offset, tag: ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0, length: head.readUInt32LE(4) };
}

function notAFragment(src: ByteSource, px: PixelDataPosition, item: ItemHead): DcmsafeError {
  return new DcmsafeError('PIXEL_FRAGMENTS', `${src.name}: expected a fragment item in ${formatTag(px.tag)}, found ${formatTag(item.tag)} of length ${item.length} at offset ${item.offset}`, {
    file: src.name,
    offset: item.offset,
    tag: formatTag(px.tag),
  });
}

/** Encapsulated pixel data (PS3.5 §A.4): each item header copied, each fragment streamed, up to the sequence delimiter. */
async function* streamFragments(src: ByteSource, px: PixelDataPosition): AsyncGenerator<Buffer> {
  for (;;) {
    const offset = src.position;
    const head = await src.read(8);
    const tag = ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0;
    const length = head.readUInt32LE(4);
    if (tag === SEQUENCE_DELIMITATION) {
      yield head;
      return;
    }
    if (tag !== ITEM || length === UNDEFINED_LENGTH) throw notAFragment(src, px, { offset, tag, length });
    // Fragments have even lengths (PS3.5 §A.4); an odd one gets its trailing NUL, as a writer should have added.
    yield length % 2 === 1 ? itemHeader(length + 1) : head;
    yield* streamValue(src, length, 1);
    if (length % 2 === 1) yield PAD_BYTE;
  }
}

const PAD_BYTE = Buffer.from([0x00]);

// ---- decoding the pixel data -----------------------------------------------------------------

function tableLimit(name: string, what: string, length: number, limit: number): DcmsafeError {
  return new DcmsafeError('PART10_LIMIT', `${name}: ${what} of ${length} bytes is larger than ${limit} bytes, the most a streamed rewrite holds in memory`, { file: name, limit });
}

/** The Extended Offset Table of the header (PS3.3 C.7.6.3.1.8), if any; its values were kept from the tape. */
function extendedOffsetTableIn(ds: DataSet, name: string): ExtendedOffsetTable | undefined {
  const offsets = ds.get(T.ExtendedOffsetTable);
  const lengths = ds.get(T.ExtendedOffsetTableLengths);
  if (!offsets && !lengths) return undefined;
  if (!offsets || !lengths) {
    throw new DcmsafeError('PIXEL_FRAGMENTS', `${name}: ${offsets ? 'Extended Offset Table Lengths' : 'Extended Offset Table'} is missing`, { file: name, tag: formatTag(T.PixelData) });
  }
  return parseExtendedOffsetTable(offsets.value ?? Buffer.alloc(0), lengths.value ?? Buffer.alloc(0), name);
}

interface DecodeStream {
  readonly prepared: DecodeSetup;
  readonly extendedOffsetTable: ExtendedOffsetTable | undefined;
  /** Most compressed bytes of one frame. */
  readonly maxFrameBytes: number;
  /** Most bytes of a Basic Offset Table. */
  readonly maxTableBytes: number;
}

/**
 * Encapsulated pixel data (PS3.5 §A.4) read item by item up to the sequence delimiter and given back
 * decoded, frame after frame (plan.totalSize bytes, then a padding byte if that is odd). A frame is
 * complete when the next one opens or the delimiter comes, so one compressed frame is held at a time.
 */
async function* decodeFragments(src: ByteSource, px: PixelDataPosition, d: DecodeStream): AsyncGenerator<Buffer> {
  const name = src.name;
  const { plan, request } = d.prepared;
  const bot = await readItemHead(src);
  if (bot.tag !== ITEM || bot.length === UNDEFINED_LENGTH) {
    throw new DcmsafeError('PIXEL_FRAGMENTS', `${name}: encapsulated pixel data has no Basic Offset Table item (found ${formatTag(bot.tag)} at offset ${bot.offset})`, {
      file: name,
      offset: bot.offset,
      tag: formatTag(px.tag),
    });
  }
  let table: number[] = [];
  if (bot.length > 0 && d.extendedOffsetTable) {
    await src.skip(bot.length); // an Extended Offset Table wins, as frames.ts has it
  } else if (bot.length > 0) {
    if (bot.length !== 4 * plan.frameCount) {
      throw new DcmsafeError('PIXEL_FRAGMENTS', `${name}: Basic Offset Table of ${bot.length} bytes does not list ${plan.frameCount} frames`, { file: name, offset: bot.offset, tag: formatTag(px.tag) });
    }
    if (bot.length > d.maxTableBytes) throw tableLimit(name, 'Basic Offset Table', bot.length, d.maxTableBytes);
    table = parseBasicOffsetTable(await src.read(bot.length), name);
  }
  const splitter = new FrameSplitter({ name, numberOfFrames: plan.frameCount, decoder: request.decoder, basicOffsetTable: table, ...(d.extendedOffsetTable ? { extendedOffsetTable: d.extendedOffsetTable } : {}) });

  let pieces: Buffer[] = [];
  let frameBytes = 0;
  let frame = 0;
  let frameOffset = 0;
  const decodeHeld = async (): Promise<Buffer> => {
    const encoded = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, frameBytes);
    pieces = [];
    frameBytes = 0;
    return decodePlannedFrame(encoded, d.prepared, { file: name, frame, offset: frameOffset });
  };

  for (;;) {
    const item = await readItemHead(src);
    if (item.tag === SEQUENCE_DELIMITATION) break;
    if (item.tag !== ITEM || item.length === UNDEFINED_LENGTH) throw notAFragment(src, px, item);
    const known = src.knownLength;
    if (known !== undefined && src.position + item.length > known) throw src.truncated(src.position + item.length - known);
    const opening = Math.min(item.length, OPENING_BYTES);
    await src.fill(opening);
    const role = splitter.next(item.offset, item.length, src.peek(opening));
    if (role.opens) {
      if (frame > 0) yield await decodeHeld();
      frame = role.frame;
      frameOffset = src.position;
    }
    if (role.frame > 0 && role.length > 0) {
      if (frameBytes + role.length > d.maxFrameBytes) {
        throw new DcmsafeError('PART10_LIMIT', `${name}: frame ${frame} has more than ${d.maxFrameBytes} compressed bytes, the most a streamed rewrite decodes`, {
          file: name,
          frame,
          offset: frameOffset,
          limit: d.maxFrameBytes,
        });
      }
      const piece = Buffer.allocUnsafe(role.length);
      for (let at = 0; at < role.length; ) {
        const chunk = await src.readSome(Math.min(STREAM_CHUNK, role.length - at));
        chunk.copy(piece, at);
        at += chunk.length;
      }
      pieces.push(piece);
      frameBytes += role.length;
    }
    const taken = role.frame > 0 ? role.length : 0;
    if (item.length > taken) await src.skip(item.length - taken);
  }
  splitter.finish();
  yield await decodeHeld();
  if (plan.totalSize % 2 === 1) yield Buffer.alloc(1);
}

/**
 * Encapsulated pixel data held in the header (inside a sequence: an icon, PS3.3 F.7) decoded in
 * memory, with the Image Pixel attributes of its item rewritten. Explicit VR Little Endian cannot
 * carry it encapsulated; dcmtk's decoders likewise decode every Pixel Data of a data set. Its frames
 * are found the random-access way, as its fragments are all on the tape.
 */
async function decodeHeldPixelData(item: DataSet, el: Element, ts: TransferSyntax, name: string, budget: { left: number }): Promise<Element> {
  const prepared = prepareDecode({ name, transferSyntax: ts, dataSet: item, pixelDataTag: el.tag });
  const { plan, request } = prepared;
  if (plan.totalSize > budget.left) throw tableLimit(name, 'decoded pixel data inside the header', plan.totalSize, budget.left);
  budget.left -= plan.totalSize;
  const value = el.value;
  if (!value || !el.fragments) throw new DcmsafeError('INTERNAL', `${name}: encapsulated value not in memory`, { file: name, tag: formatTag(el.tag) });
  const at = (f: { offset: number; length: number }): Buffer => value.subarray(f.offset - el.valueOffset, f.offset - el.valueOffset + f.length);
  const [bot, ...fragments] = el.fragments;
  let table: number[] = [];
  if (bot && bot.length > 0) {
    if (bot.length !== 4 * plan.frameCount) {
      throw new DcmsafeError('PIXEL_FRAGMENTS', `${name}: Basic Offset Table of ${bot.length} bytes does not list ${plan.frameCount} frames`, { file: name, offset: bot.offset, tag: formatTag(el.tag) });
    }
    table = parseBasicOffsetTable(at(bot), name);
  }
  const index = indexFrames({
    name,
    numberOfFrames: plan.frameCount,
    fragments,
    basicOffsetTable: table,
    opensFrame: fragments.map((f) => opensFrame(request.decoder, at(f).subarray(0, OPENING_BYTES))),
  });
  const frames: Buffer[] = [];
  for (const [i, frame] of index.frames.entries()) {
    const encoded = Buffer.concat(frame.map(at));
    frames.push(await decodePlannedFrame(encoded, prepared, { file: name, frame: i + 1, ...(frame[0] ? { offset: frame[0].offset } : {}) }));
  }
  applyDecodedAttributes(item, plan);
  const pixels = Buffer.concat(frames, plan.totalSize);
  return { tag: el.tag, vr: decodedPixelDataVR(plan), length: pixels.length, offset: -1, valueOffset: -1, value: pixels };
}

/** Decodes every encapsulated value inside the sequences of `ds` (see decodeHeldPixelData). */
async function decodeNestedPixelData(ds: DataSet, ts: TransferSyntax, name: string, budget: { left: number }): Promise<void> {
  for (const el of ds.elements.values()) {
    if (!el.items) continue;
    for (const [i, item] of el.items.entries()) {
      await decodeNestedPixelData(item, ts, name, budget);
      for (const inner of [...item.elements.values()]) {
        if (inner.fragments) item.set(await decodeHeldPixelData(item, inner, ts, `${name} ${formatTag(el.tag)} item ${i + 1}`, budget));
      }
    }
  }
}

// ---- the rewrite -----------------------------------------------------------------------------

/** The transfer syntax a rewrite writes: the source's, unless it has to be re-encoded, inflated or decoded. */
function outputSyntax(ts: TransferSyntax, decoded: boolean): string {
  return !ts.explicitVR || !ts.littleEndian || ts.deflated || decoded ? EXPLICIT_VR_LITTLE_ENDIAN : ts.uid;
}

/**
 * Reads a Part 10 file forward-only from `source` (positioned at its first byte), applies
 * `transform` to its data set up to the pixel data, and gives the rewritten data set as a stream.
 * The header is read and transformed here, so errors in it surface before a byte is produced.
 */
export async function openRewrite(source: ByteSource, options: RewriteOptions): Promise<Rewrite> {
  const name = options.name;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const limits: ReadLimits = { ...DEFAULT_LIMITS, maxLoadedBytes: maxHeaderBytes };

  const { meta, transferSyntax: ts, warnings } = await readMeta(source, name);
  const inflater = ts.uid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN ? new InflateByteSource(remainingChunks(source), `${name} (inflated)`, { maxInflated: DEFAULT_LIMITS.maxInflated, keepSourceErrors: true }) : undefined;
  const tape = new RecordingByteSource(inflater ?? source, maxHeaderBytes);
  const syntax: Syntax = { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };

  let original: DataSet;
  let headerBytes: Buffer;
  let px: PixelDataPosition | undefined;
  let out: DataSet;
  let decode: DecodeStream | undefined;
  try {
    original = new DataSet(syntax, undefined, tape.position);
    const parser = await parseHeld(tape, original, limits, true);
    warnings.push(...parser.warnings);
    px = parser.pixelData;
    if (original.elements.size === 0) throw notDicom(name, 'no data elements');
    if (px && px.length === undefined && !syntax.littleEndian) {
      throw new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${name}: encapsulated pixel data in a big endian data set`, { file: name, offset: px.offset });
    }
    if (options.decodePixelData && ts.encapsulated && px && px.length === undefined) {
      // Planned before the transform, from the attributes as read: errors surface before any byte.
      const mediaStorageSOPClassUID = meta?.text(T.MediaStorageSOPClassUID);
      const prepared = prepareDecode({ name, transferSyntax: ts, dataSet: original, pixelDataTag: px.tag, ...(mediaStorageSOPClassUID ? { mediaStorageSOPClassUID } : {}) });
      decode = { prepared, extendedOffsetTable: extendedOffsetTableIn(original, name), maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, maxTableBytes: maxHeaderBytes };
    }
    const converted = dataSetToExplicitLE(original);
    out = options.transform ? await options.transform(converted) : converted;
    if (decode) {
      // After the transform, so the Image Pixel attributes written are those of the pixels written.
      applyDecodedAttributes(out, decode.prepared.plan);
      await decodeNestedPixelData(out, ts, name, { left: maxHeaderBytes });
    }
    options.finalize?.(out, { pixelDataTag: px?.tag, transferSyntaxUID: outputSyntax(ts, decode !== undefined) });
    headerBytes = encodeHeaderDataSet(out);
  } catch (e) {
    await inflater?.close();
    throw e;
  }

  const sopClassUID = out.text(T.SOPClassUID) ?? meta?.text(T.MediaStorageSOPClassUID);
  const sopInstanceUID = out.text(T.SOPInstanceUID) ?? meta?.text(T.MediaStorageSOPInstanceUID);
  if (!sopClassUID || !sopInstanceUID) {
    await inflater?.close();
    throw new DcmsafeError('PART10_BAD_META', `${name}: no SOP ${sopClassUID ? 'Instance' : 'Class'} UID in the data set or the File Meta Information`, { file: name });
  }
  const reencoded = !ts.explicitVR || !ts.littleEndian;
  const transferSyntaxUID = outputSyntax(ts, decode !== undefined);

  let started = false;
  const body = async function* (): AsyncGenerator<Buffer> {
    if (started) throw new DcmsafeError('INTERNAL', `${name}: a streamed rewrite can be read only once`, { file: name });
    started = true;
    try {
      yield headerBytes;
      if (!px) return;
      if (decode) {
        const { plan } = decode.prepared;
        yield elementHeaderBytes(px.tag, decodedPixelDataVR(plan), plan.totalSize + (plan.totalSize % 2));
        yield* decodeFragments(tape, px, decode);
      } else {
        const vr = px.vr;
        // Value lengths are even (PS3.5 §7.1.1): an odd native value is padded with a NUL byte, as
        // dcmtk does on writing; receivers such as dcmtk refuse odd P-DATA fragments otherwise.
        const odd = px.length !== undefined && px.length % 2 === 1;
        yield elementHeaderBytes(px.tag, vr, px.length === undefined ? UNDEFINED_LENGTH : px.length + (odd ? 1 : 0));
        if (px.length === undefined) yield* streamFragments(tape, px);
        else yield* streamValue(tape, px.length, syntax.littleEndian ? 1 : swapUnit(vr));
        if (odd) yield PAD_BYTE;
      }
      if (!reencoded && !options.transformTrailing) {
        // Explicit VR little endian after the pixel data: the rest is copied as it is.
        while (!(await tape.atEnd())) yield await tape.readSome(STREAM_CHUNK);
        return;
      }
      // Implicit VR or big endian: elements after the pixel data (padding, signatures) re-encoded.
      const trailing = new DataSet(syntax, original, tape.position);
      await parseHeld(tape, trailing, limits, false);
      const trailingOut = options.transformTrailing ? options.transformTrailing(dataSetToExplicitLE(trailing)) : dataSetToExplicitLE(trailing);
      if (trailingOut.elements.size > 0) yield encodeHeaderDataSet(trailingOut);
    } finally {
      await inflater?.close();
    }
  };

  return {
    transferSyntaxUID,
    sourceTransferSyntaxUID: ts.uid,
    sopClassUID,
    sopInstanceUID,
    original,
    ...(meta ? { meta } : {}),
    warnings,
    ...(decode ? { decodePlan: decode.prepared.plan } : {}),
    dataSet: { [Symbol.asyncIterator]: () => body() },
    part10: async function* () {
      if (started) throw new DcmsafeError('INTERNAL', `${name}: a streamed rewrite can be read only once`, { file: name });
      yield encodeFileMeta({ sopClassUID, sopInstanceUID, transferSyntaxUID });
      yield* body();
    },
    discard: async () => {
      if (!started) await inflater?.close();
    },
  };
}
