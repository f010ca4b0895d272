/**
 * Secret sources (secrets.ts): file, environment variable, hidden terminal prompt; never the command
 * line. The prompt is driven through a fake terminal stream.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { assertMediaPassword, promptHidden, readSecret, type TtyInput } from '../../../src/security/pki/secrets.js';
import { tempDir } from '../../helpers/env.js';

class FakeTty extends PassThrough implements TtyInput {
  isTTY = true;
  rawModes: boolean[] = [];
  setRawMode(mode: boolean): this {
    this.rawModes.push(mode);
    return this;
  }
}

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, text: () => text };
}

describe('readSecret', () => {
  const dir = tempDir('dcmsafe-secrets-');

  it('reads the first line of a file without its line end', async () => {
    const lf = path.join(dir, 'lf.txt');
    writeFileSync(lf, 'first line\nsecond\n', { mode: 0o600 });
    expect(await readSecret({ file: lf })).toBe('first line');
    const crlf = path.join(dir, 'crlf.txt');
    writeFileSync(crlf, ' spaces kept \r\n', { mode: 0o600 });
    expect(await readSecret({ file: crlf })).toBe(' spaces kept ');
    const noEol = path.join(dir, 'noeol.txt');
    writeFileSync(noEol, 'pässwörd', { mode: 0o600 });
    expect(await readSecret({ file: noEol })).toBe('pässwörd');
  });

  it('warns (without the secret) about a file other users can read', async () => {
    const open = path.join(dir, 'open.txt');
    writeFileSync(open, 'hunter2\n');
    chmodSync(open, 0o644);
    const warnings: string[] = [];
    expect(await readSecret({ file: open }, { onWarning: (m) => warnings.push(m) })).toBe('hunter2');
    expect(warnings).toEqual([expect.stringMatching(/can be read or written by other users \(mode 644\)/)]);
    expect(warnings.join('')).not.toContain('hunter2');
    const closed = path.join(dir, 'closed.txt');
    writeFileSync(closed, 'x\n', { mode: 0o600 });
    chmodSync(closed, 0o600);
    const none: string[] = [];
    await readSecret({ file: closed }, { onWarning: (m) => none.push(m) });
    expect(none).toEqual([]);
  });

  it('reads an environment variable', async () => {
    expect(await readSecret({ env: 'DCMSAFE_TEST_SECRET' }, { environment: { DCMSAFE_TEST_SECRET: 's3cret' } })).toBe('s3cret');
  });

  it('fails with SECRET_SOURCE, never naming the secret', async () => {
    const empty = path.join(dir, 'empty.txt');
    writeFileSync(empty, '\nsecond line is not used\n');
    const cases: Parameters<typeof readSecret>[] = [
      [{}],
      [{ file: path.join(dir, 'missing.txt') }],
      [{ file: dir }],
      [{ file: empty }],
      [{ env: 'DCMSAFE_UNSET' }, { environment: {} }],
      [{ env: 'DCMSAFE_EMPTY' }, { environment: { DCMSAFE_EMPTY: '' } }],
      [{ file: empty, env: 'X' }],
      [{ prompt: 'Password: ' }, { input: Object.assign(new PassThrough(), { isTTY: false }) }],
    ];
    for (const args of cases) {
      await expect(readSecret(...args)).rejects.toMatchObject({ code: 'SECRET_SOURCE' });
    }
  });
});

describe('promptHidden', () => {
  it('reads a line with echo off, handling backspace and Ctrl-U, and restores the terminal', async () => {
    const tty = new FakeTty();
    const out = sink();
    const p = promptHidden('Passphrase: ', tty, out.stream);
    tty.write('wrong');
    tty.write('\u0015'); // Ctrl-U erases
    tty.write('secrex');
    tty.write('\u007f'); // backspace
    tty.write('t\r');
    expect(await p).toBe('secret');
    expect(tty.rawModes).toEqual([true, false]);
    expect(out.text()).toBe('Passphrase: \n'); // nothing echoed
  });

  it('Ctrl-C cancels, an empty line is refused, and a closed terminal fails', async () => {
    const t1 = new FakeTty();
    const p1 = promptHidden('? ', t1, sink().stream);
    t1.write('abc\u0003');
    await expect(p1).rejects.toMatchObject({ code: 'SECRET_SOURCE', message: 'Secret entry was cancelled' });
    expect(t1.rawModes).toEqual([true, false]);

    const t2 = new FakeTty();
    const p2 = promptHidden('? ', t2, sink().stream);
    t2.write('\n');
    await expect(p2).rejects.toMatchObject({ code: 'SECRET_SOURCE' });

    const t3 = new FakeTty();
    const p3 = promptHidden('? ', t3, sink().stream);
    t3.end();
    await expect(p3).rejects.toMatchObject({ code: 'SECRET_SOURCE' });
  });

  it('readSecret with a prompt uses the given terminal', async () => {
    const tty = new FakeTty();
    const out = sink();
    const p = readSecret({ prompt: 'Media password: ' }, { input: tty, output: out.stream });
    tty.write('Ab1\\x\n');
    expect(await p).toBe('Ab1\\x');
    expect(out.text()).toBe('Media password: \n');
  });
});

describe('confirmation and media passwords', () => {
  it('asks twice when confirming, and refuses two different entries', async () => {
    const tty = new FakeTty();
    const out = sink();
    const p = readSecret({ prompt: 'New password: ' }, { input: tty, output: out.stream, confirmPrompt: 'Again: ' });
    tty.write('same\r\nsame\r'); // typed ahead: the second line waits for the second prompt
    expect(await p).toBe('same');
    expect(out.text()).toBe('New password: \nAgain: \n');

    const tty2 = new FakeTty();
    const p2 = readSecret({ prompt: 'New password: ' }, { input: tty2, output: sink().stream, confirmPrompt: 'Again: ' });
    tty2.write('one\r');
    await new Promise((r) => setImmediate(r));
    tty2.write('two\r');
    await expect(p2).rejects.toMatchObject({ code: 'SECRET_SOURCE', message: 'The two entries differ' });
  });

  it('accepts printable US-ASCII only (PS3.15 D.1), without echoing the password', () => {
    expect(() => assertMediaPassword('Tr0ub4dor&3 \\ ~')).not.toThrow();
    for (const bad of ['', 'pässword', 'tab\there', 'emoji😀']) {
      let err: unknown;
      try {
        assertMediaPassword(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'PASSWORD_INVALID' });
      if (bad) expect(JSON.stringify(err) + String((err as Error).message)).not.toContain(bad);
    }
  });
});
