/**
 * How many worker threads to start: DCMSAFE_WORKERS if set (0 turns them off), else one per core,
 * at most 8. None when the compiled worker script is not there (the TypeScript sources running under
 * a test runner): the work is then done on the calling thread, with the same results.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

export function workerCount(script: URL, env: NodeJS.ProcessEnv = process.env): number {
  if (!existsSync(fileURLToPath(script))) return 0;
  const asked = env.DCMSAFE_WORKERS;
  if (asked !== undefined && /^\d+$/.test(asked)) return Math.min(Number(asked), 64);
  return Math.min(availableParallelism(), 8);
}
