/**
 * Specific Character Set (0008,0005), PS3.3 C.12.1.1.2 and PS3.5 §6.1: decoding text values for
 * display and comparison. Values are never re-encoded on media: directory records copy the instance's
 * bytes and its Specific Character Set, so what is written is what the modality wrote.
 */
import { TextDecoder } from 'node:util';

/**
 * WHATWG encoding labels of the character sets a Specific Character Set value designates without code
 * extensions, by defined term (the reconciliation's encoder derives its own from this too).
 */
export const SINGLE_BYTE_CHARSETS: Readonly<Record<string, string>> = {
  'ISO_IR 6': 'ascii',
  'ISO_IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 13': 'shift_jis',
  'ISO_IR 166': 'windows-874',
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** Code extension terms (ISO 2022) and the decoder for the bytes they designate. */
const ISO_2022: Record<string, string> = {
  'ISO 2022 IR 6': 'ascii',
  'ISO 2022 IR 100': 'latin1',
  'ISO 2022 IR 101': 'iso-8859-2',
  'ISO 2022 IR 109': 'iso-8859-3',
  'ISO 2022 IR 110': 'iso-8859-4',
  'ISO 2022 IR 144': 'iso-8859-5',
  'ISO 2022 IR 127': 'iso-8859-6',
  'ISO 2022 IR 126': 'iso-8859-7',
  'ISO 2022 IR 138': 'iso-8859-8',
  'ISO 2022 IR 148': 'iso-8859-9',
  'ISO 2022 IR 203': 'iso-8859-15',
  'ISO 2022 IR 13': 'shift_jis',
  'ISO 2022 IR 166': 'windows-874',
  'ISO 2022 IR 87': 'iso-2022-jp',
  'ISO 2022 IR 159': 'iso-2022-jp',
  'ISO 2022 IR 149': 'euc-kr',
  'ISO 2022 IR 58': 'gbk',
};

/** Escape sequences (PS3.3 Table C.12-3/4) mapped to the term they switch to. */
const ESCAPES: Array<[string, string]> = [
  ['\x1b(B', 'ISO 2022 IR 6'],
  ['\x1b-A', 'ISO 2022 IR 100'],
  ['\x1b-B', 'ISO 2022 IR 101'],
  ['\x1b-C', 'ISO 2022 IR 109'],
  ['\x1b-D', 'ISO 2022 IR 110'],
  ['\x1b-L', 'ISO 2022 IR 144'],
  ['\x1b-G', 'ISO 2022 IR 127'],
  ['\x1b-F', 'ISO 2022 IR 126'],
  ['\x1b-H', 'ISO 2022 IR 138'],
  ['\x1b-M', 'ISO 2022 IR 148'],
  ['\x1b-b', 'ISO 2022 IR 203'],
  ['\x1b)I', 'ISO 2022 IR 13'],
  ['\x1b(J', 'ISO 2022 IR 13'],
  ['\x1b-T', 'ISO 2022 IR 166'],
  ['\x1b$B', 'ISO 2022 IR 87'],
  ['\x1b$(D', 'ISO 2022 IR 159'],
  ['\x1b$)C', 'ISO 2022 IR 149'],
  ['\x1b$)A', 'ISO 2022 IR 58'],
];

/** Misspellings seen in real files, mapped to the defined term they mean. */
const MISSPELLINGS: Record<string, string> = {
  'ISO-IR 100': 'ISO_IR 100',
  'ISO_IR100': 'ISO_IR 100',
  'ISO IR 100': 'ISO_IR 100',
  'ISO-IR 192': 'ISO_IR 192',
  'ISO_IR192': 'ISO_IR 192',
  'UTF-8': 'ISO_IR 192',
  'UTF8': 'ISO_IR 192',
  'ISO-IR 144': 'ISO_IR 144',
  'ISO-IR 101': 'ISO_IR 101',
};

/** The defined term a value means, fixing known misspellings; empty for the default repertoire. */
export function normalizeCharsetTerm(term: string): string {
  const t = term.trim();
  return MISSPELLINGS[t] ?? MISSPELLINGS[t.toUpperCase()] ?? t;
}

export function isKnownCharsetTerm(term: string): boolean {
  const t = term.trim();
  return t === '' || t in SINGLE_BYTE_CHARSETS || t in ISO_2022;
}

function decoderFor(label: string): TextDecoder {
  return new TextDecoder(label === 'ascii' ? 'latin1' : label, { fatal: false });
}

const decoders = new Map<string, TextDecoder>();
function decode(bytes: Uint8Array, label: string): string {
  let d = decoders.get(label);
  if (!d) {
    d = decoderFor(label);
    decoders.set(label, d);
  }
  return d.decode(bytes);
}

/**
 * Decodes a text value with the data set's Specific Character Set values. Without code extensions
 * this is one decoder; with them (ISO 2022), the bytes are split at escape sequences and each run is
 * decoded in the repertoire its escape designates. Unknown terms decode as Latin-1, never fail.
 */
export function decodeText(bytes: Uint8Array, charsets: readonly string[]): string {
  const terms = charsets.map(normalizeCharsetTerm);
  const first = terms[0] ?? '';
  const hasEscape = bytes.includes(0x1b);
  if (!hasEscape || terms.length <= 1) {
    const label = SINGLE_BYTE_CHARSETS[first] ?? ISO_2022[first] ?? (first === '' ? 'latin1' : 'latin1');
    if (!hasEscape || label === 'iso-2022-jp') return decode(bytes, label);
  }
  let out = '';
  let current = ISO_2022[first] ?? SINGLE_BYTE_CHARSETS[first] ?? 'latin1';
  let start = 0;
  let i = 0;
  const flush = (end: number): void => {
    if (end > start) out += decode(bytes.subarray(start, end), current);
  };
  while (i < bytes.length) {
    if (bytes[i] === 0x1b) {
      const match = ESCAPES.find(([esc]) => esc.length <= bytes.length - i && [...esc].every((c, k) => bytes[i + k] === c.charCodeAt(0)));
      if (match) {
        flush(i);
        const [esc, term] = match;
        current = ISO_2022[term] ?? 'latin1';
        // iso-2022-jp decoders need their escape; the others do not understand it.
        start = current === 'iso-2022-jp' ? i : i + esc.length;
        i += esc.length;
        continue;
      }
    }
    i++;
  }
  flush(bytes.length);
  return out;
}

/** True if any byte is outside the default repertoire (ISO-IR 6): then Specific Character Set matters. */
export function needsSpecificCharacterSet(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80 || b === 0x1b) return true;
  return false;
}
