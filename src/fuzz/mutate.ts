/**
 * Structure-aware mutation of valid inputs, for the fuzz targets. A target gives its seeds (valid files
 * from the corpus and from our own writers) and, for each seed, the fields a parser trusts (lengths,
 * offsets, counts, tags: found by walking the seed's structure). Mutations then hit those fields with
 * boundary values far more often than blind bit flips would, and still flip, insert, delete, duplicate,
 * truncate and splice anywhere.
 *
 * Everything is a fast-check arbitrary, so an input is a pure function of (seed, index): a failure is
 * replayed from its numbers alone.
 */
import fc from 'fast-check';

/** A field a parser reads: `size` bytes at `offset`, in the given byte order. */
export interface Field {
  readonly offset: number;
  readonly size: 1 | 2 | 4;
  readonly endian: 'le' | 'be';
}

/** A valid input and the fields its parser trusts. */
export interface Seed {
  readonly name: string;
  readonly bytes: Buffer;
  readonly fields: readonly Field[];
}

export type Mutation =
  | { readonly op: 'field'; readonly field: number; readonly value: number }
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'byte'; readonly at: number; readonly value: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly length: number }
  | { readonly op: 'duplicate'; readonly from: number; readonly length: number; readonly to: number }
  | { readonly op: 'truncate'; readonly at: number }
  | { readonly op: 'splice'; readonly other: number; readonly at: number; readonly from: number };

/** Values that break parsers: zero, one, sign and width boundaries, all ones. */
const BOUNDARIES = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** Positions are drawn as fractions of the current length, so one arbitrary fits inputs of any size. */
// Mostly uniform (fast-check would otherwise favour the very start), sometimes the edges.
const position = fc.oneof(
  { weight: 5, arbitrary: fc.noBias(fc.integer({ min: 0, max: 0xffffffff })).map((n) => n / 2 ** 32) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) },
);

interface RawMutation {
  readonly kind: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly value: number;
  readonly bytes: Uint8Array;
}

const rawMutation: fc.Arbitrary<RawMutation> = fc.record({
  kind: fc.noBias(fc.nat(99)),
  a: position,
  b: position,
  c: position,
  value: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...BOUNDARIES) }, { weight: 1, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.integer({ min: -16, max: 16 }) }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

/** An input: which seed, and up to `maxMutations` changes to it (at least one). */
export interface MutatedInput {
  readonly seed: number;
  readonly mutations: readonly RawMutation[];
}

export function mutatedInput(seeds: readonly Seed[], maxMutations = 4): fc.Arbitrary<MutatedInput> {
  if (seeds.length === 0) throw new Error('a fuzz target needs at least one seed');
  return fc.record({
    seed: fc.noBias(fc.nat(seeds.length - 1)),
    mutations: fc.array(rawMutation, { minLength: 1, maxLength: maxMutations }),
  });
}

function at(fraction: number, length: number): number {
  return Math.min(length, Math.floor(fraction * length));
}

/** Interprets a raw mutation against the current bytes (so positions always land inside the input). */
export function concretize(raw: RawMutation, current: Buffer, seed: Seed, seeds: readonly Seed[]): Mutation {
  const len = current.length;
  const k = raw.kind;
  // 45% fields (when the seed has any), then the byte-level operations.
  if (k < 45 && seed.fields.length > 0) {
    const field = Math.min(seed.fields.length - 1, Math.floor(raw.a * seed.fields.length));
    const f = seed.fields[field]!;
    // Relative values: the field's own value nudged up or down, as often as absolute boundaries.
    let value = raw.value;
    if (raw.value >= -16 && raw.value <= 16 && f.offset + f.size <= len) value = readField(current, f) + raw.value;
    return { op: 'field', field, value };
  }
  if (k < 60) return { op: 'flip', at: at(raw.a, Math.max(0, len - 1)), bit: Math.floor(raw.b * 8) };
  if (k < 68) return { op: 'byte', at: at(raw.a, Math.max(0, len - 1)), value: raw.value & 0xff };
  if (k < 76) return { op: 'insert', at: at(raw.a, len), bytes: raw.bytes };
  if (k < 84) return { op: 'delete', at: at(raw.a, len), length: 1 + Math.floor(raw.b ** 3 * Math.min(len, 4096)) };
  if (k < 90) return { op: 'duplicate', from: at(raw.a, len), length: 1 + Math.floor(raw.b ** 3 * Math.min(len, 4096)), to: at(raw.c, len) };
  if (k < 95) return { op: 'truncate', at: at(raw.a, len) };
  return { op: 'splice', other: Math.floor(raw.b * seeds.length), at: at(raw.a, len), from: at(raw.c, seeds[Math.floor(raw.b * seeds.length)]?.bytes.length ?? 0) };
}

function readField(buf: Buffer, f: Field): number {
  if (f.size === 1) return buf[f.offset]!;
  if (f.size === 2) return f.endian === 'le' ? buf.readUInt16LE(f.offset) : buf.readUInt16BE(f.offset);
  return f.endian === 'le' ? buf.readUInt32LE(f.offset) : buf.readUInt32BE(f.offset);
}

function writeField(buf: Buffer, f: Field, value: number): void {
  if (f.offset + f.size > buf.length) return;
  const v = ((value % 2 ** (8 * f.size)) + 2 ** (8 * f.size)) % 2 ** (8 * f.size);
  if (f.size === 1) buf[f.offset] = v;
  else if (f.size === 2) {
    if (f.endian === 'le') buf.writeUInt16LE(v, f.offset);
    else buf.writeUInt16BE(v, f.offset);
  } else if (f.endian === 'le') buf.writeUInt32LE(v, f.offset);
  else buf.writeUInt32BE(v, f.offset);
}

/** Applies one mutation; returns a new buffer (the seed is never changed). */
export function apply(m: Mutation, current: Buffer, seed: Seed, seeds: readonly Seed[]): Buffer {
  switch (m.op) {
    case 'field': {
      const out = Buffer.from(current);
      writeField(out, seed.fields[m.field]!, m.value);
      return out;
    }
    case 'flip': {
      if (current.length === 0) return current;
      const out = Buffer.from(current);
      out[m.at] = out[m.at]! ^ (1 << m.bit);
      return out;
    }
    case 'byte': {
      if (current.length === 0) return current;
      const out = Buffer.from(current);
      out[m.at] = m.value;
      return out;
    }
    case 'insert':
      return Buffer.concat([current.subarray(0, m.at), m.bytes, current.subarray(m.at)]);
    case 'delete':
      return Buffer.concat([current.subarray(0, m.at), current.subarray(m.at + m.length)]);
    case 'duplicate':
      return Buffer.concat([current.subarray(0, m.to), current.subarray(m.from, m.from + m.length), current.subarray(m.to)]);
    case 'truncate':
      return current.subarray(0, m.at);
    case 'splice': {
      const other = seeds[m.other]?.bytes ?? current;
      return Buffer.concat([current.subarray(0, m.at), other.subarray(m.from)]);
    }
  }
}

/** The bytes of a mutated input, with the mutations as applied (for the failure report). */
export function materialize(input: MutatedInput, seeds: readonly Seed[]): { bytes: Buffer; seed: string; applied: Mutation[] } {
  const seed = seeds[input.seed]!;
  let bytes = seed.bytes;
  const applied: Mutation[] = [];
  for (const raw of input.mutations) {
    const m = concretize(raw, bytes, seed, seeds);
    bytes = apply(m, bytes, seed, seeds);
    applied.push(m);
  }
  return { bytes, seed: seed.name, applied };
}

/** Finds little- or big-endian 16/32-bit fields at every `stride` bytes: a fallback for formats without a walker. */
export function everyWord(bytes: Buffer, stride: number, size: 2 | 4, endian: 'le' | 'be', limit = 4096): Field[] {
  const out: Field[] = [];
  for (let o = 0; o + size <= bytes.length && out.length < limit; o += stride) out.push({ offset: o, size, endian });
  return out;
}
