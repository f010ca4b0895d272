import { describe, expect, it } from 'vitest';
import { forEachBounded } from '../../src/util/concurrency.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('forEachBounded', () => {
  it('starts calls in order with at most `limit` in flight, and visits every item once', async () => {
    const started: number[] = [];
    let inFlight = 0;
    let most = 0;
    await forEachBounded([5, 1, 4, 2, 3, 1, 2], 3, async (ms, i) => {
      started.push(i);
      most = Math.max(most, ++inFlight);
      await tick(ms);
      inFlight--;
    });
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });

  it('stops starting calls after a failure, lets the ones in flight finish, rethrows the first failure', async () => {
    const done: number[] = [];
    await expect(
      forEachBounded([0, 1, 2, 3, 4, 5], 2, async (_, i) => {
        await tick(i === 1 ? 1 : 5);
        if (i === 1) throw new Error('one');
        done.push(i);
      }),
    ).rejects.toThrow('one');
    expect(done).toEqual([0]);
  });

  it('does nothing for no items and refuses a limit below one', async () => {
    await forEachBounded([], 4, () => Promise.reject(new Error('never')));
    await expect(forEachBounded([1], 0, () => Promise.resolve())).rejects.toThrow(RangeError);
  });
});
