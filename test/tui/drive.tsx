/**
 * The one way the TUI tests drive Ink: render with ink-testing-library, send keys, wait for the
 * screen, and check that every screen fits an 80×24 terminal.
 *
 * Keys and waits run inside React's act(): React flushes the effects (Ink's input handlers of a new
 * screen) before the next key, so a loaded machine cannot make a key reach no handler or the old one.
 * Importing this module turns on React's act environment and unmounts every rendered tree after each test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { act, type ReactElement } from 'react';
import { afterEach, expect } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { WIDTH } from '../../src/tui/components.js';
import { tick } from './fake-desk.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

afterEach(() => {
  act(() => cleanup());
});

export const ENTER = '\r';
export const ESC = '\u001b';
export const TAB = '\t';
export const UP = '\u001b[A';
export const DOWN = '\u001b[B';
export const END = '\u001b[F';
export const BACKSPACE = '\u007f';
export const CTRL_S = '\u0013';
export const CTRL_U = '\u0015';

/** Ink waits a moment to tell a lone Esc from the start of an escape sequence. */
const ESC_WAIT_MS = 80;
/** How often settle() looks, and for how many looks in a row the screen must not change. */
const POLL_MS = 10;
const QUIET_POLLS = 3;
const SETTLE_LIMIT_MS = 3_000;

const RULE = '─'.repeat(WIDTH - 1);

/**
 * Every line at most 80 columns and the whole screen at most 22 lines (title, rule, a body of at
 * most 18 lines, rule, keys: 80×24 with room for the shell). With `screen`, the frame must be a
 * whole Screen: it has its two rules, and at most 18 body lines between them.
 */
export function checkFits(frame: string | undefined, options: { screen?: boolean } = {}): void {
  const lines = (frame ?? '').split('\n');
  for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(WIDTH);
  expect(lines.length, 'screen lines').toBeLessThanOrEqual(22);
  if (!options.screen) return;
  const first = lines.indexOf(RULE);
  const last = lines.lastIndexOf(RULE);
  expect(first, 'the screen has its two rules').toBeGreaterThanOrEqual(0);
  expect(last, 'the screen has its two rules').toBeGreaterThan(first);
  expect(last - first - 1, 'body lines').toBeLessThanOrEqual(18);
}

/** Writes a frame to test-output/tui/NAME for people to look at. */
export function screenshot(name: string, frame: string | undefined): void {
  mkdirSync('test-output/tui', { recursive: true });
  writeFileSync(`test-output/tui/${name}`, `${frame ?? ''}\n`);
}

export interface DriveOptions {
  /** The element is a whole Screen (the default): frames must have its two rules. */
  screen?: boolean;
}

export interface Driven extends ReturnType<typeof render> {
  /** Sends each key (or pasted chunk) in turn, waiting for the screen to settle; the last frame, checked to fit. */
  press(...keys: string[]): Promise<string>;
  /** Types text as one chunk (as a paste would arrive); the frame, checked to fit. */
  type(text: string): Promise<string>;
  /** Lets `ms` pass (desk calls answer, timers fire), then waits until the screen stops changing. */
  settle(ms?: number): Promise<void>;
  /** Waits until the screen shows `text`, then settles; the frame, checked to fit. Fails after `timeoutMs`. */
  until(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Runs `fn` inside act() (to send the screen events from a desk call the test holds), then settles; the frame, checked to fit. */
  act(fn: () => void): Promise<string>;
  /** The last frame, checked to fit. */
  frame(): string;
  /** The last frame as one line, wrapped lines joined by a space (for sentences that wrap). */
  said(): string;
}

/** Renders `element` inside act() and returns ink-testing-library's result with the driving helpers. */
export function drive(element: ReactElement, options: DriveOptions = {}): Driven {
  const screen = options.screen ?? true;
  let rendered: ReturnType<typeof render> | undefined;
  act(() => {
    rendered = render(element);
  });
  const r = rendered as ReturnType<typeof render>;

  const wait = (ms: number): Promise<void> =>
    act(async () => {
      await tick(ms);
    });

  const frame = (): string => {
    const f = r.lastFrame() ?? '';
    checkFits(f, { screen });
    return f;
  };

  const settle = async (ms = 0): Promise<void> => {
    if (ms > 0) await wait(ms);
    let frames = r.frames.length;
    let quiet = 0;
    for (let waited = 0; quiet < QUIET_POLLS && waited < SETTLE_LIMIT_MS; waited += POLL_MS) {
      await wait(POLL_MS);
      quiet = r.frames.length === frames ? quiet + 1 : 0;
      frames = r.frames.length;
    }
  };

  const press = async (...keys: string[]): Promise<string> => {
    for (const key of keys) {
      await act(async () => {
        r.stdin.write(key);
        if (key === ESC) await tick(ESC_WAIT_MS);
      });
      await settle();
    }
    return frame();
  };

  const until = async (text: string | RegExp, timeoutMs = 5_000): Promise<string> => {
    const shows = (): boolean => {
      const f = r.lastFrame() ?? '';
      return typeof text === 'string' ? f.includes(text) : text.test(f);
    };
    for (let waited = 0; !shows() && waited < timeoutMs; waited += POLL_MS) await wait(POLL_MS);
    const message = `the screen shows ${String(text)} within ${timeoutMs} ms`;
    if (typeof text === 'string') expect(r.lastFrame() ?? '', message).toContain(text);
    else expect(r.lastFrame() ?? '', message).toMatch(text);
    await settle();
    return frame();
  };

  const said = (): string =>
    frame()
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .join(' ');

  const happen = async (fn: () => void): Promise<string> => {
    await act(async () => {
      fn();
      await tick(0);
    });
    await settle();
    return frame();
  };

  return { ...r, press, type: (text) => press(text), settle, until, act: happen, frame, said };
}
