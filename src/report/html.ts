/**
 * The verification report as one self-contained HTML page (`dcmsafe verify --report`): something to
 * print and file with the referral, or to mail to the sending hospital. Inline CSS, no script, no
 * image, no link out, and a Content-Security-Policy that forbids them anyway; the skeleton is
 * templates/verify-report.html.
 *
 * Every value on the page comes from a medium we do not trust (patient names, descriptions, paths,
 * certificate subjects, decoder messages): each is made visible (control and bidi-override
 * characters as `[U+XXXX]`, see src/report/verify-text.ts), escaped (`& < > " ' =`) and isolated in
 * `<bdi>` so right-to-left names stay readable without reordering the text around them. The page is
 * XHTML-compatible (quoted attributes, self-closed void elements, only the five XML entities), so an
 * XML parser can check it and a browser reads it as HTML5.
 */
import type { FileReport, Finding, PatientReport, SignerReport, VerifyReport } from '../pipelines/verify-report.js';
import { renderTemplate } from '../util/template.js';
import {
  verdictWords,
  commonName,
  describeSigner,
  dicomdirWords,
  findingsBySeverity,
  formatDate,
  formatPersonName,
  formatTime,
  plural,
  policyWarning,
  signerSentence,
  verdictSentence,
  visible,
} from './verify-text.js';

export const REPORT_TEMPLATE = 'verify-report.html';

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '=': '&#61;' };

/**
 * Text for an element or a quoted attribute. `=` is escaped too: harmless for the reader, and no
 * hostile value can put `src=` or `href=` into the page source even as text.
 */
export function escapeHtml(value: string): string {
  return visible(value).replace(/[&<>"'=]/g, (c) => ENTITIES[c] as string);
}

/** A value from the medium: escaped and isolated for bidirectional text. */
function val(value: string): string {
  return `<bdi>${escapeHtml(value)}</bdi>`;
}

function td(content: string, cls?: string): string {
  return cls ? `<td class="${cls}">${content}</td>` : `<td>${content}</td>`;
}

function table(headers: readonly string[], rows: readonly string[], cls?: string): string {
  const head = `<thead><tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr></thead>`;
  return [`<table${cls ? ` class="${cls}"` : ''}>`, head, '<tbody>', ...rows, '</tbody>', '</table>'].join('\n');
}

function facts(rows: ReadonlyArray<readonly [string, string]>): string {
  return ['<table class="facts">', '<tbody>', ...rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`), '</tbody>', '</table>'].join('\n');
}

function none(text: string): string {
  return `<p class="none">${text}</p>`;
}

function signerBlock(s: SignerReport): string {
  const w = describeSigner(s);
  const chain = s.chain.length ? `<ol class="chain">${s.chain.map((c) => `<li class="mono">${val(c)}</li>`).join('')}</ol>` : none('No chain was built.');
  const { first, last } = s.signingTimes;
  const times = first || last ? [first, last].filter((t): t is string => Boolean(t)).map((t) => val(formatTime(t))).join(' to ') : 'not stated';
  const rows: Array<[string, string]> = [
    ['Status', w.trusted ? '<span class="ok">trusted</span>' : `<span class="bad">NOT TRUSTED</span> (${val(s.status)})`],
  ];
  if (!w.trusted) rows.push(['Why', w.why.map(val).join('<br />')]);
  rows.push(
    ['Subject', `<span class="mono">${val(s.subject)}</span>`],
    ['Issuer', `<span class="mono">${val(s.issuer)}</span>`],
    ['Serial number', `<span class="mono">${val(s.serialNumber)}</span>`],
    ['Chain (signer to trust anchor)', chain],
    ['Signing time', times],
    ['Files signed', String(s.files)],
  );
  return [
    `<div class="signer ${w.trusted ? 'status-trusted' : 'status-untrusted'}">`,
    `<h3>${val(w.name)}${w.organisation ? ` (${val(w.organisation)})` : ''}</h3>`,
    `<p>${signerSentence(s, val)}</p>`,
    facts(rows),
    '</div>',
  ].join('\n');
}

function signersSection(r: VerifyReport): string {
  if (r.signers.length === 0) return none('No signer: nothing on this medium proves where it came from.');
  return r.signers.map(signerBlock).join('\n');
}

function mediumSection(r: VerifyReport): string {
  const m = r.media;
  const s = r.summary;
  const rows: Array<[string, string]> = [
    ['Path', `<span class="mono">${val(m.path)}</span>`],
    ['Kind', val(m.kind)],
    ['Label', m.label ? val(m.label) : '<span class="none">none</span>'],
    ['Secure DICOM files', m.secure ? 'yes (PS3.15 Secure DICOM Files)' : 'no (plain DICOM files)'],
    ['DICOMDIR', escapeHtml(dicomdirWords(m.dicomdir))],
    ['Policy', `${escapeHtml(r.policy)}: ${r.passed ? '<span class="ok">passed</span>' : '<span class="bad">FAILED</span>'}`],
    ['Verified at', val(formatTime(r.verifiedAt))],
    ['Files', `${s.files} (${s.dicomFiles} DICOM, ${s.secureFiles} secure, ${s.signedFiles} signed, ${s.trustedFiles} trusted)`],
    ['Contents', `${plural(s.patients, 'patient')}, ${plural(s.studies, 'study', 'studies')}, ${plural(s.series, 'series', 'series')}, ${plural(s.instances, 'instance')}`],
    ['Findings', `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${plural(s.infos, 'note')}`],
  ];
  if (r.extracted) {
    const e = r.extracted;
    rows.push(['Extracted to', `<span class="mono">${val(e.folder)}</span>: ${plural(e.files, 'file')}${e.skipped ? `, ${e.skipped} left out (they failed the policy)` : ''}`]);
  }
  return facts(rows);
}

function patientRows(p: PatientReport): string[] {
  const studyRows = (st: PatientReport['studies'][number]): number => Math.max(1, st.series.length);
  const total = Math.max(1, p.studies.reduce((n, st) => n + studyRows(st), 0));
  const span = (n: number): string => (n > 1 ? ` rowspan="${n}"` : '');
  const patientCells = `<td${span(total)}>${val(formatPersonName(p.patientName))}</td><td${span(total)}>${val(p.patientId)}</td><td${span(total)}>${val(formatDate(p.birthDate))}</td>`;
  if (p.studies.length === 0) return [`<tr>${patientCells}<td colspan="6" class="none">no study</td></tr>`];
  const rows: string[] = [];
  for (const st of p.studies) {
    const n = studyRows(st);
    const studyCells = `<td${span(n)}>${val(formatDate(st.studyDate))}</td><td${span(n)}>${val(st.studyDescription)}</td><td${span(n)}>${val(st.accessionNumber)}</td>`;
    const series = st.series.length ? st.series : [undefined];
    series.forEach((se, i) => {
      const seriesCells = se ? `${td(val(se.modality))}${td(val(se.seriesNumber), 'num')}${td(String(se.instances), 'num')}` : '<td colspan="3" class="none">no series</td>';
      const lead = (rows.length === 0 ? patientCells : '') + (i === 0 ? studyCells : '');
      rows.push(`<tr>${lead}${seriesCells}</tr>`);
    });
  }
  return rows;
}

function patientsSection(r: VerifyReport): string {
  if (r.patients.length === 0) return none('No patients found.');
  const warn = r.patients.length > 1 ? `<p class="bad">${r.patients.length} patients on this medium: check each one before import.</p>\n` : '';
  const headers = ['Patient', 'Patient ID', 'Born', 'Study date', 'Study', 'Accession', 'Modality', 'Series', 'Instances'];
  return warn + table(headers, r.patients.flatMap(patientRows));
}

function findingRow(f: Finding): string {
  const file = f.file ? `${val(f.file)}${f.offset !== undefined ? ` @${f.offset}` : ''}` : '';
  return `<tr>${td(escapeHtml(f.severity), `sev-${f.severity}`)}${td(escapeHtml(f.code), 'mono')}${td(file, 'path')}${td(val(f.message))}</tr>`;
}

function findingsSection(r: VerifyReport): string {
  if (r.findings.length === 0) return none('No findings.');
  return table(['Severity', 'Code', 'File', 'Message'], findingsBySeverity(r.findings).map(findingRow));
}

function fileRow(f: FileReport): string {
  const status = f.status === 'ok' ? td('ok', 'ok') : td(escapeHtml(f.status), 'bad');
  const signer = (f.signer ? `<span title="${escapeHtml(f.signer)}">${val(commonName(f.signer))}</span>` : '') + (f.dicomSignatures ?? []).map(dicomSignatureNote).join('');
  return `<tr>${td(val(f.path), 'path')}${td(escapeHtml(f.kind))}${status}${td(f.sopInstanceUID ? val(f.sopInstanceUID) : '', 'uid')}${td(signer)}</tr>`;
}

/** One DICOM Digital Signature of a plain file (PS3.15 Annex C): what it is and what it covers. */
function dicomSignatureNote(s: NonNullable<FileReport['dicomSignatures']>[number]): string {
  const parts = [
    'DICOM signature',
    s.macAlgorithm ?? '',
    s.valid ? 'valid' : `NOT valid: ${s.problem ?? ''}`,
    s.trust ?? '',
    s.profile ? `${s.profile} profile` : '',
    `${s.coveredTags.length} elements${s.coversPixelData ? ' incl. pixel data' : ''}`,
    s.uncoveredTags.length > 0 ? `not covered: ${s.uncoveredTags.join(' ')}` : '',
  ].filter(Boolean);
  return `<br><span class="${s.valid ? 'mono' : 'mono bad'}" title="${escapeHtml(s.coveredTags.join(' '))}">${escapeHtml(parts.join(' · '))}</span>`;
}

function filesSection(r: VerifyReport): string {
  if (r.files.length === 0) return none('No files listed.');
  return table(['Path', 'Kind', 'Status', 'SOP Instance UID', 'Signer'], r.files.map(fileRow));
}

const VERDICT_CLASS: Readonly<Record<VerifyReport['verdict'], string>> = {
  trusted: 'verdict-trusted',
  'intact-unsigned': 'verdict-intact-unsigned',
  problems: 'verdict-problems',
  unreadable: 'verdict-unreadable',
};

/** The sentence stands alone under the verdict word: our own first word, capitalized. */
function capitalize(sentence: string): string {
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

export function renderHtmlReport(r: VerifyReport): string {
  const label = r.media.label ? r.media.label : r.media.path;
  const policyLine = `${policyWarning(r) ?? ''} Policy ${r.policy}: ${r.passed ? 'passed' : 'FAILED'}.`.trim();
  const tool = `${r.tool.name} ${r.tool.version}`;
  return renderTemplate(REPORT_TEMPLATE, {
    generator: escapeHtml(tool),
    title: escapeHtml(`${verdictWords(r)}: DICOM medium ${label}`),
    heading: `DICOM medium verification: ${val(label)}`,
    verdictClass: VERDICT_CLASS[r.verdict],
    verdictWord: escapeHtml(verdictWords(r)),
    verdictSentence: capitalize(verdictSentence(r, val)),
    policyLine: escapeHtml(policyLine),
    signers: signersSection(r),
    medium: mediumSection(r),
    patients: patientsSection(r),
    findings: findingsSection(r),
    files: filesSection(r),
    footer: `Verified by ${escapeHtml(tool)} at ${val(formatTime(r.verifiedAt))}. The same report as data: <code>dcmsafe verify --json</code> (schema version ${r.schemaVersion}).`,
  });
}
