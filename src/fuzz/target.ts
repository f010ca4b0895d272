/**
 * What a fuzz target is: the valid inputs it starts from, how it makes hostile ones, and how the product
 * reads one. The contract every target checks is the house rule for parsers: an input is either read or
 * refused with a DcmsafeError whose code is not INTERNAL, within a second, in bounded memory.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type fc from 'fast-check';
import { DcmsafeError } from '../errors/index.js';
import { materialize, mutatedInput, type Seed } from './mutate.js';

export interface FuzzInput {
  readonly bytes: Buffer;
  /** How the input was made (seed name and mutations), for the failure report. */
  readonly how: string;
}

export interface SeedContext {
  /** ../shared/corpus when present (DCMSAFE_CORPUS overrides); targets must also work without it. */
  readonly corpus: string | undefined;
}

export interface RunContext {
  /** A private scratch folder (for readers that need a path, such as ZIP); emptied by the target itself. */
  readonly scratch: string;
}

export interface FuzzTarget {
  readonly name: string;
  readonly description: string;
  /** Valid inputs: corpus files and our own writers' output, each with the fields its parser trusts. */
  seeds(ctx: SeedContext): Promise<Seed[]>;
  /** Hostile inputs; by default structure-aware mutations of the seeds. */
  arbitrary?(seeds: readonly Seed[]): fc.Arbitrary<FuzzInput>;
  /** Reads one input the way the product does (to the end: every record, every element). */
  run(input: Buffer, ctx: RunContext): Promise<unknown>;
}

/** The default hostile inputs: up to four structure-aware mutations of one seed. */
export function mutationsOf(seeds: readonly Seed[], maxMutations = 4): fc.Arbitrary<FuzzInput> {
  return mutatedInput(seeds, maxMutations).map((input) => {
    const m = materialize(input, seeds);
    return { bytes: m.bytes, how: `${m.seed}: ${m.applied.map(describeMutation).join(', ')}` };
  });
}

function describeMutation(m: { op: string } & Record<string, unknown>): string {
  const parts = Object.entries(m)
    .filter(([k]) => k !== 'op')
    .map(([k, v]) => `${k}=${v instanceof Uint8Array ? `${v.length}B` : String(v)}`);
  return `${m.op}(${parts.join(' ')})`;
}

/** How an input ended: read, refused with a typed error, or a failure of the parser. */
export type Outcome = { readonly kind: 'accepted' } | { readonly kind: 'rejected'; readonly code: string } | { readonly kind: 'crash'; readonly message: string; readonly stack: string };

export function classify(e: unknown): Outcome {
  if (e instanceof DcmsafeError && e.code !== 'INTERNAL') return { kind: 'rejected', code: e.code };
  const err = e instanceof Error ? e : new Error(String(e));
  const cause = e instanceof DcmsafeError && e.cause instanceof Error ? `\ncaused by ${e.cause.stack ?? e.cause.message}` : '';
  return { kind: 'crash', message: `${err.name}: ${err.message}`, stack: `${err.stack ?? ''}${cause}` };
}

/** Runs one input and classifies the result. */
export async function runOne(target: FuzzTarget, input: Buffer, ctx: RunContext): Promise<Outcome> {
  try {
    await target.run(input, ctx);
    return { kind: 'accepted' };
  } catch (e) {
    return classify(e);
  }
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function corpusDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.DCMSAFE_CORPUS ?? path.resolve(REPO_ROOT, '../shared/corpus');
  return existsSync(dir) ? dir : undefined;
}

/** Corpus files under `folders` (relative to the corpus), smallest first, at most `max` files of at most `maxBytes`. */
export async function corpusFiles(ctx: SeedContext, folders: readonly string[], options: { max?: number; maxBytes?: number; suffix?: RegExp } = {}): Promise<{ name: string; bytes: Buffer }[]> {
  if (!ctx.corpus) return [];
  const found: { name: string; file: string; size: number }[] = [];
  for (const folder of folders) {
    const dir = path.join(ctx.corpus, folder);
    if (!existsSync(dir)) continue;
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const file = path.join(e.parentPath, e.name);
      if (options.suffix && !options.suffix.test(e.name)) continue;
      const size = (await stat(file)).size;
      if (size <= (options.maxBytes ?? 512 * 1024)) found.push({ name: path.relative(ctx.corpus, file), file, size });
    }
  }
  found.sort((a, b) => a.size - b.size || a.name.localeCompare(b.name));
  const picked = found.slice(0, options.max ?? 24);
  return Promise.all(picked.map(async (f) => ({ name: `corpus:${f.name}`, bytes: await readFile(f.file) })));
}
