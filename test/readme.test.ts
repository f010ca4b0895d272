import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors/codes.js';
import { REPO } from './helpers/env.js';

describe('README', () => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');

  it('lists every error code with its fault and meaning (npm run docs:errors)', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(readme, code).toContain(`| \`${code}\` | ${info.fault} | ${info.summary} |`);
    }
  });

  it('lists every verify finding code with its severity and meaning (npm run docs:errors)', async () => {
    const { FINDING_CODES } = await import('../src/pipelines/verify-report.js');
    const { DIRECTORY_FINDINGS } = await import('../src/dicom/dicomdir/decode.js');
    for (const [code, info] of Object.entries({ ...FINDING_CODES, ...DIRECTORY_FINDINGS })) {
      expect(readme, code).toContain(`| \`${code}\` | ${info.severity} | ${info.summary} |`);
    }
  });

  it('gives the two set-up commands on its first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 15).join('\n');
    expect(firstScreen).toContain('npm ci && npm start');
    expect(firstScreen).toContain('sudo ./scripts/install-reference-tools.sh && npm test');
  });
});
