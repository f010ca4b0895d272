/**
 * Passphrases and media passwords (PS3.15 D.1 password-based key management, key files): read from
 * a file, an environment variable, or a prompt on the terminal with echo off. Never from a
 * command-line argument, which other local users can read in the process list (`ps`,
 * /proc/PID/cmdline) and which ends up in shell history.
 *
 * The secret is never logged, put into an error message or into error data.
 *
 * File sources: the first line is the secret, without its line end (LF or CR LF). A file that other
 * users can read (or write) is accepted, because refusing it would break CI secret mounts that are
 * 0644 inside a private container; callers get a warning through `onWarning` to pass on.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { DcmsafeError } from '../../errors/index.js';

export interface SecretSource {
  /** A file whose first line is the secret. */
  file?: string;
  /** The name of an environment variable holding the secret. */
  env?: string;
  /** Ask on the terminal with this prompt (echo off). Refused when stdin is not a terminal. */
  prompt?: string;
}

/** Terminal-like input for the prompt: process.stdin, or a test double. */
export interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

export interface ReadSecretOptions {
  /** Called with advice that does not stop the read (e.g. a world-readable secret file). */
  onWarning?: (message: string) => void;
  /** Where the prompt reads keys; process.stdin by default. */
  input?: TtyInput;
  /** Where the prompt is written; process.stderr by default, so stdout stays clean for output. */
  output?: Writable;
  /** Environment to read `env` from; process.env by default. */
  environment?: NodeJS.ProcessEnv;
  /**
   * For a new secret typed at the prompt: ask a second time with this text and fail with
   * SECRET_SOURCE when the two differ. Ignored for files and environment variables.
   */
  confirmPrompt?: string;
}

function sourceError(message: string, data: Record<string, unknown> = {}, cause?: unknown): DcmsafeError {
  return new DcmsafeError('SECRET_SOURCE', message, data, cause === undefined ? undefined : { cause });
}

function fromFile(file: string, onWarning?: (m: string) => void): string {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw sourceError(`The secret file is not a regular file: ${file}`, { file });
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0 && onWarning) {
      onWarning(`The secret file ${file} can be read or written by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof DcmsafeError) throw e;
    throw sourceError(`The secret file cannot be read: ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file }, e);
  }
  const firstLine = text.split('\n', 1)[0] ?? '';
  const secret = firstLine.endsWith('\r') ? firstLine.slice(0, -1) : firstLine;
  if (secret.length === 0) throw sourceError(`The secret file's first line is empty: ${file}`, { file });
  return secret;
}

function fromEnv(name: string, environment: NodeJS.ProcessEnv): string {
  const value = environment[name];
  if (value === undefined) throw sourceError(`The environment variable ${name} is not set`, { env: name });
  if (value.length === 0) throw sourceError(`The environment variable ${name} is empty`, { env: name });
  return value;
}

/**
 * Reads a line from a terminal in raw mode without echoing it. Backspace edits, Enter ends,
 * Ctrl-C and Ctrl-D (on an empty line) cancel.
 */
export function promptHidden(promptText: string, input: TtyInput, output: Writable): Promise<string> {
  if (!input.isTTY || typeof input.setRawMode !== 'function') {
    return Promise.reject(sourceError('Cannot prompt for the secret: standard input is not a terminal (use a file or an environment variable)'));
  }
  const setRaw = input.setRawMode.bind(input);
  return new Promise<string>((resolve, reject) => {
    let secret = '';
    const finish = (err: DcmsafeError | undefined): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      setRaw(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(secret);
    };
    const onEnd = (): void => finish(sourceError('The terminal closed before the secret was entered'));
    const onData = (chunk: Buffer | string): void => {
      const chars = [...(typeof chunk === 'string' ? chunk : chunk.toString('utf8'))];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i] as string;
        switch (ch) {
          case '\r':
          case '\n': {
            // Keys typed ahead (e.g. the confirmation) go back to the stream for the next reader.
            let rest = i + 1;
            if (ch === '\r' && chars[rest] === '\n') rest++;
            const after = chars.slice(rest).join('');
            finish(secret.length === 0 ? sourceError('No secret was entered') : undefined);
            if (after.length > 0) input.unshift(Buffer.from(after, 'utf8'));
            return;
          }
          case '\u0003': // Ctrl-C
            finish(sourceError('Secret entry was cancelled'));
            return;
          case '\u0004': // Ctrl-D
            if (secret.length === 0) {
              finish(sourceError('Secret entry was cancelled'));
              return;
            }
            break;
          case '\u007f': // Backspace (DEL) and Ctrl-H
          case '\b':
            secret = [...secret].slice(0, -1).join('');
            break;
          case '\u0015': // Ctrl-U: erase the line
            secret = '';
            break;
          default:
            // Other control characters (arrow-key escapes...) are not part of a secret.
            if (ch >= ' ') secret += ch;
        }
      }
    };
    output.write(promptText);
    setRaw(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

/**
 * Reads a secret from exactly one source. Errors: SECRET_SOURCE (no source or several, missing or
 * empty file or variable, no terminal, entry cancelled).
 */
export async function readSecret(source: SecretSource, options: ReadSecretOptions = {}): Promise<string> {
  const given = (['file', 'env', 'prompt'] as const).filter((k) => source[k] !== undefined);
  if (given.length === 0) throw sourceError('No source for the secret: give a file, an environment variable or ask on the terminal');
  if (given.length > 1) throw sourceError(`Give one source for the secret, not ${given.join(' and ')}`);
  if (source.file !== undefined) return fromFile(source.file, options.onWarning);
  if (source.env !== undefined) return fromEnv(source.env, options.environment ?? process.env);
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  const first = await promptHidden(source.prompt ?? 'Passphrase: ', input, output);
  if (options.confirmPrompt !== undefined) {
    const second = await promptHidden(options.confirmPrompt, input, output);
    if (second !== first) throw sourceError('The two entries differ');
  }
  return first;
}

/**
 * Checks a media password against PS3.15 D.1: its octets are from the Default Character Repertoire
 * (ISO-IR 6, i.e. printable US-ASCII 0x20-0x7E), so that the same keys give the same octets on any
 * system; UTF-8 is deliberately not used. Throws PASSWORD_INVALID (without the password) for an
 * empty password or one with other characters, naming the positions of the first few offenders.
 */
export function assertMediaPassword(password: string): void {
  if (password.length === 0) throw new DcmsafeError('PASSWORD_INVALID', 'The password is empty');
  const bad: number[] = [];
  [...password].forEach((ch, i) => {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c > 0x7e) bad.push(i + 1);
  });
  if (bad.length > 0) {
    const where = bad.slice(0, 5).join(', ') + (bad.length > 5 ? ', ...' : '');
    throw new DcmsafeError(
      'PASSWORD_INVALID',
      `The password may only use printable US-ASCII characters (PS3.15 D.1, ISO-IR 6); character(s) at position ${where} are outside it`,
      { positions: bad.slice(0, 5) },
    );
  }
}
