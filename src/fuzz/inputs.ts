/**
 * Input number `index` of a campaign with seed `seed`: a pure function of the two, so the worker that
 * runs an input and the watchdog that saves it after a hang make the same bytes.
 */
import fc from 'fast-check';
import { corpusDir, mutationsOf, type FuzzInput, type FuzzTarget } from './target.js';
import type { Seed } from './mutate.js';

export interface PreparedTarget {
  readonly target: FuzzTarget;
  readonly seeds: readonly Seed[];
  readonly arbitrary: fc.Arbitrary<FuzzInput>;
}

export async function prepare(target: FuzzTarget): Promise<PreparedTarget> {
  const seeds = await target.seeds({ corpus: corpusDir() });
  if (seeds.length === 0) throw new Error(`fuzz target ${target.name} has no seeds`);
  return { target, seeds, arbitrary: target.arbitrary?.(seeds) ?? mutationsOf(seeds) };
}

/** Mixes the campaign seed and the input number into one 32-bit fast-check seed. */
export function inputSeed(seed: number, index: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) | 0;
}

export function inputAt(prepared: PreparedTarget, seed: number, index: number): FuzzInput {
  const [input] = fc.sample(prepared.arbitrary, { seed: inputSeed(seed, index), numRuns: 1 });
  return input!;
}
