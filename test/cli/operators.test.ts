/**
 * `dcmsafe operators ...` driven through its own commander program (no build needed): output, exit
 * codes, sign-in events for the audit trail, and that no password ever reaches the output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addOperatorCommands, OPERATOR_PASSWORD_ENV, type SignInEvent } from '../../src/cli/operator-commands.js';
import { DcmsafeError } from '../../src/errors/index.js';
import { tempDir } from '../helpers/env.js';

const PASSWORD = 'correct horse battery staple';
const OTHER = 'Tr0ubadour&3-blue-kettle';

interface Outcome {
  printed: unknown[];
  stderr: string;
  exitCode: number | undefined;
  events: SignInEvent[];
  error: unknown;
}

const tmp = tempDir();
const secretFile = (name: string, text: string): string => {
  const f = path.join(tmp, name);
  writeFileSync(f, `${text}\n`, { mode: 0o600 });
  return f;
};
const right = secretFile('right.pass', PASSWORD);
const wrong = secretFile('wrong.pass', OTHER);

async function cli(file: string, ...args: string[]): Promise<Outcome> {
  const out: Outcome = { printed: [], stderr: '', exitCode: undefined, events: [], error: undefined };
  let json = false;
  const program = new Command().exitOverride().configureOutput({ writeErr: (s) => (out.stderr += s), writeOut: () => undefined });
  addOperatorCommands(program, {
    setJson: (j) => (json = j),
    json: () => json,
    setExitCode: (c) => (out.exitCode = c),
    print: (v) => out.printed.push(v),
    operatorsFile: () => Promise.resolve(file),
    onSignIn: (e) => out.events.push(e),
  });
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.stderr += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'dcmsafe', 'operators', ...args]);
  } catch (e) {
    out.error = e;
  } finally {
    spy.mockRestore();
  }
  // Nothing a command says may hold a password.
  const said = JSON.stringify(out.printed) + out.stderr + (out.error instanceof Error ? out.error.message + JSON.stringify((out.error as DcmsafeError).data ?? {}) : '');
  expect(said).not.toContain(PASSWORD);
  expect(said).not.toContain(OTHER);
  return out;
}

const code = (o: Outcome): string | undefined => (o.error instanceof DcmsafeError ? o.error.code : undefined);

describe('dcmsafe operators', () => {
  let n = 0;
  const fresh = (): string => path.join(tmp, `case${++n}`, 'operators.json');

  afterEach(() => {
    delete process.env[OPERATOR_PASSWORD_ENV];
  });

  it('adds, lists, sets passwords and removes', async () => {
    const file = fresh();
    expect((await cli(file, 'list')).printed).toEqual(['no operators']);
    expect((await cli(file, 'add', 'alice', '--role', 'admin', '--password-file', right)).printed).toEqual(['added alice (admin)']);
    process.env[OPERATOR_PASSWORD_ENV] = OTHER;
    expect((await cli(file, 'add', 'bob', '--role', 'clerk')).printed).toEqual(['added bob (clerk)']);
    delete process.env[OPERATOR_PASSWORD_ENV];

    const text = await cli(file, 'list');
    expect(String(text.printed[0])).toMatch(/^alice\tadmin\tcreated \S+\tlast sign-in never\tok\nbob\tclerk\t/);
    const json = await cli(file, 'list', '--json');
    const list = json.printed[0] as { name: string; role: string; locked: boolean }[];
    expect(list.map((o) => [o.name, o.role, o.locked])).toEqual([['alice', 'admin', false], ['bob', 'clerk', false]]);
    expect(JSON.stringify(list)).not.toContain('scrypt');

    // bob's password came from the environment: OTHER, the content of the file named wrong.pass.
    expect((await cli(file, 'signin', 'bob', '--password-file', wrong)).printed).toEqual(['signed in as bob (clerk)']);
    expect((await cli(file, 'passwd', 'bob', '--password-file', right)).printed).toEqual(['password set for bob; the account is unlocked']);
    expect((await cli(file, 'signin', 'bob', '--password-file', right)).printed).toEqual(['signed in as bob (clerk)']);

    expect((await cli(file, 'remove', 'bob')).printed).toEqual(['removed bob']);
    expect(code(await cli(file, 'remove', 'bob'))).toBe('OPERATOR_UNKNOWN');
    expect(code(await cli(file, 'passwd', 'bob', '--password-file', right))).toBe('OPERATOR_UNKNOWN');
    expect(code(await cli(file, 'add', 'alice', '--role', 'clerk', '--password-file', right))).toBe('OPERATOR_EXISTS');
    expect(readFileSync(file, 'utf8')).not.toContain(PASSWORD);
  });

  it('refuses bad roles, weak passwords and a missing password source', async () => {
    const file = fresh();
    const noRole = await cli(file, 'add', 'carol', '--password-file', right);
    expect(noRole.error).toBeInstanceOf(CommanderError);
    const badRole = await cli(file, 'add', 'carol', '--role', 'root', '--password-file', right);
    expect(badRole.error).toBeInstanceOf(CommanderError);
    expect(badRole.stderr).toContain('clerk, admin');
    expect(code(await cli(file, 'add', 'carol', '--role', 'clerk', '--password-file', secretFile('weak.pass', 'password1234')))).toBe('OPERATOR_PASSWORD_WEAK');
    // Standard input is no terminal here: no prompt, and no password from anywhere else.
    expect(code(await cli(file, 'add', 'carol', '--role', 'clerk'))).toBe('SECRET_SOURCE');
    expect((await cli(file, 'list', '--json')).printed).toEqual([[]]);
  });

  it('signs in, or fails without saying whether the name exists', async () => {
    const file = fresh();
    await cli(file, 'add', 'dora', '--role', 'clerk', '--password-file', right);

    const ok = await cli(file, 'signin', 'dora', '--password-file', right);
    expect(ok.printed).toEqual(['signed in as dora (clerk)']);
    expect(ok.exitCode).toBeUndefined();
    expect(ok.events).toEqual([{ user: 'dora', ok: true }]);

    const badPassword = await cli(file, 'signin', 'dora', '--password-file', wrong);
    const badName = await cli(file, 'signin', 'nobody', '--password-file', right);
    for (const r of [badPassword, badName]) {
      expect(r.exitCode).toBe(1);
      expect(r.printed).toEqual([]);
      expect(r.stderr).toBe('dcmsafe: Sign-in failed: unknown operator or wrong password\n');
    }
    expect(badPassword.events).toEqual([{ user: 'dora', ok: false, reason: 'wrong-password' }]);
    expect(badName.events).toEqual([{ user: 'nobody', ok: false, reason: 'unknown' }]);
  });

  it('locks after five failures; passwd unlocks', async () => {
    const file = fresh();
    await cli(file, 'add', 'emil', '--role', 'clerk', '--password-file', right);
    for (let i = 1; i <= 5; i++) {
      const r = await cli(file, 'signin', 'emil', '--password-file', wrong);
      expect(r.exitCode).toBe(1);
      expect(r.events).toEqual([{ user: 'emil', ok: false, reason: 'wrong-password', ...(i === 5 ? { lockedNow: true } : {}) }]);
    }
    const locked = await cli(file, 'signin', 'emil', '--password-file', right);
    expect(locked.exitCode).toBe(1);
    expect(locked.stderr).toContain('locked');
    expect(locked.stderr).toContain('dcmsafe operators passwd emil');
    expect(locked.events).toEqual([{ user: 'emil', ok: false, reason: 'locked' }]);
    expect(((await cli(file, 'list', '--json')).printed[0] as { locked: boolean }[])[0]?.locked).toBe(true);
    expect(String((await cli(file, 'list')).printed[0])).toContain('LOCKED');

    await cli(file, 'passwd', 'emil', '--password-file', wrong);
    const again = await cli(file, 'signin', 'emil', '--password-file', wrong);
    expect(again.printed).toEqual(['signed in as emil (clerk)']);
  });

  it('answers a failed sign-in in JSON when asked for JSON', async () => {
    const file = fresh();
    let json = false;
    const printed: unknown[] = [];
    let exitCode: number | undefined;
    const program = new Command().exitOverride();
    addOperatorCommands(program, {
      setJson: (j) => (json = j),
      json: () => json,
      setExitCode: (c) => (exitCode = c),
      print: (v) => printed.push(v),
      operatorsFile: () => Promise.resolve(file),
    });
    json = true;
    await program.parseAsync(['node', 'dcmsafe', 'operators', 'signin', 'nobody', '--password-file', right]);
    expect(exitCode).toBe(1);
    expect(printed).toEqual([{ signedIn: false, error: { code: 'OPERATOR_AUTH_FAILED', fault: 'usage', message: 'Sign-in failed: unknown operator or wrong password', data: {} } }]);
  });
});
