/**
 * What the medium targets (ISO 9660, FAT, ZIP) share: reading a MediaSource the way verify does (every
 * listed file opened and read to its end), collecting a writer's image in memory, running a tool at seed
 * time when it is installed, and mutations followed by a format's own repair (so that changes get past
 * redundant copies such as ISO 9660's both-endian numbers).
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import type { RandomAccessReader } from '../media/io/random-access-reader.js';
import type { MediaSource } from '../media/source/types.js';
import type { ImagePlan } from '../media/media-file.js';
import { materialize, mutatedInput, type Field, type Mutation, type Seed } from './mutate.js';
import type { FuzzInput } from './target.js';

const CHUNK = 64 * 1024;

/**
 * Opens every file of `source` and reads it to the end in forward chunks (then `more`, if given, with
 * the file still open), then closes everything.
 */
export async function readWholeSource(source: MediaSource, more?: (reader: RandomAccessReader) => Promise<void>): Promise<number> {
  let total = 0;
  try {
    for (const entry of source.entries) {
      const reader = await source.open(entry);
      try {
        for (let pos = 0; pos < reader.size; ) {
          const chunk = await reader.read(pos, Math.min(CHUNK, reader.size - pos));
          if (chunk.length === 0) break;
          pos += chunk.length;
          total += chunk.length;
        }
        await more?.(reader);
      } finally {
        await reader.close();
      }
    }
  } finally {
    await source.close();
  }
  return total;
}

/** A writer's image, whole in memory (seeds are small). */
export async function collect(plan: Pick<ImagePlan, 'emit'>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of plan.emit()) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** Whether `tool` is on the PATH. */
export function hasTool(tool: string): boolean {
  return spawnSync('which', [tool], { stdio: 'ignore' }).status === 0;
}

/** Runs a tool at seed time; false when it failed (the seed is then skipped). */
export function runTool(tool: string, args: readonly string[], cwd: string, env: Record<string, string> = {}, input?: Buffer): boolean {
  return spawnSync(tool, args, { cwd, env: { ...process.env, ...env }, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'ignore'], timeout: 30_000, ...(input ? { input } : {}) }).status === 0;
}

function describeMutation(m: Mutation): string {
  const parts = Object.entries(m)
    .filter(([k]) => k !== 'op')
    .map(([k, v]) => `${k}=${v instanceof Uint8Array ? `${v.length}B` : String(v)}`);
  return `${m.op}(${parts.join(' ')})`;
}

/**
 * Up to `maxMutations` structure-aware mutations of a seed (as mutationsOf), then, on half of the
 * inputs, `repair(bytes, seed)` (in place on a copy): the format's redundancy made consistent again.
 */
export function repairedMutations(seeds: readonly Seed[], repairName: string, repair: (bytes: Buffer, seed: Seed) => void, maxMutations = 4): fc.Arbitrary<FuzzInput> {
  return fc.tuple(mutatedInput(seeds, maxMutations), fc.boolean()).map(([input, fix]) => {
    const m = materialize(input, seeds);
    let bytes = m.bytes;
    if (fix) {
      bytes = Buffer.from(bytes);
      repair(bytes, seeds[input.seed]!);
    }
    return { bytes, how: `${m.seed}: ${m.applied.map(describeMutation).join(', ')}${fix ? `, ${repairName}` : ''}` };
  });
}

function readField(b: Buffer, f: Field): number {
  if (f.size === 1) return b[f.offset]!;
  if (f.size === 2) return f.endian === 'le' ? b.readUInt16LE(f.offset) : b.readUInt16BE(f.offset);
  return f.endian === 'le' ? b.readUInt32LE(f.offset) : b.readUInt32BE(f.offset);
}

function writeField(b: Buffer, f: Field, v: number): void {
  const value = v % 2 ** (8 * f.size);
  if (f.size === 1) b[f.offset] = value;
  else if (f.size === 2) {
    if (f.endian === 'le') b.writeUInt16LE(value, f.offset);
    else b.writeUInt16BE(value, f.offset);
  } else if (f.endian === 'le') b.writeUInt32LE(value, f.offset);
  else b.writeUInt32BE(value, f.offset);
}

/**
 * Makes each pair of linked fields (two records of one number) agree again, in place: the field a
 * mutation changed (compared with the seed) wins; when both or neither changed, the first.
 */
export function syncLinked(bytes: Buffer, seed: Seed, pairs: ReadonlyArray<readonly [Field, Field]>): void {
  const end = Math.min(bytes.length, seed.bytes.length);
  for (const [a, b] of pairs) {
    if (a.offset + a.size > end || b.offset + b.size > end) continue;
    const bChanged = readField(bytes, b) !== readField(seed.bytes, b) && readField(bytes, a) === readField(seed.bytes, a);
    if (bChanged) writeField(bytes, a, readField(bytes, b));
    else writeField(bytes, b, readField(bytes, a));
  }
}
