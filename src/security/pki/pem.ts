/**
 * PEM ("textual encoding") reading and writing, RFC 7468. Also reads the legacy RFC 1421 headers
 * (`Proc-Type`, `DEK-Info`) that OpenSSL still writes for encrypted "traditional" keys, because the
 * headers are what tells an encrypted PKCS#1 key from a clear one.
 */

export interface PemBlock {
  /** The label between `-----BEGIN ` and `-----`, e.g. `CERTIFICATE`, `ENCRYPTED PRIVATE KEY`. */
  label: string;
  /** RFC 1421 headers (`Proc-Type`, `DEK-Info`), keyed as written. Empty for RFC 7468 blocks. */
  headers: Record<string, string>;
  /** The decoded body. */
  der: Buffer;
  /** The block as text, BEGIN and END lines included (what node:crypto wants for legacy encrypted keys). */
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 #/_-]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

/** True when the bytes look like PEM text (a BEGIN line somewhere near the start), not DER. */
export function looksLikePem(bytes: Buffer): boolean {
  // DER starts with a SEQUENCE tag (0x30); PEM files may start with explanatory text (RFC 7468 §2).
  if (bytes.length > 0 && bytes[0] === 0x30) return false;
  return bytes.subarray(0, 64 * 1024).toString('latin1').includes('-----BEGIN ');
}

/**
 * Every PEM block in the text, in order. Text between blocks is ignored (RFC 7468 §2 allows it).
 * A block whose body is not base64 is skipped: callers report "nothing found" with the labels seen.
 */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const label = m[1] ?? '';
    const inner = m[2] ?? '';
    const headers: Record<string, string> = {};
    let body = inner;
    // RFC 1421 headers end at the first empty line; they only occur when the first line has a colon.
    const firstLine = inner.split(/\r?\n/, 1)[0] ?? '';
    if (firstLine.includes(':')) {
      const split = inner.search(/\r?\n\r?\n/);
      if (split >= 0) {
        for (const line of inner.slice(0, split).split(/\r?\n/)) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
        }
        body = inner.slice(split).replace(/^\r?\n\r?\n/, '');
      }
    }
    if (!BASE64.test(body)) continue;
    blocks.push({ label, headers, der: Buffer.from(body.replace(/\s+/g, ''), 'base64'), text: m[0] + '\n' });
  }
  return blocks;
}

/** Encodes DER as a PEM block with 64-character lines (RFC 7468 §2, the strict form). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
