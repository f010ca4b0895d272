/**
 * Trust evaluation of a signer (RFC 5280 §6 path validation as implemented in trust.ts): one test
 * per status, the precedence between them, and the bounds of path building.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../../src/errors/index.js';
import { issueCrl } from '../../../src/security/pki/issue.js';
import { toPem } from '../../../src/security/pki/pem.js';
import { evaluateSigner, MAX_PATH_LENGTH, TrustStore, type SignerInput, type TrustInput } from '../../../src/security/pki/trust.js';
import { tempDir } from '../../helpers/env.js';
import { D, issue, makeTestPki, NOW, SIGNING_TIME, type Credential, type KeyPair, type TestPki } from './fixtures.js';

let pki: TestPki;
let spareKey: KeyPair;

beforeAll(async () => {
  pki = await makeTestPki();
  spareKey = pki.keys[4] as KeyPair;
});

function input(signer: Credential, others: Credential[], extra: Partial<SignerInput> = {}): SignerInput {
  return { certificate: signer.cert, otherCertificates: others.map((c) => c.cert), signatureValid: true, signingTime: SIGNING_TIME, ...extra };
}

function anchors(...roots: Credential[]): TrustInput {
  return { anchors: roots.map((r) => r.cert), now: NOW };
}

describe('evaluateSigner: one scenario per status', () => {
  it('trusted: signer -> intermediate -> anchor, chain in that order', () => {
    const r = evaluateSigner(input(pki.signer, [pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('trusted');
    expect(r.reasons).toEqual([]);
    expect(r.chain.map((c) => c.subject)).toEqual(['O=dcmsafe test, CN=Test Media Signer', 'O=dcmsafe test, CN=Test Intermediate CA', 'O=dcmsafe test, CN=Test Root CA']);
    expect(r.signer.subject).toBe('O=dcmsafe test, CN=Test Media Signer');
    expect(r.signingTime).toEqual(SIGNING_TIME);
    expect(r.warnings).toEqual([]);
  });

  it('trusted when the file carries the signer, the intermediate and the root (as CMS often does)', () => {
    const r = evaluateSigner(input(pki.signer, [pki.signer, pki.root, pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('trusted');
    expect(r.chain).toHaveLength(3);
  });

  it('trusted when the intermediate is itself an anchor, and when the signer is pinned as an anchor', () => {
    expect(evaluateSigner(input(pki.signer, []), anchors(pki.intermediate)).status).toBe('trusted');
    const pinned = evaluateSigner(input(pki.signer, []), anchors(pki.signer));
    expect(pinned.status).toBe('trusted');
    expect(pinned.chain).toHaveLength(1);
  });

  it('untrusted-chain: the chain leads to an unknown CA', () => {
    const r = evaluateSigner(input(pki.signer, [pki.intermediate, pki.root]), anchors(pki.otherRoot));
    expect(r.status).toBe('untrusted-chain');
    expect(r.chain).toHaveLength(3);
    expect(r.reasons.join('\n')).toMatch(/self-signed "O=dcmsafe test, CN=Test Root CA", which is not a trust anchor/);
  });

  it('untrusted-chain: the intermediate is missing', () => {
    const r = evaluateSigner(input(pki.signer, []), anchors(pki.root));
    expect(r.status).toBe('untrusted-chain');
    expect(r.chain).toHaveLength(1);
    expect(r.reasons.join('\n')).toMatch(/no certificate of the issuer of "O=dcmsafe test, CN=Test Media Signer"/);
  });

  it('expired: the signer had expired at the signing time', () => {
    const old = issue('Old Signer', pki.keys[2] as KeyPair, pki.intermediate, { notBefore: D('2021-06-01'), notAfter: D('2022-06-01'), keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(old, [pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('expired');
    expect(r.reasons.some((x) => /has expired at the signing time 2024-06-01/.test(x))).toBe(true);
    expect(r.reasons.some((x) => /has expired at the time of checking 2025-01-01/.test(x))).toBe(true);
  });

  it('expired: valid when signed, expired now', () => {
    const s = issue('Short Signer', pki.keys[2] as KeyPair, pki.intermediate, { notBefore: D('2024-01-01'), notAfter: D('2024-12-01'), keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('expired');
    expect(r.reasons).toHaveLength(1);
    expect(r.reasons[0]).toMatch(/"O=dcmsafe test, CN=Short Signer" has expired at the time of checking 2025-01-01T00:00:00Z \(valid until 2024-12-01T00:00:00Z\)/);
  });

  it('expired: not yet valid at the signing time', () => {
    const s = issue('Future Signer', pki.keys[2] as KeyPair, pki.intermediate, { notBefore: D('2024-09-01'), notAfter: D('2026-01-01'), keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('expired');
    expect(r.reasons).toEqual([expect.stringMatching(/is not yet valid at the signing time 2024-06-01T00:00:00Z \(valid from 2024-09-01/)]);
  });

  it('expired: an expired intermediate counts too, and without a signing time only now is checked', () => {
    const int = issue('Expired Intermediate', pki.keys[1] as KeyPair, pki.root, { isCA: true, keyUsage: ['keyCertSign'], notBefore: D('2021-01-01'), notAfter: D('2024-09-01') });
    const s = issue('Signer Under Expired', pki.keys[2] as KeyPair, int, { keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [int], { signingTime: undefined }), anchors(pki.root));
    expect(r.status).toBe('expired');
    expect(r.reasons).toEqual([expect.stringMatching(/"O=dcmsafe test, CN=Expired Intermediate" has expired at the time of checking/)]);
    expect(r.signingTime).toBeUndefined();
  });

  it('wrong-key-usage: the signer has keyUsage without digitalSignature or nonRepudiation', () => {
    const s = issue('Encryption Only', pki.keys[2] as KeyPair, pki.intermediate, { keyUsage: ['keyEncipherment'] });
    const r = evaluateSigner(input(s, [pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('wrong-key-usage');
    expect(r.reasons[0]).toMatch(/keyUsage \(keyEncipherment\) has neither digitalSignature nor nonRepudiation/);
  });

  it('trusted: nonRepudiation alone suffices, and a signer without keyUsage is not restricted', () => {
    const nr = issue('NR Only', pki.keys[2] as KeyPair, pki.intermediate, { keyUsage: ['nonRepudiation'] });
    expect(evaluateSigner(input(nr, [pki.intermediate]), anchors(pki.root)).status).toBe('trusted');
    const none = issue('No KU', pki.keys[2] as KeyPair, pki.intermediate, {});
    expect(evaluateSigner(input(none, [pki.intermediate]), anchors(pki.root)).status).toBe('trusted');
  });

  it('untrusted-chain: the intermediate is not a CA (no cA in basicConstraints)', () => {
    const notCa = issue('Not A CA', pki.keys[1] as KeyPair, pki.root, { isCA: false, keyUsage: ['digitalSignature', 'keyCertSign'] });
    const s = issue('Signer Under Non-CA', pki.keys[2] as KeyPair, notCa, { keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [notCa]), anchors(pki.root));
    expect(r.status).toBe('untrusted-chain');
    expect(r.reasons[0]).toMatch(/"O=dcmsafe test, CN=Not A CA" issued .* but is not a CA/);
    const noBc = issue('No BC', pki.keys[1] as KeyPair, pki.root, { omitBasicConstraints: true });
    const s2 = issue('Signer Under No-BC', pki.keys[2] as KeyPair, noBc, { keyUsage: ['digitalSignature'] });
    expect(evaluateSigner(input(s2, [noBc]), anchors(pki.root)).status).toBe('untrusted-chain');
  });

  it('untrusted-chain: a CA whose keyUsage lacks keyCertSign', () => {
    const ca = issue('CRL-only CA', pki.keys[1] as KeyPair, pki.root, { isCA: true, keyUsage: ['cRLSign'] });
    const s = issue('Signer Under CRL-only', pki.keys[2] as KeyPair, ca, { keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [ca]), anchors(pki.root));
    expect(r.status).toBe('untrusted-chain');
    expect(r.reasons[0]).toMatch(/does not include keyCertSign/);
  });

  it('untrusted-chain: pathLenConstraint is exceeded', () => {
    const root0 = issue('PathLen0 Root', pki.keys[0] as KeyPair, undefined, { isCA: true, pathLength: 0, keyUsage: ['keyCertSign'], notBefore: D('2020-01-01') });
    const int = issue('Int Under PathLen0', pki.keys[1] as KeyPair, root0, { isCA: true, keyUsage: ['keyCertSign'] });
    const s = issue('Signer Deep', pki.keys[2] as KeyPair, int, { keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [int]), anchors(root0));
    expect(r.status).toBe('untrusted-chain');
    expect(r.reasons[0]).toMatch(/allows 0 intermediate CA certificate\(s\) below it \(pathLenConstraint\) but the chain has 1/);
  });

  it('untrusted-chain: a certificate signature that does not verify', () => {
    const forged = issue('Test Intermediate CA', pki.keys[1] as KeyPair, pki.root, { isCA: true, keyUsage: ['keyCertSign'], signingKey: spareKey.privateKey });
    const s = issue('Signer Under Forged', pki.keys[2] as KeyPair, forged, { keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, [forged]), anchors(pki.root));
    expect(r.status).toBe('untrusted-chain');
    expect(r.reasons.join('\n')).toMatch(/the signature on "O=dcmsafe test, CN=Test Intermediate CA" does not verify with the key of "O=dcmsafe test, CN=Test Root CA"/);
  });

  it('untrusted-chain: an unknown critical extension', () => {
    const s = issue('Critical Ext', pki.keys[2] as KeyPair, pki.intermediate, {
      keyUsage: ['digitalSignature'],
      extraExtensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: Buffer.from([0x05, 0x00]) }],
    });
    const r = evaluateSigner(input(s, [pki.intermediate]), anchors(pki.root));
    expect(r.status).toBe('untrusted-chain');
    expect(r.reasons[0]).toMatch(/critical extension that is not supported: 1\.3\.6\.1\.4\.1\.99999\.1/);
  });

  it('bad-signature: signatureValid false, whatever else holds', () => {
    const r = evaluateSigner(input(pki.signer, [pki.intermediate], { signatureValid: false }), anchors(pki.root));
    expect(r.status).toBe('bad-signature');
    expect(r.reasons).toHaveLength(1);
    const r2 = evaluateSigner(input(pki.signer, [], { signatureValid: false }), anchors(pki.otherRoot));
    expect(r2.status).toBe('bad-signature');
    expect(r2.reasons.length).toBeGreaterThan(1); // the chain problem is still reported
  });
});

describe('evaluateSigner: revocation by CRL', () => {
  const crl = (issuer: Credential, revoked: bigint[], opts: { signingKey?: KeyPair; nextUpdate?: Date } = {}): Buffer =>
    issueCrl({
      issuer: { certificate: issuer.cert, privateKey: issuer.key.privateKey },
      thisUpdate: D('2024-12-01'),
      nextUpdate: opts.nextUpdate ?? D('2025-02-01'),
      revoked: revoked.map((s) => ({ serialNumber: s, revocationDate: D('2024-11-01'), reasonCode: 1 })),
      ...(opts.signingKey ? { signingKey: opts.signingKey.privateKey } : {}),
    });
  const serialOf = (c: Credential): bigint => {
    // The fixtures use small bigint serials; read it back from the certificate.
    return BigInt(`0x${(evaluateSigner(input(c, []), anchors(c)).signer.serialNumber)}`);
  };

  it('revoked: the signer is on its issuer CRL', () => {
    const trust = { ...anchors(pki.root), crls: [crl(pki.intermediate, [serialOf(pki.signer)]), crl(pki.root, [])] };
    const r = evaluateSigner(input(pki.signer, [pki.intermediate]), trust);
    expect(r.status).toBe('revoked');
    expect(r.reasons[0]).toMatch(/"O=dcmsafe test, CN=Test Media Signer" \(serial [0-9A-F]+\) was revoked on 2024-11-01T00:00:00Z, reason keyCompromise, according to the CRL of "O=dcmsafe test, CN=Test Intermediate CA"/);
    expect(r.warnings).toEqual([]);
  });

  it('revoked: the intermediate is on the root CRL', () => {
    const trust = { ...anchors(pki.root), crls: [crl(pki.intermediate, []), crl(pki.root, [serialOf(pki.intermediate)])] };
    expect(evaluateSigner(input(pki.signer, [pki.intermediate]), trust).status).toBe('revoked');
  });

  it('trusted with CRLs that do not list the chain; a missing CRL is a warning', () => {
    const trust = { ...anchors(pki.root), crls: [crl(pki.intermediate, [999n])] };
    const r = evaluateSigner(input(pki.signer, [pki.intermediate]), trust);
    expect(r.status).toBe('trusted');
    expect(r.warnings).toEqual([expect.stringMatching(/no usable CRL from "O=dcmsafe test, CN=Test Root CA" was given: the revocation of "O=dcmsafe test, CN=Test Intermediate CA" was not checked/)]);
  });

  it('a CRL whose signature does not verify is ignored with a warning', () => {
    const bad = crl(pki.intermediate, [serialOf(pki.signer)], { signingKey: spareKey });
    const r = evaluateSigner(input(pki.signer, [pki.intermediate]), { ...anchors(pki.root), crls: [bad, crl(pki.root, [])] });
    expect(r.status).toBe('trusted');
    expect(r.warnings.join('\n')).toMatch(/ignored: its signature does not verify/);
  });

  it('an out-of-date CRL is still used, with a warning', () => {
    const old = crl(pki.intermediate, [serialOf(pki.signer)], { nextUpdate: D('2024-12-15') });
    const r = evaluateSigner(input(pki.signer, [pki.intermediate]), { ...anchors(pki.root), crls: [old, crl(pki.root, [])] });
    expect(r.status).toBe('revoked');
    expect(r.warnings.join('\n')).toMatch(/out of date/);
  });
});

describe('evaluateSigner: precedence', () => {
  it('revoked > untrusted-chain > expired > wrong-key-usage', () => {
    const s = issue('Everything Wrong', pki.keys[2] as KeyPair, pki.intermediate, { keyUsage: ['keyEncipherment'], notBefore: D('2021-01-01'), notAfter: D('2022-01-01') });
    const sSerial = BigInt(`0x${evaluateSigner(input(s, []), anchors(s)).signer.serialNumber}`);
    const revokedCrl = issueCrl({
      issuer: { certificate: pki.intermediate.cert, privateKey: pki.intermediate.key.privateKey },
      thisUpdate: D('2024-12-01'),
      revoked: [{ serialNumber: sSerial, revocationDate: D('2021-06-01') }],
    });
    // expired + wrong usage -> expired
    expect(evaluateSigner(input(s, [pki.intermediate]), anchors(pki.root)).status).toBe('expired');
    // + untrusted chain -> untrusted-chain
    const u = evaluateSigner(input(s, [pki.intermediate]), anchors(pki.otherRoot));
    expect(u.status).toBe('untrusted-chain');
    // + revoked (CRL signed by the intermediate, which is in the partial chain) -> revoked
    const r = evaluateSigner(input(s, [pki.intermediate]), { ...anchors(pki.otherRoot), crls: [revokedCrl] });
    expect(r.status).toBe('revoked');
    // every problem is listed, most serious first
    expect(r.reasons[0]).toMatch(/was revoked/);
    expect(r.reasons.some((x) => /no certificate of the issuer of "O=dcmsafe test, CN=Test Intermediate CA"/.test(x))).toBe(true);
    expect(r.reasons.some((x) => /has expired/.test(x))).toBe(true);
    expect(r.reasons[r.reasons.length - 1]).toMatch(/neither digitalSignature nor nonRepudiation/);
    // + bad signature -> bad-signature
    expect(evaluateSigner(input(s, [pki.intermediate], { signatureValid: false }), { ...anchors(pki.otherRoot), crls: [revokedCrl] }).status).toBe('bad-signature');
  });
});

describe('evaluateSigner: path building is bounded', () => {
  it('a loop of cross-signed CAs ends as untrusted-chain', () => {
    const kA = pki.keys[1] as KeyPair;
    const kB = pki.keys[5] as KeyPair;
    // A issued by B and B issued by A: names and key identifiers chain in a circle.
    const selfA = issue('Loop A', kA, undefined, { isCA: true });
    const selfB = issue('Loop B', kB, undefined, { isCA: true });
    const aByB = issue('Loop A', kA, selfB, { isCA: true });
    const bByA = issue('Loop B', kB, selfA, { isCA: true });
    const s = issue('Loop Signer', pki.keys[2] as KeyPair, selfA, { keyUsage: ['digitalSignature'] });
    const started = Date.now();
    const r = evaluateSigner(input(s, [aByB, bByA]), anchors(pki.root));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r.status).toBe('untrusted-chain');
    expect(r.chain.length).toBeLessThanOrEqual(3);
  });

  it(`a chain longer than ${MAX_PATH_LENGTH} certificates is not followed to its anchor`, () => {
    const caKey = pki.keys[1] as KeyPair;
    const cas: Credential[] = [];
    let parent = pki.root;
    for (let i = 1; i <= 12; i++) {
      parent = issue(`Deep CA ${i}`, caKey, parent, { isCA: true, keyUsage: ['keyCertSign'] });
      cas.push(parent);
    }
    const s = issue('Deep Signer', pki.keys[2] as KeyPair, parent, { keyUsage: ['digitalSignature'] });
    const r = evaluateSigner(input(s, cas.reverse()), anchors(pki.root));
    expect(r.status).toBe('untrusted-chain');
    expect(r.chain).toHaveLength(MAX_PATH_LENGTH);
    expect(r.reasons.join('\n')).toMatch(/longer than 10 certificates/);
    // A chain of 9 (signer + 7 CAs + root) is fine.
    const short = cas.slice(-7); // Deep CA 7..1 after the reverse: the top 7
    const s7 = issue('Shallow Signer', pki.keys[2] as KeyPair, short[0] as Credential, { keyUsage: ['digitalSignature'] });
    const r7 = evaluateSigner(input(s7, short), anchors(pki.root));
    expect(r7.status).toBe('trusted');
    expect(r7.chain).toHaveLength(9);
  });

  it('an unreadable signer certificate is CERT_UNREADABLE; unreadable others are warnings', () => {
    expect(() => evaluateSigner({ certificate: Buffer.from('nope'), otherCertificates: [], signatureValid: true }, anchors(pki.root))).toThrow(
      expect.objectContaining({ code: 'CERT_UNREADABLE' }) as unknown as Error,
    );
    const r = evaluateSigner(input(pki.signer, [pki.intermediate, { cert: Buffer.from([0x30, 0x00]), key: spareKey }]), anchors(pki.root));
    expect(r.status).toBe('trusted');
    expect(r.warnings).toEqual(['an unreadable certificate among those given with the signature was ignored']);
  });
});

describe('TrustStore', () => {
  const dir = tempDir('dcmsafe-truststore-');

  it('loads PEM bundles, DER files and folders, skipping other files', async () => {
    const folder = path.join(dir, 'anchors');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'root.pem'), toPem('CERTIFICATE', pki.root.cert));
    writeFileSync(path.join(folder, 'other.der'), pki.otherRoot.cert);
    writeFileSync(path.join(folder, 'dup.crt'), `# a comment line\n${toPem('CERTIFICATE', pki.root.cert)}`);
    writeFileSync(path.join(folder, 'README'), 'not a certificate');
    writeFileSync(path.join(folder, 'key.pem'), pki.signer.key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const crl = issueCrl({ issuer: { certificate: pki.root.cert, privateKey: pki.root.key.privateKey }, thisUpdate: D('2024-12-01'), revoked: [] });
    writeFileSync(path.join(folder, 'root.crl'), crl);
    const bundle = path.join(dir, 'bundle.pem');
    writeFileSync(bundle, toPem('CERTIFICATE', pki.intermediate.cert) + toPem('X509 CRL', crl));

    const store = await TrustStore.load([folder, bundle]);
    expect(store.anchors).toHaveLength(3); // root (once), other root, intermediate
    expect(store.crls).toHaveLength(2);
    expect(store.warnings).toEqual([expect.stringMatching(/key\.pem: no certificate or CRL in it, skipped/)]);
    const r = evaluateSigner(input(pki.signer, []), store.trustInput(NOW));
    expect(r.status).toBe('trusted');
  });

  it('reports a missing path and an unreadable certificate file', async () => {
    await expect(TrustStore.load([path.join(dir, 'missing')])).rejects.toMatchObject({ code: 'INPUT_NOT_FOUND' });
    const bad = path.join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'broken.crt'), 'garbage that is not a certificate');
    const err = await TrustStore.load([bad]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DcmsafeError);
    expect((err as DcmsafeError).code).toBe('CERT_UNREADABLE');
    expect((err as DcmsafeError).data.file).toBe(path.join(bad, 'broken.crt'));
  });
});
