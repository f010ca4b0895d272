// Writes the error code and finding code tables of README.md from the code (through dist/). A test
// checks that the README is in step: run `npm run docs:errors` after adding a code.
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../dist/errors/codes.js';
import { FINDING_CODES } from '../dist/pipelines/verify-report.js';
import { DIRECTORY_FINDINGS } from '../dist/dicom/dicomdir/decode.js';

export function errorCodeTable() {
  const rows = Object.entries(ERROR_CODES).map(([code, info]) => `| \`${code}\` | ${info.fault} | ${info.summary} |`);
  return ['| code | fault | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function findingCodeTable() {
  const all = { ...FINDING_CODES, ...DIRECTORY_FINDINGS };
  const rows = Object.entries(all).map(([code, info]) => `| \`${code}\` | ${info.severity} | ${info.summary} |`);
  return ['| code | severity | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function withTables(readme) {
  return readme
    .replace(/(<!-- error-codes:start -->)[\s\S]*?(<!-- error-codes:end -->)/, `$1\n${errorCodeTable()}\n$2`)
    .replace(/(<!-- finding-codes:start -->)[\s\S]*?(<!-- finding-codes:end -->)/, `$1\n${findingCodeTable()}\n$2`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, withTables(readFileSync(path, 'utf8')));
}
