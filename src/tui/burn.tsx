/**
 * The front desk's Burn flow: pick a source folder, the one patient the medium is for and their
 * studies, the medium (with a capacity gauge), the protection; then a confirmation screen that
 * restates who and what (the wrong-patient check), the writing with progress, and the result: the
 * image and its SHA-256, the label, the generated password (shown once), and the burn on the drive.
 * All work goes through DeskServices; this file only holds state and renders.
 */
import { Box, Text, useInput } from 'ink';
import { useRef, useState, type ReactNode } from 'react';
import { CapacityGauge, fit, formatBytes, isoDate, Notice, personName, ProgressBar, Screen, SelectList, TextField, tint, WIDTH, type KeyHint, type ListItem, useEscape } from './components.js';
import type { BurnOutput, BurnRequest, BurnResult, Config, CreateEvent, DeskServices, Estimate, MediumChoice, Protection, SourcePatient, SourceScan, SourceStudy } from './desk.js';
import type { FlowProps } from './flow.js';
import { plural } from '../report/verify-text.js';

// ---------------------------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------------------------

interface Picked {
  readonly scan: SourceScan;
  readonly patient: SourcePatient;
}
interface Chosen extends Picked {
  readonly studies: readonly SourceStudy[];
}
interface Placed extends Chosen {
  readonly medium: MediumChoice;
  readonly stickFolder?: string;
}
interface Ready extends Placed {
  readonly protection: Protection;
}

interface BurnProgress {
  readonly checked: number;
  readonly toCheck: number;
  readonly planned: boolean;
  readonly volumes: number;
  readonly volume: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly startedMs: number;
  readonly written: readonly { readonly volume: number; readonly output: string; readonly bytes: number }[];
}

/** The result as kept once the password has been shown: the password is gone from it. */
type ShownResult = Omit<BurnResult, 'password'>;

interface Done extends Ready {
  readonly result: ShownResult;
  /** Outputs already burned on the drive (indexes). */
  readonly burned: readonly number[];
}

type Step =
  | { readonly kind: 'source'; readonly typing: boolean }
  | { readonly kind: 'scanning'; readonly folder: string; readonly done: number; readonly total: number }
  | { readonly kind: 'scan-error'; readonly folder: string; readonly message: string }
  | ({ readonly kind: 'patient' } & { readonly scan: SourceScan })
  | ({ readonly kind: 'studies'; readonly previous?: readonly SourceStudy[] } & Picked)
  | ({ readonly kind: 'medium' } & Chosen)
  | ({ readonly kind: 'stick' } & Chosen)
  | ({ readonly kind: 'protection'; readonly previous?: Protection } & Placed)
  | ({ readonly kind: 'confirm' } & Ready)
  | ({ readonly kind: 'burning'; readonly progress: BurnProgress } & Ready)
  | ({ readonly kind: 'burn-error'; readonly message: string } & Ready)
  | ({ readonly kind: 'password'; readonly password: string; readonly result: ShownResult } & Ready)
  | ({ readonly kind: 'result' } & Done)
  | ({ readonly kind: 'drive-confirm'; readonly index: number } & Done)
  | ({ readonly kind: 'driving'; readonly index: number; readonly lines: readonly string[] } & Done)
  | ({ readonly kind: 'drive-done'; readonly index: number; readonly lines: readonly string[]; readonly error?: string } & Done);

const BODY_WIDTH = WIDTH - 2;

const MEDIA: readonly { readonly value: MediumChoice; readonly label: string; readonly note: string }[] = [
  { value: 'cd', label: 'CD', note: '(700 MB disc image)' },
  { value: 'dvd', label: 'DVD', note: '(4.7 GB disc image)' },
  { value: 'usb', label: 'USB stick', note: '(a mounted stick folder)' },
  { value: 'usb-image', label: 'USB image', note: '(an image file to copy onto a stick)' },
  { value: 'zip', label: 'ZIP', note: '(a ZIP file, e.g. for upload)' },
];

function mediumName(medium: MediumChoice, stickFolder?: string): string {
  switch (medium) {
    case 'cd':
      return 'CD';
    case 'dvd':
      return 'DVD';
    case 'usb':
      return `USB stick at ${stickFolder ?? '(no folder)'}`;
    case 'usb-image':
      return 'USB image';
    case 'zip':
      return 'ZIP file';
  }
}

function mediaCount(medium: MediumChoice, n: number): string {
  const one = { cd: 'CD', dvd: 'DVD', usb: 'USB stick', 'usb-image': 'USB image', zip: 'ZIP file' }[medium];
  return n === 1 ? `1 ${one}` : `${n} ${one}s (each a complete DICOM File-set)`;
}

function isDisc(medium: MediumChoice): boolean {
  return medium === 'cd' || medium === 'dvd';
}

function protectionText(p: Protection): string {
  const parts = [...(p.recipient ? [`encrypted for ${p.recipient}`] : []), ...(p.password ? ['password for the patient'] : [])];
  return parts.length === 0 ? 'none: plain IHE PDI, opens in any viewer' : parts.join(' + ');
}

function encrypted(p: Protection): boolean {
  return p.recipient !== undefined || p.password;
}

/** Whether the files will be signed, in words and a symbol. */
function signingNotice(p: Protection, config: Config): { kind: 'ok' | 'warning' | 'info'; text: string } {
  if (!encrypted(p)) return { kind: 'info', text: 'Not signed: plain media are never signed in this release' };
  if (config.signing) return { kind: 'ok', text: `Signed by the institution key${config.institution ? ` (${config.institution.name})` : ''}` };
  return { kind: 'warning', text: 'Not signed: no signing key configured' };
}

function sexText(sex: string): string {
  const words: Record<string, string> = { M: 'M (male)', F: 'F (female)', O: 'O (other)' };
  return words[sex] ?? (sex || '(unknown)');
}

function patientLine(p: SourcePatient): string {
  return `${personName(p.name)} · ID ${p.id || '(none)'} · born ${isoDate(p.birthDate)} · ${plural(p.studies.length, 'study', 'studies')}`;
}

/** A study on one line: date, modalities, description, instances, size (the description gives way). */
function studyLine(s: SourceStudy, width: number): string {
  const head = `${isoDate(s.date).padEnd(10)}  ${fit(s.modalities.join('/') || '—', 11).padEnd(11)}  `;
  const tail = `  ${plural(s.instances, 'image')} · ${formatBytes(s.bytes)}`;
  const room = Math.max(8, width - head.length - tail.length);
  return `${head}${fit(s.description || '(no description)', room).padEnd(room)}${tail}`;
}

function safeEstimate(desk: DeskServices, studies: readonly SourceStudy[], medium: MediumChoice, protection: Protection): Estimate | Error {
  try {
    return desk.estimate(studies, medium, protection);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

function readyOf(s: Ready): Ready {
  return { scan: s.scan, patient: s.patient, studies: s.studies, medium: s.medium, ...(s.stickFolder ? { stickFolder: s.stickFolder } : {}), protection: s.protection };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function startProgress(now: number): BurnProgress {
  return { checked: 0, toCheck: 0, planned: false, volumes: 1, volume: 1, bytesDone: 0, bytesTotal: 0, startedMs: now, written: [] };
}

function advance(p: BurnProgress, e: CreateEvent, now: number): BurnProgress {
  switch (e.type) {
    case 'collected':
      return { ...p, toCheck: e.files };
    case 'scanned':
      return { ...p, checked: e.index + 1, toCheck: e.total };
    case 'planned':
      return { ...p, planned: true, volumes: e.volumes, bytesTotal: p.bytesTotal || e.bytes, startedMs: now };
    case 'progress':
      return { ...p, planned: true, volume: e.volume, bytesDone: e.bytesDone, bytesTotal: e.bytesTotal, startedMs: e.volume !== p.volume ? now : p.startedMs };
    case 'wrote-volume':
      return { ...p, written: [...p.written, { volume: e.volume, output: e.output, bytes: e.bytes }] };
    case 'done':
      return p;
  }
}

/** Esc (or other keys) for a step, only while it is shown. */
function useKeys(handler: (input: string, key: { escape: boolean; return: boolean }) => void, active = true): void {
  useInput((input, key) => handler(input, key), { isActive: active });
}

// ---------------------------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------------------------

export function BurnFlow(props: FlowProps): ReactNode {
  const { desk } = props;
  const now = (): number => (props.now ?? Date.now)();
  const [step, setStep] = useState<Step>({ kind: 'source', typing: false });
  // A scan left with Esc is forgotten: its answer is dropped when it comes.
  const scanRun = useRef(0);
  // One burn per confirmation, even when Enter is pressed twice before the screen changes.
  const busy = useRef(false);
  const config = desk.config();
  const frame = { operator: props.operator.name };

  const scan = (folder: string): void => {
    const run = ++scanRun.current;
    setStep({ kind: 'scanning', folder, done: 0, total: 0 });
    desk
      .scanSource(folder, (done, total) => {
        if (scanRun.current === run) setStep((s) => (s.kind === 'scanning' ? { ...s, done, total } : s));
      })
      .then(
        (result) => {
          if (scanRun.current === run) setStep({ kind: 'patient', scan: result });
        },
        (e: unknown) => {
          if (scanRun.current === run) setStep({ kind: 'scan-error', folder, message: message(e) });
        },
      );
  };

  const burn = (from: Ready): void => {
    if (busy.current) return;
    busy.current = true;
    // Only the choices: the step's own fields (its kind) must not ride along into the next steps.
    const ready: Ready = readyOf(from);
    const request: BurnRequest = {
      patient: ready.patient,
      studies: ready.studies,
      medium: ready.medium,
      protection: ready.protection,
      ...(ready.medium === 'usb' && ready.stickFolder ? { stickFolder: ready.stickFolder } : {}),
    };
    setStep({ ...ready, kind: 'burning', progress: startProgress(now()) });
    desk
      .burn(request, (event) => {
        const at = now();
        setStep((s) => (s.kind === 'burning' ? { ...s, progress: advance(s.progress, event, at) } : s));
      })
      .then(
        (result) => {
          busy.current = false;
          const { password, ...rest } = result;
          setStep(password ? { ...ready, kind: 'password', password, result: rest } : { ...ready, kind: 'result', result: rest, burned: [] });
        },
        (e: unknown) => {
          busy.current = false;
          setStep({ ...ready, kind: 'burn-error', message: message(e) });
        },
      );
  };

  const burnOnDrive = (done: Done, index: number): void => {
    const image = done.result.outputs[index]?.path;
    if (!image || busy.current) return;
    busy.current = true;
    setStep({ ...done, kind: 'driving', index, lines: [] });
    desk
      .burnToDrive(image, (line) => setStep((s) => (s.kind === 'driving' ? { ...s, lines: [...s.lines, line].slice(-5) } : s)))
      .then(
        () => {
          busy.current = false;
          setStep((s) => (s.kind === 'driving' ? { ...s, kind: 'drive-done', burned: [...s.burned, index] } : s));
        },
        (e: unknown) => {
          busy.current = false;
          setStep((s) => (s.kind === 'driving' ? { ...s, kind: 'drive-done', error: message(e) } : s));
        },
      );
  };

  const doneOf = (s: Done): Done => ({ ...readyOf(s), result: s.result, burned: s.burned });

  switch (step.kind) {
    case 'source':
      return (
        <SourceStep
          {...frame}
          inbox={config.inbox}
          typing={step.typing}
          onType={() => setStep({ kind: 'source', typing: true })}
          onFolder={scan}
          onBack={() => (step.typing ? setStep({ kind: 'source', typing: false }) : props.home())}
        />
      );
    case 'scanning':
      return (
        <ScanningStep
          {...frame}
          step={step}
          onBack={() => {
            scanRun.current++;
            setStep({ kind: 'source', typing: false });
          }}
        />
      );
    case 'scan-error':
      return (
        <ErrorStep {...frame} title="Burn media · 1 of 6: source" what={`Could not read ${step.folder}`} message={step.message} back="choose another folder" onBack={() => setStep({ kind: 'source', typing: false })} />
      );
    case 'patient':
      return <PatientStep {...frame} scan={step.scan} onPick={(patient) => setStep({ kind: 'studies', scan: step.scan, patient })} onBack={() => setStep({ kind: 'source', typing: false })} />;
    case 'studies':
      return (
        <StudiesStep
          {...frame}
          step={step}
          onPick={(studies) => setStep({ kind: 'medium', scan: step.scan, patient: step.patient, studies })}
          onBack={() => setStep({ kind: 'patient', scan: step.scan })}
        />
      );
    case 'medium':
      return (
        <MediumStep
          {...frame}
          desk={desk}
          chosen={step}
          onPick={(medium) => setStep(medium === 'usb' ? { ...step, kind: 'stick' } : { ...step, kind: 'protection', medium })}
          onBack={() => setStep({ kind: 'studies', scan: step.scan, patient: step.patient, previous: step.studies })}
        />
      );
    case 'stick':
      return <StickStep {...frame} onFolder={(stickFolder) => setStep({ ...step, kind: 'protection', medium: 'usb', stickFolder })} onBack={() => setStep({ ...step, kind: 'medium' })} />;
    case 'protection':
      return (
        <ProtectionStep
          {...frame}
          config={config}
          previous={step.previous}
          onPick={(protection) => setStep({ ...step, kind: 'confirm', protection })}
          onBack={() => {
            const { scan: s, patient, studies } = step;
            setStep(step.medium === 'usb' ? { kind: 'stick', scan: s, patient, studies } : { kind: 'medium', scan: s, patient, studies });
          }}
        />
      );
    case 'confirm':
      return (
        <ConfirmStep
          {...frame}
          desk={desk}
          config={config}
          ready={step}
          onBurn={() => burn(step)}
          onBack={() => {
            const { protection, ...placed } = step;
            setStep({ ...placed, kind: 'protection', previous: protection });
          }}
        />
      );
    case 'burning':
      return <BurningStep {...frame} step={step} nowMs={now()} />;
    case 'burn-error':
      return (
        <ErrorStep
          {...frame}
          title="Burn media · writing"
          what="The medium could not be made"
          message={step.message}
          back="back to the check screen"
          onBack={() => {
            const { message: _m, ...ready } = step;
            setStep({ ...ready, kind: 'confirm' });
          }}
        />
      );
    case 'password':
      return (
        <PasswordStep
          {...frame}
          password={step.password}
          letterFile={step.result.letterFile}
          onHide={() => {
            // The password goes with this state: nothing keeps it once Enter is pressed.
            setStep({ ...readyOf(step), kind: 'result', result: step.result, burned: [] });
          }}
        />
      );
    case 'result':
      return (
        <ResultStep
          {...frame}
          config={config}
          done={step}
          onBurn={(index) => setStep({ ...doneOf(step), kind: 'drive-confirm', index })}
          onDone={props.home}
        />
      );
    case 'drive-confirm':
      return <DriveConfirmStep {...frame} drive={config.media?.drive ?? ''} step={step} onBurn={() => burnOnDrive(doneOf(step), step.index)} onBack={() => setStep({ ...doneOf(step), kind: 'result' })} />;
    case 'driving':
    case 'drive-done':
      return <DrivingStep {...frame} drive={config.media?.drive ?? ''} step={step} onBack={() => setStep({ ...doneOf(step), kind: 'result' })} />;
  }
}

// ---------------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------------

interface Frame {
  readonly operator: string;
}

const ESC_BACK: KeyHint = { key: 'Esc', does: 'back' };

type SourceChoice = 'inbox' | 'type';

function SourceStep(props: Frame & { readonly inbox: string | undefined; readonly typing: boolean; readonly onType: () => void; readonly onFolder: (folder: string) => void; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  const items: ListItem<SourceChoice>[] = [...(props.inbox ? [{ label: fit(`Inbox: ${props.inbox}`, BODY_WIDTH - 4), value: 'inbox' as const }] : []), { label: 'Type a folder path…', value: 'type' }];
  const keys: KeyHint[] = props.typing
    ? [{ key: 'Enter', does: 'look in this folder' }, { key: 'Ctrl+U', does: 'clear' }, { key: 'Esc', does: 'back to the list' }]
    : [{ key: '↑/↓', does: 'choose' }, { key: 'Enter', does: 'look in it' }, { key: 'Esc', does: 'home' }];
  return (
    <Screen title="Burn media · 1 of 6: source folder" operator={props.operator} keys={keys}>
      <Text>Where are the studies to put on the medium?</Text>
      <Text> </Text>
      <SelectList items={items} active={!props.typing} onSelect={(v) => (v === 'inbox' && props.inbox ? props.onFolder(props.inbox) : props.onType())} />
      {props.typing ? <FolderField label="Folder" placeholder="e.g. /media/cdrom or /srv/studies/doe" empty="Type the folder's path first." onFolder={props.onFolder} /> : null}
    </Screen>
  );
}

/** A folder typed in; it starts empty each time it is shown. */
function FolderField(props: { readonly label: string; readonly placeholder: string; readonly empty: string; readonly onFolder: (folder: string) => void }): ReactNode {
  const [folder, setFolder] = useState('');
  const [problem, setProblem] = useState(false);
  return (
    <>
      <Text> </Text>
      <TextField
        label={props.label}
        value={folder}
        placeholder={props.placeholder}
        onChange={(v) => {
          setFolder(v);
          setProblem(false);
        }}
        onSubmit={(v) => (v.trim() === '' ? setProblem(true) : props.onFolder(v.trim()))}
      />
      {problem ? <Notice kind="warning">{props.empty}</Notice> : null}
    </>
  );
}

function ScanningStep(props: Frame & { readonly step: Extract<Step, { kind: 'scanning' }>; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  const { done, total, folder } = props.step;
  return (
    <Screen title="Burn media · 1 of 6: source folder" operator={props.operator} keys={[{ key: 'Esc', does: 'stop and go back' }]}>
      <Text>{fit(`Looking in ${folder}`, BODY_WIDTH)}</Text>
      <Text> </Text>
      <Text>{total > 0 ? `Scanning… ${done} of ${total} files` : 'Scanning… counting the files'}</Text>
    </Screen>
  );
}

function ErrorStep(props: Frame & { readonly title: string; readonly what: string; readonly message: string; readonly back: string; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  return (
    <Screen title={props.title} operator={props.operator} keys={[{ key: 'Esc', does: `back: ${props.back}` }]}>
      <Notice kind="error">{`${props.what}: ${props.message}`}</Notice>
      <Text> </Text>
      <Text>{`Press Esc to go back (${props.back}).`}</Text>
    </Screen>
  );
}

function PatientStep(props: Frame & { readonly scan: SourceScan; readonly onPick: (p: SourcePatient) => void; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  const { patients, leftOut, folder } = props.scan;
  const skipped = leftOut > 0 ? <Notice kind="warning">{`${plural(leftOut, 'file')} left out: not DICOM, or could not be read.`}</Notice> : null;
  if (patients.length === 0) {
    return (
      <Screen title="Burn media · 2 of 6: patient" operator={props.operator} keys={[{ key: 'Esc', does: 'back: choose another folder' }]}>
        <Notice kind="warning">{fit(`No patients found: there are no DICOM studies in ${folder}`, 200)}</Notice>
        {skipped}
        <Text> </Text>
        <Text>Press Esc to choose another folder.</Text>
      </Screen>
    );
  }
  return (
    <Screen title="Burn media · 2 of 6: patient" operator={props.operator} keys={[{ key: '↑/↓', does: 'choose' }, { key: 'Enter', does: 'this patient' }, ESC_BACK]}>
      <Text>{fit(`Found in ${folder}: ${plural(patients.length, 'patient')}`, BODY_WIDTH)}</Text>
      <Text>One patient per medium: pick the patient this medium is for.</Text>
      {skipped}
      <Text> </Text>
      <SelectList rows={12} items={patients.map((p) => ({ label: patientLine(p), value: p }))} onSelect={props.onPick} />
    </Screen>
  );
}

function StudiesStep(props: Frame & { readonly step: Extract<Step, { kind: 'studies' }>; readonly onPick: (studies: readonly SourceStudy[]) => void; readonly onBack: () => void }): ReactNode {
  const { patient, previous } = props.step;
  const [marked, setMarked] = useState<ReadonlySet<number>>(
    () => new Set(patient.studies.map((s, i) => (previous === undefined || previous.includes(s) ? i : -1)).filter((i) => i >= 0)),
  );
  const [problem, setProblem] = useState(false);
  useEscape(props.onBack);
  const chosen = patient.studies.filter((_, i) => marked.has(i));
  const bytes = chosen.reduce((a, s) => a + s.bytes, 0);
  return (
    <Screen title="Burn media · 3 of 6: studies" operator={props.operator} keys={[{ key: 'Space', does: 'mark/unmark' }, { key: 'a', does: 'all' }, { key: 'Enter', does: 'take the marked' }, ESC_BACK]}>
      <Text bold>{fit(patientLine(patient), BODY_WIDTH)}</Text>
      <Text>{`${chosen.length} of ${plural(patient.studies.length, 'study', 'studies')} marked · ${formatBytes(bytes)}`}</Text>
      <Text> </Text>
      <SelectList
        multi
        rows={10}
        items={patient.studies.map((s, i) => ({ label: studyLine(s, BODY_WIDTH - 7), value: i }))}
        marked={marked}
        onMark={(m) => {
          setMarked(m);
          setProblem(false);
        }}
        onSubmit={(m) => (m.size === 0 ? setProblem(true) : props.onPick(patient.studies.filter((_, i) => m.has(i))))}
      />
      {problem ? <Notice kind="warning">No study is marked: mark at least one with Space (or a for all).</Notice> : null}
    </Screen>
  );
}

function MediumStep(props: Frame & { readonly desk: DeskServices; readonly chosen: Chosen; readonly onPick: (m: MediumChoice) => void; readonly onBack: () => void }): ReactNode {
  const [cursor, setCursor] = useState(0);
  useEscape(props.onBack);
  const medium = MEDIA[cursor]?.value ?? 'cd';
  const estimate = safeEstimate(props.desk, props.chosen.studies, medium, { password: false });
  return (
    <Screen title="Burn media · 4 of 6: medium" operator={props.operator} keys={[{ key: '↑/↓', does: 'choose' }, { key: 'Enter', does: 'this medium' }, ESC_BACK]}>
      <Text>{fit(`What should the studies of ${personName(props.chosen.patient.name)} go on?`, BODY_WIDTH)}</Text>
      <Text> </Text>
      <SelectList items={MEDIA.map((m) => ({ label: m.label.padEnd(10), note: m.note, value: m.value }))} onCursor={setCursor} onSelect={props.onPick} />
      <Text> </Text>
      {estimate instanceof Error ? <Notice kind="error">{`Cannot estimate the size: ${estimate.message}`}</Notice> : <CapacityGauge {...estimate} />}
      {!(estimate instanceof Error) && estimate.media > 1 ? null : <Text> </Text>}
    </Screen>
  );
}

function StickStep(props: Frame & { readonly onFolder: (folder: string) => void; readonly onBack: () => void }): ReactNode {
  useEscape(props.onBack);
  return (
    <Screen title="Burn media · 4 of 6: USB stick" operator={props.operator} keys={[{ key: 'Enter', does: 'use this folder' }, { key: 'Ctrl+U', does: 'clear' }, ESC_BACK]}>
      <Text>Plug in the stick and type the folder where it is mounted.</Text>
      <FolderField label="Stick folder" placeholder="e.g. /media/usb" empty="Type the folder of the mounted stick first." onFolder={props.onFolder} />
    </Screen>
  );
}

type ProtectionItem = { readonly kind: 'none' } | { readonly kind: 'recipient'; readonly name: string } | { readonly kind: 'password' };

/** Plain excludes the rest; one recipient per medium (the one marked last). */
function normalizeMarks(items: readonly ProtectionItem[], before: ReadonlySet<number>, after: ReadonlySet<number>): ReadonlySet<number> {
  const added = [...after].filter((i) => !before.has(i));
  const next = new Set(after);
  if (added.length === 1 && items[added[0] ?? -1]?.kind === 'none') return new Set([added[0] ?? 0]);
  if (added.some((i) => items[i]?.kind !== 'none')) items.forEach((it, i) => it.kind === 'none' && next.delete(i));
  const recipients = [...next].filter((i) => items[i]?.kind === 'recipient');
  if (recipients.length > 1) {
    const keep = added.find((i) => items[i]?.kind === 'recipient') ?? recipients[0];
    for (const i of recipients) if (i !== keep) next.delete(i);
  }
  return next;
}

function protectionOf(items: readonly ProtectionItem[], marked: ReadonlySet<number>): Protection {
  let recipient: string | undefined;
  let password = false;
  for (const i of marked) {
    const it = items[i];
    if (it?.kind === 'recipient') recipient = it.name;
    if (it?.kind === 'password') password = true;
  }
  return { ...(recipient !== undefined ? { recipient } : {}), password };
}

function ProtectionStep(props: Frame & { readonly config: Config; readonly previous: Protection | undefined; readonly onPick: (p: Protection) => void; readonly onBack: () => void }): ReactNode {
  const items: ProtectionItem[] = [{ kind: 'none' }, ...props.config.recipients.map((r) => ({ kind: 'recipient' as const, name: r.name })), { kind: 'password' }];
  const [marked, setMarked] = useState<ReadonlySet<number>>(() => {
    const p = props.previous;
    if (!p || !encrypted(p)) return new Set([0]);
    return new Set(items.map((it, i) => ((it.kind === 'recipient' && it.name === p.recipient) || (it.kind === 'password' && p.password) ? i : -1)).filter((i) => i >= 0));
  });
  useEscape(props.onBack);
  const protection = protectionOf(items, marked);
  const signing = signingNotice(protection, props.config);
  const labels = items.map((it) =>
    it.kind === 'none' ? 'No encryption (plain IHE PDI, opens in any viewer)' : it.kind === 'recipient' ? fit(`Encrypt for ${it.name}`, BODY_WIDTH - 8) : 'Password for the patient (generated)',
  );
  return (
    <Screen title="Burn media · 5 of 6: protection" operator={props.operator} keys={[{ key: 'Space', does: 'mark/unmark' }, { key: 'Enter', does: 'go on' }, ESC_BACK]}>
      <Text>How should the medium be protected? Nothing marked means plain.</Text>
      {props.config.recipients.length > 1 ? <Text>One recipient institution per medium.</Text> : null}
      <Text> </Text>
      <SelectList multi rows={8} items={labels.map((label, i) => ({ label, value: i }))} marked={marked} onMark={(m) => setMarked(normalizeMarks(items, marked, m))} onSubmit={() => props.onPick(protection)} />
      <Text> </Text>
      <Text>{fit(`Protection: ${protectionText(protection)}`, BODY_WIDTH)}</Text>
      <Notice kind={signing.kind}>{signing.text}</Notice>
    </Screen>
  );
}

function Row(props: { readonly label: string; readonly children: ReactNode; readonly bold?: boolean }): ReactNode {
  return (
    <Box>
      <Box width={14} flexShrink={0}>
        <Text>{props.label}</Text>
      </Box>
      <Text bold={props.bold === true} wrap="truncate-end">
        {props.children}
      </Text>
    </Box>
  );
}

const SHOWN_STUDIES = 5;

function ConfirmStep(props: Frame & { readonly desk: DeskServices; readonly config: Config; readonly ready: Ready; readonly onBurn: () => void; readonly onBack: () => void }): ReactNode {
  const { patient, studies, medium, stickFolder, protection } = props.ready;
  useKeys((_input, key) => {
    if (key.escape) props.onBack();
    else if (key.return) props.onBurn();
  });
  const estimate = safeEstimate(props.desk, studies, medium, protection);
  const signing = signingNotice(protection, props.config);
  const extra = studies.length - SHOWN_STUDIES;
  return (
    <Screen title="Burn media · 6 of 6: check before burning" operator={props.operator} keys={[{ key: 'Enter', does: 'burn' }, { key: 'Esc', does: 'back: change something' }]}>
      <Text bold color={tint('yellow')}>
        ! Is this the right patient? Check against the request form.
      </Text>
      <Box borderStyle="single" flexDirection="column" paddingX={1} width={BODY_WIDTH}>
        <Row label="Name" bold>
          {personName(patient.name)}
        </Row>
        <Row label="Patient ID" bold>
          {patient.id || '(none)'}
        </Row>
        <Row label="Born" bold>
          {isoDate(patient.birthDate)}
        </Row>
        <Row label="Sex">{sexText(patient.sex)}</Row>
      </Box>
      <Text>{`Studies (${studies.length}):`}</Text>
      {studies.slice(0, extra > 0 ? SHOWN_STUDIES - 1 : SHOWN_STUDIES).map((s) => (
        <Text key={s.studyInstanceUID}>{fit(`  ${isoDate(s.date)}  ${s.modalities.join('/') || '—'}  ${s.description || '(no description)'}`, BODY_WIDTH)}</Text>
      ))}
      {extra > 0 ? <Text>{`  … and ${extra + 1} more`}</Text> : null}
      <Row label="Medium">{mediumName(medium, stickFolder)}</Row>
      <Row label="Protection">{protectionText(protection)}</Row>
      <Row label="Size">{estimate instanceof Error ? `cannot estimate (${estimate.message})` : `${formatBytes(estimate.bytes)} on ${mediaCount(medium, estimate.media)}`}</Row>
      <Notice kind={signing.kind}>{signing.text}</Notice>
    </Screen>
  );
}

function BurningStep(props: Frame & { readonly step: Extract<Step, { kind: 'burning' }>; readonly nowMs: number }): ReactNode {
  const { progress: p, patient, medium } = props.step;
  // Keys are taken and ignored (Esc too): the keyboard stays with the screen, nothing echoes.
  useKeys(() => undefined);
  return (
    <Screen title="Burn media · writing" operator={props.operator} keys={[{ key: 'Please wait:', does: 'this cannot be interrupted safely (Esc does nothing)' }]}>
      <Text>{fit(`Making the ${mediumName(medium, props.step.stickFolder)} for ${personName(patient.name)}`, BODY_WIDTH)}</Text>
      <Text> </Text>
      {!p.planned ? (
        <Text>{p.toCheck > 0 ? `Preparing… checked ${p.checked} of ${p.toCheck} files` : 'Preparing…'}</Text>
      ) : (
        <>
          <Text bold>{`Medium ${p.volume} of ${p.volumes}`}</Text>
          <ProgressBar done={p.bytesDone} total={p.bytesTotal} startedMs={p.startedMs} nowMs={props.nowMs} />
        </>
      )}
      <Text> </Text>
      {p.written.slice(-6).map((w) => (
        <Text key={w.volume}>{fit(`✔ medium ${w.volume} written: ${w.output} (${formatBytes(w.bytes)})`, BODY_WIDTH)}</Text>
      ))}
      <Notice kind="info">This cannot be interrupted safely: please wait until it is done.</Notice>
    </Screen>
  );
}

/** Spaced characters when they fit the box, else as is. */
function large(password: string): string {
  const spaced = [...password].join(' ');
  return spaced.length <= BODY_WIDTH - 6 ? spaced : password;
}

function PasswordStep(props: Frame & { readonly password: string; readonly letterFile: string | undefined; readonly onHide: () => void }): ReactNode {
  useKeys((_input, key) => {
    if (key.return) props.onHide();
  });
  return (
    <Screen title="Burn media · the patient's password" operator={props.operator} keys={[{ key: 'Enter', does: 'it is written down: hide it and go on' }]}>
      <Text bold>The password for the patient (shown only now):</Text>
      <Box borderStyle="bold" paddingX={2} alignSelf="flex-start">
        <Text bold>{large(props.password)}</Text>
      </Box>
      <Text>{fit(`Without the spaces: ${props.password}`, BODY_WIDTH)}</Text>
      <Text> </Text>
      <Notice kind="warning">Write it on the patient letter / give it to the patient;</Notice>
      <Text bold>it is shown only now and stored nowhere.</Text>
      <Text>Without it the medium cannot be opened. Enter hides it for ever.</Text>
      {props.letterFile ? (
        <>
          <Text> </Text>
          <Text>{fit(`Patient letter to print: ${props.letterFile}`, BODY_WIDTH)}</Text>
        </>
      ) : null}
    </Screen>
  );
}

const SHOWN_OUTPUTS = 3;

/** How many lines a text takes in the body when it wraps (paths and commands are not cut). */
function lines(text: string): number {
  return Math.max(1, Math.ceil([...text].length / (WIDTH - 1)));
}

function ResultStep(props: Frame & { readonly config: Config; readonly done: Done; readonly onBurn: (index: number) => void; readonly onDone: () => void }): ReactNode {
  const { result, medium, burned, protection } = props.done;
  const drive = props.config.media?.drive;
  const canBurn = drive !== undefined && drive !== '' && isDisc(medium);
  const next = result.outputs.findIndex((_, i) => !burned.includes(i));
  useKeys((input, key) => {
    if (key.escape || key.return) props.onDone();
    else if (input === 'b' && canBurn && next >= 0) props.onBurn(next);
  });
  const outputs = result.outputs.slice(0, SHOWN_OUTPUTS);
  const pathLine = (o: BurnOutput, i: number): string => `${burned.includes(i) ? '✔ burned  ' : ''}${o.path}  (${formatBytes(o.bytes)})`;
  const burnLine = result.burnCommand ? `To burn it: ${result.burnCommand}` : '';
  // The label gets what the rest leaves of the 18 lines (at most 6 lines, at least 1).
  const rest =
    1 +
    outputs.reduce((n, o, i) => n + lines(pathLine(o, i)) + 1, 0) +
    (result.outputs.length > SHOWN_OUTPUTS ? 1 : 0) +
    2 + // "Label text:" and the "… more lines" line
    (result.letterFile ? 1 : 0) +
    1 + // signed or not
    (canBurn ? 1 : burnLine ? lines(burnLine) : 0);
  const labelLines = result.labelText.replace(/\s+$/, '').split(/\r?\n/);
  const room = Math.max(1, Math.min(6, 18 - rest));
  const shownLabel = labelLines.length <= room + 1 && labelLines.length <= 6 ? labelLines : labelLines.slice(0, room);
  const many = result.outputs.length > 1;
  const keys: KeyHint[] = [
    ...(canBurn && next >= 0 ? [{ key: 'b', does: fit(`burn ${many ? `disc ${next + 1} ` : ''}now on ${drive}`, 40) }] : []),
    { key: 'Enter/Esc', does: 'done: home' },
  ];
  return (
    <Screen title="Burn media · done" operator={props.operator} keys={keys}>
      <Notice kind="ok">{many ? `${result.outputs.length} media made, each a complete DICOM File-set:` : 'The medium is made:'}</Notice>
      {outputs.map((o, i) => (
        <Box key={o.path} flexDirection="column">
          <Text>{pathLine(o, i)}</Text>
          <Text>{`  SHA-256 ${o.sha256}`}</Text>
        </Box>
      ))}
      {result.outputs.length > SHOWN_OUTPUTS ? <Text>{`  … and ${result.outputs.length - SHOWN_OUTPUTS} more`}</Text> : null}
      <Text>Label text:</Text>
      {shownLabel.map((l, i) => (
        <Text key={i}>{fit(`  ${l}`, BODY_WIDTH)}</Text>
      ))}
      {labelLines.length > shownLabel.length ? <Text>{`  … (${labelLines.length - shownLabel.length} more lines in the saved file)`}</Text> : null}
      {result.letterFile ? <Text>{fit(`${protection.password ? 'Patient letter' : 'Label'} to print: ${result.letterFile}`, BODY_WIDTH)}</Text> : null}
      {result.signedBy ? (
        <Text>{fit(`✔ Signed by ${result.signedBy}`, BODY_WIDTH)}</Text>
      ) : (
        <Text>{encrypted(protection) ? '! Not signed: no signing key configured' : 'Not signed: plain media are never signed in this release'}</Text>
      )}
      {canBurn ? (
        next >= 0 ? (
          <Text>{fit(`Put a blank disc in ${drive} and press b to burn${many ? ` disc ${next + 1}` : ''}.`, BODY_WIDTH)}</Text>
        ) : (
          <Notice kind="ok">{many ? 'All discs are burned.' : 'The disc is burned.'}</Notice>
        )
      ) : result.burnCommand ? (
        <Text>{burnLine}</Text>
      ) : null}
    </Screen>
  );
}

function DriveConfirmStep(props: Frame & { readonly drive: string; readonly step: Extract<Step, { kind: 'drive-confirm' }>; readonly onBurn: () => void; readonly onBack: () => void }): ReactNode {
  useKeys((_input, key) => {
    if (key.escape) props.onBack();
    else if (key.return) props.onBurn();
  });
  const { result, index, patient } = props.step;
  const image = result.outputs[index]?.path ?? '';
  const many = result.outputs.length > 1;
  return (
    <Screen title="Burn media · burn on the drive" operator={props.operator} keys={[{ key: 'Enter', does: 'burn' }, { key: 'Esc', does: 'back' }]}>
      <Text bold>{`Burn ${many ? `disc ${index + 1} of ${result.outputs.length}` : 'the disc'} for ${personName(patient.name)}?`}</Text>
      <Text> </Text>
      <Row label="Drive" bold>
        {props.drive}
      </Row>
      <Row label="Image">{image}</Row>
      <Text> </Text>
      <Notice kind="info">{`This erases nothing on the image; a blank disc is needed in ${props.drive}.`}</Notice>
    </Screen>
  );
}

function DrivingStep(props: Frame & { readonly drive: string; readonly step: Extract<Step, { kind: 'driving' | 'drive-done' }>; readonly onBack: () => void }): ReactNode {
  const step = props.step;
  const running = step.kind === 'driving';
  useKeys((_input, key) => {
    // While burning, keys are taken and ignored.
    if (!running && (key.escape || key.return)) props.onBack();
  });
  const keys: KeyHint[] = running ? [{ key: 'Please wait:', does: 'burning cannot be interrupted safely' }] : [{ key: 'Enter/Esc', does: 'back to the result' }];
  return (
    <Screen title="Burn media · burn on the drive" operator={props.operator} keys={keys}>
      <Text>{fit(`${running ? 'Burning' : 'Burned'} ${step.result.outputs[step.index]?.path ?? ''} on ${props.drive}`, BODY_WIDTH)}</Text>
      <Text> </Text>
      {step.lines.map((l, i) => (
        <Text key={i}>{fit(`  ${l}`, BODY_WIDTH)}</Text>
      ))}
      <Text> </Text>
      {running ? (
        <Notice kind="info">Burning… do not open the drive until it is done.</Notice>
      ) : step.kind === 'drive-done' && step.error !== undefined ? (
        <>
          <Notice kind="error">{`The disc could not be burned: ${step.error}`}</Notice>
          <Text>Esc back to the result: try again with another blank disc.</Text>
        </>
      ) : (
        <Notice kind="ok">{`Burned on ${props.drive}. Take the disc out and label it.`}</Notice>
      )}
    </Screen>
  );
}
