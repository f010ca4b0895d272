/**
 * `dcmsafe operators add|remove|list|passwd|signin`: the local operator accounts of the front-desk
 * UI. Argument parsing and printing only; the accounts are in src/operators/store.ts.
 *
 * Passwords come from --password-file (first line), else $DCMSAFE_OPERATOR_PASSWORD, else a prompt
 * on the terminal without echo (twice for a new password); never from the command line.
 */
import { Option, type Command } from 'commander';
import { DcmsafeError, EXIT } from '../errors/index.js';
import { OperatorStore, ROLES, type OperatorInfo, type Role } from '../operators/store.js';
import { readSecret, type SecretSource } from '../security/pki/secrets.js';
import type { CliContext } from './net-commands.js';

export const OPERATOR_PASSWORD_ENV = 'DCMSAFE_OPERATOR_PASSWORD';

/** One sign-in attempt, for the audit trail (PS3.15 A.5.3.4 User Authentication). */
export interface SignInEvent {
  readonly user: string;
  readonly ok: boolean;
  /** Why it failed: 'unknown', 'wrong-password' or 'locked' (the account was locked before). */
  readonly reason?: string;
  /** This failure locked the account (the MAX_FAILED_ATTEMPTS-th in a row). */
  readonly lockedNow?: boolean;
}

export type OperatorCliContext = CliContext & {
  onSignIn?: (e: SignInEvent) => void;
  operatorsFile: () => Promise<string>;
};

interface PasswordOpts {
  passwordFile?: string;
}

async function readPassword(opts: PasswordOpts, prompt: string, confirm: boolean): Promise<string> {
  const source: SecretSource =
    opts.passwordFile !== undefined
      ? { file: opts.passwordFile }
      : process.env[OPERATOR_PASSWORD_ENV] !== undefined
        ? { env: OPERATOR_PASSWORD_ENV }
        : { prompt };
  return readSecret(source, {
    onWarning: (m) => process.stderr.write(`dcmsafe: warning: ${m}\n`),
    ...(confirm ? { confirmPrompt: 'Type it again: ' } : {}),
  });
}

function describe(o: OperatorInfo): string {
  const status = o.locked ? 'LOCKED' : o.failedAttempts > 0 ? `${o.failedAttempts} failed sign-in(s)` : 'ok';
  return `${o.name}\t${o.role}\tcreated ${o.created}\tlast sign-in ${o.lastSignIn ?? 'never'}\t${status}`;
}

export function addOperatorCommands(program: Command, ctx: OperatorCliContext): void {
  const store = async (): Promise<OperatorStore> => OperatorStore.open(await ctx.operatorsFile());
  const passwordOption = (): Option =>
    new Option('--password-file <file>', `file whose first line is the password (else $${OPERATOR_PASSWORD_ENV}, else a prompt)`);

  const operators = program
    .command('operators')
    .description('Operator accounts of the front-desk UI (names, roles, passwords, lock-out).');

  operators
    .command('add')
    .description('Add an operator account.')
    .argument('<name>', 'operator name: 1-64 characters from A-Z a-z 0-9 . _ @ -')
    .addOption(new Option('--role <role>', 'what the operator may do').choices(ROLES).makeOptionMandatory())
    .addOption(passwordOption())
    .action(async (name: string, opts: PasswordOpts & { role: Role }) => {
      const s = await store();
      if (s.list().some((o) => o.name === name)) throw new DcmsafeError('OPERATOR_EXISTS', `An operator named ${name} exists already`, { name });
      const password = await readPassword(opts, `New password for ${name}: `, true);
      await s.add(name, opts.role, password);
      ctx.print(`added ${name} (${opts.role})`);
    });

  operators
    .command('remove')
    .description('Remove an operator account.')
    .argument('<name>', 'operator name')
    .action(async (name: string) => {
      await (await store()).remove(name);
      ctx.print(`removed ${name}`);
    });

  operators
    .command('list')
    .description('List the operator accounts (never their passwords or hashes).')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }) => {
      ctx.setJson(opts.json === true);
      const list = (await store()).list();
      if (ctx.json()) ctx.print(list);
      else ctx.print(list.length === 0 ? 'no operators' : list.map(describe).join('\n'));
    });

  operators
    .command('passwd')
    .description("Set an operator's password; also unlocks a locked account.")
    .argument('<name>', 'operator name')
    .addOption(passwordOption())
    .action(async (name: string, opts: PasswordOpts) => {
      const s = await store();
      if (!s.list().some((o) => o.name === name)) throw new DcmsafeError('OPERATOR_UNKNOWN', `No operator named ${name}`, { name });
      const password = await readPassword(opts, `New password for ${name}: `, true);
      await s.setPassword(name, password);
      ctx.print(`password set for ${name}; the account is unlocked`);
    });

  operators
    .command('signin')
    .description('Check a sign-in as the front-desk UI does (counts towards the lock-out).')
    .argument('<name>', 'operator name')
    .addOption(passwordOption())
    .action(async (name: string, opts: PasswordOpts) => {
      const s = await store();
      const password = await readPassword(opts, `Password for ${name}: `, false);
      const result = await s.authenticate(name, password);
      if (result.ok) {
        ctx.onSignIn?.({ user: name, ok: true });
        ctx.print(`signed in as ${result.operator.name} (${result.operator.role})`);
        return;
      }
      const lockedNow = result.reason === 'wrong-password' && result.operator?.locked === true;
      ctx.onSignIn?.({ user: name, ok: false, reason: result.reason, ...(lockedNow ? { lockedNow } : {}) });
      // Unknown name and wrong password read the same; a locked account says so, so that the
      // operator knows to ask an admin (it tells that the name exists, which the lock-out limits).
      const error =
        result.reason === 'locked'
          ? new DcmsafeError('OPERATOR_LOCKED', `The account is locked after repeated failed sign-ins; an admin can unlock it with "dcmsafe operators passwd ${name}"`, { name })
          : new DcmsafeError('OPERATOR_AUTH_FAILED', 'Sign-in failed: unknown operator or wrong password', {});
      if (ctx.json()) ctx.print({ signedIn: false, error: error.toJSON() });
      else process.stderr.write(`dcmsafe: ${error.message}\n`);
      ctx.setExitCode(EXIT.VERIFICATION_FAILED);
    });
}
