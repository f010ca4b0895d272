/**
 * Drives a terminal program in tmux the way a person would: a detached session of a fixed size,
 * keys sent with send-keys, the screen read with capture-pane. The session's server listens on a
 * socket file of its own, so it can run inside a network namespace while the test talks to it from
 * outside (file-system sockets are not bound to a network namespace).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from './env.js';

export class TmuxSession {
  readonly screens: Array<{ name: string; text: string }> = [];

  constructor(
    readonly socket: string,
    readonly target = 'ui',
  ) {}

  private tmux(args: string[]): string {
    const r = run('tmux', ['-S', this.socket, ...args], { timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  alive(): boolean {
    return run('tmux', ['-S', this.socket, 'has-session', '-t', this.target], { timeout: 10_000 }).status === 0;
  }

  /** Keys as tmux names them (Enter, Escape, Tab, Up, Down, Space, C-c) or literal text (`literal`). */
  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.target, ...keys]);
  }

  type(text: string): void {
    this.tmux(['send-keys', '-t', this.target, '-l', text]);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-t', this.target]);
  }

  /** Waits until the screen shows `what`, and returns it; fails with the last screen. */
  async waitFor(what: string | RegExp, timeoutMs = 30_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      if (!this.alive()) throw new Error(`the program ended while waiting for ${String(what)}; last screen:\n${last}`);
      last = this.screen();
      if (typeof what === 'string' ? last.includes(what) : what.test(last)) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${String(what)}; last screen:\n${last}`);
  }

  /** Keeps the current screen under a name (for review, and the 80-column check). */
  keep(name: string): string {
    const text = this.screen();
    this.screens.push({ name, text });
    return text;
  }

  /** Writes every kept screen to `dir` (one file each, and all in one). */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const [i, s] of this.screens.entries()) writeFileSync(path.join(dir, `${String(i + 1).padStart(2, '0')}-${s.name}.txt`), s.text);
    writeFileSync(path.join(dir, 'all-screens.txt'), this.screens.map((s) => `=== ${s.name} ===\n${s.text}`).join('\n'));
  }
}
