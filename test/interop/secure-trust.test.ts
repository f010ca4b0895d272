/**
 * Secure files made by OpenSSL (sign and encrypt as separate commands) opened by dcmsafe: decrypted,
 * verified, and the signer judged against the trust anchors, for certificate and password recipients,
 * AES-256 and Triple-DES, SHA-1 and SHA-256. And the trust statuses that matter most at a front desk:
 * a signer under an unknown CA is untrusted-chain, an expired signer is expired.
 */
import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { toPem } from '../../src/security/pki/pem.js';
import type { KeyUsageName } from '../../src/security/pki/certificates.js';
import { generateRsaKeyPair, issueCertificate } from '../../src/security/pki/issue.js';
import { openJudgedSecureFile, type JudgedSecureFile } from '../../src/security/secure-file.js';
import { FileReader } from '../../src/media/io/random-access-reader.js';
import { CORPUS, describeWithTools, run, tempDir } from '../helpers/env.js';

const DAY = 86_400_000;
const CONTENT = path.join(CORPUS, 'ct/CT_small.dcm');

interface Cred {
  cert: string;
  key: string;
  der: Buffer;
}

describeWithTools(['openssl'], 'Secure files made by OpenSSL, judged by dcmsafe', () => {
  const tmp = tempDir();
  const now = new Date();
  let root: Cred;
  let otherRoot: Cred;
  let signer: Cred;
  let expired: Cred;
  let foreign: Cred;
  let recipient: Cred;
  const password = 'front desk 2026';

  async function credential(name: string, cn: string, issuer: { der: Buffer; key: KeyObject } | undefined, opts: { ca?: boolean; from: number; to: number; usage: KeyUsageName[] }): Promise<Cred & { keyObject: KeyObject }> {
    const keys = await generateRsaKeyPair(2048);
    const der = issueCertificate({
      subject: { O: 'dcmsafe test (not for clinical use)', CN: cn },
      publicKey: keys.publicKey,
      ...(issuer ? { issuer: { certificate: issuer.der, privateKey: issuer.key } } : { signingKey: keys.privateKey }),
      serialNumber: BigInt(Math.floor(Math.random() * 1e12)),
      notBefore: new Date(now.getTime() + opts.from * DAY),
      notAfter: new Date(now.getTime() + opts.to * DAY),
      isCA: opts.ca ?? false,
      keyUsage: opts.usage,
    });
    const cert = path.join(tmp, `${name}.pem`);
    const key = path.join(tmp, `${name}.key`);
    writeFileSync(cert, toPem('CERTIFICATE', der));
    writeFileSync(key, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    return { cert, key, der, keyObject: keys.privateKey };
  }

  beforeAll(async () => {
    const r = await credential('root', 'Test Root', undefined, { ca: true, from: -10, to: 3650, usage: ['keyCertSign', 'cRLSign'] });
    root = r;
    const o = await credential('other-root', 'Other Root', undefined, { ca: true, from: -10, to: 3650, usage: ['keyCertSign', 'cRLSign'] });
    otherRoot = o;
    signer = await credential('signer', 'Media Signer', { der: r.der, key: r.keyObject }, { from: -1, to: 365, usage: ['digitalSignature', 'nonRepudiation'] });
    expired = await credential('expired', 'Expired Signer', { der: r.der, key: r.keyObject }, { from: -730, to: -365, usage: ['digitalSignature'] });
    foreign = await credential('foreign', 'Foreign Signer', { der: o.der, key: o.keyObject }, { from: -1, to: 365, usage: ['digitalSignature'] });
    recipient = await credential('recipient', 'Receiving Institution', { der: r.der, key: r.keyObject }, { from: -1, to: 365, usage: ['keyEncipherment'] });
  }, 120_000);

  function makeSecure(name: string, who: Cred, md: string, cipher: string, toPassword: boolean): string {
    const signed = path.join(tmp, `${name}.p7`);
    const s = run('openssl', ['cms', '-sign', '-binary', '-nodetach', '-in', CONTENT, '-signer', who.cert, '-inkey', who.key, '-md', md, '-outform', 'DER', '-out', signed]);
    expect(s.status, s.stderr).toBe(0);
    const out = path.join(tmp, `${name}.dcm`);
    const recip = toPassword ? ['-pwri_password', password] : [recipient.cert];
    const e = run('openssl', ['cms', '-encrypt', '-binary', '-inform', 'DER', '-in', signed, `-${cipher}`, '-outform', 'DER', '-out', out, ...recip]);
    expect(e.status, e.stderr).toBe(0);
    return out;
  }

  async function open(file: string, anchors: Buffer[]): Promise<{ judged: JudgedSecureFile; digest: string }> {
    const reader = await FileReader.open(file);
    try {
      const keys = { certificates: [{ certificate: recipient.der, privateKey: createPrivateKey(readFileSync(recipient.key)) }], passwords: [password] };
      const opened = await openJudgedSecureFile(reader, keys, { anchors, now: new Date() });
      const h = createHash('sha256');
      for await (const chunk of opened.content) h.update(chunk);
      return { judged: await opened.result, digest: h.digest('hex') };
    } finally {
      await reader.close();
    }
  }

  const original = (): string => createHash('sha256').update(readFileSync(CONTENT)).digest('hex');

  for (const [md, cipher, toPassword] of [
    ['sha256', 'aes256', false],
    ['sha256', 'aes256', true],
    ['sha1', 'des3', false],
    ['sha1', 'des3', true],
  ] as const) {
    it(`${md} + ${cipher} for a ${toPassword ? 'password' : 'certificate'}: trusted, signer named, content exact`, async () => {
      const { judged, digest } = await open(makeSecure(`${md}-${cipher}-${toPassword}`, signer, md, cipher, toPassword), [root.der]);
      expect(judged.status).toBe('trusted');
      expect(judged.cms.wrapped).toBe(true);
      expect(judged.signers[0]?.trust?.signer.subject).toContain('CN=Media Signer');
      expect(digest).toBe(original());
      if (cipher === 'des3') expect(judged.cms.legacy.join(' ')).toMatch(/des-ede3/);
      if (md === 'sha1') expect(judged.cms.legacy.join(' ')).toMatch(/sha1/i);
    });
  }

  it('a signer under an unknown CA is untrusted-chain', async () => {
    const { judged } = await open(makeSecure('foreign', foreign, 'sha256', 'aes256', false), [root.der]);
    expect(judged.status).toBe('untrusted-chain');
    expect(judged.cms.valid).toBe(true);
  });

  it('the same file is trusted by whoever trusts that CA', async () => {
    const { judged } = await open(makeSecure('foreign2', foreign, 'sha256', 'aes256', false), [otherRoot.der]);
    expect(judged.status).toBe('trusted');
  });

  it('an expired signer is expired', async () => {
    const { judged } = await open(makeSecure('expired', expired, 'sha256', 'aes256', false), [root.der]);
    expect(judged.status).toBe('expired');
    expect(judged.signers[0]?.trust?.reasons.join(' ')).toMatch(/expired|not valid/i);
  });
});
