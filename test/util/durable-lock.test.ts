import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processAlive, withFileLock, type LockHolder } from '../../src/util/durable.js';
import { tempDir } from '../helpers/env.js';

const tmp = tempDir();
let n = 0;
const freshLock = (): string => path.join(tmp, `f${++n}.lock`);

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('withFileLock', () => {
  it('holds the lock while fn runs, with this process as holder, and removes it after', async () => {
    const lock = freshLock();
    const result = await withFileLock(lock, async (stillHeld) => {
      const [pid, host, token] = readFileSync(lock, 'utf8').split('\n');
      expect(Number(pid)).toBe(process.pid);
      expect(host).toBe(hostname());
      expect(token).toMatch(/^[0-9a-f]{24}$/);
      expect(await stillHeld()).toBe(true);
      return 42;
    });
    expect(result).toBe(42);
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp') || f.endsWith('.break'))).toEqual([]);
  });

  it('removes the lock when fn throws', async () => {
    const lock = freshLock();
    await expect(withFileLock(lock, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lock)).toBe(false);
  });

  it('serialises concurrent holders', async () => {
    const lock = freshLock();
    let inside = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        withFileLock(lock, async () => {
          inside++;
          most = Math.max(most, inside);
          await sleep(2);
          order.push(i);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(order.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over the lock of a dead process on this host at once', async () => {
    const lock = freshLock();
    const dead = deadPid();
    expect(processAlive(dead)).toBe(false);
    writeFileSync(lock, `${dead}\n${hostname()}\ndead-owner\n`);
    const t = performance.now();
    expect(await withFileLock(lock, () => Promise.resolve('mine'), { waitMs: 0 })).toBe('mine');
    expect(performance.now() - t).toBeLessThan(2000);
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(`${lock}.break`)).toBe(false);
  });

  it('waits for a live holder and goes on once it lets go', async () => {
    const lock = freshLock();
    writeFileSync(lock, `${process.pid}\n${hostname()}\nsomeone-else\n`);
    let done = false;
    const pending = withFileLock(lock, () => Promise.resolve((done = true)));
    await sleep(200);
    expect(done).toBe(false);
    unlinkSync(lock);
    await pending;
    expect(done).toBe(true);
  });

  it('reports a live holder through busy (waitMs 0), leaving its lock alone', async () => {
    const lock = freshLock();
    const content = `${process.ppid}\n${hostname()}\nparent\n`;
    writeFileSync(lock, content);
    let ran = false;
    const seen = await withFileLock<LockHolder | undefined | 'ran'>(
      lock,
      () => {
        ran = true;
        return Promise.resolve('ran');
      },
      { waitMs: 0, busy: (holder) => holder },
    );
    expect(ran).toBe(false);
    expect(seen).toEqual({ pid: process.ppid, host: hostname(), token: 'parent' });
    expect(readFileSync(lock, 'utf8')).toBe(content);
  });

  it('throws IO after waitMs by default, or what busy throws', async () => {
    const lock = freshLock();
    writeFileSync(lock, `${process.pid}\n${hostname()}\nsomeone-else\n`);
    await expect(withFileLock(lock, () => Promise.resolve(), { waitMs: 50 })).rejects.toMatchObject({ code: 'IO', message: expect.stringContaining(`by process ${process.pid}`) });
    await expect(
      withFileLock(lock, () => Promise.resolve(), {
        waitMs: 0,
        busy: () => {
          throw new Error('busy!');
        },
      }),
    ).rejects.toThrow('busy!');
  });

  it('keeps out of a lock of another host, unless older than maxAgeMs', async () => {
    const lock = freshLock();
    writeFileSync(lock, `${deadPid()}\nsome-other-host.example\nremote\n`);
    expect(await withFileLock(lock, () => Promise.resolve('ran'), { waitMs: 0, busy: () => 'busy' })).toBe('busy');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, old, old);
    expect(await withFileLock(lock, () => Promise.resolve('ran'), { waitMs: 0, busy: () => 'busy' })).toBe('busy');
    expect(await withFileLock(lock, () => Promise.resolve('ran'), { waitMs: 0, maxAgeMs: 60_000, busy: () => 'busy' })).toBe('ran');
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock that names no holder only once older than unreadableStaleMs', async () => {
    const lock = freshLock();
    writeFileSync(lock, '');
    expect(await withFileLock(lock, () => Promise.resolve('ran'), { waitMs: 0, busy: () => 'busy' })).toBe('busy');
    const old = new Date(Date.now() - 5_000);
    utimesSync(lock, old, old);
    expect(await withFileLock(lock, () => Promise.resolve('ran'), { waitMs: 0, unreadableStaleMs: 60_000, busy: () => 'busy' })).toBe('busy');
    expect(await withFileLock(lock, () => Promise.resolve('ran'), { waitMs: 0, busy: () => 'busy' })).toBe('ran');
  });

  it('leaves a lock taken over meanwhile to its new holder', async () => {
    const lock = freshLock();
    const theirs = `${process.pid}\n${hostname()}\ntheirs\n`;
    await withFileLock(lock, async (stillHeld) => {
      writeFileSync(lock, theirs); // as if another process had broken our lock and taken it
      expect(await stillHeld()).toBe(false);
    });
    expect(readFileSync(lock, 'utf8')).toBe(theirs);
  });

  it('turns a file system failure into the given error', async () => {
    const lock = path.join(tmp, 'no-such-folder', 'x.lock');
    await expect(withFileLock(lock, () => Promise.resolve())).rejects.toMatchObject({ code: 'IO', data: { file: lock, errno: 'ENOENT' } });
    await expect(withFileLock(lock, () => Promise.resolve(), { error: (e) => new Error(`custom: ${(e as NodeJS.ErrnoException).code}`) })).rejects.toThrow('custom: ENOENT');
  });
});
