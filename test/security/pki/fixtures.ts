/**
 * Test PKI built with our own issuer (src/security/pki/issue.ts) and pinned dates, so that trust
 * results do not depend on the day the tests run. Shared by the trust tests and the OpenSSL interop
 * tests. 2048-bit keys: generation is the slow part of these tests.
 */
import type { KeyObject } from 'node:crypto';
import { generateRsaKeyPair, issueCertificate, type IssueCertificateOptions } from '../../../src/security/pki/issue.js';

export const D = (s: string): Date => new Date(`${s}T00:00:00Z`);

/** The times every scenario uses unless it says otherwise. */
export const SIGNING_TIME = D('2024-06-01');
export const NOW = D('2025-01-01');

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface Credential {
  cert: Buffer;
  key: KeyPair;
}

let serial = 100n;

/** Issues with test defaults: valid 2023-01-01 to 2027-01-01, a fresh serial. */
export function issue(
  subjectCN: string,
  key: KeyPair,
  issuer: Credential | undefined,
  extra: Partial<IssueCertificateOptions> = {},
): Credential {
  const cert = issueCertificate({
    subject: { O: 'dcmsafe test', CN: subjectCN },
    publicKey: key.publicKey,
    ...(issuer ? { issuer: { certificate: issuer.cert, privateKey: issuer.key.privateKey } } : { signingKey: key.privateKey }),
    serialNumber: serial++,
    notBefore: D('2023-01-01'),
    notAfter: D('2027-01-01'),
    ...extra,
  });
  return { cert, key };
}

export interface TestPki {
  keys: KeyPair[];
  root: Credential;
  intermediate: Credential;
  signer: Credential;
  otherRoot: Credential;
}

/** Root (valid 2020-2040) -> intermediate -> signer (digitalSignature, nonRepudiation); and an unrelated root. */
export async function makeTestPki(): Promise<TestPki> {
  const keys = await Promise.all([0, 1, 2, 3, 4, 5].map(() => generateRsaKeyPair(2048)));
  const [rootKey, intKey, signerKey, otherKey] = keys as [KeyPair, KeyPair, KeyPair, KeyPair];
  const root = issue('Test Root CA', rootKey, undefined, {
    isCA: true,
    keyUsage: ['keyCertSign', 'cRLSign'],
    notBefore: D('2020-01-01'),
    notAfter: D('2040-01-01'),
  });
  const intermediate = issue('Test Intermediate CA', intKey, root, {
    isCA: true,
    pathLength: 0,
    keyUsage: ['keyCertSign', 'cRLSign'],
    notBefore: D('2021-01-01'),
    notAfter: D('2035-01-01'),
  });
  const signer = issue('Test Media Signer', signerKey, intermediate, { keyUsage: ['digitalSignature', 'nonRepudiation'] });
  const otherRoot = issue('Other Root CA', otherKey, undefined, {
    isCA: true,
    keyUsage: ['keyCertSign', 'cRLSign'],
    notBefore: D('2020-01-01'),
    notAfter: D('2040-01-01'),
  });
  return { keys, root, intermediate, signer, otherRoot };
}
