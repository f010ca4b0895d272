/**
 * Randomness, injected. Production uses the operating system's generator; tests and reproducible
 * runs use a seeded generator (SHA-256 in counter mode), so the same seed gives the same bytes.
 * `fork(label)` gives an independent stream per purpose (e.g. per file), so what a file gets does not
 * depend on the order in which a medium writer happens to reach it.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Random {
  bytes(n: number): Buffer;
  fork(label: string): Random;
}

export const systemRandom: Random = { bytes: (n) => randomBytes(n), fork: () => systemRandom };

/** What another thread needs to rebuild a Random: the system's, or a seeded one's seed. */
export type RandomSpec = { readonly kind: 'system' } | { readonly kind: 'seeded'; readonly seed: string };

const seeds = new WeakMap<Random, string>();

/** The spec of a Random another thread can rebuild with `randomFromSpec`, or undefined (a test's own Random). */
export function randomSpec(random: Random): RandomSpec | undefined {
  if (random === systemRandom) return { kind: 'system' };
  const seed = seeds.get(random);
  return seed === undefined ? undefined : { kind: 'seeded', seed };
}

export function randomFromSpec(spec: RandomSpec): Random {
  return spec.kind === 'system' ? systemRandom : seededRandom(spec.seed);
}

export function seededRandom(seed: string): Random {
  let counter = 0;
  let pool = Buffer.alloc(0);
  const random: Random = {
    bytes(n: number): Buffer {
      while (pool.length < n) {
        const block = createHash('sha256').update(seed).update(String(counter++)).digest();
        pool = Buffer.concat([pool, block]);
      }
      const out = pool.subarray(0, n);
      pool = pool.subarray(n);
      return Buffer.from(out);
    },
    fork: (label: string) => seededRandom(`${seed}\u0000${label}`),
  };
  seeds.set(random, seed);
  return random;
}
