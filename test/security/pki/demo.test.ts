/**
 * The demo PKI (demo.ts): files, modes, key/certificate pairs, subjects that say DEMO, and that
 * OpenSSL accepts every leaf under the demo root. 2048-bit keys to keep the test fast.
 */
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeCertificate, loadCertificates } from '../../../src/security/pki/certificates.js';
import { DEMO_ORGANIZATION, makeDemoPki, type DemoPkiSummary } from '../../../src/security/pki/demo.js';
import { assertKeyMatchesCertificate, loadPrivateKey } from '../../../src/security/pki/keys.js';
import { evaluateSigner } from '../../../src/security/pki/trust.js';
import { describeWithTools, run, tempDir } from '../../helpers/env.js';

const NOW = new Date('2026-03-01T10:00:00Z');
const LEAVES = ['media-signer', 'media-recipient', 'tls-server', 'tls-client'] as const;

describe('makeDemoPki', () => {
  const base = tempDir('dcmsafe-demo-');
  const out = path.join(base, 'pki');
  let summary: DemoPkiSummary;

  beforeAll(async () => {
    summary = await makeDemoPki(out, { now: NOW, bits: 2048 });
  });

  it('writes the expected files, keys 0600', () => {
    for (const name of LEAVES) {
      expect(statSync(path.join(out, `${name}.pem`)).isFile()).toBe(true);
      expect(statSync(path.join(out, `${name}.key`)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(path.join(out, 'demo-root-ca.pem')).isFile()).toBe(true);
    expect(() => statSync(path.join(out, 'demo-root-ca.key'))).toThrow(); // the root key is not kept
    const readme = readFileSync(path.join(out, 'README.txt'), 'utf8');
    expect(readme).toMatch(/THESE ARE DEMO CREDENTIALS\. THEY ARE NOT FOR CLINICAL USE\./);
    expect(summary.readmeFile).toBe(path.join(out, 'README.txt'));
    expect(summary.mediaSigner.keyFile).toBe(path.join(out, 'media-signer.key'));
    expect(summary.rootCa.keyFile).toBeUndefined();
  });

  it('keys are unencrypted PKCS#8 and match their certificates; every subject says DEMO', () => {
    for (const name of LEAVES) {
      const keyPem = readFileSync(path.join(out, `${name}.key`));
      expect(keyPem.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const cert = loadCertificates(readFileSync(path.join(out, `${name}.pem`)))[0] as Buffer;
      expect(() => assertKeyMatchesCertificate(loadPrivateKey(keyPem), cert)).not.toThrow();
      expect(describeCertificate(cert).subject).toContain(`O=${DEMO_ORGANIZATION}`);
      expect(describeCertificate(cert).subject).toMatch(/DEMO/);
    }
    expect(summary.rootCa.identity.subject).toBe(`O=${DEMO_ORGANIZATION}, CN=dcmsafe DEMO Root CA`);
  });

  it('has the usages and validity asked for', () => {
    const day = 86_400_000;
    expect(summary.rootCa.identity.isCA).toBe(true);
    expect(summary.rootCa.identity.notAfter.getUTCFullYear()).toBe(2036);
    expect(summary.mediaSigner.identity.keyUsage).toEqual(['digitalSignature', 'nonRepudiation']);
    expect(summary.mediaRecipient.identity.keyUsage).toEqual(['keyEncipherment']);
    expect(summary.mediaRecipient.identity.extendedKeyUsage).toEqual(['emailProtection']);
    expect(summary.tlsServer.identity.extendedKeyUsage).toEqual(['serverAuth']);
    expect(summary.tlsServer.identity.subjectAltNames?.ip).toEqual(['127.0.0.1']);
    expect(summary.tlsClient.identity.extendedKeyUsage).toEqual(['clientAuth']);
    for (const c of [summary.mediaSigner, summary.mediaRecipient, summary.tlsServer, summary.tlsClient]) {
      expect(c.identity.notBefore.getTime()).toBe(NOW.getTime() - day);
      expect(c.identity.notAfter.getUTCFullYear()).toBe(2028);
      expect(c.identity.isCA).toBe(false);
      expect(c.identity.publicKeyBits).toBe(2048);
    }
  });

  it('the media signer is trusted under the demo root', () => {
    const root = loadCertificates(readFileSync(summary.rootCa.certificateFile))[0] as Buffer;
    const signer = loadCertificates(readFileSync(summary.mediaSigner.certificateFile))[0] as Buffer;
    const r = evaluateSigner({ certificate: signer, otherCertificates: [], signatureValid: true, signingTime: NOW }, { anchors: [root], now: NOW });
    expect(r.status).toBe('trusted');
    const recipient = loadCertificates(readFileSync(summary.mediaRecipient.certificateFile))[0] as Buffer;
    expect(evaluateSigner({ certificate: recipient, otherCertificates: [], signatureValid: true }, { anchors: [root], now: NOW }).status).toBe('wrong-key-usage');
  });

  it('refuses a folder that is not empty, and fills an empty existing one', async () => {
    await expect(makeDemoPki(out, { now: NOW, bits: 2048 })).rejects.toMatchObject({ code: 'OUTPUT_NOT_EMPTY' });
    const other = path.join(base, 'busy');
    mkdirSync(other);
    writeFileSync(path.join(other, 'something'), 'x');
    await expect(makeDemoPki(other, { now: NOW, bits: 2048 })).rejects.toMatchObject({ code: 'OUTPUT_NOT_EMPTY' });
  });
});

describeWithTools(['openssl'], 'demo PKI read by OpenSSL', () => {
  const base = tempDir('dcmsafe-demo-openssl-');
  const out = path.join(base, 'pki');
  beforeAll(async () => {
    await makeDemoPki(out, { now: new Date(), bits: 2048 });
  });

  it.each(LEAVES)('openssl verify -CAfile demo-root-ca.pem accepts %s.pem', (name) => {
    const r = run('openssl', ['verify', '-CAfile', 'demo-root-ca.pem', `${name}.pem`], { cwd: out });
    expect(r.stdout.trim()).toBe(`${name}.pem: OK`);
  });

  it('the TLS server certificate has IP 127.0.0.1 in its subjectAltName and serverAuth; keys match per openssl', () => {
    const text = run('openssl', ['x509', '-in', 'tls-server.pem', '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { cwd: out }).stdout;
    expect(text).toContain('IP Address:127.0.0.1');
    expect(text).toContain('TLS Web Server Authentication');
    const purpose = run('openssl', ['verify', '-CAfile', 'demo-root-ca.pem', '-purpose', 'sslserver', 'tls-server.pem'], { cwd: out });
    expect(purpose.stdout.trim()).toBe('tls-server.pem: OK');
    const client = run('openssl', ['verify', '-CAfile', 'demo-root-ca.pem', '-purpose', 'sslclient', 'tls-client.pem'], { cwd: out });
    expect(client.stdout.trim()).toBe('tls-client.pem: OK');
    const smime = run('openssl', ['verify', '-CAfile', 'demo-root-ca.pem', '-purpose', 'smimesign', 'media-signer.pem'], { cwd: out });
    expect(smime.stdout.trim()).toBe('media-signer.pem: OK');
    for (const name of LEAVES) {
      const certMod = run('openssl', ['x509', '-in', `${name}.pem`, '-noout', '-pubkey'], { cwd: out }).stdout;
      const keyMod = run('openssl', ['pkey', '-in', `${name}.key`, '-pubout'], { cwd: out }).stdout;
      expect(keyMod).toBe(certMod);
    }
  });
});
