/**
 * The verification verdict as the front desk shows it (import and verify-only share it): the verdict
 * in a word and a symbol, who signed, the patients and studies, and the findings, cut to fit one
 * 80×24 screen; the full findings list scrolls on a screen of its own.
 *
 * Everything read from the medium (names, IDs, descriptions, paths, certificate subjects, messages)
 * is hostile input: it goes through `visible()` so it cannot steer the terminal or forge a line.
 * The sentences follow the CLI's (src/report/verify-text.ts), so both say the same thing.
 */
import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { describeSigner, findingsBySeverity, formatDate, formatPersonName, plural, policyWarning, verdictSentence, verdictWords, visible, wrap } from '../report/verify-text.js';
import type { Finding, PatientReport, Severity, SignerReport, Verdict, VerifyReport } from '../pipelines/verify-report.js';
import { fit, SelectList, tint, WIDTH } from './components.js';

/** The width of a line of the body (the frame is WIDTH - 1 wide; one column to spare). */
export const LINE = WIDTH - 2;

export const VERDICT_MARKS: Readonly<Record<Verdict, { readonly symbol: string; readonly word: string; readonly color: string }>> = {
  trusted: { symbol: '✔', word: 'TRUSTED', color: 'green' },
  'intact-unsigned': { symbol: '!', word: 'UNSIGNED', color: 'yellow' },
  problems: { symbol: '✖', word: 'PROBLEMS', color: 'red' },
  unreadable: { symbol: '✖', word: 'UNREADABLE', color: 'red' },
};

export const SEVERITY_MARKS: Readonly<Record<Severity, { readonly symbol: string; readonly color: string }>> = {
  error: { symbol: '✖', color: 'red' },
  warning: { symbol: '!', color: 'yellow' },
  info: { symbol: 'i', color: 'cyan' },
};

/** What the verdict means for the clerk, after its word. */
export function verdictText(r: VerifyReport): string {
  switch (r.verdict) {
    case 'trusted': {
      const only = r.signers[0];
      if (r.signers.length === 1 && only) return `signed by ${visible(describeSigner(only).name)}, nothing changed`;
      if (r.signers.length === 0) return 'every signature is trusted, nothing changed';
      return `signed by ${r.signers.length} trusted signers, nothing changed`;
    }
    case 'intact-unsigned':
      return verdictWords(r) === 'INTACT, PARTLY SIGNED'
        ? 'not every file is validly signed: origin not proven'
        : 'nothing shows it was changed, but its origin is not proven';
    case 'problems':
      return verdictSentence(r).replace(/\.$/, '');
    case 'unreadable':
      return 'the medium cannot be read';
  }
}

/** `✔ TRUSTED: signed by …, nothing changed`, `! UNSIGNED: …`, `✖ PROBLEMS: …`, `✖ UNREADABLE: …`. */
export function verdictHeadline(r: VerifyReport): string {
  const m = VERDICT_MARKS[r.verdict];
  const word = r.verdict === 'intact-unsigned' && verdictWords(r) === 'INTACT, PARTLY SIGNED' ? 'PARTLY SIGNED' : m.word;
  return `${m.symbol} ${word}: ${verdictText(r)}`;
}

/** One finding on one line: symbol, code, file and message, cut to `width`. */
export function findingLine(f: Finding, width = LINE): string {
  const where = f.file ? `${visible(f.file)}: ` : '';
  return fit(`${SEVERITY_MARKS[f.severity].symbol} ${f.code}  ${where}${visible(f.message)}`, width);
}

/** `Signer: NAME (O=ORG) — ✔ trusted` or `— ✖ NOT TRUSTED: why`. */
export function signerLine(s: SignerReport): string {
  const w = describeSigner(s);
  const how = w.trusted ? `✔ trusted${w.anchor ? ` through ${visible(w.anchor)}` : ''}` : `✖ NOT TRUSTED: ${w.why.map(visible).join('; ')}`;
  const full = `Signer: ${visible(w.name)}${w.organisation ? ` (O=${visible(w.organisation)})` : ''} — ${how}`;
  // The organisation gives way first, so whether the signer is trusted stays on screen.
  return fit([...full].length <= LINE ? full : `Signer: ${visible(w.name)} — ${how}`, LINE);
}

/** Instances of a patient's studies, from the series counts. */
export function patientInstances(p: PatientReport): number {
  return p.studies.reduce((n, st) => n + st.series.reduce((m, se) => m + se.instances, 0), 0);
}

/** `DOE, Jane  ID 123  born 1970-01-01`, safe to show. */
export function patientWords(p: { readonly patientName: string; readonly patientId: string; readonly birthDate: string }): string {
  return `${visible(formatPersonName(p.patientName))}  ID ${visible(p.patientId) || '(none)'}  born ${visible(formatDate(p.birthDate))}`;
}

function studyLine(st: PatientReport['studies'][number]): string {
  const instances = st.series.reduce((n, se) => n + se.instances, 0);
  return fit(`    Study ${visible(formatDate(st.studyDate))}  ${visible(st.studyDescription.trim()) || '(no description)'}  ${plural(instances, 'instance')}`, LINE);
}

/** `2 errors, 1 warning, 0 notes`. */
export function findingCounts(findings: readonly Finding[]): string {
  const n = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  return `✖ ${plural(n('error'), 'error')}, ! ${plural(n('warning'), 'warning')}, i ${plural(n('info'), 'note')}`;
}

interface Line {
  readonly text: string;
  readonly color?: string;
  readonly bold?: boolean;
}

/**
 * The verdict screen's lines, at most `budget`: the headline (up to two lines), a policy warning,
 * the signers, the patients with their studies, and the findings (counts and the first few).
 */
export function verdictLines(r: VerifyReport, budget = 15): Line[] {
  const mark = VERDICT_MARKS[r.verdict];
  const wrapped = wrap(verdictHeadline(r), LINE);
  const shown = wrapped.length > 2 ? [wrapped[0] ?? '', wrapped.slice(1).join(' ')] : wrapped;
  const head: Line[] = shown.map((text) => ({ text: fit(text, LINE), color: mark.color, bold: true }));
  const warning = policyWarning(r);
  if (warning) head.push({ text: fit(`! ${warning}`, LINE), color: 'yellow' });
  const signers: Line[] = r.signers.slice(0, r.signers.length > 2 ? 1 : 2).map((s) => ({ text: signerLine(s), color: s.status === 'trusted' ? undefined : 'red' }));
  if (r.signers.length > 2) signers.push({ text: `… and ${r.signers.length - 1} more signers` });

  const findings: Line[] = [];
  if (r.findings.length === 0) findings.push({ text: '✔ No problems found.', color: 'green' });
  else {
    findings.push({ text: fit(`Findings: ${findingCounts(r.findings)}`, LINE) });
    const sorted = findingsBySeverity(r.findings);
    for (const f of sorted.slice(0, 3)) findings.push({ text: findingLine(f, LINE - 2).replace(/^/, '  '), color: SEVERITY_MARKS[f.severity].color });
    if (sorted.length > 3) findings.push({ text: `  … and ${sorted.length - 3} more: press f to see them all` });
  }

  const fixed = head.length + signers.length + 2 + findings.length;
  const room = Math.max(2, budget - fixed);
  const patients: Line[] = [];
  if (r.patients.length === 0) patients.push({ text: 'No patients found on the medium.' });
  else {
    const all: Line[] = [];
    if (r.patients.length > 1) all.push({ text: `! ${r.patients.length} patients on this medium: check each one.`, color: 'yellow' });
    for (const p of r.patients) {
      all.push({ text: fit(`Patient: ${patientWords(p)}`, LINE), bold: true });
      for (const st of p.studies) all.push({ text: studyLine(st) });
    }
    if (all.length <= room) patients.push(...all);
    else {
      patients.push(...all.slice(0, room - 1));
      const studies = r.patients.reduce((n, p) => n + p.studies.length, 0);
      patients.push({ text: `… ${plural(r.patients.length, 'patient')}, ${plural(studies, 'study', 'studies')} in all (not all shown)` });
    }
  }
  return [...head, ...signers, { text: '' }, ...patients, { text: '' }, ...findings];
}

/** The verdict, signers, patients and findings, in `budget` lines at most. */
export function VerdictView(props: { readonly report: VerifyReport; readonly budget?: number }): ReactNode {
  return (
    <Box flexDirection="column">
      {verdictLines(props.report, props.budget).map((l, i) => (
        <Text key={i} color={l.color ? tint(l.color) : undefined} bold={l.bold === true}>
          {l.text === '' ? ' ' : l.text}
        </Text>
      ))}
    </Box>
  );
}

/** Every finding, errors first, in a list that scrolls (↑/↓, PgUp/PgDn, Home/End). */
export function FindingsList(props: { readonly findings: readonly Finding[]; readonly rows?: number }): ReactNode {
  const sorted = findingsBySeverity(props.findings);
  if (sorted.length === 0) return <Text color={tint('green')}>✔ No problems found.</Text>;
  return (
    <Box flexDirection="column">
      <Text>{fit(`All findings (${sorted.length}): ${findingCounts(sorted)}`, LINE)}</Text>
      <SelectList items={sorted.map((f, i) => ({ label: findingLine(f, LINE - 2), value: i }))} rows={props.rows ?? 14} />
    </Box>
  );
}
