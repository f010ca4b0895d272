/**
 * From the user's choices to the keys, certificates and passwords of secure media. Secrets come
 * from files, environment variables or a prompt, never from the command line itself.
 */
import { readFile } from 'node:fs/promises';
import { DcmsafeError } from '../errors/index.js';
import type { MacAlgorithm } from '../dicom/signature/mac.js';
import type { DicomSigner, SignatureProfile } from '../dicom/signature/sign.js';
import type { MediaSecurity } from '../pipelines/protect.js';
import { derivePasswordKek, type ContentCipher, type DigestName, type Recipient, type Signer } from '../security/cms/writer.js';
import { generatePassword } from '../security/password.js';
import { loadCertificates } from '../security/pki/certificates.js';
import { assertKeyMatchesCertificate, isPkcs12, loadPkcs12, loadPrivateKey } from '../security/pki/keys.js';
import { readSecret } from '../security/pki/secrets.js';
import type { Random } from '../util/random.js';

export interface SecurityFlags {
  signCert?: string;
  signKey?: string;
  signKeyPassphraseFile?: string;
  signKeyPassphraseEnv?: string;
  signChain?: string;
  recipient?: string[];
  keyTransport?: 'pkcs1' | 'oaep';
  passwordFile?: string;
  passwordEnv?: string;
  generatePassword?: boolean;
  cipher?: ContentCipher;
  digest?: DigestName;
  /** Sign inside every data set (PS3.15 Annex C) with the signing key: the media stay plain. */
  dicomSignature?: boolean;
  signatureProfile?: SignatureProfile;
}

export interface ResolvedSecurity {
  readonly security?: MediaSecurity;
  /** With dicomSignature: who signs each data set, and how. */
  readonly dicomSigner?: DicomSigner;
  /** Shown once to the person who asked for it; stored nowhere. */
  readonly generatedPassword?: string;
}

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DcmsafeError('INPUT_NOT_FOUND', `${what} ${path} cannot be read`, { file: path }, { cause: e });
  }
}

async function loadSigner(flags: SecurityFlags, digest: DigestName): Promise<Signer | undefined> {
  if (!flags.signKey && !flags.signCert) return undefined;
  if (!flags.signKey) throw new DcmsafeError('USAGE', '--sign-cert needs --sign-key', {});
  const keyBytes = await readInput(flags.signKey, 'signing key');
  // One source: the file if named, else the environment variable if set, else a prompt.
  const passphrase = async (): Promise<string> =>
    readSecret(
      flags.signKeyPassphraseFile
        ? { file: flags.signKeyPassphraseFile }
        : flags.signKeyPassphraseEnv && process.env[flags.signKeyPassphraseEnv] !== undefined
          ? { env: flags.signKeyPassphraseEnv }
          : { prompt: `Passphrase for ${flags.signKey}: ` },
    );
  const chain = flags.signChain ? loadCertificates(await readInput(flags.signChain, 'certificate chain')) : [];
  if (isPkcs12(keyBytes)) {
    const p12 = loadPkcs12(keyBytes, await passphrase());
    const certificate = flags.signCert ? (loadCertificates(await readInput(flags.signCert, 'signing certificate'))[0] as Buffer) : p12.certificate;
    assertKeyMatchesCertificate(p12.privateKey, certificate);
    return { certificate, chain: [...chain, ...p12.chain], privateKey: p12.privateKey, digest };
  }
  if (!flags.signCert) throw new DcmsafeError('USAGE', '--sign-key needs --sign-cert (or a PKCS#12 file holding both)', {});
  const certificate = loadCertificates(await readInput(flags.signCert, 'signing certificate'))[0];
  if (!certificate) throw new DcmsafeError('CERT_UNREADABLE', `${flags.signCert} holds no certificate`, { file: flags.signCert });
  let privateKey;
  try {
    privateKey = loadPrivateKey(keyBytes);
  } catch (e) {
    if (!(e instanceof DcmsafeError) || e.code !== 'KEY_PASSPHRASE') throw e;
    privateKey = loadPrivateKey(keyBytes, await passphrase());
  }
  assertKeyMatchesCertificate(privateKey, certificate);
  return { certificate, chain, privateKey, digest };
}

export async function resolveSecurity(flags: SecurityFlags, random: Random): Promise<ResolvedSecurity> {
  const digest = flags.digest ?? 'sha256';
  const cipher = flags.cipher ?? 'aes256';
  const recipients: Recipient[] = [];
  for (const path of flags.recipient ?? []) {
    const certificate = loadCertificates(await readInput(path, 'recipient certificate'))[0];
    if (!certificate) throw new DcmsafeError('CERT_UNREADABLE', `${path} holds no certificate`, { file: path });
    recipients.push({ kind: 'certificate', certificate, padding: flags.keyTransport ?? 'pkcs1' });
  }
  const passwordSources = [flags.passwordFile, flags.passwordEnv, flags.generatePassword].filter(Boolean).length;
  if (passwordSources > 1) throw new DcmsafeError('USAGE', 'give one of --password-file, --password-env and --generate-password', {});
  let password: string | undefined;
  let generatedPassword: string | undefined;
  if (flags.generatePassword) {
    generatedPassword = generatePassword(random).password;
    password = generatedPassword;
  } else if (flags.passwordFile || flags.passwordEnv) {
    password = await readSecret({ ...(flags.passwordFile ? { file: flags.passwordFile } : {}), ...(flags.passwordEnv ? { env: flags.passwordEnv } : {}) });
  }
  // One key derivation for the whole medium: one salt, every file its own content key (toolchain.md).
  if (password !== undefined) recipients.push({ kind: 'password', kek: derivePasswordKek(password, { random }) });
  const signer = await loadSigner(flags, digest);
  if (flags.signatureProfile && !flags.dicomSignature) throw new DcmsafeError('USAGE', '--signature-profile needs --dicom-signature', {});
  if (flags.dicomSignature && !signer) throw new DcmsafeError('USAGE', '--dicom-signature needs --sign-cert and --sign-key', {});
  const dicomSigner = signer && flags.dicomSignature ? dicomSignerOf(signer, flags.signatureProfile ?? 'base') : undefined;
  if (recipients.length === 0) {
    // A CMS signature alone is not a Secure DICOM File (PS3.15 D.1); a signature inside the data
    // set (Annex C) is, and keeps the media readable by every viewer.
    if (signer && !dicomSigner) throw new DcmsafeError('USAGE', 'signing needs encryption too on DICOM media (PS3.15 D.1): add --recipient or a password, or sign inside the data sets with --dicom-signature', {});
    return dicomSigner ? { dicomSigner } : {};
  }
  return { security: { recipients, cipher, digest, ...(signer ? { signer } : {}) }, ...(dicomSigner ? { dicomSigner } : {}), ...(generatedPassword ? { generatedPassword } : {}) };
}

const MAC_FOR_DIGEST: Readonly<Record<DigestName, MacAlgorithm>> = { sha1: 'SHA1', sha256: 'SHA256', sha384: 'SHA384', sha512: 'SHA512' };

function dicomSignerOf(signer: Signer, profile: SignatureProfile): DicomSigner {
  if (signer.privateKey.asymmetricKeyType !== 'rsa') {
    throw new DcmsafeError('USAGE', 'DICOM digital signatures need an RSA signing key (PS3.15 C.1 Base RSA profile; there is no ECDSA profile)', {});
  }
  return { certificate: signer.certificate, privateKey: signer.privateKey, algorithm: MAC_FOR_DIGEST[signer.digest], profile };
}
