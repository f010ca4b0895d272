// Running commands for the bench: every timed command is its own process under /usr/bin/time, so
// its figures (wall seconds, peak RSS) are the process's own and dcmsafe and the reference tools are
// measured the same way. The timing goes to a file (-o), never mixed with the command's stderr.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const CLI = path.join(here, '..', '..', 'dist', 'cli', 'main.js');
export const MB = 1e6; // throughput is in MB/s with MB = 10^6 bytes

/** Runs a command untimed; throws with its output if it fails (a case that fails to run fails the bench). */
export function must(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')}... failed (exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout || '').slice(-3000)}`);
  return r;
}

/**
 * Runs `cmd args` under `/usr/bin/time -f '%e %M'`: { status, seconds, rssMB, stdout, stderr }.
 * rssMB is the peak resident set in MB (10^6 bytes) of the process or, for a script, of its largest
 * descendant (what getrusage reports for waited-for children).
 */
export function timed(timeFile, cmd, args, options = {}) {
  rmSync(timeFile, { force: true });
  const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', '%e %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, ...options });
  let text = '';
  try {
    text = readFileSync(timeFile, 'utf8');
  } catch {
    // no timing file: reported below
  }
  const m = /([\d.]+) (\d+)\s*$/.exec(text);
  if (!m) throw new Error(`${cmd}: no timing from /usr/bin/time (${text} ${r.stderr?.slice(-2000)})`);
  return { status: r.status, seconds: Number(m[1]), rssMB: (Number(m[2]) * 1024) / MB, stdout: r.stdout, stderr: r.stderr };
}

/** Like timed, but a non-zero exit throws (with the tail of the output). */
export function timedOk(timeFile, cmd, args, options = {}) {
  const r = timed(timeFile, cmd, args, options);
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')}... failed (exit ${r.status}):\n${(r.stderr || r.stdout || '').slice(-3000)}`);
  return r;
}

/** The secure-media options of dcmsafe create, from the `pki demo` folder. */
export function secureArgs(pki) {
  return ['--sign-cert', path.join(pki, 'media-signer.pem'), '--sign-key', path.join(pki, 'media-signer.key'), '--recipient', path.join(pki, 'media-recipient.pem')];
}

/** The recipient options of dcmsafe verify and import. */
export function recipientArgs(pki) {
  return ['--trust', path.join(pki, 'demo-root-ca.pem'), '--key', path.join(pki, 'media-recipient.key'), '--cert', path.join(pki, 'media-recipient.pem')];
}
