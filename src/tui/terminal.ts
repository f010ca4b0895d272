/**
 * Whether `dcmsafe ui` can run: it needs an interactive terminal. Kept apart from the UI itself so
 * the check runs before Ink is loaded (Ink decides at load time whether it may redraw the screen).
 */
import { DcmsafeError } from '../errors/index.js';

export function requireTerminal(stdin: { isTTY?: boolean }, stdout: { isTTY?: boolean }): void {
  if (stdin.isTTY && stdout.isTTY) return;
  throw new DcmsafeError(
    'NOT_INTERACTIVE',
    'dcmsafe ui needs an interactive terminal (standard input and output are not one). In scripts use the commands: dcmsafe create (burn), dcmsafe verify, dcmsafe import, dcmsafe operators; see dcmsafe --help.',
    {},
  );
}

/**
 * On a terminal the front desk is interactive whatever the environment says: Ink draws only a final
 * frame when CI or CONTINUOUS_INTEGRATION is set, which would leave a clerk before a blank screen.
 */
export function interactiveEnvironment(env: NodeJS.ProcessEnv): void {
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
}
