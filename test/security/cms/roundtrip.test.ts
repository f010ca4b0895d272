/**
 * Secure DICOM Files (PS3.15 D.1) written by our streaming writer and read back by our streaming
 * reader: every content cipher × digest × recipient kind × SignedData/DigestedData, planned size equal
 * to bytes written, byte-identical output from a seeded Random, chunking independence, RFC 5652
 * versions and the signing-time encoding.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, decodeSmallInteger, parseBer } from '../../../src/security/asn1/ber.js';
import { CIPHERS, DIGESTS, type ContentCipher, type DigestName } from '../../../src/security/cms/algorithms.js';
import { clearPasswordKekCache, type DecryptionKeys } from '../../../src/security/cms/reader.js';
import { derivePasswordKek, planSecureFile, type PasswordKek, type Recipient, type SecureWriteOptions } from '../../../src/security/cms/writer.js';
import { seededRandom } from '../../../src/util/random.js';
import { CORPUS } from '../../helpers/env.js';
import { expectCode, part10Like, readAll, writeAll } from './helpers.js';
import { makeTestPki, type TestIdentity } from './pki.js';

let pki: ReturnType<typeof makeTestPki>;
let kek: PasswordKek;
const PASSWORD = 'Correct-Horse-7';
const when = new Date('2025-03-04T05:06:07Z');

beforeAll(() => {
  pki = makeTestPki();
  kek = derivePasswordKek(PASSWORD, { random: seededRandom('kek'), iterations: 10_000 });
});

const signerOf = (id: TestIdentity, digest: DigestName, chain: Buffer[]): NonNullable<SecureWriteOptions['signer']> => ({
  certificate: id.certificate,
  chain,
  privateKey: id.privateKey,
  digest,
});

const ciphers = Object.keys(CIPHERS) as ContentCipher[];
const digests = Object.keys(DIGESTS) as DigestName[];
const matrix = ciphers.flatMap((cipher) =>
  digests.flatMap((digest) => (['certificate', 'password'] as const).flatMap((recipient) => (['signed', 'digested'] as const).map((mode) => ({ cipher, digest, recipient, mode })))),
);

describe('round trip: cipher × digest × recipient × structure', () => {
  const content = part10Like(3000);
  it.each(matrix)('$cipher $digest $recipient $mode', async ({ cipher, digest, recipient, mode }) => {
    const recipients: Recipient[] = recipient === 'certificate' ? [{ kind: 'certificate', certificate: pki.recipient.certificate }] : [{ kind: 'password', kek }];
    const plan = planSecureFile(content.length, {
      recipients,
      ...(mode === 'signed' ? { signer: signerOf(pki.signer, digest, [pki.ca.certificate]) } : { digest }),
      cipher,
      signingTime: when,
      random: seededRandom(`${cipher}${digest}${recipient}${mode}`),
    });
    const file = await writeAll(plan, content, 1000);
    expect(file.length).toBe(plan.size);
    const keys = recipient === 'certificate' ? { certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey }] } : { passwords: [PASSWORD] };
    const { content: out, result } = await readAll(file, keys);
    expect(out.equals(content)).toBe(true);
    expect(result.valid).toBe(true);
    expect(result.structure).toBe(mode);
    expect(result.wrapped).toBe(false);
    expect(result.contentEncryption).toBe(CIPHERS[cipher].name);
    expect(result.recipient).toEqual({ kind: recipient, index: 0 });
    const legacy = [...(cipher === 'des-ede3' ? ['des-ede3-cbc'] : []), ...(digest === 'sha1' ? ['sha1'] : [])];
    expect(result.legacy.sort()).toEqual(legacy.sort());
    if (mode === 'signed') {
      expect(result.signers).toHaveLength(1);
      const s = result.signers[0];
      expect(s?.signatureValid).toBe(true);
      expect(s?.digestMatches).toBe(true);
      expect(s?.certificatesMatch).toBe(true);
      expect(s?.digestAlgorithm).toBe(digest);
      expect(s?.signatureAlgorithm).toBe('rsaEncryption');
      expect(s?.signingTime?.toISOString()).toBe(when.toISOString());
      expect(s?.signerCertificate?.equals(pki.signer.certificate)).toBe(true);
      expect(s?.certificates).toHaveLength(2);
      expect('issuer' in (s?.sid ?? {})).toBe(true);
    } else {
      expect(result.signers).toEqual([]);
      expect(result.digestAlgorithm).toBe(digest);
      expect(result.digestMatches).toBe(true);
    }
  });
});

describe('writer', () => {
  const options = (random: string, extra: Partial<SecureWriteOptions> = {}): SecureWriteOptions => ({
    recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate }, { kind: 'password', kek }],
    signer: signerOf(pki.signer, 'sha256', [pki.ca.certificate]),
    signingTime: when,
    random: seededRandom(random),
    ...extra,
  });

  it('plans the exact size for content lengths around block and length-octet boundaries', async () => {
    for (const cipher of ['aes256', 'des-ede3'] as const) {
      for (const n of [0, 1, 7, 8, 15, 16, 17, 127, 128, 255, 256, 65535, 65536, 70_001]) {
        const plan = planSecureFile(n, options(`size${n}`, { cipher }));
        const file = await writeAll(plan, part10Like(n));
        expect(file.length, `${cipher} ${n}`).toBe(plan.size);
        if (n === 0 || n === 70_001) expect((await readAll(file, { passwords: [PASSWORD] })).result.valid).toBe(true);
      }
    }
  });

  it('plans the same sizes again from its per-run cache, and other sizes for other recipients, signers or times', async () => {
    const n = 70_001;
    const first = planSecureFile(n, options('cache a')).size;
    const again = planSecureFile(n, options('cache b'));
    expect(again.size).toBe(first);
    expect((await writeAll(again, part10Like(n))).length).toBe(first);
    // One recipient (one RecipientInfo less), no signer (DigestedData), a GeneralizedTime (2050 on): each its own size.
    const one = planSecureFile(n, options('cache c', { recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate }] }));
    const unsigned = planSecureFile(n, { recipients: [{ kind: 'password', kek }], signingTime: when, random: seededRandom('cache d') });
    const later = planSecureFile(n, options('cache e', { signingTime: new Date('2051-01-01T00:00:00Z') }));
    expect(one.size).not.toBe(first);
    expect(unsigned.size).not.toBe(first);
    // Whatever each size is (the time's 2 more octets may vanish in the CBC padding), it is the one written.
    for (const plan of [one, unsigned, later]) expect((await writeAll(plan, part10Like(n))).length).toBe(plan.size);
  }, 30_000);

  it('gives byte-identical files from the same seed, whatever the chunking', async () => {
    const content = part10Like(50_000);
    const a = await writeAll(planSecureFile(content.length, options('seed')), content, 1);
    const b = await writeAll(planSecureFile(content.length, options('seed')), content, 4099);
    const c = await writeAll(planSecureFile(content.length, options('other seed')), content, 4099);
    expect(a.equals(b)).toBe(true);
    expect(c.length).toBe(a.length);
    expect(c.equals(a)).toBe(false);
  }, 30_000);

  it('refuses content shorter or longer than planned (CMS_CONTENT_LENGTH)', async () => {
    const content = part10Like(1000);
    await expectCode(writeAll(planSecureFile(999, options('x')), content), 'CMS_CONTENT_LENGTH');
    await expectCode(writeAll(planSecureFile(1001, options('x')), content), 'CMS_CONTENT_LENGTH');
  });

  it('writes EnvelopedData version 0 with key transport only and 3 with a password recipient (RFC 5652 §6.1)', async () => {
    const version = (file: Buffer): number => {
      const ci = parseBer(file);
      const enveloped = childrenOf(ci.children[1], 0xa0, 'content', 1, 1)[0];
      return decodeSmallInteger(enveloped?.children[0], 'version');
    };
    const content = part10Like(200);
    expect(version(await writeAll(planSecureFile(200, options('v', { recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate }] })), content))).toBe(0);
    expect(version(await writeAll(planSecureFile(200, options('v')), content))).toBe(3);
  });

  it('writes signing-time as UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5652 §11.3)', async () => {
    for (const t of ['1999-12-31T23:59:59Z', '2049-12-31T23:59:59Z', '2050-01-01T00:00:00Z', '2123-06-07T08:09:10Z']) {
      const plan = planSecureFile(100, options('t', { signingTime: new Date(t) }));
      const { result } = await readAll(await writeAll(plan, part10Like(100)), { passwords: [PASSWORD] });
      expect(result.signers[0]?.signingTime?.toISOString()).toBe(new Date(t).toISOString());
    }
  });

  it('opens with any of several recipients and reports which one (index in RecipientInfos)', async () => {
    const recipients: Recipient[] = [
      { kind: 'certificate', certificate: pki.recipient.certificate },
      { kind: 'certificate', certificate: pki.recipient2.certificate, padding: 'oaep' },
      { kind: 'password', kek },
    ];
    const file = await writeAll(planSecureFile(500, options('multi', { recipients })), part10Like(500));
    const infos = childrenOf(childrenOf(parseBer(file).children[1], 0xa0, 'c', 1, 1)[0]?.children[1], 0x31, 'recipientInfos', 3, 3);
    const tries: Array<[DecryptionKeys, 'certificate' | 'password']> = [
      [{ certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey }] }, 'certificate'],
      [{ certificates: [{ certificate: pki.recipient2.certificate, privateKey: pki.recipient2.privateKey }] }, 'certificate'],
      [{ passwords: ['wrong', PASSWORD] }, 'password'],
    ];
    for (const [keys, kind] of tries) {
      const { result, content } = await readAll(file, keys);
      expect(content.equals(part10Like(500))).toBe(true);
      expect(result.valid).toBe(true);
      expect(result.recipient.kind).toBe(kind);
      expect(infos[result.recipient.index]?.tag).toBe(kind === 'password' ? 0xa3 : 0x30);
    }
  });

  it('writes RSAES-OAEP key transport on request and reads it back', async () => {
    const plan = planSecureFile(300, options('oaep', { recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate, padding: 'oaep' }] }));
    const { result } = await readAll(await writeAll(plan, part10Like(300)), { certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey }] });
    expect(result.valid).toBe(true);
  });

  it('refuses plans it cannot honour', () => {
    expect(() => planSecureFile(10, options('e', { recipients: [] }))).toThrow(/at least one recipient/);
    expect(() => planSecureFile(10, options('e', { signer: signerOf(pki.signer, 'sha256', []), recipients: [{ kind: 'certificate', certificate: Buffer.from('nope') }] }))).toThrow(
      expect.objectContaining({ code: 'CERT_UNREADABLE' }),
    );
    expect(() => planSecureFile(10, options('e', { signer: { ...signerOf(pki.signer, 'sha256', []), privateKey: pki.recipient.privateKey } }))).toThrow(
      expect.objectContaining({ code: 'KEY_MISMATCH' }),
    );
    expect(() => planSecureFile(-1, options('e'))).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('derives a password KEK once per media: the second file of the same salt opens without PBKDF2', async () => {
    clearPasswordKekCache();
    const slow = derivePasswordKek('media password', { random: seededRandom('media'), iterations: 600_000 });
    const files = await Promise.all(
      ['a', 'b'].map((seed) => writeAll(planSecureFile(100, options(seed, { recipients: [{ kind: 'password', kek: slow }] })), part10Like(100))),
    );
    const time = async (file: Buffer): Promise<number> => {
      const t = process.hrtime.bigint();
      expect((await readAll(file, { passwords: ['media password'] })).result.valid).toBe(true);
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const first = await time(files[0] as Buffer);
    const second = await time(files[1] as Buffer);
    expect(second).toBeLessThan(first / 3);
  });

  it('encrypts a real Part 10 file from the corpus', async () => {
    const content = readFileSync(path.join(CORPUS, 'ct/CT_small.dcm'));
    const plan = planSecureFile(content.length, options('ct'));
    const file = await writeAll(plan, content);
    expect(file.length).toBe(plan.size);
    const { result, content: out } = await readAll(file, { certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey }] });
    expect(out.equals(content)).toBe(true);
    expect(result.valid).toBe(true);
  });
});
