/**
 * A demo PKI for trying dcmsafe end to end (PS3.15 D.1 signed and encrypted media, DICOM-TLS per
 * PS3.15 B.1/B.9): a root CA and four end-entity credentials, each certificate with its unencrypted
 * PKCS#8 key (RFC 5958). Everything says DEMO in its subject and the README says these are not for
 * clinical use. The root CA's private key is not written: nobody can issue further certificates
 * under a root that a user may have installed as trusted.
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readdir, writeFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../../errors/index.js';
import { describeCertificate, type CertificateIdentity } from './certificates.js';
import { generateRsaKeyPair, issueCertificate, type IssueCertificateOptions } from './issue.js';
import { toPem } from './pem.js';

export const DEMO_ORGANIZATION = 'dcmsafe DEMO - not for clinical use';

export interface DemoCredential {
  name: string;
  certificateFile: string;
  /** Absent for the root CA, whose key is not kept. */
  keyFile?: string;
  identity: CertificateIdentity;
}

export interface DemoPkiSummary {
  outDir: string;
  rootCa: DemoCredential;
  mediaSigner: DemoCredential;
  mediaRecipient: DemoCredential;
  tlsServer: DemoCredential;
  tlsClient: DemoCredential;
  readmeFile: string;
}

const DAY = 86_400_000;

function randomSerial(): Buffer {
  // 16 random octets with the top bit cleared: positive and unpredictable (CA/B BR §7.1 asks 64 bits).
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return b;
}

function addYears(d: Date, years: number): Date {
  const out = new Date(d.getTime());
  out.setUTCFullYear(out.getUTCFullYear() + years);
  return out;
}

const README = (now: Date, summary: Omit<DemoPkiSummary, 'readmeFile'>): string => `dcmsafe DEMO PKI
================

THESE ARE DEMO CREDENTIALS. THEY ARE NOT FOR CLINICAL USE.

Every certificate here says "${DEMO_ORGANIZATION}" in its subject.
The private keys are stored unencrypted; anyone who can read this folder can sign, decrypt and
connect as these identities. Use them to try dcmsafe on test data only, and never install
demo-root-ca.pem as a trusted root on a machine or PACS that handles patient data.

Made ${now.toISOString()} by "dcmsafe pki demo".

Files
-----
demo-root-ca.pem        Demo root CA certificate (valid 10 years). Its private key was not kept,
                        so no further certificates can be issued under it.
${summary.mediaSigner.name}.pem / .key
                        Media signing certificate and key (keyUsage digitalSignature,
                        nonRepudiation): signs Secure DICOM Files (PS3.15 D.1, CMS SignedData).
${summary.mediaRecipient.name}.pem / .key
                        Receiving institution's encryption certificate and key (keyUsage
                        keyEncipherment, extended key usage emailProtection): media are encrypted
                        to it (CMS EnvelopedData, RSA key transport).
${summary.tlsServer.name}.pem / .key
                        DICOM-TLS server certificate for 127.0.0.1 (subjectAltName IP 127.0.0.1
                        and DNS localhost, extended key usage serverAuth).
${summary.tlsClient.name}.pem / .key
                        DICOM-TLS client certificate (extended key usage clientAuth).

Keys are PKCS#8 PEM, unencrypted, readable by the owner only (mode 0600).
Certificates are valid from one day before ${now.toISOString().slice(0, 10)} for two years.

Check a certificate:  openssl verify -CAfile demo-root-ca.pem ${summary.mediaSigner.name}.pem
`;

/**
 * Writes the demo PKI into `outDir` (created when missing; refused with OUTPUT_NOT_EMPTY when it
 * exists and is not empty). Validity: end entities from one day before `now` to two years after,
 * the root CA to ten years after. `bits` is the RSA key size (3072 by default).
 */
export async function makeDemoPki(outDir: string, options: { now: Date; bits?: number }): Promise<DemoPkiSummary> {
  const { now } = options;
  const bits = options.bits ?? 3072;
  let existing: string[] = [];
  try {
    existing = await readdir(outDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DcmsafeError('IO', `Cannot read the output folder ${outDir}: ${(e as Error).message}`, { file: outDir }, { cause: e });
    }
  }
  if (existing.length > 0) throw new DcmsafeError('OUTPUT_NOT_EMPTY', `The output folder is not empty: ${outDir}`, { file: outDir });
  await mkdir(outDir, { recursive: true, mode: 0o700 });

  // Five key pairs in parallel: generation runs on libuv's thread pool.
  const [caKeys, signerKeys, recipientKeys, serverKeys, clientKeys] = await Promise.all([
    generateRsaKeyPair(bits),
    generateRsaKeyPair(bits),
    generateRsaKeyPair(bits),
    generateRsaKeyPair(bits),
    generateRsaKeyPair(bits),
  ]);

  const notBefore = new Date(now.getTime() - DAY);
  const caCert = issueCertificate({
    subject: { O: DEMO_ORGANIZATION, CN: 'dcmsafe DEMO Root CA' },
    publicKey: caKeys.publicKey,
    signingKey: caKeys.privateKey,
    serialNumber: randomSerial(),
    notBefore,
    notAfter: addYears(now, 10),
    isCA: true,
    pathLength: 0,
    keyUsage: ['keyCertSign', 'cRLSign'],
  });
  const issuer = { certificate: caCert, privateKey: caKeys.privateKey };
  const leaf = (keys: { publicKey: KeyObject }, cn: string, extra: Partial<IssueCertificateOptions>): Buffer =>
    issueCertificate({
      subject: { O: DEMO_ORGANIZATION, OU: 'dcmsafe demo', CN: cn },
      issuer,
      publicKey: keys.publicKey,
      serialNumber: randomSerial(),
      notBefore,
      notAfter: addYears(now, 2),
      ...extra,
    });

  const entries: { name: string; cert: Buffer; key?: KeyObject }[] = [
    { name: 'demo-root-ca', cert: caCert },
    {
      name: 'media-signer',
      cert: leaf(signerKeys, 'dcmsafe DEMO media signer', { keyUsage: ['digitalSignature', 'nonRepudiation'] }),
      key: signerKeys.privateKey,
    },
    {
      name: 'media-recipient',
      cert: leaf(recipientKeys, 'dcmsafe DEMO receiving institution', { keyUsage: ['keyEncipherment'], extendedKeyUsage: ['emailProtection'] }),
      key: recipientKeys.privateKey,
    },
    {
      name: 'tls-server',
      cert: leaf(serverKeys, 'dcmsafe DEMO TLS server 127.0.0.1', {
        keyUsage: ['digitalSignature', 'keyEncipherment'],
        extendedKeyUsage: ['serverAuth'],
        subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] },
      }),
      key: serverKeys.privateKey,
    },
    {
      name: 'tls-client',
      cert: leaf(clientKeys, 'dcmsafe DEMO TLS client', { keyUsage: ['digitalSignature'], extendedKeyUsage: ['clientAuth'] }),
      key: clientKeys.privateKey,
    },
  ];

  const written: DemoCredential[] = [];
  for (const e of entries) {
    const certificateFile = path.join(outDir, `${e.name}.pem`);
    await writeFile(certificateFile, toPem('CERTIFICATE', e.cert), { mode: 0o644, flag: 'wx' });
    const cred: DemoCredential = { name: e.name, certificateFile, identity: describeCertificate(e.cert) };
    if (e.key) {
      const keyFile = path.join(outDir, `${e.name}.key`);
      const pem = e.key.export({ type: 'pkcs8', format: 'pem' });
      // 'wx' never follows or overwrites an existing file; chmod because umask cannot widen, but be explicit.
      await writeFile(keyFile, pem, { mode: 0o600, flag: 'wx' });
      await chmod(keyFile, 0o600);
      cred.keyFile = keyFile;
    }
    written.push(cred);
  }
  const [rootCa, mediaSigner, mediaRecipient, tlsServer, tlsClient] = written as [DemoCredential, DemoCredential, DemoCredential, DemoCredential, DemoCredential];
  const base = { outDir, rootCa, mediaSigner, mediaRecipient, tlsServer, tlsClient };
  const readmeFile = path.join(outDir, 'README.txt');
  await writeFile(readmeFile, README(now, base), { mode: 0o644, flag: 'wx' });
  return { ...base, readmeFile };
}
