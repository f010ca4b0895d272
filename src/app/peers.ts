/**
 * A DICOM peer from what the user gave (HOST:PORT, AE titles, TLS files) or from a PACS node of the
 * configuration: the address, AE titles and TLS options an association needs (PS3.15 B.12/B.13).
 * Shared by the command line and the front-desk UI.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { DcmsafeError } from '../errors/index.js';
import type { PeerOptions } from '../net/client.js';
import type { TlsOptions } from '../net/transport.js';
import { isValidAETitle } from '../net/pdu.js';
import { loadCertificates } from '../security/pki/certificates.js';
import { loadPrivateKey } from '../security/pki/keys.js';
import { readSecret } from '../security/pki/secrets.js';
import type { Config } from '../config/config.js';

/** Conventional ports: 104 for DICOM, 2762 for DICOM over TLS (PS3.15 B.1). */
export const DICOM_PORT = 104;
export const DICOM_TLS_PORT = 2762;
export const DEFAULT_CALLING_AE = 'DCMSAFE';

export type Opts = Record<string, unknown>;

export function usage(message: string): DcmsafeError {
  return new DcmsafeError('USAGE', message, {});
}

/** HOST:PORT, [IPv6]:PORT, or HOST alone (port 2762 with TLS, 104 without). */
export function parseHostPort(text: string, tls: boolean): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m && isIP(text) === 6) return { host: text, port: tls ? DICOM_TLS_PORT : DICOM_PORT };
  if (!m || !m[1]) throw usage(`not HOST:PORT: ${text}`);
  const port = m[2] === undefined ? (tls ? DICOM_TLS_PORT : DICOM_PORT) : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw usage(`port ${m[2]} is not 1-65535`);
  return { host: m[1], port };
}

export function aeTitle(value: unknown, what: string): string {
  const ae = String(value);
  if (!isValidAETitle(ae)) throw usage(`${what} "${ae}" is not an AE title (1-16 characters, no backslash or control characters, not all spaces)`);
  return ae;
}

async function tlsOptions(opts: Opts): Promise<TlsOptions | undefined> {
  const wanted = opts.tls === true || ['tlsCa', 'tlsCert', 'tlsKey', 'tlsServername'].some((k) => opts[k] !== undefined);
  if (!wanted) return undefined;
  if (!opts.tlsCa) throw usage('TLS needs --tls-ca: the CA certificate(s) the peer must present a certificate from');
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw usage('--tls-cert and --tls-key go together');
  const read = async (file: unknown, what: string): Promise<Buffer> =>
    readFile(String(file)).catch((e: unknown) => {
      throw new DcmsafeError('INPUT_NOT_FOUND', `${what} ${String(file)} cannot be read`, { file: String(file) }, { cause: e });
    });
  const ca = loadCertificates(await read(opts.tlsCa, '--tls-ca'));
  if (ca.length === 0) throw new DcmsafeError('CERT_UNREADABLE', `${String(opts.tlsCa)} holds no certificate`, { file: String(opts.tlsCa) });
  const out: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = { ca };
  if (opts.tlsCert) {
    out.cert = await read(opts.tlsCert, '--tls-cert');
    const keyBytes = await read(opts.tlsKey, '--tls-key');
    try {
      out.key = loadPrivateKey(keyBytes);
    } catch (e) {
      if (!(e instanceof DcmsafeError) || e.code !== 'KEY_PASSPHRASE') throw e;
      const passphrase = await readSecret(
        opts.tlsKeyPassphraseFile
          ? { file: String(opts.tlsKeyPassphraseFile) }
          : process.env.DCMSAFE_TLS_KEY_PASSPHRASE !== undefined
            ? { env: 'DCMSAFE_TLS_KEY_PASSPHRASE' }
            : { prompt: `Passphrase for ${String(opts.tlsKey)}: ` },
      );
      out.key = loadPrivateKey(keyBytes, passphrase);
    }
  }
  if (opts.tlsServername) out.servername = String(opts.tlsServername);
  return out;
}

/**
 * A PACS node of the configuration named instead of HOST:PORT: its address, AE titles and TLS files
 * fill in what the command line does not give.
 */
function fromConfig(address: string, opts: Opts, config?: Config): { address: string; opts: Opts } {
  const node = config?.pacs.find((n) => n.name.toLowerCase() === address.toLowerCase());
  if (!node) return { address, opts };
  const merged: Opts = { ...opts };
  merged.aec ??= node.calledAE;
  if (node.callingAE && (opts.aet === undefined || opts.aet === DEFAULT_CALLING_AE)) merged.aet = node.callingAE;
  const tlsGiven = ['tls', 'tlsCa', 'tlsCert', 'tlsKey', 'tlsServername'].some((k) => opts[k] !== undefined);
  if (node.tls && !tlsGiven) {
    merged.tlsCa = node.tls.ca;
    if (node.tls.cert && node.tls.key) {
      merged.tlsCert = node.tls.cert;
      merged.tlsKey = node.tls.key;
    }
    if (node.tls.keyPassphraseFile) merged.tlsKeyPassphraseFile ??= node.tls.keyPassphraseFile;
    if (node.tls.servername) merged.tlsServername = node.tls.servername;
  }
  return { address: `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`, opts: merged };
}

export async function peerOptions(givenAddress: string, givenOpts: Opts, config?: Config): Promise<PeerOptions> {
  const { address, opts } = fromConfig(givenAddress, givenOpts, config);
  if (opts.aec === undefined) throw usage('--aec (the called AE title) is required');
  const tls = await tlsOptions(opts);
  const { host, port } = parseHostPort(address, tls !== undefined);
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    const s = Number(opts.timeout);
    if (!(s > 0 && s <= 3600)) throw usage(`--timeout ${String(opts.timeout)} is not 1-3600 seconds`);
    timeoutMs = Math.round(s * 1000);
  }
  return {
    host,
    port,
    calledAE: aeTitle(opts.aec, '--aec'),
    callingAE: aeTitle(opts.aet ?? DEFAULT_CALLING_AE, '--aet'),
    ...(tls ? { tls: timeoutMs !== undefined ? { ...tls, timeoutMs: Math.min(timeoutMs, 10_000) } : tls } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

export function describePeer(p: PeerOptions): string {
  return `${p.calledAE}@${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}${p.tls ? ' (TLS)' : ''}`;
}

