/**
 * Certificates and CRLs: loading PEM/DER (RFC 7468, RFC 5280 §4), describing them, names (RFC 4514
 * form, RFC 5280 §7.1 comparison), and the issuer (issue.ts) checked against OpenSSL's reading.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeCertificate, loadCertificates, loadCrls, parseCrl } from '../../../src/security/pki/certificates.js';
import { encodeName, generateRsaKeyPair, issueCertificate, issueCrl } from '../../../src/security/pki/issue.js';
import { formatName, namesEqual } from '../../../src/security/pki/names.js';
import { toPem } from '../../../src/security/pki/pem.js';
import { describeWithTools, run, tempDir } from '../../helpers/env.js';
import { D, type KeyPair } from './fixtures.js';

let caKey: KeyPair;
let leafKey: KeyPair;
let caCert: Buffer;
let leafCert: Buffer;

beforeAll(async () => {
  [caKey, leafKey] = await Promise.all([generateRsaKeyPair(2048), generateRsaKeyPair(2048)]);
  caCert = issueCertificate({
    subject: { C: 'CH', O: 'Hôpital, "Test"', CN: 'Test CA' },
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
    serialNumber: 1n,
    notBefore: D('2024-01-01'),
    notAfter: D('2060-01-01'),
    isCA: true,
    pathLength: 2,
    keyUsage: ['keyCertSign', 'cRLSign'],
  });
  leafCert = issueCertificate({
    subject: { CN: 'Leaf', OU: 'Radiology', O: 'Hospital' },
    issuer: { certificate: caCert, privateKey: caKey.privateKey },
    publicKey: leafKey.privateKey, // the public half is taken
    serialNumber: Buffer.from('00ff00112233', 'hex'),
    notBefore: new Date('2024-03-04T05:06:07.890Z'),
    notAfter: D('2026-01-01'),
    keyUsage: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'],
    extendedKeyUsage: ['emailProtection', 'clientAuth'],
    subjectAltNames: { ip: ['127.0.0.1', '2001:db8::1'], dns: ['localhost'], email: ['pacs@example.org'] },
  });
});

describe('describeCertificate', () => {
  it('describes a CA certificate', () => {
    const d = describeCertificate(caCert);
    expect(d.subject).toBe('C=CH, O=Hôpital\\, \\"Test\\", CN=Test CA');
    expect(d.issuer).toBe(d.subject);
    expect(d.serialNumber).toBe('01');
    expect(d.isCA).toBe(true);
    expect(d.pathLength).toBe(2);
    expect(d.keyUsage).toEqual(['keyCertSign', 'cRLSign']);
    expect(d.extendedKeyUsage).toEqual([]);
    expect(d.notAfter).toEqual(D('2060-01-01')); // GeneralizedTime from 2050 on
    expect(d.publicKeyAlgorithm).toBe('rsa');
    expect(d.publicKeyBits).toBe(2048);
    expect(d.subjectKeyIdentifier).toMatch(/^[0-9a-f]{40}$/);
    expect(d.authorityKeyIdentifier).toBe(d.subjectKeyIdentifier);
    expect(d.signatureAlgorithm).toBe('sha256WithRSAEncryption');
    expect(d.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('describes an end-entity certificate', () => {
    const d = describeCertificate(leafCert);
    expect(d.subject).toBe('O=Hospital, OU=Radiology, CN=Leaf');
    expect(d.issuer).toBe('C=CH, O=Hôpital\\, \\"Test\\", CN=Test CA');
    expect(d.serialNumber).toBe('FF00112233');
    expect(d.notBefore).toEqual(new Date('2024-03-04T05:06:07Z')); // whole seconds
    expect(d.isCA).toBe(false);
    expect(d.pathLength).toBeUndefined();
    expect(d.keyUsage).toEqual(['digitalSignature', 'nonRepudiation', 'keyEncipherment']);
    expect(d.extendedKeyUsage).toEqual(['emailProtection', 'clientAuth']);
    expect(d.subjectAltNames).toEqual({ dns: ['localhost'], ip: ['127.0.0.1', '2001:db8:0:0:0:0:0:1'], email: ['pacs@example.org'], uri: [] });
    expect(d.authorityKeyIdentifier).toBe(describeCertificate(caCert).subjectKeyIdentifier);
  });

  it('refuses what is not a certificate', () => {
    expect(() => describeCertificate(Buffer.from('nope'))).toThrow(expect.objectContaining({ code: 'CERT_UNREADABLE' }) as unknown as Error);
  });
});

describe('loadCertificates and loadCrls', () => {
  it('reads PEM bundles with text around blocks, DER, and concatenated DER', () => {
    const bundle = Buffer.from(`Bag of certificates\n${toPem('CERTIFICATE', leafCert)}junk between\n${toPem('CERTIFICATE', caCert)}`);
    const got = loadCertificates(bundle);
    expect(got.map((c) => c.equals(leafCert))).toEqual([true, false]);
    expect(got[1]?.equals(caCert)).toBe(true);
    expect(loadCertificates(leafCert)[0]?.equals(leafCert)).toBe(true);
    expect(loadCertificates(Buffer.concat([leafCert, caCert]))).toHaveLength(2);
    const crlf = Buffer.from(toPem('CERTIFICATE', caCert).replace(/\n/g, '\r\n'));
    expect(loadCertificates(crlf)[0]?.equals(caCert)).toBe(true);
  });

  it('refuses empty, key-only and damaged input with CERT_UNREADABLE', () => {
    const code = (b: Buffer): string | undefined => {
      try {
        loadCertificates(b);
      } catch (e) {
        return (e as { code: string }).code;
      }
      return undefined;
    };
    expect(code(Buffer.from('no pem here'))).toBe('CERT_UNREADABLE');
    expect(code(Buffer.from(caKey.privateKey.export({ type: 'pkcs8', format: 'pem' })))).toBe('CERT_UNREADABLE');
    expect(code(leafCert.subarray(0, leafCert.length - 10))).toBe('CERT_UNREADABLE');
    const damaged = Buffer.from(leafCert);
    damaged[4] = 0x31; // the TBSCertificate SEQUENCE becomes a SET
    expect(code(damaged)).toBe('CERT_UNREADABLE');
  });

  it('reads CRLs in PEM and DER', () => {
    const crl = issueCrl({
      issuer: { certificate: caCert, privateKey: caKey.privateKey },
      thisUpdate: D('2024-06-01'),
      nextUpdate: D('2024-07-01'),
      revoked: [{ serialNumber: Buffer.from('ff00112233', 'hex'), revocationDate: D('2024-05-01'), reasonCode: 4 }],
      crlNumber: 7n,
    });
    expect(loadCrls(Buffer.from(toPem('X509 CRL', crl)))[0]?.equals(crl)).toBe(true);
    expect(loadCrls(crl)).toHaveLength(1);
    const parsed = parseCrl(crl);
    expect(parsed.issuer).toBe(describeCertificate(caCert).subject);
    expect(parsed.crlNumber).toBe('07');
    expect(parsed.revoked).toEqual([{ serial: Buffer.from('00ff00112233', 'hex'), revocationDate: D('2024-05-01'), reason: 'superseded' }]);
    expect(() => loadCrls(Buffer.from(toPem('CERTIFICATE', caCert)))).toThrow(expect.objectContaining({ code: 'CERT_UNREADABLE' }) as unknown as Error);
  });
});

describe('names', () => {
  it('formats in encoding order with RFC 4514 escapes', () => {
    expect(formatName(encodeName({ CN: ' lead space', O: '#hash+plus;semi<>' }))).toBe('O=\\#hash\\+plus\\;semi\\<\\>, CN=\\ lead space');
    expect(formatName(encodeName({ DC: 'example', emailAddress: 'a@b.c' }))).toBe('DC=example, emailAddress=a@b.c');
  });

  it('compares as RFC 5280 §7.1 asks: case and spacing aside, string types aside', () => {
    const a = encodeName({ O: 'Hospital  Example', CN: 'CA' });
    const b = encodeName({ O: 'hospital example', CN: 'ca ' });
    expect(namesEqual(a, b)).toBe(true);
    expect(namesEqual(a, encodeName({ O: 'Hospital', CN: 'CA' }))).toBe(false);
    expect(namesEqual(a, encodeName({ CN: 'CA' }))).toBe(false);
    // PrintableString vs UTF8String for the same value
    const printable = Buffer.from('300f310d300b0603550403' + '1304' + '54657374', 'hex');
    const utf8 = Buffer.from('300f310d300b0603550403' + '0c04' + '54657374', 'hex');
    expect(formatName(printable)).toBe('CN=Test');
    expect(namesEqual(printable, utf8)).toBe(true);
  });

  it('refuses unknown attributes and bad countries when issuing', () => {
    expect(() => encodeName({ XX: 'y' })).toThrow(expect.objectContaining({ code: 'USAGE' }) as unknown as Error);
    expect(() => encodeName({ C: 'Germany' })).toThrow(expect.objectContaining({ code: 'USAGE' }) as unknown as Error);
  });
});

describeWithTools(['openssl'], 'the issuer, read by OpenSSL', () => {
  const dir = tempDir('dcmsafe-issue-');
  it('openssl accepts the chain and shows the same fields', () => {
    writeFileSync(path.join(dir, 'ca.pem'), toPem('CERTIFICATE', caCert));
    writeFileSync(path.join(dir, 'leaf.pem'), toPem('CERTIFICATE', leafCert));
    const v = run('openssl', ['verify', '-attime', String(D('2025-01-01').getTime() / 1000), '-CAfile', 'ca.pem', 'leaf.pem'], { cwd: dir });
    expect(v.stdout.trim()).toBe('leaf.pem: OK');
    const text = run('openssl', ['x509', '-in', 'leaf.pem', '-noout', '-text'], { cwd: dir }).stdout;
    expect(text).toContain('(0xff00112233)');
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation, Key Encipherment/);
    expect(text).toMatch(/X509v3 Extended Key Usage:\s+E-mail Protection, TLS Web Client Authentication/);
    expect(text).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1, IP Address:2001:DB8:0:0:0:0:0:1/i);
    const caText = run('openssl', ['x509', '-in', 'ca.pem', '-noout', '-text'], { cwd: dir }).stdout;
    expect(caText).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:2/);
    expect(caText).toContain('Not After : Jan  1 00:00:00 2060 GMT');
    const crl = issueCrl({ issuer: { certificate: caCert, privateKey: caKey.privateKey }, thisUpdate: D('2024-06-01'), nextUpdate: D('2025-06-01'), revoked: [] });
    writeFileSync(path.join(dir, 'ca.crl'), crl);
    const c = run('openssl', ['crl', '-inform', 'DER', '-in', 'ca.crl', '-CAfile', 'ca.pem', '-noout'], { cwd: dir });
    expect(c.stderr).toMatch(/verify OK/);
    expect(readFileSync(path.join(dir, 'ca.crl')).equals(crl)).toBe(true);
  });
});
