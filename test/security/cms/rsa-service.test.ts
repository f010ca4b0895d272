/**
 * The RSA service (content keys decrypted on worker threads) gives the same content keys as the
 * in-thread operation, and a wrong key still opens nothing. It needs the compiled worker script, so
 * it runs the build in dist/ (npm test builds first).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateRsaKeyPair } from '../../../src/security/pki/issue.js';
import { encryptPkcs1v15 } from '../../../src/security/cms/rsa.js';
import { seededRandom } from '../../../src/util/random.js';
import { REPO } from '../../helpers/env.js';
import type * as Service from '../../../src/security/cms/rsa-service.js';
import type * as Rsa from '../../../src/security/cms/rsa.js';

const DIST = path.join(REPO, 'dist/security/cms/rsa-service.js');

describe.skipIf(!existsSync(DIST))('RSA service (dist)', () => {
  it('decrypts content keys on worker threads exactly as here; a key that does not fit opens nothing', async () => {
    const { startRsaService } = (await import(DIST)) as typeof Service;
    const { decodePkcs1v15 } = (await import(path.join(REPO, 'dist/security/cms/rsa.js'))) as typeof Rsa;
    const [a, b] = await Promise.all([generateRsaKeyPair(2048), generateRsaKeyPair(2048)]);
    const service = startRsaService({ certificates: [{ certificate: Buffer.alloc(0), privateKey: a.privateKey }, { certificate: Buffer.alloc(0), privateKey: b.privateKey }] }, 2);
    expect(service).toBeDefined();
    try {
      const [forA, forB] = service?.keys.certificates?.map((c) => c.rawPrivate) ?? [];
      const random = seededRandom('rsa service');
      const keys = Array.from({ length: 24 }, () => random.bytes(32));
      const cipher = keys.map((k) => encryptPkcs1v15(a.publicKey, k, random));
      const opened = await Promise.all(cipher.map((c) => forA?.(c)));
      opened.forEach((em, i) => expect(decodePkcs1v15(em ?? null)?.equals(keys[i] as Buffer)).toBe(true));
      expect(decodePkcs1v15((await forB?.(cipher[0] as Buffer)) ?? null)).toBeNull();
      expect(await forA?.(Buffer.alloc(300, 0xff))).toBeNull(); // longer than the modulus
    } finally {
      await service?.close();
    }
  }, 60_000);

  it('is not started without certificate keys or worker threads', async () => {
    const { startRsaService } = (await import(DIST)) as typeof Service;
    expect(startRsaService({ passwords: ['x'] }, 2)).toBeUndefined();
    const a = await generateRsaKeyPair(2048);
    expect(startRsaService({ certificates: [{ certificate: Buffer.alloc(0), privateKey: a.privateKey }] }, 0)).toBeUndefined();
  }, 60_000);
});
