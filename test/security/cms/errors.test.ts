/**
 * Failures of Secure DICOM File reading, each with its own code: wrong password, wrong key, no
 * matching recipient, truncation at every length, not a secure file, trailing data, hostile
 * structures (deep nesting, huge declared lengths), password rules of PS3.15 D.1 (ISO-IR 6), and
 * misuse of the content stream. Nothing may crash or hang: every outcome is a typed error or a result.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { BufferReader } from '../../../src/media/io/random-access-reader.js';
import { parseBer, type BerElement } from '../../../src/security/asn1/ber.js';
import { constructed, encode, encodeLength, explicit, integer, octetString, oid, primitive, raw, sequence, setOf } from '../../../src/security/asn1/der.js';
import { MAX_ITERATIONS, passwordRecipientInfo } from '../../../src/security/cms/pwri.js';
import { verifySignerInfo } from '../../../src/security/cms/signer-info.js';
import { clearPasswordKekCache, looksLikeSecureFile, MAX_CERTIFICATE_CHOICES, MAX_PBKDF2_WORK, openSecureFile } from '../../../src/security/cms/reader.js';
import { berVariant, cmsTarget, envelopeAround } from '../../../src/fuzz/targets/cms.js';
import type { Seed } from '../../../src/fuzz/mutate.js';
import { certificateIds, matchesIssuerAndSerial } from '../../../src/security/cms/certificate.js';
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

describe('signers naming many certificates cost bounded work per file', () => {
  it('ESS signing-certificate-v2 lists are checked against certificates hashed once per file, not once per signer and name', () => {
    // 64 SignerInfos, each naming its signer and 63 times the last of 250 certificates of 16 KB (4 MB):
    // hashing every certificate for every name and signer was 64 × 63 × 4 MB = 16 GB (over 3 s;
    // at the 16 MiB the reader allows, over 13 s per file). Now: one pass over 4 MB.
    const cert = pki.signer.certificate;
    const tbs = parseBer(cert).children[0] as BerElement;
    const filler = Array.from({ length: 250 }, (_, i) => encode(sequence(octetString(Buffer.alloc(16_000, i)))));
    const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
    const signerInfo = (last: Buffer): BerElement => {
      const ids = [sequence(octetString(sha256(cert))), ...Array.from({ length: 63 }, () => sequence(octetString(sha256(last))))];
      const attrs = explicit(0, sequence(oid('1.2.840.113549.1.9.3'), setOf([oid('1.2.840.113549.1.7.1')])), sequence(oid('1.2.840.113549.1.9.16.2.47'), setOf([sequence(sequence(...ids))])));
      return parseBer(
        encode(sequence(integer(1), sequence(raw((tbs.children[3] as BerElement).raw), raw((tbs.children[1] as BerElement).raw)), sequence(oid('2.16.840.1.101.3.4.2.1')), attrs, sequence(oid('1.2.840.113549.1.1.11')), octetString(Buffer.alloc(256, 1)))),
      );
    };
    const ctx = { certificates: [cert, ...filler], digests: new Map<string, Buffer>(), eContentType: '1.2.840.113549.1.7.1', legacy: new Set<string>() };
    const named = signerInfo(filler.at(-1) as Buffer);
    const started = performance.now();
    for (let i = 0; i < 64; i++) expect(verifySignerInfo(named, ctx).certificatesMatch).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    // A name of no certificate in the SignedData still fails the check.
    expect(verifySignerInfo(signerInfo(Buffer.from('not in the list')), ctx).certificatesMatch).toBe(false);
  });
});

/** `root` as encoded, but `target` in BER: a constructed string in segments, or indefinite lengths (berVariant choice 0). */
function reencodeOnly(root: BerElement, target: BerElement): Buffer {
  const contains = (el: BerElement): boolean => el === target || el.children.some(contains);
  const rebuild = (el: BerElement): Buffer => {
    if (el === target) return berVariant(el, () => 0, () => false);
    if (!contains(el)) return Buffer.from(el.raw);
    const body = Buffer.concat(el.children.map(rebuild));
    return Buffer.concat([el.raw.subarray(0, 1), encodeLength(body.length), body]);
  };
  return rebuild(root);
}

describe('BER as other encoders write it reads like the DER it stands for', () => {
  it('an IssuerAndSerialNumber whose Name has indefinite or long-form lengths still names the certificate', () => {
    const cert = parseBer(pki.signer.certificate);
    const tbs = cert.children[0] as BerElement;
    const issuer = tbs.children[3] as BerElement;
    const serial = tbs.children[1] as BerElement;
    const ids = certificateIds(pki.signer.certificate);
    for (const choice of [0, 1]) {
      const ber = berVariant(issuer, () => choice, () => false);
      expect(ber.equals(issuer.raw)).toBe(false);
      expect(matchesIssuerAndSerial(parseBer(encode(sequence(raw(ber), raw(serial.raw)))), ids)).toBe(true);
    }
    expect(matchesIssuerAndSerial(parseBer(encode(sequence(raw(issuer.raw), integer(12345)))), ids)).toBe(false);
  });

  it('a content-encryption IV and a PBKDF2 salt sent as constructed OCTET STRINGs are read (CMS_MALFORMED and CMS_NO_RECIPIENT before)', async () => {
    const tree = parseBer(pwFile);
    const enveloped = tree.children[1]?.children[0] as BerElement;
    const iv = enveloped.children[2]?.children[1]?.children[1] as BerElement;
    const salt = enveloped.children[1]?.children[0]?.children[1]?.children[1]?.children[0] as BerElement;
    expect([iv.tag, iv.content.length, salt.tag]).toEqual([0x04, 16, 0x04]);
    for (const target of [iv, salt]) {
      const ber = reencodeOnly(tree, target);
      const { content: out, result } = await readAll(ber, { passwords: [PASSWORD] });
      expect(result.valid).toBe(true);
      expect(out.equals(content)).toBe(true);
    }
  });

  it('a SignedData in BER (every length indefinite, or long form) is as valid as its DER', async () => {
    // Before: the signer was not found (its Name compared as encoded), and signed attributes of
    // definite length were verified as sent rather than in DER: valid files read as altered.
    const seeds = await cmsTarget.seeds({ corpus: undefined });
    const signedInner = seeds.find((x) => x.name === 'ours:inner SignedData') as Seed;
    const tree = parseBer(signedInner.bytes.subarray(1));
    const certificates = new Set(tree.children[3]?.children);
    for (const choice of [0, 1]) {
      const ber = berVariant(tree, () => choice, (el) => certificates.has(el));
      const opened = await openSecureFile(new BufferReader(envelopeAround('1.2.840.113549.1.7.2', ber), 'ber.p7m'), { passwords: ['fuzz-password'] });
      const parts: Buffer[] = [];
      for await (const c of opened.content) parts.push(Buffer.from(c));
      const result = await opened.result;
      expect(result.signers.map((x) => [x.signatureValid, x.digestMatches, x.certificatesMatch])).toEqual([[true, true, true]]);
      expect(result.valid).toBe(true);
      expect(Buffer.concat(parts).length).toBeGreaterThan(1000);
    }
  });
});

describe('certificates in a SignedData are bounded', () => {
  it(`more than MAX_CERTIFICATE_CHOICES certificates: CMS_UNSUPPORTED (each was parsed for every signer when judged)`, async () => {
    // 2 000 certificates (1 MB) cost about 0.5 s per signer in pki/trust.ts evaluateSigner, and a
    // SignedData may have 64 signers; 6 000 fit the reader's other limits.
    const signedData = (certificates: number): Buffer =>
      encode(
        sequence(
          integer(1),
          setOf([sequence(oid('2.16.840.1.101.3.4.2.1'))]),
          sequence(oid('1.2.840.113549.1.7.1'), explicit(0, octetString(content))),
          explicit(0, ...Array.from({ length: certificates }, (_, i) => sequence(integer(i)))),
          setOf([]),
        ),
      );
    const read = async (inner: Buffer): Promise<unknown> => {
      const opened = await openSecureFile(new BufferReader(envelopeAround('1.2.840.113549.1.7.2', inner), 'certs.p7m'), { passwords: ['fuzz-password'] });
      for await (const _ of opened.content);
      return opened.result;
    };
    await expect(read(signedData(MAX_CERTIFICATE_CHOICES))).resolves.toMatchObject({ structure: 'signed', valid: false });
    const e = await expectCode(read(signedData(MAX_CERTIFICATE_CHOICES + 1)), 'CMS_UNSUPPORTED');
    expect(e.data).toMatchObject({ certificates: MAX_CERTIFICATE_CHOICES + 1 });
  });
});

describe('password recipients cost bounded PBKDF2 work per file', () => {
  it('an iteration count of 2^31 - 1 or 2^31 is refused before any derivation (the recipient is unsupported; an INTEGER too large is malformed)', async () => {
    const fileWith = (iterations: number): Buffer => {
      const hostile: PasswordKek = { ...kek, iterations };
      const pwri = passwordRecipientInfo(hostile, Buffer.alloc(16, 1), Buffer.alloc(48, 2));
      return encode(
        sequence(
          oid('1.2.840.113549.1.7.3'),
          explicit(0, sequence(integer(3), setOf([pwri]), sequence(oid('1.2.840.113549.1.7.2'), sequence(oid('2.16.840.1.101.3.4.1.2'), octetString(Buffer.alloc(16))), primitive(0x80, Buffer.alloc(16))))),
        ),
      );
    };
    const started = performance.now();
    // Such a recipient is skipped as unsupported (another could still open the file): none is left.
    for (const n of [2 ** 31 - 1, MAX_ITERATIONS + 1]) {
      const e = await expectCode(openSecureFile(new BufferReader(fileWith(n)), { passwords: [PASSWORD] }), 'CMS_NO_RECIPIENT');
      expect(e.data.unsupported).toEqual([`PBKDF2 iteration count ${n} is above ${MAX_ITERATIONS}`]);
    }
    await expectCode(openSecureFile(new BufferReader(fileWith(2 ** 31)), { passwords: [PASSWORD] }), 'CMS_MALFORMED');
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('beyond the limit (MAX_PBKDF2_WORK iterations by default) the next derivation is refused before it starts: CMS_UNSUPPORTED', async () => {
    // Before the limit, 16 password recipients of 10 000 000 iterations with their own salts made a
    // single file cost 16 derivations (30 to 75 s). Four cheap recipients and a small limit show the rule.
    clearPasswordKekCache();
    const keks = ['a', 'b', 'c', 'd'].map((s) => derivePasswordKek(PASSWORD, { random: seededRandom(`work ${s}`), iterations: 10_000 }));
    const many = await writeAll(
      planSecureFile(content.length, { recipients: keks.map((k) => ({ kind: 'password' as const, kek: k })), signingTime: new Date('2025-01-01T00:00:00Z'), random: seededRandom('work') }),
      content,
    );
    const read = async (passwords: string[], pbkdf2Work?: number): Promise<unknown> => {
      const opened = await openSecureFile(new BufferReader(many, 'many.p7m'), { passwords }, pbkdf2Work === undefined ? {} : { pbkdf2Work });
      for await (const _ of opened.content);
      return opened.result;
    };
    const e = await expectCode(read(['wrong'], 25_000), 'CMS_UNSUPPORTED');
    expect(e.data).toMatchObject({ recipient: 2, limit: 25_000 });
    expect(MAX_PBKDF2_WORK).toBeGreaterThanOrEqual(2 * 10_000_000);
    await expectCode(read(['wrong']), 'CMS_WRONG_PASSWORD'); // all four tried: 40 000 iterations
    await expect(read([PASSWORD], 25_000)).resolves.toMatchObject({ valid: true });
    // A derivation already cached costs nothing: the same file opens under a limit below one derivation.
    await expect(read([PASSWORD], 1)).resolves.toMatchObject({ valid: true });
    // Past the limit no more passwords are tried, but the other recipients are.
    const mixed = await writeAll(
      planSecureFile(content.length, {
        recipients: [...keks.map((k) => ({ kind: 'password' as const, kek: k })), { kind: 'certificate', certificate: pki.recipient.certificate }],
        signingTime: new Date('2025-01-01T00:00:00Z'),
        random: seededRandom('work mixed'),
      }),
      content,
    );
    // DER sorts the key transport recipient first; a BER writer may not: put it last.
    const ci = parseBer(mixed);
    const env = ci.children[1]?.children[0] as BerElement;
    const [version, ris, eci] = env.children as [BerElement, BerElement, BerElement];
    const reordered = encode(
      sequence(raw((ci.children[0] as BerElement).raw), explicit(0, sequence(raw(version.raw), constructed(0x31, [...ris.children.slice(1), ris.children[0] as BerElement].map((r) => raw(r.raw))), raw(eci.raw)))),
    );
    expect((parseBer(reordered).children[1]?.children[0]?.children[1]?.children.at(-1) as BerElement).tag).toBe(0x30);
    const opened = await openSecureFile(new BufferReader(reordered, 'mixed.p7m'), { passwords: ['still wrong'], certificates: [recipientKey()] }, { pbkdf2Work: 15_000 });
    for await (const _ of opened.content);
    await expect(opened.result).resolves.toMatchObject({ valid: true, recipient: { kind: 'certificate' } });
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
