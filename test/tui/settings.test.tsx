import { describe, expect, it } from 'vitest';
import { SettingsFlow } from '../../src/tui/settings.js';
import type { OperatorInfo, PacsNode } from '../../src/tui/desk.js';
import { ALICE, fakeDesk, type FakeDesk, type FakeDeskOptions } from './fake-desk.js';
import { CTRL_S, CTRL_U, DOWN, ENTER, ESC, TAB, UP, drive, screenshot, type Driven } from './drive.js';

const BOB: OperatorInfo = { name: 'bob', role: 'clerk', created: '2026-11-02T09:00:00Z', failedAttempts: 2, locked: false, lastSignIn: '2026-11-20T08:15:00Z' };
const CAROL: OperatorInfo = { name: 'carol', role: 'clerk', created: '2026-11-03T09:00:00Z', failedAttempts: 5, locked: true };
const MAIN: PacsNode = { name: 'Main PACS', host: 'pacs.local', port: 104, calledAE: 'PACS' };
const SECURE: PacsNode = { name: 'Research', host: 'research.example.org', port: 2762, calledAE: 'RESEARCH', callingAE: 'DCMSAFE', tls: { ca: '/etc/dcmsafe/ca.pem' } };

function start(options: FakeDeskOptions = {}, operator: OperatorInfo = ALICE) {
  const desk = fakeDesk({ ...options, config: { file: '/etc/dcmsafe/config.json', ...options.config } });
  let homes = 0;
  const s = drive(<SettingsFlow desk={desk} operator={operator} home={() => homes++} />);
  return { ...s, desk, homes: () => homes };
}

/** Opens the n-th entry of the settings menu (0: Operators … 6: Institution name). */
async function openSection(s: Driven, index: number): Promise<void> {
  await s.settle();
  for (let i = 0; i < index; i++) await s.press(DOWN);
  await s.press(ENTER);
}

const saves = (desk: FakeDesk): number => desk.calls.filter((c) => c.method === 'saveConfig').length;

describe('settings: menu and access', () => {
  it('lists what can be changed, opens a section with Enter, and Esc goes back, then home', async () => {
    const s = start({ config: { pacs: [MAIN], trust: ['/etc/dcmsafe/trust'] } });
    await s.settle();
    const menu = s.frame();
    screenshot('settings-menu.txt', menu);
    for (const entry of ['Operators', 'Trust anchors', 'Recipient institutions', 'PACS nodes', 'Audit repository', 'Media', 'Institution name']) expect(menu).toContain(entry);
    expect(menu).toContain('1 node');
    expect(menu).toContain('signed in: alice');
    expect(menu).toContain('Esc back');
    await s.press(DOWN, DOWN, DOWN, ENTER);
    expect(s.frame()).toContain('Settings · PACS nodes');
    await s.press(ESC);
    expect(s.frame()).toContain('What do you want to change?');
    expect(s.homes()).toBe(0);
    await s.press(ESC);
    expect(s.homes()).toBe(1);
  });

  it('refuses a clerk, and Esc goes home', async () => {
    const s = start({}, { ...BOB });
    await s.settle();
    const f = s.frame();
    expect(f).toContain('✖ ERROR:');
    expect(f).toContain('administrators only');
    expect(f).toContain('bob is signed in as clerk');
    expect(f).not.toContain('PACS nodes');
    await s.press(ESC);
    expect(s.homes()).toBe(1);
  });
});

describe('settings: operators', () => {
  it('lists operators with role, lock state, failed attempts and last sign-in', async () => {
    const s = start({ operators: [ALICE, BOB, CAROL] });
    await openSection(s, 0);
    const f = s.frame();
    screenshot('settings-operators.txt', f);
    expect(f).toMatch(/alice\s+admin\s+✔ can sign in\s+never/);
    expect(f).toMatch(/bob\s+clerk\s+! 2 failed attempts\s+2026-11-20 08:15/);
    expect(f).toMatch(/carol\s+clerk\s+✖ locked \(5 failed\)/);
    expect(f).toContain('n new operator');
  });

  it('says when the operators cannot be read, and tries again with r', async () => {
    const s = start({ fail: { listOperators: 'operators file is busy' } });
    await openSection(s, 0);
    expect(s.frame()).toContain('✖ ERROR: The operators could not be read: operators file is busy');
    await s.press('r');
    expect(s.desk.calls.filter((c) => c.method === 'listOperators')).toHaveLength(2);
    await s.press(ESC);
    expect(s.frame()).toContain('What do you want to change?');
  });

  it('refuses to remove yourself, and removes another operator only after a confirmation', async () => {
    const s = start({ operators: [ALICE, BOB, CAROL] });
    await openSection(s, 0);
    await s.press('d');
    expect(s.frame()).toContain('You cannot remove yourself (alice)');
    expect(s.desk.calls.some((c) => c.method === 'removeOperator')).toBe(false);

    await s.press(DOWN, 'd');
    const confirm = s.frame();
    screenshot('settings-operator-remove.txt', confirm);
    expect(s.said()).toContain('Remove operator bob (clerk)? They will no longer be able to sign in. y/N');
    await s.press('n');
    expect(s.frame()).toContain('Settings · Operators');
    expect(s.desk.calls.some((c) => c.method === 'removeOperator')).toBe(false);

    await s.press(DOWN, 'd');
    expect(s.frame()).toContain('Remove operator bob');
    await s.press(ENTER); // Enter is "No"
    expect(s.desk.calls.some((c) => c.method === 'removeOperator')).toBe(false);

    await s.press(DOWN, 'd', 'y');
    expect(s.desk.calls.find((c) => c.method === 'removeOperator')?.args).toEqual(['bob']);
    expect(s.frame()).toContain('✔ Removed operator bob');
  });

  it('shows a failed removal on the confirmation screen', async () => {
    const s = start({ operators: [ALICE, BOB], fail: { removeOperator: 'the operators file is locked by another process' } });
    await openSection(s, 0);
    await s.press(DOWN, 'd', 'y');
    const f = s.frame();
    expect(f).toContain('✖ ERROR: the operators file is locked by another process');
    expect(f).toContain('Remove operator bob');
    await s.press(ESC);
    expect(s.frame()).toContain('Settings · Operators');
  });

  it('adds an operator: name, role from a list, password typed twice (masked), mismatch said', async () => {
    const s = start({ operators: [ALICE] });
    await openSection(s, 0);
    await s.press('n');
    expect(s.frame()).toContain('New (1 of 4)');
    await s.press(ENTER);
    expect(s.frame()).toContain('The user name is empty');
    await s.press('dave', ENTER);
    const roles = s.frame();
    expect(roles).toContain('clerk');
    expect(roles).toContain('admin');
    expect(roles).toContain('also changes settings and operators');
    await s.press(DOWN, ENTER);
    expect(s.frame()).toContain('Role:      admin');
    await s.press('maple orbit cello', ENTER, 'maple orbit cellx', ENTER);
    const mismatch = s.frame();
    expect(mismatch).toContain('The two passwords are not the same');
    expect(mismatch).not.toContain('maple');
    expect(s.desk.calls.some((c) => c.method === 'addOperator')).toBe(false);

    await s.press('maple orbit cello', ENTER);
    const masked = s.frame();
    screenshot('settings-operator-new.txt', masked);
    expect(masked).toContain('•'.repeat(17));
    expect(masked).not.toContain('maple');
    await s.press('maple orbit cello', ENTER);
    expect(s.desk.calls.find((c) => c.method === 'addOperator')?.args).toEqual(['dave', 'admin', 'maple orbit cello']);
    expect(s.frame()).toContain('✔ Added operator dave (admin)');
  });

  it("shows the desk's refusal of a password and keeps the form", async () => {
    const message = 'The password is too short: at least 12 characters are needed (it has 5)';
    const s = start({ fail: { addOperator: message } });
    await openSection(s, 0);
    await s.press('n', 'erin', ENTER, ENTER, 'short', ENTER, 'short', ENTER);
    const f = s.frame();
    expect(s.said()).toContain(`✖ ERROR: ${message}`);
    expect(f).toContain('User name: erin');
    expect(f).toContain('Role:      clerk');
    expect(f).toContain('Password');
    // Esc goes back one step at a time: password → role → name → the list.
    await s.press(ESC);
    expect(s.frame()).toContain('What may they do?');
    await s.press(ESC);
    expect(s.frame()).toContain('New (1 of 4)');
    await s.press(ESC);
    expect(s.frame()).toContain('Last sign-in');
  });
});

describe('settings: trust anchors and recipients', () => {
  it('adds and removes a trust anchor, saving each change', async () => {
    const s = start({ config: { trust: ['/etc/dcmsafe/trust/old-ca.pem'] } });
    await openSection(s, 1);
    expect(s.frame()).toContain('/etc/dcmsafe/trust/old-ca.pem');
    await s.press('n', ENTER);
    expect(s.frame()).toContain('The path is empty');
    await s.press('/etc/dcmsafe/trust/old-ca.pem', ENTER);
    expect(s.frame()).toContain('is already a trust anchor');
    await s.press(CTRL_U, '/etc/dcmsafe/trust/new-ca.pem', ENTER);
    expect(s.desk.saved?.trust).toEqual(['/etc/dcmsafe/trust/old-ca.pem', '/etc/dcmsafe/trust/new-ca.pem']);
    expect(s.frame()).toContain('✔ Saved to /etc/dcmsafe/config.json');

    await s.press('d');
    expect(s.said()).toContain('Remove trust anchor /etc/dcmsafe/trust/old-ca.pem? Media signed under it will no longer be trusted. y/N');
    await s.press('y');
    expect(s.desk.saved?.trust).toEqual(['/etc/dcmsafe/trust/new-ca.pem']);
    expect(s.frame()).toContain('✔ Saved to');
  });

  it('shows a rejected save and keeps the form so it can be fixed', async () => {
    const s = start({ fail: { saveConfig: 'CONFIG_INVALID: trust[0]: /nope does not exist' } });
    await openSection(s, 1);
    await s.press('n', '/nope', ENTER);
    const f = s.frame();
    screenshot('settings-save-refused.txt', f);
    expect(f).toContain('✖ ERROR: CONFIG_INVALID: trust[0]: /nope does not exist');
    expect(f).toContain('File or folder: /nope');
    expect(s.desk.saved).toBeUndefined();
    await s.press(ESC);
    expect(s.frame()).toContain('No trust anchors yet');
  });

  it('adds a recipient institution (name and certificate) and removes one after a confirmation', async () => {
    const s = start({ config: { recipients: [{ name: 'Elsewhere', certificate: '/etc/dcmsafe/elsewhere.pem' }] } });
    await openSection(s, 2);
    expect(s.frame()).toContain('Elsewhere');
    await s.press('n', 'elsewhere', TAB, '/x.pem', CTRL_S);
    expect(s.frame()).toContain('"elsewhere" is already used');
    await s.press(UP, CTRL_U, 'County Clinic', TAB, CTRL_U, '/etc/dcmsafe/county.pem', ENTER);
    expect(s.desk.saved?.recipients).toEqual([
      { name: 'Elsewhere', certificate: '/etc/dcmsafe/elsewhere.pem' },
      { name: 'County Clinic', certificate: '/etc/dcmsafe/county.pem' },
    ]);
    expect(s.frame()).toContain('County Clinic');
    await s.press('d');
    expect(s.said()).toContain('Remove recipient institution Elsewhere? Media can then no longer be encrypted for it. y/N');
    await s.press('y');
    expect(s.desk.saved?.recipients).toEqual([{ name: 'County Clinic', certificate: '/etc/dcmsafe/county.pem' }]);
  });
});

describe('settings: PACS nodes', () => {
  it('lists nodes with AE@host:port and whether the link is encrypted', async () => {
    const s = start({ config: { pacs: [MAIN, SECURE] } });
    await openSection(s, 3);
    const f = s.frame();
    expect(f).toMatch(/Main PACS\s+PACS@pacs\.local:104\s+NOT encrypted/);
    expect(f).toMatch(/Research\s+RESEARCH@research\.example\.org:2762\s+TLS/);
  });

  it('adds a node, refusing a bad port and an empty AE title first', async () => {
    const s = start();
    await openSection(s, 3);
    expect(s.frame()).toContain('No PACS nodes yet');
    await s.press('n');
    expect(s.frame()).toContain('Port *');
    await s.press('Main', TAB, 'pacs.local', TAB, CTRL_U, '70000', TAB, CTRL_S);
    const errors = s.frame();
    screenshot('settings-pacs-form-errors.txt', errors);
    expect(errors).toContain('Port must be a whole number from 1 to 65535');
    expect(errors).toContain('Called AE title is empty');
    expect(saves(s.desk)).toBe(0);

    await s.press('PACS\\1', CTRL_S);
    expect(s.frame()).toContain('Called AE title cannot contain a backslash');
    await s.press(CTRL_U, 'A_VERY_LONG_AE_TITLE', CTRL_S);
    expect(s.frame()).toContain('at most 16 characters');
    await s.press(CTRL_U, 'PACS', UP, CTRL_U, 'abc', CTRL_S);
    expect(s.frame()).toContain('Port must be a whole number');
    await s.press(CTRL_U, '11112', CTRL_S);
    expect(s.desk.saved?.pacs).toEqual([{ name: 'Main', host: 'pacs.local', port: 11112, calledAE: 'PACS' }]);
    const list = s.frame();
    expect(list).toContain('✔ Saved to /etc/dcmsafe/config.json');
    expect(list).toMatch(/Main\s+PACS@pacs\.local:11112\s+NOT encrypted/);
  });

  it('refuses a duplicate name and TLS files without a CA', async () => {
    const s = start({ config: { pacs: [MAIN] } });
    await openSection(s, 3);
    await s.press('n', 'main pacs', TAB, 'h', TAB, TAB, 'AE');
    for (let i = 0; i < 3; i++) await s.press(DOWN);
    await s.press('/tls/cert.pem', CTRL_S);
    const f = s.frame();
    expect(f).toContain('"main pacs" is already used');
    expect(f).toContain('TLS CA file is needed when any TLS field is given');
    expect(f).toContain('TLS certificate and TLS key go together');
    expect(saves(s.desk)).toBe(0);
  });

  it('edits a node in place, adding TLS', async () => {
    const s = start({ config: { pacs: [MAIN, SECURE] } });
    await openSection(s, 3);
    await s.press('e');
    const form = s.frame();
    expect(form).toContain('Edit Main PACS');
    expect(form).toContain('Host *             : pacs.local');
    for (let i = 0; i < 5; i++) await s.press(TAB);
    await s.press('/etc/dcmsafe/pacs-ca.pem', ENTER, ENTER, ENTER, ENTER, 'pacs.hospital.org', ENTER);
    expect(s.desk.saved?.pacs).toEqual([{ ...MAIN, tls: { ca: '/etc/dcmsafe/pacs-ca.pem', servername: 'pacs.hospital.org' } }, SECURE]);
    expect(s.frame()).toMatch(/Main PACS\s+PACS@pacs\.local:104\s+TLS/);
  });

  it('runs an echo test and says whether it worked', async () => {
    const ok = start({ config: { pacs: [MAIN, SECURE] } });
    await openSection(ok, 3);
    await ok.press(DOWN, 't');
    const f = ok.frame();
    screenshot('settings-pacs-echo.txt', f);
    expect(f).toContain('✔ Echo OK (Research): C-ECHO status 0000 in 3.1 ms');
    expect(ok.desk.calls.find((c) => c.method === 'echo')?.args).toEqual([SECURE]);

    const refused = start({ config: { pacs: [MAIN] }, echo: { ok: false, text: 'association rejected: called AE title not recognised' } });
    await openSection(refused, 3);
    await refused.press('t');
    expect(refused.frame()).toContain('✖ Echo FAILED (Main PACS): association rejected: called AE title not recognised');

    const unreachable = start({ config: { pacs: [MAIN] }, fail: { echo: 'connect ECONNREFUSED 10.0.0.5:104' } });
    await openSection(unreachable, 3);
    await unreachable.press('t');
    expect(unreachable.frame()).toContain('✖ Echo FAILED (Main PACS): connect ECONNREFUSED 10.0.0.5:104');
  });

  it('removes a node only after a confirmation', async () => {
    const s = start({ config: { pacs: [MAIN, SECURE] } });
    await openSection(s, 3);
    await s.press('d');
    expect(s.said()).toContain('Remove PACS node Main PACS (PACS@pacs.local:104)? Media can then no longer be imported into it. y/N');
    await s.press(ESC);
    expect(s.frame()).toContain('Settings · PACS nodes');
    expect(saves(s.desk)).toBe(0);
    await s.press('d', 'y');
    expect(s.desk.saved?.pacs).toEqual([SECURE]);
    expect(s.frame()).not.toContain('Main PACS');
  });

  it('Esc leaves the form without saving, then the list, then the menu', async () => {
    const s = start({ config: { pacs: [MAIN] } });
    await openSection(s, 3);
    await s.press('n', 'half typed', ESC);
    expect(s.frame()).toContain('Settings · PACS nodes');
    expect(saves(s.desk)).toBe(0);
    await s.press(ESC);
    expect(s.frame()).toContain('What do you want to change?');
    await s.press(ESC);
    expect(s.homes()).toBe(1);
  });

  it('keeps long names within 80 columns', async () => {
    const long: PacsNode = { name: 'A'.repeat(64), host: `${'h'.repeat(60)}.example.org`, port: 65535, calledAE: 'X'.repeat(16), tls: { ca: `/${'c'.repeat(120)}.pem` } };
    const s = start({ config: { pacs: [long], trust: [`/${'t'.repeat(150)}`], recipients: [{ name: 'R'.repeat(64), certificate: `/${'r'.repeat(100)}` }], institution: { name: 'I'.repeat(64) } } });
    await openSection(s, 3);
    s.frame();
    await s.press('e');
    s.frame();
    await s.press(ESC, ESC, UP, UP, ENTER);
    s.frame();
    await s.press(ESC, UP, ENTER);
    s.frame();
  });
});

describe('settings: audit repository, media and institution', () => {
  it('sets the audit repository (host, port, TLS CA required) and the log', async () => {
    const s = start();
    await openSection(s, 4);
    expect(s.frame()).toContain('not set: audit messages are not sent anywhere');
    await s.press('e');
    await s.press('/var/log/dcmsafe/audit.log', TAB, 'audit.example.org', TAB, '6514', CTRL_S);
    expect(s.frame()).toContain('TLS CA file is empty: the audit repository needs TLS');
    expect(saves(s.desk)).toBe(0);
    await s.press(TAB, '/etc/dcmsafe/audit-ca.pem');
    screenshot('settings-audit-form.txt', s.frame());
    await s.press(CTRL_S);
    expect(s.desk.saved?.audit).toEqual({ log: '/var/log/dcmsafe/audit.log', repository: { host: 'audit.example.org', port: 6514, tls: { ca: '/etc/dcmsafe/audit-ca.pem' } } });
    const f = s.frame();
    expect(f).toContain('✔ Saved to /etc/dcmsafe/config.json');
    expect(f).toContain('audit.example.org:6514 (TLS)');
  });

  it('clears the audit repository only after a confirmation, keeping the log', async () => {
    const repository = { host: 'audit.example.org', port: 6514, tls: { ca: '/ca.pem' } };
    const s = start({ config: { audit: { log: '/var/log/audit.log', repository, spool: '/var/spool/dcmsafe' } } });
    await openSection(s, 4);
    await s.press('e');
    await s.press(TAB, CTRL_U, TAB, CTRL_U, TAB, CTRL_U, CTRL_S);
    expect(s.said()).toContain('to stop sending audit messages, press Esc, then c (clear)');
    await s.press(ESC, 'c');
    expect(s.said()).toContain('Stop sending audit messages to audit.example.org:6514? They will only be written to /var/log/audit.log. y/N');
    await s.press('y');
    expect(s.desk.saved?.audit).toEqual({ log: '/var/log/audit.log', spool: '/var/spool/dcmsafe' });
    expect(s.frame()).toContain('Repository:      not set');
  });

  it('sets the media folders and the institution name', async () => {
    const s = start({ config: { media: { outbox: '/old/outbox' } } });
    await openSection(s, 5);
    expect(s.frame()).toContain('Outbox folder: /old/outbox');
    await s.press(CTRL_U, '/srv/outbox', TAB, '/dev/sr0', ENTER);
    expect(s.desk.saved?.media).toEqual({ outbox: '/srv/outbox', drive: '/dev/sr0' });
    expect(s.frame()).toContain('✔ Saved to /etc/dcmsafe/config.json');
    await s.press(DOWN, DOWN, DOWN, DOWN, DOWN, DOWN, ENTER);
    await s.press('General\\Hospital', ENTER);
    expect(s.frame()).toContain('cannot contain a backslash');
    await s.press(CTRL_U, 'General Hospital', ENTER);
    expect(s.desk.saved?.institution).toEqual({ name: 'General Hospital' });
    expect(s.desk.saved?.media).toEqual({ outbox: '/srv/outbox', drive: '/dev/sr0' });
    expect(s.frame()).toContain('General Hospital');
  });
});
