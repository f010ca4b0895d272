/**
 * A one-page PDF written by hand (ISO 32000-1 §7.5: header, body, cross-reference table, trailer),
 * for the Encapsulated PDF sample (PS3.3 A.45.1). The standard 14 font Helvetica needs no embedding,
 * and nothing depends on the clock, so the same lines give the same bytes.
 */
import { DcmsafeError } from '../errors/index.js';

export interface PdfDocument {
  /** Lines of text drawn top down on an A4 page; printable ASCII only (WinAnsi is not needed). */
  readonly lines: readonly string[];
  readonly title: string;
  readonly producer: string;
  /** PDF date string without "D:", e.g. "20240315093000Z"; fixed by the caller, never the clock. */
  readonly creationDate: string;
}

function checkAscii(text: string): void {
  if (/[^\x20-\x7e]/.test(text)) throw new DcmsafeError('INTERNAL', `PDF text must be printable ASCII: ${JSON.stringify(text)}`);
}

/** A PDF literal string (§7.3.4.2): backslash, parentheses escaped. */
function literal(text: string): string {
  checkAscii(text);
  return `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/** Objects numbered from 1 in the order given; returns the whole file. */
function assemble(objects: readonly Buffer[], rootObject: number, infoObject: number): Buffer {
  // The comment with four bytes above 127 tells transfer programs the file is binary (§7.5.2).
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%', 'latin1'), Buffer.from([0xe2, 0xe3, 0xcf, 0xd3, 0x0a])];
  let offset = parts.reduce((n, b) => n + b.length, 0);
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(offset);
    const obj = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`, 'latin1'), body, Buffer.from('\nendobj\n', 'latin1')]);
    parts.push(obj);
    offset += obj.length;
  });
  const xrefOffset = offset;
  // Each entry is exactly 20 bytes: 10-digit offset, 5-digit generation, keyword, 2-byte end of line (§7.5.4).
  const entries = ['0000000000 65535 f\r\n', ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n\r\n`)];
  const tail =
    `xref\n0 ${objects.length + 1}\n${entries.join('')}` +
    `trailer\n<< /Size ${objects.length + 1} /Root ${rootObject} 0 R /Info ${infoObject} 0 R >>\n` +
    `startxref\n${xrefOffset}\n%%EOF\n`;
  parts.push(Buffer.from(tail, 'latin1'));
  return Buffer.concat(parts);
}

/** A4 portrait, 1 inch margins, 12 pt Helvetica, first line as a 16 pt heading. */
export function buildPdf(doc: PdfDocument): Buffer {
  if (!/^\d{14}Z$/.test(doc.creationDate)) throw new DcmsafeError('INTERNAL', `PDF date must be YYYYMMDDHHMMSSZ: ${doc.creationDate}`);
  const ops: string[] = ['BT', '/F1 16 Tf', '20 TL', '72 770 Td'];
  doc.lines.forEach((line, i) => {
    if (i === 1) ops.push('/F1 12 Tf', '16 TL');
    ops.push(i === 0 ? `${literal(line)} Tj` : `T* ${literal(line)} Tj`);
  });
  ops.push('ET');
  const content = Buffer.from(ops.join('\n'), 'latin1');
  const dict = (text: string): Buffer => Buffer.from(text, 'latin1');
  const objects = [
    dict('<< /Type /Catalog /Pages 2 0 R >>'),
    dict('<< /Type /Pages /Kids [3 0 R] /Count 1 >>'),
    dict('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>'),
    dict('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'),
    // /Length counts the bytes between "stream\n" and the end of line before "endstream" (§7.3.8.1).
    Buffer.concat([dict(`<< /Length ${content.length} >>\nstream\n`), content, dict('\nendstream')]),
    dict(`<< /Title ${literal(doc.title)} /Producer ${literal(doc.producer)} /CreationDate ${literal(`D:${doc.creationDate}`)} >>`),
  ];
  return assemble(objects, 1, 6);
}
