/**
 * Content keys of Secure DICOM Files decrypted on worker threads. Opening a file costs one RSA
 * private operation (about 2 ms for a 3072-bit key), more than decrypting and hashing half a megabyte
 * of its content: with the operation on other cores, the thread that streams files keeps streaming
 * while several files wait for their keys. The keys go to the workers once; each call sends only the
 * encrypted content key (a few hundred octets) and gets the raw result back.
 */
import { Worker } from 'node:worker_threads';
import { DcmsafeError } from '../../errors/index.js';
import { workerCount } from '../../util/workers.js';
import type { RawPrivateOperation } from './ktri.js';
import type { DecryptionKeys } from './reader.js';
import { rawPrivate } from './rsa.js';

const WORKER_SCRIPT = new URL('./rsa-worker.js', import.meta.url);

export interface RsaService {
  /** The same keys, each certificate key's raw operation done by the service. */
  readonly keys: DecryptionKeys;
  close(): Promise<void>;
}

interface Pending {
  resolve(em: Buffer | null): void;
  reject(e: Error): void;
}

interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
}

/** An RSA service for these keys, or undefined when there is nothing to gain (no key, no worker threads). */
export function startRsaService(keys: DecryptionKeys, workers = workerCount(WORKER_SCRIPT)): RsaService | undefined {
  const certificates = keys.certificates ?? [];
  if (workers < 1 || certificates.length === 0) return undefined;
  const privateKeys = certificates.map((c) => c.privateKey);
  let nextId = 1;
  let broken = false;
  const threads: Thread[] = Array.from({ length: workers }, () => {
    const thread: Thread = { worker: new Worker(WORKER_SCRIPT, { workerData: privateKeys, resourceLimits: { maxYoungGenerationSizeMb: 2 } }), pending: new Map() };
    thread.worker.on('message', (m: { id: number; em: Uint8Array | null }) => {
      const p = thread.pending.get(m.id);
      thread.pending.delete(m.id);
      p?.resolve(m.em ? Buffer.from(m.em.buffer, m.em.byteOffset, m.em.length) : null);
    });
    thread.worker.on('error', (e) => {
      // Done here from now on; what was waiting on this thread fails (its file is reported unreadable).
      broken = true;
      for (const p of thread.pending.values()) p.reject(new DcmsafeError('INTERNAL', `an RSA worker thread failed: ${e.message}`, {}, { cause: e }));
      thread.pending.clear();
    });
    return thread;
  });

  const operation = (index: number): RawPrivateOperation => (c) => {
    if (broken) return Promise.resolve(rawPrivate(privateKeys[index] as NonNullable<(typeof privateKeys)[number]>, c));
    // The thread with the fewest operations waiting.
    const thread = threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = nextId++;
    return new Promise<Buffer | null>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      // A copy of just these octets: a Buffer is often a view into a large read buffer, and posting a
      // view clones the whole buffer under it.
      thread.worker.postMessage({ id, key: index, c: new Uint8Array(c) });
    });
  };

  return {
    keys: { ...keys, certificates: certificates.map((c, i) => ({ ...c, rawPrivate: operation(i) })) },
    close: async () => {
      for (const t of threads) for (const p of t.pending.values()) p.reject(new DcmsafeError('INTERNAL', 'the RSA service was closed'));
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}

/**
 * An RSA service started on the first content key it is asked for: a medium without certificate-
 * encrypted files (plain, or password media) costs no threads. close() stops it if it was started.
 */
export function lazyRsaService(keys: DecryptionKeys, workers = workerCount(WORKER_SCRIPT)): RsaService {
  const certificates = keys.certificates ?? [];
  if (workers < 1 || certificates.length === 0) return { keys, close: () => Promise.resolve() };
  let service: RsaService | undefined;
  const operation =
    (index: number): RawPrivateOperation =>
    (c) => {
      service ??= startRsaService(keys, workers) as RsaService;
      return (service.keys.certificates?.[index]?.rawPrivate as RawPrivateOperation)(c);
    };
  return {
    keys: { ...keys, certificates: certificates.map((c, i) => ({ ...c, rawPrivate: operation(i) })) },
    close: async () => {
      await service?.close();
    },
  };
}
