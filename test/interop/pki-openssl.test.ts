/**
 * Our trust evaluation and certificate descriptions against OpenSSL 3:
 * - for chains built here, evaluateSigner's status agrees with `openssl verify -CAfile -untrusted
 *   -attime [-purpose smimesign] [-crl_check -CRLfile]` (with the signing time equal to "now", which
 *   is the one time OpenSSL checks);
 * - a CRL made by `openssl ca -gencrl` revokes for both;
 * - certificates made by `openssl req -x509`, `openssl x509 -req` and `openssl ca` are described as
 *   `openssl x509` shows them (subject, issuer, serial, dates, key usage, extended key usage, basic
 *   constraints, key identifiers, fingerprint).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { describeCertificate, loadCertificates, loadCrls } from '../../src/security/pki/certificates.js';
import { toPem } from '../../src/security/pki/pem.js';
import { evaluateSigner, type TrustStatus } from '../../src/security/pki/trust.js';
import { describeWithTools, run, tempDir } from '../helpers/env.js';
import { D, issue, makeTestPki, NOW, type Credential, type KeyPair, type TestPki } from '../security/pki/fixtures.js';

/** OpenSSL's verify error numbers and the status they correspond to. */
function statusFromOpenssl(stdout: string, stderr: string, status: number | null): { status: TrustStatus; detail: string } {
  if (status === 0 && /: OK$/m.test(stdout)) return { status: 'trusted', detail: 'OK' };
  const m = /error (\d+) at \d+ depth lookup: (.*)/.exec(stderr + stdout);
  const code = Number(m?.[1] ?? -1);
  const detail = m ? `${m[1]} ${m[2]}` : (stderr + stdout).trim();
  switch (code) {
    case 9: // certificate is not yet valid
    case 10: // certificate has expired
      return { status: 'expired', detail };
    case 23: // certificate revoked
      return { status: 'revoked', detail };
    case 26: // unsupported certificate purpose
      return { status: 'wrong-key-usage', detail };
    default: // 2, 20 (no issuer), 7 (bad signature), 24 (invalid CA), 25 (path length), 34 (critical extension)...
      return { status: 'untrusted-chain', detail };
  }
}

describeWithTools(['openssl'], 'trust decisions agree with openssl verify', () => {
  const dir = tempDir('dcmsafe-pki-openssl-');
  let pki: TestPki;
  const write = (name: string, ders: Buffer[]): string => {
    const file = path.join(dir, name);
    writeFileSync(file, ders.map((d) => toPem('CERTIFICATE', d)).join(''));
    return file;
  };

  beforeAll(async () => {
    pki = await makeTestPki();
  });

  interface Scenario {
    name: string;
    expected: TrustStatus;
    build: () => { signer: Credential; untrusted: Credential[]; anchors: Credential[]; purpose?: boolean };
  }
  const k = (i: number): KeyPair => pki.keys[i] as KeyPair;
  const scenarios: Scenario[] = [
    { name: 'trusted chain', expected: 'trusted', build: () => ({ signer: pki.signer, untrusted: [pki.intermediate], anchors: [pki.root] }) },
    { name: 'unknown CA', expected: 'untrusted-chain', build: () => ({ signer: pki.signer, untrusted: [pki.intermediate], anchors: [pki.otherRoot] }) },
    { name: 'missing intermediate', expected: 'untrusted-chain', build: () => ({ signer: pki.signer, untrusted: [], anchors: [pki.root] }) },
    {
      name: 'expired signer',
      expected: 'expired',
      build: () => ({ signer: issue('Expired', k(2), pki.intermediate, { notBefore: D('2022-01-01'), notAfter: D('2024-12-01') }), untrusted: [pki.intermediate], anchors: [pki.root] }),
    },
    {
      name: 'signer not yet valid',
      expected: 'expired',
      build: () => ({ signer: issue('Future', k(2), pki.intermediate, { notBefore: D('2025-06-01'), notAfter: D('2026-12-01') }), untrusted: [pki.intermediate], anchors: [pki.root] }),
    },
    {
      name: 'intermediate without cA',
      expected: 'untrusted-chain',
      build: () => {
        const notCa = issue('Not CA', k(1), pki.root, { isCA: false });
        return { signer: issue('Under Not CA', k(2), notCa, { keyUsage: ['digitalSignature'] }), untrusted: [notCa], anchors: [pki.root] };
      },
    },
    {
      name: 'path length exceeded',
      expected: 'untrusted-chain',
      build: () => {
        // pki.intermediate has pathLenConstraint 0: one more CA under it is too many.
        const sub = issue('Sub CA', k(5), pki.intermediate, { isCA: true, keyUsage: ['keyCertSign'] });
        return { signer: issue('Under Sub', k(2), sub, { keyUsage: ['digitalSignature'] }), untrusted: [sub, pki.intermediate], anchors: [pki.root] };
      },
    },
    {
      name: 'bad certificate signature',
      expected: 'untrusted-chain',
      build: () => ({
        signer: issue('Forged', k(2), pki.intermediate, { keyUsage: ['digitalSignature'], signingKey: k(4).privateKey }),
        untrusted: [pki.intermediate],
        anchors: [pki.root],
      }),
    },
    {
      name: 'unknown critical extension',
      expected: 'untrusted-chain',
      build: () => ({
        signer: issue('Critical', k(2), pki.intermediate, { extraExtensions: [{ oid: '1.3.6.1.4.1.99999.7', critical: true, value: Buffer.from([0x05, 0x00]) }] }),
        untrusted: [pki.intermediate],
        anchors: [pki.root],
      }),
    },
    {
      name: 'signer without digitalSignature/nonRepudiation (openssl -purpose smimesign)',
      expected: 'wrong-key-usage',
      build: () => ({ signer: issue('Encrypt Only', k(2), pki.intermediate, { keyUsage: ['keyEncipherment'] }), untrusted: [pki.intermediate], anchors: [pki.root], purpose: true }),
    },
  ];

  it.each(scenarios.map((s) => [s.name, s] as const))('%s', (_name, s) => {
    const b = s.build();
    const ours = evaluateSigner(
      { certificate: b.signer.cert, otherCertificates: b.untrusted.map((c) => c.cert), signatureValid: true, signingTime: NOW },
      { anchors: b.anchors.map((c) => c.cert), now: NOW },
    );
    const tag = s.name.replace(/\W+/g, '-');
    const args = ['verify', '-attime', String(NOW.getTime() / 1000), '-CAfile', write(`${tag}-anchors.pem`, b.anchors.map((c) => c.cert))];
    if (b.untrusted.length > 0) args.push('-untrusted', write(`${tag}-untrusted.pem`, b.untrusted.map((c) => c.cert)));
    if (b.purpose) args.push('-purpose', 'smimesign');
    args.push(write(`${tag}-signer.pem`, [b.signer.cert]));
    const r = run('openssl', args);
    const theirs = statusFromOpenssl(r.stdout, r.stderr, r.status);
    expect({ ours: ours.status, openssl: theirs.status }, `openssl: ${theirs.detail}; ours: ${ours.reasons.join(' | ')}`).toEqual({ ours: s.expected, openssl: s.expected });
  });

  it('a CRL written by openssl ca -gencrl revokes the signer for both', () => {
    const ca = path.join(dir, 'ca-revoke');
    mkdirSync(path.join(ca, 'newcerts'), { recursive: true });
    writeFileSync(path.join(ca, 'index.txt'), '');
    writeFileSync(path.join(ca, 'crlnumber'), '01\n');
    writeFileSync(path.join(ca, 'ca.pem'), toPem('CERTIFICATE', pki.intermediate.cert));
    writeFileSync(path.join(ca, 'ca.key'), pki.intermediate.key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(path.join(ca, 'signer.pem'), toPem('CERTIFICATE', pki.signer.cert));
    writeFileSync(path.join(ca, 'other.pem'), toPem('CERTIFICATE', issue('Other Leaf', pki.keys[3] as KeyPair, pki.intermediate).cert));
    writeFileSync(
      path.join(ca, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = CA_default',
        '[ CA_default ]',
        'dir = .',
        'database = $dir/index.txt',
        'new_certs_dir = $dir/newcerts',
        'certificate = $dir/ca.pem',
        'private_key = $dir/ca.key',
        'crlnumber = $dir/crlnumber',
        'default_md = sha256',
        'default_crl_days = 30',
        '',
      ].join('\n'),
    );
    const ossl = (...args: string[]): void => {
      const r = run('openssl', args, { cwd: ca });
      if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
    };
    // Revoke "other" first so the CRL has two entries and only one of them is ours.
    ossl('ca', '-config', 'ca.cnf', '-revoke', 'other.pem', '-crl_reason', 'superseded');
    ossl('ca', '-config', 'ca.cnf', '-revoke', 'signer.pem', '-crl_reason', 'keyCompromise');
    ossl('ca', '-config', 'ca.cnf', '-gencrl', '-crl_lastupdate', '20241201000000Z', '-crl_nextupdate', '20250201000000Z', '-out', 'crl.pem');

    const crls = loadCrls(readFileSync(path.join(ca, 'crl.pem')));
    const ours = evaluateSigner(
      { certificate: pki.signer.cert, otherCertificates: [pki.intermediate.cert], signatureValid: true, signingTime: NOW },
      { anchors: [pki.root.cert], crls, now: NOW },
    );
    expect(ours.status).toBe('revoked');
    expect(ours.reasons[0]).toMatch(/reason keyCompromise/);

    const r = run('openssl', ['verify', '-attime', String(NOW.getTime() / 1000), '-CAfile', write('crl-anchor.pem', [pki.root.cert]), '-untrusted', path.join(ca, 'ca.pem'), '-crl_check', '-CRLfile', path.join(ca, 'crl.pem'), path.join(ca, 'signer.pem')]);
    expect(statusFromOpenssl(r.stdout, r.stderr, r.status).status).toBe('revoked');

    // The same CRL does not revoke a certificate that is not on it: trusted for both.
    const fresh = issue('Fresh Leaf', pki.keys[3] as KeyPair, pki.intermediate, { keyUsage: ['digitalSignature'] });
    const freshFile = write('fresh.pem', [fresh.cert]);
    const ours2 = evaluateSigner({ certificate: fresh.cert, otherCertificates: [pki.intermediate.cert], signatureValid: true, signingTime: NOW }, { anchors: [pki.root.cert], crls, now: NOW });
    expect(ours2.status).toBe('trusted');
    const r2 = run('openssl', ['verify', '-attime', String(NOW.getTime() / 1000), '-CAfile', write('crl-anchor.pem', [pki.root.cert]), '-untrusted', path.join(ca, 'ca.pem'), '-crl_check', '-CRLfile', path.join(ca, 'crl.pem'), freshFile]);
    expect(statusFromOpenssl(r2.stdout, r2.stderr, r2.status).status).toBe('trusted');
  });
});

/** OpenSSL's key usage names (x509v3 v3_bitst.c) to RFC 5280 names. */
const OPENSSL_KU: Record<string, string> = {
  'Digital Signature': 'digitalSignature',
  'Non Repudiation': 'nonRepudiation',
  'Key Encipherment': 'keyEncipherment',
  'Data Encipherment': 'dataEncipherment',
  'Key Agreement': 'keyAgreement',
  'Certificate Sign': 'keyCertSign',
  'CRL Sign': 'cRLSign',
  'Encipher Only': 'encipherOnly',
  'Decipher Only': 'decipherOnly',
};
const OPENSSL_EKU: Record<string, string> = {
  'TLS Web Server Authentication': 'serverAuth',
  'TLS Web Client Authentication': 'clientAuth',
  'E-mail Protection': 'emailProtection',
  'Code Signing': 'codeSigning',
  'Time Stamping': 'timeStamping',
};

describeWithTools(['openssl'], 'certificates made by openssl are described as openssl shows them', () => {
  const dir = tempDir('dcmsafe-pki-describe-');
  const ossl = (...args: string[]): string => {
    const r = run('openssl', args, { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const field = (file: string, ...opts: string[]): string => ossl('x509', '-in', file, '-noout', ...opts).trim();
  const extBody = (file: string, ext: string): string => {
    const out = ossl('x509', '-in', file, '-noout', '-ext', ext);
    return out.split('\n').slice(1).join(' ').trim();
  };
  const hexColon = (s: string | undefined): string => (s ?? '').toUpperCase().replace(/(..)(?!$)/g, '$1:');

  beforeAll(() => {
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key');
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'leaf.key');
    ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.key');
    ossl(
      'req', '-x509', '-new', '-key', 'ca.key', '-days', '3650', '-set_serial', '0x0A1B2C3D4E5F',
      '-subj', '/C=DE/O=Klinikum Test/OU=IT/CN=OpenSSL Root CA',
      '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:1',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-out', 'ca.pem',
    );
    ossl('req', '-new', '-key', 'leaf.key', '-subj', '/C=DE/O=Klinikum Test/CN=Media Signer+serialNumber=42', '-multivalue-rdn', '-out', 'leaf.csr');
    writeFileSync(
      path.join(dir, 'leaf.ext'),
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\nextendedKeyUsage=emailProtection,clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=IP:127.0.0.1,DNS:pacs.example\n',
    );
    ossl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x00FF', '-days', '30', '-extfile', 'leaf.ext', '-out', 'leaf.pem');
    // openssl ca, with an EC subject key, a UTF-8 subject and the CA's default serial handling.
    mkdirSync(path.join(dir, 'newcerts'));
    writeFileSync(path.join(dir, 'index.txt'), '');
    writeFileSync(path.join(dir, 'serial'), '1000\n');
    writeFileSync(
      path.join(dir, 'ca.cnf'),
      [
        '[ ca ]', 'default_ca = CA_default', '[ CA_default ]', 'dir = .', 'database = $dir/index.txt', 'new_certs_dir = $dir/newcerts',
        'certificate = $dir/ca.pem', 'private_key = $dir/ca.key', 'serial = $dir/serial', 'default_md = sha256', 'policy = policy_any',
        'unique_subject = no', 'utf8 = yes', 'string_mask = utf8only',
        '[ policy_any ]', 'commonName = supplied', 'organizationName = optional', 'countryName = optional',
        '[ enc_ext ]', 'basicConstraints = CA:FALSE', 'keyUsage = critical, keyEncipherment, dataEncipherment, keyAgreement',
        'extendedKeyUsage = emailProtection, serverAuth', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid', '',
      ].join('\n'),
    );
    ossl('req', '-new', '-key', 'ec.key', '-utf8', '-subj', '/C=CH/O=Hôpital Démo/CN=Récepteur', '-out', 'ec.csr');
    ossl('ca', '-batch', '-config', 'ca.cnf', '-extensions', 'enc_ext', '-startdate', '20250101000000Z', '-enddate', '20270101120000Z', '-in', 'ec.csr', '-out', 'ec.pem', '-notext');
  });

  it.each(['ca.pem', 'leaf.pem', 'ec.pem'])('%s', (file) => {
    const der = loadCertificates(readFileSync(path.join(dir, file)))[0] as Buffer;
    const d = describeCertificate(der);
    // RFC 2253 lists the RDNs last first; ours lists them as encoded. OpenSSL also reverses the
    // attributes inside a multi-valued RDN (it reverses its flat entry list). Same values, same escapes.
    const rfc2253 = (which: '-subject' | '-issuer'): string =>
      field(file, which, '-nameopt', 'RFC2253,-esc_msb,utf8').replace(/^(subject|issuer)=/, '');
    const ours2253 = (name: string): string =>
      name
        .split(', ')
        .reverse()
        .map((rdn) => rdn.split('+').reverse().join('+'))
        .join(',');
    expect(ours2253(d.subject)).toBe(rfc2253('-subject'));
    expect(ours2253(d.issuer)).toBe(rfc2253('-issuer'));
    expect(`serial=${d.serialNumber}`).toBe(field(file, '-serial'));
    const dates = field(file, '-dates', '-dateopt', 'iso_8601');
    expect(dates).toContain(`notBefore=${d.notBefore.toISOString().replace('T', ' ').replace('.000', '')}`);
    expect(dates).toContain(`notAfter=${d.notAfter.toISOString().replace('T', ' ').replace('.000', '')}`);
    expect(`sha256 Fingerprint=${hexColon(d.fingerprintSha256)}`).toBe(field(file, '-fingerprint', '-sha256'));
    const ku = extBody(file, 'keyUsage').split(', ').map((n) => OPENSSL_KU[n] ?? n);
    expect(d.keyUsage).toEqual(ku);
    const eku = extBody(file, 'extendedKeyUsage');
    expect(d.extendedKeyUsage).toEqual(eku ? eku.split(', ').map((n) => OPENSSL_EKU[n] ?? n) : []);
    const bc = extBody(file, 'basicConstraints');
    expect(d.isCA).toBe(bc.startsWith('CA:TRUE'));
    const pathlen = /pathlen:(\d+)/.exec(bc)?.[1];
    expect(d.pathLength).toBe(pathlen === undefined ? undefined : Number(pathlen));
    expect(hexColon(d.subjectKeyIdentifier)).toBe(extBody(file, 'subjectKeyIdentifier'));
    const aki = extBody(file, 'authorityKeyIdentifier').replace(/^keyid:/, '');
    expect(hexColon(d.authorityKeyIdentifier)).toBe(aki);
  });

  it('describes key types and sizes, SANs and multi-valued RDNs', () => {
    const leaf = describeCertificate(loadCertificates(readFileSync(path.join(dir, 'leaf.pem')))[0] as Buffer);
    expect(leaf.subject).toBe('C=DE, O=Klinikum Test, serialNumber=42+CN=Media Signer');
    expect(leaf.publicKeyAlgorithm).toBe('rsa');
    expect(leaf.publicKeyBits).toBe(2048);
    expect(leaf.subjectAltNames).toEqual({ ip: ['127.0.0.1'], dns: ['pacs.example'], email: [], uri: [] });
    const ec = describeCertificate(loadCertificates(readFileSync(path.join(dir, 'ec.pem')))[0] as Buffer);
    // openssl ca rebuilds the subject in the order of its policy section (CN, O, C): shown as encoded.
    expect(ec.subject).toBe('CN=Récepteur, O=Hôpital Démo, C=CH');
    expect(ec.serialNumber).toBe('1000');
    expect(ec.publicKeyAlgorithm).toBe('ec');
    expect(ec.publicKeyBits).toBe(256);
    expect(ec.keyUsage).toEqual(['keyEncipherment', 'dataEncipherment', 'keyAgreement']);
  });

  it('the openssl-made chain is trusted by evaluateSigner', () => {
    const ca = loadCertificates(readFileSync(path.join(dir, 'ca.pem')))[0] as Buffer;
    const leaf = loadCertificates(readFileSync(path.join(dir, 'leaf.pem')))[0] as Buffer;
    const r = evaluateSigner({ certificate: leaf, otherCertificates: [], signatureValid: true, signingTime: new Date() }, { anchors: [ca], now: new Date() });
    expect(r.status).toBe('trusted');
    expect(r.chain.map((c) => c.subject)).toEqual(['C=DE, O=Klinikum Test, serialNumber=42+CN=Media Signer', 'C=DE, O=Klinikum Test, OU=IT, CN=OpenSSL Root CA']);
  });
});
