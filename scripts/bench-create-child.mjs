// One bench case in its own process, so its peak RSS is its own: create INPUT → OUT, print timing.
// With "secure", every file is signed and encrypted (AES-256, RSA 3072 recipient and signer);
// with "dvd", the output is an ISO 9660 DVD image instead of a folder.
import { createMedia } from '../dist/pipelines/create-media.js';
import { generateRsaKeyPair, issueCertificate } from '../dist/security/pki/issue.js';

const [input, out, mode] = process.argv.slice(2);
let security;
if (mode === 'secure') {
  const keys = await generateRsaKeyPair(3072);
  const now = new Date();
  const certificate = issueCertificate({
    subject: { CN: 'dcmsafe bench (not for clinical use)' },
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    serialNumber: 1n,
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + 86_400_000),
    keyUsage: ['digitalSignature', 'keyEncipherment'],
  });
  security = {
    signer: { certificate, chain: [], privateKey: keys.privateKey, digest: 'sha256' },
    recipients: [{ kind: 'certificate', certificate, padding: 'pkcs1' }],
    cipher: 'aes256',
    digest: 'sha256',
  };
}
const start = process.hrtime.bigint();
const media = mode === 'dvd' ? 'dvd' : 'folder';
await createMedia({ inputs: [input], media, out, ...(security ? { security } : {}) });
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ seconds, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
