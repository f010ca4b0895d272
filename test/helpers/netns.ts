/**
 * Peers in a private network namespace (`unshare --net --pid --fork`, only `lo` up): servers started
 * inside never listen outside it and die with it, and every connection goes to 127.0.0.1. Without
 * `unshare` rights the suite is skipped loudly (a failure under DCMSAFE_REQUIRE_TOOLS=1).
 * Also a throw-away PKI made with the openssl command (not with our own code).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeWithTools, REQUIRE_TOOLS, run, type RunResult } from './env.js';

let problem: string | undefined | null = null;

/** Why network namespaces cannot be used here, or undefined when they can. */
export function netnsProblem(): string | undefined {
  if (problem === null) {
    const r = run('unshare', ['--net', '--pid', '--fork', 'sh', '-c', 'ip link set lo up && echo ok'], { timeout: 10_000 });
    problem = r.status === 0 && r.stdout.trim() === 'ok' ? undefined : `unshare --net --pid is not permitted here (${(r.stderr || r.stdout).trim()})`;
  }
  return problem;
}

/** describeWithTools, plus the namespace check. */
export function describeInNetns(tools: string[], name: string, body: () => void): void {
  const why = tools.every((t) => run('sh', ['-c', `command -v ${t}`]).status === 0) ? netnsProblem() : undefined;
  if (!why) {
    describeWithTools(tools, name, body);
    return;
  }
  if (REQUIRE_TOOLS) {
    describe(name, () => it('can use network namespaces', () => expect.fail(`${why}; DCMSAFE_REQUIRE_TOOLS=1 makes this a failure`)));
  } else {
    console.warn(`\n!!! SKIPPED "${name}": ${why}\n`);
    describe.skip(name, body);
  }
}

/** Runs a bash script in a fresh namespace with only loopback up; `env` is added to its environment. */
export function runInNetns(script: string, env: Record<string, string> = {}, timeoutMs = 180_000): RunResult {
  return run('unshare', ['--net', '--pid', '--fork', 'bash', '-c', `set -u\nip link set lo up\n${script}`], {
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    env: { ...process.env, ...env },
  });
}

function openssl(dir: string, args: string[]): void {
  const r = run('openssl', args, { cwd: dir });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/**
 * In `dir`: CAs `ca` and `otherca`; `server` (IP 127.0.0.1) and `wrongip` (IP 127.0.0.2, DNS
 * pacs.example) from `ca`; `client` from `ca`; `rogue` from `otherca`. Files NAME.crt and NAME.key.
 */
export function makeTestPki(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'otherca']) {
    openssl(dir, ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=dcmsafe test ${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
  const leaf = (name: string, ca: string, san: string): void => {
    openssl(dir, ['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    const ext = path.join(dir, `${name}.ext`);
    run('sh', ['-c', `printf '%s\\n' 'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth,clientAuth' 'subjectAltName=${san}' > '${ext}'`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext]);
  };
  leaf('server', 'ca', 'IP:127.0.0.1');
  leaf('wrongip', 'ca', 'IP:127.0.0.2,DNS:pacs.example');
  leaf('client', 'ca', 'DNS:client.example');
  leaf('rogue', 'otherca', 'DNS:rogue.example');
}
