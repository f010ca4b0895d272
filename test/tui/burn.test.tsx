import { describe, expect, it } from 'vitest';
import { BurnFlow } from '../../src/tui/burn.js';
import type { BurnRequest, BurnResult, Config, CreateEvent, SourceScan } from '../../src/tui/desk.js';
import { ALICE, fakeDesk, type FakeDesk, type FakeDeskOptions } from './fake-desk.js';
import { DOWN, ENTER, ESC, drive, screenshot } from './drive.js';

const SCAN: SourceScan = {
  folder: '/srv/inbox',
  leftOut: 2,
  patients: [
    {
      id: 'P123',
      name: 'DOE^JANE',
      birthDate: '19700101',
      sex: 'F',
      studies: [
        { studyInstanceUID: '1.2.1', description: 'Chest with contrast', date: '20260101', modalities: ['CT'], instances: 120, bytes: 60_000_000, files: [] },
        { studyInstanceUID: '1.2.2', description: 'Knee left', date: '20260202', modalities: ['MR', 'SR'], instances: 40, bytes: 20_000_000, files: [] },
      ],
    },
    {
      id: 'P456',
      name: 'ROE^RICHARD',
      birthDate: '19800512',
      sex: 'M',
      studies: [{ studyInstanceUID: '1.3.1', description: 'Head', date: '20260303', modalities: ['CT'], instances: 10, bytes: 900_000_000, files: [] }],
    },
  ],
};

const CONFIG: Partial<Config> = {
  inbox: '/srv/inbox',
  recipients: [{ name: 'St. Elsewhere Hospital', certificate: '/etc/dcmsafe/elsewhere.pem' }],
};

const SIGNING = { signing: { certificate: '/etc/dcmsafe/us.pem', key: '/etc/dcmsafe/us.key' }, institution: { name: 'General Hospital' } };

function setup(options: FakeDeskOptions = {}, desk: FakeDesk = fakeDesk({ scan: SCAN, ...options, config: { ...CONFIG, ...options.config } })) {
  const homes: number[] = [];
  let clock = 1_000_000;
  const s = drive(<BurnFlow desk={desk} operator={ALICE} home={() => homes.push(1)} now={() => clock} />);
  return { ...s, desk, homes, setClock: (ms: number) => (clock = ms) };
}

type Burn = ReturnType<typeof setup>;

/** From the start, Enter on the inbox: the screen once the scan shows `text`. */
async function scanInbox(s: Burn, text = '2 of 6'): Promise<string> {
  await s.settle();
  await s.press(ENTER); // inbox
  return s.until(text);
}

/** From the start to the protection step: inbox, Jane Doe, all studies, the medium at `downs`. */
async function toProtection(s: Burn, downs = 0): Promise<string> {
  await scanInbox(s, '2 of 6: patient');
  await s.press(ENTER); // Jane Doe
  await s.press(ENTER); // all studies
  for (let i = 0; i < downs; i++) await s.press(DOWN);
  return s.press(ENTER);
}

describe('the Burn flow', () => {
  it('step 1 offers the inbox and a typed folder; Esc goes home', async () => {
    const s = setup();
    await s.settle();
    const frame = s.frame();
    for (const text of ['Inbox: /srv/inbox', 'Type a folder path…', 'signed in: alice', 'Esc home']) expect(frame).toContain(text);
    await s.press(ESC);
    expect(s.homes).toHaveLength(1);
  });

  it('without an inbox only a typed folder is offered; the typed folder is scanned', async () => {
    const s = setup({ config: { inbox: undefined } });
    await s.settle();
    expect(s.lastFrame()).not.toContain('Inbox:');
    let frame = await s.press(ENTER);
    expect(frame).toContain('› Folder:');
    frame = await s.press(ENTER);
    expect(frame).toContain("Type the folder's path first");
    await s.press('/media/cdrom');
    frame = await s.press(ESC); // back to the list, not home
    expect(s.homes).toHaveLength(0);
    expect(frame).not.toContain('› Folder:');
    await s.press(ENTER, '/data/jane', ENTER);
    await s.until('DOE, JANE');
    expect(s.desk.calls.find((c) => c.method === 'scanSource')?.args[0]).toBe('/data/jane');
    expect(s.lastFrame()).toContain('DOE, JANE');
  });

  it('says how far the scan is', async () => {
    const base = fakeDesk({ scan: SCAN, config: CONFIG });
    let finish: () => void = () => undefined;
    const desk: FakeDesk = {
      ...base,
      scanSource: (folder, onProgress) =>
        new Promise((resolve) => {
          onProgress?.(3, 10);
          finish = () => resolve({ ...SCAN, folder });
        }),
    };
    const s = setup({}, desk);
    await s.settle();
    const frame = await s.press(ENTER);
    expect(frame).toContain('Scanning… 3 of 10 files');
    await s.act(() => finish());
    expect(await s.until('DOE, JANE')).toContain('DOE, JANE');
  });

  it('a scan failure is an error with Esc back to step 1', async () => {
    const s = setup({ fail: { scanSource: 'EACCES: permission denied' } });
    const frame = await scanInbox(s, 'ERROR');
    for (const text of ['✖ ERROR:', 'EACCES: permission denied', 'Esc back']) expect(frame).toContain(text);
    expect(await s.press(ESC)).toContain('Type a folder path…');
    expect(s.homes).toHaveLength(0);
  });

  it('a folder with no patients says so', async () => {
    const s = setup({ scan: { folder: '/srv/inbox', patients: [], leftOut: 4 } });
    const frame = await scanInbox(s);
    expect(frame).toContain('No patients found');
    expect(frame).toContain('4 files left out');
  });

  it('step 2 lists the patients found (one per medium); Esc goes back to step 1', async () => {
    const s = setup();
    const frame = await scanInbox(s);
    for (const text of ['One patient per medium', 'DOE, JANE · ID P123 · born 1970-01-01 · 2 studies', 'ROE, RICHARD · ID P456 · born 1980-05-12 · 1 study', '2 files left out']) expect(frame).toContain(text);
    expect(await s.press(ESC)).toContain('Inbox: /srv/inbox');
    expect(s.homes).toHaveLength(0);
  });

  it('step 3 marks all studies, Space unmarks, Enter with none marked says so, a marks all', async () => {
    const s = setup();
    await scanInbox(s);
    let frame = await s.press(ENTER);
    for (const text of ['[x] 2026-01-01  CT', 'Chest with contrast', '120 images · 60.0 MB', '[x] 2026-02-02  MR/SR', '2 of 2 studies marked · 80.0 MB']) expect(frame).toContain(text);
    await s.press(' ', DOWN, ' ');
    frame = await s.press(ENTER);
    expect(frame).toContain('No study is marked');
    expect(frame).toContain('3 of 6: studies');
    frame = await s.press('a');
    expect(frame).not.toContain('No study is marked');
    await s.press(DOWN, ' '); // only the CT
    frame = await s.press(ENTER);
    expect(frame).toContain('4 of 6: medium');
    expect(await s.press(ESC)).toMatch(/\[x\] 2026-01-01[^\n]*\n[^\n]*\[ \] 2026-02-02/); // back keeps the marks
  });

  it('step 4 shows the capacity gauge for the medium under the cursor and asks a stick for its folder', async () => {
    const s = setup();
    await scanInbox(s);
    await s.press(DOWN, ENTER); // Richard: 900 MB
    let frame = await s.press(ENTER);
    for (const text of ['CD', '900 MB of 737 MB', 'it takes 2 media']) expect(frame).toContain(text);
    frame = await s.press(DOWN);
    expect(frame).toContain('900 MB of 4.7 GB');
    expect(frame).not.toContain('it takes 2 media');
    frame = await s.press(DOWN);
    expect(frame).toContain('Size: 900 MB (no fixed capacity)');
    frame = await s.press(ENTER);
    expect(frame).toContain('Stick folder');
    frame = await s.press(ENTER);
    expect(frame).toContain('Type the folder of the mounted stick first');
    frame = await s.press('/media/usb', ENTER);
    expect(frame).toContain('5 of 6: protection');
    frame = await s.press(ESC);
    expect(frame).toContain('Stick folder');
  });

  it('step 5 offers plain, each recipient and a password, and says whether files are signed', async () => {
    const s = setup({ config: SIGNING });
    let frame = await toProtection(s);
    for (const text of ['[x] No encryption (plain IHE PDI, opens in any viewer)', '[ ] Encrypt for St. Elsewhere Hospital', '[ ] Password for the patient (generated)']) expect(frame).toContain(text);
    for (const text of ['Not signed: plain media are never signed in this release']) expect(frame).toContain(text);
    frame = await s.press(DOWN, ' ');
    for (const text of ['[ ] No encryption', '[x] Encrypt for St. Elsewhere Hospital', '✔ OK: Signed by the institution key (General Hospital)']) expect(frame).toContain(text);
    frame = await s.press(DOWN, ' ');
    expect(frame).toContain('Protection: encrypted for St. Elsewhere Hospital + password for the patient');
    frame = await s.press('k', 'k', ' ');
    for (const text of ['[x] No encryption', '[ ] Encrypt for', '[ ] Password for']) expect(frame).toContain(text);
  });

  it('encryption without a signing key says it will not be signed', async () => {
    const s = setup();
    await toProtection(s);
    const frame = await s.press(DOWN, DOWN, ' ');
    expect(frame).toContain('! WARNING: Not signed: no signing key configured');
  });

  it('the confirmation restates the patient, studies, medium and protection; only Enter burns', async () => {
    const s = setup({ config: SIGNING });
    await toProtection(s, 1); // DVD
    await s.press(DOWN, DOWN, ' ');
    const frame = await s.press(ENTER);
    screenshot('burn-confirmation.txt', frame);
    for (const text of ['check before burning', 'Is this the right patient?', 'DOE, JANE', 'P123', '1970-01-01', 'F (female)', '2026-01-01  CT  Chest with contrast']) expect(frame).toContain(text);
    for (const text of ['2026-02-02  MR/SR  Knee left', 'DVD', 'password for the patient', '80.0 MB on 1 DVD', 'Enter burn']) expect(frame).toContain(text);
    await s.press(' ', 'b', 'y', DOWN);
    expect(s.desk.calls.some((c) => c.method === 'burn')).toBe(false);
    expect(await s.press(ESC)).toContain('5 of 6: protection');
    expect(s.lastFrame()).toContain('[x] Password for the patient');
    await s.press(ENTER, ENTER);
    await s.until("the patient's password");
    const request = s.desk.calls.find((c) => c.method === 'burn')?.args[0] as BurnRequest;
    expect(request.patient.id).toBe('P123');
    expect(request.studies.map((x) => x.studyInstanceUID)).toEqual(['1.2.1', '1.2.2']);
    expect(request.medium).toBe('dvd');
    expect(request.protection).toEqual({ password: true });
  });

  it('writing shows bytes, rate, time left and the medium count; Esc does nothing', async () => {
    const base = fakeDesk({ scan: SCAN, config: CONFIG });
    let emit: (e: CreateEvent) => void = () => undefined;
    let finish: (r: BurnResult) => void = () => undefined;
    const desk: FakeDesk = {
      ...base,
      burn: (_request, onEvent) =>
        new Promise((resolve) => {
          emit = onEvent;
          finish = resolve;
        }),
    };
    const s = setup({}, desk);
    await toProtection(s);
    await s.press(ENTER);
    let frame = await s.press(ENTER);
    expect(frame).toContain('Preparing…');
    await s.act(() => {
      emit({ type: 'collected', files: 160 });
      emit({ type: 'scanned', path: '/x', index: 79, total: 160, result: 'instance' } as CreateEvent);
    });
    expect(s.lastFrame()).toContain('checked 80 of 160 files');
    s.setClock(1_000_000);
    await s.act(() => emit({ type: 'planned', patients: 1, instances: 160, volumes: 2, bytes: 1_000_000_000 }));
    s.setClock(1_010_000);
    frame = await s.act(() => emit({ type: 'progress', volume: 1, bytesDone: 250_000_000, bytesTotal: 500_000_000 }));
    for (const text of ['Medium 1 of 2', ' 50%', '250 MB of 500 MB · 25.0 MB/s · 0:10 left', 'cannot be interrupted safely']) expect(frame).toContain(text);
    await s.act(() => {
      emit({ type: 'wrote-volume', volume: 1, output: '/out/DOE-1.iso', bytes: 500_000_000 });
      emit({ type: 'progress', volume: 2, bytesDone: 0, bytesTotal: 500_000_000 });
    });
    frame = await s.press(ESC);
    expect(frame).toContain('Medium 2 of 2');
    expect(frame).toContain('✔ medium 1 written: /out/DOE-1.iso');
    expect(s.homes).toHaveLength(0);
    await s.act(() => finish({ outputs: [{ path: '/out/DOE-1.iso', bytes: 1, sha256: 'cd'.repeat(32) }], labelText: 'L' }));
    expect(await s.until('SHA-256')).toContain('SHA-256 ' + 'cd'.repeat(32));
  });

  it('the result shows each image with its SHA-256, the label, the burn command; Enter goes home', async () => {
    const result: BurnResult = {
      outputs: [{ path: '/var/dcmsafe/outbox/DOE_JANE_P123_20261101.iso', bytes: 80_123_456, sha256: '0123456789abcdef'.repeat(4) }],
      labelText: 'DOE, JANE · P123 · born 1970-01-01\nCT 2026-01-01 Chest with contrast\nMR 2026-02-02 Knee left\nGeneral Hospital · 2026-11-01\nline 5\nline 6\nline 7\nline 8',
      letterFile: '/var/dcmsafe/outbox/DOE_JANE_P123_20261101-label.txt',
      burnCommand: 'xorriso -as cdrecord -v dev=/dev/sr0 -dao /var/dcmsafe/outbox/DOE_JANE_P123_20261101.iso',
    };
    const s = setup({ burnResult: result });
    await toProtection(s);
    await s.press(ENTER, ENTER);
    const frame = await s.until('SHA-256');
    screenshot('burn-result.txt', frame);
    for (const text of ['/var/dcmsafe/outbox/DOE_JANE_P123_20261101.iso  (80.1 MB)', `SHA-256 ${'0123456789abcdef'.repeat(4)}`, 'DOE, JANE · P123 · born 1970-01-01', 'line 6']) expect(frame).toContain(text);
    expect(frame).not.toContain('line 7');
    expect(frame).toContain('2 more lines in the saved file');
    expect(frame).toContain('Label to print: /var/dcmsafe/outbox/DOE_JANE_P123_20261101-label.txt');
    expect(frame.replace(/\s+/g, ' ')).toContain(result.burnCommand);
    expect(frame).toContain('Not signed: plain media are never signed');
    expect(frame).not.toContain('b burn now');
    await s.press(ENTER);
    expect(s.homes).toHaveLength(1);
  });

  it('a generated password is shown large once, and is gone after Enter', async () => {
    const s = setup({ config: SIGNING });
    await toProtection(s);
    await s.press(DOWN, DOWN, ' ', ENTER, ENTER);
    let frame = await s.until('password for the patient (shown');
    screenshot('burn-password.txt', frame);
    for (const text of ['T i g e r - M a p l e - 4 8 2 1 - O r b i t - C e l l o', 'Tiger-Maple-4821-Orbit-Cello', '┏', 'it is shown only now and stored nowhere']) expect(frame).toContain(text);
    await s.press(ESC, 'b', ' ');
    expect(s.lastFrame()).toContain('Tiger-Maple-4821-Orbit-Cello'); // only Enter hides it
    frame = await s.press(ENTER);
    expect(frame).not.toContain('Tiger-Maple-4821-Orbit-Cello');
    expect(frame).not.toContain('T i g e r');
    expect(frame).toContain('SHA-256');
    expect(s.homes).toHaveLength(0);
  });

  it('with a drive configured, b burns the image after a confirmation, streaming the lines', async () => {
    const s = setup({ config: { media: { drive: '/dev/sr0' } } });
    await toProtection(s);
    await s.press(ENTER, ENTER);
    let frame = await s.until('SHA-256');
    expect(frame).toContain('b burn now on /dev/sr0');
    expect(frame).toContain('press b to burn');
    frame = await s.press('b');
    for (const text of ['/dev/sr0', '/out/PATIENT.iso', 'This erases nothing on the image; a blank disc is needed in /dev/sr0']) expect(frame).toContain(text);
    expect(s.desk.calls.some((c) => c.method === 'burnToDrive')).toBe(false);
    frame = await s.press(ESC);
    expect(frame).toContain('SHA-256');
    await s.press('b', ENTER);
    frame = await s.until('Burned on');
    expect(s.desk.calls.find((c) => c.method === 'burnToDrive')?.args[0]).toBe('/out/PATIENT.iso');
    expect(frame).toContain('xorriso : done');
    expect(frame).toContain('✔ OK: Burned on /dev/sr0');
    frame = await s.press(ENTER);
    expect(frame).toContain('✔ burned  /out/PATIENT.iso');
    expect(frame).toContain('The disc is burned.');
    expect(frame).not.toContain('b burn now');
    await s.press(ESC);
    expect(s.homes).toHaveLength(1);
  });

  it('split media are burned one disc after the other', async () => {
    const outputs = [1, 2, 3, 4].map((n) => ({ path: `/var/dcmsafe/outbox/${'DOE_JANE_P123_20261101_'.repeat(3)}-${n}.iso`, bytes: 700_000_000, sha256: String(n).repeat(64) }));
    const labelText = Array.from({ length: 9 }, (_, i) => `label line ${i + 1}`).join('\n');
    const s = setup({ config: { media: { drive: '/dev/sr0' } }, burnResult: { outputs, labelText, letterFile: '/out/label.txt', signedBy: 'CN=General Hospital' } });
    await toProtection(s);
    await s.press(ENTER, ENTER);
    let frame = await s.until('SHA-256');
    screenshot('burn-result-split.txt', frame);
    for (const text of ['4 media made', '… and 1 more', 'label line 1', 'more lines in the saved file', '✔ Signed by CN=General Hospital', 'b burn disc 1 now on /dev/sr0']) expect(frame).toContain(text);
    frame = await s.press('b');
    expect(frame).toContain('Burn disc 1 of 4');
    await s.press(ENTER);
    await s.until('Burned on');
    frame = await s.press(ENTER);
    expect(frame).toContain('b burn disc 2 now on /dev/sr0');
    expect(await s.press('b')).toContain('Burn disc 2 of 4');
    await s.press(ENTER);
    await s.until('Burned on');
    expect(s.desk.calls.filter((c) => c.method === 'burnToDrive').map((c) => c.args[0])).toEqual([outputs[0]?.path, outputs[1]?.path]);
  });

  it('a drive failure is an error with the way back to the result', async () => {
    const s = setup({ config: { media: { drive: '/dev/sr0' } }, fail: { burnToDrive: 'no blank disc in /dev/sr0' } });
    await toProtection(s);
    await s.press(ENTER, ENTER);
    await s.until('SHA-256');
    await s.press('b', ENTER);
    const frame = await s.until('ERROR');
    expect(frame).toContain('✖ ERROR: The disc could not be burned: no blank disc in /dev/sr0');
    expect(await s.press(ESC)).toContain('b burn now on /dev/sr0');
  });

  it('a burn failure is an error with Esc back to the confirmation', async () => {
    const s = setup({ fail: { burn: 'ENOSPC: no space left on device' } });
    await toProtection(s);
    await s.press(ENTER, ENTER);
    const frame = await s.until('ERROR');
    expect(frame).toContain('✖ ERROR: The medium could not be made: ENOSPC: no space left on device');
    expect(frame).toContain('Esc back');
    expect(await s.press(ESC)).toContain('check before burning');
  });

  it('long names and paths never go past 80 columns', async () => {
    const long = 'X'.repeat(120);
    const scan: SourceScan = {
      folder: `/srv/${long}`,
      leftOut: 0,
      patients: [{ id: long, name: `${long}^${long}`, birthDate: '19700101', sex: 'O', studies: [{ studyInstanceUID: '1', description: long, date: '20260101', modalities: ['CT', 'MR', 'PT', 'SR', 'KO'], instances: 99999, bytes: 1e12, files: [] }] }],
    };
    const s = setup({
      scan,
      config: { inbox: `/srv/${long}`, recipients: [{ name: long, certificate: 'c' }], media: { drive: `/dev/${long}` } },
      burnResult: { outputs: [{ path: `/out/${long}.iso`, bytes: 1, sha256: 'ef'.repeat(32) }], labelText: long, burnCommand: `xorriso ${long}`, letterFile: `/out/${long}`, signedBy: long },
    });
    await s.settle();
    s.frame();
    await s.press(ENTER);
    await s.until('2 of 6: patient');
    await s.press(ENTER, ENTER, ENTER, DOWN, ' ', ENTER);
    expect(s.lastFrame()).toContain('check before burning');
    await s.press(ENTER);
    expect(await s.until('SHA-256')).toContain('SHA-256');
    await s.press('b'); // press checks that the screen fits
    await s.press(ENTER);
    expect(await s.until('Burned on')).toContain('Burned on');
  });
});
