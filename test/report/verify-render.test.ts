/**
 * The two renderings of the verification report for people: the terminal text (verdict and signer
 * first, patients, problems cut short, counts) and the self-contained HTML page (escaped, no script,
 * no external resource, well-formed XML). One fixture per verdict; one hostile medium whose names
 * carry markup, quotes, ampersands, terminal escapes, bidi overrides and RTL letters.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LINE_WIDTH, dnAttribute, formatPersonName, formatVerifyReport, verdictSentence, visible, wrap } from '../../src/report/verify-text.js';
import { REPORT_SCHEMA_VERSION, type Finding, type SignerReport, type VerifyReport } from '../../src/pipelines/verify-report.js';
import { escapeHtml, renderHtmlReport } from '../../src/report/html.js';
import { hasTool, run, tempDir } from '../helpers/env.js';

const SIGNER_DN = 'C=US, O=Outside Hospital, CN=Outside Hospital Radiology Media';
const ROOT_DN = 'C=US, O=Outside Hospital, CN=Outside Hospital Root CA';

const trustedSigner: SignerReport = {
  subject: SIGNER_DN,
  issuer: ROOT_DN,
  serialNumber: '1a2b3c',
  status: 'trusted',
  chain: [SIGNER_DN, ROOT_DN],
  signingTimes: { first: '2026-01-05T09:00:00.000Z', last: '2026-01-05T09:00:07.000Z' },
  files: 3,
  reasons: [],
};

const summary: VerifyReport['summary'] = {
  files: 4,
  dicomFiles: 3,
  secureFiles: 3,
  signedFiles: 3,
  trustedFiles: 3,
  patients: 1,
  studies: 1,
  series: 2,
  instances: 3,
  errors: 0,
  warnings: 0,
  infos: 0,
};

const trusted: VerifyReport = {
  schemaVersion: REPORT_SCHEMA_VERSION,
  tool: { name: 'dcmsafe', version: '0.1.0' },
  verifiedAt: '2026-01-06T14:30:00.000Z',
  media: { path: '/media/cdrom', kind: 'iso9660', label: 'OUTSIDE 1', secure: true, dicomdir: 'present' },
  policy: 'standard',
  verdict: 'trusted',
  passed: true,
  summary,
  signers: [trustedSigner],
  patients: [
    {
      patientId: 'MRN-0042',
      patientName: 'Łukasiewicz^Zoë^Anna',
      birthDate: '19780314',
      studies: [
        {
          studyInstanceUID: '2.25.100',
          studyDate: '20251230',
          studyDescription: 'CT chest with contrast',
          accessionNumber: 'ACC-7781',
          series: [
            { seriesInstanceUID: '2.25.101', modality: 'CT', seriesNumber: '2', instances: 2 },
            { seriesInstanceUID: '2.25.102', modality: 'SR', seriesNumber: '900', instances: 1 },
          ],
        },
      ],
    },
  ],
  findings: [],
  files: [
    { path: 'DICOMDIR', kind: 'dicomdir', status: 'ok', size: 1200 },
    { path: 'DICOM/PAT1/IM1', kind: 'secure', status: 'ok', size: 100, sopInstanceUID: '2.25.201', signer: SIGNER_DN, protection: 'signed' },
    { path: 'DICOM/PAT1/IM2', kind: 'secure', status: 'ok', size: 100, sopInstanceUID: '2.25.202', signer: SIGNER_DN, protection: 'signed' },
    { path: 'DICOM/PAT1/SR1', kind: 'secure', status: 'ok', size: 100, sopInstanceUID: '2.25.203', signer: SIGNER_DN, protection: 'signed' },
  ],
};

const intact: VerifyReport = {
  ...trusted,
  verdict: 'intact-unsigned',
  media: { path: '/media/usb', kind: 'folder', secure: false, dicomdir: 'present' },
  summary: { ...summary, secureFiles: 0, signedFiles: 0, trustedFiles: 0, warnings: 1 },
  signers: [],
  findings: [{ code: 'PLAIN_MEDIA', severity: 'warning', message: 'The medium is not signed: its origin is not proven.' }],
  files: trusted.files.map(({ signer: _s, protection: _p, ...f }) => ({ ...f, kind: f.kind === 'secure' ? 'dicom' : f.kind })),
  extracted: { folder: '/srv/import/case-17', files: 3, skipped: 0 },
};

function manyFindings(): Finding[] {
  const out: Finding[] = [];
  for (let i = 0; i < 40; i++) out.push({ code: 'NAME_NOT_CONFORMANT', severity: 'warning', message: `lower case name ${i}`, file: `dicom/im${i}.dcm` });
  for (let i = 0; i < 50; i++) out.push({ code: 'ORPHAN_FILE', severity: 'error', message: 'not referenced by the DICOMDIR', file: `DICOM/X/IM${i}` });
  out.push({ code: 'FILE_TAMPERED', severity: 'error', message: 'the signature does not match', file: 'DICOM/PAT1/IM2' });
  for (let i = 0; i < 5; i++) out.push({ code: 'DICOM_DEVIATION', severity: 'info', message: 'no preamble', file: `DICOM/Y/IM${i}` });
  return out;
}

const expiredSigner: SignerReport = {
  ...trustedSigner,
  status: 'expired',
  chain: [SIGNER_DN],
  reasons: ['the signer certificate expired on 2025-12-31.'],
};

const problems: VerifyReport = {
  ...trusted,
  verdict: 'problems',
  passed: false,
  summary: { ...summary, trustedFiles: 0, errors: 51, warnings: 40, infos: 5 },
  signers: [expiredSigner],
  findings: manyFindings(),
  files: [...trusted.files.slice(0, 2), { path: 'DICOM/PAT1/IM2', kind: 'secure', status: 'FILE_TAMPERED', size: 100, sopInstanceUID: '2.25.202', signer: SIGNER_DN }],
};

const unreadable: VerifyReport = {
  ...trusted,
  verdict: 'unreadable',
  passed: false,
  media: { path: '/dev/sr0', kind: 'iso9660', secure: false, dicomdir: 'unreadable' },
  summary: { ...summary, files: 0, dicomFiles: 0, secureFiles: 0, signedFiles: 0, trustedFiles: 0, patients: 0, studies: 0, series: 0, instances: 0, errors: 1 },
  signers: [],
  patients: [],
  findings: [{ code: 'MEDIA_UNREADABLE', severity: 'error', message: 'no ISO 9660 volume descriptor at sector 16' }],
  files: [],
};

/** Markup, quotes, ampersand, an attribute that would load something, terminal escapes, bidi override, RTL letters, XML-illegal characters. */
const HOSTILE = `<script>alert("x")</script>&amp; 'O'Brien' <img src=x onerror=alert(1)> href="http://evil.example/" \u001b[31mRED\u001b[0m \u202Egnp.exe\u202C שלום مرحبا \u0001\uffff\ud800`;
const HOSTILE_DN = `O=Evil \\"Corp\\" <b>, CN=${HOSTILE.replace(/[\\,+"<>;]/g, (c) => `\\${c}`)}`;

const hostile: VerifyReport = {
  ...problems,
  media: { path: `/media/${HOSTILE}`, kind: HOSTILE, label: HOSTILE, secure: true, dicomdir: 'present' },
  signers: [{ ...expiredSigner, subject: HOSTILE_DN, issuer: HOSTILE_DN, serialNumber: HOSTILE, chain: [HOSTILE_DN, HOSTILE], reasons: [HOSTILE] }],
  patients: [
    {
      patientId: HOSTILE,
      patientName: `${HOSTILE}^${HOSTILE}`,
      birthDate: HOSTILE,
      studies: [{ studyInstanceUID: HOSTILE, studyDate: HOSTILE, studyDescription: HOSTILE, accessionNumber: HOSTILE, series: [{ seriesInstanceUID: HOSTILE, modality: HOSTILE, seriesNumber: HOSTILE, instances: 1 }] }],
    },
  ],
  findings: [{ code: 'FILE_TAMPERED', severity: 'error', message: HOSTILE, file: HOSTILE }],
  files: [{ path: HOSTILE, kind: 'secure', status: 'FILE_TAMPERED', size: 1, sopInstanceUID: HOSTILE, signer: HOSTILE_DN }],
  extracted: { folder: HOSTILE, files: 0, skipped: 1 },
};

const ALL: Array<[string, VerifyReport]> = [
  ['trusted', trusted],
  ['intact-unsigned', intact],
  ['problems', problems],
  ['unreadable', unreadable],
  ['hostile', hostile],
];

const lines = (r: VerifyReport): string[] => formatVerifyReport(r).split('\n');

describe('verification report as text', () => {
  it('says "partly signed" when some plain files carry valid DICOM signatures but the medium is not proven', () => {
    const sig = { valid: true, trust: 'untrusted-chain', coveredTags: ['(0008,0018)'], coversPixelData: false, uncoveredTags: ['(7FE0,0010)'] };
    const partly: VerifyReport = { ...intact, files: intact.files.map((f, i) => (i === 1 ? { ...f, dicomSignatures: [sig] } : f)) };
    expect(verdictSentence(partly)).toBe('partly signed: 1 of 3 DICOM files carry a valid DICOM signature, but not every file is covered whole by a trusted one, so where the medium came from is not proven.');
    expect(verdictSentence(intact)).toBe('the files are readable and consistent, but nothing proves where they came from.');
    expect(lines(partly)[0]).toMatch(/^INTACT, PARTLY SIGNED — partly signed: 1 of 3/);
    expect(renderHtmlReport(partly)).toContain('INTACT, PARTLY SIGNED');
  });

  it('starts with the verdict and the signer in plain words', () => {
    expect(lines(trusted).slice(0, 2)).toEqual(['TRUSTED — Signed by Outside Hospital Radiology Media (O=Outside Hospital);', '  trusted through Outside Hospital Root CA.']);
    expect(lines(intact).slice(0, 2)).toEqual(['INTACT, NOT SIGNED — the files are readable and consistent,', '  but nothing proves where they came from.']);
    expect(lines(problems)[0]).toBe('PROBLEMS — 51 problems found; do not import without checking.');
    expect(lines(unreadable)[0]).toBe('UNREADABLE — the medium cannot be read.');
  });

  it('keeps the headline within 80 columns', () => {
    for (const [, r] of ALL.slice(0, 4)) {
      const text = lines(r);
      const headEnd = text.indexOf('');
      for (const l of text.slice(0, headEnd)) expect([...l].length, l).toBeLessThanOrEqual(LINE_WIDTH);
    }
    expect(wrap('x'.repeat(100))).toEqual(['x'.repeat(100)]);
  });

  it('says when the signing happened and how many files were signed', () => {
    expect(lines(trusted)[2]).toBe('  3 files signed between 2026-01-05 09:00:00 UTC and 2026-01-05 09:00:07 UTC.');
  });

  it('says why a signer is not trusted', () => {
    const text = lines(problems);
    expect(text.slice(1, 3)).toEqual(['  Signed by Outside Hospital Radiology Media (O=Outside Hospital);', '    NOT TRUSTED: the signer certificate expired on 2025-12-31.']);
    const noReason = formatVerifyReport({ ...problems, signers: [{ ...trustedSigner, status: 'revoked', reasons: [] }] });
    expect(noReason).toContain('NOT TRUSTED: its certificate has been revoked.');
  });

  it('gives several signers one line each', () => {
    const other: SignerReport = { ...trustedSigner, subject: 'O=Clinic B, CN=Clinic B PACS', chain: ['O=Clinic B, CN=Clinic B PACS', 'CN=Clinic B CA'], files: 1 };
    const text = lines({ ...trusted, signers: [trustedSigner, other] });
    expect(text[0]).toBe('TRUSTED — signed by 2 signers, each listed below.');
    expect(text.filter((l) => /^ {2}Signed by /.test(l))).toEqual([
      '  Signed by Outside Hospital Radiology Media (O=Outside Hospital);',
      '  Signed by Clinic B PACS (O=Clinic B); trusted through Clinic B CA.',
    ]);
  });

  it('lists patients and studies with dates, description, accession and series counts', () => {
    const text = formatVerifyReport(trusted);
    expect(text).toContain('Patient:\n  Łukasiewicz, Zoë Anna  ID MRN-0042  born 1978-03-14');
    expect(text).toContain('    Study 2025-12-30  CT chest with contrast  (accession ACC-7781)');
    expect(text).toContain('      2 series, 3 instances: CT #2: 2, SR #900: 1');
    expect(text).toContain('Medium: /media/cdrom (iso9660 "OUTSIDE 1"; Secure DICOM files; DICOMDIR present; standard policy; checked 2026-01-06 14:30:00 UTC)');
    expect(text).toContain('No problems found.');
  });

  it('groups problems by severity, errors first, and cuts long lists short', () => {
    const text = lines(problems);
    const findingLines = text.filter((l) => /^ {4}[A-Z_]+ {2}/.test(l));
    expect(findingLines).toHaveLength(30);
    const errors = text.indexOf('  Errors (51):');
    const warnings = text.indexOf('  Warnings (40):');
    const notes = text.indexOf('  Notes (5):');
    expect(errors).toBeGreaterThan(0);
    expect(warnings).toBeGreaterThan(errors);
    expect(notes).toBeGreaterThan(warnings);
    // Errors take the room, but every code keeps one line: the one tampered file is not drowned by orphans.
    const errorLines = text.slice(errors + 1, warnings);
    expect(errorLines.filter((l) => l.includes('ORPHAN_FILE  '))).toHaveLength(27);
    expect(errorLines).toContain('    FILE_TAMPERED  DICOM/PAT1/IM2: the signature does not match');
    expect(errorLines[errorLines.length - 1]).toBe('    ... and 23 more (ORPHAN_FILE 23): see --json or --report');
    expect(text.slice(warnings + 1, notes)).toEqual(['    NAME_NOT_CONFORMANT  dicom/im0.dcm: lower case name 0', '    ... and 39 more (NAME_NOT_CONFORMANT 39): see --json or --report']);
    expect(text).toContain('    ... and 4 more (DICOM_DEVIATION 4): see --json or --report');
    expect(text.length).toBeLessThan(60);
    // A short list is shown whole.
    expect(formatVerifyReport(intact)).toContain('Problems:\n  Warnings (1):\n    PLAIN_MEDIA  The medium is not signed: its origin is not proven.\n\nSummary:');
  });

  it('ends with a one-line summary and where files went', () => {
    const text = lines(intact);
    expect(text).toContain('Summary: 4 files (3 DICOM, 0 secure, 0 signed, 0 trusted); 1 patient, 1 study, 2 series, 3 instances; 0 errors, 1 warning, 0 notes; policy standard: passed.');
    expect(text[text.length - 1]).toBe('Verified files copied to /srv/import/case-17: 3 files.');
    expect(formatVerifyReport(unreadable, { reportPath: '/tmp/r.html' }).split('\n').pop()).toBe('Report written to /tmp/r.html.');
  });

  it('warns when a good verdict still fails the policy', () => {
    const text = lines({ ...intact, policy: 'strict', passed: false });
    expect(text[2]).toBe('The strict policy does not accept this medium: see the problems below.');
  });

  it('shows terminal controls and bidi overrides instead of obeying them', () => {
    const text = formatVerifyReport(hostile);
    // eslint-disable-next-line no-control-regex -- looking for control characters
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain('[U+001B][31mRED');
    expect(text).toContain('[U+202E]gnp.exe[U+202C]');
    expect(text).toContain('שלום مرحبا');
    expect(visible('a\tb\nc\ud800')).toBe('a b[U+000A]c\ufffd');
    // A newline in a name cannot start a line of its own.
    const forged = formatVerifyReport({ ...intact, patients: [{ ...intact.patients[0]!, patientName: 'X\nTRUSTED — Signed by Y' }] });
    expect(forged.split('\n').filter((l) => l.startsWith('TRUSTED'))).toEqual([]);
  });

  it('reads names the way people do', () => {
    expect(dnAttribute('C=DE, O=Smith\\, Jones \\+ Co, CN=Dr \\"X\\" \\00', 'O')).toBe('Smith, Jones + Co');
    expect(dnAttribute('CN=M\\C3\\BCller', 'CN')).toBe('Müller');
    expect(dnAttribute('(certificate not in the file)', 'CN')).toBeUndefined();
    expect(formatPersonName('Yamada^Tarou=山田^太郎=やまだ^たろう')).toBe('Yamada, Tarou (山田, 太郎; やまだ, たろう)');
    expect(formatPersonName('')).toBe('(no name)');
  });
});

describe('verification report as HTML', () => {
  const dir = tempDir('dcmsafe-report-');

  it.each(ALL)('%s: one page with no script, no external resource, every value escaped', (_name, r) => {
    const html = renderHtmlReport(r);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/src=/i);
    expect(html).not.toMatch(/href="http/i);
    expect(html).not.toMatch(/<(link|img|iframe|object|embed|base|form)\b/i);
    expect(html).not.toMatch(/url\(|@import/i);
    expect(html).not.toMatch(/\{\{\w+\}\}/);
  });

  it('colours the banner by verdict', () => {
    expect(renderHtmlReport(trusted)).toContain('<section class="banner verdict-trusted">');
    expect(renderHtmlReport(intact)).toContain('<section class="banner verdict-intact-unsigned">');
    expect(renderHtmlReport(problems)).toContain('<section class="banner verdict-problems">');
    expect(renderHtmlReport(unreadable)).toContain('<section class="banner verdict-unreadable">');
    const css = renderHtmlReport(trusted);
    expect(css).toMatch(/\.verdict-trusted \{[^}]*#1e7b34/);
    expect(css).toMatch(/\.verdict-intact-unsigned \{[^}]*#c77c00/);
    expect(css).toMatch(/\.verdict-problems, \.verdict-unreadable \{[^}]*#b3141c/);
  });

  it('has the verdict, signer, medium, patients, findings and files', () => {
    const html = renderHtmlReport(trusted);
    expect(html).toContain('<p class="verdict">TRUSTED</p>');
    expect(html).toContain('Signed by <bdi>Outside Hospital Radiology Media</bdi> (O=<bdi>Outside Hospital</bdi>)');
    expect(html).toContain('trusted through <bdi>Outside Hospital Root CA</bdi>.');
    expect(html).toContain('<bdi>/media/cdrom</bdi>');
    expect(html).toContain('<bdi>Łukasiewicz, Zoë Anna</bdi>');
    expect(html).toContain('<bdi>ACC-7781</bdi>');
    expect(html).toContain('<bdi>2.25.203</bdi>');
    const bad = renderHtmlReport(problems);
    expect(bad).toContain('<span class="bad">NOT TRUSTED</span>');
    expect(bad.indexOf('FILE_TAMPERED')).toBeLessThan(bad.indexOf('NAME_NOT_CONFORMANT'));
    expect(bad.match(/<tr><td class="sev-/g)).toHaveLength(problems.findings.length);
    expect(renderHtmlReport(intact)).toContain('No signer: nothing on this medium proves where it came from.');
  });

  it('escapes hostile strings from the medium', () => {
    const html = renderHtmlReport(hostile);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp; &#39;O&#39;Brien&#39;');
    expect(html).toContain('&lt;img src&#61;x onerror&#61;alert(1)&gt;');
    expect(html).toContain('[U+001B][31mRED');
    expect(html).toContain('[U+202E]gnp.exe[U+202C]');
    expect(html).toContain('שלום مرحبا');
    // eslint-disable-next-line no-control-regex -- looking for control characters
    expect(html).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202e\ufffe\uffff]/);
    expect(escapeHtml('a&b<c>"d\'=')).toBe('a&amp;b&lt;c&gt;&quot;d&#39;&#61;');
  });

  it.skipIf(!hasTool('xmllint')).each(ALL)('%s: well-formed XML for xmllint', (name, r) => {
    const file = path.join(dir, `${name}.html`);
    writeFileSync(file, renderHtmlReport(r), 'utf8');
    const res = run('xmllint', ['--noout', file]);
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });
});
