/** DCMSAFE_WORKERS: a number chooses, 0 turns workers off, unset means one per core (at most 8), anything else is a usage error. */
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { workerCount } from '../../src/util/workers.js';
import { expectCode } from '../helpers/errors.js';

// Any file that exists stands for the compiled worker script.
const SCRIPT = new URL(import.meta.url);

describe('workerCount', () => {
  it('follows DCMSAFE_WORKERS, capped at 64, and defaults to one per core up to 8', () => {
    expect(workerCount(SCRIPT, { DCMSAFE_WORKERS: '3' })).toBe(3);
    expect(workerCount(SCRIPT, { DCMSAFE_WORKERS: '0' })).toBe(0);
    expect(workerCount(SCRIPT, { DCMSAFE_WORKERS: '500' })).toBe(64);
    expect(workerCount(SCRIPT, {})).toBe(Math.min(availableParallelism(), 8));
    expect(workerCount(SCRIPT, { DCMSAFE_WORKERS: ' ' })).toBe(Math.min(availableParallelism(), 8));
  });

  it('refuses a value that is not a whole number', async () => {
    for (const v of ['two', '-1', '1.5', '4x']) await expectCode((async () => workerCount(SCRIPT, { DCMSAFE_WORKERS: v }))(), 'USAGE', /DCMSAFE_WORKERS/);
  });

  it('is 0 when the worker script is missing (sources under a test runner)', () => {
    expect(workerCount(new URL('file:///nonexistent/worker.js'), { DCMSAFE_WORKERS: '4' })).toBe(0);
  });
});
