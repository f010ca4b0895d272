/**
 * Every input a fuzz campaign ever failed on (saved under test/fuzz/fixtures/TARGET/, with a JSON note
 * saying what the bug was) is read again: it must now be read or refused with a typed error, within a
 * second.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runOne } from '../../src/fuzz/target.js';
import { loadTarget, TARGET_NAMES } from '../../src/fuzz/targets/index.js';
import { REPO } from '../helpers/env.js';

const FIXTURES = path.join(REPO, 'test', 'fuzz', 'fixtures');
const fixtures = existsSync(FIXTURES)
  ? readdirSync(FIXTURES, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) =>
        readdirSync(path.join(FIXTURES, d.name))
          .filter((f) => f.endsWith('.bin'))
          .map((f) => ({ target: d.name, file: path.join(FIXTURES, d.name, f) })),
      )
  : [];

const scratches: string[] = [];
afterAll(async () => {
  for (const s of scratches) await rm(s, { recursive: true, force: true });
});

describe('fuzz regressions', () => {
  it('every fixture folder names a target', () => {
    for (const f of fixtures) expect(TARGET_NAMES).toContain(f.target);
  });

  it.each(fixtures.map((f) => [`${f.target}/${path.basename(f.file)}`, f] as const))('%s is read or refused with a typed error within a second', async (_name, f) => {
    const note = JSON.parse(readFileSync(f.file.replace(/\.bin$/, '.json'), 'utf8')) as { message: string };
    expect(note.message.length).toBeGreaterThan(0);
    const target = await loadTarget(f.target);
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'dcmsafe-fuzz-regression-'));
    scratches.push(scratch);
    const started = performance.now();
    const outcome = await runOne(target, readFileSync(f.file), { scratch });
    const ms = performance.now() - started;
    expect(outcome.kind === 'crash' ? `${outcome.message}\n${outcome.stack}` : outcome.kind).not.toMatch(/crash|Error/);
    expect(ms).toBeLessThan(1000);
  });
});
