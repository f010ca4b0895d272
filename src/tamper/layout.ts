/**
 * What a medium image holds, as the tamper campaign needs it: every file's path and bytes (the
 * ground truth compares these), and which byte ranges of the image each file's content was read
 * from (the mutation generators aim at them). Both come from the media readers themselves, through
 * a reader that records what is read: no format knowledge here, so ISO 9660, FAT and ZIP are alike.
 */
import { createHash } from 'node:crypto';
import { BufferReader, readChunks, type RandomAccessReader } from '../media/io/random-access-reader.js';
import { openMediaImage } from '../media/source/index.js';

/** A half-open byte range [start, end) of the image. */
export interface Range {
  readonly start: number;
  readonly end: number;
}

export interface FileLayout {
  readonly path: string;
  readonly size: number;
  /** Image ranges read to get the file's content (its extents, clusters or ZIP entry), merged. */
  readonly ranges: readonly Range[];
}

export interface ImageLayout {
  readonly size: number;
  readonly kind: string;
  readonly files: readonly FileLayout[];
  /** Ranges read to open the volume and list it (descriptors, directories, FAT, central directory). */
  readonly structure: readonly Range[];
}

/** The content of a medium as its reader sees it: path → SHA-256 of the bytes. */
export type Tree = ReadonlyMap<string, string>;

class TracingReader implements RandomAccessReader {
  ranges: Range[] = [];
  constructor(private readonly inner: RandomAccessReader) {}
  get size(): number {
    return this.inner.size;
  }
  get name(): string {
    return this.inner.name;
  }
  async read(position: number, length: number): Promise<Buffer> {
    const b = await this.inner.read(position, length);
    if (b.length > 0) this.ranges.push({ start: position, end: position + b.length });
    return b;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) out[out.length - 1] = { start: last.start, end: Math.max(last.end, r.end) };
    else out.push({ ...r });
  }
  return out;
}

async function readAll(reader: RandomAccessReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of readChunks(reader, 0, reader.size)) parts.push(c);
  return Buffer.concat(parts);
}

/** Files and the image ranges behind each; throws when the image does not open (the original must). */
export async function imageLayout(image: Buffer, name = 'image'): Promise<ImageLayout> {
  const tracer = new TracingReader(new BufferReader(image, name));
  const source = await openMediaImage(tracer, name);
  try {
    const structure = tracer.ranges;
    const files: FileLayout[] = [];
    for (const entry of source.entries) {
      tracer.ranges = [];
      const reader = await source.open(entry);
      try {
        await readAll(reader);
      } finally {
        await reader.close();
      }
      files.push({ path: entry.path.join('/'), size: entry.size, ranges: mergeRanges(tracer.ranges) });
    }
    return { size: image.length, kind: source.kind, files, structure: mergeRanges(structure) };
  } finally {
    await source.close();
  }
}

/** The medium's content (names and bytes), or undefined when the image no longer opens or a file cannot be read. */
export async function readTree(image: Buffer, name = 'image'): Promise<Tree | undefined> {
  let source;
  try {
    source = await openMediaImage(new BufferReader(image, name), name);
  } catch {
    return undefined;
  }
  try {
    if (source.findings.length > 0) return undefined; // something on the medium could not be listed
    const tree = new Map<string, string>();
    for (const entry of source.entries) {
      const reader = await source.open(entry);
      try {
        tree.set(entry.path.join('/'), createHash('sha256').update(await readAll(reader)).digest('hex'));
      } finally {
        await reader.close();
      }
    }
    return tree;
  } catch {
    return undefined;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Ground truth: the content changed (names, bytes), or the medium no longer reads. */
export function treeChanged(original: Tree, mutated: Tree | undefined): boolean {
  if (!mutated || mutated.size !== original.size) return true;
  for (const [p, h] of original) if (mutated.get(p) !== h) return true;
  return false;
}
