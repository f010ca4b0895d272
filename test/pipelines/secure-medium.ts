/** A secure medium for the import pipeline tests: made by the CLI with the demo PKI, and import options for it. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { ImportOptions } from '../../src/pipelines/import-media.js';
import { loadCertificates } from '../../src/security/pki/certificates.js';
import { loadPrivateKey } from '../../src/security/pki/keys.js';
import { REPO, run } from '../helpers/env.js';

const CLI = path.join(REPO, 'dist', 'cli', 'main.js');

/** A signed and encrypted folder medium of `input` made by the CLI with the demo PKI in `pki`, and import options for it. */
export function secureMedium(input: string, media: string, pki: string): Omit<ImportOptions, 'openSession' | 'journalFile'> {
  const r = run('node', [CLI, 'create', input, '--media', 'folder', '--out', media, '--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')]);
  expect(r.status, r.stderr).toBe(0);
  return {
    media,
    verify: {
      trust: { anchors: loadCertificates(readFileSync(path.join(pki, 'demo-root-ca.pem'))), crls: [] },
      keys: { certificates: [{ certificate: loadCertificates(readFileSync(path.join(pki, 'media-recipient.pem')))[0]!, privateKey: loadPrivateKey(readFileSync(path.join(pki, 'media-recipient.key'))) }], passwords: [] },
      policy: 'standard',
    },
    destination: { host: '127.0.0.1', port: 2762, calledAE: 'PACS' },
    local: { patientId: 'LOCAL-1', issuerOfPatientId: 'OURHOSP' },
    retryDelayMs: 1,
  };
}
