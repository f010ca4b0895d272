import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { App } from '../../src/tui/app.js';
import { interactiveEnvironment, requireTerminal } from '../../src/tui/terminal.js';
import { ALICE, fakeDesk } from './fake-desk.js';
import { REPO, run } from '../helpers/env.js';
import { ENTER, ESC, drive, type Driven } from './drive.js';

async function signIn(s: Driven, user = 'alice', password = 'correct horse battery'): Promise<void> {
  await s.settle();
  await s.type(user);
  await s.press(ENTER);
  await s.type(password);
  await s.press(ENTER);
}

describe('front desk: sign-in and home', () => {
  it('signs in, never shows the password, and offers the tasks (Settings for admins)', async () => {
    const desk = fakeDesk({ config: { institution: { name: 'St. Elsewhere Radiology' } } });
    const s = drive(<App desk={desk} />);
    await s.settle();
    expect(s.lastFrame()).toContain('Sign in');
    expect(s.lastFrame()).toContain('St. Elsewhere Radiology');
    expect(s.lastFrame()).toContain('Tab next field');
    await s.type('alice');
    await s.press(ENTER);
    await s.type('correct horse battery');
    expect(s.lastFrame()).not.toContain('correct horse');
    await s.press(ENTER);
    const home = s.frame(); // every line within 80 columns
    expect(desk.calls.filter((c) => c.method === 'signIn')).toHaveLength(1);
    for (const t of ['Burn media', 'Import media', 'Verify media', 'Settings', 'Sign out', 'signed in: alice (admin)', 'Esc sign out']) expect(home).toContain(t);
  });

  it('a name, Enter, a password and Enter typed faster than the screen redraws sign in as that name (the password never lands in the name)', async () => {
    const desk = fakeDesk();
    const s = drive(<App desk={desk} />);
    await s.settle();
    // All four chunks in one act(): no render and no effect between them, as on a loaded machine.
    await s.act(() => {
      for (const chunk of ['alice', ENTER, 'correct horse battery', ENTER]) s.stdin.write(chunk);
    });
    await s.settle(50);
    const calls = desk.calls.filter((c) => c.method === 'signIn');
    expect(calls).toHaveLength(1);
    expect(JSON.stringify(calls[0])).toContain('"alice"');
    expect(JSON.stringify(calls[0])).not.toContain('alicecorrect');
    expect(s.frame()).toContain('What would you like to do?');
  });

  it('a wrong password says so without telling which part was wrong, and stays on sign-in', async () => {
    const desk = fakeDesk();
    const s = drive(<App desk={desk} />);
    await signIn(s, 'alice', 'wrong password here');
    expect(s.lastFrame()).toContain('ERROR');
    expect(s.lastFrame()).toContain('wrong user name or password');
    expect(s.lastFrame()).toContain('Sign in');
    expect(s.lastFrame()).not.toContain('wrong password here');
  });

  it('a clerk gets no Settings', async () => {
    const desk = fakeDesk();
    desk.signIn = async (user) => ({ ok: true, operator: { ...ALICE, name: user, role: 'clerk' } });
    const s = drive(<App desk={desk} />);
    await signIn(s, 'bob');
    expect(s.lastFrame()).toContain('Burn media');
    expect(s.lastFrame()).not.toContain('Settings');
  });

  it('Esc on the home screen signs out and goes back to sign-in', async () => {
    const desk = fakeDesk();
    const s = drive(<App desk={desk} />);
    await signIn(s);
    await s.press(ESC);
    expect(desk.calls.some((c) => c.method === 'signOut')).toBe(true);
    expect(s.lastFrame()).toContain('alice signed out');
    expect(s.lastFrame()).toContain('Sign in');
  });

  it('the tasks open their flows and come back', async () => {
    const desk = fakeDesk();
    const s = drive(<App desk={desk} />);
    await signIn(s);
    await s.press(ENTER); // Burn media
    expect(s.lastFrame()).toContain('Burn');
    expect(s.lastFrame()).not.toContain('What would you like to do?');
  });
});

describe('dcmsafe ui without a terminal', () => {
  it('refuses with a message that points at the commands', () => {
    expect(() => requireTerminal({ isTTY: false }, { isTTY: true })).toThrow(/interactive terminal/);
    expect(() => requireTerminal({ isTTY: true }, { isTTY: true })).not.toThrow();
    const env: NodeJS.ProcessEnv = { CI: 'true', CONTINUOUS_INTEGRATION: '1', HOME: '/home/desk' };
    interactiveEnvironment(env);
    expect(env).toEqual({ HOME: '/home/desk' });
  });

  it('exits 2 from the command line when standard input is not a terminal', () => {
    const r = run('node', [path.join(REPO, 'dist/cli/main.js'), 'ui'], { input: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('NOT_INTERACTIVE');
    expect(r.stderr).toContain('dcmsafe create');
    expect(r.stderr).toContain('dcmsafe import');
  });
});
