/**
 * The DICOM network client (SCU): C-ECHO (PS3.4 Annex A, Verification) and C-STORE (PS3.4 Annex B,
 * Storage) over TCP or TLS (PS3.15 B.12/B.13), one association per call or per store session.
 *
 * Presentation contexts: one context per (SOP class, transfer syntax) pair, in the caller's order.
 * An acceptor picks one transfer syntax per context, by its own preference (dcmtk storescp prefers
 * uncompressed), so a context listing [JPEG, Explicit VR LE] would be accepted as Explicit VR LE and
 * the JPEG file could not be sent as it is. One syntax per context lets the peer accept each syntax
 * it supports, and the caller choose, file by file, among what was accepted (storescu does the same).
 */
import { EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax.js';
import { Association, checkRequest, DEFAULT_TIMEOUT_MS, MAX_PRESENTATION_CONTEXTS, type PeerInfo, type RequestParams } from './association.js';
import { DimseRequestor, VERIFICATION_SOP_CLASS, type StoreOptions, type StoreResult } from './dimse.js';
import { netError, usageError } from './errors.js';
import { PC_RESULT, presentationContextResultText, type PresentationContextRq } from './pdu.js';
import { connectTcp, connectTls, type TlsOptions, type Transport } from './transport.js';


export interface PeerOptions {
  readonly host: string;
  readonly port: number;
  readonly callingAE: string;
  readonly calledAE: string;
  /** DICOM over TLS when given (PS3.15 B.12/B.13). */
  readonly tls?: TlsOptions;
  /** Our Maximum Length Received (default 256 KiB). */
  readonly maxPduLength?: number;
  /** Connect, handshake, ARTIM and DIMSE timeout (default 30 s; connecting: 10 s unless tls.timeoutMs). */
  readonly timeoutMs?: number;
  /** Supplies the transport instead of connecting to host:port (tests, tunnels). */
  readonly connect?: () => Promise<Transport>;
}

export interface EchoResult {
  readonly ok: boolean;
  readonly status: number;
  /** C-ECHO-RQ to C-ECHO-RSP, on the established association. */
  readonly roundTripMs: number;
  readonly peer: PeerInfo;
}

export interface StoreContextRequest {
  readonly sopClassUID: string;
  /** What the caller can send, preferred first (its own syntax, then e.g. Explicit VR Little Endian). */
  readonly transferSyntaxes: readonly string[];
}

export interface AcceptedContext {
  readonly contextId: number;
  readonly transferSyntaxUID: string;
}

export interface StoreSession {
  readonly peer: PeerInfo;
  /** The contexts the peer accepted for this SOP class, in the caller's order of preference. */
  accepted(sopClassUID: string): AcceptedContext[];
  /** Why contexts for a SOP class were refused (for messages), e.g. "transfer syntaxes not supported". */
  refusals(sopClassUID: string): Array<{ transferSyntaxUID: string; reason: string }>;
  store(
    contextId: number,
    sopClassUID: string,
    sopInstanceUID: string,
    dataSet: AsyncIterable<Buffer> | Iterable<Buffer>,
    /** Exact byte count when known; undefined streams to the source's end. */
    length: number | undefined,
    options?: StoreOptions,
  ): Promise<StoreResult>;
  release(): Promise<void>;
  abort(): Promise<void>;
}

async function connect(options: PeerOptions): Promise<Transport> {
  if (options.connect) return options.connect();
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) throw usageError(`port ${options.port} is not 1-65535`);
  const connectTimeout = options.timeoutMs !== undefined ? Math.min(options.timeoutMs, 10_000) : undefined;
  if (options.tls) {
    const timeoutMs = options.tls.timeoutMs ?? connectTimeout;
    return connectTls(options.host, options.port, { ...options.tls, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }
  return connectTcp(options.host, options.port, connectTimeout !== undefined ? { timeoutMs: connectTimeout } : {});
}

async function associate(options: PeerOptions, presentationContexts: PresentationContextRq[]): Promise<Association> {
  const params: RequestParams = {
    callingAE: options.callingAE,
    calledAE: options.calledAE,
    presentationContexts,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(options.maxPduLength !== undefined ? { maxPduLength: options.maxPduLength } : {}),
  };
  checkRequest(params);
  return Association.request(await connect(options), params);
}

/** C-ECHO: associate, verify, release. Failure to associate throws; a non-zero status gives ok: false. */
export async function echo(options: PeerOptions): Promise<EchoResult> {
  const assoc = await associate(options, [{ id: 1, abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN] }]);
  try {
    if (!assoc.acceptedContext(1)) {
      const why = presentationContextResultText(assoc.contexts.get(1)?.result ?? PC_RESULT.NO_REASON);
      throw netError('NET_ASSOCIATION', `${options.calledAE} did not accept the Verification SOP class (${why})`, { calledAE: options.calledAE });
    }
    const { status, roundTripMs } = await new DimseRequestor(assoc).echo(1);
    await assoc.release();
    return { ok: status === 0x0000, status, roundTripMs, peer: assoc.peer };
  } catch (e) {
    await assoc.abort();
    throw e;
  }
}

/** Lays out one presentation context per (SOP class, transfer syntax) pair, odd IDs from 1. */
export function storeContexts(requests: readonly StoreContextRequest[]): PresentationContextRq[] {
  const out: PresentationContextRq[] = [];
  const seen = new Set<string>();
  for (const r of requests) {
    if (r.transferSyntaxes.length === 0) throw usageError(`no transfer syntax for SOP class ${r.sopClassUID}`);
    for (const ts of r.transferSyntaxes) {
      const key = `${r.sopClassUID}|${ts}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (out.length >= MAX_PRESENTATION_CONTEXTS) {
        throw usageError(`more than ${MAX_PRESENTATION_CONTEXTS} (SOP class, transfer syntax) pairs: split the transfer into several associations`);
      }
      out.push({ id: 2 * out.length + 1, abstractSyntax: r.sopClassUID, transferSyntaxes: [ts] });
    }
  }
  return out;
}

/** Opens an association for C-STORE. Throws NET_ASSOCIATION when the peer accepts none of the contexts. */
export async function openStoreSession(options: PeerOptions & { readonly contexts: readonly StoreContextRequest[] }): Promise<StoreSession> {
  const proposed = storeContexts(options.contexts);
  const assoc = await associate(options, proposed);
  const accepted = proposed.filter((pc) => assoc.acceptedContext(pc.id));
  if (accepted.length === 0) {
    const reasons = [...new Set([...assoc.contexts.values()].map((c) => presentationContextResultText(c.result)))].join(', ');
    await assoc.release().catch(() => assoc.abort());
    throw netError('NET_ASSOCIATION', `${options.calledAE} accepted none of the ${proposed.length} presentation contexts proposed (${reasons})`, { calledAE: options.calledAE });
  }
  const dimse = new DimseRequestor(assoc);
  let busy = false;
  return {
    peer: assoc.peer,
    accepted(sopClassUID) {
      return [...assoc.contexts.values()]
        .filter((c) => c.abstractSyntax === sopClassUID && c.result === PC_RESULT.ACCEPTANCE)
        .map((c) => ({ contextId: c.id, transferSyntaxUID: c.transferSyntax }));
    },
    refusals(sopClassUID) {
      return [...assoc.contexts.values()]
        .filter((c) => c.abstractSyntax === sopClassUID && c.result !== PC_RESULT.ACCEPTANCE)
        .map((c) => ({ transferSyntaxUID: c.proposedTransferSyntaxes[0] ?? '', reason: presentationContextResultText(c.result) }));
    },
    async store(contextId, sopClassUID, sopInstanceUID, dataSet, length, storeOptions) {
      // One operation at a time: we negotiate no asynchronous operations window (PS3.7 D.3.3.3).
      if (busy) throw usageError('a C-STORE is already in progress on this association');
      busy = true;
      try {
        return await dimse.store(contextId, sopClassUID, sopInstanceUID, dataSet, length, storeOptions);
      } finally {
        busy = false;
      }
    },
    release: () => assoc.release(),
    abort: () => assoc.abort(),
  };
}
