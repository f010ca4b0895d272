/**
 * Operator accounts: scrypt hashes, lock-out, file modes, and no lost updates when several stores
 * or processes change the file at once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkPasswordStrength,
  DEFAULT_SCRYPT_COST,
  hashPassword,
  MAX_FAILED_ATTEMPTS,
  OperatorStore,
  verifyPassword,
  type ScryptCost,
} from '../../src/operators/store.js';
import { fixedClock } from '../../src/util/clock.js';
import { tempDir } from '../helpers/env.js';
import { expectCode } from '../helpers/errors.js';

const PASSWORD = 'correct horse battery staple';
const OTHER = 'Tr0ubadour&3-blue-kettle';
/** Cheaper hashes where a test makes many (the default cost is checked separately). */
const FAST: ScryptCost = { ln: 10, r: 8, p: 1 };

describe('passwords', () => {
  it('hashes as $scrypt$ln=..,r=8,p=..$salt$hash with a fresh salt each time', async () => {
    const a = await hashPassword(PASSWORD);
    const b = await hashPassword(PASSWORD);
    expect(a).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(PASSWORD);
    expect(await verifyPassword(PASSWORD, a)).toBe(true);
    expect(await verifyPassword(PASSWORD, b)).toBe(true);
    expect(await verifyPassword(`${PASSWORD}!`, a)).toBe(false);
    expect(await verifyPassword(PASSWORD, 'garbage')).toBe(false);
  });

  it('keeps the cost with the hash, so that it can be raised later', async () => {
    const cheap = await hashPassword(PASSWORD, FAST);
    expect(cheap.startsWith('$scrypt$ln=10,r=8,p=1$')).toBe(true);
    expect(await verifyPassword(PASSWORD, cheap)).toBe(true);
    // More than 64 MiB is refused rather than computed.
    expect(await verifyPassword(PASSWORD, cheap.replace('ln=10', 'ln=20'))).toBe(false);
  });

  it('normalises to NFC: composed and decomposed accents are the same password', async () => {
    const composed = 'Grüße aus Köln, 2024';
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const h = await hashPassword(composed, FAST);
    expect(await verifyPassword(decomposed, h)).toBe(true);
    expect(await verifyPassword('Grusse aus Koln, 2024', h)).toBe(false);
  });

  it('refuses weak passwords without repeating them', () => {
    for (const weak of ['kx7!q', 'elevenchars', 'password1234', 'Password1234', 'qwertyuiopas', 'aaaaaaaaaaaaaa', '123456789012345', 'zyxwvutsrqpon', 'abcabcabcabc', '0987654321098', 'abababababab']) {
      let caught: unknown;
      try {
        checkPasswordStrength(weak);
      } catch (e) {
        caught = e;
      }
      expect((caught as { code?: string }).code, weak).toBe('OPERATOR_PASSWORD_WEAK');
      expect((caught as Error).message).not.toContain(weak);
    }
    expect(() => checkPasswordStrength('x'.repeat(1025) + 'y')).toThrow(/too long/);
    checkPasswordStrength(PASSWORD);
    checkPasswordStrength('ÄÖÜäöüß€¥£©®'); // 12 characters, not 12 bytes
    expect(() => checkPasswordStrength('ÄÖÜäöüß€¥£©')).toThrow(/too short/);
  });
});

describe('OperatorStore', () => {
  const tmp = tempDir();
  let n = 0;
  const fresh = (): string => path.join(tmp, `case${++n}`, 'dcmsafe', 'operators.json');

  it('adds, lists, changes passwords and removes accounts', async () => {
    const file = fresh();
    const store = await OperatorStore.open(file, { clock: fixedClock('2026-01-01T08:00:00Z') });
    expect(store.list()).toEqual([]);
    expect(existsSync(file)).toBe(false);
    await store.add('alice', 'admin', PASSWORD);
    await store.add('bob.smith@ward-3', 'clerk', OTHER);
    expect(store.list()).toEqual([
      { name: 'alice', role: 'admin', created: '2026-01-01T08:00:00.000Z', failedAttempts: 0, locked: false },
      { name: 'bob.smith@ward-3', role: 'clerk', created: '2026-01-01T08:00:00.000Z', failedAttempts: 0, locked: false },
    ]);
    const signedIn = await store.authenticate('alice', PASSWORD);
    expect(signedIn).toEqual({ ok: true, operator: { name: 'alice', role: 'admin', created: '2026-01-01T08:00:00.000Z', failedAttempts: 0, locked: false, lastSignIn: '2026-01-01T08:00:00.000Z' } });

    await store.setPassword('alice', OTHER);
    expect((await store.authenticate('alice', PASSWORD)).ok).toBe(false);
    expect((await store.authenticate('alice', OTHER)).ok).toBe(true);

    await store.remove('bob.smith@ward-3');
    expect(store.list().map((o) => o.name)).toEqual(['alice']);
    const reopened = await OperatorStore.open(file);
    expect(reopened.list().map((o) => o.name)).toEqual(['alice']);
  });

  it('refuses duplicates, unknown names, bad names and weak passwords', async () => {
    const store = await OperatorStore.open(fresh());
    await store.add('carol', 'clerk', PASSWORD);
    await expectCode(store.add('carol', 'admin', OTHER), 'OPERATOR_EXISTS');
    await expectCode(store.add('Carol', 'admin', OTHER), 'OPERATOR_EXISTS', /differing only in case/);
    await expectCode(store.remove('dave'), 'OPERATOR_UNKNOWN');
    await expectCode(store.setPassword('dave', OTHER), 'OPERATOR_UNKNOWN');
    await expectCode(store.add('', 'clerk', PASSWORD), 'USAGE');
    await expectCode(store.add('has space', 'clerk', PASSWORD), 'USAGE');
    await expectCode(store.add('x'.repeat(65), 'clerk', PASSWORD), 'USAGE');
    await expectCode(store.add('erin', 'root' as 'admin', PASSWORD), 'USAGE');
    await expectCode(store.add('erin', 'clerk', 'too short'), 'OPERATOR_PASSWORD_WEAK');
    await expectCode(store.add('erin', 'clerk', 'password1234'), 'OPERATOR_PASSWORD_WEAK');
    await expectCode(store.add('frances', 'clerk', 'my name is Frances!'), 'OPERATOR_PASSWORD_WEAK', /operator name/);
    await expectCode(store.setPassword('carol', 'qwertyuiopas'), 'OPERATOR_PASSWORD_WEAK');
    expect(store.list().map((o) => o.name)).toEqual(['carol']);
  });

  it('tells unknown names and wrong passwords apart only in its result', async () => {
    const store = await OperatorStore.open(fresh());
    await store.add('gina', 'clerk', PASSWORD);
    expect(await store.authenticate('nobody', PASSWORD)).toEqual({ ok: false, reason: 'unknown' });
    const wrong = await store.authenticate('gina', OTHER);
    expect(wrong.ok).toBe(false);
    expect(wrong.ok === false && wrong.reason).toBe('wrong-password');
    expect(store.list()[0]?.failedAttempts).toBe(1);
  });

  it('costs one scrypt for an unknown name as for a known one', async () => {
    const store = await OperatorStore.open(fresh());
    await store.add('hugo', 'clerk', PASSWORD);
    await store.add('hugo2', 'clerk', PASSWORD);
    const time = async (name: string): Promise<number> => {
      const t = performance.now();
      await store.authenticate(name, OTHER);
      return performance.now() - t;
    };
    await time('warm-up');
    const known = [await time('hugo'), await time('hugo2'), await time('hugo')].sort((a, b) => a - b)[1] as number;
    const unknown = [await time('nobody'), await time('nobody2'), await time('nobody3')].sort((a, b) => a - b)[1] as number;
    expect(unknown).toBeGreaterThan(known * 0.5);
    expect(unknown).toBeLessThan(known * 2);
  });

  it(`locks an account after ${MAX_FAILED_ATTEMPTS} failures in a row until passwd`, async () => {
    const file = fresh();
    const store = await OperatorStore.open(file);
    await store.add('ivan', 'clerk', PASSWORD);
    // A success resets the count.
    for (let i = 0; i < MAX_FAILED_ATTEMPTS - 1; i++) expect((await store.authenticate('ivan', OTHER)).ok).toBe(false);
    expect((await store.authenticate('ivan', PASSWORD)).ok).toBe(true);
    expect(store.list()[0]?.failedAttempts).toBe(0);

    for (let i = 1; i <= MAX_FAILED_ATTEMPTS; i++) {
      const r = await store.authenticate('ivan', OTHER);
      expect(r).toMatchObject({ ok: false, reason: 'wrong-password', operator: { failedAttempts: i, locked: i === MAX_FAILED_ATTEMPTS } });
    }
    // The sixth attempt, with the right password, is still refused; so after reopening (persisted).
    expect(await store.authenticate('ivan', PASSWORD)).toMatchObject({ ok: false, reason: 'locked', operator: { locked: true } });
    const other = await OperatorStore.open(file);
    expect(other.list()[0]).toMatchObject({ locked: true, failedAttempts: MAX_FAILED_ATTEMPTS + 1 });
    expect(await other.authenticate('ivan', PASSWORD)).toMatchObject({ ok: false, reason: 'locked' });

    await other.setPassword('ivan', OTHER);
    expect(other.list()[0]).toMatchObject({ locked: false, failedAttempts: 0 });
    expect((await store.authenticate('ivan', PASSWORD)).ok).toBe(false);
    expect((await store.authenticate('ivan', OTHER)).ok).toBe(true);
  });

  it('keeps the file 0600 in a 0700 folder, with hashes only', async () => {
    const file = fresh();
    const store = await OperatorStore.open(file);
    await store.add('judy', 'admin', PASSWORD);
    await store.add('ken', 'clerk', PASSWORD);
    await store.authenticate('judy', PASSWORD);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(PASSWORD).toString('base64').slice(0, 16));
    const doc = JSON.parse(text) as { version: number; operators: { password: string }[] };
    expect(doc.version).toBe(1);
    const [h1, h2] = doc.operators.map((o) => o.password);
    expect(h1).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(h1).not.toBe(h2); // same password, different salts
    // No lock or temporary file is left behind.
    expect(readdirSync(path.dirname(file))).toEqual(['operators.json']);
  });

  it('refuses a damaged file instead of starting afresh', async () => {
    const file = fresh();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '{"version": 1, "operators": [{"name": "x"}]}');
    await expectCode(OperatorStore.open(file), 'CONFIG_INVALID', /operators\[0\] is malformed/);
    writeFileSync(file, 'not json');
    await expectCode(OperatorStore.open(file), 'CONFIG_INVALID', /not valid JSON/);
  });

  it('loses no update when two stores change the file at once', async () => {
    const file = fresh();
    const a = await OperatorStore.open(file, { scryptCost: FAST });
    const b = await OperatorStore.open(file, { scryptCost: FAST });
    await Promise.all([
      ...Array.from({ length: 12 }, (_, i) => a.add(`a${i}`, 'clerk', PASSWORD)),
      ...Array.from({ length: 12 }, (_, i) => b.add(`b${i}`, 'clerk', PASSWORD)),
    ]);
    const names = (await OperatorStore.open(file)).list().map((o) => o.name).sort();
    expect(names).toHaveLength(24);
    expect(new Set(names).size).toBe(24);

    // Failed sign-ins counted from both stores in parallel all count.
    await Promise.all([a.authenticate('a0', OTHER), b.authenticate('a0', OTHER), a.authenticate('a0', OTHER), b.authenticate('a0', OTHER)]);
    expect((await OperatorStore.open(file)).list().find((o) => o.name === 'a0')?.failedAttempts).toBe(4);
  });

  it('waits for a lock held by a live process and takes over one left by a dead process', async () => {
    const file = fresh();
    const store = await OperatorStore.open(file, { scryptCost: FAST });
    await store.add('lena', 'clerk', PASSWORD);
    const lock = `${file}.lock`;

    writeFileSync(lock, `${process.pid}\n${hostname()}\nsomeone-else\n`);
    let done = false;
    const pending = store.add('mike', 'clerk', PASSWORD).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    unlinkSync(lock);
    await pending;
    expect(store.list().map((o) => o.name)).toEqual(['lena', 'mike']);

    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    writeFileSync(lock, `${dead}\n${hostname()}\ndead-owner\n`);
    const t = performance.now();
    await store.add('nina', 'clerk', PASSWORD);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(store.list().map((o) => o.name)).toEqual(['lena', 'mike', 'nina']);
    expect(existsSync(lock)).toBe(false);
  });
});

/**
 * Separate processes: a child runs the TypeScript store through a small loader hook that transpiles
 * with the project's own TypeScript (no build needed).
 */
describe('OperatorStore across processes', () => {
  const tmp = tempDir();
  const here = path.dirname(fileURLToPath(import.meta.url));
  const storeUrl = pathToFileURL(path.resolve(here, '../../src/operators/store.ts')).href;
  const typescriptUrl = pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href;

  const loader = path.join(tmp, 'loader.mjs');
  writeFileSync(
    loader,
    `import { readFile } from 'node:fs/promises';
import ts from ${JSON.stringify(typescriptUrl)};
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return next(specifier.slice(0, -3) + '.ts', context);
    throw e;
  }
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const out = ts.transpileModule(source, { fileName: url, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
`,
  );
  const register = path.join(tmp, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(loader).href)});\n`);
  const child = path.join(tmp, 'child.mjs');
  writeFileSync(
    child,
    `const { OperatorStore } = await import(${JSON.stringify(storeUrl)});
const [file, action, prefix, count] = process.argv.slice(2);
const store = await OperatorStore.open(file, { scryptCost: { ln: 10, r: 8, p: 1 } });
const jobs = [];
for (let i = 0; i < Number(count); i++) {
  jobs.push(action === 'add' ? store.add(prefix + i, 'clerk', ${JSON.stringify(PASSWORD)}) : store.authenticate(prefix, 'wrong password here'));
}
await Promise.all(jobs);
`,
  );

  function runChild(...args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, ['--import', pathToFileURL(register).href, child, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stderr }));
    });
  }

  it('loses no update when two processes add and fail sign-ins at once', async () => {
    const file = path.join(tmp, 'dcmsafe', 'operators.json');
    const results = await Promise.all([runChild(file, 'add', 'p', '15'), runChild(file, 'add', 'q', '15')]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const names = (await OperatorStore.open(file)).list().map((o) => o.name);
    expect(names).toHaveLength(30);
    expect(new Set(names).size).toBe(30);

    const failures = await Promise.all([runChild(file, 'auth', 'p0', '3'), runChild(file, 'auth', 'p0', '3')]);
    for (const r of failures) expect(r.code, r.stderr).toBe(0);
    expect((await OperatorStore.open(file)).list().find((o) => o.name === 'p0')).toMatchObject({ failedAttempts: 6, locked: true });
    expect(readdirSync(path.dirname(file))).toEqual(['operators.json']);
  });
});

describe('the default cost', () => {
  it(`N = 2^${DEFAULT_SCRYPT_COST.ln} stays within 64 MiB`, () => {
    expect(128 * 2 ** DEFAULT_SCRYPT_COST.ln * DEFAULT_SCRYPT_COST.r * DEFAULT_SCRYPT_COST.p).toBeLessThanOrEqual(64 * 1024 * 1024);
  });
});
