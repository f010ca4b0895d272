import { describe, expect, it } from 'vitest';
import { ImportFlow, demographicsDiffer, sameName } from '../../src/tui/import.js';
import type { ImportReport, ImportRequest, MapRow, PacsNode, VerifyReport } from '../../src/tui/desk.js';
import type { Finding, PatientReport, SignerReport } from '../../src/pipelines/verify-report.js';
import type { ImportedInstance } from '../../src/pipelines/import-media.js';
import { ALICE, fakeDesk, type FakeDeskOptions } from './fake-desk.js';
import { BACKSPACE, DOWN, END, ENTER, ESC, TAB, drive, screenshot } from './drive.js';

const SIGNER: SignerReport = {
  subject: 'C=DE, O=St. Elsewhere Hospital, CN=St. Elsewhere Media Signing',
  issuer: 'C=DE, O=St. Elsewhere Hospital, CN=St. Elsewhere CA',
  serialNumber: '01',
  status: 'trusted',
  chain: ['C=DE, O=St. Elsewhere Hospital, CN=St. Elsewhere Media Signing', 'C=DE, O=St. Elsewhere Hospital, CN=St. Elsewhere CA'],
  signingTimes: { first: '2026-11-01T08:00:00Z' },
  files: 3,
  reasons: [],
};

const DOE: PatientReport = {
  patientId: 'EXT-123',
  patientName: 'DOE^JANE',
  birthDate: '19700131',
  studies: [
    { studyInstanceUID: '1.2.3', studyDate: '20261020', studyDescription: 'CT Chest', accessionNumber: 'A1', series: [{ seriesInstanceUID: '1.2.3.1', modality: 'CT', seriesNumber: '1', instances: 2 }] },
    { studyInstanceUID: '1.2.4', studyDate: '20261021', studyDescription: 'MR Knee', accessionNumber: '', series: [{ seriesInstanceUID: '1.2.4.1', modality: 'MR', seriesNumber: '1', instances: 1 }] },
  ],
};

const ROE: PatientReport = {
  patientId: 'EXT-456',
  patientName: 'ROE^RICHARD',
  birthDate: '19650505',
  studies: [{ studyInstanceUID: '1.2.5', studyDate: '20261001', studyDescription: 'XR Hand', accessionNumber: '', series: [{ seriesInstanceUID: '1.2.5.1', modality: 'CR', seriesNumber: '1', instances: 4 }] }],
};

function finding(code: string, severity: Finding['severity'], message: string, file?: string): Finding {
  return { code, severity, message, ...(file ? { file } : {}) };
}

function verifyReport(over: Partial<VerifyReport> = {}): VerifyReport {
  const findings = over.findings ?? [];
  return {
    schemaVersion: 1,
    tool: { name: 'dcmsafe', version: '0.1.0' },
    verifiedAt: '2026-11-02T10:00:00Z',
    media: { path: '/media/cdrom', kind: 'folder', secure: true, dicomdir: 'present' },
    policy: 'standard',
    verdict: 'trusted',
    passed: true,
    summary: {
      files: 4,
      dicomFiles: 0,
      secureFiles: 3,
      signedFiles: 3,
      trustedFiles: 3,
      patients: 1,
      studies: 2,
      series: 2,
      instances: 3,
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
      infos: findings.filter((f) => f.severity === 'info').length,
    },
    signers: [SIGNER],
    patients: [DOE],
    findings,
    files: [
      { path: 'DICOMDIR', kind: 'dicomdir', status: 'ok', size: 1000 },
      { path: 'DICOM/I1', kind: 'secure', status: 'ok', size: 1000, sopInstanceUID: '1.1', protection: 'signed', signer: SIGNER.subject },
      { path: 'DICOM/I2', kind: 'secure', status: 'ok', size: 1000, sopInstanceUID: '1.2', protection: 'signed', signer: SIGNER.subject },
      { path: 'DICOM/I3', kind: 'secure', status: 'ok', size: 1000, sopInstanceUID: '1.3', protection: 'signed', signer: SIGNER.subject },
    ],
    ...over,
  };
}

const UNSIGNED = verifyReport({ verdict: 'intact-unsigned', signers: [], findings: [finding('PLAIN_MEDIA', 'warning', 'The medium is not signed: its origin is not proven.')] });

const PROBLEMS = verifyReport({
  verdict: 'problems',
  passed: false,
  findings: [
    finding('FILE_TAMPERED', 'error', 'the signature does not match: the file was changed', 'DICOM/I2'),
    finding('ORPHAN_FILE', 'error', 'not referenced by the DICOMDIR', 'DICOM/I9'),
    finding('NAME_NOT_CONFORMANT', 'warning', 'lower case letters in a file name', 'dicom/x'),
    finding('LEGACY_ALGORITHM', 'info', 'Triple-DES was used', 'DICOM/I3'),
    ...Array.from({ length: 20 }, (_, i) => finding('DICOM_DEVIATION', 'info', `no preamble in file ${i}`, `DICOM/F${i}`)),
  ],
});

const UNREADABLE = verifyReport({ verdict: 'unreadable', passed: false, signers: [], patients: [], findings: [finding('MEDIA_UNREADABLE', 'error', 'the ISO 9660 volume descriptor cannot be read', 'disc.iso')] });

const NODES: PacsNode[] = [
  { name: 'main-pacs', host: 'pacs.example.org', port: 2762, calledAE: 'MAINPACS', tls: { ca: '/etc/ca.pem', cert: '/etc/c.pem', key: '/etc/k.pem' } },
  { name: 'test-pacs', host: '10.0.0.5', port: 104, calledAE: 'TESTPACS' },
];

function inst(file: string, reason?: string): ImportedInstance {
  return { file, sopInstanceUID: `1.${file.length}`, ...(reason ? { reason } : {}) };
}

function importReport(over: Partial<ImportReport> = {}): ImportReport {
  return { verify: verifyReport(), destination: 'MAINPACS@pacs.example.org:2762', journal: '/tmp/j', stored: [], alreadyStored: [], failed: [], skipped: [], notPatientData: [], exitCode: 0, ...over };
}

const PARTIAL = importReport({
  stored: [inst('DICOM/I1')],
  failed: [inst('DICOM/I2', 'NET_TIMEOUT: the PACS did not answer in 30 s'), inst('DICOM/I3', 'NET_TIMEOUT: the PACS did not answer in 30 s')],
  skipped: [inst('DICOM/I4', 'FILE_TAMPERED: the signature does not match')],
  notPatientData: [inst('DICOM/P1', 'SOP class 1.2.840.10008.5.1.4.39.1 belongs to no patient')],
  exitCode: 4,
});
const COMPLETE = importReport({ stored: [inst('DICOM/I2'), inst('DICOM/I3')], alreadyStored: [inst('DICOM/I1')], exitCode: 0 });

function start(options: FakeDeskOptions, verifyOnly = false) {
  const desk = fakeDesk({ config: { pacs: NODES }, ...options });
  let home = 0;
  const r = drive(<ImportFlow desk={desk} operator={ALICE} home={() => home++} now={() => 1_000} verifyOnly={verifyOnly} />);
  return { ...r, desk, homes: () => home };
}

type Run = ReturnType<typeof start>;

/** Medium typed, verified: on the verdict screen. */
async function toVerdict(r: Run, path = '/media/cdrom'): Promise<string> {
  await r.settle();
  await r.type(path);
  return r.press(ENTER);
}

/** On the verdict of a trusted medium, through the typed identity of DOE, to the node list. */
async function typeDoe(r: Run, local: { id?: string; issuer?: string; name?: string; birth?: string } = {}): Promise<string> {
  await r.type(local.id ?? 'LOC-1');
  await r.press(TAB);
  await r.type(local.issuer ?? 'HOSP');
  if (local.name !== undefined) {
    await r.press(TAB);
    await r.type(local.name);
  }
  if (local.birth !== undefined) {
    await r.press(TAB);
    if (local.name === undefined) await r.press(TAB);
    await r.type(local.birth);
  }
  return r.press(ENTER);
}

/** A promise the fake desk waits on (to look at a progress screen), and the call that lets it go on. */
function gated(): { gate: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
}

/** From the start: the verdict, DOE's typed identity, the first PACS, and Enter on the check step. */
async function importDoe(r: Run): Promise<string> {
  await toVerdict(r);
  await r.press(ENTER);
  await typeDoe(r);
  await r.press(ENTER);
  return r.press(ENTER);
}

function lastImport(r: Run): ImportRequest {
  const call = r.desk.calls.filter((c) => c.method === 'importMedia').at(-1);
  return call?.args[0] as ImportRequest;
}

describe('import flow: the medium and the verdict', () => {
  it('asks for the medium, says what is accepted, and Esc on the first step goes home', async () => {
    const r = start({ verifyReport: verifyReport() });
    await r.settle();
    const frame = r.frame();
    expect(frame).toContain('Import · 1 of 6 · Medium');
    screenshot('import-media.txt', frame);
    for (const text of ['signed in: alice', '/dev/sr0', '.iso, .zip or .img', 'Password (from the patient letter, if the medium is password-protected)', 'Tab next field']) expect(frame).toContain(text);
    await r.press(ESC);
    expect(r.homes()).toBe(1);
  });

  it('Enter with no path asks for one; Tab moves to the masked password, which verify gets', async () => {
    const r = start({ verifyReport: verifyReport() });
    await r.settle();
    let frame = await r.press(ENTER);
    expect(frame).toContain('! WARNING: Type where the medium is first');
    expect(r.desk.calls.some((c) => c.method === 'verify')).toBe(false);
    await r.type('/mnt/usb');
    await r.press(TAB);
    frame = await r.type('Tiger-Maple');
    expect(frame).not.toContain('Tiger-Maple');
    expect(frame).toContain('•••••••••••');
    await r.press(ENTER);
    expect(r.desk.calls.find((c) => c.method === 'verify')?.args).toEqual(['/mnt/usb', 'Tiger-Maple']);
  });

  it('fills in the configured drive and verifies without a password', async () => {
    const r = start({ verifyReport: verifyReport(), config: { pacs: NODES, media: { drive: '/dev/sr1' } } });
    await r.settle();
    expect(r.lastFrame()).toContain('The disc in /dev/sr1 is filled in');
    await r.press(ENTER);
    expect(r.desk.calls.find((c) => c.method === 'verify')?.args).toEqual(['/dev/sr1', undefined]);
  });

  it('shows progress while verifying: files done of all, and the current file', async () => {
    const { gate, open } = gated();
    const r = start({
      verifyReport: verifyReport(),
      verifyGate: gate,
      verifyEvents: [
        { type: 'file-checked', file: 'DICOMDIR', index: 0, total: 4 },
        { type: 'file-checked', file: 'DICOM/I1', index: 1, total: 4 },
      ],
    });
    await r.settle();
    await r.type('/media/cdrom');
    await r.press(ENTER);
    await r.settle(100);
    const frame = r.frame();
    for (const text of ['2 of 4', ' 50%', 'Now: DICOM/I1']) expect(frame).toContain(text);
    open();
    await r.settle();
    expect(r.lastFrame()).toContain('TRUSTED');
  });

  it('a trusted medium: the verdict in words and symbol, the signer, the patients and studies', async () => {
    const r = start({ verifyReport: verifyReport() });
    const frame = await toVerdict(r);
    screenshot('import-verdict.txt', frame);
    for (const text of ['Import · 2 of 6 · Verdict', '✔ TRUSTED: signed by St. Elsewhere Media Signing, nothing changed']) expect(frame).toContain(text);
    for (const text of ['Signer: St. Elsewhere Media Signing — ✔ trusted through St. Elsewhere CA', 'Patient: DOE, JANE  ID EXT-123  born 1970-01-31', 'Study 2026-10-20  CT Chest  2 instances']) expect(frame).toContain(text);
    for (const text of ['Study 2026-10-21  MR Knee  1 instance', '✔ No problems found.', 'Enter next: the patients']) expect(frame).toContain(text);
  });

  it('an unsigned medium says so in words and symbol', async () => {
    const frame = await toVerdict(start({ verifyReport: UNSIGNED }));
    for (const text of ['! UNSIGNED: nothing shows it was changed, but its origin is not proven', 'Findings: ✖ 0 errors, ! 1 warning, i 0 notes', '! PLAIN_MEDIA']) expect(frame).toContain(text);
  });

  it('a medium only partly signed inside its data sets says PARTLY SIGNED, not trusted', async () => {
    const sig = { valid: true, trust: 'untrusted-chain', coveredTags: ['(0008,0018)'], coversPixelData: false, uncoveredTags: [] };
    const partly = { ...UNSIGNED, files: [{ path: 'DICOM/IM1', kind: 'dicom' as const, status: 'ok', size: 10, dicomSignatures: [sig] }, { path: 'DICOM/IM2', kind: 'dicom' as const, status: 'ok', size: 10 }] };
    const frame = await toVerdict(start({ verifyReport: partly }));
    expect(frame).toContain('! PARTLY SIGNED: not every file is validly signed: origin not proven');
    expect(frame).not.toContain('TRUSTED');
  });

  it('a medium with problems: the verdict, counts by severity and the first findings; f lists them all', async () => {
    const r = start({ verifyReport: PROBLEMS });
    let frame = await toVerdict(r);
    expect(frame).toContain('✖ PROBLEMS: 2 problems found; do not import without checking');
    screenshot('import-verdict-problems.txt', frame);
    for (const text of ['Findings: ✖ 2 errors, ! 1 warning, i 21 notes', '✖ FILE_TAMPERED  DICOM/I2: the signature does not match', '… and 21 more: press f to see them all', 'f all findings']) expect(frame).toContain(text);
    frame = await r.press('f');
    for (const text of ['All findings (24)', '› ✖ FILE_TAMPERED', 'i LEGACY_ALGORITHM']) expect(frame).toContain(text);
    expect(frame).toMatch(/↓ \d+ more/);
    screenshot('import-findings.txt', frame);
    frame = await r.press(END);
    expect(frame).toContain('no preamble in file 19');
    frame = await r.press(ESC);
    expect(frame).toContain('✖ PROBLEMS');
  });

  it('an unreadable medium cannot be imported: Enter goes back to choose another', async () => {
    const r = start({ verifyReport: UNREADABLE });
    let frame = await toVerdict(r, '/tmp/disc.iso');
    for (const text of ['✖ UNREADABLE: the medium cannot be read', 'MEDIA_UNREADABLE', '✖ ERROR: This medium cannot be imported.', 'Enter choose another medium']) expect(frame).toContain(text);
    frame = await r.press(ENTER);
    expect(frame).toContain('1 of 6 · Medium');
    expect(frame).toContain('/tmp/disc.iso');
    expect(r.desk.calls.some((c) => c.method === 'reconcileMap')).toBe(false);
  });

  it('a medium of many patients and studies still fits one screen, and says how many there are', async () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ...DOE, patientId: `EXT-${i}`, patientName: `PATIENT^NUMBER ${i}` }));
    const frame = await toVerdict(start({ verifyReport: verifyReport({ patients: many, findings: PROBLEMS.findings, verdict: 'problems', signers: [SIGNER, SIGNER, SIGNER] }) }));
    for (const text of ['! 12 patients on this medium: check each one.', '… 12 patients, 24 studies in all (not all shown)', '… and 2 more signers']) expect(frame).toContain(text);
  });

  it('names from the medium cannot steer the terminal', async () => {
    const evil = verifyReport({ patients: [{ ...DOE, patientName: 'EVIL\u001b[2J^NAME\u202e' }] });
    const frame = await toVerdict(start({ verifyReport: evil }));
    expect(frame).toContain('EVIL[U+001B][2J, NAME[U+202E]');
  });

  it('an error from verify is shown, Enter tries again, Esc goes back to the medium', async () => {
    const r = start({ fail: { verify: 'cannot open /media/cdrom: no medium in the drive' } });
    let frame = await toVerdict(r);
    expect(r.said()).toContain('✖ ERROR: The medium could not be checked: cannot open /media/cdrom: no medium in the drive');
    expect(frame).toContain('Enter try again');
    frame = await r.press(ENTER);
    expect(r.desk.calls.filter((c) => c.method === 'verify')).toHaveLength(2);
    expect(frame).toContain('✖ ERROR');
    frame = await r.press(ESC);
    expect(frame).toContain('1 of 6 · Medium');
    expect(frame).toContain('/media/cdrom');
  });
});

describe('verify only', () => {
  it('stops after the verdict: Enter goes home, nothing is imported', async () => {
    const r = start({ verifyReport: verifyReport() }, true);
    await r.settle();
    expect(r.lastFrame()).toContain('Verify a medium · 1 of 2 · Medium');
    const frame = await toVerdict(r);
    for (const text of ['Verify a medium · 2 of 2 · Verdict', '✔ TRUSTED', 'Enter done']) expect(frame).toContain(text);
    await r.press(ENTER);
    expect(r.homes()).toBe(1);
    expect(r.desk.calls.map((c) => c.method)).toEqual(['verify']);
  });

  it('Esc on the verdict goes home too; f still shows the findings', async () => {
    const r = start({ verifyReport: PROBLEMS }, true);
    await toVerdict(r);
    let frame = await r.press('f');
    expect(frame).toContain('All findings');
    frame = await r.press(ESC);
    expect(frame).toContain('✖ PROBLEMS');
    expect(r.homes()).toBe(0);
    await r.press(ESC);
    expect(r.homes()).toBe(1);
  });
});

describe('import flow: origin, reconciliation, PACS, import', () => {
  it('a medium of unproven origin needs an explicit y; n goes back to the verdict', async () => {
    const r = start({ verifyReport: UNSIGNED, importReport: COMPLETE });
    await toVerdict(r);
    let frame = await r.press(ENTER);
    expect(frame).toContain('The origin of these files is not proven. Import anyway? y/N');
    screenshot('import-untrusted.txt', frame);
    expect(frame).toContain('! UNSIGNED');
    frame = await r.press('n');
    expect(frame).toContain('2 of 6 · Verdict');
    await r.press(ENTER);
    frame = await r.press(ENTER); // Enter is "no" too
    expect(frame).toContain('2 of 6 · Verdict');
    await r.press(ENTER);
    frame = await r.press('y');
    expect(frame).toContain('3 of 6 · Patient 1 of 1');
    await typeDoe(r);
    await r.press(ENTER);
    frame = await r.press(ENTER);
    expect(lastImport(r).allowUntrusted).toBe(true);
  });

  it('reconciles a patient with a typed local ID, chooses the node, confirms and imports', async () => {
    const r = start({ verifyReport: verifyReport(), importReport: COMPLETE });
    await toVerdict(r);
    let frame = await r.press(ENTER);
    for (const text of ['Import · 3 of 6 · Patient 1 of 1', 'DOE, JANE  ID EXT-123  born 1970-01-31', '2 studies, 3 instances', 'The reconciliation map has no row for ID EXT-123']) expect(frame).toContain(text);
    screenshot('import-reconcile.txt', frame);
    // The issuer is required, and the birth date must be a date.
    await r.type('LOC-1');
    frame = await r.press(ENTER);
    expect(frame).toContain('! WARNING: Type the Issuer of Patient ID');
    await r.type('HOSP');
    await r.press(TAB, TAB);
    await r.type('19701399');
    frame = await r.press(ENTER);
    expect(frame).toContain('Type the birth date as YYYYMMDD');
    await r.press(BACKSPACE, BACKSPACE, BACKSPACE, BACKSPACE);
    await r.type('0131');
    frame = await r.press(ENTER);
    for (const text of ['4 of 6 · PACS', 'main-pacs  MAINPACS@pacs.example.org:2762  ✔ TLS', 'test-pacs  TESTPACS@10.0.0.5:104  ! NOT encrypted']) expect(frame).toContain(text);
    screenshot('import-node.txt', frame);
    frame = await r.press(DOWN, ENTER);
    for (const text of ['5 of 6 · Check and import', 'Medium:     /media/cdrom', 'DOE, JANE (ID EXT-123) → local ID LOC-1 (HOSP)']) expect(frame).toContain(text);
    for (const text of ['PACS:       test-pacs  TESTPACS@10.0.0.5:104 (! NOT encrypted)', 'Instances:  3']) expect(frame).toContain(text);
    screenshot('import-confirm.txt', frame);
    expect(frame).not.toContain('not proven');
    expect(r.desk.calls.some((c) => c.method === 'importMedia')).toBe(false);
    frame = await r.press(ENTER);
    const req = lastImport(r);
    expect(req).toEqual({
      media: '/media/cdrom',
      node: 'test-pacs',
      map: [{ foreignPatientId: 'EXT-123', foreignIssuer: '', local: { patientId: 'LOC-1', issuerOfPatientId: 'HOSP', birthDate: '19700131' } }],
      allowUntrusted: false,
      confirmDemographics: false,
    });
    expect(frame).toContain('✔ Every instance is on the PACS.');
    expect(frame).toContain('Already on the PACS:   1');
    expect(frame).not.toContain('r try');
    await r.press(ENTER);
    expect(r.homes()).toBe(1);
  });

  it('picks the local identity from the reconciliation map, one patient at a time', async () => {
    const map: MapRow[] = [
      { foreignPatientId: 'EXT-123', foreignIssuer: 'ELSEWHERE', local: { patientId: 'LOC-1', issuerOfPatientId: 'HOSP', patientName: 'Doe^Jane ', birthDate: '19700131' } },
      { foreignPatientId: 'EXT-999', foreignIssuer: '', local: { patientId: 'LOC-9', issuerOfPatientId: 'HOSP' } },
    ];
    const r = start({ verifyReport: verifyReport({ patients: [DOE, ROE] }), importReport: COMPLETE, map });
    let frame = await toVerdict(r);
    expect(frame).toContain('! 2 patients on this medium: check each one.');
    frame = await r.press(ENTER);
    for (const text of ['Patient 1 of 2', 'Choose the local identity (from the reconciliation map)', '› local ID LOC-1 (HOSP) · Doe, Jane · born 1970-01-31']) expect(frame).toContain(text);
    expect(frame).not.toContain('LOC-9');
    screenshot('import-reconcile-map.txt', frame);
    frame = await r.press(ENTER); // same person (case and trailing ^ / spaces do not count): no warning
    for (const text of ['Patient 2 of 2', 'ROE, RICHARD', 'no row for ID EXT-456']) expect(frame).toContain(text);
    expect(frame).toContain('Issuer of Patient ID: HOSP'); // the issuer of the patient before
    await r.type('LOC-2');
    frame = await r.press(ENTER);
    expect(frame).toContain('4 of 6 · PACS');
    // Esc goes back one step at a time.
    frame = await r.press(ESC);
    expect(frame).toContain('Patient 2 of 2');
    expect(frame).toContain('Local Patient ID: LOC-2');
    await r.press(ENTER);
    frame = await r.press(ENTER);
    for (const text of ['→ local ID LOC-1 (HOSP)', '→ local ID LOC-2 (HOSP)', 'Instances:  7']) expect(frame).toContain(text);
    await r.press(ENTER);
    const req = lastImport(r);
    expect(req.map).toEqual([map[0], { foreignPatientId: 'EXT-456', foreignIssuer: '', local: { patientId: 'LOC-2', issuerOfPatientId: 'HOSP' } }]);
    expect(req.confirmDemographics).toBe(false);
  });

  it('from the map list one can still type an identity, and Esc returns to the list', async () => {
    const map: MapRow[] = [{ foreignPatientId: 'EXT-123', foreignIssuer: '', local: { patientId: 'LOC-1', issuerOfPatientId: 'HOSP' } }];
    const r = start({ verifyReport: verifyReport(), map });
    await toVerdict(r);
    await r.press(ENTER);
    let frame = await r.press(DOWN, ENTER);
    expect(frame).toContain('Type the local identity:');
    frame = await r.press(ESC);
    expect(frame).toContain('Choose the local identity');
    frame = await r.press(ESC);
    expect(frame).toContain('2 of 6 · Verdict');
  });

  it('a differing name or birth date needs y: n changes it, y confirms (confirmDemographics)', async () => {
    const r = start({ verifyReport: verifyReport(), importReport: COMPLETE });
    await toVerdict(r);
    await r.press(ENTER);
    let frame = await typeDoe(r, { name: 'DOE^JOAN', birth: '19700131' });
    expect(r.said()).toContain('! WARNING: name/birth date differ: DOE, JANE, born 1970-01-31 vs DOE, JOAN, born 1970-01-31 — same person?');
    expect(frame).toContain('y yes, the same person');
    screenshot('import-mismatch.txt', frame);
    frame = await r.press(ENTER); // Enter does not confirm
    expect(frame).toContain('WARNING: name/birth date differ');
    frame = await r.press('n');
    expect(frame).toContain('Local name: DOE^JOAN');
    await r.press(ENTER);
    frame = await r.press('y');
    expect(frame).toContain('4 of 6 · PACS');
    await r.press(ENTER);
    frame = await r.press(ENTER);
    expect(lastImport(r).confirmDemographics).toBe(true);
    expect(lastImport(r).map[0]?.local).toEqual({ patientId: 'LOC-1', issuerOfPatientId: 'HOSP', patientName: 'DOE^JOAN', birthDate: '19700131' });
  });

  it('compares names as people do', () => {
    expect(sameName('Doe^Jane^', 'DOE^JANE')).toBe(true);
    expect(sameName('DOE ^ JANE', 'DOE^JANE')).toBe(true);
    expect(sameName('DOE^JOAN', 'DOE^JANE')).toBe(false);
    expect(demographicsDiffer(DOE, { patientId: 'X', issuerOfPatientId: 'Y', birthDate: '19700130' })).toBe(true);
    expect(demographicsDiffer(DOE, { patientId: 'X', issuerOfPatientId: 'Y' })).toBe(false);
  });

  it('with no PACS configured it says to ask an administrator; Esc goes back', async () => {
    const r = start({ verifyReport: verifyReport(), config: { pacs: [] } });
    await toVerdict(r);
    await r.press(ENTER);
    let frame = await typeDoe(r);
    expect(frame).toContain('No PACS is configured');
    expect(r.said()).toContain('Ask an administrator to add one in Settings');
    frame = await r.press(ENTER);
    expect(frame).toContain('No PACS is configured');
    frame = await r.press(ESC);
    expect(frame).toContain('Patient 1 of 1');
  });

  it('shows progress while importing: checking again, then stored and failed, the last five instances', async () => {
    const { gate, open } = gated();
    const r = start({
      verifyReport: verifyReport(),
      importReport: COMPLETE,
      importGate: gate,
      importEvents: [
        { type: 'file-checked', file: 'DICOM/I1', index: 0, total: 3 },
        { type: 'import-started', media: '/media/cdrom', destination: 'MAINPACS@pacs.example.org:2762', instances: 10 },
        ...Array.from({ length: 6 }, (_, i) => ({ type: 'instance-stored' as const, file: `DICOM/I${i}`, sopInstanceUID: `1.${i}`, studyInstanceUID: '1.2.3', patientId: 'LOC-1', untrusted: false, coerced: true, status: 0 })),
        { type: 'instance-failed', file: 'DICOM/I6', sopInstanceUID: '1.6', reason: 'C-STORE status A700: out of resources' },
        { type: 'retry', attempt: 2, waitMs: 2000, reason: 'connection reset' },
      ],
    });
    await importDoe(r);
    await r.settle(100);
    const frame = r.frame();
    screenshot('import-progress.txt', frame);
    for (const text of ['6 of 6 · Sending', '7 of 10', ' 70%', '✔ stored 6', '✖ failed 1']) expect(frame).toContain(text);
    expect(frame).not.toContain('stored  DICOM/I1'); // only the last five
    for (const text of ['✔ stored  DICOM/I2', '✖ FAILED  DICOM/I6: C-STORE status A700: out of resources', 'trying again in 2 s (attempt 2)']) expect(frame).toContain(text);
    open();
    await r.settle();
    expect(r.lastFrame()).toContain('✔ Every instance is on the PACS.');
  });

  it('says it checks again before sending', async () => {
    const gate = new Promise<void>(() => undefined);
    const r = start({ verifyReport: verifyReport(), importReport: COMPLETE, importGate: gate, importEvents: [{ type: 'file-checked', file: 'DICOM/I1', index: 0, total: 3 }] });
    await importDoe(r);
    await r.settle(40);
    expect(r.lastFrame()).toContain('Checking again before sending…');
    expect(r.lastFrame()).toContain('1 of 3 files: DICOM/I1');
  });

  it('a summary with failures offers r: it runs the same import again, and then says all is there', async () => {
    const r = start({ verifyReport: verifyReport(), importReports: [PARTIAL, COMPLETE] });
    let frame = await importDoe(r);
    screenshot('import-summary.txt', frame);
    for (const text of ['Import · Done', '✖ 2 instances are NOT on the PACS.', '✔ Stored now:            1', '! Not sent:              1', '1 × FILE_TAMPERED: the signature does not match']) expect(frame).toContain(text);
    for (const text of ['i Not patient data:      1', '✖ Failed:                2', '2 × NET_TIMEOUT: the PACS did not answer in 30 s', 'r try the failed ones again']) expect(frame).toContain(text);
    frame = await r.press('r');
    const imports = r.desk.calls.filter((c) => c.method === 'importMedia');
    expect(imports).toHaveLength(2);
    expect(imports[1]?.args[0]).toEqual(imports[0]?.args[0]);
    expect(frame).toContain('✔ Every instance is on the PACS.');
    frame = await r.press('r');
    expect(r.desk.calls.filter((c) => c.method === 'importMedia')).toHaveLength(2);
    await r.press(ENTER);
    expect(r.homes()).toBe(1);
  });

  it('an error from the import is shown with a way to try again or go back', async () => {
    const r = start({ verifyReport: verifyReport(), fail: { importMedia: 'RECONCILE_CONFLICT: the reconciliation map has no row for DOE^JANE' } });
    let frame = await importDoe(r);
    expect(frame).toContain('✖ ERROR: The import stopped: RECONCILE_CONFLICT');
    screenshot('import-error.txt', frame);
    frame = await r.press(ENTER);
    expect(r.desk.calls.filter((c) => c.method === 'importMedia')).toHaveLength(2);
    frame = await r.press(ESC);
    expect(frame).toContain('5 of 6 · Check and import');
    frame = await r.press(ESC);
    expect(frame).toContain('4 of 6 · PACS');
  });

  it('a map that cannot be read is said, and the identity can be typed', async () => {
    const r = start({ verifyReport: verifyReport(), fail: { reconcileMap: 'map.csv cannot be read' } });
    await toVerdict(r);
    const frame = await r.press(ENTER);
    expect(r.said()).toContain('! WARNING: the reconciliation map cannot be read (map.csv cannot be read)');
    expect(frame).toContain('Local Patient ID');
  });
});
