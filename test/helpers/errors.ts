/** Assertions on dcmsafe's typed errors. */
import { expect } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';

/** Awaits `p`, which must reject with a DcmsafeError of `code` (and a message matching `pattern`). */
export async function expectCode(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<DcmsafeError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(DcmsafeError);
  expect((caught as DcmsafeError).code, (caught as Error).message).toBe(code);
  if (pattern) expect((caught as DcmsafeError).message).toMatch(pattern);
  return caught as DcmsafeError;
}
