/**
 * Trust anchors and decryption keys for verify and import, from files named by the user or the
 * configuration. Passphrases and passwords come from files, environment variables or a prompt,
 * never from the command line itself.
 */
import { readFile } from 'node:fs/promises';
import { DcmsafeError } from '../errors/index.js';
import type { DecryptionKeys } from '../security/cms/reader.js';
import { loadCertificates } from '../security/pki/certificates.js';
import { isPkcs12, loadPkcs12, loadPrivateKey } from '../security/pki/keys.js';
import { readSecret } from '../security/pki/secrets.js';
import { TrustStore } from '../security/pki/trust.js';

export interface VerifyFlags {
  trust?: string[];
  key?: string;
  cert?: string;
  keyPassphraseFile?: string;
  passwordFile?: string;
  passwordEnv?: string;
}

export async function resolveTrust(flags: VerifyFlags): Promise<{ anchors: Buffer[]; crls: Buffer[] }> {
  if (!flags.trust || flags.trust.length === 0) return { anchors: [], crls: [] };
  const store = await TrustStore.load(flags.trust);
  return { anchors: store.anchors, crls: store.crls };
}

export async function resolveKeys(flags: VerifyFlags): Promise<DecryptionKeys> {
  const keys: DecryptionKeys = { certificates: [], passwords: [] };
  if (flags.key) {
    const bytes = await readFile(flags.key).catch((e: unknown) => {
      throw new DcmsafeError('INPUT_NOT_FOUND', `key ${flags.key} cannot be read`, { file: flags.key }, { cause: e });
    });
    const passphrase = (): Promise<string> =>
      readSecret(
        flags.keyPassphraseFile
          ? { file: flags.keyPassphraseFile }
          : process.env.DCMSAFE_KEY_PASSPHRASE !== undefined
            ? { env: 'DCMSAFE_KEY_PASSPHRASE' }
            : { prompt: `Passphrase for ${flags.key}: ` },
      );
    if (isPkcs12(bytes)) {
      const p12 = loadPkcs12(bytes, await passphrase());
      keys.certificates?.push({ certificate: p12.certificate, privateKey: p12.privateKey });
    } else {
      if (!flags.cert) throw new DcmsafeError('USAGE', '--key needs --cert (or a PKCS#12 file holding both)', {});
      const certificate = loadCertificates(await readFile(flags.cert))[0];
      if (!certificate) throw new DcmsafeError('CERT_UNREADABLE', `${flags.cert} holds no certificate`, { file: flags.cert });
      let privateKey;
      try {
        privateKey = loadPrivateKey(bytes);
      } catch (e) {
        if (!(e instanceof DcmsafeError) || e.code !== 'KEY_PASSPHRASE') throw e;
        privateKey = loadPrivateKey(bytes, await passphrase());
      }
      keys.certificates?.push({ certificate, privateKey });
    }
  }
  if (flags.passwordFile) keys.passwords?.push(await readSecret({ file: flags.passwordFile }));
  if (flags.passwordEnv) keys.passwords?.push(await readSecret({ env: flags.passwordEnv }));
  return keys;
}
