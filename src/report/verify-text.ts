/**
 * The verification report as plain text, for a clerk at a front desk deciding whether to import a
 * CD from another hospital. The verdict and the signer come first, in words, wrapped to 80 columns;
 * then the medium, the patients and studies, the problems (errors first, cut short: the full list is
 * in --json and --report), one line of counts, and where extracted files or the report went.
 *
 * Everything read from the medium (names, descriptions, paths, certificate subjects) is hostile
 * input: control characters, bidi overrides and line separators are shown as `[U+XXXX]`, so a
 * patient name cannot move the cursor, recolour the terminal or forge a "TRUSTED" line of its own.
 * The sentences and the name helpers are exported for the HTML page (src/report/html.ts), so both
 * renderings say the same thing in the same words.
 */
import type { Finding, PatientReport, Severity, SignerReport, Verdict, VerifyReport } from '../pipelines/verify-report.js';

export const LINE_WIDTH = 80;

/** The verdict in one or three words, as the first word of both renderings. */
export const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  trusted: 'TRUSTED',
  'intact-unsigned': 'INTACT, NOT SIGNED',
  problems: 'PROBLEMS',
  unreadable: 'UNREADABLE',
};

/** Why a signer is not trusted, when the verifier gave no reason of its own. */
const STATUS_WORDS: Readonly<Record<string, string>> = {
  'untrusted-chain': 'its certificate does not lead to a trusted certificate',
  expired: 'its certificate has expired or is not yet valid',
  'bad-signature': 'the signature does not match the files',
  'wrong-key-usage': 'its certificate is not meant for signing',
  revoked: 'its certificate has been revoked',
  unknown: 'its certificate could not be checked',
};

// C0 (tab aside: it becomes a space), DEL, C1, line/paragraph separators, bidi embeddings, overrides
// and isolates, BOM, the two non-characters XML forbids, and unpaired surrogates.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A value from the medium made safe to show: tabs become spaces, characters that steer a terminal
 * or reorder text become a visible `[U+XXXX]`, unpaired surrogates become U+FFFD. Letters of every
 * script (Arabic, Hebrew, CJK...) are kept as they are.
 */
export function visible(value: string): string {
  return value.replace(/\t/g, ' ').replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) return '\ufffd';
    return `[U+${code.toString(16).toUpperCase().padStart(4, '0')}]`;
  });
}

export interface DnAttribute {
  type: string;
  value: string;
}

/**
 * The attributes of a distinguished name written as src/security/pki/names.ts writes them
 * (`C=DE, O=Hospital, CN=Signer`, RFC 4514 escapes `\,` `\+` `\"` `\\` and `\XX` hex), in order.
 * Text that is not a name (no `=`) gives no attributes.
 */
export function parseDn(dn: string): DnAttribute[] {
  const out: DnAttribute[] = [];
  let type = '';
  let value = '';
  let inValue = false;
  let bytes: number[] = [];
  const flushBytes = (): void => {
    if (bytes.length) value += Buffer.from(bytes).toString('utf8');
    bytes = [];
  };
  const flush = (): void => {
    flushBytes();
    if (inValue && type.trim()) out.push({ type: type.trim(), value });
    type = '';
    value = '';
    inValue = false;
  };
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i] as string;
    if (c === '\\' && i + 1 < dn.length) {
      const hex = dn.slice(i + 1, i + 3);
      if (inValue && /^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
      flushBytes();
      const next = dn[i + 1] as string;
      if (inValue) value += next;
      else type += next;
      i++;
      continue;
    }
    flushBytes();
    if (c === ',' || c === '+' || c === ';') {
      flush();
      while (dn[i + 1] === ' ') i++;
    } else if (c === '=' && !inValue) {
      inValue = true;
    } else if (inValue) {
      value += c;
    } else {
      type += c;
    }
  }
  flush();
  return out;
}

/** The last value of one attribute type (CN, O...) in a distinguished name, if any. */
export function dnAttribute(dn: string, type: string): string | undefined {
  const wanted = type.toUpperCase();
  const found = parseDn(dn).filter((a) => a.type.toUpperCase() === wanted && a.value.trim() !== '');
  return found[found.length - 1]?.value.trim();
}

/** What people call a certificate's subject: its CN, else OU or O, else the whole text. */
export function commonName(dn: string): string {
  return dnAttribute(dn, 'CN') ?? dnAttribute(dn, 'OU') ?? dnAttribute(dn, 'O') ?? (dn.trim() || '(no name)');
}

export interface SignerWords {
  name: string;
  /** O of the subject, when it says more than the name. */
  organisation?: string;
  trusted: boolean;
  /** The name of the trust anchor the chain ends in; undefined when trusted directly or unknown. */
  anchor?: string;
  /** Why the signer is not trusted (empty when trusted). */
  why: string[];
}

export function describeSigner(s: SignerReport): SignerWords {
  const name = commonName(s.subject);
  const o = dnAttribute(s.subject, 'O');
  const organisation = o && o !== name ? o : undefined;
  const trusted = s.status === 'trusted';
  const last = s.chain[s.chain.length - 1];
  const anchor = trusted && last !== undefined && last !== s.subject ? commonName(last) : undefined;
  const why = trusted
    ? []
    : s.reasons.map((x) => x.trim().replace(/\.+$/, '')).filter(Boolean);
  if (!trusted && why.length === 0) why.push(STATUS_WORDS[s.status] ?? (s.status || 'not trusted'));
  return { name, organisation, trusted, anchor, why };
}

/** Wraps a value for its rendering: `visible` for text; escaping and isolation for HTML. */
export type Mark = (value: string) => string;

/** `Signed by NAME (O=ORG); trusted through ANCHOR.` or `...; NOT TRUSTED: why.` */
export function signerSentence(s: SignerReport, mark: Mark = visible): string {
  const w = describeSigner(s);
  const who = `Signed by ${mark(w.name)}${w.organisation ? ` (O=${mark(w.organisation)})` : ''}`;
  if (!w.trusted) return `${who}; NOT TRUSTED: ${w.why.map(mark).join('; ')}.`;
  if (w.anchor) return `${who}; trusted through ${mark(w.anchor)}.`;
  return s.chain.length ? `${who}; trusted directly (its own certificate is trusted).` : `${who}; trusted.`;
}

/** `1 file`, `2 files`; `words` for irregular plurals. */
export function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/** What the headline counts as problems: the errors, or the warnings a strict policy failed on. */
export function problemCount(r: VerifyReport): number {
  return r.summary.errors || r.summary.warnings || r.findings.filter((f) => f.severity !== 'info').length;
}

/** True when the headline itself names the signer (one trusted signer), so no signer line follows. */
export function signerInHeadline(r: VerifyReport): boolean {
  return r.verdict === 'trusted' && r.signers.length === 1;
}

/** The words after the verdict: who signed, or what the verdict means for the clerk. */
export function verdictSentence(r: VerifyReport, mark: Mark = visible): string {
  switch (r.verdict) {
    case 'trusted': {
      const only = r.signers[0];
      if (r.signers.length === 1 && only) return signerSentence(only, mark);
      if (r.signers.length === 0) return 'every signature on the medium is trusted.';
      return `signed by ${r.signers.length} signers, each listed below.`;
    }
    case 'intact-unsigned': {
      const { signed, files } = dicomSigned(r);
      const unprotected = r.findings.find((f) => f.code === 'UNPROTECTED_FILE');
      if (unprotected && signed === 0 && r.signers.length > 0) {
        return 'partly signed: the DICOM files are signed, but not every file on the medium is covered by a trusted signature (see UNPROTECTED_FILE below), so the medium as a whole is not proven intact.';
      }
      if (signed > 0) {
        return `partly signed: ${signed} of ${files} DICOM files carry a valid DICOM signature, but not every file is covered whole by a trusted one, so where the medium came from is not proven.`;
      }
      return 'the files are readable and consistent, but nothing proves where they came from.';
    }
    case 'problems': {
      const n = problemCount(r);
      return n ? `${plural(n, 'problem')} found; do not import without checking.` : 'do not import without checking.';
    }
    case 'unreadable':
      return 'the medium cannot be read.';
  }
}

/** Plain DICOM files, and how many carry a valid DICOM signature (PS3.15 Annex C), whatever its trust. */
function dicomSigned(r: VerifyReport): { signed: number; files: number } {
  const files = r.files.filter((f) => f.kind === 'dicom');
  return { signed: files.filter((f) => f.dicomSignatures?.some((s) => s.valid)).length, files: files.length };
}

/** The verdict in capitals; an intact medium partly signed inside its data sets says so. */
export function verdictWords(r: VerifyReport): string {
  const partly = dicomSigned(r).signed > 0 || (r.signers.length > 0 && r.findings.some((f) => f.code === 'UNPROTECTED_FILE'));
  return r.verdict === 'intact-unsigned' && partly ? 'INTACT, PARTLY SIGNED' : VERDICT_WORDS[r.verdict];
}

/** `VERDICT — sentence`, unwrapped. */
export function headline(r: VerifyReport, mark: Mark = visible): string {
  return `${verdictWords(r)} — ${verdictSentence(r, mark)}`;
}

/** A warning under a good verdict that the chosen policy still rejects the medium; undefined otherwise. */
export function policyWarning(r: VerifyReport): string | undefined {
  if (r.passed || r.verdict === 'problems' || r.verdict === 'unreadable') return undefined;
  return `The ${r.policy} policy does not accept this medium: see the problems below.`;
}

/**
 * Splits a sentence into lines of at most `width` characters (code points; wide CJK characters
 * count as one), continuation lines indented. Breaks after `;` or `,` when that keeps at least half
 * of the line, else at the last space; a word longer than a line is left whole.
 */
export function wrap(text: string, width = LINE_WIDTH, indent = '  '): string[] {
  const lines: string[] = [];
  let rest = [...text];
  let prefix = '';
  while (prefix.length + rest.length > width) {
    const room = width - prefix.length;
    let space = -1;
    let punct = -1;
    let lead = 0;
    while (rest[lead] === ' ') lead++;
    for (let i = lead + 1; i <= room && i < rest.length; i++) {
      if (rest[i] !== ' ') continue;
      space = i;
      if (rest[i - 1] === ';' || rest[i - 1] === ',') punct = i;
    }
    const at = punct >= room / 2 ? punct : space;
    if (at <= 0) break;
    lines.push(prefix + rest.slice(0, at).join('').trimEnd());
    rest = rest.slice(at + 1);
    prefix = indent;
  }
  lines.push(prefix + rest.join(''));
  return lines;
}

/** YYYYMMDD as YYYY-MM-DD; anything else as it is (visible), empty as `fallback`. */
export function formatDate(d: string, fallback = 'unknown'): string {
  const t = d.trim();
  if (/^\d{8}$/.test(t)) return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}`;
  return t || fallback;
}

/** An ISO time in UTC as `YYYY-MM-DD HH:MM:SS UTC`; anything else as it is. */
export function formatTime(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

/**
 * A DICOM Person Name (PS3.5 §6.2) for people: `Family, Prefix Given Middle Suffix` for the first
 * non-empty component group; ideographic and phonetic groups follow in parentheses.
 */
export function formatPersonName(pn: string): string {
  const groups = pn.split('=').map((g) => {
    const [family = '', given = '', middle = '', prefix = '', suffix = ''] = g.split('^').map((c) => c.trim());
    const first = [prefix, given, middle, suffix].filter(Boolean).join(' ');
    return [family, first].filter(Boolean).join(', ');
  });
  const shown = groups.filter(Boolean);
  const [main, ...others] = shown;
  if (main === undefined) return '(no name)';
  return others.length ? `${main} (${others.join('; ')})` : main;
}

const DICOMDIR_WORDS: Readonly<Record<VerifyReport['media']['dicomdir'], string>> = {
  present: 'DICOMDIR present',
  missing: 'no DICOMDIR',
  unreadable: 'DICOMDIR unreadable',
  'encrypted-no-key': 'DICOMDIR encrypted (no key given)',
};

export function dicomdirWords(state: VerifyReport['media']['dicomdir']): string {
  return DICOMDIR_WORDS[state] ?? state;
}

export const SEVERITY_ORDER: readonly Severity[] = ['error', 'warning', 'info'];
const SEVERITY_TITLES: Readonly<Record<Severity, string>> = { error: 'Errors', warning: 'Warnings', info: 'Notes' };

/** Findings, errors first, then warnings, then notes; the verifier's order within each. */
export function findingsBySeverity(findings: readonly Finding[]): Finding[] {
  return SEVERITY_ORDER.flatMap((s) => findings.filter((f) => f.severity === s));
}

/** The most finding lines the text shows; the rest are counted. */
export const MAX_FINDING_LINES = 30;

function findingLine(f: Finding): string {
  const where = f.file ? `${visible(f.file)}${f.offset !== undefined ? ` @${f.offset}` : ''}: ` : '';
  return `    ${f.code}  ${where}${visible(f.message)}`;
}

function hiddenCodes(hidden: readonly Finding[]): string {
  const counts = new Map<string, number>();
  for (const f of hidden) counts.set(f.code, (counts.get(f.code) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = top.slice(0, 4).map(([code, n]) => `${code} ${n}`);
  if (top.length > 4) shown.push('...');
  return shown.join(', ');
}

/**
 * Which findings the text shows, at most `max`: first one of each code (errors first), then the
 * rest of the room to the errors, then warnings, then notes, spread evenly over their codes. One
 * tampered file among 500 orphans is then still on screen.
 */
export function selectFindings(findings: readonly Finding[], max = MAX_FINDING_LINES): Set<Finding> {
  const groups: Finding[][] = [];
  for (const severity of SEVERITY_ORDER) {
    const byCode = new Map<string, Finding[]>();
    for (const f of findings) {
      if (f.severity !== severity) continue;
      const g = byCode.get(f.code);
      if (g) g.push(f);
      else byCode.set(f.code, [f]);
    }
    groups.push(...byCode.values());
  }
  const taken = groups.map(() => 0);
  let budget = max;
  groups.forEach((_, i) => {
    if (budget > 0) {
      taken[i] = 1;
      budget--;
    }
  });
  for (const severity of SEVERITY_ORDER) {
    let more = true;
    while (budget > 0 && more) {
      more = false;
      groups.forEach((g, i) => {
        const n = taken[i] as number;
        if (budget > 0 && g[0]?.severity === severity && n < g.length) {
          taken[i] = n + 1;
          budget--;
          more = true;
        }
      });
    }
  }
  return new Set(groups.flatMap((g, i) => g.slice(0, taken[i])));
}

function problemLines(r: VerifyReport): string[] {
  if (r.findings.length === 0) return ['No problems found.'];
  const out = ['Problems:'];
  const shown = selectFindings(r.findings);
  for (const severity of SEVERITY_ORDER) {
    const group = r.findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    out.push(`  ${SEVERITY_TITLES[severity]} (${group.length}):`);
    const codes = [...new Set(group.map((f) => f.code))];
    for (const code of codes) for (const f of group) if (f.code === code && shown.has(f)) out.push(findingLine(f));
    const hidden = group.filter((f) => !shown.has(f));
    if (hidden.length) out.push(`    ... and ${hidden.length} more (${hiddenCodes(hidden)}): see --json or --report`);
  }
  return out;
}

function patientLines(patients: readonly PatientReport[]): string[] {
  if (patients.length === 0) return ['No patients found.'];
  const out = [patients.length === 1 ? 'Patient:' : `Patients (${patients.length}) — more than one patient on this medium: check each one.`];
  for (const p of patients) {
    out.push(`  ${visible(formatPersonName(p.patientName))}  ID ${visible(p.patientId) || '(none)'}  born ${visible(formatDate(p.birthDate))}`);
    for (const st of p.studies) {
      const instances = st.series.reduce((n, se) => n + se.instances, 0);
      const series = st.series.map((se) => `${visible(se.modality) || '?'} #${visible(se.seriesNumber) || '?'}: ${se.instances}`).join(', ');
      const accession = st.accessionNumber.trim() ? `accession ${visible(st.accessionNumber.trim())}` : 'no accession number';
      out.push(`    Study ${visible(formatDate(st.studyDate))}  ${visible(st.studyDescription.trim()) || '(no description)'}  (${accession})`);
      out.push(`      ${plural(st.series.length, 'series', 'series')}, ${plural(instances, 'instance')}${series ? `: ${series}` : ''}`);
    }
  }
  return out;
}

function mediumLine(r: VerifyReport): string {
  const m = r.media;
  const facts = [`${visible(m.kind)}${m.label ? ` "${visible(m.label)}"` : ''}`, m.secure ? 'Secure DICOM files' : 'plain DICOM files', dicomdirWords(m.dicomdir), `${r.policy} policy`, `checked ${visible(formatTime(r.verifiedAt))}`];
  return `Medium: ${visible(m.path)} (${facts.join('; ')})`;
}

function summaryLine(r: VerifyReport): string {
  const s = r.summary;
  return [
    `Summary: ${plural(s.files, 'file')} (${s.dicomFiles} DICOM, ${s.secureFiles} secure, ${s.signedFiles} signed, ${s.trustedFiles} trusted);`,
    `${plural(s.patients, 'patient')}, ${plural(s.studies, 'study', 'studies')}, ${plural(s.series, 'series', 'series')}, ${plural(s.instances, 'instance')};`,
    `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${plural(s.infos, 'note')};`,
    `policy ${r.policy}: ${r.passed ? 'passed' : 'FAILED'}.`,
  ].join(' ');
}

export interface FormatOptions {
  /** Where --report wrote the HTML page, to say so on the last line. */
  reportPath?: string;
}

export function formatVerifyReport(r: VerifyReport, options: FormatOptions = {}): string {
  const out: string[] = [...wrap(headline(r))];
  if (signerInHeadline(r)) {
    const s = r.signers[0] as SignerReport;
    out.push(`  ${signingDetails(s)}`);
  } else {
    for (const s of r.signers) {
      out.push(...wrap(`  ${signerSentence(s)}`, LINE_WIDTH, '    '));
      out.push(`    ${signingDetails(s)}`);
    }
  }
  const dicomSignatures = dicomSignatureLine(r);
  if (dicomSignatures) out.push(...wrap(dicomSignatures, LINE_WIDTH, '    '));
  const warning = policyWarning(r);
  if (warning) out.push(...wrap(warning));
  out.push('', mediumLine(r), '', ...patientLines(r.patients), '', ...problemLines(r), '', summaryLine(r));
  if (r.extracted) {
    const e = r.extracted;
    out.push(`Verified files copied to ${visible(e.folder)}: ${plural(e.files, 'file')}${e.skipped ? `, ${e.skipped} left out (they failed the policy)` : ''}.`);
  }
  if (options.reportPath) out.push(`Report written to ${visible(options.reportPath)}.`);
  return out.join('\n');
}

/** DICOM Digital Signatures inside plain files (PS3.15 Annex C), summed up in one sentence. */
export function dicomSignatureLine(r: VerifyReport): string | undefined {
  const signed = r.files.filter((f) => (f.dicomSignatures?.length ?? 0) > 0);
  if (signed.length === 0) return undefined;
  const all = signed.flatMap((f) => f.dicomSignatures ?? []);
  const invalid = all.filter((s) => !s.valid).length;
  const partial = all.filter((s) => s.valid && s.uncoveredTags.length > 0).length;
  const algorithms = [...new Set(all.map((s) => s.macAlgorithm).filter(Boolean))].join(', ');
  const profiles = [...new Set(all.map((s) => s.profile).filter(Boolean))].join(', ');
  return (
    `  DICOM signatures inside the data sets: ${plural(signed.length, 'file')}, ${plural(all.length, 'signature')}` +
    `${invalid ? `, ${invalid} NOT valid` : ', all valid'}${partial ? `, ${partial} not covering every element` : ''}` +
    `${algorithms ? `; MAC ${algorithms}` : ''}${profiles ? `; profile ${profiles}` : ''}.`
  );
}

function signingDetails(s: SignerReport): string {
  const { first, last } = s.signingTimes;
  let when = '';
  if (first && last && first !== last) when = ` between ${visible(formatTime(first))} and ${visible(formatTime(last))}`;
  else if (first ?? last) when = ` on ${visible(formatTime((first ?? last) as string))}`;
  return `${plural(s.files, 'file')} signed${when}.`;
}
