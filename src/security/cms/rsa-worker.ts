/** Entry point of an RSA service worker thread (see rsa-service.ts): raw private operations on the keys it was given. */
import type { KeyObject } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { rawPrivate } from './rsa.js';

const keys = workerData as readonly KeyObject[];
parentPort?.on('message', (m: { id: number; key: number; c: Uint8Array }) => {
  const key = keys[m.key];
  const em = key ? rawPrivate(key, Buffer.from(m.c.buffer, m.c.byteOffset, m.c.length)) : null;
  parentPort?.postMessage({ id: m.id, em: em ? new Uint8Array(em) : null });
});
