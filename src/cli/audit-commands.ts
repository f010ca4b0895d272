/**
 * The audit trail on the command line: `--config`, `--audit-log` and `--operator` on every command
 * (the operator defaults to the OS user), the trail opened from them, and `dcmsafe audit check|flush`.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { checkAuditLog } from '../audit/log.js';
import { AuditTrail } from '../audit/trail.js';
import type { SyslogTarget } from '../audit/syslog.js';
import { loadConfig, type Config, type TlsFiles } from '../config/config.js';
import { DcmsafeError, EXIT } from '../errors/index.js';
import { loadCertificates } from '../security/pki/certificates.js';
import { loadPrivateKey } from '../security/pki/keys.js';
import { readSecret } from '../security/pki/secrets.js';
import type { CliContext } from './net-commands.js';

export interface GlobalOptions {
  readonly config?: string;
  readonly auditLog?: string;
  readonly operator?: string;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .option('--config <file>', 'configuration file (else $DCMSAFE_CONFIG, else ~/.config/dcmsafe/config.json)')
    .option('--audit-log <file>', 'append PS3.15 A.5 audit messages to this hash-chained log (else the configuration\'s audit.log)')
    .option('--operator <name>', 'the person at the keyboard, named in every audit message (default: the OS user)');
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

async function readFileOrFail(file: string, what: string): Promise<Buffer> {
  return readFile(file).catch((e: unknown) => {
    throw new DcmsafeError('INPUT_NOT_FOUND', `${what} ${file} cannot be read`, { file }, { cause: e });
  });
}

/** TLS files of the configuration, read (an encrypted key asks for its passphrase file). */
export async function tlsFromFiles(files: TlsFiles): Promise<Pick<SyslogTarget, 'ca' | 'cert' | 'key' | 'servername'>> {
  const ca = loadCertificates(await readFileOrFail(files.ca, 'CA certificates'));
  const out: { ca: Buffer[]; cert?: Buffer; key?: SyslogTarget['key']; servername?: string } = { ca };
  if (files.cert && files.key) {
    out.cert = await readFileOrFail(files.cert, 'certificate');
    const keyBytes = await readFileOrFail(files.key, 'key');
    try {
      out.key = loadPrivateKey(keyBytes);
    } catch (e) {
      if (!(e instanceof DcmsafeError) || e.code !== 'KEY_PASSPHRASE' || !files.keyPassphraseFile) throw e;
      out.key = loadPrivateKey(keyBytes, await readSecret({ file: files.keyPassphraseFile }));
    }
  }
  if (files.servername) out.servername = files.servername;
  return out;
}

/** The configuration and the audit trail of this run. */
export async function openRun(opts: GlobalOptions): Promise<{ config: Config; trail: AuditTrail }> {
  const config = await loadConfig({ ...(opts.config ? { file: opts.config } : {}) });
  const log = opts.auditLog ?? config.audit.log;
  const repo = config.audit.repository;
  const spool = config.audit.spool ?? (config.file ? path.join(path.dirname(config.file), 'audit-spool') : undefined);
  const trail = await AuditTrail.open({
    ...(log ? { log } : {}),
    ...(repo && spool ? { repository: { target: { host: repo.host, port: repo.port, ...(await tlsFromFiles(repo.tls)) }, spool } } : {}),
    operator: { userId: opts.operator ?? osUser() },
    ...(config.institution ? { auditSourceId: config.institution.name } : {}),
  });
  return { config, trail };
}

export function addAuditCommands(program: Command, ctx: CliContext & { run: () => Promise<{ config: Config; trail: AuditTrail }> }): void {
  const audit = program.command('audit').description('The audit trail: check the local log, send what waits for the audit repository.');
  audit
    .command('check')
    .description('Check a local audit log: a record removed, edited or moved is found and its line named.')
    .argument('<file>', 'the audit log')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { json?: boolean }) => {
      ctx.setJson(opts.json === true);
      const r = await checkAuditLog(file);
      ctx.print(ctx.json() ? r : r.ok ? `OK: ${file}: ${r.records} record(s), chain intact` : `BROKEN: ${file}: ${r.problem}`);
      ctx.setExitCode(r.ok ? EXIT.OK : EXIT.VERIFICATION_FAILED);
    });
  audit
    .command('flush')
    .description('Send the audit messages waiting in the spool to the configured audit repository.')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      ctx.setJson(opts.json === true);
      const { trail } = await ctx.run();
      const r = await trail.flush();
      ctx.print(ctx.json() ? r : r.error ? `${r.sent} sent, ${r.pending} still waiting: ${r.error}` : `${r.sent} sent, ${r.pending} waiting`);
      ctx.setExitCode(r.pending === 0 ? EXIT.OK : EXIT.NETWORK);
    });
}
