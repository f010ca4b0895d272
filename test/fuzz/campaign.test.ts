/**
 * The fuzz campaign itself: inputs are a pure function of (seed, index); each way a parser can fail
 * (an untyped throw, a loop that never yields, a promise that never settles, a slow input, a huge
 * allocation, a heap that grows without end) is caught, named and saved; the real targets start from
 * seeds their parsers accept (a target whose seeds are all refused would fuzz nothing but the refusal).
 * The campaign runs worker threads from dist/ (built by `npm test` before vitest).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type * as Campaign from '../../src/fuzz/campaign.js';
import { inputAt, prepare } from '../../src/fuzz/inputs.js';
import { apply, type Seed } from '../../src/fuzz/mutate.js';
import { corpusDir, runOne } from '../../src/fuzz/target.js';
import { loadTarget, TARGET_NAMES } from '../../src/fuzz/targets/index.js';
import { REPO, tempDir } from '../helpers/env.js';

describe('fuzz inputs', () => {
  it('are the same bytes for the same seed and index, different for another index', async () => {
    const prepared = await prepare(await loadTarget('part10'));
    const a = inputAt(prepared, 7, 123);
    const b = inputAt(prepared, 7, 123);
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    expect(a.how).toBe(b.how);
    const others = [124, 125, 126, 127].map((i) => inputAt(prepared, 7, i).how);
    expect(others.some((h) => h !== a.how)).toBe(true);
  });

  it('mutations never change the seed they start from', () => {
    const seed: Seed = { name: 's', bytes: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), fields: [{ offset: 0, size: 4, endian: 'le' }] };
    const copy = Buffer.from(seed.bytes);
    apply({ op: 'field', field: 0, value: 0xffffffff }, seed.bytes, seed, [seed]);
    apply({ op: 'flip', at: 3, bit: 7 }, seed.bytes, seed, [seed]);
    apply({ op: 'byte', at: 1, value: 0 }, seed.bytes, seed, [seed]);
    expect(seed.bytes.equals(copy)).toBe(true);
    expect(apply({ op: 'field', field: 0, value: -1 }, seed.bytes, seed, [seed]).readUInt32LE(0)).toBe(0xffffffff);
    expect(apply({ op: 'truncate', at: 3 }, seed.bytes, seed, [seed]).length).toBe(3);
    expect([...apply({ op: 'delete', at: 2, length: 2 }, seed.bytes, seed, [seed])]).toEqual([1, 2, 5, 6, 7, 8]);
  });
});

describe.each(TARGET_NAMES.map((t) => [t]))('fuzz target %s', (name) => {
  it('has seeds, and its parser accepts most of them', async () => {
    const target = await loadTarget(name);
    const seeds = await target.seeds({ corpus: corpusDir() });
    expect(seeds.length).toBeGreaterThan(0);
    let accepted = 0;
    for (const s of seeds) if ((await runOne(target, s.bytes, { scratch: await tempDir(`fuzz-seed-${name}`) })).kind === 'accepted') accepted++;
    expect(accepted / seeds.length).toBeGreaterThan(0.5);
  });
});

describe('fuzz campaign', () => {
  it('names and saves each kind of failure, and goes on after a hang or a dead worker', async () => {
    // The campaign's workers are compiled files, so the campaign is taken from dist/ too.
    const { runCampaign } = (await import(path.join(REPO, 'dist', 'fuzz', 'campaign.js'))) as typeof Campaign;
    const fixtures = await tempDir('fuzz-selftest');
    const report = await runCampaign({ target: 'selftest', iterations: 24, seed: 3, timeoutMs: 600, fixtures, heapLimitMb: 128 });
    const prepared = await prepare(await loadTarget('selftest'));
    const expected: Record<string, string | undefined> = { crash: 'crash', loop: 'hang', never: 'hang', slow: 'slow', alloc: 'memory', heap: 'memory', ok: undefined, typed: undefined };
    for (let i = 0; i < 24; i++) {
      const word = inputAt(prepared, 3, i).how;
      const failure = report.failures.find((f) => f.index === i);
      expect(failure?.kind, `input ${i} (${word})`).toBe(expected[word]);
    }
    expect(report.accepted + Object.values(report.rejected).reduce((a, b) => a + b, 0) + report.failures.length).toBe(24);
    const saved = readdirSync(path.join(fixtures, 'selftest'));
    expect(saved.filter((f) => f.endsWith('.bin')).length).toBeGreaterThan(0);
    const note = JSON.parse(readFileSync(path.join(fixtures, 'selftest', saved.find((f) => f.startsWith('crash') && f.endsWith('.json'))!), 'utf8')) as { message: string; how: string };
    expect(note.message).toMatch(/TypeError: a parser bug/);
    expect(existsSync(path.join(fixtures, 'selftest'))).toBe(true);
    // Workers stopped after a hang or killed by the heap limit leave no scratch folder behind.
    expect(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`dcmsafe-fuzz-${process.pid}-`))).toEqual([]);
  }, 120_000);
});
