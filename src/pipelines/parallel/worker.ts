/** Entry point of an instance pool worker thread (see pool.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerSetup } from './protocol.js';
import { serveJobs } from './serve.js';

if (parentPort) serveJobs(parentPort, workerData as WorkerSetup);
