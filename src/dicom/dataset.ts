/**
 * The in-memory model of a data set (PS3.5 §7): elements keyed by tag, values kept as the bytes read
 * (in the data set's own byte order) so that they can be copied exactly. Large values are not loaded:
 * the element remembers where its value is ("bulk").
 */
import { decodeText } from './charset.js';
import { T } from './tags.js';
import type { Tag } from './tag.js';
import { isTextVR, type VR } from './vr.js';

/** One fragment of encapsulated pixel data: where its value is and how long it is. */
export interface Fragment {
  readonly offset: number;
  readonly length: number;
}

export interface Element {
  readonly tag: Tag;
  readonly vr: VR;
  /** Value length as encoded; undefined for undefined length (0xFFFFFFFF). */
  readonly length: number | undefined;
  /** Stream position of the element's first byte (its tag). */
  readonly offset: number;
  /** Stream position of its value. */
  readonly valueOffset: number;
  /** The value bytes, for elements other than sequences and encapsulated pixel data, unless bulk. */
  readonly value?: Buffer;
  /** Items of a sequence (SQ, or UN of undefined length holding an implicit VR sequence). */
  readonly items?: DataSet[];
  /** Fragments of encapsulated pixel data; the first one is the Basic Offset Table. */
  readonly fragments?: Fragment[];
  /** The value was too large to load; read it from `valueOffset` when needed. */
  readonly bulk?: boolean;
}

export interface Syntax {
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
}

export class DataSet {
  readonly elements = new Map<Tag, Element>();

  constructor(
    readonly syntax: Syntax,
    /** The data set that holds the sequence this item belongs to; items inherit its character set. */
    readonly parent?: DataSet,
    /** Stream position of the item (its Item tag) or of the data set's first element. */
    readonly offset = 0,
  ) {}

  get(tag: Tag): Element | undefined {
    return this.elements.get(tag);
  }

  has(tag: Tag): boolean {
    return this.elements.has(tag);
  }

  set(element: Element): void {
    this.elements.set(element.tag, element);
  }

  delete(tag: Tag): void {
    this.elements.delete(tag);
  }

  /** Elements in ascending tag order, as they must be encoded. */
  sorted(): Element[] {
    return [...this.elements.values()].sort((a, b) => a.tag - b.tag);
  }

  /** The Specific Character Set values in effect here, inherited from enclosing data sets. */
  charsets(): string[] {
    const own = this.elements.get(T.SpecificCharacterSet);
    if (own?.value) return splitValues(own.value.toString('latin1')).map((s) => s.trim());
    return this.parent ? this.parent.charsets() : [];
  }

  /** The value bytes without trailing padding (space or NUL), or undefined if absent or not loaded. */
  bytes(tag: Tag): Buffer | undefined {
    const el = this.elements.get(tag);
    if (!el?.value) return undefined;
    return trimPadding(el.value, el.vr);
  }

  /** A text value decoded with the character set in effect; undefined if absent; '' if empty. */
  string(tag: Tag): string | undefined {
    const el = this.elements.get(tag);
    if (!el) return undefined;
    if (!el.value) return '';
    const raw = trimPadding(el.value, el.vr);
    if (!isTextVR(el.vr) && el.vr !== 'UI' && el.vr !== 'UN') return raw.toString('latin1');
    return decodeText(raw, this.charsets());
  }

  /** A text value with surrounding spaces removed, or undefined if absent or empty. */
  text(tag: Tag): string | undefined {
    const s = this.string(tag)?.trim();
    return s ? s : undefined;
  }

  /** Values of a multi-valued text element, each trimmed. */
  strings(tag: Tag): string[] {
    const s = this.string(tag);
    return s === undefined || s === '' ? [] : splitValues(s).map((v) => v.trim());
  }

  /** A 16-bit unsigned value (US), or undefined. */
  uint16(tag: Tag, index = 0): number | undefined {
    const el = this.elements.get(tag);
    if (!el?.value || el.value.length < 2 * (index + 1)) return undefined;
    return this.syntax.littleEndian ? el.value.readUInt16LE(2 * index) : el.value.readUInt16BE(2 * index);
  }

  /** A 32-bit unsigned value (UL), or undefined. */
  uint32(tag: Tag, index = 0): number | undefined {
    const el = this.elements.get(tag);
    if (!el?.value || el.value.length < 4 * (index + 1)) return undefined;
    return this.syntax.littleEndian ? el.value.readUInt32LE(4 * index) : el.value.readUInt32BE(4 * index);
  }

  /** An integer from IS, US, UL, SS or SL; undefined if absent or not a number. */
  integer(tag: Tag): number | undefined {
    const el = this.elements.get(tag);
    if (!el?.value) return undefined;
    switch (el.vr) {
      case 'US':
        return this.uint16(tag);
      case 'UL':
        return this.uint32(tag);
      case 'SS':
        return el.value.length >= 2 ? (this.syntax.littleEndian ? el.value.readInt16LE(0) : el.value.readInt16BE(0)) : undefined;
      case 'SL':
        return el.value.length >= 4 ? (this.syntax.littleEndian ? el.value.readInt32LE(0) : el.value.readInt32BE(0)) : undefined;
      default: {
        const first = splitValues(el.value.toString('latin1'))[0]?.trim() ?? '';
        return /^[+-]?\d+$/.test(first) ? Number.parseInt(first, 10) : undefined;
      }
    }
  }

  /** Items of a sequence; empty if absent. */
  items(tag: Tag): DataSet[] {
    return this.elements.get(tag)?.items ?? [];
  }
}

export function splitValues(text: string): string[] {
  return text.split('\\');
}

export function trimPadding(value: Buffer, vr: VR): Buffer {
  let end = value.length;
  if (vr === 'UI' || vr === 'OB' || vr === 'UN') {
    while (end > 0 && value[end - 1] === 0x00) end--;
  } else if (isTextVR(vr)) {
    while (end > 0 && (value[end - 1] === 0x20 || value[end - 1] === 0x00)) end--;
  }
  return end === value.length ? value : value.subarray(0, end);
}
