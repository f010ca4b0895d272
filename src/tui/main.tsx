/**
 * `dcmsafe ui`: the front desk in an interactive terminal. Without one (a pipe, a script, CI) it
 * refuses with a message pointing at the commands that do the same work.
 */
import { render } from 'ink';
import { App } from './app.js';
import { openDesk, type DeskOptions } from './desk-services.js';
import { requireTerminal } from './terminal.js';

export async function runUi(options: DeskOptions): Promise<void> {
  requireTerminal(process.stdin, process.stdout);
  const desk = await openDesk(options);
  const app = render(<App desk={desk} />, { exitOnCtrlC: true });
  try {
    await app.waitUntilExit();
  } finally {
    // Ctrl+C while signed in still leaves the sign-out in the audit trail.
    await desk.signOut();
  }
}
