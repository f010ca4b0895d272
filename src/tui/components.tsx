/**
 * The front desk's building blocks: a screen frame (title, body, the keys that work here), lists
 * picked with the keyboard, a text field, a progress bar and a capacity gauge. Everything fits in
 * 80 columns, and meaning is carried by words and symbols; colour only repeats it (and NO_COLOR
 * turns it off).
 */
import { Box, Text, useInput } from 'ink';
import { useRef, useState, type ReactNode } from 'react';

/** The screen width the front desk is designed for (an 80×24 terminal). */
export const WIDTH = 80;

/** Colour, unless the user asked for none (https://no-color.org). */
export function tint(color: string): string | undefined {
  return process.env.NO_COLOR ? undefined : color;
}

export interface KeyHint {
  readonly key: string;
  readonly does: string;
}

/** Fits text into `width` columns, cutting with an ellipsis. */
export function fit(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** The keys line: every screen says which keys do what. */
export function KeyHints({ keys }: { readonly keys: readonly KeyHint[] }): ReactNode {
  const text = keys.map((k) => `${k.key} ${k.does}`).join('   ');
  return <Text dimColor={!process.env.NO_COLOR}>{fit(text, WIDTH - 1)}</Text>;
}

export function Screen(props: { readonly title: string; readonly operator?: string; readonly keys: readonly KeyHint[]; readonly children?: ReactNode }): ReactNode {
  const right = props.operator ? `signed in: ${props.operator}` : '';
  const left = fit(`dcmsafe · ${props.title}`, WIDTH - 3 - right.length);
  return (
    <Box flexDirection="column" width={WIDTH - 1}>
      <Box justifyContent="space-between">
        <Text bold>{left}</Text>
        <Text>{right}</Text>
      </Box>
      <Text>{'─'.repeat(WIDTH - 1)}</Text>
      <Box flexDirection="column" minHeight={18}>
        {props.children}
      </Box>
      <Text>{'─'.repeat(WIDTH - 1)}</Text>
      <KeyHints keys={props.keys} />
    </Box>
  );
}

/** Esc goes back: the one key every screen of the front desk shares. */
export function useEscape(back: () => void, active = true): void {
  useInput((_input, key) => {
    if (key.escape) back();
  }, { isActive: active });
}

/** A message that needs attention, said with a symbol and a word, colour only repeating it. */
export function Notice({ kind, children }: { readonly kind: 'ok' | 'warning' | 'error' | 'info'; readonly children: ReactNode }): ReactNode {
  const mark = { ok: '✔ OK:', warning: '! WARNING:', error: '✖ ERROR:', info: 'i' }[kind];
  const color = { ok: 'green', warning: 'yellow', error: 'red', info: 'cyan' }[kind];
  return (
    <Text wrap="wrap">
      <Text bold color={tint(color)}>
        {mark}
      </Text>{' '}
      {children}
    </Text>
  );
}

export interface ListItem<T> {
  readonly label: string;
  readonly value: T;
  readonly disabled?: boolean;
  readonly note?: string;
}

/**
 * A list picked with ↑/↓ (or j/k), Home/End, PgUp/PgDn; Enter chooses. With `multi`, Space marks
 * items ([x]) and Enter takes the marked ones. Long lists scroll within `rows` lines.
 */
export function SelectList<T>(props: {
  readonly items: readonly ListItem<T>[];
  readonly onSelect?: (value: T) => void;
  readonly multi?: boolean;
  readonly marked?: ReadonlySet<number>;
  readonly onMark?: (marked: ReadonlySet<number>) => void;
  readonly onSubmit?: (marked: ReadonlySet<number>) => void;
  readonly onCursor?: (index: number) => void;
  readonly rows?: number;
  readonly active?: boolean;
}): ReactNode {
  const rows = props.rows ?? 10;
  const [cursor, setCursor] = useState(() => Math.max(0, props.items.findIndex((i) => !i.disabled)));
  // Keys can arrive faster than renders (a paste, a held key): the handler reads the latest values here.
  const latest = useRef({ cursor, marked: props.marked ?? new Set<number>() });
  const [ownMarked, setOwnMarked] = useState<ReadonlySet<number>>(new Set());
  const marked = props.marked ?? ownMarked;
  latest.current.marked = marked;
  latest.current.cursor = Math.min(latest.current.cursor, Math.max(0, props.items.length - 1));
  const move = (to: number): void => {
    const n = Math.max(0, Math.min(props.items.length - 1, to));
    latest.current.cursor = n;
    setCursor(n);
    props.onCursor?.(n);
  };
  const mark = (next: ReadonlySet<number>): void => {
    latest.current.marked = next;
    setOwnMarked(next);
    props.onMark?.(next);
  };
  useInput(
    (input, key) => {
      const { cursor, marked } = latest.current;
      if (key.upArrow || input === 'k') move(cursor - 1);
      else if (key.downArrow || input === 'j') move(cursor + 1);
      else if (key.pageUp) move(cursor - rows);
      else if (key.pageDown) move(cursor + rows);
      else if (key.home) move(0);
      else if (key.end) move(props.items.length - 1);
      else if (props.multi && input === ' ') {
        if (props.items[cursor]?.disabled) return;
        const next = new Set(marked);
        if (next.has(cursor)) next.delete(cursor);
        else next.add(cursor);
        mark(next);
      } else if (props.multi && input === 'a') {
        mark(new Set(props.items.map((_, i) => i).filter((i) => !props.items[i]?.disabled)));
      } else if (key.return) {
        if (props.multi) props.onSubmit?.(marked);
        else {
          const item = props.items[cursor];
          if (item && !item.disabled) props.onSelect?.(item.value);
        }
      }
    },
    { isActive: props.active !== false },
  );
  const shownCursor = Math.min(cursor, Math.max(0, props.items.length - 1));
  const start = Math.max(0, Math.min(shownCursor - Math.floor(rows / 2), props.items.length - rows));
  const shown = props.items.slice(start, start + rows);
  return (
    <Box flexDirection="column">
      {start > 0 ? <Text dimColor>{`  ↑ ${start} more`}</Text> : null}
      {shown.map((item, i) => {
        const index = start + i;
        const here = index === shownCursor;
        const box = props.multi ? (marked.has(index) ? '[x] ' : '[ ] ') : '';
        const line = fit(`${here ? '›' : ' '} ${box}${item.label}${item.note ? `  ${item.note}` : ''}`, WIDTH - 2);
        return (
          <Text key={index} bold={here} inverse={here && !process.env.NO_COLOR} dimColor={item.disabled === true}>
            {line}
            {item.disabled ? ' (not available)' : ''}
          </Text>
        );
      })}
      {start + rows < props.items.length ? <Text dimColor>{`  ↓ ${props.items.length - start - rows} more`}</Text> : null}
    </Box>
  );
}

/** A one-line text field: type, Backspace, Ctrl+U clears, Enter submits. `mask` hides what is typed. */
export function TextField(props: {
  readonly label: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly onSubmit?: (value: string) => void;
  readonly mask?: boolean;
  readonly active?: boolean;
  readonly placeholder?: string;
  /**
   * For screens with several fields typed in a row: the field listens whenever this says it has the
   * focus, asked at each key rather than at the last render, so text typed right after Enter or Tab
   * reaches the next field even before the screen is drawn again (else the old field, still listening,
   * would take it: a password typed fast into the name field).
   */
  readonly hasFocus?: () => boolean;
}): ReactNode {
  // The value as typed so far, ahead of the next render (keys can come faster than renders).
  const value = useRef(props.value);
  value.current = props.value;
  const change = (next: string): void => {
    value.current = next;
    props.onChange(next);
  };
  useInput(
    (input, key) => {
      if (props.hasFocus && !props.hasFocus()) return;
      // A terminal may hand over typed-ahead text and its Enter as one chunk (a paste, a barcode
      // reader, a fast typist): the text before the line end goes in, then the field is submitted.
      const lineEnd = key.return ? -1 : input.search(/[\r\n]/);
      if (lineEnd >= 0) {
        change(value.current + [...input.slice(0, lineEnd)].filter((c) => c >= ' ' && c !== '\u007f').join(''));
        props.onSubmit?.(value.current);
      } else if (key.return) props.onSubmit?.(value.current);
      else if (key.backspace || key.delete) change(value.current.slice(0, -1));
      else if (key.ctrl && input === 'u') change('');
      else if (!key.ctrl && !key.meta && !key.escape && !key.tab && !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow && input) {
        // Pasted text arrives as one input; control characters never enter a field.
        change(value.current + [...input].filter((c) => c >= ' ' && c !== '\u007f').join(''));
      }
    },
    { isActive: props.hasFocus !== undefined || props.active !== false },
  );
  const shown = props.mask ? '•'.repeat(props.value.length) : props.value;
  const focus = props.active !== false;
  return (
    <Text>
      <Text bold={focus}>{`${focus ? '›' : ' '} ${props.label}: `}</Text>
      {shown === '' && props.placeholder ? <Text dimColor>{props.placeholder}</Text> : <Text>{fit(shown, WIDTH - props.label.length - 6)}</Text>}
      {focus ? <Text inverse> </Text> : null}
    </Text>
  );
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

/** A bar of `width` cells: '█' done, '░' to do, with the percentage in words. */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const done = Math.round(f * width);
  return `${'█'.repeat(done)}${'░'.repeat(width - done)} ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** Progress in bytes with rate and time left (rate and time from the start). */
export function ProgressBar(props: { readonly done: number; readonly total: number; readonly startedMs: number; readonly nowMs: number; readonly unit?: 'bytes' | 'items' }): ReactNode {
  const elapsed = Math.max(0.001, (props.nowMs - props.startedMs) / 1000);
  const rate = props.done / elapsed;
  const left = rate > 0 ? (props.total - props.done) / rate : Infinity;
  const items = props.unit === 'items';
  const amount = items ? `${props.done} of ${props.total}` : `${formatBytes(props.done)} of ${formatBytes(props.total)}`;
  const speed = items ? `${rate.toFixed(1)}/s` : `${formatBytes(rate)}/s`;
  return (
    <Box flexDirection="column">
      <Text>{bar(props.total > 0 ? props.done / props.total : 0, 50)}</Text>
      <Text>{fit(`${amount} · ${speed} · ${formatDuration(left)} left`, WIDTH - 2)}</Text>
    </Box>
  );
}

/** How full the medium will be; over 100% says how many media it takes. */
export function CapacityGauge(props: { readonly bytes: number; readonly capacity?: number; readonly media: number }): ReactNode {
  if (props.capacity === undefined) return <Text>{`Size: ${formatBytes(props.bytes)} (no fixed capacity)`}</Text>;
  const fraction = props.bytes / props.capacity;
  return (
    <Box flexDirection="column">
      <Text>{`Capacity: ${bar(Math.min(1, fraction), 40)} ${formatBytes(props.bytes)} of ${formatBytes(props.capacity)}`}</Text>
      {props.media > 1 ? <Notice kind="warning">{`does not fit on one: it takes ${props.media} media, each a complete DICOM File-set`}</Notice> : null}
    </Box>
  );
}

/** DICOM PN (FAMILY^GIVEN^MIDDLE) as people read it: "FAMILY, Given Middle". */
export function personName(pn: string): string {
  const [family = '', given = '', middle = ''] = (pn.split('=')[0] ?? '').split('^');
  const rest = [given, middle].filter(Boolean).join(' ');
  return family && rest ? `${family}, ${rest}` : family || rest || '(no name)';
}

/** DICOM DA (YYYYMMDD) as YYYY-MM-DD. */
export function isoDate(da: string): string {
  return /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : da || '(unknown)';
}
