/**
 * A target that fails on purpose, one way per input: the campaign's own test (not in `all`).
 * Inputs are one word: ok, typed, crash, loop (never returns to the event loop), never (a promise that
 * never settles), slow (1.5 s), alloc (a 300 MiB buffer), heap (grows the V8 heap until the limit).
 */
import fc from 'fast-check';
import { DcmsafeError } from '../../errors/index.js';
import type { FuzzTarget } from '../target.js';

const WORDS = ['ok', 'typed', 'crash', 'loop', 'never', 'slow', 'alloc', 'heap'] as const;
const kept: unknown[] = [];

export const selftestTarget: FuzzTarget = {
  name: 'selftest',
  description: 'fails on purpose, one way per input (tests the campaign itself)',
  seeds() {
    return Promise.resolve(WORDS.map((w) => ({ name: w, bytes: Buffer.from(w), fields: [] })));
  },
  arbitrary() {
    return fc.constantFrom(...WORDS).map((w) => ({ bytes: Buffer.from(w), how: w }));
  },
  async run(input) {
    switch (input.toString()) {
      case 'typed':
        throw new DcmsafeError('PART10_NOT_DICOM', 'refused, as it should be');
      case 'crash':
        throw new TypeError('a parser bug');
      case 'loop':
        for (;;);
      case 'never':
        return new Promise(() => {});
      case 'slow':
        return new Promise((resolve) => setTimeout(resolve, 1500));
      case 'alloc':
        kept.length = 0;
        return Buffer.alloc(300 * 1024 * 1024, 1);
      case 'heap':
        for (;;) kept.push(new Array(1_000_000).fill(kept.length));
      default:
        return undefined;
    }
  },
};
