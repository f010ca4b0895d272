/**
 * Writing data sets in Explicit VR Little Endian (PS3.5 §7.1.2) and the File Meta Information
 * (PS3.10 §7.1). Sequences and items get defined lengths, so every size is known before a byte is
 * written (`sizeOfDataSet`), which is what the DICOMDIR offsets and the media layouts need.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet, type Element } from '../dataset.js';
import { formatTag, ITEM, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { EXPLICIT_VR_LITTLE_ENDIAN } from '../transfer-syntax.js';
import { hasLongLength, MAX_SHORT_LENGTH, paddingByte, type VR } from '../vr.js';

/** dcmsafe's Implementation Class UID (a UUID-derived UID, PS3.5 §B.2) and version name. */
export const IMPLEMENTATION_CLASS_UID = '2.25.265591359563690912222167575563655766066';
export const IMPLEMENTATION_VERSION_NAME = 'DCMSAFE_0_1';

export const ELE = { explicitVR: true, littleEndian: true } as const;

/** Size of an element header in explicit VR little endian. */
export function headerSize(vr: VR): number {
  return hasLongLength(vr) ? 12 : 8;
}

function valueSize(el: Element): number {
  if (el.items) return el.items.reduce((n, item) => n + 8 + sizeOfDataSet(item), 0);
  if (el.fragments || el.bulk) throw new DcmsafeError('INTERNAL', `${formatTag(el.tag)}: value not in memory`, { tag: formatTag(el.tag) });
  return el.value?.length ?? 0;
}

export function sizeOfElement(el: Element): number {
  const vr = el.items ? 'SQ' : el.vr;
  return headerSize(vr) + valueSize(el);
}

export function sizeOfDataSet(ds: DataSet): number {
  let n = 0;
  for (const el of ds.elements.values()) n += sizeOfElement(el);
  return n;
}

/** Writes into a preallocated buffer; the caller sized it with the size functions. */
export class ByteWriter {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  u16(v: number): void {
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }
  u32(v: number): void {
    this.pos = this.buf.writeUInt32LE(v >>> 0, this.pos);
  }
  tag(t: Tag): void {
    this.u16(t >>> 16); // group
    this.u16(t & 0xffff); // element
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Characters 0-255 as one byte each (VRs, ASCII values), without an intermediate buffer. */
  latin1(s: string): void {
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
}

export function encodeElementHeader(w: ByteWriter, tag: Tag, vr: VR, length: number): void {
  w.tag(tag);
  w.latin1(vr); // VR, 2 bytes
  if (hasLongLength(vr)) {
    w.u16(0); // reserved
    w.u32(length); // value length, 4 bytes
  } else {
    if (length > MAX_SHORT_LENGTH) throw new DcmsafeError('INTERNAL', `${formatTag(tag)}: ${length} bytes do not fit VR ${vr}`, { tag: formatTag(tag) });
    w.u16(length); // value length, 2 bytes
  }
}

/** Element header bytes alone, for streaming a value after it. */
export function elementHeaderBytes(tag: Tag, vr: VR, length: number): Buffer {
  const w = new ByteWriter(headerSize(vr));
  encodeElementHeader(w, tag, vr, length);
  return w.buf;
}

/** Writes one element (header and value, sequences with defined lengths) at the writer's position. */
export function encodeElementInto(w: ByteWriter, el: Element): void {
  if (el.items) {
    encodeElementHeader(w, el.tag, 'SQ', valueSize(el));
    for (const item of el.items) {
      w.tag(ITEM);
      w.u32(sizeOfDataSet(item)); // item length
      encodeDataSetInto(w, item);
    }
    return;
  }
  const value = el.value ?? Buffer.alloc(0);
  encodeElementHeader(w, el.tag, el.vr, value.length);
  w.bytes(value);
}

function encodeDataSetInto(w: ByteWriter, ds: DataSet): void {
  for (const el of ds.sorted()) encodeElementInto(w, el);
}

/** Encodes a data set whose values are all in memory and little endian, in ascending tag order. */
export function encodeDataSet(ds: DataSet): Buffer {
  const w = new ByteWriter(sizeOfDataSet(ds));
  encodeDataSetInto(w, ds);
  return w.buf;
}

// ---- building elements from values -------------------------------------------------------------

export type ElementValue = string | readonly string[] | Buffer | number | readonly number[] | DataSet[] | undefined;

/** Pads a value to even length with the VR's padding byte (PS3.5 §7.1.1). */
export function padValue(bytes: Buffer, vr: VR): Buffer {
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.from([paddingByte(vr)])]);
}

function numbers(vr: VR, values: readonly number[]): Buffer {
  const size = vr === 'US' || vr === 'SS' ? 2 : vr === 'FD' ? 8 : 4;
  const b = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    switch (vr) {
      case 'US':
        b.writeUInt16LE(v, i * 2);
        break;
      case 'SS':
        b.writeInt16LE(v, i * 2);
        break;
      case 'UL':
        b.writeUInt32LE(v >>> 0, i * 4);
        break;
      case 'SL':
        b.writeInt32LE(v, i * 4);
        break;
      case 'FL':
        b.writeFloatLE(v, i * 4);
        break;
      case 'FD':
        b.writeDoubleLE(v, i * 8);
        break;
      default:
        throw new DcmsafeError('INTERNAL', `cannot encode numbers as ${vr}`);
    }
  });
  return b;
}

/**
 * Makes an element from a value: strings (ASCII only; pass bytes for other repertoires), numbers
 * for binary VRs (and IS/DS as text), bytes as they are, or items for SQ.
 */
export function makeElement(tag: Tag, vr: VR, value: ElementValue): Element {
  const base = { tag, vr, offset: -1, valueOffset: -1 };
  if (vr === 'SQ') {
    const items = (value ?? []) as DataSet[];
    return { ...base, length: undefined, items };
  }
  let bytes: Buffer;
  if (value === undefined) bytes = Buffer.alloc(0);
  else if (Buffer.isBuffer(value)) bytes = value;
  else if (typeof value === 'string' || (Array.isArray(value) && typeof value[0] === 'string')) {
    const text = typeof value === 'string' ? value : (value as unknown as string[]).join('\\');
    if (/[\u007f-\uffff]/.test(text)) throw new DcmsafeError('INTERNAL', `${formatTag(tag)}: non-ASCII text must be given as bytes`);
    bytes = Buffer.from(text, 'latin1');
  } else if (typeof value === 'number' || Array.isArray(value)) {
    const list = typeof value === 'number' ? [value] : (value as unknown as number[]);
    bytes = vr === 'IS' || vr === 'DS' ? Buffer.from(list.map(String).join('\\'), 'latin1') : numbers(vr, list);
  } else {
    throw new DcmsafeError('INTERNAL', `${formatTag(tag)}: unsupported value`);
  }
  bytes = padValue(bytes, vr);
  return { ...base, length: bytes.length, value: bytes };
}

/** A new explicit VR little endian data set from [tag, VR, value] entries. */
export function buildDataSet(entries: ReadonlyArray<readonly [Tag, VR, ElementValue]>, parent?: DataSet): DataSet {
  const ds = new DataSet(ELE, parent);
  for (const [tag, vr, value] of entries) ds.set(makeElement(tag, vr, value));
  return ds;
}

// ---- File Meta Information ---------------------------------------------------------------------

export interface FileMetaInput {
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly transferSyntaxUID: string;
  readonly sourceApplicationEntityTitle?: string;
  /** The 128-byte preamble to keep; zeros by default (PS3.10 §7.1). */
  readonly preamble?: Buffer;
}

/** Preamble, "DICM" and group 0002 in explicit VR little endian, with its group length. */
export function encodeFileMeta(input: FileMetaInput): Buffer {
  const group = buildDataSet([
    [T.FileMetaInformationVersion, 'OB', Buffer.from([0x00, 0x01])],
    [T.MediaStorageSOPClassUID, 'UI', input.sopClassUID],
    [T.MediaStorageSOPInstanceUID, 'UI', input.sopInstanceUID],
    [T.TransferSyntaxUID, 'UI', input.transferSyntaxUID],
    [T.ImplementationClassUID, 'UI', IMPLEMENTATION_CLASS_UID],
    [T.ImplementationVersionName, 'SH', IMPLEMENTATION_VERSION_NAME],
    ...(input.sourceApplicationEntityTitle ? [[T.SourceApplicationEntityTitle, 'AE', input.sourceApplicationEntityTitle] as const] : []),
  ]);
  group.set(makeElement(T.FileMetaInformationGroupLength, 'UL', sizeOfDataSet(group)));
  const body = encodeDataSet(group);
  const preamble = input.preamble && input.preamble.length === 128 ? input.preamble : Buffer.alloc(128);
  return Buffer.concat([preamble, Buffer.from('DICM', 'latin1'), body]);
}

/** A complete Part 10 file (meta + data set) for data sets held in memory: samples, DICOMDIR. */
export function encodePart10(meta: Omit<FileMetaInput, 'transferSyntaxUID'>, ds: DataSet): Buffer {
  return Buffer.concat([encodeFileMeta({ ...meta, transferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN }), encodeDataSet(ds)]);
}
