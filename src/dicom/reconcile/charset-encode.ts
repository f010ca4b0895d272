/**
 * Encoding new text values in an instance's own repertoire (PS3.3 C.12.1.1.2 Specific Character
 * Set, PS3.5 §6.1). The rest of dcmsafe only decodes (src/dicom/charset.ts); reconciliation is the
 * one place that writes text into someone else's data set, so it must write bytes that mean what
 * the instance's Specific Character Set says they mean.
 *
 * Supported without code extensions: the default repertoire (ISO-IR 6), ISO_IR 192 (UTF-8), the
 * single-byte sets (ISO 8859 parts, TIS 620, JIS X 0201) and GB18030/GBK for their two-byte part.
 * With code extensions (ISO 2022), a value is written only if it needs no escape sequence: in the
 * repertoire designated at the start of a value by the first Specific Character Set value. Multi-
 * byte ISO 2022 sets (Japanese, Korean, Chinese ISO-IR 58) are not written: values that need them
 * are refused, and the caller falls back to UTF-8 when it may.
 */
import { TextDecoder } from 'node:util';
import { normalizeCharsetTerm, SINGLE_BYTE_CHARSETS } from '../charset.js';

/**
 * WHATWG encoding labels by defined term: the decoder's table (charset.ts). encoderFor handles ASCII,
 * Latin-1, UTF-8 and GB18030/GBK before it looks here, so what it finds is a single-byte set.
 */
const SINGLE_BYTE_LABEL = new Map(Object.entries(SINGLE_BYTE_CHARSETS));

export type TextEncoderFn = (text: string) => Buffer | undefined;

const tables = new Map<string, Map<string, number[]>>();

/** Character → bytes for a single-byte set, built by decoding every byte once. */
function singleByteTable(label: string): Map<string, number[]> {
  let t = tables.get(label);
  if (t) return t;
  t = new Map();
  const decoder = new TextDecoder(label, { fatal: true });
  for (let b = 0; b < 0x100; b++) {
    // 0x80-0x9F are C1 controls in every DICOM single-byte set (G1 is 0xA0-0xFF), whatever a
    // Windows code page puts there.
    if (b >= 0x80 && b < 0xa0) continue;
    let ch: string;
    try {
      ch = decoder.decode(Uint8Array.of(b));
    } catch {
      continue;
    }
    if (ch.length > 0 && !t.has(ch)) t.set(ch, [b]);
  }
  tables.set(label, t);
  return t;
}

/** Character → bytes for GBK (also the two-byte part of GB18030), built once on first use. */
function gbkTable(): Map<string, number[]> {
  let t = tables.get('gbk');
  if (t) return t;
  t = new Map();
  for (let b = 0; b < 0x80; b++) t.set(String.fromCharCode(b), [b]);
  const decoder = new TextDecoder('gbk', { fatal: true });
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) {
      if (trail === 0x7f) continue;
      let ch: string;
      try {
        ch = decoder.decode(Uint8Array.of(lead, trail));
      } catch {
        continue;
      }
      if (ch.length > 0 && !t.has(ch)) t.set(ch, [lead, trail]);
    }
  }
  tables.set('gbk', t);
  return t;
}

function byTable(table: Map<string, number[]>): TextEncoderFn {
  return (text) => {
    const out: number[] = [];
    for (const ch of text) {
      const bytes = table.get(ch);
      if (!bytes) return undefined;
      out.push(...bytes);
    }
    return Buffer.from(out);
  };
}

function isAsciiText(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

const ascii: TextEncoderFn = (text) => (isAsciiText(text) ? Buffer.from(text, 'latin1') : undefined);
const latin1: TextEncoderFn = (text) => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return undefined;
  return Buffer.from(text, 'latin1');
};
const utf8: TextEncoderFn = (text) => Buffer.from(text, 'utf8');

/**
 * An encoder for the repertoire a data set's Specific Character Set values (as given by
 * DataSet.charsets()) designate; it returns undefined for text the repertoire cannot hold.
 */
export function encoderFor(charsets: readonly string[]): TextEncoderFn {
  const first = normalizeCharsetTerm(charsets[0] ?? '');
  // "ISO 2022 IR 100" designates the same set as "ISO_IR 100", reached without an escape at the
  // start of a value; everything else in an ISO 2022 value would need escapes.
  const term = first.replace(/^ISO 2022 IR /, 'ISO_IR ');
  if (term === '' || term === 'ISO_IR 6') return ascii;
  if (term === 'ISO_IR 100') return latin1;
  if (term === 'ISO_IR 192') return charsets.length > 1 ? ascii : utf8;
  if (term === 'GB18030' || term === 'GBK') return charsets.length > 1 ? ascii : byTable(gbkTable());
  const label = SINGLE_BYTE_LABEL.get(term);
  if (label) return byTable(singleByteTable(label));
  // An unknown term: ASCII is the one thing every DICOM repertoire shares.
  return ascii;
}

/** True if every byte is in the default repertoire and no escape sequence is used. */
export function isAsciiBytes(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b >= 0x80 || b === 0x1b) return false;
  return true;
}
