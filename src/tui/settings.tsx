/**
 * The Settings flow of the front desk (administrators only): operators, trust anchors, recipient
 * institutions, PACS nodes (with an echo test), the audit repository, the media folders and the
 * institution name. Every change builds a new Config and hands it to desk.saveConfig, which
 * validates and writes the configuration file; a refusal is shown and the form kept so the admin
 * can fix it. Operators are kept by the desk (the operators file), not in the configuration.
 */
import { Box, Text, useInput } from 'ink';
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { AuditRepository, Recipient, TlsFiles } from '../config/config.js';
import type { Config, EchoResult, OperatorInfo, PacsNode, Role } from './desk.js';
import { fit, Notice, Screen, SelectList, TextField, tint, type KeyHint, type ListItem, useEscape } from './components.js';
import type { FlowProps } from './flow.js';

// ---------------------------------------------------------------------------------------------
// The steps

type Section = 'operators' | 'trust' | 'recipients' | 'pacs' | 'audit' | 'media' | 'institution';

type Step =
  | { readonly kind: 'menu' }
  | { readonly kind: 'operators' }
  | { readonly kind: 'operator-new' }
  | { readonly kind: 'operator-remove'; readonly target: OperatorInfo }
  | { readonly kind: 'trust' }
  | { readonly kind: 'trust-add' }
  | { readonly kind: 'trust-remove'; readonly path: string }
  | { readonly kind: 'recipients' }
  | { readonly kind: 'recipient-add' }
  | { readonly kind: 'recipient-remove'; readonly recipient: Recipient }
  | { readonly kind: 'pacs' }
  | { readonly kind: 'pacs-form'; readonly editing?: PacsNode }
  | { readonly kind: 'pacs-remove'; readonly node: PacsNode }
  | { readonly kind: 'audit' }
  | { readonly kind: 'audit-form' }
  | { readonly kind: 'audit-clear' }
  | { readonly kind: 'media' }
  | { readonly kind: 'institution' };

interface Flash {
  readonly kind: 'ok' | 'error';
  readonly text: string;
}

type Values = Readonly<Record<string, string>>;

const BACK: KeyHint = { key: 'Esc', does: 'back' };
const LIST_ROWS = 10;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function FlashLine({ flash }: { readonly flash: Flash | undefined }): ReactNode {
  if (!flash) return null;
  if (flash.kind === 'error') return <Notice kind="error">{flash.text}</Notice>;
  return (
    <Text wrap="wrap" color={tint('green')}>
      {`✔ ${flash.text}`}
    </Text>
  );
}

/** Non-admins: the app hides Settings, but if they get here anyway, say no. */
function Refusal(props: FlowProps): ReactNode {
  useInput((_input, key) => {
    if (key.escape || key.return) props.home();
  });
  return (
    <Screen title="Settings" operator={props.operator.name} keys={[{ key: 'Esc', does: 'back to the start' }]}>
      <Notice kind="error">{`Settings are for administrators only: ${props.operator.name} is signed in as ${props.operator.role}. Ask an administrator to make the change.`}</Notice>
    </Screen>
  );
}

export function SettingsFlow(props: FlowProps): ReactNode {
  if (props.operator.role !== 'admin') return <Refusal {...props} />;
  return <Settings {...props} />;
}

function Settings(props: FlowProps): ReactNode {
  const [step, setStep] = useState<Step>({ kind: 'menu' });
  const [config, setConfig] = useState<Config>(() => props.desk.config());
  const [flash, setFlash] = useState<Flash | undefined>();
  const me = props.operator.name;
  const go = (next: Step, message?: Flash): void => {
    setFlash(message);
    setStep(next);
  };
  /** Saves, and on success goes to `then` saying where; on failure returns the message (the caller shows it). */
  const save = async (next: Config, then: Step): Promise<string | undefined> => {
    try {
      await props.desk.saveConfig(next);
    } catch (e) {
      return messageOf(e);
    }
    // The desk reads the file back (paths resolved as the rest of dcmsafe will see them).
    setConfig(props.desk.config());
    go(then, { kind: 'ok', text: `Saved to ${config.file ?? 'the configuration file'}` });
    return undefined;
  };

  switch (step.kind) {
    case 'menu':
      return <Menu operator={me} config={config} flash={flash} onOpen={(s) => go({ kind: s })} onBack={props.home} />;

    case 'operators':
      return (
        <OperatorsStep
          desk={props.desk}
          operator={me}
          flash={flash}
          onNew={() => go({ kind: 'operator-new' })}
          onRemove={(target) => go({ kind: 'operator-remove', target })}
          onBack={() => go({ kind: 'menu' })}
        />
      );
    case 'operator-new':
      return <OperatorNew desk={props.desk} operator={me} onDone={(text) => go({ kind: 'operators' }, { kind: 'ok', text })} onBack={() => go({ kind: 'operators' })} />;
    case 'operator-remove': {
      const t = step.target;
      return (
        <Confirm
          title="Settings · Operators · Remove"
          operator={me}
          question={`Remove operator ${t.name} (${t.role})? They will no longer be able to sign in. y/N`}
          onYes={async () => {
            try {
              await props.desk.removeOperator(t.name);
            } catch (e) {
              return messageOf(e);
            }
            go({ kind: 'operators' }, { kind: 'ok', text: `Removed operator ${t.name}: they can no longer sign in` });
            return undefined;
          }}
          onNo={() => go({ kind: 'operators' })}
        />
      );
    }

    case 'trust':
      return <TrustStep operator={me} config={config} flash={flash} onAdd={() => go({ kind: 'trust-add' })} onRemove={(path) => go({ kind: 'trust-remove', path })} onBack={() => go({ kind: 'menu' })} />;
    case 'trust-add':
      return (
        <Form
          title="Settings · Trust anchors · Add"
          operator={me}
          intro="A PEM bundle of CA certificates, or a folder of them, that signed media are checked against."
          fields={[{ id: 'path', label: 'File or folder', placeholder: '/etc/dcmsafe/trust/hospital-ca.pem' }]}
          initial={{}}
          validate={(v) => {
            const path = v.path ?? '';
            if (path === '') return ['The path is empty: type the file or folder of the trust anchor'];
            if (config.trust.includes(path)) return [`${path} is already a trust anchor`];
            return [];
          }}
          submit={(v) => save({ ...config, trust: [...config.trust, v.path ?? ''] }, { kind: 'trust' })}
          onBack={() => go({ kind: 'trust' })}
        />
      );
    case 'trust-remove': {
      const path = step.path;
      return (
        <Confirm
          title="Settings · Trust anchors · Remove"
          operator={me}
          question={`Remove trust anchor ${path}? Media signed under it will no longer be trusted. y/N`}
          onYes={() => save({ ...config, trust: config.trust.filter((p) => p !== path) }, { kind: 'trust' })}
          onNo={() => go({ kind: 'trust' })}
        />
      );
    }

    case 'recipients':
      return (
        <RecipientsStep
          operator={me}
          config={config}
          flash={flash}
          onAdd={() => go({ kind: 'recipient-add' })}
          onRemove={(recipient) => go({ kind: 'recipient-remove', recipient })}
          onBack={() => go({ kind: 'menu' })}
        />
      );
    case 'recipient-add':
      return (
        <Form
          title="Settings · Recipient institutions · Add"
          operator={me}
          intro="An institution media can be encrypted for: its name, and the file of its certificate."
          fields={[
            { id: 'name', label: 'Name', placeholder: 'St. Elsewhere Radiology' },
            { id: 'certificate', label: 'Certificate file', placeholder: '/etc/dcmsafe/recipients/elsewhere.pem' },
          ]}
          initial={{}}
          validate={(v) => {
            const errors = nameProblems('Name', v.name ?? '', config.recipients, undefined);
            if ((v.certificate ?? '') === '') errors.push('Certificate file is empty: type the path of the certificate (PEM)');
            return errors;
          }}
          submit={(v) => save({ ...config, recipients: [...config.recipients, { name: v.name ?? '', certificate: v.certificate ?? '' }] }, { kind: 'recipients' })}
          onBack={() => go({ kind: 'recipients' })}
        />
      );
    case 'recipient-remove': {
      const r = step.recipient;
      return (
        <Confirm
          title="Settings · Recipient institutions · Remove"
          operator={me}
          question={`Remove recipient institution ${r.name}? Media can then no longer be encrypted for it. y/N`}
          onYes={() => save({ ...config, recipients: config.recipients.filter((x) => x.name !== r.name) }, { kind: 'recipients' })}
          onNo={() => go({ kind: 'recipients' })}
        />
      );
    }

    case 'pacs':
      return (
        <PacsStep
          desk={props.desk}
          operator={me}
          config={config}
          flash={flash}
          onAdd={() => go({ kind: 'pacs-form' })}
          onEdit={(node) => go({ kind: 'pacs-form', editing: node })}
          onRemove={(node) => go({ kind: 'pacs-remove', node })}
          onBack={() => go({ kind: 'menu' })}
        />
      );
    case 'pacs-form': {
      const editing = step.editing;
      return (
        <Form
          title={editing ? `Settings · PACS nodes · Edit ${editing.name}` : 'Settings · PACS nodes · New'}
          operator={me}
          intro="* required. TLS is optional; to use it, give at least the CA file."
          fields={PACS_FIELDS}
          initial={editing ? pacsValues(editing) : { port: '104' }}
          validate={(v) => pacsProblems(v, config.pacs, editing)}
          submit={(v) => {
            const node = pacsNode(v);
            const pacs = editing ? config.pacs.map((n) => (n === editing ? node : n)) : [...config.pacs, node];
            return save({ ...config, pacs }, { kind: 'pacs' });
          }}
          onBack={() => go({ kind: 'pacs' })}
        />
      );
    }
    case 'pacs-remove': {
      const node = step.node;
      return (
        <Confirm
          title="Settings · PACS nodes · Remove"
          operator={me}
          question={`Remove PACS node ${node.name} (${node.calledAE}@${node.host}:${node.port})? Media can then no longer be imported into it. y/N`}
          onYes={() => save({ ...config, pacs: config.pacs.filter((n) => n !== node) }, { kind: 'pacs' })}
          onNo={() => go({ kind: 'pacs' })}
        />
      );
    }

    case 'audit':
      return <AuditStep operator={me} config={config} flash={flash} onEdit={() => go({ kind: 'audit-form' })} onClear={() => go({ kind: 'audit-clear' })} onBack={() => go({ kind: 'menu' })} />;
    case 'audit-form':
      return (
        <Form
          title="Settings · Audit repository"
          operator={me}
          intro="Audit messages (syslog over TLS) go to the repository; the log file keeps a local copy."
          fields={AUDIT_FIELDS}
          initial={auditValues(config)}
          validate={(v) => auditProblems(v, config)}
          submit={(v) => save({ ...config, audit: auditOf(v, config) }, { kind: 'audit' })}
          onBack={() => go({ kind: 'audit' })}
        />
      );
    case 'audit-clear': {
      const repo = config.audit.repository;
      const log = config.audit.log;
      return (
        <Confirm
          title="Settings · Audit repository · Clear"
          operator={me}
          question={`Stop sending audit messages to ${repo ? `${repo.host}:${repo.port}` : 'the repository'}? ${log ? `They will only be written to ${log}.` : 'No audit log file is set either: audit messages will be kept nowhere.'} y/N`}
          onYes={() => {
            const { repository: _gone, ...audit } = config.audit;
            return save({ ...config, audit }, { kind: 'audit' });
          }}
          onNo={() => go({ kind: 'audit' })}
        />
      );
    }

    case 'media':
      return (
        <Form
          title="Settings · Media"
          operator={me}
          intro="Where media images are written, and the optical drive discs are burned on. Both optional."
          fields={[
            { id: 'outbox', label: 'Outbox folder', placeholder: '/srv/dcmsafe/outbox' },
            { id: 'drive', label: 'Burner drive', placeholder: '/dev/sr0' },
          ]}
          initial={{ outbox: config.media?.outbox ?? '', drive: config.media?.drive ?? '' }}
          validate={() => []}
          submit={(v) => {
            const { media: _old, ...rest } = config;
            const outbox = v.outbox ?? '';
            const drive = v.drive ?? '';
            const next: Config = outbox || drive ? { ...rest, media: { ...(outbox ? { outbox } : {}), ...(drive ? { drive } : {}) } } : rest;
            return save(next, { kind: 'menu' });
          }}
          onBack={() => go({ kind: 'menu' })}
        />
      );
    case 'institution':
      return (
        <Form
          title="Settings · Institution name"
          operator={me}
          intro="The name written on labels, letters and media (Institution Name)."
          fields={[{ id: 'name', label: 'Institution name', placeholder: 'General Hospital' }]}
          initial={{ name: config.institution?.name ?? '' }}
          validate={(v) => nameProblems('Institution name', v.name ?? '', [], undefined)}
          submit={(v) => save({ ...config, institution: { name: v.name ?? '' } }, { kind: 'menu' })}
          onBack={() => go({ kind: 'menu' })}
        />
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Menu

function Menu(props: { readonly operator: string; readonly config: Config; readonly flash: Flash | undefined; readonly onOpen: (s: Section) => void; readonly onBack: () => void }): ReactNode {
  const c = props.config;
  useEscape(props.onBack);
  const repo = c.audit.repository;
  const count = (n: number, one: string, many: string): string => (n === 0 ? 'none' : `${n} ${n === 1 ? one : many}`);
  const items: ListItem<Section>[] = [
    { label: 'Operators', value: 'operators', note: 'who can sign in, and their role' },
    { label: 'Trust anchors', value: 'trust', note: count(c.trust.length, 'bundle or folder', 'bundles or folders') },
    { label: 'Recipient institutions', value: 'recipients', note: count(c.recipients.length, 'institution', 'institutions') },
    { label: 'PACS nodes', value: 'pacs', note: count(c.pacs.length, 'node', 'nodes') },
    { label: 'Audit repository', value: 'audit', note: repo ? `${repo.host}:${repo.port}` : 'not set' },
    { label: 'Media', value: 'media', note: c.media?.outbox ? `outbox ${c.media.outbox}` : 'default outbox' },
    { label: 'Institution name', value: 'institution', note: c.institution?.name ?? 'not set' },
  ].map((i) => ({ ...i, label: i.label.padEnd(24) }) as ListItem<Section>);
  return (
    <Screen title="Settings" operator={props.operator} keys={[{ key: '↑↓', does: 'choose' }, { key: 'Enter', does: 'open' }, { key: 'Esc', does: 'back to the start' }]}>
      <FlashLine flash={props.flash} />
      <Text>What do you want to change?</Text>
      <Text> </Text>
      <SelectList items={items} onSelect={props.onOpen} />
      <Text> </Text>
      <Text wrap="wrap">{fit(`Changes are saved to ${c.file ?? 'the configuration file'}.`, 78)}</Text>
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// Confirmation

function Confirm(props: { readonly title: string; readonly operator: string; readonly question: string; readonly onYes: () => Promise<string | undefined>; readonly onNo: () => void }): ReactNode {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const busyRef = useRef(false);
  useInput((input, key) => {
    if (busyRef.current) return;
    if (input === 'y' || input === 'Y') {
      busyRef.current = true;
      setBusy(true);
      setError(undefined);
      props
        .onYes()
        .catch((e: unknown) => messageOf(e))
        .then((failure) => {
          if (failure !== undefined) {
            busyRef.current = false;
            setBusy(false);
            setError(failure);
          }
        })
        .catch(() => undefined);
    } else if (input === 'n' || input === 'N' || key.return || key.escape) props.onNo();
  });
  return (
    <Screen title={props.title} operator={props.operator} keys={[{ key: 'y', does: 'yes' }, { key: 'n/Enter', does: 'no, keep it' }, BACK]}>
      <Notice kind="warning">{props.question}</Notice>
      <Text> </Text>
      {busy ? <Text>Saving…</Text> : null}
      {error ? <Notice kind="error">{`${error} (nothing was changed; press y to try again, or Esc to go back)`}</Notice> : null}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// A form of text fields

interface FieldSpec {
  readonly id: string;
  readonly label: string;
  readonly placeholder?: string;
  readonly mask?: boolean;
}

const FORM_KEYS: readonly KeyHint[] = [
  { key: 'Tab/↓', does: 'next' },
  { key: '↑', does: 'previous' },
  { key: 'Enter', does: 'next/save' },
  { key: 'Ctrl+S', does: 'save' },
  { key: 'Esc', does: 'cancel' },
];

/**
 * Fields moved through with Tab/↓ and ↑ (Shift+Tab too); Enter goes to the next field, and on the
 * last one saves, as does Ctrl+S. Values are trimmed; `validate` names what is wrong, `submit` saves
 * and returns a refusal message to show (the form stays, so it can be fixed).
 */
function Form(props: {
  readonly title: string;
  readonly operator: string;
  readonly intro?: string;
  readonly fields: readonly FieldSpec[];
  readonly initial: Values;
  readonly validate: (values: Values) => string[];
  readonly submit: (values: Values) => Promise<string | undefined>;
  readonly onBack: () => void;
}): ReactNode {
  const [values, setValues] = useState<Values>(props.initial);
  const [focus, setFocus] = useState(0);
  // Once a save was tried, what is wrong is shown as it is fixed (checked again on every change).
  const [tried, setTried] = useState(false);
  const [refusal, setRefusal] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const latest = useRef({ values: props.initial, focus: 0, busy: false });
  const last = props.fields.length - 1;
  const move = (to: number): void => {
    const n = Math.max(0, Math.min(last, to));
    latest.current.focus = n;
    setFocus(n);
  };
  const change = (id: string, value: string): void => {
    const next = { ...latest.current.values, [id]: value };
    latest.current.values = next;
    setValues(next);
  };
  const trim = (v: Values): Values => Object.fromEntries(props.fields.map((f) => [f.id, (v[f.id] ?? '').trim()]));
  const submit = (): void => {
    if (latest.current.busy) return;
    const trimmed = trim(latest.current.values);
    setTried(true);
    setRefusal(undefined);
    if (props.validate(trimmed).length > 0) return;
    latest.current.busy = true;
    setBusy(true);
    props
      .submit(trimmed)
      .catch((e: unknown) => messageOf(e))
      .then((failure) => {
        if (failure !== undefined) {
          latest.current.busy = false;
          setBusy(false);
          setRefusal(failure);
        }
      })
      .catch(() => undefined);
  };
  useInput((input, key) => {
    if (latest.current.busy) return;
    const at = latest.current.focus;
    if (key.escape) props.onBack();
    else if ((key.tab && key.shift) || key.upArrow) move(at - 1);
    else if (key.tab || key.downArrow) move(at + 1);
    else if (key.ctrl && input === 's') submit();
  });
  const width = Math.max(...props.fields.map((f) => f.label.length));
  const errors = [...(tried ? props.validate(trim(values)) : []), ...(refusal !== undefined ? [refusal] : [])];
  const shownErrors = errors.slice(0, 3);
  return (
    <Screen title={props.title} operator={props.operator} keys={FORM_KEYS}>
      {props.intro ? <Text wrap="wrap">{props.intro}</Text> : null}
      <Text> </Text>
      {props.fields.map((f, i) => (
        <TextField
          key={f.id}
          label={f.label.padEnd(width)}
          value={values[f.id] ?? ''}
          onChange={(v) => change(f.id, v)}
          onSubmit={(v) => {
            change(f.id, v);
            if (i === last) submit();
            else move(i + 1);
          }}
          active={!busy && i === focus}
          {...(f.placeholder !== undefined ? { placeholder: f.placeholder } : {})}
          {...(f.mask ? { mask: true } : {})}
        />
      ))}
      <Text> </Text>
      {busy ? <Text>Saving…</Text> : null}
      {shownErrors.map((e, i) => (
        <Notice key={i} kind="error">
          {e}
        </Notice>
      ))}
      {errors.length > shownErrors.length ? <Text>{`… and ${errors.length - shownErrors.length} more to fix`}</Text> : null}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// Validation shared by the forms

/** A name of the configuration: 1-64 characters, no backslash, unique (ignoring case) among `others`. */
function nameProblems(label: string, name: string, others: readonly { name: string }[], except: { name: string } | undefined): string[] {
  if (name === '') return [`${label} is empty`];
  if (name.length > 64) return [`${label} is too long: at most 64 characters (it has ${name.length})`];
  if (name.includes('\\')) return [`${label} cannot contain a backslash (\\)`];
  if (others.some((o) => o !== except && o.name.toLowerCase() === name.toLowerCase())) return [`${label} "${name}" is already used: choose another`];
  return [];
}

/** A DICOM AE title: 1-16 characters, no backslash, no control characters (PS3.5 6.2, AE). */
function aeProblem(label: string, ae: string): string | undefined {
  if (ae === '') return `${label} is empty`;
  if (ae.length > 16) return `${label} is too long: at most 16 characters (it has ${ae.length})`;
  if (ae.includes('\\')) return `${label} cannot contain a backslash (\\)`;
  if (!/^[\x20-\x7e]+$/.test(ae)) return `${label} may only have plain letters, digits, spaces and punctuation`;
  return undefined;
}

function portProblem(label: string, port: string): string | undefined {
  if (port === '') return `${label} is empty`;
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) return `${label} must be a whole number from 1 to 65535 (not "${fit(port, 12)}")`;
  return undefined;
}

function hostProblem(label: string, host: string): string | undefined {
  if (host === '') return `${label} is empty`;
  if (/\s/.test(host) || host.length > 253) return `${label} must be a host name or IP address, without spaces`;
  return undefined;
}

const TLS_FIELDS: readonly FieldSpec[] = [
  { id: 'ca', label: 'TLS CA file', placeholder: 'optional; needed for TLS' },
  { id: 'cert', label: 'TLS certificate', placeholder: 'optional' },
  { id: 'key', label: 'TLS key', placeholder: 'optional, with the certificate' },
  { id: 'keyPassphraseFile', label: 'Key passphrase file', placeholder: 'optional' },
  { id: 'servername', label: 'TLS server name', placeholder: 'optional' },
];

function tlsValues(tls: TlsFiles | undefined): Record<string, string> {
  return { ca: tls?.ca ?? '', cert: tls?.cert ?? '', key: tls?.key ?? '', keyPassphraseFile: tls?.keyPassphraseFile ?? '', servername: tls?.servername ?? '' };
}

function tlsProblems(v: Values, required: boolean): string[] {
  const errors: string[] = [];
  const any = ['cert', 'key', 'keyPassphraseFile', 'servername'].some((k) => (v[k] ?? '') !== '');
  if (!v.ca && (any || required)) errors.push(required ? 'TLS CA file is empty: the audit repository needs TLS' : 'TLS CA file is needed when any TLS field is given');
  if (!v.cert !== !v.key) errors.push('TLS certificate and TLS key go together: give both or neither');
  if (v.keyPassphraseFile && !v.key) errors.push('Key passphrase file is given without a TLS key');
  return errors;
}

function tlsOf(v: Values): TlsFiles | undefined {
  if (!v.ca) return undefined;
  return {
    ca: v.ca,
    ...(v.cert ? { cert: v.cert } : {}),
    ...(v.key ? { key: v.key } : {}),
    ...(v.keyPassphraseFile ? { keyPassphraseFile: v.keyPassphraseFile } : {}),
    ...(v.servername ? { servername: v.servername } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// PACS nodes

const PACS_FIELDS: readonly FieldSpec[] = [
  { id: 'name', label: 'Name *', placeholder: 'Main PACS' },
  { id: 'host', label: 'Host *', placeholder: 'pacs.example.org' },
  { id: 'port', label: 'Port *' },
  { id: 'calledAE', label: 'Called AE title *', placeholder: 'PACS' },
  { id: 'callingAE', label: 'Calling AE title', placeholder: 'optional (DCMSAFE)' },
  ...TLS_FIELDS,
];

function pacsValues(node: PacsNode): Record<string, string> {
  return { name: node.name, host: node.host, port: String(node.port), calledAE: node.calledAE, callingAE: node.callingAE ?? '', ...tlsValues(node.tls) };
}

function pacsProblems(v: Values, nodes: readonly PacsNode[], editing: PacsNode | undefined): string[] {
  const errors = nameProblems('Name', v.name ?? '', nodes, editing);
  for (const problem of [hostProblem('Host', v.host ?? ''), portProblem('Port', v.port ?? ''), aeProblem('Called AE title', v.calledAE ?? ''), v.callingAE ? aeProblem('Calling AE title', v.callingAE) : undefined]) {
    if (problem) errors.push(problem);
  }
  return [...errors, ...tlsProblems(v, false)];
}

function pacsNode(v: Values): PacsNode {
  const tls = tlsOf(v);
  return { name: v.name ?? '', host: v.host ?? '', port: Number(v.port), calledAE: v.calledAE ?? '', ...(v.callingAE ? { callingAE: v.callingAE } : {}), ...(tls ? { tls } : {}) };
}

function pacsLabel(n: PacsNode): string {
  return `${fit(n.name, 20).padEnd(20)}  ${fit(`${n.calledAE}@${n.host}:${n.port}`, 36).padEnd(36)}  ${n.tls ? 'TLS' : 'NOT encrypted'}`;
}

type Echo = { readonly node: string; readonly running: true } | { readonly node: string; readonly running: false; readonly result: EchoResult };

function PacsStep(props: {
  readonly desk: FlowProps['desk'];
  readonly operator: string;
  readonly config: Config;
  readonly flash: Flash | undefined;
  readonly onAdd: () => void;
  readonly onEdit: (node: PacsNode) => void;
  readonly onRemove: (node: PacsNode) => void;
  readonly onBack: () => void;
}): ReactNode {
  const nodes = props.config.pacs;
  const cursor = useRef(0);
  const [echo, setEcho] = useState<Echo | undefined>();
  const running = useRef(false);
  const current = (): PacsNode | undefined => nodes[Math.min(cursor.current, nodes.length - 1)];
  const test = (node: PacsNode): void => {
    if (running.current) return;
    running.current = true;
    setEcho({ node: node.name, running: true });
    props.desk
      .echo(node)
      .catch((e: unknown): EchoResult => ({ ok: false, text: messageOf(e) }))
      .then((result) => {
        running.current = false;
        setEcho({ node: node.name, running: false, result });
      })
      .catch(() => undefined);
  };
  useInput((input, key) => {
    const node = current();
    if (key.escape) props.onBack();
    else if (input === 'n') props.onAdd();
    else if (node && (input === 'e' || key.return)) props.onEdit(node);
    else if (node && input === 't') test(node);
    else if (node && input === 'd') props.onRemove(node);
  });
  const keys: KeyHint[] = nodes.length
    ? [{ key: 'n', does: 'new' }, { key: 'e/Enter', does: 'edit' }, { key: 't', does: 'test (echo)' }, { key: 'd', does: 'remove' }, BACK]
    : [{ key: 'n', does: 'new' }, BACK];
  return (
    <Screen title="Settings · PACS nodes" operator={props.operator} keys={keys}>
      <FlashLine flash={props.flash} />
      {nodes.length === 0 ? (
        <Text>No PACS nodes yet: press n to add one.</Text>
      ) : (
        <>
          <Text>{`  ${'Name'.padEnd(20)}  ${'AE title@host:port'.padEnd(36)}  Security`}</Text>
          <SelectList items={nodes.map((n) => ({ label: pacsLabel(n), value: n }))} rows={LIST_ROWS} onCursor={(i) => (cursor.current = i)} />
        </>
      )}
      {echo ? <Text> </Text> : null}
      {echo?.running ? <Text>{`Testing ${echo.node} (C-ECHO)…`}</Text> : null}
      {echo && !echo.running ? (
        <Text wrap="wrap">
          <Text bold color={tint(echo.result.ok ? 'green' : 'red')}>
            {echo.result.ok ? '✔ Echo OK' : '✖ Echo FAILED'}
          </Text>
          {` (${echo.node}): ${echo.result.text}`}
        </Text>
      ) : null}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// Trust anchors and recipient institutions

function TrustStep(props: {
  readonly operator: string;
  readonly config: Config;
  readonly flash: Flash | undefined;
  readonly onAdd: () => void;
  readonly onRemove: (path: string) => void;
  readonly onBack: () => void;
}): ReactNode {
  const trust = props.config.trust;
  const cursor = useRef(0);
  useInput((input, key) => {
    const path = trust[Math.min(cursor.current, trust.length - 1)];
    if (key.escape) props.onBack();
    else if (input === 'n') props.onAdd();
    else if (path !== undefined && input === 'd') props.onRemove(path);
  });
  return (
    <Screen title="Settings · Trust anchors" operator={props.operator} keys={trust.length ? [{ key: 'n', does: 'add' }, { key: 'd', does: 'remove' }, BACK] : [{ key: 'n', does: 'add' }, BACK]}>
      <FlashLine flash={props.flash} />
      <Text wrap="wrap">The CA certificates (PEM bundles or folders) that signatures on media are checked against.</Text>
      <Text> </Text>
      {trust.length === 0 ? <Text>No trust anchors yet: press n to add one.</Text> : <SelectList items={trust.map((p) => ({ label: p, value: p }))} rows={LIST_ROWS} onCursor={(i) => (cursor.current = i)} />}
    </Screen>
  );
}

function RecipientsStep(props: {
  readonly operator: string;
  readonly config: Config;
  readonly flash: Flash | undefined;
  readonly onAdd: () => void;
  readonly onRemove: (r: Recipient) => void;
  readonly onBack: () => void;
}): ReactNode {
  const recipients = props.config.recipients;
  const cursor = useRef(0);
  useInput((input, key) => {
    const r = recipients[Math.min(cursor.current, recipients.length - 1)];
    if (key.escape) props.onBack();
    else if (input === 'n') props.onAdd();
    else if (r !== undefined && input === 'd') props.onRemove(r);
  });
  return (
    <Screen
      title="Settings · Recipient institutions"
      operator={props.operator}
      keys={recipients.length ? [{ key: 'n', does: 'add' }, { key: 'd', does: 'remove' }, BACK] : [{ key: 'n', does: 'add' }, BACK]}
    >
      <FlashLine flash={props.flash} />
      <Text wrap="wrap">Institutions media can be encrypted for, each with its certificate.</Text>
      <Text> </Text>
      {recipients.length === 0 ? (
        <Text>No recipient institutions yet: press n to add one.</Text>
      ) : (
        <SelectList items={recipients.map((r) => ({ label: `${fit(r.name, 30).padEnd(30)}  ${r.certificate}`, value: r }))} rows={LIST_ROWS} onCursor={(i) => (cursor.current = i)} />
      )}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// Audit repository

const AUDIT_FIELDS: readonly FieldSpec[] = [
  { id: 'log', label: 'Audit log file', placeholder: 'optional: a local copy of every message' },
  { id: 'host', label: 'Repository host', placeholder: 'audit.example.org (empty: no repository)' },
  { id: 'port', label: 'Repository port', placeholder: '6514' },
  ...TLS_FIELDS,
];

function auditValues(config: Config): Record<string, string> {
  const r = config.audit.repository;
  return { log: config.audit.log ?? '', host: r?.host ?? '', port: r ? String(r.port) : '', ...tlsValues(r?.tls) };
}

function auditProblems(v: Values, config: Config): string[] {
  const repositoryGiven = AUDIT_FIELDS.some((f) => f.id !== 'log' && (v[f.id] ?? '') !== '');
  if (!repositoryGiven) {
    return config.audit.repository ? ['The repository fields are empty: to stop sending audit messages, press Esc, then c (clear)'] : [];
  }
  const errors: string[] = [];
  for (const problem of [hostProblem('Repository host', v.host ?? ''), portProblem('Repository port', v.port ?? '')]) if (problem) errors.push(problem);
  return [...errors, ...tlsProblems(v, true)];
}

function auditOf(v: Values, config: Config): Config['audit'] {
  const { log: _log, repository: _repository, ...rest } = config.audit;
  const tls = tlsOf(v);
  const repository: AuditRepository | undefined = v.host && tls ? { host: v.host, port: Number(v.port), tls } : undefined;
  return { ...rest, ...(v.log ? { log: v.log } : {}), ...(repository ? { repository } : {}) };
}

function AuditStep(props: {
  readonly operator: string;
  readonly config: Config;
  readonly flash: Flash | undefined;
  readonly onEdit: () => void;
  readonly onClear: () => void;
  readonly onBack: () => void;
}): ReactNode {
  const { log, repository: r } = props.config.audit;
  useInput((input, key) => {
    if (key.escape) props.onBack();
    else if (input === 'e' || key.return) props.onEdit();
    else if (input === 'c' && r) props.onClear();
  });
  const keys: KeyHint[] = [{ key: 'e/Enter', does: 'change' }, ...(r ? [{ key: 'c', does: 'clear the repository' }] : []), BACK];
  return (
    <Screen title="Settings · Audit repository" operator={props.operator} keys={keys}>
      <FlashLine flash={props.flash} />
      <Text wrap="wrap">Who did what with which patient's images is recorded as audit messages (DICOM PS3.15 A.5).</Text>
      <Text> </Text>
      <Text>{fit(`Audit log file:  ${log ?? 'not set'}`, 78)}</Text>
      {r ? (
        <Box flexDirection="column">
          <Text>{fit(`Repository:      ${r.host}:${r.port} (TLS)`, 78)}</Text>
          <Text>{fit(`TLS CA file:     ${r.tls.ca}`, 78)}</Text>
          {r.tls.cert ? <Text>{fit(`TLS certificate: ${r.tls.cert}`, 78)}</Text> : null}
        </Box>
      ) : (
        <Text>Repository:      not set: audit messages are not sent anywhere</Text>
      )}
    </Screen>
  );
}

// ---------------------------------------------------------------------------------------------
// Operators

function lastSignIn(o: OperatorInfo): string {
  return o.lastSignIn ? o.lastSignIn.slice(0, 16).replace('T', ' ') : 'never';
}

function operatorStatus(o: OperatorInfo): string {
  if (o.locked) return `✖ locked (${o.failedAttempts} failed)`;
  if (o.failedAttempts > 0) return `! ${o.failedAttempts} failed attempt${o.failedAttempts === 1 ? '' : 's'}`;
  return '✔ can sign in';
}

type Loaded<T> = { readonly state: 'loading' } | { readonly state: 'ok'; readonly value: T } | { readonly state: 'error'; readonly message: string };

function OperatorsStep(props: {
  readonly desk: FlowProps['desk'];
  readonly operator: string;
  readonly flash: Flash | undefined;
  readonly onNew: () => void;
  readonly onRemove: (o: OperatorInfo) => void;
  readonly onBack: () => void;
}): ReactNode {
  const [list, setList] = useState<Loaded<readonly OperatorInfo[]>>({ state: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const [note, setNote] = useState<Flash | undefined>();
  const cursor = useRef(0);
  useEffect(() => {
    let live = true;
    setList({ state: 'loading' });
    props.desk
      .listOperators()
      .then((value) => live && setList({ state: 'ok', value }))
      .catch((e: unknown) => live && setList({ state: 'error', message: messageOf(e) }));
    return () => {
      live = false;
    };
  }, [props.desk, attempt]);
  const operators = list.state === 'ok' ? list.value : [];
  useInput((input, key) => {
    const o = operators[Math.min(cursor.current, operators.length - 1)];
    if (key.escape) props.onBack();
    else if (input === 'r' && list.state === 'error') setAttempt((a) => a + 1);
    else if (input === 'n' && list.state !== 'loading') props.onNew();
    else if (o && input === 'd') {
      if (o.name === props.operator) setNote({ kind: 'error', text: `You cannot remove yourself (${o.name}): another administrator can.` });
      else props.onRemove(o);
    }
  });
  const keys: KeyHint[] =
    list.state === 'error' ? [{ key: 'r', does: 'try again' }, BACK] : [{ key: '↑↓', does: 'move' }, { key: 'n', does: 'new operator' }, { key: 'd', does: 'remove' }, BACK];
  return (
    <Screen title="Settings · Operators" operator={props.operator} keys={keys}>
      <FlashLine flash={note ?? props.flash} />
      {list.state === 'loading' ? <Text>Loading the operators…</Text> : null}
      {list.state === 'error' ? <Notice kind="error">{`The operators could not be read: ${list.message}`}</Notice> : null}
      {list.state === 'ok' ? (
        <>
          <Text>{`  ${'User name'.padEnd(16)}  ${'Role'.padEnd(5)}  ${'Status'.padEnd(22)}  Last sign-in`}</Text>
          <SelectList
            items={operators.map((o) => ({ label: `${fit(o.name, 16).padEnd(16)}  ${o.role.padEnd(5)}  ${operatorStatus(o).padEnd(22)}  ${lastSignIn(o)}`, value: o }))}
            rows={LIST_ROWS}
            onCursor={(i) => {
              cursor.current = i;
              setNote(undefined);
            }}
          />
        </>
      ) : null}
    </Screen>
  );
}

type NewStage = 'name' | 'role' | 'password' | 'repeat';
const STAGES: readonly NewStage[] = ['name', 'role', 'password', 'repeat'];

const ROLE_ITEMS: readonly ListItem<Role>[] = [
  { label: 'clerk', value: 'clerk', note: 'makes, checks and imports media' },
  { label: 'admin', value: 'admin', note: 'also changes settings and operators' },
];

function OperatorNew(props: { readonly desk: FlowProps['desk']; readonly operator: string; readonly onDone: (message: string) => void; readonly onBack: () => void }): ReactNode {
  const [stage, setStage] = useState<NewStage>('name');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('clerk');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const busyRef = useRef(false);
  const first = useRef(password);
  first.current = password;

  useInput((_input, key) => {
    if (busyRef.current || !key.escape) return;
    setError(undefined);
    const i = STAGES.indexOf(stage);
    if (i === 0) props.onBack();
    else {
      // Leaving the passwords forgets them: they are typed again, both.
      setPassword('');
      setRepeat('');
      setStage(STAGES[i - 1] ?? 'name');
    }
  });

  const add = (second: string): void => {
    if (second !== first.current) {
      setError('The two passwords are not the same: type the password again');
      setPassword('');
      setRepeat('');
      setStage('password');
      return;
    }
    busyRef.current = true;
    setBusy(true);
    setError(undefined);
    props.desk
      .addOperator(name, role, first.current)
      .then(() => props.onDone(`Added operator ${name} (${role}): they can sign in now`))
      .catch((e: unknown) => {
        busyRef.current = false;
        setBusy(false);
        setError(messageOf(e));
        setPassword('');
        setRepeat('');
        setStage('password');
      });
  };

  const keys: KeyHint[] = stage === 'role' ? [{ key: '↑↓', does: 'choose' }, { key: 'Enter', does: 'next' }, BACK] : [{ key: 'Enter', does: stage === 'repeat' ? 'add the operator' : 'next' }, BACK];
  const at = STAGES.indexOf(stage);
  return (
    <Screen title={`Settings · Operators · New (${at + 1} of 4)`} operator={props.operator} keys={keys}>
      {at > 0 ? <Text>{fit(`User name: ${name}`, 78)}</Text> : null}
      {at > 1 ? <Text>{`Role:      ${role}`}</Text> : null}
      {at > 0 ? <Text> </Text> : null}
      {stage === 'name' ? (
        <TextField
          label="User name"
          value={name}
          placeholder="e.g. bob"
          onChange={(v) => {
            setName(v);
            setError(undefined);
          }}
          onSubmit={(v) => {
            const n = v.trim();
            if (n === '') setError('The user name is empty: type the name they will sign in with');
            else {
              setName(n);
              setStage('role');
            }
          }}
        />
      ) : null}
      {stage === 'role' ? (
        <>
          <Text>What may they do?</Text>
          <SelectList
            items={ROLE_ITEMS}
            onSelect={(r) => {
              setRole(r);
              setStage('password');
            }}
          />
        </>
      ) : null}
      {stage === 'password' || stage === 'repeat' ? (
        <>
          <TextField
            label="Password       "
            value={password}
            mask
            active={stage === 'password' && !busy}
            onChange={setPassword}
            onSubmit={(v) => {
              first.current = v;
              setPassword(v);
              setError(undefined);
              setStage('repeat');
            }}
          />
          {stage === 'repeat' ? <TextField label="Repeat password" value={repeat} mask active={!busy} onChange={setRepeat} onSubmit={add} /> : null}
          <Text> </Text>
          <Text wrap="wrap">At least 12 characters; a few unrelated words work well. Tell it to them in person.</Text>
        </>
      ) : null}
      {busy ? <Text>Adding…</Text> : null}
      {error ? (
        <>
          <Text> </Text>
          <Notice kind="error">{error}</Notice>
        </>
      ) : null}
    </Screen>
  );
}
