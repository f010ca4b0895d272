/**
 * A tamper worker thread: prepares the campaign on its own copy of the image and runs the trials
 * it is given, posting each result back (the main thread tallies them). Same code as one thread,
 * so the same seed gives the same table with any number of workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { resolveKeys, resolveTrust, type VerifyFlags } from '../app/verify-inputs.js';
import { prepareCampaign } from './campaign.js';

export interface WorkerInput {
  readonly media: string;
  readonly flags: VerifyFlags;
  readonly seed: string;
  readonly trials: readonly number[];
}

const input = workerData as WorkerInput;
const port = parentPort;
if (port) {
  const prepared = await prepareCampaign({ image: await readFile(input.media), name: input.media, seed: input.seed, trust: await resolveTrust(input.flags), keys: await resolveKeys(input.flags) });
  port.postMessage({ kind: prepared.layout.kind });
  for (const k of input.trials) port.postMessage({ result: await prepared.trial(k) });
}
