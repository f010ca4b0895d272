/**
 * Directory-record keys of a scanned instance kept as one Explicit VR Little Endian buffer (what the
 * writer encodes: defined lengths everywhere), decoded into a DataSet only when a record is built.
 * A DataSet of Element objects with a Buffer per value costs several times its bytes; a File-set of
 * 100 000 instances keeps every instance's keys until its DICOMDIR is written.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet, trimPadding } from '../dataset.js';
import { ELE, encodeDataSet } from '../part10/writer.js';
import { ITEM, type Tag } from '../tag.js';
import { T } from '../tags.js';
import { hasLongLength, isVR, type VR } from '../vr.js';

/** Encodes keys (Explicit VR Little Endian, every value in memory) as one buffer. */
export function encodeKeys(keys: DataSet): Buffer {
  return encodeDataSet(keys);
}

interface Header {
  readonly tag: Tag;
  readonly vr: VR;
  readonly length: number;
  readonly valueOffset: number;
}

function header(bytes: Buffer, pos: number): Header {
  if (pos + 8 > bytes.length) throw new DcmsafeError('INTERNAL', `encoded keys end inside an element header at ${pos}`);
  const tag = ((bytes.readUInt16LE(pos) << 16) | bytes.readUInt16LE(pos + 2)) >>> 0;
  const vrText = bytes.toString('latin1', pos + 4, pos + 6);
  if (!isVR(vrText)) throw new DcmsafeError('INTERNAL', `encoded keys hold no VR at ${pos}`);
  if (hasLongLength(vrText)) return { tag, vr: vrText, length: bytes.readUInt32LE(pos + 8), valueOffset: pos + 12 };
  return { tag, vr: vrText, length: bytes.readUInt16LE(pos + 6), valueOffset: pos + 8 };
}

function decodeInto(bytes: Buffer, start: number, end: number, target: DataSet): void {
  let pos = start;
  while (pos < end) {
    const h = header(bytes, pos);
    const valueEnd = h.valueOffset + h.length;
    if (valueEnd > end) throw new DcmsafeError('INTERNAL', `encoded keys: element at ${pos} runs past its end`);
    if (h.vr === 'SQ') {
      const items: DataSet[] = [];
      let p = h.valueOffset;
      while (p < valueEnd) {
        if (bytes.readUInt16LE(p) !== ITEM >>> 16 || bytes.readUInt16LE(p + 2) !== (ITEM & 0xffff)) throw new DcmsafeError('INTERNAL', `encoded keys: no item at ${p}`);
        const length = bytes.readUInt32LE(p + 4);
        const item = new DataSet(ELE, target, p);
        decodeInto(bytes, p + 8, p + 8 + length, item);
        items.push(item);
        p += 8 + length;
      }
      target.set({ tag: h.tag, vr: 'SQ', length: h.length, offset: pos, valueOffset: h.valueOffset, items });
    } else {
      target.set({ tag: h.tag, vr: h.vr, length: h.length, offset: pos, valueOffset: h.valueOffset, value: bytes.subarray(h.valueOffset, valueEnd) });
    }
    pos = valueEnd;
  }
}

/**
 * The keys as a DataSet (values are views of the buffers); with `only`, just those keys and the
 * Specific Character Set. The keys may be split over several buffers (what an instance shares with
 * its series, and its own), each in ascending tag order, no tag in two.
 */
export function decodeKeys(parts: Buffer | readonly Buffer[], only?: ReadonlySet<Tag>): DataSet {
  const ds = new DataSet(ELE);
  for (const bytes of Buffer.isBuffer(parts) ? [parts] : parts) {
    if (!only) {
      decodeInto(bytes, 0, bytes.length, ds);
      continue;
    }
    let pos = 0;
    while (pos < bytes.length) {
      const h = header(bytes, pos);
      const end = h.valueOffset + h.length;
      if (only.has(h.tag) || h.tag === T.SpecificCharacterSet) decodeInto(bytes, pos, end, ds);
      pos = end;
    }
  }
  return ds;
}

/** Where a top-level element is in the buffer, without decoding the others. */
function find(bytes: Buffer, tag: Tag): { offset: number; header: Header } | undefined {
  let pos = 0;
  while (pos < bytes.length) {
    const h = header(bytes, pos);
    if (h.tag === tag) return { offset: pos, header: h };
    if (h.tag > tag) return undefined; // encoded in ascending tag order
    pos = h.valueOffset + h.length;
  }
  return undefined;
}

function findIn(parts: readonly Buffer[], tag: Tag): { bytes: Buffer; offset: number; header: Header } | undefined {
  for (const bytes of parts) {
    const found = find(bytes, tag);
    if (found) return { bytes, ...found };
  }
  return undefined;
}

/** Printable ASCII and NUL padding: every character set DICOM allows reads these bytes as ASCII. */
function plainAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i] as number;
    if ((b < 0x20 && b !== 0x00) || b > 0x7e) return false;
  }
  return true;
}

/** `decodeKeys(parts).text(tag)` without decoding every key. */
export function keyText(parts: Buffer | readonly Buffer[], tag: Tag): string | undefined {
  const all = Buffer.isBuffer(parts) ? [parts] : parts;
  const found = findIn(all, tag);
  if (!found) return undefined;
  const { bytes } = found;
  const { vr, valueOffset, length } = found.header;
  if (vr !== 'SQ' && plainAscii(bytes, valueOffset, valueOffset + length)) {
    // What DataSet.text gives for such bytes, without the character set (trimPadding, then trim).
    const raw = trimPadding(bytes.subarray(valueOffset, valueOffset + length), vr);
    const s = raw.toString('latin1').trim();
    return s ? s : undefined;
  }
  // The element with the character set it is read with.
  const ds = new DataSet(ELE);
  const charset = tag === T.SpecificCharacterSet ? undefined : findIn(all, T.SpecificCharacterSet);
  if (charset) decodeInto(charset.bytes, charset.offset, charset.header.valueOffset + charset.header.length, ds);
  decodeInto(bytes, found.offset, valueOffset + length, ds);
  return ds.text(tag);
}
