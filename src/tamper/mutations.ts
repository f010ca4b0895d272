/**
 * The changes a tamper trial makes to a medium image, and how each is drawn. A trial's mutation
 * depends only on (seed, trial number): the same seed gives the same trials, and `--replay K`
 * rebuilds trial K alone. Mutations are data (JSON in the report), applied to a copy of the image.
 *
 * Where they land: half of the time anywhere in the image, the rest aimed at a file chosen
 * uniformly among the files (so the small unsigned ones, README.TXT or INDEX.HTM, are hit as often
 * as the large instances) or at the volume's structures (directories, FAT, central directory).
 */
import { seededRandom, type Random } from '../util/random.js';
import type { ImageLayout, Range } from './layout.js';

export const BLOCK = 2048;

export type Mutation =
  | { readonly kind: 'none' }
  | { readonly kind: 'flip'; readonly offset: number; readonly mask: number }
  | { readonly kind: 'run'; readonly offset: number; readonly bytes: string }
  | { readonly kind: 'truncate'; readonly length: number }
  | { readonly kind: 'swap-blocks'; readonly a: number; readonly b: number; readonly length: number }
  | { readonly kind: 'swap-files'; readonly a: string; readonly b: string }
  | { readonly kind: 'substitute'; readonly target: string; readonly source: string };

export type MutationKind = Mutation['kind'];

/** Share of each kind, out of 100. */
const WEIGHTS: ReadonlyArray<readonly [MutationKind, number]> = [
  ['none', 10],
  ['flip', 35],
  ['run', 20],
  ['truncate', 8],
  ['swap-blocks', 9],
  ['swap-files', 8],
  ['substitute', 10],
];

class Draw {
  constructor(private readonly random: Random) {}
  /** A whole number in [0, n). */
  below(n: number): number {
    if (n <= 0) return 0;
    return Number(this.random.bytes(6).readUIntBE(0, 6) % n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

export function trialRandom(seed: string, trial: number): Random {
  return seededRandom(`dcmsafe tamper\u0000${seed}\u0000${trial}`);
}

function offsetIn(d: Draw, ranges: readonly Range[]): number | undefined {
  const total = ranges.reduce((n, r) => n + r.end - r.start, 0);
  if (total === 0) return undefined;
  let at = d.below(total);
  for (const r of ranges) {
    if (at < r.end - r.start) return r.start + at;
    at -= r.end - r.start;
  }
  return undefined;
}

/** An offset: anywhere, in one file chosen uniformly, or in the volume's structures. */
function aim(d: Draw, layout: ImageLayout): number {
  const where = d.below(4);
  const files = layout.files.filter((f) => f.ranges.length > 0);
  if (where === 1 && files.length > 0) return offsetIn(d, d.pick(files).ranges) ?? d.below(layout.size);
  if (where === 2) return offsetIn(d, layout.structure) ?? d.below(layout.size);
  return d.below(layout.size);
}

export function drawMutation(seed: string, trial: number, layout: ImageLayout): Mutation {
  const d = new Draw(trialRandom(seed, trial));
  let roll = d.below(100);
  let kind: MutationKind = 'none';
  for (const [k, w] of WEIGHTS) {
    if (roll < w) {
      kind = k;
      break;
    }
    roll -= w;
  }
  const files = layout.files.filter((f) => f.ranges.length > 0);
  switch (kind) {
    case 'none':
      return { kind };
    case 'flip':
      return { kind, offset: aim(d, layout), mask: 1 + d.below(255) };
    case 'run': {
      const offset = aim(d, layout);
      const length = Math.min(1 + d.below(64), layout.size - offset);
      return { kind, offset, bytes: trialRandom(seed, trial).fork('run').bytes(length).toString('hex') };
    }
    case 'truncate':
      return { kind, length: d.below(4) === 0 ? aim(d, layout) : d.below(layout.size) };
    case 'swap-blocks': {
      const blocks = Math.floor(layout.size / BLOCK);
      const pickBlock = (): number => Math.floor(aim(d, layout) / BLOCK);
      const a = pickBlock();
      let b = pickBlock();
      if (b === a) b = (a + 1 + d.below(Math.max(1, blocks - 1))) % Math.max(1, blocks);
      return { kind, a: a * BLOCK, b: b * BLOCK, length: BLOCK };
    }
    case 'swap-files':
    case 'substitute': {
      if (files.length < 2) return { kind: 'flip', offset: aim(d, layout), mask: 1 };
      const a = d.pick(files);
      const others = files.filter((f) => f !== a);
      const b = d.pick(others);
      return kind === 'swap-files' ? { kind, a: a.path, b: b.path } : { kind, target: a.path, source: b.path };
    }
  }
}

/** The image bytes of a file's ranges, concatenated. */
function bytesOf(image: Buffer, ranges: readonly Range[]): Buffer {
  return Buffer.concat(ranges.map((r) => image.subarray(r.start, r.end)));
}

/** Writes `bytes` into `ranges` of `image`, in order; what is left of the ranges is zero-filled. */
function writeInto(image: Buffer, ranges: readonly Range[], bytes: Buffer): void {
  let at = 0;
  for (const r of ranges) {
    const n = r.end - r.start;
    const part = bytes.subarray(at, at + n);
    part.copy(image, r.start);
    if (part.length < n) image.fill(0, r.start + part.length, r.end);
    at += n;
  }
}

/** A new image with the mutation applied (the original is not touched). */
export function applyMutation(original: Buffer, m: Mutation, layout: ImageLayout): Buffer {
  if (m.kind === 'truncate') return Buffer.from(original.subarray(0, m.length));
  const image = Buffer.from(original);
  const ranges = (p: string): readonly Range[] => layout.files.find((f) => f.path === p)?.ranges ?? [];
  switch (m.kind) {
    case 'none':
      break;
    case 'flip':
      image[m.offset] = (image[m.offset] as number) ^ m.mask;
      break;
    case 'run':
      Buffer.from(m.bytes, 'hex').copy(image, m.offset);
      break;
    case 'swap-blocks': {
      const a = Buffer.from(original.subarray(m.a, m.a + m.length));
      const b = Buffer.from(original.subarray(m.b, m.b + m.length));
      b.copy(image, m.a);
      a.copy(image, m.b);
      break;
    }
    case 'swap-files': {
      const ra = ranges(m.a);
      const rb = ranges(m.b);
      // Each file's places get the other's bytes, cut or zero-padded to fit.
      writeInto(image, ra, bytesOf(original, rb));
      writeInto(image, rb, bytesOf(original, ra));
      break;
    }
    case 'substitute':
      writeInto(image, ranges(m.target), bytesOf(original, ranges(m.source)));
      break;
  }
  return image;
}

export function describeMutation(m: Mutation, layout?: ImageLayout): string {
  const where = (offset: number): string => {
    const f = layout?.files.find((x) => x.ranges.some((r) => offset >= r.start && offset < r.end));
    if (f) return ` (in ${f.path})`;
    if (layout?.structure.some((r) => offset >= r.start && offset < r.end)) return ' (volume structure)';
    return layout ? ' (outside every file)' : '';
  };
  switch (m.kind) {
    case 'none':
      return 'no change (control)';
    case 'flip':
      return `flip byte ${m.offset} with 0x${m.mask.toString(16).padStart(2, '0')}${where(m.offset)}`;
    case 'run':
      return `overwrite ${m.bytes.length / 2} bytes at ${m.offset}${where(m.offset)}`;
    case 'truncate':
      return `truncate the image to ${m.length} bytes`;
    case 'swap-blocks':
      return `swap ${m.length}-byte blocks at ${m.a}${where(m.a)} and ${m.b}${where(m.b)}`;
    case 'swap-files':
      return `swap the bytes of ${m.a} and ${m.b}`;
    case 'substitute':
      return `replace the bytes of ${m.target} by those of ${m.source}`;
  }
}
