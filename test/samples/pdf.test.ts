/**
 * The hand-made PDF (src/samples/pdf.ts): the cross-reference table points at every object, the
 * trailer points at the table, stream lengths are right (ISO 32000-1 §7.5), and text is escaped.
 */
import { describe, expect, it } from 'vitest';
import { buildPdf } from '../../src/samples/pdf.js';

const DOC = {
  title: 'Title (with parentheses)',
  producer: 'test',
  creationDate: '20240315102000Z',
  lines: ['Heading', 'A line with \\ and (parentheses)', 'Last line'],
};

describe('buildPdf', () => {
  const pdf = buildPdf(DOC);
  const text = pdf.toString('latin1');

  it('starts with the header and a binary comment, ends with %%EOF', () => {
    expect(text.startsWith('%PDF-1.4\n%')).toBe(true);
    expect([...pdf.subarray(10, 14)].every((b) => b > 127)).toBe(true);
    expect(text.endsWith('%%EOF\n')).toBe(true);
  });

  it('has a cross-reference table whose offsets point at each object', () => {
    const startxref = /startxref\n(\d+)\n%%EOF\n$/.exec(text);
    expect(startxref).not.toBeNull();
    const xrefAt = Number(startxref?.[1]);
    expect(text.slice(xrefAt, xrefAt + 5)).toBe('xref\n');
    const m = /^xref\n0 (\d+)\n/.exec(text.slice(xrefAt));
    const count = Number(m?.[1]);
    expect(count).toBe(7);
    const tableAt = xrefAt + (m?.[0].length ?? 0);
    for (let i = 0; i < count; i++) {
      const entry = text.slice(tableAt + 20 * i, tableAt + 20 * (i + 1));
      expect(entry).toMatch(/^\d{10} \d{5} [nf]\r\n$/);
      if (i === 0) {
        expect(entry).toBe('0000000000 65535 f\r\n');
        continue;
      }
      const offset = Number(entry.slice(0, 10));
      expect(text.slice(offset, offset + `${i} 0 obj`.length)).toBe(`${i} 0 obj`);
    }
    expect(text.slice(tableAt + 20 * count)).toMatch(/^trailer\n<< \/Size 7 \/Root 1 0 R \/Info 6 0 R >>\n/);
  });

  it('gives the content stream its exact length', () => {
    const m = /<< \/Length (\d+) >>\nstream\n/.exec(text);
    expect(m).not.toBeNull();
    const start = (m?.index ?? 0) + (m?.[0].length ?? 0);
    expect(text.slice(start + Number(m?.[1]), start + Number(m?.[1]) + 10)).toBe('\nendstream');
  });

  it('escapes backslashes and parentheses in strings', () => {
    expect(text).toContain('(A line with \\\\ and \\(parentheses\\)) Tj');
    expect(text).toContain('/Title (Title \\(with parentheses\\))');
  });

  it('is the same for the same input and refuses text it cannot encode', () => {
    expect(buildPdf(DOC).equals(pdf)).toBe(true);
    expect(() => buildPdf({ ...DOC, lines: ['Zoë'] })).toThrow(/printable ASCII/);
    expect(() => buildPdf({ ...DOC, creationDate: '2024' })).toThrow(/YYYYMMDDHHMMSSZ/);
  });
});
