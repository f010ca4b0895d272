/**
 * Private keys and PKCS#12 files in every format OpenSSL 3 writes: PKCS#8 (RFC 5958) clear and
 * encrypted, PKCS#1 "traditional" clear and with legacy PEM encryption, SEC 1, DER forms, and
 * PKCS#12 (RFC 7292) with the OpenSSL 3 defaults and with -legacy.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../../src/errors/index.js';
import { assertKeyMatchesCertificate, isPkcs12, loadPkcs12, loadPrivateKey } from '../../../src/security/pki/keys.js';
import { loadCertificates } from '../../../src/security/pki/certificates.js';
import { pkcs12Kdf } from '../../../src/security/pki/pkcs12.js';
import { describeWithTools, run, tempDir } from '../../helpers/env.js';

function codeOf(fn: () => unknown): ErrorCode | string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'no error';
}

function spkiHex(k: KeyObject): string {
  return createPublicKey(k).export({ type: 'spki', format: 'der' }).toString('hex');
}

describeWithTools(['openssl'], 'private keys written by openssl', () => {
  const dir = tempDir('dcmsafe-keys-');
  const f = (name: string): string => path.join(dir, name);
  const read = (name: string): Buffer => readFileSync(f(name));
  const openssl = (...args: string[]): void => {
    const r = run('openssl', args, { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  let reference: string;

  beforeAll(() => {
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'key.pem');
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'other.pem');
    openssl('pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'key.pem', '-out', 'enc.pem', '-passout', 'pass:correct horse');
    openssl('pkcs8', '-topk8', '-nocrypt', '-in', 'key.pem', '-outform', 'DER', '-out', 'key.der');
    openssl('pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'key.pem', '-outform', 'DER', '-out', 'enc.der', '-passout', 'pass:correct horse');
    openssl('rsa', '-in', 'key.pem', '-traditional', '-out', 'trad.pem');
    openssl('rsa', '-in', 'key.pem', '-traditional', '-aes256', '-passout', 'pass:correct horse', '-out', 'trad-enc.pem');
    openssl('rsa', '-in', 'key.pem', '-traditional', '-outform', 'DER', '-out', 'trad.der');
    openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ec.pem');
    openssl('req', '-x509', '-new', '-key', 'key.pem', '-subj', '/CN=Key Test', '-days', '2', '-out', 'cert.pem');
    openssl('req', '-x509', '-new', '-key', 'other.pem', '-subj', '/CN=Test CA', '-days', '2', '-out', 'ca.pem');
    reference = spkiHex(loadPrivateKey(read('key.pem')));
  });

  it('reads the PKCS#1 header in trad-enc.pem as OpenSSL wrote it', () => {
    expect(read('trad-enc.pem').toString()).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,/);
  });

  it.each([
    ['key.pem', 'PEM PKCS#8 (genpkey)', undefined],
    ['enc.pem', 'PEM encrypted PKCS#8 (pkcs8 -topk8 -v2 aes-256-cbc)', 'correct horse'],
    ['key.der', 'DER PKCS#8', undefined],
    ['enc.der', 'DER encrypted PKCS#8', 'correct horse'],
    ['trad.pem', 'PEM PKCS#1 (rsa -traditional)', undefined],
    ['trad-enc.pem', 'PEM PKCS#1 with legacy encryption (rsa -traditional -aes256)', 'correct horse'],
    ['trad.der', 'DER PKCS#1', undefined],
  ])('loads %s: %s', (file, _what, pass) => {
    const key = loadPrivateKey(read(file), pass);
    expect(key.type).toBe('private');
    expect(spkiHex(key)).toBe(reference);
  });

  it('loads a SEC 1 EC key and the key out of a PEM file that also holds a certificate', () => {
    expect(loadPrivateKey(read('ec.pem')).asymmetricKeyType).toBe('ec');
    const combined = Buffer.concat([read('cert.pem'), read('key.pem')]);
    expect(spkiHex(loadPrivateKey(combined))).toBe(reference);
  });

  it.each(['enc.pem', 'enc.der', 'trad-enc.pem'])('%s: no passphrase or a wrong one is KEY_PASSPHRASE', (file) => {
    expect(codeOf(() => loadPrivateKey(read(file)))).toBe('KEY_PASSPHRASE');
    expect(codeOf(() => loadPrivateKey(read(file), 'wrong'))).toBe('KEY_PASSPHRASE');
    expect(codeOf(() => loadPrivateKey(read(file), ''))).toBe('KEY_PASSPHRASE');
  });

  it('never puts the passphrase into the error', () => {
    try {
      loadPrivateKey(read('enc.pem'), 'secret-sauce-123');
    } catch (e) {
      expect(JSON.stringify(e)).not.toContain('secret-sauce-123');
      expect(String((e as Error).message)).not.toContain('secret-sauce-123');
    }
  });

  it('garbage is KEY_UNREADABLE', () => {
    expect(codeOf(() => loadPrivateKey(Buffer.from('hello, world')))).toBe('KEY_UNREADABLE');
    expect(codeOf(() => loadPrivateKey(Buffer.from([0x30, 0x82, 0x01])))).toBe('KEY_UNREADABLE');
    expect(codeOf(() => loadPrivateKey(read('key.der').subarray(0, 200)))).toBe('KEY_UNREADABLE');
    expect(codeOf(() => loadPrivateKey(read('cert.pem')))).toBe('KEY_UNREADABLE');
    expect(codeOf(() => loadPrivateKey(Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')))).toBe('KEY_UNREADABLE');
    expect(codeOf(() => loadPrivateKey(Buffer.concat([read('key.pem'), read('other.pem')])))).toBe('KEY_UNREADABLE');
  });

  it('a key and its certificate match; another key is KEY_MISMATCH', () => {
    const cert = loadCertificates(read('cert.pem'))[0] as Buffer;
    expect(() => assertKeyMatchesCertificate(loadPrivateKey(read('trad.pem')), cert)).not.toThrow();
    expect(codeOf(() => assertKeyMatchesCertificate(loadPrivateKey(read('other.pem')), cert))).toBe('KEY_MISMATCH');
    expect(codeOf(() => assertKeyMatchesCertificate(loadPrivateKey(read('key.pem')), Buffer.from('x')))).toBe('CERT_UNREADABLE');
  });

  describe('PKCS#12', () => {
    const p12 = (name: string, pass: string, ...extra: string[]): Buffer => {
      openssl('pkcs12', '-export', '-inkey', 'key.pem', '-in', 'cert.pem', '-certfile', 'ca.pem', '-passout', `pass:${pass}`, '-out', name, ...extra);
      return read(name);
    };
    const expectIdentity = (id: ReturnType<typeof loadPkcs12>): void => {
      expect(spkiHex(id.privateKey)).toBe(reference);
      expect(id.certificate.equals(loadCertificates(read('cert.pem'))[0] as Buffer)).toBe(true);
      expect(id.chain).toHaveLength(1);
      expect(id.chain[0]?.equals(loadCertificates(read('ca.pem'))[0] as Buffer)).toBe(true);
    };

    it.each([
      ['OpenSSL 3 default (PBES2 AES-256-CBC, PBKDF2-SHA256, MAC SHA-256)', 'default.p12', []],
      ['-legacy (3DES key, RC2-40 certificates, MAC SHA-1)', 'legacy.p12', ['-legacy']],
      ['-descert (3DES certificates, PKCS#12 KDF)', 'descert.p12', ['-descert']],
      ['-macalg sha512', 'sha512.p12', ['-macalg', 'sha512']],
      ['-nomac', 'nomac.p12', ['-nomac']],
      ['-keypbe NONE -certpbe NONE (clear bags)', 'clear.p12', ['-keypbe', 'NONE', '-certpbe', 'NONE']],
    ])('loads %s', (_what, name, extra) => {
      const bytes = p12(name, 'p12 pass', ...extra);
      expect(isPkcs12(bytes)).toBe(true);
      expectIdentity(loadPkcs12(bytes, 'p12 pass'));
    });

    it.each([
      ['default', []],
      ['legacy', ['-legacy']],
    ])('a non-ASCII passphrase works (%s)', (name, extra) => {
      expectIdentity(loadPkcs12(p12(`utf8-${name}.p12`, 'pässwörd€', ...extra), 'pässwörd€'));
    });

    it('an empty passphrase works', () => {
      expectIdentity(loadPkcs12(p12('empty.p12', ''), ''));
      expectIdentity(loadPkcs12(p12('empty-legacy.p12', '', '-legacy'), ''));
    });

    it.each(['default.p12', 'legacy.p12', 'nomac.p12', 'descert.p12'])('%s: a wrong passphrase is KEY_PASSPHRASE', (name) => {
      expect(codeOf(() => loadPkcs12(read(name), 'wrong'))).toBe('KEY_PASSPHRASE');
      expect(codeOf(() => loadPkcs12(read(name), ''))).toBe('KEY_PASSPHRASE');
    });

    it('garbage is KEY_UNREADABLE, and a PKCS#12 given as a key says so', () => {
      expect(codeOf(() => loadPkcs12(Buffer.from('not pkcs12'), 'x'))).toBe('KEY_UNREADABLE');
      expect(codeOf(() => loadPkcs12(read('key.der'), 'x'))).toBe('KEY_UNREADABLE');
      expect(() => loadPrivateKey(read('default.p12'))).toThrow(/PKCS#12/);
    });

    it('a PKCS#12 without a key is KEY_UNREADABLE, one without a certificate CERT_UNREADABLE', () => {
      openssl('pkcs12', '-export', '-nokeys', '-in', 'cert.pem', '-passout', 'pass:x', '-out', 'nokey.p12');
      expect(codeOf(() => loadPkcs12(read('nokey.p12'), 'x'))).toBe('KEY_UNREADABLE');
      openssl('pkcs12', '-export', '-nocerts', '-inkey', 'key.pem', '-passout', 'pass:x', '-out', 'nocert.p12');
      expect(codeOf(() => loadPkcs12(read('nocert.p12'), 'x'))).toBe('CERT_UNREADABLE');
    });
  });
});

describe('PKCS#12 KDF (RFC 7292 Appendix B)', () => {
  it('is deterministic and separates the key, IV and MAC purposes', () => {
    const pw = Buffer.from('\0s\0m\0e\0g\0\0', 'latin1');
    const salt = Buffer.from('0a58cf64530d823f', 'hex');
    const k1 = pkcs12Kdf('sha1', pw, salt, 1, 1, 24);
    expect(k1).toHaveLength(24);
    expect(pkcs12Kdf('sha1', pw, salt, 1, 1, 24).equals(k1)).toBe(true);
    expect(pkcs12Kdf('sha1', pw, salt, 2, 1, 8).equals(k1.subarray(0, 8))).toBe(false);
    // Longer than one hash output exercises the I_j += B + 1 step.
    expect(pkcs12Kdf('sha256', pw, salt, 3, 1000, 80)).toHaveLength(80);
  });
});
