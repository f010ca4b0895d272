/**
 * Putting one input file on media: byte for byte when it can go as it is, otherwise rewritten
 * losslessly into a conformant Part 10 file (PS3.10 §7.1) in Explicit VR Little Endian:
 *
 *   copy      the file as it is (conformant, transfer syntax allowed)
 *   rewrap    new preamble and File Meta Information, data set bytes unchanged
 *   inflate   deflated data set inflated (PS3.5 §A.5), new File Meta Information
 *   reencode  implicit VR or big endian data set written as Explicit VR Little Endian
 *   decode    compressed frames decoded to native pixels (PS3.5 §8.2), attributes updated
 *
 * Every kind knows its output size before writing, and writes in one sequential stream.
 */
import { DcmsafeError } from '../../errors/index.js';
import { FileReader, readChunks, type RandomAccessReader } from '../../media/io/random-access-reader.js';
import { DataSet, type Element } from '../dataset.js';
import { InflateByteSource, ReaderByteSource } from '../part10/byte-source.js';
import { readPart10Header, type Part10Header } from '../part10/header.js';
import { DataSetParser, DEFAULT_LIMITS } from '../part10/parser.js';
import { emitElements, sizeOfOutputElements, sortElements, type OutputElement } from '../part10/stream-writer.js';
import { encodeFileMeta } from '../part10/writer.js';
import { T } from '../tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../transfer-syntax.js';
import { swapUnit } from '../vr.js';
import { dataSetToExplicitLE, swapBytes } from './convert.js';
import { decodedAttributeChanges, decodedPixelDataVR, decodeFrames, planDecode, type DecodePlan } from './decode-pixels.js';

export type TranscodeKind = 'copy' | 'rewrap' | 'inflate' | 'reencode' | 'decode';

export interface Identity {
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
}

/** An output file ready to be written: its size is known, its bytes come from `stream()`. */
export interface PreparedOutput {
  readonly kind: TranscodeKind;
  readonly size: number;
  /** For `decode`: what was decoded, for the summary. */
  readonly decodePlan?: DecodePlan;
  stream(): AsyncGenerator<Buffer>;
  close(): Promise<void>;
}

/** What choosing a kind needs to know of a file. */
export type HeaderFacts = Pick<Part10Header, 'format' | 'transferSyntax' | 'warnings'>;

/** Why a file is not conformant as it is, apart from its transfer syntax. */
export function metaProblems(header: Pick<Part10Header, 'format' | 'warnings'>): string[] {
  const problems: string[] = [];
  if (header.format !== 'part10') problems.push(header.format === 'no-preamble' ? 'no preamble' : 'no File Meta Information');
  const codes = new Set(header.warnings.map((w) => w.code));
  if (codes.has('META_NO_GROUP_LENGTH') || codes.has('META_GROUP_LENGTH')) problems.push('File Meta group length missing or wrong');
  if (codes.has('META_MISSING')) problems.push('File Meta Information incomplete');
  if (codes.has('META_NO_TRANSFER_SYNTAX')) problems.push('no Transfer Syntax UID');
  if (codes.has('TRANSFER_SYNTAX_MISMATCH')) problems.push('Transfer Syntax UID does not match the data set');
  return problems;
}

/** Chooses how to put a file on media, given whether its transfer syntax is allowed. */
export function chooseKind(header: HeaderFacts, allowed: (ts: string) => boolean): TranscodeKind | undefined {
  const ts = header.transferSyntax;
  if (allowed(ts.uid)) return metaProblems(header).length === 0 ? 'copy' : 'rewrap';
  if (!allowed(EXPLICIT_VR_LITTLE_ENDIAN)) return undefined;
  if (ts.deflated) return 'inflate';
  if (!ts.encapsulated) return 'reencode';
  return ts.decoder ? 'decode' : undefined;
}

/** Elements after the top-level pixel data (e.g. Data Set Trailing Padding, Digital Signatures). */
async function readTrailing(reader: RandomAccessReader, header: Part10Header): Promise<DataSet> {
  const px = header.pixelData;
  const ds = new DataSet(header.dataSet.syntax);
  if (!px) return ds;
  const src = new ReaderByteSource(reader, px.valueOffset);
  const parser = new DataSetParser(src, DEFAULT_LIMITS);
  if (px.length === undefined) await parser.parseFragments(px.tag, header.dataSet.syntax);
  else await src.skip(px.length);
  await parser.parse(ds, { stopAtPixelData: false });
  return ds;
}

/** A parsed element as an output element; bulk values are streamed from the reader, swapped if needed. */
function toOutput(el: Element, reader: RandomAccessReader, bigEndian: boolean): OutputElement {
  if (el.items) return { tag: el.tag, vr: 'SQ', source: { kind: 'items', items: el.items.map((item) => item.sorted().map((e) => toOutput(e, reader, bigEndian))) } };
  if (el.fragments) throw new DcmsafeError('INTERNAL', 'encapsulated pixel data inside a data set cannot be re-encoded');
  if (el.bulk) {
    const length = el.length ?? 0;
    const unit = bigEndian ? swapUnit(el.vr) : 1;
    return {
      tag: el.tag,
      vr: el.vr,
      source: {
        kind: 'stream',
        length,
        chunks: async function* () {
          for await (const chunk of readChunks(reader, el.valueOffset, length)) yield unit === 1 ? chunk : swapBytes(chunk, unit);
        },
      },
    };
  }
  return { tag: el.tag, vr: el.vr, source: { kind: 'bytes', bytes: el.value ?? Buffer.alloc(0) } };
}

function meta(identity: Identity, transferSyntaxUID: string): Buffer {
  return encodeFileMeta({ ...identity, transferSyntaxUID });
}

/**
 * Opens `path` and prepares its output of the given kind. The caller writes `stream()` and then
 * calls `close()`. `header` is the header read when scanning, which is read again here only when
 * the whole data set is needed.
 */
export async function prepareOutput(path: string, kind: TranscodeKind, identity: Identity): Promise<PreparedOutput> {
  const reader = await FileReader.open(path);
  try {
    return await prepareFromReader(reader, kind, identity);
  } catch (e) {
    await reader.close();
    throw e;
  }
}

export async function prepareFromReader(reader: RandomAccessReader, kind: TranscodeKind, identity: Identity): Promise<PreparedOutput> {
  const close = (): Promise<void> => reader.close();
  if (kind === 'copy') {
    return { kind, size: reader.size, stream: () => readChunks(reader, 0, reader.size), close };
  }
  const header = await readPart10Header(reader);
  if (kind === 'rewrap') {
    const head = meta(identity, header.transferSyntax.uid);
    const rest = reader.size - header.dataSetOffset;
    return {
      kind,
      size: head.length + rest,
      stream: async function* () {
        yield head;
        yield* readChunks(reader, header.dataSetOffset, rest);
      },
      close,
    };
  }
  if (kind === 'inflate') {
    const head = meta(identity, EXPLICIT_VR_LITTLE_ENDIAN);
    const inflated = (): InflateByteSource => InflateByteSource.fromReader(reader, header.dataSetOffset, 0, DEFAULT_LIMITS.maxInflated);
    // One pass to learn the size (deflated files are small in practice), one to write.
    let length = 0;
    const counter = inflated();
    for (;;) {
      const n = await counter.fill(1 << 20);
      if (n === 0) break;
      length += n;
      await counter.skip(n);
    }
    return {
      kind,
      size: head.length + length,
      stream: async function* () {
        yield head;
        const src = inflated();
        for (;;) {
          const n = await src.fill(1 << 20);
          if (n === 0) break;
          yield await src.read(n);
        }
      },
      close,
    };
  }

  // reencode and decode: the whole data set, element by element.
  const trailing = await readTrailing(reader, header);
  const bigEndian = !header.dataSet.syntax.littleEndian;
  const body = dataSetToExplicitLE(header.dataSet);
  const tail = dataSetToExplicitLE(trailing);
  let decodePlan: DecodePlan | undefined;
  const elements: OutputElement[] = [];
  for (const el of body.elements.values()) elements.push(toOutput(el, reader, bigEndian));
  for (const el of tail.elements.values()) elements.push(toOutput(el, reader, bigEndian));

  const px = header.pixelData;
  if (kind === 'reencode') {
    if (px) {
      if (px.length === undefined) throw new DcmsafeError('INTERNAL', 'reencode of encapsulated pixel data');
      const el: Element = { tag: px.tag, vr: px.vr, length: px.length, offset: px.offset, valueOffset: px.valueOffset, bulk: true };
      elements.push(toOutput(el, reader, bigEndian));
    }
  } else {
    if (!px) throw new DcmsafeError('INTERNAL', 'decode without pixel data');
    const plan = planDecode(header);
    decodePlan = plan;
    replaceDecodedAttributes(elements, plan);
    elements.push({
      tag: T.PixelData,
      vr: decodedPixelDataVR(plan),
      source: { kind: 'stream', length: plan.totalSize, chunks: () => decodeFrames(reader, header, plan) },
    });
  }
  sortElements(elements);
  const head = meta(identity, EXPLICIT_VR_LITTLE_ENDIAN);
  return {
    kind,
    size: head.length + sizeOfOutputElements(elements),
    ...(decodePlan ? { decodePlan } : {}),
    stream: async function* () {
      yield head;
      yield* emitElements(elements);
    },
    close,
  };
}

/** After decoding, the image attributes describe the native pixels; lossy history is kept (PS3.3 C.7.6.1.1.5). */
function replaceDecodedAttributes(elements: OutputElement[], plan: DecodePlan): void {
  const { set, remove } = decodedAttributeChanges(plan, (tag) => elements.some((e) => e.tag === tag));
  for (const tag of remove) {
    const i = elements.findIndex((e) => e.tag === tag);
    if (i >= 0) elements.splice(i, 1);
  }
  for (const el of set) {
    const i = elements.findIndex((e) => e.tag === el.tag);
    const out: OutputElement = { tag: el.tag, vr: el.vr, source: { kind: 'bytes', bytes: el.value ?? Buffer.alloc(0) } };
    if (i >= 0) elements[i] = out;
    else elements.push(out);
  }
}
