/**
 * The front desk (`dcmsafe ui`): sign-in, the home screen, and the task flows (burn, import, verify,
 * settings for admins). The app only routes between screens; the flows hold their own state and do
 * their work through DeskServices.
 */
import { Box, Text, useInput } from 'ink';
import { useRef, useState, type ReactNode } from 'react';
import { BurnFlow } from './burn.js';
import { Notice, Screen, SelectList, TextField, type ListItem } from './components.js';
import type { DeskServices, OperatorInfo } from './desk.js';
import { ImportFlow } from './import.js';
import { SettingsFlow } from './settings.js';

type Task = 'burn' | 'import' | 'verify' | 'settings' | 'sign-out';

export function SignIn(props: { readonly desk: DeskServices; readonly onSignedIn: (operator: OperatorInfo) => void; readonly message?: string }): ReactNode {
  const [user, showUser] = useState('');
  const userRef = useRef('');
  const setUser = (v: string): void => {
    userRef.current = v;
    showUser(v);
  };
  const [password, setPassword] = useState('');
  const [field, showField] = useState<'user' | 'password'>('user');
  // Which field takes the keys, known at once (not at the next render), so that what is typed right
  // after Enter or Tab reaches the next field. The Enter that leaves the name may then reach the
  // password field as well: Enter on an empty password does nothing (no account has one).
  const focused = useRef<'user' | 'password'>('user');
  const setField = (next: 'user' | 'password' | ((f: 'user' | 'password') => 'user' | 'password')): void => {
    const to = typeof next === 'function' ? next(focused.current) : next;
    focused.current = to;
    showField(to);
  };
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const busyRef = useRef(false);
  const submit = (typed: string): void => {
    if (busyRef.current || typed === '') return;
    const name = userRef.current;
    if (name.trim() === '') {
      setField('user');
      return;
    }
    busyRef.current = true;
    setBusy(true);
    setError(undefined);
    props.desk.signIn(name.trim(), typed).then(
      (r) => {
        busyRef.current = false;
        setBusy(false);
        setPassword('');
        if (r.ok) props.onSignedIn(r.operator);
        else {
          setError(r.reason);
          setField('password');
        }
      },
      (e: unknown) => {
        busyRef.current = false;
        setBusy(false);
        setPassword('');
        setError(e instanceof Error ? e.message : String(e));
      },
    );
  };
  useInput((_input, key) => {
    if (key.tab || key.upArrow || key.downArrow) setField((f) => (f === 'user' ? 'password' : 'user'));
  });
  const config = props.desk.config();
  return (
    <Screen
      title="Sign in"
      keys={[
        { key: 'Tab', does: 'next field' },
        { key: 'Enter', does: 'sign in' },
        { key: 'Ctrl+C', does: 'quit' },
      ]}
    >
      <Text>{config.institution ? `${config.institution.name}: ` : ''}make and check patient media (CD, DVD, USB, ZIP).</Text>
      <Text> </Text>
      {props.message ? <Notice kind="info">{props.message}</Notice> : null}
      <TextField label="Operator" value={user} onChange={setUser} onSubmit={() => setField('password')} active={!busy && field === 'user'} hasFocus={() => !busyRef.current && focused.current === 'user'} />
      <TextField label="Password" value={password} onChange={setPassword} onSubmit={submit} mask active={!busy && field === 'password'} hasFocus={() => !busyRef.current && focused.current === 'password'} />
      <Text> </Text>
      {busy ? <Text>Checking…</Text> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
    </Screen>
  );
}

export function Home(props: { readonly operator: OperatorInfo; readonly onChoose: (task: Task) => void }): ReactNode {
  const items: ListItem<Task>[] = [
    { label: 'Burn media', value: 'burn', note: "— a patient's studies on CD, DVD, USB or ZIP" },
    { label: 'Import media', value: 'import', note: '— check an outside disc and send it to the PACS' },
    { label: 'Verify media', value: 'verify', note: '— only check a disc: who made it, was it changed' },
    ...(props.operator.role === 'admin' ? [{ label: 'Settings', value: 'settings' as const, note: '— operators, PACS, recipients, trust' }] : []),
    { label: 'Sign out', value: 'sign-out' },
  ];
  useInput((_input, key) => {
    if (key.escape) props.onChoose('sign-out');
  });
  return (
    <Screen
      title="Home"
      operator={`${props.operator.name} (${props.operator.role})`}
      keys={[
        { key: '↑↓', does: 'move' },
        { key: 'Enter', does: 'open' },
        { key: 'Esc', does: 'sign out' },
      ]}
    >
      <Text>What would you like to do?</Text>
      <Text> </Text>
      <SelectList items={items} onSelect={props.onChoose} />
    </Screen>
  );
}

export function App(props: { readonly desk: DeskServices; readonly now?: () => number }): ReactNode {
  const [operator, setOperator] = useState<OperatorInfo>();
  const [task, setTask] = useState<Task | 'home'>('home');
  const [message, setMessage] = useState<string>();
  const [signingOut, setSigningOut] = useState(false);
  const home = (): void => setTask('home');
  const signOut = (): void => {
    setSigningOut(true);
    const done = (text: string): void => {
      setSigningOut(false);
      setOperator(undefined);
      setTask('home');
      setMessage(text);
    };
    props.desk.signOut().then(
      () => done(`${operator?.name ?? 'You'} signed out.`),
      (e: unknown) => done(`Signed out (the audit trail said: ${e instanceof Error ? e.message : String(e)}).`),
    );
  };
  if (signingOut) return <Box><Text>Signing out…</Text></Box>;
  if (!operator) {
    return (
      <SignIn
        desk={props.desk}
        {...(message ? { message } : {})}
        onSignedIn={(o) => {
          setMessage(undefined);
          setOperator(o);
          setTask('home');
        }}
      />
    );
  }
  const flow = { desk: props.desk, operator, home, ...(props.now ? { now: props.now } : {}) };
  switch (task) {
    case 'burn':
      return <BurnFlow {...flow} />;
    case 'import':
      return <ImportFlow {...flow} />;
    case 'verify':
      return <ImportFlow {...flow} verifyOnly />;
    case 'settings':
      return operator.role === 'admin' ? <SettingsFlow {...flow} /> : <Home operator={operator} onChoose={(t) => (t === 'sign-out' ? signOut() : setTask(t))} />;
    default:
      return <Home operator={operator} onChoose={(t) => (t === 'sign-out' ? signOut() : setTask(t))} />;
  }
}
