/**
 * The data set parser (PS3.5 §7: data elements, §7.5: sequences and items, §A.4: encapsulation).
 * Input is hostile: every length is checked against what remains, nesting depth, element count and
 * loaded bytes are bounded, and every failure is a typed error with the file and the byte offset.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet, type Element, type Fragment, type Syntax } from '../dataset.js';
import { lookupTag } from '../dictionary.js';
import { formatTag, ITEM, ITEM_DELIMITATION, SEQUENCE_DELIMITATION, tagElement, tagGroup, UNDEFINED_LENGTH, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { hasLongLength, isVR, type VR } from '../vr.js';
import { ReaderByteSource, type ByteSource } from './byte-source.js';
import { BufferReader } from '../../media/io/random-access-reader.js';

export interface ReadLimits {
  /** Values longer than this are not loaded (bulk); their position is kept. */
  readonly maxLoadedValue: number;
  /** Total bytes of values loaded for one file. */
  readonly maxLoadedBytes: number;
  /** Sequence nesting depth. */
  readonly maxDepth: number;
  /** Elements (all levels) in one file. */
  readonly maxElements: number;
  /** Bytes a deflated data set may inflate to. */
  readonly maxInflated: number;
}

export const DEFAULT_LIMITS: ReadLimits = {
  maxLoadedValue: 1 << 20,
  maxLoadedBytes: 256 << 20,
  maxDepth: 64,
  maxElements: 4_000_000,
  maxInflated: 4 * 1024 * 1024 * 1024,
};

export interface ReadWarning {
  readonly code: string;
  readonly message: string;
  readonly offset?: number;
}

export const PIXEL_DATA_TAGS: ReadonlySet<Tag> = new Set([T.PixelData, T.FloatPixelData, T.DoubleFloatPixelData]);

export interface ParseOptions {
  /** Stop before the top-level Pixel Data (or Float/Double Float Pixel Data) element. */
  readonly stopAtPixelData: boolean;
  /** Parse only group 0002 (File Meta Information) and stop before the first other group. */
  readonly metaOnly?: boolean;
}

/** Where the top-level pixel data element starts, when parsing stopped there. */
export interface PixelDataPosition {
  readonly tag: Tag;
  readonly vr: VR;
  readonly offset: number;
  readonly valueOffset: number;
  /** undefined: encapsulated (undefined length). */
  readonly length: number | undefined;
}

const IMPLICIT_LE: Syntax = { explicitVR: false, littleEndian: true };

export class DataSetParser {
  elementCount = 0;
  private loadedBytes = 0;
  readonly warnings: ReadWarning[] = [];
  pixelData: PixelDataPosition | undefined;

  constructor(
    private readonly src: ByteSource,
    private readonly limits: ReadLimits = DEFAULT_LIMITS,
  ) {}

  private error(code: 'PART10_BAD_ELEMENT' | 'PART10_BAD_SEQUENCE' | 'PART10_LIMIT', message: string, offset: number, tag?: Tag): DcmsafeError {
    return new DcmsafeError(code, `${this.src.name}: ${message} at offset ${offset}${tag === undefined ? '' : ` in ${formatTag(tag)}`}`, {
      file: this.src.name,
      offset,
      ...(tag === undefined ? {} : { tag: formatTag(tag) }),
    });
  }

  warn(code: string, message: string, offset?: number): void {
    if (this.warnings.length < 100) this.warnings.push({ code, message, ...(offset === undefined ? {} : { offset }) });
  }

  /** Bytes left in the stream, when known. */
  private remaining(): number | undefined {
    const len = this.src.knownLength;
    return len === undefined ? undefined : len - this.src.position;
  }

  /**
   * Parses elements into `target` until `end` (a stream position), an item delimiter (inside an
   * undefined-length item), the end of the stream, or the pixel data (when asked to stop there).
   */
  async parse(target: DataSet, options: ParseOptions, end?: number, depth = 0, inUndefinedItem = false): Promise<'end' | 'pixel' | 'delimiter' | 'group'> {
    const syntax = target.syntax;
    let lastTag = -1;
    for (;;) {
      if (end !== undefined) {
        if (this.src.position === end) return 'end';
        if (this.src.position > end) throw this.error('PART10_BAD_SEQUENCE', `element runs past the end of its item (${end})`, this.src.position);
      }
      const have = await this.src.fill(8);
      if (have === 0) {
        if (inUndefinedItem) throw this.src.truncated(8);
        if (end !== undefined) throw this.src.truncated(end - this.src.position);
        return 'end';
      }
      if (have < 8) {
        if (depth === 0 && end === undefined && !inUndefinedItem && !options.metaOnly) {
          this.warn('TRAILING_BYTES', `${have} stray bytes at the end of the data set`, this.src.position);
          await this.src.skip(have);
          return 'end';
        }
        throw this.src.truncated(8);
      }
      const head = this.src.peek(8);
      const offset = this.src.position;
      const group = syntax.littleEndian ? head.readUInt16LE(0) : head.readUInt16BE(0);
      const elem = syntax.littleEndian ? head.readUInt16LE(2) : head.readUInt16BE(2);
      const tag = ((group << 16) | elem) >>> 0;

      if (options.metaOnly && group !== 0x0002) return 'group';
      if (tag === ITEM_DELIMITATION) {
        await this.src.skip(8);
        if (inUndefinedItem) return 'delimiter';
        this.warn('STRAY_DELIMITER', 'item delimitation outside an item', offset);
        continue;
      }
      if (tag === ITEM || tag === SEQUENCE_DELIMITATION) {
        throw this.error('PART10_BAD_SEQUENCE', `${formatTag(tag)} where a data element was expected`, offset);
      }
      if (tag < lastTag) this.warn('TAG_ORDER', `${formatTag(tag)} follows ${formatTag(lastTag)}: tags out of ascending order`, offset);
      lastTag = tag;

      if (++this.elementCount > this.limits.maxElements) throw this.error('PART10_LIMIT', `more than ${this.limits.maxElements} elements`, offset);

      let vr: VR;
      let length: number;
      let headerLength: number;
      if (syntax.explicitVR) {
        const vrText = head.toString('latin1', 4, 6);
        if (!isVR(vrText)) {
          throw this.error('PART10_BAD_ELEMENT', `invalid VR bytes 0x${head.subarray(4, 6).toString('hex')}`, offset, tag);
        }
        vr = vrText;
        if (hasLongLength(vr)) {
          if ((await this.src.fill(12)) < 12) throw this.src.truncated(12);
          const h = this.src.peek(12);
          length = syntax.littleEndian ? h.readUInt32LE(8) : h.readUInt32BE(8);
          headerLength = 12;
        } else {
          length = syntax.littleEndian ? head.readUInt16LE(6) : head.readUInt16BE(6);
          headerLength = 8;
        }
      } else {
        length = syntax.littleEndian ? head.readUInt32LE(4) : head.readUInt32BE(4);
        headerLength = 8;
        vr = implicitVR(tag, length, target);
      }
      await this.src.skip(headerLength);
      const valueOffset = this.src.position;
      const undefinedLength = length === UNDEFINED_LENGTH;

      if (!undefinedLength) {
        const rest = this.remaining();
        if (rest !== undefined && length > rest) {
          throw new DcmsafeError('PART10_TRUNCATED', `${this.src.name}: ${formatTag(tag)} declares ${length} bytes at offset ${valueOffset}, only ${rest} remain`, {
            file: this.src.name,
            offset: valueOffset,
            tag: formatTag(tag),
          });
        }
        if (end !== undefined && valueOffset + length > end) {
          throw this.error('PART10_BAD_SEQUENCE', `${formatTag(tag)} of ${length} bytes runs past the end of its item`, offset, tag);
        }
      }

      if (depth === 0 && options.stopAtPixelData && PIXEL_DATA_TAGS.has(tag)) {
        this.pixelData = { tag, vr, offset, valueOffset, length: undefinedLength ? undefined : length };
        return 'pixel';
      }

      if (vr === 'UN' && !undefinedLength && syntax.explicitVR && length <= this.limits.maxLoadedValue && tagGroup(tag) % 2 === 0 && lookupTag(tag)?.vr === 'SQ') {
        // A known sequence written as UN by a converter: its value is an implicit VR little endian
        // sequence (PS3.5 §6.2.2). Read it as one; if it is not, keep the bytes as UN.
        const value = await this.src.read(length);
        this.loadedBytes += length;
        const items = await this.parseUnknownSequence(tag, value, target, depth + 1);
        if (items) target.set({ tag, vr: 'SQ', length, offset, valueOffset, items });
        else target.set({ tag, vr, length, offset, valueOffset, value });
        continue;
      }
      if (vr === 'SQ' || (undefinedLength && vr === 'UN')) {
        if (depth + 1 > this.limits.maxDepth) throw this.error('PART10_LIMIT', `sequences nested deeper than ${this.limits.maxDepth}`, offset, tag);
        // A UN of undefined length holds an implicit VR little endian sequence (PS3.5 §6.2.2 note).
        const itemSyntax = vr === 'UN' ? IMPLICIT_LE : syntax;
        const items = await this.parseItems(tag, undefinedLength ? undefined : valueOffset + length, itemSyntax, target, depth + 1);
        target.set({ tag, vr: vr === 'UN' ? 'SQ' : vr, length: undefinedLength ? undefined : length, offset, valueOffset, items });
        continue;
      }
      if (undefinedLength) {
        if (vr === 'OB' || vr === 'OW') {
          const fragments = await this.parseFragments(tag, syntax);
          target.set({ tag, vr, length: undefined, offset, valueOffset, fragments });
          continue;
        }
        throw this.error('PART10_BAD_ELEMENT', `undefined length is not allowed for VR ${vr}`, offset, tag);
      }
      if (length % 2 === 1 && this.warnings.every((w) => w.code !== 'ODD_LENGTH')) {
        this.warn('ODD_LENGTH', `${formatTag(tag)} has odd length ${length}`, offset);
      }
      if (length > this.limits.maxLoadedValue) {
        await this.src.skip(length);
        target.set({ tag, vr, length, offset, valueOffset, bulk: true });
        continue;
      }
      this.loadedBytes += length;
      if (this.loadedBytes > this.limits.maxLoadedBytes) throw this.error('PART10_LIMIT', `more than ${this.limits.maxLoadedBytes} bytes of header values`, offset, tag);
      const value = await this.src.read(length);
      target.set({ tag, vr, length, offset, valueOffset, value });
    }
  }

  /** An item or delimiter header (PS3.5 §7.5): tag and 32-bit length, the same in explicit and implicit VR. */
  private async readItemHeader(syntax: Syntax): Promise<{ offset: number; tag: Tag; length: number }> {
    if ((await this.src.fill(8)) < 8) throw this.src.truncated(8);
    const head = this.src.peek(8);
    const offset = this.src.position;
    const tag = syntax.littleEndian ? ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0 : ((head.readUInt16BE(0) << 16) | head.readUInt16BE(2)) >>> 0;
    const length = syntax.littleEndian ? head.readUInt32LE(4) : head.readUInt32BE(4);
    await this.src.skip(8);
    return { offset, tag, length };
  }

  private async parseItems(seqTag: Tag, end: number | undefined, syntax: Syntax, parent: DataSet, depth: number): Promise<DataSet[]> {
    const items: DataSet[] = [];
    for (;;) {
      if (end !== undefined && this.src.position >= end) {
        if (this.src.position > end) throw this.error('PART10_BAD_SEQUENCE', 'item runs past the end of its sequence', this.src.position, seqTag);
        return items;
      }
      const { offset, tag, length } = await this.readItemHeader(syntax);
      if (tag === SEQUENCE_DELIMITATION) {
        if (end !== undefined) this.warn('STRAY_DELIMITER', 'sequence delimitation in a sequence of defined length', offset);
        return items;
      }
      if (tag !== ITEM) throw this.error('PART10_BAD_SEQUENCE', `expected an item, found ${formatTag(tag)}`, offset, seqTag);
      if (++this.elementCount > this.limits.maxElements) throw this.error('PART10_LIMIT', `more than ${this.limits.maxElements} elements`, offset);
      const item = new DataSet(syntax, parent, offset);
      if (length === UNDEFINED_LENGTH) {
        await this.parse(item, { stopAtPixelData: false }, undefined, depth, true);
      } else {
        // An item longer than what holds it is a known writer bug (lengths not updated after an
        // edit): read what is there, up to the end of the sequence or the data, and say so.
        let itemEnd = this.src.position + length;
        const rest = this.remaining();
        const limit = Math.min(end ?? Infinity, rest === undefined ? Infinity : this.src.position + rest);
        if (itemEnd > limit) {
          this.warn('ITEM_LENGTH', `item of ${length} bytes runs ${itemEnd - limit} bytes past the end of its ${end !== undefined && end <= limit ? 'sequence' : 'data'}`, offset);
          itemEnd = limit;
        }
        await this.parse(item, { stopAtPixelData: false }, itemEnd, depth);
      }
      items.push(item);
    }
  }

  /** Items of a UN value known to be a sequence; undefined if the bytes are not items. Offsets inside are relative to the value. */
  private async parseUnknownSequence(tag: Tag, value: Buffer, parent: DataSet, depth: number): Promise<DataSet[] | undefined> {
    if (depth > this.limits.maxDepth) throw this.error('PART10_LIMIT', `sequences nested deeper than ${this.limits.maxDepth}`, this.src.position, tag);
    const inner = new DataSetParser(new ReaderByteSource(new BufferReader(value, this.src.name), 0), this.limits);
    inner.elementCount = this.elementCount;
    try {
      const items = await inner.parseItems(tag, value.length, IMPLICIT_LE, parent, depth);
      this.elementCount = inner.elementCount;
      return items;
    } catch (e) {
      if (e instanceof DcmsafeError && e.code === 'PART10_LIMIT') throw e;
      this.warn('UN_NOT_SEQUENCE', `${formatTag(tag)} is UN and does not hold a sequence; kept as bytes`);
      return undefined;
    }
  }

  /** Encapsulated pixel data (PS3.5 §A.4): items of fragments up to the sequence delimiter. */
  async parseFragments(tag: Tag, syntax: Syntax): Promise<Fragment[]> {
    const fragments: Fragment[] = [];
    for (;;) {
      const { offset, tag: itemTag, length } = await this.readItemHeader(syntax);
      if (itemTag === SEQUENCE_DELIMITATION) return fragments;
      if (itemTag !== ITEM) throw new DcmsafeError('PIXEL_FRAGMENTS', `${this.src.name}: expected a fragment item in ${formatTag(tag)}, found ${formatTag(itemTag)} at offset ${offset}`, { file: this.src.name, offset, tag: formatTag(tag) });
      if (length === UNDEFINED_LENGTH) throw new DcmsafeError('PIXEL_FRAGMENTS', `${this.src.name}: fragment of undefined length at offset ${offset}`, { file: this.src.name, offset });
      const rest = this.remaining();
      if (rest !== undefined && length > rest) throw this.src.truncated(length);
      if (++this.elementCount > this.limits.maxElements) throw this.error('PART10_LIMIT', `more than ${this.limits.maxElements} elements`, offset);
      fragments.push({ offset: this.src.position, length });
      await this.src.skip(length);
    }
  }
}

/** The VR of an element in an implicit VR data set, from the dictionary and the context (PS3.5 Annex A.1). */
export function implicitVR(tag: Tag, length: number, context: DataSet): VR {
  const group = tagGroup(tag);
  const element = tagElement(tag);
  if (element === 0x0000) return 'UL';
  if (group % 2 === 1) {
    // Private creator elements are LO (PS3.5 §7.8.1); other private elements are unknown.
    if (element >= 0x0010 && element <= 0x00ff) return 'LO';
    return length === UNDEFINED_LENGTH ? 'SQ' : 'UN';
  }
  const entry = lookupTag(tag);
  if (!entry) return length === UNDEFINED_LENGTH ? 'SQ' : 'UN';
  switch (entry.vr) {
    case 'up':
      return 'UL';
    case 'xs':
      return pixelRepresentation(context) === 1 ? 'SS' : 'US';
    case 'ox':
      return length === UNDEFINED_LENGTH ? 'OB' : 'OW';
    case 'lt':
      return 'OW';
    case 'na':
      return 'UN';
    default:
      if (length === UNDEFINED_LENGTH && entry.vr !== 'SQ') return 'SQ';
      return entry.vr;
  }
}

function pixelRepresentation(ds: DataSet | undefined): number | undefined {
  for (let d = ds; d; d = d.parent) {
    const v = d.uint16(T.PixelRepresentation);
    if (v !== undefined) return v;
  }
  return undefined;
}

export type { Element };
