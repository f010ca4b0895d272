/**
 * Dates and times, ECMA-119 §8.4.26.1 (17 bytes, volume descriptors) and §9.1.5 (7 bytes, directory
 * records). We always write GMT offset 0 and the UTC fields of the recording time.
 */
import { DcmsafeError } from '../../errors/index.js';

export const SIZE_OF_DEC_DATE_TIME = 17;
export const SIZE_OF_RECORDING_DATE_TIME = 7;

/** Years a directory record can hold (§9.1.5: years since 1900 in one byte) and four digits can. */
export function checkRecordingTime(date: Date): void {
  const t = date.getTime();
  if (!Number.isFinite(t) || date.getUTCFullYear() < 1900 || date.getUTCFullYear() > 2155) {
    throw new DcmsafeError('USAGE', `recording time ${String(date)} is not a date ISO 9660 can record (years 1900-2155)`, {});
  }
}

/** §8.4.26.1: "YYYYMMDDHHMMSSss" digits then the GMT offset in 15-minute intervals (here 0). */
export function encodeDecDateTime(date: Date | undefined, buf: Buffer, offset: number): void {
  if (!date) {
    // §8.4.26.1: "not specified" is sixteen DIGIT ZEROs and a zero offset.
    buf.write('0'.repeat(16), offset, 'latin1');
    buf[offset + 16] = 0;
    return;
  }
  const p = (n: number, w: number): string => String(n).padStart(w, '0');
  const text =
    p(date.getUTCFullYear(), 4) +
    p(date.getUTCMonth() + 1, 2) +
    p(date.getUTCDate(), 2) +
    p(date.getUTCHours(), 2) +
    p(date.getUTCMinutes(), 2) +
    p(date.getUTCSeconds(), 2) +
    p(Math.floor(date.getUTCMilliseconds() / 10), 2);
  buf.write(text, offset, 'latin1'); // BP 1-16 digits
  buf.writeInt8(0, offset + 16); // BP 17 offset from GMT
}

/** The date of a §8.4.26.1 field, or undefined when "not specified" or not a valid date. */
export function decodeDecDateTime(buf: Buffer, offset: number): Date | undefined {
  const text = buf.toString('latin1', offset, offset + 16);
  if (!/^\d{16}$/.test(text) || /^0+$/.test(text)) return undefined;
  const n = (a: number, b: number): number => Number(text.slice(a, b));
  const gmtOffset = buf.readInt8(offset + 16);
  const ms = Date.UTC(n(0, 4), n(4, 6) - 1, n(6, 8), n(8, 10), n(10, 12), n(12, 14), n(14, 16) * 10) - gmtOffset * 15 * 60_000;
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** §9.1.5: years since 1900, month, day, hour, minute, second, GMT offset (7 bytes). */
export function encodeRecordingDateTime(date: Date, buf: Buffer, offset: number): void {
  buf[offset] = date.getUTCFullYear() - 1900; // BP 1 years since 1900
  buf[offset + 1] = date.getUTCMonth() + 1; // BP 2 month
  buf[offset + 2] = date.getUTCDate(); // BP 3 day
  buf[offset + 3] = date.getUTCHours(); // BP 4 hour
  buf[offset + 4] = date.getUTCMinutes(); // BP 5 minute
  buf[offset + 5] = date.getUTCSeconds(); // BP 6 second
  buf.writeInt8(0, offset + 6); // BP 7 offset from GMT
}

/** The date of a §9.1.5 field, or undefined when all zero ("not specified") or out of range. */
export function decodeRecordingDateTime(buf: Buffer, offset: number): Date | undefined {
  const [y, mo, d, h, mi, s] = [0, 1, 2, 3, 4, 5].map((i) => buf[offset + i] ?? 0) as [number, number, number, number, number, number];
  if (y === 0 && mo === 0 && d === 0 && h === 0 && mi === 0 && s === 0) return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const gmtOffset = buf.readInt8(offset + 6);
  return new Date(Date.UTC(1900 + y, mo - 1, d, h, mi, s) - gmtOffset * 15 * 60_000);
}
