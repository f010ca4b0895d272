/**
 * Frames of encapsulated pixel data (PS3.5 §A.4): the fragments of the Pixel Data element, the Basic
 * Offset Table (its first item), the Extended Offset Table (PS3.3 C.7.6.3.1.8, (7FE0,0001) and
 * (7FE0,0002)), and which fragments make up which frame. Offsets and lengths come from the file and
 * are hostile: each one is checked against the fragments actually present, and anything that does not
 * add up is a PIXEL_FRAGMENTS error rather than a guess. indexFrames splits fragments whose positions
 * are all known (a file); FrameSplitter applies the same rules to fragments told one at a time (a
 * stream that cannot be read twice, reconcile/rewrite.ts).
 */
import { DcmsafeError } from '../../errors/index.js';
import type { RandomAccessReader } from '../../media/io/random-access-reader.js';
import type { Fragment } from '../dataset.js';
import { ReaderByteSource } from '../part10/byte-source.js';
import type { Part10Header } from '../part10/header.js';
import { DataSetParser } from '../part10/parser.js';
import { formatTag } from '../tag.js';
import { T } from '../tags.js';
import type { PixelDecoder } from '../transfer-syntax.js';

/** How the frame boundaries were found, in the order they are tried. */
export type FrameIndexMethod =
  | 'extended-offset-table' // (7FE0,0001) and (7FE0,0002): one fragment per frame, offsets and lengths given
  | 'basic-offset-table' // the first item lists where each frame's first fragment starts
  | 'fragment-per-frame' // no table, as many fragments as frames
  | 'single-frame' // no table, one frame spread over all fragments
  | 'frame-markers'; // no table, more fragments than frames: a frame starts where a codestream starts

export interface EncapsulatedPixelData {
  /** The first item: the Basic Offset Table, possibly of length 0. */
  readonly basicOffsetTable: Fragment;
  /** The items after it, each holding (part of) a frame's codestream. */
  readonly fragments: readonly Fragment[];
}

export interface ExtendedOffsetTable {
  /** Per frame, the offset of its fragment's Item tag from the first fragment's Item tag. */
  readonly offsets: readonly number[];
  /** Per frame, the length of its codestream within that fragment. */
  readonly lengths: readonly number[];
}

export interface FrameIndexInput {
  /** The file, for messages. */
  readonly name: string;
  readonly numberOfFrames: number;
  /** Fragments after the Basic Offset Table, with their file offsets. */
  readonly fragments: readonly Fragment[];
  /** Entries of the Basic Offset Table; empty when the table is empty. */
  readonly basicOffsetTable: readonly number[];
  readonly extendedOffsetTable?: ExtendedOffsetTable;
  /** Per fragment, whether it opens a codestream; needed only for 'frame-markers'. */
  readonly opensFrame?: readonly boolean[];
}

export interface FrameIndex {
  readonly method: FrameIndexMethod;
  /** Per frame, the byte ranges (file offset, length) whose concatenation is the frame's codestream. */
  readonly frames: readonly (readonly Fragment[])[];
}

/** Bytes at the start of a fragment enough to recognise any codestream opening (see opensFrame). */
export const OPENING_BYTES = 8;

function fragmentsError(name: string, message: string, data: Record<string, unknown> = {}, cause?: unknown): DcmsafeError {
  return new DcmsafeError('PIXEL_FRAGMENTS', `${name}: ${message}`, { file: name, tag: formatTag(T.PixelData), ...data }, cause === undefined ? undefined : { cause });
}

/** Chooses how to split, without looking at fragment contents (PS3.5 §A.4, in the order our brief fixes). */
export function frameIndexMethod(input: Omit<FrameIndexInput, 'opensFrame'>): FrameIndexMethod {
  if (input.extendedOffsetTable) return 'extended-offset-table';
  if (input.basicOffsetTable.length > 0) return 'basic-offset-table';
  if (input.fragments.length === input.numberOfFrames) return 'fragment-per-frame';
  if (input.numberOfFrames === 1) return 'single-frame';
  return 'frame-markers';
}

/**
 * Splits fragments into frames. Pure: the fragment positions, tables and (for marker scanning) which
 * fragments open a codestream are given; nothing is read.
 */
export function indexFrames(input: FrameIndexInput): FrameIndex {
  const { name, numberOfFrames: frames, fragments } = input;
  if (!Number.isSafeInteger(frames) || frames < 1) throw fragmentsError(name, `cannot split pixel data into ${frames} frames`);
  if (fragments.length === 0) throw fragmentsError(name, 'encapsulated pixel data has no fragment after the Basic Offset Table');
  const method = frameIndexMethod(input);
  const first = fragments[0] as Fragment;
  // Offsets in both tables are counted from the first fragment's Item tag; as every item header is 8
  // bytes, that is the difference of the fragments' value offsets.
  const relative = (f: Fragment): number => f.offset - first.offset;

  switch (method) {
    case 'extended-offset-table': {
      const eot = input.extendedOffsetTable as ExtendedOffsetTable;
      if (eot.offsets.length !== frames || eot.lengths.length !== frames) {
        throw fragmentsError(name, `Extended Offset Table has ${eot.offsets.length} offsets and ${eot.lengths.length} lengths for ${frames} frames`, { method });
      }
      const byOffset = new Map<number, Fragment>(fragments.map((f) => [relative(f), f]));
      const out: Fragment[][] = [];
      let previous = -1;
      for (let i = 0; i < frames; i++) {
        const offset = eot.offsets[i] as number;
        const length = eot.lengths[i] as number;
        if (offset <= previous) throw fragmentsError(name, `Extended Offset Table entry ${i + 1} (${offset}) does not increase`, { method, frame: i + 1 });
        previous = offset;
        const fragment = byOffset.get(offset);
        if (!fragment) throw fragmentsError(name, `Extended Offset Table entry ${i + 1} (${offset}) is not the start of a fragment`, { method, frame: i + 1 });
        // With an Extended Offset Table each frame lies within one fragment (PS3.3 C.7.6.3.1.8).
        if (length < 1 || length > fragment.length) {
          throw fragmentsError(name, `Extended Offset Table length ${length} of frame ${i + 1} does not fit its fragment of ${fragment.length} bytes`, { method, frame: i + 1, offset: fragment.offset });
        }
        out.push([{ offset: fragment.offset, length }]);
      }
      return { method, frames: out };
    }
    case 'basic-offset-table': {
      const bot = input.basicOffsetTable;
      if (bot.length !== frames) throw fragmentsError(name, `Basic Offset Table has ${bot.length} entries for ${frames} frames`, { method });
      const indexByOffset = new Map<number, number>(fragments.map((f, i) => [relative(f), i]));
      const starts: number[] = [];
      for (let i = 0; i < frames; i++) {
        const offset = bot[i] as number;
        if (i === 0 && offset !== 0) throw fragmentsError(name, `Basic Offset Table starts at ${offset}, not 0`, { method });
        const index = indexByOffset.get(offset);
        if (index === undefined) throw fragmentsError(name, `Basic Offset Table entry ${i + 1} (${offset}) is not the start of a fragment`, { method, frame: i + 1 });
        if (i > 0 && index <= (starts[i - 1] as number)) throw fragmentsError(name, `Basic Offset Table entry ${i + 1} (${offset}) does not increase`, { method, frame: i + 1 });
        starts.push(index);
      }
      return { method, frames: starts.map((s, i) => fragments.slice(s, i + 1 < starts.length ? starts[i + 1] : fragments.length)) };
    }
    case 'fragment-per-frame':
      return { method, frames: fragments.map((f) => [f]) };
    case 'single-frame':
      return { method, frames: [fragments.slice()] };
    case 'frame-markers': {
      if (fragments.length < frames) throw fragmentsError(name, `${fragments.length} fragments cannot hold ${frames} frames`, { method });
      const opens = input.opensFrame;
      if (!opens || opens.length !== fragments.length) throw new DcmsafeError('INTERNAL', 'frame marker scan needs one flag per fragment');
      if (!opens[0]) throw fragmentsError(name, 'the first fragment does not start a codestream', { method, offset: first.offset });
      const starts: number[] = [];
      opens.forEach((open, i) => {
        if (open) starts.push(i);
      });
      if (starts.length !== frames) throw fragmentsError(name, `${starts.length} codestreams found in ${fragments.length} fragments, Number of Frames is ${frames}`, { method });
      return { method, frames: starts.map((s, i) => fragments.slice(s, i + 1 < starts.length ? starts[i + 1] : fragments.length)) };
    }
  }
}

// --- frames found forward-only -------------------------------------------------------------------

/** What a fragment read forward-only is to the frames (see FrameSplitter.next). */
export interface FragmentRole {
  /** 1-based number of the frame it belongs to; 0 when it belongs to none (between an Extended Offset Table's frames). */
  readonly frame: number;
  /** It is the first fragment of that frame: the frame before it is complete. */
  readonly opens: boolean;
  /** How many of its bytes, from its start, belong to the frame. */
  readonly length: number;
}

export interface FrameSplitterInput {
  /** The file, for messages. */
  readonly name: string;
  readonly numberOfFrames: number;
  readonly decoder: PixelDecoder;
  /** Entries of the Basic Offset Table; empty when the table is empty (or ignored for an Extended Offset Table). */
  readonly basicOffsetTable: readonly number[];
  readonly extendedOffsetTable?: ExtendedOffsetTable;
}

/**
 * indexFrames for a stream: the fragments are told one at a time, in order, and the number of
 * fragments is not known until the sequence delimiter. Tables are used the same way; without one, a
 * single frame takes every fragment, and several frames start where a codestream starts (opensFrame),
 * which also splits the files indexFrames reads one fragment per frame as long as each fragment opens
 * its codestream. Each call answers before the fragment's value is read, so the caller can finish the
 * previous frame first and hold one frame at a time.
 */
export class FrameSplitter {
  readonly method: Exclude<FrameIndexMethod, 'fragment-per-frame'>;
  private readonly starts: readonly number[];
  private opened = 0;
  private fragments = 0;
  private firstOffset = 0;

  constructor(private readonly input: FrameSplitterInput) {
    const { name, numberOfFrames: frames } = input;
    if (!Number.isSafeInteger(frames) || frames < 1) throw fragmentsError(name, `cannot split pixel data into ${frames} frames`);
    const eot = input.extendedOffsetTable;
    if (eot) {
      this.method = 'extended-offset-table';
      if (eot.offsets.length !== frames || eot.lengths.length !== frames) {
        throw fragmentsError(name, `Extended Offset Table has ${eot.offsets.length} offsets and ${eot.lengths.length} lengths for ${frames} frames`, { method: this.method });
      }
      this.starts = eot.offsets;
    } else if (input.basicOffsetTable.length > 0) {
      this.method = 'basic-offset-table';
      if (input.basicOffsetTable.length !== frames) throw fragmentsError(name, `Basic Offset Table has ${input.basicOffsetTable.length} entries for ${frames} frames`, { method: this.method });
      if (input.basicOffsetTable[0] !== 0) throw fragmentsError(name, `Basic Offset Table starts at ${input.basicOffsetTable[0]}, not 0`, { method: this.method });
      this.starts = input.basicOffsetTable;
    } else {
      this.method = frames === 1 ? 'single-frame' : 'frame-markers';
      this.starts = [];
    }
    const what = this.method === 'extended-offset-table' ? 'Extended Offset Table' : 'Basic Offset Table';
    for (let i = 1; i < this.starts.length; i++) {
      if ((this.starts[i] as number) <= (this.starts[i - 1] as number)) throw fragmentsError(name, `${what} entry ${i + 1} (${this.starts[i]}) does not increase`, { method: this.method, frame: i + 1 });
    }
  }

  /** Frames started so far. */
  get framesOpened(): number {
    return this.opened;
  }

  /**
   * The role of the next fragment: `itemOffset` is the stream position of its Item tag, `length` its
   * value length, `head` its first OPENING_BYTES bytes (fewer if it is shorter).
   */
  next(itemOffset: number, length: number, head: Uint8Array): FragmentRole {
    const { name, numberOfFrames: frames } = this.input;
    if (this.fragments === 0) this.firstOffset = itemOffset;
    this.fragments++;
    const relative = itemOffset - this.firstOffset;
    const method = this.method;
    let opens: boolean;
    switch (method) {
      case 'extended-offset-table':
      case 'basic-offset-table': {
        const what = method === 'extended-offset-table' ? 'Extended Offset Table' : 'Basic Offset Table';
        const start = this.starts[this.opened];
        if (start !== undefined && relative > start) throw fragmentsError(name, `${what} entry ${this.opened + 1} (${start}) is not the start of a fragment`, { method, frame: this.opened + 1 });
        opens = relative === start;
        break;
      }
      case 'single-frame':
        opens = this.fragments === 1;
        break;
      case 'frame-markers':
        opens = opensFrame(this.input.decoder, head);
        if (this.fragments === 1 && !opens) throw fragmentsError(name, 'the first fragment does not start a codestream', { method, offset: itemOffset + 8 });
        break;
    }
    if (opens) {
      if (this.opened === frames) throw fragmentsError(name, `more than the ${frames} frames Number of Frames gives: frame ${frames + 1} starts at offset ${itemOffset}`, { method, frame: frames + 1, offset: itemOffset });
      this.opened++;
    }
    if (method === 'extended-offset-table') {
      // With an Extended Offset Table each frame lies within one fragment (PS3.3 C.7.6.3.1.8);
      // indexFrames ignores any other fragment, and so does this.
      if (!opens) return { frame: 0, opens: false, length: 0 };
      const take = this.input.extendedOffsetTable?.lengths[this.opened - 1] as number;
      if (take < 1 || take > length) {
        throw fragmentsError(name, `Extended Offset Table length ${take} of frame ${this.opened} does not fit its fragment of ${length} bytes`, { method, frame: this.opened, offset: itemOffset + 8 });
      }
      return { frame: this.opened, opens, length: take };
    }
    return { frame: this.opened, opens, length };
  }

  /** After the sequence delimiter: every frame must have been found. */
  finish(): void {
    const { name, numberOfFrames: frames } = this.input;
    if (this.fragments === 0) throw fragmentsError(name, 'encapsulated pixel data has no fragment after the Basic Offset Table', { method: this.method });
    if (this.opened < this.starts.length) {
      const what = this.method === 'extended-offset-table' ? 'Extended Offset Table' : 'Basic Offset Table';
      throw fragmentsError(name, `${what} entry ${this.opened + 1} (${this.starts[this.opened]}) is not the start of a fragment`, { method: this.method, frame: this.opened + 1 });
    }
    if (this.opened !== frames) throw fragmentsError(name, `${this.opened} codestreams found in ${this.fragments} fragments, Number of Frames is ${frames}`, { method: this.method });
  }
}

/** Whether the first bytes of a fragment open a codestream of this kind. */
export function opensFrame(decoder: PixelDecoder, head: Uint8Array): boolean {
  switch (decoder) {
    case 'jpeg':
    case 'jpeg-ls':
      return head.length >= 2 && head[0] === 0xff && head[1] === 0xd8; // SOI (ISO 10918-1, ISO 14495-1)
    case 'jpeg2000':
    case 'htj2k':
      // SOC followed by SIZ (ISO 15444-1 A.4.1, A.5.1): FF4F alone can occur inside packet data.
      if (head.length >= 4 && head[0] === 0xff && head[1] === 0x4f && head[2] === 0xff && head[3] === 0x51) return true;
      // A JP2 signature box, which some writers put in although PS3.5 §A.4.4 asks for the bare codestream.
      return head.length >= 8 && Buffer.from(head.subarray(0, 8)).equals(JP2_SIGNATURE_START);
    case 'rle': {
      // The RLE Header (PS3.5 §G.5): 1 to 15 segments, the first starting right after the 64-byte header.
      if (head.length < 8) return false;
      const view = Buffer.from(head.buffer, head.byteOffset, head.length);
      const segments = view.readUInt32LE(0);
      return segments >= 1 && segments <= 15 && view.readUInt32LE(4) === 64;
    }
  }
}

const JP2_SIGNATURE_START = Buffer.from([0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]);

/** Entries of a Basic Offset Table value (little endian 32-bit offsets). */
export function parseBasicOffsetTable(value: Buffer, name: string): number[] {
  if (value.length % 4 !== 0) throw fragmentsError(name, `Basic Offset Table of ${value.length} bytes is not a list of 32-bit offsets`);
  const out: number[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(value.readUInt32LE(i));
  return out;
}

/** The Extended Offset Table and its lengths (OV: little endian 64-bit values). */
export function parseExtendedOffsetTable(offsets: Buffer, lengths: Buffer, name: string): ExtendedOffsetTable {
  const read = (value: Buffer, what: string): number[] => {
    if (value.length % 8 !== 0) throw fragmentsError(name, `${what} of ${value.length} bytes is not a list of 64-bit values`);
    const out: number[] = [];
    for (let i = 0; i < value.length; i += 8) {
      const v = value.readBigUInt64LE(i);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fragmentsError(name, `${what} entry ${i / 8 + 1} (${v}) is beyond any file`);
      out.push(Number(v));
    }
    return out;
  };
  return { offsets: read(offsets, 'Extended Offset Table'), lengths: read(lengths, 'Extended Offset Table Lengths') };
}

/**
 * Reads the fragment items of the top-level Pixel Data element. Only item headers are read; the
 * fragment values stay in the file.
 */
export async function readEncapsulatedPixelData(reader: RandomAccessReader, header: Part10Header): Promise<EncapsulatedPixelData> {
  const name = header.name;
  let items: readonly Fragment[];
  const position = header.pixelData;
  if (position) {
    if (position.length !== undefined || position.tag !== T.PixelData) {
      throw fragmentsError(name, `pixel data ${formatTag(position.tag)} of defined length in an encapsulated transfer syntax`, { offset: position.offset });
    }
    const parser = new DataSetParser(new ReaderByteSource(reader, position.valueOffset));
    try {
      items = await parser.parseFragments(position.tag, { explicitVR: header.transferSyntax.explicitVR, littleEndian: header.transferSyntax.littleEndian });
    } catch (e) {
      if (e instanceof DcmsafeError && e.code === 'PART10_TRUNCATED') {
        throw fragmentsError(name, `encapsulated pixel data is truncated (${e.message})`, { offset: e.data.offset }, e);
      }
      throw e;
    }
  } else {
    // The header was read past the pixel data: the parser already kept the fragment positions.
    const element = header.dataSet.get(T.PixelData);
    if (!element?.fragments) throw fragmentsError(name, 'no encapsulated Pixel Data element');
    items = element.fragments;
  }
  const [basicOffsetTable, ...fragments] = items;
  if (!basicOffsetTable) throw fragmentsError(name, 'encapsulated pixel data has no Basic Offset Table item');
  return { basicOffsetTable, fragments };
}

async function readValue(reader: RandomAccessReader, offset: number, length: number, name: string, what: string): Promise<Buffer> {
  const value = await reader.read(offset, length);
  if (value.length !== length) throw fragmentsError(name, `${what} at offset ${offset} is truncated`, { offset });
  return value;
}

async function extendedOffsetTableOf(reader: RandomAccessReader, header: Part10Header): Promise<ExtendedOffsetTable | undefined> {
  const name = header.name;
  const offsets = header.dataSet.get(T.ExtendedOffsetTable);
  const lengths = header.dataSet.get(T.ExtendedOffsetTableLengths);
  if (!offsets && !lengths) return undefined;
  if (!offsets || !lengths) throw fragmentsError(name, `${offsets ? 'Extended Offset Table Lengths' : 'Extended Offset Table'} is missing`);
  // Tables of more than ~130 000 frames exceed the parser's in-memory limit and stay in the file.
  const valueOf = async (el: typeof offsets, what: string): Promise<Buffer> =>
    el.value ?? (el.length === undefined ? Buffer.alloc(0) : await readValue(reader, el.valueOffset, el.length, name, what));
  return parseExtendedOffsetTable(await valueOf(offsets, 'Extended Offset Table'), await valueOf(lengths, 'Extended Offset Table Lengths'), name);
}

/** Finds the fragments of each frame of the file's encapsulated pixel data. */
export async function locateFrames(reader: RandomAccessReader, header: Part10Header, numberOfFrames: number, decoder: PixelDecoder): Promise<FrameIndex> {
  const name = header.name;
  const { basicOffsetTable, fragments } = await readEncapsulatedPixelData(reader, header);
  const extendedOffsetTable = await extendedOffsetTableOf(reader, header);
  let bot: number[] = [];
  // The table may be ignored (an Extended Offset Table wins); otherwise it must list every frame,
  // which also bounds what is read.
  if (basicOffsetTable.length > 0 && !extendedOffsetTable) {
    if (basicOffsetTable.length !== 4 * numberOfFrames) {
      throw fragmentsError(name, `Basic Offset Table of ${basicOffsetTable.length} bytes does not list ${numberOfFrames} frames`, { offset: basicOffsetTable.offset });
    }
    bot = parseBasicOffsetTable(await readValue(reader, basicOffsetTable.offset, basicOffsetTable.length, name, 'Basic Offset Table'), name);
  }
  const input = { name, numberOfFrames, fragments, basicOffsetTable: bot, ...(extendedOffsetTable ? { extendedOffsetTable } : {}) };
  if (frameIndexMethod(input) !== 'frame-markers' || fragments.length < numberOfFrames) return indexFrames(input);
  const opens: boolean[] = [];
  for (const f of fragments) opens.push(opensFrame(decoder, await reader.read(f.offset, Math.min(f.length, OPENING_BYTES))));
  return indexFrames({ ...input, opensFrame: opens });
}

/** The compressed bytes of one frame: its fragment values, concatenated. */
export async function readFrame(reader: RandomAccessReader, pieces: readonly Fragment[], name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const p of pieces) parts.push(await readValue(reader, p.offset, p.length, name, 'fragment'));
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
