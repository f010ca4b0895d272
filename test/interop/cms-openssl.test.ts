/**
 * Secure DICOM Files (PS3.15 D.1) against OpenSSL's `cms` command, both ways, with a real Part 10 file
 * from the corpus as content and certificates made by `openssl req`/`openssl x509`.
 *
 * Ours → OpenSSL: `openssl cms -decrypt` (RSA recipient or -pwri_password) opens our files. It writes
 * the decrypted content, which for us is a bare SignedData/DigestedData (the encrypted content type
 * says which, RFC 5652 §6.1), while `-verify`/`-digest_verify` only read a ContentInfo: the test wraps
 * the decrypted bytes in ContentInfo { id-signedData | id-digestedData, [0] ... } first. Then
 * `-verify -CAfile` (also with -cades, which checks our ESS signing-certificate-v2) and
 * `-digest_verify` give back the exact original bytes.
 *
 * OpenSSL → ours: `openssl cms -sign` piped into `openssl cms -encrypt` (id-data holding a ContentInfo:
 * `wrapped`), DER and streamed BER (-stream), AES-256/AES-128 and -des3, SHA-1/SHA-256, RSA
 * recipients by issuer/serial or -keyid, OAEP, -pwri_password, -digest_create, and a plain
 * `-encrypt` of the Part 10 file (structure 'data', readable but never valid).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';
import { BufferReader, FileReader } from '../../src/media/io/random-access-reader.js';
import { encode, explicit, oid, raw, sequence } from '../../src/security/asn1/der.js';
import { openSecureFile, type DecryptionKeys, type SecureFileResult } from '../../src/security/cms/reader.js';
import { derivePasswordKek, planSecureFile, type ContentCipher, type DigestName, type Recipient } from '../../src/security/cms/writer.js';
import { seededRandom } from '../../src/util/random.js';
import { CORPUS, describeWithTools, run, tempDir } from '../helpers/env.js';

const PASSWORD = 'Interop-Pass-2025';
const SIGNED_DATA = '1.2.840.113549.1.7.2';
const DIGESTED_DATA = '1.2.840.113549.1.7.5';

interface Identity {
  pem: string;
  key: string;
  der: Buffer;
  privateKey: KeyObject;
}

function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  return Buffer.from(m?.[1]?.replace(/\s+/g, '') ?? '', 'base64');
}

/** Runs openssl; binary results go through -out files (run() gives text). */
function openssl(args: string[]): void {
  const r = run('openssl', args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

describeWithTools(['openssl'], 'CMS interoperability with OpenSSL (PS3.15 D.1)', () => {
  const dir = tempDir('dcmsafe-cms-openssl-');
  const f = (name: string): string => path.join(dir, name);
  const contentPath = path.join(CORPUS, 'ct/CT_small.dcm');
  const content = readFileSync(contentPath);
  let ca: Identity;
  let signer: Identity;
  let recipient: Identity;

  beforeAll(() => {
    writeFileSync(
      f('openssl.cnf'),
      [
        '[req]',
        'distinguished_name = dn',
        'prompt = no',
        '[dn]',
        'CN = unused',
        '[v3_ca]',
        'basicConstraints = critical,CA:TRUE',
        'keyUsage = critical,keyCertSign,cRLSign',
        'subjectKeyIdentifier = hash',
        '[v3_leaf]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    const load = (name: string): Identity => {
      const pem = readFileSync(f(`${name}.pem`), 'utf8');
      return { pem: f(`${name}.pem`), key: f(`${name}.key`), der: pemToDer(pem), privateKey: createPrivateKey(readFileSync(f(`${name}.key`))) };
    };
    openssl(['req', '-x509', '-config', f('openssl.cnf'), '-extensions', 'v3_ca', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-subj', '/O=dcmsafe interop/CN=Interop CA', '-days', '3650']);
    for (const name of ['signer', 'recipient']) {
      openssl(['req', '-new', '-config', f('openssl.cnf'), '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/O=dcmsafe interop/CN=Interop ${name}`]);
      openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', name === 'signer' ? '0x1001' : '0x2002', '-days', '3650', '-extfile', f('openssl.cnf'), '-extensions', 'v3_leaf', '-out', f(`${name}.pem`)]);
    }
    ca = load('ca');
    signer = load('signer');
    recipient = load('recipient');
  });

  // ---------------------------------------------------------------------------------------------
  // Ours → OpenSSL

  const ours: Array<{ name: string; signed: boolean; cipher: ContentCipher; digest: DigestName; recipient: 'certificate' | 'oaep' | 'password' }> = [
    { name: 'SignedData SHA-256, AES-256, RSA PKCS#1 v1.5 recipient', signed: true, cipher: 'aes256', digest: 'sha256', recipient: 'certificate' },
    { name: 'SignedData SHA-384, AES-128, password recipient', signed: true, cipher: 'aes128', digest: 'sha384', recipient: 'password' },
    { name: 'SignedData SHA-1, 3DES, RSA recipient', signed: true, cipher: 'des-ede3', digest: 'sha1', recipient: 'certificate' },
    { name: 'SignedData SHA-512, AES-192, RSA-OAEP recipient', signed: true, cipher: 'aes192', digest: 'sha512', recipient: 'oaep' },
    { name: 'DigestedData SHA-256, AES-256, RSA recipient', signed: false, cipher: 'aes256', digest: 'sha256', recipient: 'certificate' },
    { name: 'DigestedData SHA-512, AES-256, password recipient', signed: false, cipher: 'aes256', digest: 'sha512', recipient: 'password' },
  ];

  for (const c of ours) {
    it(`ours → OpenSSL: ${c.name}`, async () => {
      const kek = derivePasswordKek(PASSWORD, { random: seededRandom('interop kek'), iterations: 10_000 });
      const recipients: Recipient[] =
        c.recipient === 'password' ? [{ kind: 'password', kek }] : [{ kind: 'certificate', certificate: recipient.der, padding: c.recipient === 'oaep' ? 'oaep' : 'pkcs1' }];
      const plan = planSecureFile(content.length, {
        recipients,
        ...(c.signed ? { signer: { certificate: signer.der, chain: [ca.der], privateKey: signer.privateKey, digest: c.digest } } : { digest: c.digest }),
        cipher: c.cipher,
        signingTime: new Date('2025-06-01T12:00:00Z'),
        random: seededRandom(c.name),
      });
      const parts: Buffer[] = [];
      for await (const b of plan.stream((async function* () {
        yield content;
      })())) parts.push(b);
      const file = Buffer.concat(parts);
      expect(file.length).toBe(plan.size);
      const ourFile = f(`ours-${ours.indexOf(c)}.p7m`);
      writeFileSync(ourFile, file);

      const inner = f(`ours-${ours.indexOf(c)}.inner`);
      const how = c.recipient === 'password' ? ['-pwri_password', PASSWORD] : ['-recip', recipient.pem, '-inkey', recipient.key];
      openssl(['cms', '-decrypt', '-inform', 'DER', '-in', ourFile, ...how, '-out', inner]);

      // OpenSSL writes the bare inner structure; -verify and -digest_verify want a ContentInfo.
      const type = c.signed ? SIGNED_DATA : DIGESTED_DATA;
      const wrappedFile = f(`ours-${ours.indexOf(c)}.wrapped`);
      writeFileSync(wrappedFile, encode(sequence(oid(type), explicit(0, raw(readFileSync(inner))))));
      const out = f(`ours-${ours.indexOf(c)}.dcm`);
      if (c.signed) {
        const bare = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', inner, '-CAfile', ca.pem, '-binary', '-out', f('bare.out')]);
        expect(bare.status, 'OpenSSL reads a bare SignedData? then the wrapping is unnecessary').not.toBe(0);
        openssl(['cms', '-verify', '-inform', 'DER', '-in', wrappedFile, '-CAfile', ca.pem, '-binary', '-out', out]);
        openssl(['cms', '-verify', '-cades', '-inform', 'DER', '-in', wrappedFile, '-CAfile', ca.pem, '-binary', '-out', f('cades.out')]);
        expect(readFileSync(f('cades.out')).equals(content)).toBe(true);
      } else {
        openssl(['cms', '-digest_verify', '-inform', 'DER', '-in', wrappedFile, '-binary', '-out', out]);
      }
      expect(readFileSync(out).equals(content)).toBe(true);
    });
  }

  it('ours → OpenSSL: an altered copy of our signed file does not verify in OpenSSL either', async () => {
    // Flip a byte of the signature inside the decrypted SignedData, re-wrap, and ask OpenSSL.
    const inner = readFileSync(f('ours-0.inner'));
    inner[inner.length - 10] = (inner[inner.length - 10] as number) ^ 1;
    writeFileSync(f('altered.wrapped'), encode(sequence(oid(SIGNED_DATA), explicit(0, raw(inner)))));
    const r = run('openssl', ['cms', '-verify', '-inform', 'DER', '-in', f('altered.wrapped'), '-CAfile', ca.pem, '-binary', '-out', f('altered.out')]);
    expect(r.status).not.toBe(0);
  });

  // ---------------------------------------------------------------------------------------------
  // OpenSSL → ours

  interface Theirs {
    name: string;
    /** `openssl cms -sign` options, or 'digest' for -digest_create, or 'none' to encrypt the Part 10 file itself. */
    sign: string[] | 'digest' | 'none';
    /** `openssl cms -encrypt` options; RECIP stands for the recipient certificate file. */
    encrypt: string[];
    keys: 'certificate' | 'password';
    expect: Partial<SecureFileResult> & { legacy?: string[]; chain?: number };
    ber?: boolean;
  }
  const theirs: Theirs[] = [
    { name: 'sign SHA-256 | encrypt AES-256, DER', sign: ['-md', 'sha256'], encrypt: ['-aes256'], keys: 'certificate', expect: { structure: 'signed', valid: true, legacy: [] } },
    {
      name: 'sign SHA-256 -stream | encrypt AES-256 -stream (BER, indefinite lengths, constructed OCTET STRINGs)',
      sign: ['-md', 'sha256', '-stream'],
      encrypt: ['-aes256', '-stream'],
      keys: 'certificate',
      expect: { structure: 'signed', valid: true },
      ber: true,
    },
    { name: 'sign SHA-1 | encrypt -des3', sign: ['-md', 'sha1'], encrypt: ['-des3'], keys: 'certificate', expect: { structure: 'signed', valid: true, legacy: ['des-ede3-cbc', 'sha1'] } },
    { name: 'sign SHA-1 -stream | encrypt -des3 -stream', sign: ['-md', 'sha1', '-stream'], encrypt: ['-des3', '-stream'], keys: 'certificate', expect: { structure: 'signed', valid: true }, ber: true },
    { name: 'sign with -certfile (chain) | encrypt AES-128', sign: ['-md', 'sha256', '-certfile', 'CA'], encrypt: ['-aes128'], keys: 'certificate', expect: { structure: 'signed', valid: true, chain: 2 } },
    { name: 'sign -keyid | encrypt -keyid (subjectKeyIdentifier both ways)', sign: ['-md', 'sha256', '-keyid'], encrypt: ['-aes256', '-keyid'], keys: 'certificate', expect: { structure: 'signed', valid: true } },
    { name: 'sign | encrypt to RSA-OAEP (SHA-256)', sign: ['-md', 'sha256'], encrypt: ['-aes256', '-recip', 'RECIP', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256'], keys: 'certificate', expect: { structure: 'signed', valid: true } },
    { name: 'sign | encrypt -pwri_password AES-256', sign: ['-md', 'sha256'], encrypt: ['-aes256', '-pwri_password', PASSWORD], keys: 'password', expect: { structure: 'signed', valid: true } },
    {
      name: 'sign -stream | encrypt -pwri_password -des3 -stream',
      sign: ['-md', 'sha256', '-stream'],
      encrypt: ['-des3', '-pwri_password', PASSWORD, '-stream'],
      keys: 'password',
      expect: { structure: 'signed', valid: true, legacy: ['des-ede3-cbc', 'hmacWithSHA1', 'pbkdf2-iterations:2048'] },
      ber: true,
    },
    { name: 'digest_create SHA-256 | encrypt AES-256', sign: 'digest', encrypt: ['-aes256'], keys: 'certificate', expect: { structure: 'digested', valid: true, digestAlgorithm: 'sha256' } },
    { name: 'encrypt the Part 10 file itself (no integrity)', sign: 'none', encrypt: ['-aes256'], keys: 'certificate', expect: { structure: 'data', wrapped: false, valid: false } },
  ];

  for (const [i, c] of theirs.entries()) {
    it(`OpenSSL → ours: ${c.name}`, async () => {
      const input = f(`theirs-${i}.in`);
      const stream = c.sign !== 'none' && c.sign !== 'digest' && c.sign.includes('-stream');
      if (c.sign === 'none') writeFileSync(input, content);
      else if (c.sign === 'digest') openssl(['cms', '-digest_create', '-binary', '-in', contentPath, '-md', 'sha256', '-outform', 'DER', '-out', input]);
      else {
        const opts = c.sign.map((o) => (o === 'CA' ? ca.pem : o));
        openssl(['cms', '-sign', '-binary', '-nodetach', '-in', contentPath, '-signer', signer.pem, '-inkey', signer.key, '-outform', 'DER', ...opts, '-out', input]);
      }
      if (stream) expect(readFileSync(input)[1], 'signed with -stream is BER with an indefinite length').toBe(0x80);
      // A password alone, an explicit -recip (-keyopt must follow the -recip it applies to), or the certificate as the last argument.
      const explicitRecipient = c.encrypt.includes('-pwri_password') || c.encrypt.includes('-recip');
      const encrypt = [...c.encrypt.map((o) => (o === 'RECIP' ? recipient.pem : o)), ...(explicitRecipient ? [] : [recipient.pem])];
      openssl(['cms', '-encrypt', '-binary', '-in', input, '-outform', 'DER', '-out', f(`theirs-${i}.p7m`), ...encrypt]);
      if (c.ber) expect(readFileSync(f(`theirs-${i}.p7m`))[1], 'encrypted with -stream is BER with an indefinite length').toBe(0x80);

      const keys: DecryptionKeys = c.keys === 'password' ? { passwords: [PASSWORD] } : { certificates: [{ certificate: recipient.der, privateKey: recipient.privateKey }] };
      const reader = await FileReader.open(f(`theirs-${i}.p7m`));
      try {
        const opened = await openSecureFile(reader, keys);
        const got: Buffer[] = [];
        for await (const b of opened.content) got.push(b);
        const result = await opened.result;
        expect(Buffer.concat(got).equals(content)).toBe(true);
        expect(result.structure).toBe(c.expect.structure);
        expect(result.valid).toBe(c.expect.valid);
        expect(result.wrapped).toBe(c.expect.wrapped ?? true);
        expect(result.recipient.kind).toBe(c.keys);
        if (c.expect.legacy) expect([...result.legacy].sort()).toEqual([...c.expect.legacy].sort());
        if (c.expect.digestAlgorithm) expect(result.digestAlgorithm).toBe(c.expect.digestAlgorithm);
        if (c.expect.structure === 'signed') {
          expect(result.signers).toHaveLength(1);
          const s = result.signers[0];
          expect(s?.signerCertificate?.equals(signer.der)).toBe(true);
          expect(s?.signatureValid).toBe(true);
          expect(s?.digestMatches).toBe(true);
          expect(s?.signingTime).toBeInstanceOf(Date);
          expect(s?.certificates).toHaveLength(c.expect.chain ?? 1);
          expect('subjectKeyIdentifier' in (s?.sid ?? {})).toBe(c.sign !== 'none' && c.sign !== 'digest' && c.sign.includes('-keyid'));
        }
      } finally {
        await reader.close();
      }
    });
  }

  it('OpenSSL → ours: truncated streamed (BER) files fail with CMS_TRUNCATED while streaming', async () => {
    const file = readFileSync(f('theirs-1.p7m'));
    const keys = { certificates: [{ certificate: recipient.der, privateKey: recipient.privateKey }] };
    const cuts = [...Array.from({ length: 12 }, (_, k) => Math.floor(((k + 1) * file.length) / 14)), ...Array.from({ length: 8 }, (_, k) => file.length - 1 - k)];
    for (const n of cuts) {
      let code: string | undefined;
      try {
        const opened = await openSecureFile(new BufferReader(file.subarray(0, n)), keys);
        for await (const _ of opened.content) void _;
        await opened.result;
      } catch (e) {
        code = e instanceof DcmsafeError ? e.code : String(e);
      }
      expect(code, `cut at ${n} of ${file.length}`).toBe('CMS_TRUNCATED');
    }
  });

  it('OpenSSL → ours: a wrong password and a wrong key on OpenSSL files', async () => {
    const pwFile = readFileSync(f('theirs-7.p7m'));
    await expect(openSecureFile(new BufferReader(pwFile), { passwords: ['not it'] })).rejects.toMatchObject({ code: 'CMS_WRONG_PASSWORD' });
    const certFile = readFileSync(f('theirs-0.p7m'));
    await expect(openSecureFile(new BufferReader(certFile), { certificates: [{ certificate: recipient.der, privateKey: signer.privateKey }] })).rejects.toMatchObject({ code: 'CMS_WRONG_KEY' });
    await expect(openSecureFile(new BufferReader(certFile), { certificates: [{ certificate: signer.der, privateKey: signer.privateKey }] })).rejects.toMatchObject({ code: 'CMS_NO_RECIPIENT' });
  });
});
