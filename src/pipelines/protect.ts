/**
 * Protecting each file of secure media (PS3.10 §7.4, PS3.15 D.1): the Part 10 bytes, as they would
 * be on plain media, go through the CMS writer on their way to the medium, so no plaintext is ever
 * written. Without security the bytes pass through unchanged.
 */
import { planSecureFile, type ContentCipher, type DigestName, type Recipient, type Signer } from '../security/cms/writer.js';
import { describeCertificate } from '../security/pki/certificates.js';
import type { Clock } from '../util/clock.js';
import type { SecuritySummary } from './create-summary.js';
import type { Random } from '../util/random.js';

export interface MediaSecurity {
  readonly signer?: Signer;
  readonly recipients: readonly Recipient[];
  readonly cipher: ContentCipher;
  readonly digest: DigestName;
}

export interface Protected {
  readonly size: number;
  stream(): AsyncIterable<Buffer>;
}

export function protect(security: MediaSecurity | undefined, plain: { size: number; stream(): AsyncIterable<Buffer> }, context: { clock: Clock; random: Random }): Protected {
  if (!security) return plain;
  const plan = planSecureFile(plain.size, {
    recipients: [...security.recipients],
    ...(security.signer ? { signer: security.signer } : {}),
    digest: security.digest,
    cipher: security.cipher,
    signingTime: context.clock.now(),
    random: context.random,
  });
  return { size: plan.size, stream: () => plan.stream(plain.stream()) };
}

export async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/** What the summary says about the protection of the media (never a key or a password). */
export function describeSecurity(security: MediaSecurity): SecuritySummary {
  const legacy: string[] = [];
  if (security.cipher === 'des-ede3') legacy.push('des-ede3-cbc');
  const signer = security.signer ? describeCertificate(security.signer.certificate) : undefined;
  return {
    cipher: security.cipher,
    digest: security.digest,
    signed: signer !== undefined,
    ...(signer ? { signer: { subject: signer.subject, issuer: signer.issuer, serialNumber: signer.serialNumber } } : {}),
    recipients: security.recipients.map((r) => {
      if (r.kind === 'password') return { kind: 'password' as const, kdf: `PBKDF2-HMAC-${r.kek.prf.toUpperCase()}`, iterations: r.kek.iterations };
      const c = describeCertificate(r.certificate);
      return { kind: 'certificate' as const, subject: c.subject, serialNumber: c.serialNumber, keyTransport: r.padding === 'oaep' ? 'RSAES-OAEP' : 'RSA PKCS#1 v1.5' };
    }),
    legacy,
  };
}
