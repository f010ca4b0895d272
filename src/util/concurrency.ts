/**
 * Bounded concurrency for work over many files: at most `limit` calls in flight, started in order.
 * Used where a file's work waits on something else (a worker thread's RSA operation, the disk), so
 * several files overlap without opening them all at once. Stops starting new calls after the first
 * failure, waits for those in flight, and rethrows that failure.
 */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  if (!(limit >= 1)) throw new RangeError(`concurrency limit ${limit}`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
}
