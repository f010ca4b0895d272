/**
 * The audit trail on the command line: `--config`, `--audit-log` and `--operator` on every command
 * (the operator defaults to the OS user), the trail opened from them, and `dcmsafe audit check|flush`.
 */
import type { Command } from 'commander';
import { checkAuditLog } from '../audit/log.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Config } from '../config/config.js';
import { EXIT } from '../errors/index.js';
export { openRun, tlsFromFiles, type GlobalOptions } from '../app/run.js';
import type { CliContext } from './net-commands.js';

export function addGlobalOptions(program: Command): Command {
  return program
    .option('--config <file>', 'configuration file (else $DCMSAFE_CONFIG, else ~/.config/dcmsafe/config.json)')
    .option('--audit-log <file>', 'append PS3.15 A.5 audit messages to this hash-chained log (else the configuration\'s audit.log)')
    .option('--operator <name>', 'the person at the keyboard, named in every audit message (default: the OS user)');
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
      const corrupt = r.corrupt?.length ? `\nWARNING: ${r.corrupt.length} spool file(s) held no valid message and were set aside as NAME.corrupt (kept for inspection): ${r.corrupt.join(', ')}` : '';
      ctx.print(ctx.json() ? r : `${r.error ? `${r.sent} sent, ${r.pending} still waiting: ${r.error}` : `${r.sent} sent, ${r.pending} waiting`}${corrupt}`);
      ctx.setExitCode(r.pending === 0 ? EXIT.OK : EXIT.NETWORK);
    });
}
