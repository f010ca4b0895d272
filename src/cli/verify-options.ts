/**
 * The `dcmsafe verify` and `import` options for trust anchors, decryption keys and the policy (resolved
 * in src/app/verify-inputs.ts).
 */
import { Option, type Command } from 'commander';
import type { VerifyFlags } from '../app/verify-inputs.js';
export { resolveKeys, resolveTrust, type VerifyFlags } from '../app/verify-inputs.js';

/** The options verify and import share: trust anchors, decryption keys, policy. */
export function addVerifyOptions(cmd: Command): Command {
  return cmd
    .option('--trust <pem|dir>', 'trust anchors (PEM bundle or folder of certificates and CRLs); repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--key <file>', 'private key to decrypt secure media (PEM, or PKCS#12 holding the certificate too)')
    .option('--cert <pem>', 'the certificate of --key')
    .option('--key-passphrase-file <file>', 'passphrase of --key (else $DCMSAFE_KEY_PASSPHRASE, else a prompt)')
    .option('--password-file <file>', 'password of password-encrypted media (first line of the file)')
    .option('--password-env <var>', 'environment variable holding the password')
    .addOption(new Option('--policy <policy>', 'strict: anything above info fails; standard: errors fail; lenient: only unreadable or tampered fails').choices(['strict', 'standard', 'lenient']).default('standard'));
}

/** The VerifyFlags of parsed commander options. */
export function verifyFlags(opts: Record<string, unknown>): VerifyFlags {
  const text = (k: string): string | undefined => (typeof opts[k] === 'string' ? (opts[k] as string) : undefined);
  const flags: VerifyFlags = { trust: (opts.trust as string[] | undefined) ?? [] };
  for (const k of ['key', 'cert', 'keyPassphraseFile', 'passwordFile', 'passwordEnv'] as const) {
    const v = text(k);
    if (v !== undefined) flags[k] = v;
  }
  return flags;
}

