/**
 * Numerical values, ECMA-119 §7.1-§7.3: 8-bit (§7.1.1), 16-bit both-byte orders (§7.2.3) and 32-bit
 * little endian (§7.3.1), big endian (§7.3.2) and both-byte orders (§7.3.3). Both-byte-order readers
 * require the two halves to agree: a disagreement is a malformed medium.
 */
import { ISO9660_INVALID, isoError } from './errors.js';

/** Where a field is, for messages: the image name and the byte offset of the structure in the image. */
export interface FieldContext {
  readonly file: string;
  readonly offset: number;
}

/** §7.2.3: the value little endian, then big endian (4 bytes). */
export function writeBothUInt16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset);
  buf.writeUInt16BE(value, offset + 2);
}

/** §7.3.3: the value little endian, then big endian (8 bytes). */
export function writeBothUInt32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

export function readBothUInt16(buf: Buffer, offset: number, field: string, ctx: FieldContext): number {
  const le = buf.readUInt16LE(offset);
  const be = buf.readUInt16BE(offset + 2);
  if (le !== be) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: ${field} is ${le} little endian but ${be} big endian`, { file: ctx.file, offset: ctx.offset + offset, field });
  }
  return le;
}

export function readBothUInt32(buf: Buffer, offset: number, field: string, ctx: FieldContext): number {
  const le = buf.readUInt32LE(offset);
  const be = buf.readUInt32BE(offset + 4);
  if (le !== be) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: ${field} is ${le} little endian but ${be} big endian`, { file: ctx.file, offset: ctx.offset + offset, field });
  }
  return le;
}
