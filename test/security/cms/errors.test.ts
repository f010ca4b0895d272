/**
 * Failures of Secure DICOM File reading, each with its own code: wrong password, wrong key, no
 * matching recipient, truncation at every length, not a secure file, trailing data, hostile
 * structures (deep nesting, huge declared lengths), password rules of PS3.15 D.1 (ISO-IR 6), and
 * misuse of the content stream. Nothing may crash or hang: every outcome is a typed error or a result.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { encode, explicit, integer, octetString, oid, sequence } from '../../../src/security/asn1/der.js';
import { looksLikeSecureFile, openSecureFile } from '../../../src/security/cms/reader.js';
import { derivePasswordKek, planSecureFile, type PasswordKek, type SecureWriteOptions } from '../../../src/security/cms/writer.js';
import { seededRandom } from '../../../src/util/random.js';
import { CORPUS } from '../../helpers/env.js';
import { expectCode, part10Like, readAll, writeAll } from './helpers.js';
import { makeTestPki } from './pki.js';

let pki: ReturnType<typeof makeTestPki>;
let kek: PasswordKek;
const PASSWORD = 'open sesame';
let certFile: Buffer; // signed, certificate recipient
let pwFile: Buffer; // digested, password recipient
let bothFile: Buffer; // signed, certificate + password recipients
const content = part10Like(2000);

beforeAll(async () => {
  pki = makeTestPki();
  kek = derivePasswordKek(PASSWORD, { random: seededRandom('kek'), iterations: 10_000 });
  const base = (extra: Partial<SecureWriteOptions>): SecureWriteOptions => ({
    recipients: [],
    signingTime: new Date('2025-01-01T00:00:00Z'),
    random: seededRandom('errors'),
    ...extra,
  });
  const signer = { certificate: pki.signer.certificate, chain: [pki.ca.certificate], privateKey: pki.signer.privateKey, digest: 'sha256' as const };
  certFile = await writeAll(planSecureFile(content.length, base({ recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate }], signer })), content);
  pwFile = await writeAll(planSecureFile(content.length, base({ recipients: [{ kind: 'password', kek }] })), content);
  bothFile = await writeAll(
    planSecureFile(content.length, base({ recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate }, { kind: 'password', kek }], signer })),
    content,
  );
});

const recipientKey = (): { certificate: Buffer; privateKey: KeyObject } => ({ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey });

describe('keys that do not open the file', () => {
  it('wrong password: CMS_WRONG_PASSWORD', async () => {
    await expectCode(readAll(pwFile, { passwords: ['open sesame!'] }), 'CMS_WRONG_PASSWORD');
    await expectCode(readAll(bothFile, { passwords: ['nope', 'nope either'] }), 'CMS_WRONG_PASSWORD');
  });

  it('the recipient certificate with another private key: CMS_WRONG_KEY', async () => {
    await expectCode(readAll(certFile, { certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.outsider.privateKey }] }), 'CMS_WRONG_KEY');
  });

  it('keys of nobody the file is for: CMS_NO_RECIPIENT', async () => {
    await expectCode(readAll(certFile, { certificates: [{ certificate: pki.outsider.certificate, privateKey: pki.outsider.privateKey }] }), 'CMS_NO_RECIPIENT');
    await expectCode(readAll(certFile, { passwords: [PASSWORD] }), 'CMS_NO_RECIPIENT');
    await expectCode(readAll(pwFile, { certificates: [recipientKey()] }), 'CMS_NO_RECIPIENT');
    const e = await expectCode(readAll(certFile, {}), 'CMS_NO_RECIPIENT');
    expect(e.message).toMatch(/no keys or passwords were given/);
  });

  it('a matching key among wrong ones still opens the file', async () => {
    const { result } = await readAll(bothFile, { certificates: [{ certificate: pki.outsider.certificate, privateKey: pki.outsider.privateKey }, recipientKey()], passwords: ['wrong'] });
    expect(result.valid).toBe(true);
    expect(result.recipient.kind).toBe('certificate');
  });
});

describe('not a Secure DICOM File', () => {
  it('a Part 10 file, an empty file, text and a CMS SignedData: CMS_NOT_SECURE', async () => {
    const part10 = readFileSync(path.join(CORPUS, 'ct/CT_small.dcm'));
    await expectCode(readAll(part10, { passwords: ['x'] }), 'CMS_NOT_SECURE');
    await expectCode(readAll(Buffer.alloc(0), { passwords: ['x'] }), 'CMS_NOT_SECURE');
    await expectCode(readAll(Buffer.from('hello, world'), { passwords: ['x'] }), 'CMS_NOT_SECURE');
    // Starts like DER, claims 4 GB: still foreign, not a truncated secure file.
    await expectCode(readAll(Buffer.from('3084ffffffff020100', 'hex'), { passwords: ['x'] }), 'CMS_NOT_SECURE');
    const signedData = encode(sequence(oid('1.2.840.113549.1.7.2'), explicit(0, sequence(integer(1)))));
    const e = await expectCode(readAll(signedData, { passwords: ['x'] }), 'CMS_NOT_SECURE');
    expect(e.message).toMatch(/id-signedData, not EnvelopedData/);
    expect(looksLikeSecureFile(part10.subarray(0, 64))).toBe(false);
    expect(looksLikeSecureFile(signedData)).toBe(false);
    expect(looksLikeSecureFile(Buffer.alloc(0))).toBe(false);
    expect(looksLikeSecureFile(certFile.subarray(0, 32))).toBe(true);
    expect(looksLikeSecureFile(certFile.subarray(0, 5))).toBe(false);
  });
});

describe('truncation and trailing data', () => {
  it('every truncated length of a DER file is CMS_TRUNCATED, found before any decryption', async () => {
    for (const file of [certFile, pwFile]) {
      for (let n = 1; n < file.length; n++) {
        await expectCode(openSecureFile(new BufferReader(file.subarray(0, n)), { certificates: [recipientKey()], passwords: [PASSWORD] }), 'CMS_TRUNCATED');
      }
    }
  });

  it('bytes after the ContentInfo are CMS_MALFORMED, surfacing through the content and result', async () => {
    const opened = await openSecureFile(new BufferReader(Buffer.concat([certFile, Buffer.from([0])])), { certificates: [recipientKey()] });
    const e = await expectCode(
      (async () => {
        for await (const _ of opened.content) void _;
      })(),
      'CMS_MALFORMED',
    );
    await expect(opened.result).rejects.toBe(e);
  });
});

describe('hostile structures', () => {
  it('deep nesting is refused (CMS_MALFORMED), not recursed into', async () => {
    const head = Buffer.from('3080' + '0609' + '2a864886f70d010703' + 'a080' + '3080' + '020100' + '3180', 'hex');
    const deep = Buffer.concat([head, Buffer.alloc(20_000, 0).fill(Buffer.from([0x30, 0x80]))]);
    await expectCode(readAll(deep, { passwords: ['x'] }), 'CMS_MALFORMED');
  });

  it('a declared length beyond the file is CMS_TRUNCATED without allocating it', async () => {
    const huge = Buffer.from('3086ffffffffffff0609' + '2a864886f70d010703', 'hex');
    await expectCode(readAll(huge, { passwords: ['x'] }), 'CMS_TRUNCATED');
    // A recipientInfos SET claiming 1 TB inside an indefinite-length EnvelopedData.
    const big = Buffer.from('3080' + '0609' + '2a864886f70d010703' + 'a080' + '3080' + '020100' + '318500ffffffff' + '00'.repeat(64), 'hex');
    await expectCode(readAll(big, { passwords: ['x'] }), 'CMS_TRUNCATED');
  });

  it('an unsupported content cipher is CMS_UNSUPPORTED (RC2, AES-GCM are not in PS3.15 D.1)', async () => {
    const ri = encode(sequence(integer(0), sequence(sequence(), integer(1)), sequence(oid('1.2.840.113549.1.1.1')), octetString(Buffer.alloc(4))));
    const env = encode(
      sequence(
        oid('1.2.840.113549.1.7.3'),
        explicit(0, sequence(integer(0), { kind: 'constructed', tag: 0x31, children: [{ kind: 'raw', bytes: ri }] }, sequence(oid('1.2.840.113549.1.7.2'), sequence(oid('1.2.840.113549.3.2'), octetString(Buffer.alloc(8)))))),
      ),
    );
    await expectCode(readAll(env, { passwords: ['x'] }), 'CMS_UNSUPPORTED');
  });

  it('random edits of the structure (insertions, deletions, overwrites) give typed errors or results, never crashes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 700 }),
        fc.constantFrom('insert', 'delete', 'overwrite'),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        async (at, edit, bytes) => {
          const b = Buffer.from(bytes);
          const file =
            edit === 'insert'
              ? Buffer.concat([certFile.subarray(0, at), b, certFile.subarray(at)])
              : edit === 'delete'
                ? Buffer.concat([certFile.subarray(0, at), certFile.subarray(at + b.length)])
                : Buffer.concat([certFile.subarray(0, at), b, certFile.subarray(at + b.length)]);
          try {
            const { content: out, result } = await readAll(file, { certificates: [recipientKey()] });
            expect(result.valid && out.equals(content) && !file.equals(certFile)).toBe(false);
          } catch (e) {
            expect(e).toBeInstanceOf(DcmsafeError);
            expect((e as DcmsafeError).code).toMatch(/^CMS_/);
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('passwords (PS3.15 D.1: ISO-IR 6 only)', () => {
  const random = seededRandom('pw');
  it('refuses é with a message that says why, and where, but not what', () => {
    let caught: unknown;
    try {
      derivePasswordKek('café au lait', { random, iterations: 10_000 });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DcmsafeError);
    const e = caught as DcmsafeError;
    expect(e.code).toBe('PASSWORD_INVALID');
    expect(e.message).toMatch(/ISO-IR 6/);
    expect(e.message).toMatch(/position 4/);
    expect(e.message).not.toMatch(/caf|lait/);
  });

  it('refuses empty passwords, control characters and too few iterations', () => {
    expect(() => derivePasswordKek('', { random })).toThrow(expect.objectContaining({ code: 'PASSWORD_INVALID' }));
    expect(() => derivePasswordKek('tab\there', { random, iterations: 10_000 })).toThrow(expect.objectContaining({ code: 'PASSWORD_INVALID' }));
    expect(() => derivePasswordKek('fine', { random, iterations: 9_999 })).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('accepts every printable US-ASCII character, backslash included', () => {
    let all = '';
    for (let c = 0x20; c <= 0x7e; c++) all += String.fromCharCode(c);
    const k = derivePasswordKek(all, { random, iterations: 10_000, prf: 'sha512', wrapCipher: 'aes128' });
    expect(k.key).toHaveLength(16);
    expect(k.salt).toHaveLength(16);
  });
});

describe('the content stream', () => {
  it('can be read once', async () => {
    const opened = await openSecureFile(new BufferReader(certFile), { certificates: [recipientKey()] });
    for await (const _ of opened.content) void _;
    expect(() => opened.content[Symbol.asyncIterator]()).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect((await opened.result).valid).toBe(true);
  });

  it('left unfinished, the result says integrity was not checked', async () => {
    const opened = await openSecureFile(new BufferReader(certFile), { certificates: [recipientKey()] });
    for await (const _ of opened.content) break;
    await expect(opened.result).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/not read to the end/) });
  });
});
