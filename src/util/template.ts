/**
 * Templates from the `templates/` folder: `{{name}}` placeholders filled from a record of values.
 * A placeholder without a value is an internal error, never an empty string on the media.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DcmsafeError } from '../errors/index.js';

/** The templates folder: beside src/ and dist/ at the top of the package. */
export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates');

export function renderTemplate(name: string, values: Readonly<Record<string, string | number>>): string {
  const text = readFileSync(path.join(TEMPLATES_DIR, name), 'utf8');
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new DcmsafeError('INTERNAL', `template ${name} needs a value for ${key}`, { template: name, key });
    return String(v);
  });
}
