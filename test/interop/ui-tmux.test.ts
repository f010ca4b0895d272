/**
 * The front desk end to end, as a clerk uses it: `dcmsafe ui` in a real terminal (tmux, 80×24),
 * driven with keys and read from the screen. Sign in; burn a password-protected, signed CD image of
 * a sample patient; verify that image; import it over DICOM-TLS into dcmtk `storescp` with a
 * reconciled Patient ID; sign out. The storescp folder must hold every instance of the image, with
 * the local Patient ID (read back with dcmdump), and the audit log the messages of the audit trail.
 *
 * storescp and the UI run inside a network namespace with only loopback up; the test talks to the
 * tmux server through its socket file. Every screen is kept in test-output/tui/e2e/ for review.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO, run, tempDir } from '../helpers/env.js';
import { describeInNetns } from '../helpers/netns.js';
import { TmuxSession } from '../helpers/tmux.js';
import { writeDeskConfig } from '../helpers/desk-config.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const OUTPUT = path.join(REPO, 'test-output/tui/e2e');
const PASSWORD = 'front desk passphrase 2026';
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describeInNetns(['unshare', 'ip', 'tmux', 'storescp', 'dcmdump', 'openssl'], 'dcmsafe ui end to end in tmux: sign in, burn, verify, import over TLS, sign out', () => {
  const dir = tempDir('dcmsafe-ui-e2e-');
  const pki = path.join(dir, 'pki');
  const samples = path.join(dir, 'samples');
  const outbox = path.join(dir, 'outbox');
  const received = path.join(dir, 'storescp');
  const config = path.join(dir, 'config.json');
  const auditLog = path.join(dir, 'audit.log');
  const stop = path.join(dir, 'stop');
  const socket = path.join(dir, 'tmux.sock');
  const ui = new TmuxSession(socket);
  let namespace: ChildProcess | undefined;
  let namespaceLog = '';

  const dcmsafe = (args: string[], env: Record<string, string> = {}) => run('node', [CLI, ...args], { env: { ...process.env, ...env } });

  beforeAll(async () => {
    expect(existsSync(CLI), 'build first').toBe(true);
    expect(dcmsafe(['samples', '--out', samples]).status).toBe(0);
    expect(dcmsafe(['pki', 'demo', '--out', pki]).status).toBe(0);
    mkdirSync(received);
    writeDeskConfig(config, {
      pacs: [{ name: 'main', host: '127.0.0.1', port: 11112, calledAE: 'STORESCP', callingAE: 'FRONTDESK', tls: { ca: 'pki/demo-root-ca.pem', cert: 'pki/tls-client.pem', key: 'pki/tls-client.key' } }],
    });
    const add = dcmsafe(['operators', 'add', 'alice', '--role', 'admin', '--config', config], { DCMSAFE_OPERATOR_PASSWORD: PASSWORD });
    expect(add.status, add.stderr).toBe(0);

    const env = `env HOME=${dir} XDG_DATA_HOME=${dir}/data XDG_CONFIG_HOME=${dir}/xdg TERM=xterm-256color`;
    const script = [
      'set -u',
      'ip link set lo up',
      `TCP_NODELAY=1 storescp +tls ${pki}/tls-server.key ${pki}/tls-server.pem +cf ${pki}/demo-root-ca.pem --require-peer-cert +xa -pm -aet STORESCP -od ${received} 11112 > ${dir}/storescp.log 2>&1 &`,
      `node -e "import('${REPO}/scripts/wait-port.mjs').then((m) => m.waitPort(11112, 10000))"`,
      `tmux -S ${socket} -f /dev/null new-session -d -s ui -x 80 -y 24 "${env} node ${CLI} ui --config ${config}"`,
      `while [ ! -e ${stop} ]; do sleep 0.2; done`,
      `tmux -S ${socket} kill-server 2>/dev/null || true`,
    ].join('\n');
    namespace = spawn('unshare', ['--net', '--pid', '--fork', '--kill-child', 'bash', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    namespace.stdout?.on('data', (d: Buffer) => (namespaceLog += d.toString()));
    namespace.stderr?.on('data', (d: Buffer) => (namespaceLog += d.toString()));
    const until = Date.now() + 30_000;
    while (!existsSync(socket) || !ui.alive()) {
      if (Date.now() > until) throw new Error(`tmux did not start: ${namespaceLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    ui.save(OUTPUT);
    // The two screens the issue asks to review, in the test log as well as in test-output/tui/e2e.
    for (const s of ui.screens.filter((x) => x.name === 'burn-confirmation' || x.name === 'import-verdict')) console.log(`--- ${s.name} (80x24) ---\n${s.text}`);
    writeFileSync(stop, '');
    await new Promise((r) => setTimeout(r, 500));
    namespace?.kill('SIGKILL');
  });

  /** Waits for `what`, lets the screen take the keyboard, keeps the screen under `name`. */
  const at = async (what: string | RegExp, name: string, timeoutMs = 30_000): Promise<string> => {
    await ui.waitFor(what, timeoutMs);
    await pause(250);
    return ui.keep(name);
  };
  const press = async (...keys: string[]): Promise<void> => {
    for (const k of keys) {
      ui.keys(k);
      await pause(150);
    }
  };
  const typeIn = async (text: string): Promise<void> => {
    ui.type(text);
    await pause(150);
  };

  it('a clerk signs in, burns, verifies, imports and signs out; storescp holds every instance; the audit trail has each step', async () => {
    await at('Operator:', 'sign-in');
    await typeIn('alice');
    await press('Enter');
    await typeIn(PASSWORD);
    await press('Enter');
    await at('What would you like to do?', 'home');

    // Burn: the inbox, the first patient, all studies, a CD, protected by a password for the patient.
    await press('Enter');
    await at('Inbox:', 'burn-source');
    await press('Enter');
    await at('2 of 6: patient', 'burn-patient');
    await press('Enter');
    await at('3 of 6: studies', 'burn-studies');
    await press('Enter');
    await at('4 of 6: medium', 'burn-medium');
    await press('Enter');
    await at('5 of 6: protection', 'burn-protection');
    await press('Down', 'Down', 'Space');
    const protection = await at('[x] Password for the patient', 'burn-protection-password');
    expect(protection).toContain('Signed by the institution key');
    await press('Enter');
    const confirmation = await at('Is this the right patient?', 'burn-confirmation');
    for (const shown of ['Łukasiewicz, Zoë', 'SAMPLE-A', '1978-03-14', 'CT', 'Medium        CD', 'password for the patient']) expect(confirmation).toContain(shown);
    await press('Enter');
    const passwordScreen = await at('shown only now', 'burn-password', 120_000);
    const password = /Without the spaces: (\S+)/.exec(passwordScreen)?.[1] ?? '';
    expect(password).toMatch(/^[2-9A-Z]{4}(-[2-9A-Z]{4})+$/);
    await press('Enter');
    const result = await at('The medium is made', 'burn-result');
    expect(result).not.toContain(password);
    const image = /^(\/\S+\.iso)\s/m.exec(result)?.[1] ?? '';
    expect(image.startsWith(outbox)).toBe(true);
    const sha = /SHA-256 ([0-9a-f]{64})/.exec(result)?.[1];
    expect(sha).toBe(createHash('sha256').update(readFileSync(image)).digest('hex'));
    expect(result).toContain('xorriso -as cdrecord');
    await press('Enter');
    await at('What would you like to do?', 'home-after-burn');

    // Verify the image with the password from the screen.
    await press('Down', 'Down', 'Enter');
    await at('Where is the medium', 'verify-medium');
    await typeIn(image);
    await press('Tab');
    await typeIn(password);
    await press('Enter');
    const verdict = await at(/TRUSTED|UNSIGNED|PROBLEMS|UNREADABLE/, 'verify-verdict', 60_000);
    expect(verdict).toContain('✔ TRUSTED');
    expect(verdict).toContain('SAMPLE-A');
    await press('Enter');
    await at('What would you like to do?', 'home-after-verify');

    // Import it over TLS into storescp with a local Patient ID.
    await press('Down', 'Enter');
    await at('Where is the medium', 'import-medium');
    await typeIn(image);
    await press('Tab');
    await typeIn(password);
    await press('Enter');
    const importVerdict = await at(/TRUSTED|UNSIGNED|PROBLEMS|UNREADABLE/, 'import-verdict', 60_000);
    expect(importVerdict).toContain('✔ TRUSTED');
    await press('Enter');
    await at('Local Patient ID', 'import-patient');
    await typeIn('LOCAL-4711');
    await press('Tab');
    await typeIn('OURHOSP');
    await press('Enter');
    await at('Which PACS', 'import-pacs');
    await press('Enter');
    const check = await at('Check and import', 'import-confirmation');
    expect(check).toContain('LOCAL-4711');
    await press('Enter');
    const summary = await at(/Every instance is on the PACS|NOT on the PACS|ERROR/, 'import-summary', 180_000);
    expect(summary).toContain('✔ Every instance is on the PACS');
    await press('Enter');
    await at('What would you like to do?', 'home-after-import');

    // Settings (admin): the PACS node answers a C-ECHO over TLS.
    await press('Down', 'Down', 'Down', 'Enter');
    await at('Operators', 'settings');
    await press('Down', 'Down', 'Down', 'Enter');
    await at('STORESCP@127.0.0.1:11112', 'settings-pacs');
    await press('t');
    const echoed = await at(/Echo OK|Echo FAILED/, 'settings-pacs-echo', 30_000);
    expect(echoed).toContain('✔ Echo OK');
    await press('Escape', 'Escape');
    await at('What would you like to do?', 'home-after-settings');

    // Sign out, then quit.
    await press('Escape');
    await at('alice signed out', 'signed-out');
    await press('C-c');
    for (let i = 0; i < 50 && ui.alive(); i++) await pause(100);
    expect(ui.alive()).toBe(false);

    // No screen was wider than the terminal, and each said which keys work.
    for (const s of ui.screens) {
      for (const line of s.text.split('\n')) expect([...line].length, `${s.name}: ${line}`).toBeLessThanOrEqual(80);
      expect(s.text, s.name).toMatch(/Enter|Esc|Ctrl\+C/);
    }

    // storescp holds every instance of the image, with the local Patient ID.
    const passwordFile = path.join(dir, 'password.txt');
    writeFileSync(passwordFile, `${password}\n`);
    const report = JSON.parse(dcmsafe(['verify', image, '--trust', path.join(pki, 'demo-root-ca.pem'), '--password-file', passwordFile, '--json']).stdout) as { summary: { instances: number } };
    const files = readdirSync(received);
    expect(report.summary.instances).toBeGreaterThan(20);
    expect(files).toHaveLength(report.summary.instances);
    for (const f of files) {
      const dump = run('dcmdump', ['+P', 'PatientID', '+P', 'IssuerOfPatientID', path.join(received, f)]);
      expect(dump.stdout, f).toContain('[LOCAL-4711]');
      expect(dump.stdout, f).toContain('[OURHOSP]');
    }

    // The audit trail: sign-in, export, import, transfer, sign-out; the chain intact; no password in it.
    const records = readFileSync(auditLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as { kind: string; operator: string; message: string });
    const ours = records.filter((r) => r.operator === 'alice');
    const kinds = ours.map((r) => r.kind);
    for (const k of ['user-authentication', 'export', 'import', 'begin-transferring', 'instances-transferred']) expect(kinds).toContain(k);
    const logins = ours.filter((r) => r.kind === 'user-authentication');
    expect(logins[0]?.message).toContain('110122'); // Login
    expect(logins.at(-1)?.message).toContain('110123'); // Logout
    expect(kinds.indexOf('export')).toBeLessThan(kinds.indexOf('import'));
    expect(run('node', [CLI, 'audit', 'check', auditLog]).status).toBe(0);
    const log = readFileSync(auditLog, 'utf8');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(password);
  }, 600_000);
});
