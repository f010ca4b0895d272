/**
 * Writing a data set in Explicit VR Little Endian as a stream (PS3.5 §7.1.2, §7.5 with defined
 * lengths): values in memory are written from memory, large values (pixel data, waveforms) are
 * produced chunk by chunk from their source. The size of everything is known before the first byte,
 * from the same descriptions that produce the bytes.
 */
import { DcmsafeError } from '../../errors/index.js';
import { formatTag, ITEM, SEQUENCE_DELIMITATION, type Tag } from '../tag.js';
import type { VR } from '../vr.js';
import { elementHeaderBytes, headerSize, padValue } from './writer.js';

export type ValueSource =
  | { readonly kind: 'bytes'; readonly bytes: Buffer }
  | { readonly kind: 'items'; readonly items: ReadonlyArray<readonly OutputElement[]> }
  /** `length` bytes produced by `chunks`; an odd length gets one padding byte after them. */
  | { readonly kind: 'stream'; readonly length: number; readonly chunks: () => AsyncIterable<Buffer> };

export interface OutputElement {
  readonly tag: Tag;
  readonly vr: VR;
  readonly source: ValueSource;
}

function valueLength(e: OutputElement): number {
  switch (e.source.kind) {
    case 'bytes':
      return e.source.bytes.length + (e.source.bytes.length % 2);
    case 'stream':
      return e.source.length + (e.source.length % 2);
    case 'items':
      return e.source.items.reduce((n, item) => n + 8 + sizeOfOutputElements(item), 0);
  }
}

export function sizeOfOutputElement(e: OutputElement): number {
  return headerSize(e.vr) + valueLength(e);
}

export function sizeOfOutputElements(elements: readonly OutputElement[]): number {
  return elements.reduce((n, e) => n + sizeOfOutputElement(e), 0);
}

/** An item or delimitation header (PS3.5 §7.5): tag (FFFE,xxxx) and a 32-bit length. */
function delimiterTagHeader(tag: Tag, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0); // group FFFE
  b.writeUInt16LE(tag & 0xffff, 2); // element E000, E00D or E0DD
  b.writeUInt32LE(length, 4);
  return b;
}

/** An Item (FFFE,E000) header with a defined length. */
export function itemHeader(length: number): Buffer {
  return delimiterTagHeader(ITEM, length);
}

/** The Sequence Delimitation Item (FFFE,E0DD), length 0, that closes a value of undefined length. Do not write into it. */
export const SEQUENCE_DELIMITER: Buffer = delimiterTagHeader(SEQUENCE_DELIMITATION, 0);

/** The bytes of `elements` (already in ascending tag order), as a stream of buffers. */
export async function* emitElements(elements: readonly OutputElement[]): AsyncGenerator<Buffer> {
  for (const e of elements) {
    const length = valueLength(e);
    yield elementHeaderBytes(e.tag, e.vr, length);
    switch (e.source.kind) {
      case 'bytes':
        yield padValue(e.source.bytes, e.vr);
        break;
      case 'items':
        for (const item of e.source.items) {
          yield itemHeader(sizeOfOutputElements(item));
          yield* emitElements(item);
        }
        break;
      case 'stream': {
        let written = 0;
        for await (const chunk of e.source.chunks()) {
          written += chunk.length;
          if (written > e.source.length) break;
          yield chunk;
        }
        if (written !== e.source.length) {
          throw new DcmsafeError('INTERNAL', `${formatTag(e.tag)}: produced ${written} bytes, planned ${e.source.length}`, { tag: formatTag(e.tag) });
        }
        if (e.source.length % 2 === 1) yield Buffer.from([0x00]);
        break;
      }
    }
  }
}

export function sortElements(elements: OutputElement[]): OutputElement[] {
  return elements.sort((a, b) => a.tag - b.tag);
}
