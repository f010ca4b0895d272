/**
 * How many worker threads to start: DCMSAFE_WORKERS if set (0 turns them off), else one per core,
 * at most 8. None when the compiled worker script is not there (the TypeScript sources running under
 * a test runner): the work is then done on the calling thread, with the same results.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DcmsafeError } from '../errors/index.js';

export function workerCount(script: URL, env: NodeJS.ProcessEnv = process.env): number {
  if (!existsSync(fileURLToPath(script))) return 0;
  const asked = env.DCMSAFE_WORKERS?.trim();
  if (asked === undefined || asked === '') return Math.min(availableParallelism(), 8);
  // A typo must not quietly mean "one per core" (or none): say so.
  if (!/^\d+$/.test(asked)) throw new DcmsafeError('USAGE', `DCMSAFE_WORKERS must be a whole number of worker threads (0 for none), not "${env.DCMSAFE_WORKERS}"`, { DCMSAFE_WORKERS: env.DCMSAFE_WORKERS });
  return Math.min(Number(asked), 64);
}
