/**
 * Integrity of Secure DICOM Files under tampering (PS3.15 D.1: confidentiality and integrity): flipping
 * any single byte, anywhere in the file, never yields `valid: true` with the original content. The
 * outcome must be a typed CMS_* error or an invalid result.
 *
 * This holds for the unencrypted parts (RFC 5652 versions and algorithm parameters are checked exactly,
 * lengths must add up) and for the encrypted ones (the content is covered by the digest or signature,
 * the certificates by the ESS signing-certificate-v2 attribute, the rest by the structure checks).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { parseBer } from '../../../src/security/asn1/ber.js';
import { derivePasswordKek, planSecureFile } from '../../../src/security/cms/writer.js';
import type { DecryptionKeys } from '../../../src/security/cms/reader.js';
import { seededRandom } from '../../../src/util/random.js';
import { part10Like, readAll, writeAll } from './helpers.js';
import { makeTestPki } from './pki.js';

const content = part10Like(3000, 'tamper');
const PASSWORD = 'tamper-proof';

interface Case {
  name: string;
  file: Buffer;
  keys: DecryptionKeys;
}
const cases: Case[] = [];

beforeAll(async () => {
  const pki = makeTestPki();
  const when = new Date('2025-02-03T04:05:06Z');
  const signed = planSecureFile(content.length, {
    recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate }],
    signer: { certificate: pki.signer.certificate, chain: [pki.ca.certificate], privateKey: pki.signer.privateKey, digest: 'sha256' },
    signingTime: when,
    random: seededRandom('tamper signed'),
  });
  cases.push({ name: 'SignedData, RSA recipient', file: await writeAll(signed, content), keys: { certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey }] } });
  const kek = derivePasswordKek(PASSWORD, { random: seededRandom('tamper kek'), iterations: 10_000 });
  const digested = planSecureFile(content.length, { recipients: [{ kind: 'password', kek }], digest: 'sha256', cipher: 'aes128', signingTime: when, random: seededRandom('tamper digested') });
  cases.push({ name: 'DigestedData, password recipient', file: await writeAll(digested, content), keys: { passwords: [PASSWORD] } });
  const legacy = planSecureFile(content.length, {
    recipients: [{ kind: 'certificate', certificate: pki.recipient.certificate, padding: 'oaep' }],
    signer: { certificate: pki.signer.certificate, chain: [], privateKey: pki.signer.privateKey, digest: 'sha1' },
    cipher: 'des-ede3',
    signingTime: when,
    random: seededRandom('tamper legacy'),
  });
  cases.push({ name: 'SignedData SHA-1, 3DES, OAEP recipient', file: await writeAll(legacy, content), keys: { certificates: [{ certificate: pki.recipient.certificate, privateKey: pki.recipient.privateKey }] } });
});

async function outcome(file: Buffer, keys: DecryptionKeys): Promise<'error' | 'invalid' | 'altered content' | 'VALID'> {
  try {
    const { content: out, result } = await readAll(file, keys);
    if (!result.valid) return 'invalid';
    return out.equals(content) ? 'VALID' : 'altered content';
  } catch (e) {
    if (!(e instanceof DcmsafeError) || !/^CMS_/.test(e.code) || e.code === 'CMS_CONTENT_LENGTH') throw e;
    return 'error';
  }
}

describe('flipping one byte never gives a valid file with the original content', () => {
  it('the untouched files are valid', async () => {
    for (const c of cases) expect(await outcome(c.file, c.keys), c.name).toBe('VALID');
  });

  for (const index of [0, 1, 2]) {
    it(`case ${index + 1}: over 1000 distinct random positions, random XOR masks (fast-check)`, async () => {
      const c = cases[index] as Case;
      const seen = new Set<number>();
      // Each run flips 1000 distinct bytes, one at a time; a failure names the offending flip.
      const flips = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: c.file.length - 1 }), fc.integer({ min: 1, max: 255 })), {
        minLength: 1000,
        maxLength: 1000,
        selector: ([pos]) => pos,
      });
      await fc.assert(
        fc.asyncProperty(flips, async (list) => {
          for (const [pos, mask] of list) {
            seen.add(pos);
            const file = Buffer.from(c.file);
            file[pos] = (file[pos] as number) ^ mask;
            const o = await outcome(file, c.keys);
            expect(o, `${c.name}: byte ${pos} ^ 0x${mask.toString(16)}`).not.toBe('VALID');
          }
        }),
        // No shrinking: the assertion names the flip, and shrinking a 1000-flip list re-decrypts thousands of times.
        { numRuns: 2, seed: 0x5ec0 + index, endOnFailure: true },
      );
      expect(seen.size).toBeGreaterThanOrEqual(1000);
    }, 60_000);
  }

  it('case 1: every byte of the unencrypted head, inverted', async () => {
    const c = cases[0] as Case;
    // Everything before the ciphertext: ContentInfo, EnvelopedData, RecipientInfos, algorithm identifiers, IV.
    const enveloped = parseBer(c.file).children[1]?.children[0];
    const encryptedContent = enveloped?.children[2]?.children[2];
    const head = (encryptedContent?.content.byteOffset ?? 0) - c.file.byteOffset;
    expect(head).toBeGreaterThan(300);
    for (let pos = 0; pos < head; pos++) {
      const file = Buffer.from(c.file);
      file[pos] = (file[pos] as number) ^ 0xff;
      expect(await outcome(file, c.keys), `byte ${pos} ^ 0xff`).not.toBe('VALID');
    }
  }, 60_000);
});
