// Writes the error code table of README.md from src/errors/codes.ts (through dist/). A test checks
// that the README is in step: run `npm run docs:errors` after adding a code.
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../dist/errors/codes.js';

export function errorCodeTable() {
  const rows = Object.entries(ERROR_CODES).map(([code, info]) => `| \`${code}\` | ${info.fault} | ${info.summary} |`);
  return ['| code | fault | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function withErrorCodeTable(readme) {
  return readme.replace(/(<!-- error-codes:start -->\n)[\s\S]*?(\n<!-- error-codes:end -->)/, `$1${errorCodeTable()}$2`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, withErrorCodeTable(readFileSync(path, 'utf8')));
}
