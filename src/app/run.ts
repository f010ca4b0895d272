/**
 * One run of dcmsafe: its configuration and its audit trail (PS3.15 A.5), opened from the global
 * options (--config, --audit-log, --operator) or, in the front-desk UI, for the operator signed in.
 */
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { AuditTrail } from '../audit/trail.js';
import type { SyslogTarget } from '../audit/syslog.js';
import { loadConfig, type Config, type TlsFiles } from '../config/config.js';
import { DcmsafeError } from '../errors/index.js';
import { loadCertificates } from '../security/pki/certificates.js';
import { loadPrivateKey } from '../security/pki/keys.js';
import { readSecret } from '../security/pki/secrets.js';

export interface GlobalOptions {
  readonly config?: string;
  readonly auditLog?: string;
  readonly operator?: string;
}

export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

async function readFileOrFail(file: string, what: string): Promise<Buffer> {
  return readFile(file).catch((e: unknown) => {
    throw new DcmsafeError('INPUT_NOT_FOUND', `${what} ${file} cannot be read`, { file }, { cause: e });
  });
}

/** TLS files of the configuration, read (an encrypted key asks for its passphrase file). */
export async function tlsFromFiles(files: TlsFiles): Promise<Pick<SyslogTarget, 'ca' | 'cert' | 'key' | 'servername'>> {
  const ca = loadCertificates(await readFileOrFail(files.ca, 'CA certificates'));
  const out: { ca: Buffer[]; cert?: Buffer; key?: SyslogTarget['key']; servername?: string } = { ca };
  if (files.cert && files.key) {
    out.cert = await readFileOrFail(files.cert, 'certificate');
    const keyBytes = await readFileOrFail(files.key, 'key');
    try {
      out.key = loadPrivateKey(keyBytes);
    } catch (e) {
      if (!(e instanceof DcmsafeError) || e.code !== 'KEY_PASSPHRASE' || !files.keyPassphraseFile) throw e;
      out.key = loadPrivateKey(keyBytes, await readSecret({ file: files.keyPassphraseFile }));
    }
  }
  if (files.servername) out.servername = files.servername;
  return out;
}

/** The configuration and the audit trail of this run. */
export async function openRun(opts: GlobalOptions): Promise<{ config: Config; trail: AuditTrail }> {
  const config = await loadConfig({ ...(opts.config ? { file: opts.config } : {}) });
  return { config, trail: await openTrail(config, opts) };
}

/** The audit trail of a configuration, for an operator (default: the OS user). */
export async function openTrail(config: Config, opts: Omit<GlobalOptions, 'config'>): Promise<AuditTrail> {
  const log = opts.auditLog ?? config.audit.log;
  const repo = config.audit.repository;
  const spool = config.audit.spool ?? (config.file ? path.join(path.dirname(config.file), 'audit-spool') : undefined);
  return AuditTrail.open({
    ...(log ? { log } : {}),
    ...(repo && spool ? { repository: { target: { host: repo.host, port: repo.port, ...(await tlsFromFiles(repo.tls)) }, spool } } : {}),
    operator: { userId: opts.operator ?? osUser() },
    ...(config.institution ? { auditSourceId: config.institution.name } : {}),
  });
}

