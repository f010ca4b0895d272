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
 *
 * The header is held in memory: a "tape" of its bytes (see sources.ts) gives back the values the
 * parser does not load (large values, encapsulated pixel data inside sequences such as an icon), so
 * nothing before the pixel data is lost; its size is bounded by `maxHeaderBytes`.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet, type Element, type Syntax } from '../dataset.js';
import type { ByteSource } from '../part10/byte-source.js';
import { checkDeclaredSyntax, detectSyntax } from '../part10/header.js';
import { DataSetParser, DEFAULT_LIMITS, type PixelDataPosition, type ReadLimits, type ReadWarning } from '../part10/parser.js';
import { ELE, elementHeaderBytes, encodeFileMeta, padValue } from '../part10/writer.js';
import { formatTag, ITEM, SEQUENCE_DELIMITATION, UNDEFINED_LENGTH } from '../tag.js';
import { T } from '../tags.js';
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, transferSyntaxOrGuess, type TransferSyntax } from '../transfer-syntax.js';
import { dataSetToExplicitLE, swapBytes } from '../transcode/convert.js';
import { isVR, swapUnit } from '../vr.js';
import { InflatingByteSource, RecordingByteSource, STREAM_CHUNK } from './sources.js';

/** Default bound on the data set before the pixel data (what a rewrite holds in memory). */
export const DEFAULT_MAX_HEADER_BYTES = 256 << 20;

export interface RewriteOptions {
  /** Applied to the header (Explicit VR Little Endian, up to the pixel data) before it is written. */
  transform?: (ds: DataSet) => DataSet;
  /** Name of the input in messages. */
  name: string;
  /** Most bytes of data set before the pixel data (and of elements after it, when re-encoded). */
  maxHeaderBytes?: number;
}

export interface Rewrite {
  /** Transfer syntax of the output data set: the source's, or Explicit VR LE for implicit, big endian and deflated sources. */
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
  /** The rewritten data set without preamble and meta (what a C-STORE sends); readable once. */
  dataSet: AsyncIterable<Buffer>;
  /** The same behind a new preamble and File Meta Information, for writing a file; readable once (instead of dataSet). */
  part10(): AsyncIterable<Buffer>;
}

const ITEM_HEADER_LENGTH = 8;
const SEQUENCE_DELIMITER = ((): Buffer => {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(SEQUENCE_DELIMITATION >>> 16, 0); // group FFFE
  b.writeUInt16LE(SEQUENCE_DELIMITATION & 0xffff, 2); // element E0DD
  return b; // length 0
})();

function itemHeader(length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(ITEM >>> 16, 0); // group FFFE
  b.writeUInt16LE(ITEM & 0xffff, 2); // element E000
  b.writeUInt32LE(length, 4); // item length
  return b;
}

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
    meta = new DataSet(ELE, undefined, src.position);
    const parser = new DataSetParser(src, DEFAULT_LIMITS);
    try {
      await parser.parse(meta, { stopAtPixelData: false, metaOnly: true });
    } catch (e) {
      if (e instanceof DcmsafeError && e.code !== 'PART10_LIMIT') {
        throw new DcmsafeError('PART10_BAD_META', `${name}: File Meta Information is malformed: ${e.message}`, { ...e.data, file: name }, { cause: e });
      }
      throw e;
    }
    warnings.push(...parser.warnings);
    tsUID = meta.text(T.TransferSyntaxUID)?.replace(/\0/g, '');
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

/** Encapsulated pixel data (PS3.5 §A.4): each item header copied, each fragment streamed, up to the sequence delimiter. */
async function* streamFragments(src: ByteSource, px: PixelDataPosition): AsyncGenerator<Buffer> {
  for (;;) {
    const offset = src.position;
    const head = await src.read(8);
    const tag = ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0;
    const length = head.readUInt32LE(4);
    yield head;
    if (tag === SEQUENCE_DELIMITATION) return;
    if (tag !== ITEM || length === UNDEFINED_LENGTH) {
      throw new DcmsafeError('PIXEL_FRAGMENTS', `${src.name}: expected a fragment item in ${formatTag(px.tag)}, found ${formatTag(tag)} of length ${length} at offset ${offset}`, {
        file: src.name,
        offset,
        tag: formatTag(px.tag),
      });
    }
    yield* streamValue(src, length, 1);
  }
}

// ---- the rewrite -----------------------------------------------------------------------------

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
  const inflater = ts.uid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN ? new InflatingByteSource(source, `${name} (inflated)`, DEFAULT_LIMITS.maxInflated) : undefined;
  const tape = new RecordingByteSource(inflater ?? source, maxHeaderBytes);
  const syntax: Syntax = { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };

  let original: DataSet;
  let headerBytes: Buffer;
  let px: PixelDataPosition | undefined;
  let out: DataSet;
  try {
    original = new DataSet(syntax, undefined, tape.position);
    const parser = await parseHeld(tape, original, limits, true);
    warnings.push(...parser.warnings);
    px = parser.pixelData;
    if (original.elements.size === 0) throw notDicom(name, 'no data elements');
    if (px && px.length === undefined && !syntax.littleEndian) {
      throw new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${name}: encapsulated pixel data in a big endian data set`, { file: name, offset: px.offset });
    }
    const converted = dataSetToExplicitLE(original);
    out = options.transform ? options.transform(converted) : converted;
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
  const transferSyntaxUID = reencoded || ts.deflated ? EXPLICIT_VR_LITTLE_ENDIAN : ts.uid;

  let started = false;
  const body = async function* (): AsyncGenerator<Buffer> {
    if (started) throw new DcmsafeError('INTERNAL', `${name}: a streamed rewrite can be read only once`, { file: name });
    started = true;
    try {
      yield headerBytes;
      if (!px) return;
      const vr = px.vr;
      yield elementHeaderBytes(px.tag, vr, px.length ?? UNDEFINED_LENGTH);
      if (px.length === undefined) yield* streamFragments(tape, px);
      else yield* streamValue(tape, px.length, syntax.littleEndian ? 1 : swapUnit(vr));
      if (!reencoded) {
        // Explicit VR little endian after the pixel data: the rest is copied as it is.
        while (!(await tape.atEnd())) yield await tape.readSome(STREAM_CHUNK);
        return;
      }
      // Implicit VR or big endian: elements after the pixel data (padding, signatures) re-encoded.
      const trailing = new DataSet(syntax, original, tape.position);
      await parseHeld(tape, trailing, limits, false);
      if (trailing.elements.size > 0) yield encodeHeaderDataSet(dataSetToExplicitLE(trailing));
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
    dataSet: { [Symbol.asyncIterator]: () => body() },
    part10: async function* () {
      if (started) throw new DcmsafeError('INTERNAL', `${name}: a streamed rewrite can be read only once`, { file: name });
      yield encodeFileMeta({ sopClassUID, sopInstanceUID, transferSyntaxUID });
      yield* body();
    },
  };
}
