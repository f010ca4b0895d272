/**
 * The transport seam under the DICOM Upper Layer (PS3.8 §9.1: TCP; PS3.15 Annex B: TLS). The upper
 * layer sees only a `Transport`: ordered bytes with back-pressure both ways, whatever carries them.
 *
 * TLS follows PS3.15 B.12/B.13 (BCP 195 with RFC 8996/9325): TLS 1.2 minimum and 1.3 maximum; on TLS
 * 1.2 only ECDHE with ECDSA or RSA and AES-GCM or ChaCha20-Poly1305; on TLS 1.3 the OpenSSL default
 * suites; the peer's certificate chain is verified against the given CAs and the expected name (an IP
 * address is matched against the certificate's IP SANs) is checked, always.
 */
import net from 'node:net';
import tls from 'node:tls';
import { KeyObject } from 'node:crypto';
import type { DcmsafeError } from '../errors/index.js';
import { netError } from './errors.js';

/** An ordered, reliable byte stream to one peer. */
export interface Transport {
  /**
   * Hands bytes to the peer; resolves when the send buffer is below its high-water mark again (back-pressure).
   * `onWritten`, if the transport supports it, is called once the transport no longer refers to `chunk`
   * (its bytes went to the operating system, or the write failed): the caller may then reuse it. A
   * transport that does not call it keeps the chunk as long as it likes.
   */
  write(chunk: Buffer, onWritten?: () => void): Promise<void>;
  /** The next bytes from the peer, or null once the peer has closed its side. Rejects with NET_CONNECT or NET_TLS. */
  read(): Promise<Buffer | null>;
  /** Flushes, closes our side and waits (briefly) for the connection to close. */
  close(): Promise<void>;
  /** Closes at once; pending reads and writes fail. */
  destroy(): void;
  readonly info: TransportInfo;
}

export interface TransportInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Present for TLS connections. */
  readonly tls?: {
    readonly protocol: string;
    readonly cipher: string;
    /** Subject of the peer's certificate, when it sent one. */
    readonly peerSubject?: string;
  };
}

/** BCP 195 TLS 1.2 suites (PS3.15 B.13 list, ECDHE only, AEAD only), most preferred first. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;
/**
 * TLS 1.3 suites: the OpenSSL defaults. Named explicitly because Node, given a cipher list without
 * any TLS 1.3 name, silently caps the connection at TLS 1.2.
 */
export const TLS13_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'] as const;
export const TLS_CIPHERS = [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':');
export const TLS_MIN_VERSION = 'TLSv1.2';
export const TLS_MAX_VERSION = 'TLSv1.3';

/** Bytes read ahead from the socket before it is paused (receive back-pressure). */
const READ_HIGH_WATER_MARK = 512 * 1024;
const CLOSE_GRACE_MS = 2000;

// ---- Error mapping -------------------------------------------------------------------------------

/** Why a TLS connection failed, for programs (`data.reason`). */
export type TlsFailure =
  | 'unknown-ca'
  | 'name-mismatch'
  | 'certificate-expired'
  | 'protocol-version'
  | 'no-shared-cipher'
  | 'not-tls'
  | 'certificate-refused-by-peer'
  | 'handshake-timeout'
  | 'handshake-failed';

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);

function tlsFailure(code: string, message: string): { reason: TlsFailure; text: string } | undefined {
  if (UNKNOWN_CA.has(code)) return { reason: 'unknown-ca', text: `the peer's certificate is not issued by a trusted CA (unknown CA: ${message})` };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { reason: 'name-mismatch', text: `the peer's certificate does not match the expected name (${message})` };
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return { reason: 'certificate-expired', text: `the peer's certificate is outside its validity period (${message})` };
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|VERSION_TOO_LOW|VERSION_TOO_HIGH/.test(code)) {
    return { reason: 'protocol-version', text: `no common TLS protocol version: the peer does not offer TLS 1.2 or 1.3 (${message})` };
  }
  if (/NO_SHARED_CIPHER|NO_CIPHERS|HANDSHAKE_FAILURE|INSUFFICIENT_SECURITY/.test(code)) {
    return { reason: 'no-shared-cipher', text: `the TLS handshake failed: no common cipher suite or parameters (${message})` };
  }
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LENGTH_MISMATCH|HTTP_REQUEST|UNEXPECTED_RECORD/.test(code)) {
    return { reason: 'not-tls', text: `the peer does not speak TLS on this port (${message})` };
  }
  if (/CERTIFICATE_REQUIRED|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|ACCESS_DENIED/.test(code)) {
    return { reason: 'certificate-refused-by-peer', text: `the peer refused our client certificate or needs one (${message})` };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { reason: 'handshake-failed', text: `TLS failure (${message})` };
  return undefined;
}

/** A socket error as a typed error: NET_TLS for anything TLS, NET_CONNECT otherwise. */
export function socketError(err: unknown, where: { host?: string; port?: number; tls?: boolean; handshake?: boolean }): DcmsafeError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = e instanceof Error ? e.message : String(err);
  const target = where.host !== undefined ? `${where.host}:${where.port}` : 'the peer';
  const data = { ...(where.host !== undefined ? { host: where.host, port: where.port } : {}), ...(code ? { errno: code } : {}) };
  if (where.tls) {
    const t = tlsFailure(code, message);
    if (t) return netError('NET_TLS', `TLS with ${target} failed: ${t.text}`, { ...data, reason: t.reason }, err);
    if (where.handshake) {
      return netError(
        'NET_TLS',
        `TLS with ${target} failed: the connection closed during the TLS handshake (${message}); is the peer speaking TLS on this port, and does it accept our certificate?`,
        { ...data, reason: 'handshake-failed' },
        err,
      );
    }
  }
  switch (code) {
    case 'ECONNREFUSED':
      return netError('NET_CONNECT', `cannot connect to ${target}: connection refused`, data, err);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return netError('NET_CONNECT', `cannot connect to ${target}: host name not found`, data, err);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return netError('NET_CONNECT', `cannot connect to ${target}: no route to host`, data, err);
    case 'ECONNRESET':
    case 'EPIPE':
      return netError('NET_CONNECT', `the connection to ${target} was reset by the peer`, data, err);
    default:
      return netError('NET_CONNECT', `connection to ${target} failed: ${message}`, data, err);
  }
}

// ---- Timeouts -----------------------------------------------------------------------------------

/** Resolves as `promise` does, or rejects with `onTimeout()` after `ms` (0 = no limit). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!ms || ms <= 0) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- Socket transport -----------------------------------------------------------------------------

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** A `Transport` over a connected `net.Socket` or `tls.TLSSocket`. */
export class SocketTransport implements Transport {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failure: DcmsafeError | undefined;
  private closed = false;
  private readWaiter: Waiter | undefined;
  private drainWaiters: Waiter[] = [];
  readonly info: TransportInfo;

  constructor(
    private readonly socket: net.Socket,
    private readonly where: { host?: string; port?: number; tls?: boolean },
  ) {
    const tlsSocket = socket instanceof tls.TLSSocket ? socket : undefined;
    const cert = tlsSocket?.getPeerCertificate();
    const subject = cert && cert.subject ? Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(', ') : undefined;
    this.info = {
      remoteAddress: socket.remoteAddress ?? where.host ?? '',
      remotePort: socket.remotePort ?? where.port ?? 0,
      ...(tlsSocket
        ? { tls: { protocol: tlsSocket.getProtocol() ?? '', cipher: tlsSocket.getCipher()?.name ?? '', ...(subject ? { peerSubject: subject } : {}) } }
        : {}),
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued >= READ_HIGH_WATER_MARK) socket.pause();
      this.wakeReader();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wakeReader();
    });
    socket.on('error', (err) => {
      this.failure ??= socketError(err, { ...where, handshake: false });
      this.wakeReader();
      this.failWriters();
    });
    socket.on('drain', () => {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w.resolve();
    });
    socket.on('close', () => {
      this.closed = true;
      this.ended = true;
      this.wakeReader();
      this.failWriters();
    });
  }

  private wakeReader(): void {
    const w = this.readWaiter;
    this.readWaiter = undefined;
    w?.resolve();
  }

  private failWriters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    const err = this.failure ?? netError('NET_CONNECT', 'the connection closed while sending', { ...this.where });
    for (const w of waiters) w.reject(err);
  }

  async read(): Promise<Buffer | null> {
    for (;;) {
      const chunk = this.queue.shift();
      if (chunk) {
        this.queued -= chunk.length;
        if (this.queued < READ_HIGH_WATER_MARK && this.socket.isPaused() && !this.socket.destroyed) this.socket.resume();
        return chunk;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return null;
      await new Promise<void>((resolve, reject) => {
        this.readWaiter = { resolve, reject };
      });
    }
  }

  async write(chunk: Buffer, onWritten?: () => void): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closed || this.socket.destroyed || this.socket.writableEnded) {
      throw netError('NET_CONNECT', 'the connection is closed', { ...this.where });
    }
    // The socket's callback comes once the chunk is written or the write failed: either way it is let go.
    if (this.socket.write(chunk, onWritten && ((): void => onWritten()))) return;
    await new Promise<void>((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    try {
      await closed;
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * For protocols with no application acknowledgement (syslog over TLS, RFC 5425): ends our side (TLS
   * close_notify, then FIN) and resolves only if every byte written was handed to the operating system
   * and the peer then closed its side in turn, with no error, within `timeoutMs`. RFC 5425 §4.4 has the
   * receiver answer our close_notify, which it reads after everything before it: the peer's close is
   * the only evidence TLS gives that it read our bytes. Limits: node:tls does not say whether the peer's
   * close carried a close_notify or was a bare FIN, and a close the peer sent less than a round trip
   * after our last bytes (crossing them: a restart, or a refusal of our certificate after a TLS 1.3
   * handshake without an alert) looks the same as an answer unless it arrives before our bytes left.
   * Rejects (NET_CONNECT, NET_TLS, NET_TIMEOUT), destroying the socket, when the peer had closed first or
   * while we were sending, reset the connection, or did not answer in time. `close()` keeps its
   * forgiving behaviour for the DICOM upper layer.
   */
  async endCleanly(timeoutMs = CLOSE_GRACE_MS): Promise<void> {
    if (this.failure) {
      this.socket.destroy();
      throw this.failure;
    }
    if (this.ended || this.closed || this.socket.destroyed || this.socket.writableEnded) {
      this.socket.destroy();
      throw netError('NET_CONNECT', 'the peer closed the connection before we had finished sending', { ...this.where });
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(netError('NET_TIMEOUT', `the peer did not close the connection within ${timeoutMs} ms of our close_notify`, { ...this.where, timeoutMs }));
        this.socket.destroy();
      }, timeoutMs);
      // The peer's close must follow ours: one that comes before our last bytes (and close_notify) left
      // crossed them, and says nothing about whether the peer read them.
      let crossed = false;
      this.socket.once('end', () => {
        crossed = !this.socket.writableFinished;
      });
      // Registered after the constructor's listeners: `failure` is already set when 'close' comes here.
      this.socket.once('close', () => {
        clearTimeout(timer);
        if (this.failure) reject(this.failure);
        else if (!this.socket.writableFinished) reject(netError('NET_CONNECT', 'the connection closed before everything we wrote was sent', { ...this.where }));
        else if (crossed) reject(netError('NET_CONNECT', 'the peer closed the connection while we were still sending', { ...this.where }));
        else resolve();
      });
      this.socket.end();
    });
  }
}

// ---- Connecting -----------------------------------------------------------------------------------

export interface TcpOptions {
  /** Limit for the TCP connection to be established (default 10 s). */
  readonly timeoutMs?: number;
}

export interface TlsOptions {
  /** Trusted CA certificates (PEM or DER); the peer's chain must end at one of them. */
  readonly ca: readonly Buffer[];
  /** Our certificate (PEM, chain allowed) for mutual authentication. */
  readonly cert?: Buffer;
  readonly key?: KeyObject | Buffer;
  /** The name the peer's certificate must carry; defaults to the host (an IP address matches IP SANs). */
  readonly servername?: string;
  /** Limit for connecting and the TLS handshake together (default 10 s). */
  readonly timeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function pemOrDer(buf: Buffer, label: 'CERTIFICATE'): string | Buffer {
  if (buf.includes('-----BEGIN')) return buf;
  return `-----BEGIN ${label}-----\n${buf.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END ${label}-----\n`;
}

export function keyMaterial(key: KeyObject | Buffer): string | Buffer {
  // node:tls takes PEM or DER bytes, not KeyObjects; the PEM stays in memory and is never logged.
  if (key instanceof KeyObject) return key.export({ format: 'pem', type: 'pkcs8' });
  return key;
}

export async function connectTcp(host: string, port: number, options: TcpOptions = {}): Promise<Transport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const socket = net.connect({ host, port });
  let onConnect: () => void = () => undefined;
  let onError: (e: Error) => void = () => undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        onConnect = resolve;
        onError = reject;
        socket.once('connect', onConnect);
        socket.once('error', onError);
      }),
      timeoutMs,
      () => netError('NET_TIMEOUT', `cannot connect to ${host}:${port}: no answer within ${timeoutMs} ms`, { host, port, timeoutMs }),
    );
  } catch (e) {
    socket.destroy();
    throw (e as DcmsafeError).name === 'DcmsafeError' ? e : socketError(e, { host, port });
  } finally {
    socket.off('connect', onConnect);
    socket.off('error', onError);
  }
  return new SocketTransport(socket, { host, port });
}

/** Options for node:tls shared by client and server: versions and suites of PS3.15 B.12/B.13. */
export const TLS_PROFILE = {
  minVersion: TLS_MIN_VERSION,
  maxVersion: TLS_MAX_VERSION,
  ciphers: TLS_CIPHERS,
} as const;

/** A TLS connection; typed as `SocketTransport` for `endCleanly()` (syslog), usable as any `Transport`. */
export async function connectTls(host: string, port: number, options: TlsOptions): Promise<SocketTransport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (options.ca.length === 0) throw netError('NET_TLS', 'TLS needs at least one trusted CA certificate', { host, port, reason: 'unknown-ca' });
  const expected = options.servername ?? host;
  let tcpConnected = false;
  const socket = tls.connect({
    host,
    port,
    ...TLS_PROFILE,
    ca: options.ca.map((c) => pemOrDer(c, 'CERTIFICATE')),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: keyMaterial(options.key) } : {}),
    // SNI carries host names only (RFC 6066 §3); for an IP address the name is still checked below.
    ...(net.isIP(expected) ? {} : { servername: expected }),
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(expected, cert),
  });
  socket.once('connect', () => {
    tcpConnected = true;
  });
  let onSecure: () => void = () => undefined;
  let onError: (e: Error) => void = () => undefined;
  let onClose: () => void = () => undefined;
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        onSecure = resolve;
        onError = reject;
        onClose = () => reject(Object.assign(new Error('the connection closed during the TLS handshake'), { code: 'ECONNRESET' }));
        socket.once('secureConnect', onSecure);
        socket.once('error', onError);
        socket.once('close', onClose);
      }),
      timeoutMs,
      () =>
        tcpConnected
          ? netError('NET_TLS', `TLS with ${host}:${port} failed: the handshake did not complete within ${timeoutMs} ms (is the peer speaking TLS on this port?)`, {
              host,
              port,
              timeoutMs,
              reason: 'handshake-timeout',
            })
          : netError('NET_TIMEOUT', `cannot connect to ${host}:${port}: no answer within ${timeoutMs} ms`, { host, port, timeoutMs }),
    );
  } catch (e) {
    socket.destroy();
    if ((e as DcmsafeError).name === 'DcmsafeError') throw e;
    throw tcpConnected ? socketError(e, { host, port, tls: true, handshake: true }) : socketError(e, { host, port });
  } finally {
    socket.off('secureConnect', onSecure);
    socket.off('error', onError);
    socket.off('close', onClose);
  }
  return new SocketTransport(socket, { host, port, tls: true });
}
