/**
 * Import a medium from another hospital, or only verify it. The steps: the medium (a mounted
 * folder, a drive, an ISO, ZIP or image, and its password if it has one) → verifying, with progress
 * → the verdict in words and symbols (the verify-only flow stops here) → if the origin is not
 * proven, an explicit "import anyway?" → each patient reconciled to a local identity (picked from
 * the reconciliation map or typed in; a name or birth date that differs needs a `y`) → the PACS
 * node → a confirmation restating all of it → sending, with progress per instance → a summary of
 * what is on the PACS and what is not, with a retry that sends only what is missing (the journal).
 *
 * All work goes through DeskServices; the screens keep results in state and render from events.
 */
import { Box, Text, useInput } from 'ink';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { formatDate, formatPersonName, plural, visible } from '../report/verify-text.js';
import type { ImportEvent, ImportReport, ImportRequest, MapRow, PacsNode, VerifyEvent, VerifyReport } from './desk.js';
import type { FlowProps } from './flow.js';
import type { PatientReport } from '../pipelines/verify-report.js';
import type { ImportedInstance } from '../pipelines/import-media.js';
import { fit, Notice, ProgressBar, Screen, SelectList, TextField, tint, type KeyHint, useEscape } from './components.js';
import { FindingsList, LINE, patientInstances, patientWords, VERDICT_MARKS, verdictHeadline, VerdictView } from './verdict.js';

type Step =
  | { readonly kind: 'media' }
  | { readonly kind: 'verifying' }
  | { readonly kind: 'verdict' }
  | { readonly kind: 'findings' }
  | { readonly kind: 'untrusted' }
  | { readonly kind: 'map-loading' }
  | { readonly kind: 'reconcile'; readonly index: number }
  | { readonly kind: 'node' }
  | { readonly kind: 'confirm' }
  | { readonly kind: 'importing' }
  | { readonly kind: 'summary' }
  | { readonly kind: 'error'; readonly what: string; readonly message: string; readonly retry: () => void; readonly back: Step };

/** The local identity chosen for one patient of the medium, and whether a differing name or birth date was confirmed. */
interface Choice {
  readonly row: MapRow;
  readonly confirmed: boolean;
}

interface VerifyProgress {
  readonly file: string;
  readonly index: number;
  readonly total: number;
}

interface FinishedLine {
  readonly ok: boolean;
  readonly text: string;
}

interface ImportProgress {
  /** The import verifies the medium again before it sends anything. */
  readonly checking?: VerifyProgress;
  readonly instances?: number;
  readonly sendStartedMs: number;
  readonly stored: number;
  readonly failed: number;
  /** The last few instances finished (at most LAST_LINES). */
  readonly lines: readonly FinishedLine[];
  readonly retry?: string;
  readonly alerts: readonly string[];
}

const LAST_LINES = 5;
const NO_PROGRESS: ImportProgress = { sendStartedMs: 0, stored: 0, failed: 0, lines: [], alerts: [] };

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Calls `set` at most every `ms` (first and last value always), so a medium of 40 000 files does not render 40 000 times. */
function useThrottle<T>(set: (value: T) => void, ms = 50): { push: (value: T) => void; cancel: () => void } {
  const state = useRef<{ latest?: { value: T }; last: number; timer?: ReturnType<typeof setTimeout> }>({ last: 0 });
  const cancel = useCallback((): void => {
    const s = state.current;
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
  }, []);
  useEffect(() => cancel, [cancel]);
  const push = useCallback(
    (value: T): void => {
      const s = state.current;
      s.latest = { value };
      if (s.timer) return;
      const wait = s.last + ms - Date.now();
      if (wait <= 0) {
        s.last = Date.now();
        set(value);
      } else {
        s.timer = setTimeout(() => {
          s.timer = undefined;
          s.last = Date.now();
          if (s.latest) set(s.latest.value);
        }, wait);
      }
    },
    [set, ms],
  );
  return { push, cancel };
}

/** Names compared as people would: case, spaces and trailing ^ do not count. */
export function sameName(a: string, b: string): boolean {
  const key = (n: string): string =>
    n
      .split('=')
      .map((g) => g.replace(/\s+/g, '').replace(/\^+$/, ''))
      .join('=')
      .replace(/=+$/, '')
      .toUpperCase();
  return key(a) === key(b);
}

/** What differs between the medium's patient and the local identity given (only what both state). */
export function demographicsDiffer(p: PatientReport, local: MapRow['local']): boolean {
  const name = local.patientName?.trim() ?? '';
  const birth = local.birthDate?.trim() ?? '';
  const nameDiffers = name !== '' && p.patientName.trim() !== '' && !sameName(name, p.patientName);
  const birthDiffers = birth !== '' && p.birthDate.trim() !== '' && birth !== p.birthDate.trim();
  return nameDiffers || birthDiffers;
}

/** The strict comparison import itself makes (upper case, trailing ^ and spaces): true where it would refuse without a confirmation. */
function importWouldRefuse(p: PatientReport, local: MapRow['local']): boolean {
  const key = (n: string): string =>
    n
      .split('=')
      .map((g) => g.replace(/[\^\s]+$/, ''))
      .join('=')
      .replace(/=+$/, '')
      .trim()
      .toUpperCase();
  const nameDiffers = !!local.patientName && !!p.patientName && key(local.patientName) !== key(p.patientName);
  const birthDiffers = !!local.birthDate && !!p.birthDate && local.birthDate !== p.birthDate;
  return nameDiffers || birthDiffers;
}

function localWords(local: MapRow['local']): string {
  const parts = [`local ID ${visible(local.patientId)} (${visible(local.issuerOfPatientId)})`];
  if (local.patientName) parts.push(visible(formatPersonName(local.patientName)));
  if (local.birthDate) parts.push(`born ${visible(formatDate(local.birthDate))}`);
  return parts.join(' · ');
}

function nodeWords(n: PacsNode): string {
  return `${n.name}  ${n.calledAE}@${n.host}:${n.port}`;
}

function countInstances(r: VerifyReport): number {
  const fromPatients = r.patients.reduce((n, p) => n + patientInstances(p), 0);
  return fromPatients > 0 ? fromPatients : r.summary.instances || r.files.filter((f) => f.kind === 'dicom' || f.kind === 'secure').length;
}

export function ImportFlow(props: FlowProps & { readonly verifyOnly?: boolean }): ReactNode {
  const verifyOnly = props.verifyOnly === true;
  const now = props.now ?? Date.now;
  const desk = props.desk;
  const operator = props.operator.name;
  const prefix = verifyOnly ? 'Verify a medium' : 'Import';
  const of = (n: number, what: string): string => (verifyOnly ? `${prefix} · ${n} of 2 · ${what}` : `${prefix} · ${n} of 6 · ${what}`);

  const [step, setStep] = useState<Step>({ kind: 'media' });
  const [media, setMedia] = useState(() => desk.config().media?.drive ?? '');
  const [password, setPassword] = useState('');
  const [report, setReport] = useState<VerifyReport>();
  const [allowUntrusted, setAllowUntrusted] = useState(false);
  const [mapRows, setMapRows] = useState<readonly MapRow[]>();
  const [mapError, setMapError] = useState<string>();
  const [choices, setChoices] = useState<readonly (Choice | undefined)[]>([]);
  const [node, setNode] = useState<PacsNode>();
  const [result, setResult] = useState<ImportReport>();
  const [verifyProgress, setVerifyProgress] = useState<VerifyProgress>();
  const [importProgress, setImportProgress] = useState<ImportProgress>(NO_PROGRESS);
  const verifyStarted = useRef(0);
  // Each run of verify or import has a number; answers of an earlier one are dropped.
  const run = useRef(0);
  const verifyThrottle = useThrottle<VerifyProgress>(setVerifyProgress);
  const importThrottle = useThrottle<ImportProgress>(setImportProgress);

  const startVerify = (path: string, pw: string): void => {
    const id = ++run.current;
    setMedia(path);
    setPassword(pw);
    setVerifyProgress(undefined);
    verifyStarted.current = now();
    setStep({ kind: 'verifying' });
    Promise.resolve()
      .then(() =>
        desk.verify(path, pw === '' ? undefined : pw, (e: VerifyEvent) => {
          if (id === run.current) verifyThrottle.push({ file: e.file, index: e.index, total: e.total });
        }),
      )
      .then(
        (r) => {
          if (id !== run.current) return;
          verifyThrottle.cancel();
          setReport(r);
          setAllowUntrusted(false);
          setChoices([]);
          setStep({ kind: 'verdict' });
        },
        (e: unknown) => {
          if (id !== run.current) return;
          verifyThrottle.cancel();
          setStep({ kind: 'error', what: 'The medium could not be checked', message: messageOf(e), retry: () => startVerify(path, pw), back: { kind: 'media' } });
        },
      );
  };

  const toReconcile = (): void => {
    if (mapRows !== undefined) {
      setStep({ kind: 'reconcile', index: 0 });
      return;
    }
    setStep({ kind: 'map-loading' });
    Promise.resolve()
      .then(() => desk.reconcileMap())
      .then(
        (rows) => {
          setMapRows(rows);
          setMapError(undefined);
        },
        (e: unknown) => {
          setMapRows([]);
          setMapError(messageOf(e));
        },
      )
      .finally(() => setStep({ kind: 'reconcile', index: 0 }));
  };

  const request = (): ImportRequest | undefined => {
    if (!report || !node) return undefined;
    const rows = choices.filter((c): c is Choice => c !== undefined);
    const strictConflict = report.patients.some((p, i) => {
      const c = choices[i];
      return c !== undefined && importWouldRefuse(p, c.row.local);
    });
    return {
      media,
      ...(password !== '' ? { password } : {}),
      node: node.name,
      map: rows.map((c) => c.row),
      allowUntrusted,
      // Set when the clerk confirmed a difference; also when import's stricter comparison sees one the
      // clerk was not asked about (differences in spaces only), since the desk has checked those names.
      confirmDemographics: rows.some((c) => c.confirmed) || strictConflict,
    };
  };

  const startImport = (req: ImportRequest): void => {
    const id = ++run.current;
    let acc: ImportProgress = NO_PROGRESS;
    setImportProgress(NO_PROGRESS);
    setStep({ kind: 'importing' });
    const onEvent = (e: ImportEvent | VerifyEvent): void => {
      if (id !== run.current) return;
      switch (e.type) {
        case 'file-checked':
          acc = { ...acc, checking: { file: e.file, index: e.index, total: e.total } };
          break;
        case 'import-started':
          acc = { ...acc, instances: e.instances, sendStartedMs: now() };
          break;
        case 'instance-stored':
          acc = { ...acc, stored: acc.stored + 1, lines: [...acc.lines, { ok: true, text: `✔ stored  ${visible(e.file)}` }].slice(-LAST_LINES) };
          break;
        case 'instance-failed':
          acc = { ...acc, failed: acc.failed + 1, lines: [...acc.lines, { ok: false, text: `✖ FAILED  ${visible(e.file)}: ${visible(e.reason)}` }].slice(-LAST_LINES) };
          break;
        case 'retry':
          acc = { ...acc, retry: `! Connection to the PACS lost: trying again in ${Math.ceil(e.waitMs / 1000)} s (attempt ${e.attempt}): ${visible(e.reason)}` };
          break;
        case 'security-alert':
          acc = { ...acc, alerts: [...acc.alerts, `! SECURITY ALERT: ${visible(e.file)}: ${visible(e.reason)}`].slice(-2) };
          break;
        case 'import-finished':
          return;
      }
      importThrottle.push(acc);
    };
    Promise.resolve()
      .then(() => desk.importMedia(req, onEvent))
      .then(
        (r) => {
          if (id !== run.current) return;
          importThrottle.cancel();
          setResult(r);
          setStep({ kind: 'summary' });
        },
        (e: unknown) => {
          if (id !== run.current) return;
          importThrottle.cancel();
          setStep({ kind: 'error', what: 'The import stopped', message: messageOf(e), retry: () => startImport(req), back: { kind: 'confirm' } });
        },
      );
  };

  switch (step.kind) {
    case 'media':
      return <MediaStep title={of(1, 'Medium')} operator={operator} drive={desk.config().media?.drive} path={media} password={password} onStart={startVerify} onBack={props.home} />;
    case 'verifying':
      return (
        <Screen title={of(2, 'Checking')} operator={operator} keys={[{ key: '…', does: 'checking the medium, please wait' }]}>
          <Text>{fit(`Checking ${visible(media)}: every file is read and its signature checked…`, LINE)}</Text>
          <Text> </Text>
          {verifyProgress ? (
            <>
              <ProgressBar done={verifyProgress.index + 1} total={verifyProgress.total} startedMs={verifyStarted.current} nowMs={now()} unit="items" />
              <Text>{fit(`Now: ${visible(verifyProgress.file)}`, LINE)}</Text>
            </>
          ) : (
            <Text>Opening the medium…</Text>
          )}
        </Screen>
      );
    case 'verdict':
      return report ? <VerdictStep title={of(2, 'Verdict')} operator={operator} report={report} verifyOnly={verifyOnly} onFindings={() => setStep({ kind: 'findings' })} onHome={props.home} onBack={() => setStep({ kind: 'media' })} onNext={() => (report.verdict === 'trusted' ? toReconcile() : setStep({ kind: 'untrusted' }))} /> : null;
    case 'findings':
      return report ? <FindingsStep title={of(2, 'All findings')} operator={operator} report={report} onBack={() => setStep({ kind: 'verdict' })} /> : null;
    case 'untrusted':
      return report ? (
        <UntrustedStep
          title={of(2, 'Origin not proven')}
          operator={operator}
          report={report}
          onYes={() => {
            setAllowUntrusted(true);
            toReconcile();
          }}
          onNo={() => setStep({ kind: 'verdict' })}
        />
      ) : null;
    case 'map-loading':
      return (
        <Screen title={of(3, 'Patients')} operator={operator} keys={[{ key: '…', does: 'please wait' }]}>
          <Text>Reading the reconciliation map…</Text>
        </Screen>
      );
    case 'reconcile': {
      const patient = report?.patients[step.index];
      if (!report || !patient) return null;
      const previousIssuer = choices.slice(0, step.index).reverse().find((c) => c !== undefined)?.row.local.issuerOfPatientId ?? '';
      return (
        <ReconcileStep
          key={step.index}
          title={of(3, `Patient ${step.index + 1} of ${report.patients.length}`)}
          operator={operator}
          patient={patient}
          matches={(mapRows ?? []).filter((r) => r.foreignPatientId === patient.patientId)}
          mapError={mapError}
          previous={choices[step.index]}
          issuerHint={previousIssuer}
          onChosen={(c) => {
            const next = [...choices];
            next[step.index] = c;
            setChoices(next);
            setStep(step.index + 1 < report.patients.length ? { kind: 'reconcile', index: step.index + 1 } : { kind: 'node' });
          }}
          onBack={() => setStep(step.index > 0 ? { kind: 'reconcile', index: step.index - 1 } : { kind: 'verdict' })}
        />
      );
    }
    case 'node':
      return (
        <NodeStep
          title={of(4, 'PACS')}
          operator={operator}
          nodes={desk.config().pacs}
          current={node}
          onChosen={(n) => {
            setNode(n);
            setStep({ kind: 'confirm' });
          }}
          onBack={() => setStep({ kind: 'reconcile', index: Math.max(0, (report?.patients.length ?? 1) - 1) })}
        />
      );
    case 'confirm': {
      const req = request();
      if (!report || !node || !req) return null;
      return <ConfirmStep title={of(5, 'Check and import')} operator={operator} report={report} request={req} choices={choices} node={node} onImport={() => startImport(req)} onBack={() => setStep({ kind: 'node' })} />;
    }
    case 'importing':
      return <ImportingStep title={of(6, 'Sending')} operator={operator} node={node} progress={importProgress} nowMs={now()} />;
    case 'summary': {
      const req = request();
      return result ? <SummaryStep title={`${prefix} · Done`} operator={operator} result={result} onRetry={req ? () => startImport(req) : undefined} onHome={props.home} /> : null;
    }
    case 'error':
      return <ErrorStep title={`${prefix} · Problem`} operator={operator} what={step.what} message={step.message} onRetry={step.retry} onBack={() => setStep(step.back)} />;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The medium

function MediaStep(props: { readonly title: string; readonly operator: string; readonly drive?: string; readonly path: string; readonly password: string; readonly onStart: (path: string, password: string) => void; readonly onBack: () => void }): ReactNode {
  const [path, setPath] = useState(props.path);
  const [password, setPassword] = useState(props.password);
  const [focus, setFocus] = useState<'path' | 'password'>('path');
  const [problem, setProblem] = useState<string>();
  const latest = useRef({ path, password });
  latest.current = { path, password };
  const start = (): void => {
    const p = latest.current.path.trim();
    if (p === '') {
      setProblem('Type where the medium is first (a folder, a drive, or a file).');
      setFocus('path');
      return;
    }
    props.onStart(p, latest.current.password);
  };
  useInput((_input, key) => {
    if (key.escape) props.onBack();
    else if (key.tab) setFocus((f) => (f === 'path' ? 'password' : 'path'));
  });
  return (
    <Screen
      title={props.title}
      operator={props.operator}
      keys={[
        { key: 'Enter', does: 'check the medium' },
        { key: 'Tab', does: 'next field' },
        { key: 'Ctrl+U', does: 'clear field' },
        { key: 'Esc', does: 'back' },
      ]}
    >
      <Text bold>Where is the medium from the other hospital?</Text>
      <Text> </Text>
      <TextField
        label="Path"
        value={path}
        onChange={(v) => {
          latest.current.path = v;
          setPath(v);
          setProblem(undefined);
        }}
        onSubmit={start}
        active={focus === 'path'}
        placeholder="/media/cdrom, /dev/sr0, or a .iso, .zip or .img file"
      />
      <Text>Accepted: a mounted disc or USB stick folder, a disc drive such as /dev/sr0,</Text>
      <Text>or an .iso, .zip or .img file.</Text>
      {props.drive ? <Text>{fit(`The disc in ${props.drive} is filled in; Ctrl+U clears it to type another path.`, LINE)}</Text> : null}
      <Text> </Text>
      <Text>Password (from the patient letter, if the medium is password-protected):</Text>
      <TextField
        label="Password"
        mask
        value={password}
        onChange={(v) => {
          latest.current.password = v;
          setPassword(v);
        }}
        onSubmit={start}
        active={focus === 'password'}
        placeholder="leave empty if there is none"
      />
      {problem ? (
        <>
          <Text> </Text>
          <Notice kind="warning">{problem}</Notice>
        </>
      ) : null}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// 2. The verdict, the findings, and the confirmation when the origin is not proven

function VerdictStep(props: { readonly title: string; readonly operator: string; readonly report: VerifyReport; readonly verifyOnly: boolean; readonly onFindings: () => void; readonly onHome: () => void; readonly onBack: () => void; readonly onNext: () => void }): ReactNode {
  const r = props.report;
  const importable = r.verdict !== 'unreadable' && r.patients.length > 0;
  useInput((input, key) => {
    if (input === 'f') props.onFindings();
    else if (props.verifyOnly && (key.return || key.escape)) props.onHome();
    else if (key.escape) props.onBack();
    else if (key.return) {
      if (importable) props.onNext();
      else props.onBack();
    }
  });
  const keys: KeyHint[] = props.verifyOnly
    ? [
        { key: 'Enter', does: 'done' },
        { key: 'f', does: 'all findings' },
        { key: 'Esc', does: 'home' },
      ]
    : [
        { key: 'Enter', does: importable ? 'next: the patients' : 'choose another medium' },
        { key: 'f', does: 'all findings' },
        { key: 'Esc', does: 'back' },
      ];
  return (
    <Screen title={props.title} operator={props.operator} keys={keys}>
      <VerdictView report={r} budget={props.verifyOnly || importable ? 16 : 15} />
      {!props.verifyOnly && !importable ? (
        <Notice kind="error">{r.verdict === 'unreadable' ? 'This medium cannot be imported.' : 'There is no patient data on this medium to import.'}</Notice>
      ) : null}
    </Screen>
  );
}

function FindingsStep(props: { readonly title: string; readonly operator: string; readonly report: VerifyReport; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  return (
    <Screen
      title={props.title}
      operator={props.operator}
      keys={[
        { key: '↑/↓ PgUp/PgDn', does: 'scroll' },
        { key: 'Esc', does: 'back to the verdict' },
      ]}
    >
      <FindingsList findings={props.report.findings} rows={14} />
    </Screen>
  );
}

function UntrustedStep(props: { readonly title: string; readonly operator: string; readonly report: VerifyReport; readonly onYes: () => void; readonly onNo: () => void }): ReactNode {
  useInput((input, key) => {
    if (input === 'y' || input === 'Y') props.onYes();
    else if (input === 'n' || input === 'N' || key.escape || key.return) props.onNo();
  });
  return (
    <Screen
      title={props.title}
      operator={props.operator}
      keys={[
        { key: 'y', does: 'yes, import anyway' },
        { key: 'n / Enter / Esc', does: 'no, back to the verdict' },
      ]}
    >
      <Text bold color={tint(VERDICT_MARKS[props.report.verdict].color)}>
        {fit(verdictHeadline(props.report), LINE)}
      </Text>
      <Text> </Text>
      <Notice kind="warning">The origin of these files is not proven: no trusted signature shows which hospital made them.</Notice>
      <Text>Import only if you know where the medium came from (who gave it, which hospital).</Text>
      <Text> </Text>
      <Text bold>The origin of these files is not proven. Import anyway? y/N</Text>
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// 3. Reconcile each patient to a local identity

type Field = 'id' | 'issuer' | 'name' | 'birth';
const FIELDS: readonly Field[] = ['id', 'issuer', 'name', 'birth'];

function ReconcileStep(props: {
  readonly title: string;
  readonly operator: string;
  readonly patient: PatientReport;
  readonly matches: readonly MapRow[];
  readonly mapError?: string;
  readonly previous?: Choice;
  readonly issuerHint: string;
  readonly onChosen: (choice: Choice) => void;
  readonly onBack: () => void;
}): ReactNode {
  const p = props.patient;
  const typedBefore = props.previous && !props.matches.includes(props.previous.row) ? props.previous.row.local : undefined;
  const [mode, setMode] = useState<'pick' | 'type' | 'warn'>(props.matches.length > 0 && !typedBefore ? 'pick' : 'type');
  const [from, setFrom] = useState<'pick' | 'type'>('pick');
  const [pending, setPending] = useState<MapRow>();
  const [values, setValues] = useState<Record<Field, string>>({
    id: typedBefore?.patientId ?? '',
    issuer: typedBefore?.issuerOfPatientId ?? props.issuerHint,
    name: typedBefore?.patientName ?? '',
    birth: typedBefore?.birthDate ?? '',
  });
  const latest = useRef(values);
  latest.current = values;
  const [focus, setFocus] = useState<Field>('id');
  const [problem, setProblem] = useState<string>();

  const choose = (row: MapRow, origin: 'pick' | 'type'): void => {
    if (demographicsDiffer(p, row.local)) {
      setPending(row);
      setFrom(origin);
      setMode('warn');
    } else props.onChosen({ row, confirmed: false });
  };
  const submit = (): void => {
    const v = latest.current;
    const id = v.id.trim();
    const issuer = v.issuer.trim();
    const name = v.name.trim();
    const birth = v.birth.trim();
    if (id === '') return fail('Type the local Patient ID.', 'id');
    if (issuer === '') return fail('Type the Issuer of Patient ID (the local ID system, e.g. the hospital name).', 'issuer');
    if (name !== '' && !/^[^\\]+$/.test(name)) return fail('The name cannot hold a backslash; write it as FAMILY^GIVEN.', 'name');
    if (birth !== '' && !validDate(birth)) return fail('Type the birth date as YYYYMMDD, e.g. 19700131, or leave it empty.', 'birth');
    choose(
      {
        foreignPatientId: p.patientId,
        foreignIssuer: '',
        local: { patientId: id, issuerOfPatientId: issuer, ...(name ? { patientName: name } : {}), ...(birth ? { birthDate: birth } : {}) },
      },
      'type',
    );
  };
  const fail = (message: string, field: Field): void => {
    setProblem(message);
    setFocus(field);
  };

  useInput((input, key) => {
    if (mode === 'warn') {
      if ((input === 'y' || input === 'Y') && pending) props.onChosen({ row: pending, confirmed: true });
      else if (input === 'n' || input === 'N' || key.escape) {
        setMode(from);
        setPending(undefined);
      }
      return;
    }
    if (key.escape) {
      if (mode === 'type' && props.matches.length > 0) setMode('pick');
      else props.onBack();
    } else if (mode === 'type' && key.tab) {
      const i = FIELDS.indexOf(focus);
      setFocus(FIELDS[(i + (key.shift ? FIELDS.length - 1 : 1)) % FIELDS.length] as Field);
    }
  });

  const keys: KeyHint[] =
    mode === 'warn'
      ? [
          { key: 'y', does: 'yes, the same person' },
          { key: 'n / Esc', does: 'no, change it' },
        ]
      : mode === 'pick'
        ? [
            { key: '↑/↓', does: 'move' },
            { key: 'Enter', does: 'choose' },
            { key: 'Esc', does: 'back' },
          ]
        : [
            { key: 'Enter', does: 'use this identity' },
            { key: 'Tab', does: 'next field' },
            { key: 'Esc', does: 'back' },
          ];
  const field = (f: Field, label: string, placeholder: string): ReactNode => (
    <TextField
      label={label}
      value={values[f]}
      onChange={(v) => {
        latest.current = { ...latest.current, [f]: v };
        setValues(latest.current);
        setProblem(undefined);
      }}
      onSubmit={submit}
      active={mode === 'type' && focus === f}
      placeholder={placeholder}
    />
  );
  const studies = p.studies.length;
  return (
    <Screen title={props.title} operator={props.operator} keys={keys}>
      <Text>On the medium:</Text>
      <Text bold>{fit(`  ${patientWords(p)}`, LINE)}</Text>
      <Text>{fit(`  ${plural(studies, 'study', 'studies')}, ${plural(patientInstances(p), 'instance')}`, LINE)}</Text>
      <Text> </Text>
      {mode === 'warn' && pending ? (
        <>
          <Notice kind="warning">{`name/birth date differ: ${visible(formatPersonName(p.patientName))}, born ${visible(formatDate(p.birthDate))} vs ${pending.local.patientName ? visible(formatPersonName(pending.local.patientName)) : '(no name given)'}, born ${pending.local.birthDate ? visible(formatDate(pending.local.birthDate)) : '(not given)'} — same person?`}</Notice>
          <Text> </Text>
          <Text>Check with the patient or the letter. Press y only if it is the same person.</Text>
        </>
      ) : mode === 'pick' ? (
        <>
          <Text bold>Choose the local identity (from the reconciliation map):</Text>
          <SelectList<MapRow | 'type'> items={[...props.matches.map((r) => ({ label: localWords(r.local), value: r as MapRow | 'type' })), { label: 'Type a local Patient ID instead…', value: 'type' as const }]} rows={8} onSelect={(v) => (v === 'type' ? setMode('type') : choose(v, 'pick'))} />
        </>
      ) : (
        <>
          {props.mapError ? <Notice kind="warning">{fit(`the reconciliation map cannot be read (${props.mapError}): type the local identity.`, LINE * 2 - 12)}</Notice> : props.matches.length === 0 ? <Text>{fit(`The reconciliation map has no row for ID ${visible(p.patientId) || '(none)'}: type the local identity.`, LINE)}</Text> : <Text>Type the local identity:</Text>}
          {field('id', 'Local Patient ID', 'required')}
          {field('issuer', 'Issuer of Patient ID', 'required, e.g. the hospital')}
          {field('name', 'Local name', 'optional, FAMILY^GIVEN')}
          {field('birth', 'Birth date', 'optional, YYYYMMDD')}
          {problem ? <Notice kind="warning">{problem}</Notice> : null}
        </>
      )}
    </Screen>
  );
}

function validDate(da: string): boolean {
  if (!/^\d{8}$/.test(da)) return false;
  const d = new Date(Date.UTC(Number(da.slice(0, 4)), Number(da.slice(4, 6)) - 1, Number(da.slice(6, 8))));
  return d.toISOString().slice(0, 10).replace(/-/g, '') === da;
}

// ---------------------------------------------------------------------------------------------
// 4. The PACS node

function NodeStep(props: { readonly title: string; readonly operator: string; readonly nodes: readonly PacsNode[]; readonly current?: PacsNode; readonly onChosen: (node: PacsNode) => void; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  const empty = props.nodes.length === 0;
  return (
    <Screen title={props.title} operator={props.operator} keys={empty ? [{ key: 'Esc', does: 'back' }] : [{ key: '↑/↓', does: 'move' }, { key: 'Enter', does: 'send to this PACS' }, { key: 'Esc', does: 'back' }]}>
      {empty ? (
        <Notice kind="error">No PACS is configured, so nothing can be imported yet. Ask an administrator to add one in Settings.</Notice>
      ) : (
        <>
          <Text bold>Which PACS should the images go to?</Text>
          <Text> </Text>
          <SelectList items={props.nodes.map((n) => ({ label: nodeWords(n), value: n, note: n.tls ? '✔ TLS' : '! NOT encrypted' }))} rows={12} onSelect={props.onChosen} />
        </>
      )}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// 5. The confirmation

function ConfirmStep(props: { readonly title: string; readonly operator: string; readonly report: VerifyReport; readonly request: ImportRequest; readonly choices: readonly (Choice | undefined)[]; readonly node: PacsNode; readonly onImport: () => void; readonly onBack: () => void }): ReactNode {
  useInput((_input, key) => {
    if (key.return) props.onImport();
    else if (key.escape) props.onBack();
  });
  const r = props.report;
  const shown = r.patients.length > 5 ? 4 : 5;
  return (
    <Screen
      title={props.title}
      operator={props.operator}
      keys={[
        { key: 'Enter', does: 'import now' },
        { key: 'Esc', does: 'back' },
      ]}
    >
      <Text bold>Please check before the images are sent:</Text>
      <Text> </Text>
      <Text>{fit(`Medium:     ${visible(props.request.media)}${props.request.password ? ' (with its password)' : ''}`, LINE)}</Text>
      <Text>Patients:</Text>
      {r.patients.slice(0, shown).map((p, i) => {
        const c = props.choices[i];
        return (
          <Text key={i}>
            {fit(`  ${visible(formatPersonName(p.patientName))} (ID ${visible(p.patientId) || 'none'}) → ${c ? `local ID ${visible(c.row.local.patientId)} (${visible(c.row.local.issuerOfPatientId)})${c.confirmed ? ', ! differing name/birth date confirmed' : ''}` : '(not reconciled)'}`, LINE)}
          </Text>
        );
      })}
      {r.patients.length > shown ? <Text>{`  … and ${r.patients.length - shown} more patients`}</Text> : null}
      <Text>{fit(`PACS:       ${nodeWords(props.node)} (${props.node.tls ? '✔ TLS' : '! NOT encrypted'})`, LINE)}</Text>
      <Text>{`Instances:  ${countInstances(r)}`}</Text>
      {props.request.allowUntrusted ? (
        <>
          <Text> </Text>
          <Notice kind="warning">The origin of these files is not proven; you chose to import them anyway.</Notice>
        </>
      ) : null}
      <Text> </Text>
      <Text>Press Enter to send them to the PACS, or Esc to change something.</Text>
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// 6. Sending

function ImportingStep(props: { readonly title: string; readonly operator: string; readonly node?: PacsNode; readonly progress: ImportProgress; readonly nowMs: number }): ReactNode {
  const p = props.progress;
  const sending = p.instances !== undefined;
  return (
    <Screen title={props.title} operator={props.operator} keys={[{ key: '…', does: 'sending, please wait (a stop here is safe: a retry sends what is missing)' }]}>
      <Text>{fit(`To ${props.node ? nodeWords(props.node) : 'the PACS'}`, LINE)}</Text>
      <Text> </Text>
      {!sending ? (
        <>
          <Text bold>Checking again before sending…</Text>
          {p.checking ? <Text>{fit(`${p.checking.index + 1} of ${p.checking.total} files: ${visible(p.checking.file)}`, LINE)}</Text> : null}
        </>
      ) : (
        <>
          <ProgressBar done={p.stored + p.failed} total={p.instances ?? 0} startedMs={p.sendStartedMs} nowMs={props.nowMs} unit="items" />
          <Text>
            <Text color={tint('green')}>{`✔ stored ${p.stored}`}</Text>
            {'   '}
            <Text color={p.failed ? tint('red') : undefined}>{`✖ failed ${p.failed}`}</Text>
            {`   of ${p.instances ?? 0}`}
          </Text>
          <Text> </Text>
          {p.lines.map((l, i) => (
            <Text key={i} color={l.ok ? undefined : tint('red')}>
              {fit(l.text, LINE)}
            </Text>
          ))}
        </>
      )}
      {p.retry ? <Text color={tint('yellow')}>{fit(p.retry, LINE)}</Text> : null}
      {p.alerts.map((a, i) => (
        <Text key={`a${i}`} color={tint('red')}>
          {fit(a, LINE)}
        </Text>
      ))}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// 7. The summary

/** Reasons grouped, most frequent first: `412 × origin not proven…`. */
function reasonLines(items: readonly ImportedInstance[], max: number): string[] {
  const counts = new Map<string, number>();
  for (const i of items) {
    const reason = visible(i.reason ?? 'no reason given');
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  const lines = sorted.slice(0, max).map(([reason, n]) => fit(`    ${n} × ${reason}`, LINE));
  if (sorted.length > max) lines.push(`    … and ${sorted.length - max} other reasons`);
  return lines;
}

function SummaryStep(props: { readonly title: string; readonly operator: string; readonly result: ImportReport; readonly onRetry?: () => void; readonly onHome: () => void }): ReactNode {
  const r = props.result;
  const missing = r.failed.length;
  const canRetry = props.onRetry !== undefined && (r.exitCode === 4 || missing > 0);
  useInput((input, key) => {
    if (key.return || key.escape) props.onHome();
    else if ((input === 'r' || input === 'R') && canRetry) props.onRetry?.();
  });
  const notSent = r.skipped.length + r.notPatientData.length;
  const headline =
    r.exitCode === 0
      ? { text: '✔ Every instance is on the PACS.', color: 'green' }
      : r.exitCode === 4 || missing > 0
        ? { text: `✖ ${plural(missing, 'instance is', 'instances are')} NOT on the PACS.`, color: 'red' }
        : { text: `! ${plural(notSent, 'instance was', 'instances were')} not sent: the verification held them back.`, color: 'yellow' };
  const keys: KeyHint[] = [{ key: 'Enter', does: 'done' }, ...(canRetry ? [{ key: 'r', does: 'try the failed ones again' }] : []), { key: 'Esc', does: 'home' }];
  return (
    <Screen title={props.title} operator={props.operator} keys={keys}>
      <Text bold color={tint(headline.color)}>
        {fit(headline.text, LINE)}
      </Text>
      <Text>{fit(`Sent to ${visible(r.destination)}`, LINE)}</Text>
      <Text> </Text>
      <Text>{`✔ Stored now:            ${r.stored.length}`}</Text>
      <Text>{`✔ Already on the PACS:   ${r.alreadyStored.length}${r.alreadyStored.length ? ' (sent by an earlier run)' : ''}`}</Text>
      <Text>{`${r.skipped.length ? '!' : ' '} Not sent:              ${r.skipped.length}`}</Text>
      {reasonLines(r.skipped, 2).map((l, i) => (
        <Text key={`s${i}`}>{l}</Text>
      ))}
      {r.notPatientData.length ? <Text>{`i Not patient data:      ${r.notPatientData.length} (not part of a patient import)`}</Text> : null}
      <Text color={missing ? tint('red') : undefined}>{`${missing ? '✖' : ' '} Failed:                ${missing}`}</Text>
      {reasonLines(r.failed, 3).map((l, i) => (
        <Text key={`f${i}`} color={tint('red')}>
          {l}
        </Text>
      ))}
      {canRetry ? (
        <>
          <Text> </Text>
          <Text>Press r to try again: only what is not on the PACS yet is sent.</Text>
        </>
      ) : null}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// Errors from the desk

function ErrorStep(props: { readonly title: string; readonly operator: string; readonly what: string; readonly message: string; readonly onRetry: () => void; readonly onBack: () => void }): ReactNode {
  useInput((_input, key) => {
    if (key.return) props.onRetry();
    else if (key.escape) props.onBack();
  });
  return (
    <Screen
      title={props.title}
      operator={props.operator}
      keys={[
        { key: 'Enter', does: 'try again' },
        { key: 'Esc', does: 'back' },
      ]}
    >
      <Box flexDirection="column" width={LINE}>
        <Notice kind="error">{`${props.what}: ${visible(props.message).slice(0, 600)}`}</Notice>
      </Box>
      <Text> </Text>
      <Text>Press Enter to try again, or Esc to go back.</Text>
    </Screen>
  );
}
