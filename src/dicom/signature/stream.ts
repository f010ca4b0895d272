/**
 * Computing MACs (PS3.3 C.12.1.1.3.1.1) while a data set streams: the header (everything before the
 * pixel data) is held in memory by the rewrite (reconcile/rewrite.ts) and hashed from there; the
 * top-level pixel data is hashed chunk by chunk as it passes; the few elements after it (Data Set
 * Trailing Padding, Digital Signatures Sequence) are parsed and handed to the caller, who decides
 * what to write in their place (the signer appends its item; the verifier reads the signatures).
 * Memory holds one chunk of pixel data, never the whole of it.
 */
import { DcmsafeError } from '../../errors/index.js';
import { DataSet } from '../dataset.js';
import { DataSetParser, DEFAULT_LIMITS, PIXEL_DATA_TAGS } from '../part10/parser.js';
import { ELE } from '../part10/writer.js';
import { IterableByteSource, STREAM_CHUNK } from '../reconcile/sources.js';
import { formatTag, ITEM, SEQUENCE_DELIMITATION, UNDEFINED_LENGTH, type Tag } from '../tag.js';
import { ITEM_TAG, macElement, SEQUENCE_DELIMITATION_TAG, tagAndVR } from './mac.js';

/** One MAC being computed: which top-level elements it covers, and where their bytes go. */
export interface MacTarget {
  covers(tag: Tag): boolean;
  update(bytes: Buffer): void;
}

export interface BodyWalk {
  /** The top-level header as written (Explicit VR Little Endian, values in memory). */
  readonly header: DataSet;
  /** Its encoded length: where the pixel data element starts in the body. */
  readonly headerLength: number;
  /** Name of the input in messages. */
  readonly name: string;
  /** Changes the elements after the pixel data as read before any of them is hashed (the signer's canonical encoding). */
  readonly prepareTrailing?: (trailing: DataSet) => void;
  /** Elements after the pixel data (as read); returns the bytes to write in their place. */
  readonly trailing: (trailing: DataSet) => Buffer;
}

function feed(targets: readonly MacTarget[], tag: Tag, bytes: Buffer): void {
  for (const t of targets) if (t.covers(tag)) t.update(bytes);
}

/**
 * The body of a rewritten data set (Explicit VR Little Endian, defined lengths before the pixel
 * data) passed through unchanged up to the end of the pixel data, every covered byte fed to the
 * targets; what follows the pixel data is replaced by what `walk.trailing` returns.
 */
export async function* macThroughBody(body: AsyncIterable<Buffer>, walk: BodyWalk, targets: readonly MacTarget[]): AsyncGenerator<Buffer> {
  for (const el of walk.header.sorted()) {
    const covering = targets.filter((t) => t.covers(el.tag));
    if (covering.length > 0) macElement(el, (b) => covering.forEach((t) => t.update(b)));
  }
  const src = new IterableByteSource(body, walk.name);
  for (let left = walk.headerLength; left > 0; ) {
    const chunk = await src.readSome(Math.min(STREAM_CHUNK, left));
    left -= chunk.length;
    yield Buffer.from(chunk);
  }
  if ((await src.fill(8)) >= 8) {
    const head = src.peek(8);
    const tag = ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0;
    if (PIXEL_DATA_TAGS.has(tag)) {
      const header = await src.read(12);
      const length = header.readUInt32LE(8);
      yield header;
      if (length !== UNDEFINED_LENGTH) {
        feed(targets, tag, header);
        yield* passValue(src, length, targets, tag);
      } else {
        // Encapsulated (PS3.5 §A.4): no length for the element, its fragment items or its delimiter in the MAC.
        feed(targets, tag, tagAndVR(tag, 'OB')); // encapsulated values are OB (PS3.5 §A.4)
        for (;;) {
          const item = await src.read(8);
          yield item;
          const itemTag = ((item.readUInt16LE(0) << 16) | item.readUInt16LE(2)) >>> 0;
          if (itemTag === SEQUENCE_DELIMITATION) {
            feed(targets, tag, SEQUENCE_DELIMITATION_TAG);
            break;
          }
          const itemLength = item.readUInt32LE(4);
          if (itemTag !== ITEM || itemLength === UNDEFINED_LENGTH) {
            throw new DcmsafeError('PIXEL_FRAGMENTS', `${walk.name}: expected a fragment item in ${formatTag(tag)}, found ${formatTag(itemTag)}`, { file: walk.name, tag: formatTag(tag) });
          }
          feed(targets, tag, ITEM_TAG);
          yield* passValue(src, itemLength, targets, tag);
        }
      }
    }
  }
  const trailing = new DataSet(ELE, undefined, src.position);
  if (!(await src.atEnd())) {
    const parser = new DataSetParser(src, DEFAULT_LIMITS);
    await parser.parse(trailing, { stopAtPixelData: false });
    walk.prepareTrailing?.(trailing);
    for (const el of trailing.sorted()) {
      if (el.bulk && el.tag !== 0xfffcfffc) {
        throw new DcmsafeError('PART10_LIMIT', `${walk.name}: element ${formatTag(el.tag)} after the pixel data is too large to hold`, { file: walk.name, tag: formatTag(el.tag) });
      }
      const covering = targets.filter((t) => t.covers(el.tag));
      if (covering.length > 0) macElement(el, (b) => covering.forEach((t) => t.update(b)));
    }
  }
  const tail = walk.trailing(trailing);
  if (tail.length > 0) yield tail;
}

async function* passValue(src: IterableByteSource, length: number, targets: readonly MacTarget[], tag: Tag): AsyncGenerator<Buffer> {
  const covering = targets.filter((t) => t.covers(tag));
  for (let left = length; left > 0; ) {
    const chunk = Buffer.from(await src.readSome(Math.min(STREAM_CHUNK, left)));
    left -= chunk.length;
    for (const t of covering) t.update(chunk);
    yield chunk;
  }
}
