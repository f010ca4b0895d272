/**
 * DICOM Upper Layer associations (PS3.8 §7.1-§7.3 services, §9.2 state machine): the requestor
 * (A-ASSOCIATE-RQ, wait for AC or RJ under the ARTIM timer, release, abort) and the acceptor (wait
 * for the RQ under ARTIM, answer AC or RJ, answer a release). P-DATA is sent one PDV per PDU and never
 * longer than the peer's Maximum Length (PS3.8 §9.3.5, Annex D.1); what the peer sends is cut into PDUs
 * no longer than ours.
 *
 * The state machine is reduced to what a C-ECHO/C-STORE user and provider need: states Sta1 (idle),
 * Sta5/Sta2 (awaiting AC/RQ), Sta6 (established), Sta7/Sta13 (awaiting release response / close).
 * Every wait is bounded: ARTIM for association setup and release, the DIMSE timeout for everything
 * else; on expiry the association is aborted and NET_TIMEOUT thrown.
 */
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/part10/writer.js';
import { DcmsafeError } from '../errors/index.js';
import { netError, usageError } from './errors.js';
import {
  ABSOLUTE_MAX_PDU_LENGTH,
  DICOM_APPLICATION_CONTEXT,
  describeAbort,
  describeReject,
  encodePDataHeader,
  writePDataHeader,
  encodePdu,
  isValidAETitle,
  MIN_PEER_MAX_PDU_LENGTH,
  PC_RESULT,
  PDU_HEADER_LENGTH,
  PDV_HEADER_LENGTH,
  PduFramer,
  PROTOCOL_VERSION,
  type AssociateAc,
  type AssociateRj,
  type AssociateRq,
  type Pdu,
  type Pdv,
  type PresentationContextAc,
  type PresentationContextRq,
  type UserInformation,
} from './pdu.js';
import { withTimeout, type Transport } from './transport.js';
import { BufferPool } from '../util/buffer-pool.js';

/** Our Maximum Length Received by default: 256 KiB of P-DATA-TF variable field. */
export const DEFAULT_MAX_PDU_LENGTH = 256 * 1024;
/** What we send when the peer announces no limit (Maximum Length 0). */
export const MAX_SEND_PDU_LENGTH = 256 * 1024;
export const DEFAULT_TIMEOUT_MS = 30_000;
/** At most 128 presentation contexts fit the odd IDs 1-255 (PS3.8 §9.3.2.2). */
export const MAX_PRESENTATION_CONTEXTS = 128;

const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;

export interface NegotiatedContext {
  readonly id: number;
  readonly abstractSyntax: string;
  /** What we proposed (requestor) or what was proposed to us (acceptor). */
  readonly proposedTransferSyntaxes: readonly string[];
  /** PC_RESULT. */
  readonly result: number;
  /** The accepted transfer syntax; '' when rejected. */
  readonly transferSyntax: string;
}

export interface PeerInfo {
  readonly aeTitle: string;
  readonly maxPduLength: number;
  readonly implementationClassUID?: string;
  readonly implementationVersionName?: string;
  readonly remoteAddress: string;
  readonly tls?: { readonly protocol: string; readonly cipher: string; readonly peerSubject?: string };
}

export interface AssociationOptions {
  /** Our Maximum Length Received (bytes of P-DATA-TF variable field). */
  readonly maxPduLength?: number;
  /** ARTIM and DIMSE timeout; 0 disables it. */
  readonly timeoutMs?: number;
}

export interface RequestParams extends AssociationOptions {
  readonly callingAE: string;
  readonly calledAE: string;
  readonly presentationContexts: readonly PresentationContextRq[];
}

/** The acceptor's answer to an A-ASSOCIATE-RQ. */
export type AcceptDecision =
  | { readonly reject: { readonly result: 1 | 2; readonly source: 1 | 2 | 3; readonly reason: number } }
  | { readonly contexts: readonly PresentationContextAc[] };

type State = 'established' | 'releasing' | 'released' | 'aborted';

function checkOwnMaxPdu(n: number): number {
  if (!Number.isInteger(n) || n < MIN_PEER_MAX_PDU_LENGTH || n > ABSOLUTE_MAX_PDU_LENGTH) {
    throw usageError(`maximum PDU length ${n} is outside ${MIN_PEER_MAX_PDU_LENGTH}..${ABSOLUTE_MAX_PDU_LENGTH}`);
  }
  return n;
}

/** Checks AE titles and presentation contexts (USAGE errors): before connecting, and again in `request`. */
export function checkRequest(params: RequestParams): void {
  for (const [name, ae] of [
    ['calling AE title', params.callingAE],
    ['called AE title', params.calledAE],
  ] as const) {
    if (!isValidAETitle(ae)) throw usageError(`${name} ${JSON.stringify(ae)} is not 1-16 characters without backslash or control characters`, { aeTitle: ae });
  }
  const pcs = params.presentationContexts;
  if (pcs.length === 0 || pcs.length > MAX_PRESENTATION_CONTEXTS) throw usageError(`${pcs.length} presentation contexts: 1 to ${MAX_PRESENTATION_CONTEXTS} can be proposed`);
  const ids = new Set<number>();
  for (const pc of pcs) {
    if (!Number.isInteger(pc.id) || pc.id < 1 || pc.id > 255 || pc.id % 2 === 0 || ids.has(pc.id)) throw usageError(`presentation context ID ${pc.id} is not a unique odd number 1-255`);
    ids.add(pc.id);
    for (const uid of [pc.abstractSyntax, ...pc.transferSyntaxes]) {
      if (uid.length > 64 || !UID.test(uid)) throw usageError(`${JSON.stringify(uid)} is not a UID`, { uid });
    }
    if (pc.transferSyntaxes.length === 0) throw usageError(`presentation context ${pc.id} has no transfer syntax`);
  }
}

function ourUserInformation(maxPduLength: number): UserInformation {
  return { maxPduLength, implementationClassUID: IMPLEMENTATION_CLASS_UID, implementationVersionName: IMPLEMENTATION_VERSION_NAME };
}

/**
 * Length of the pooled buffers P-DATA batches are built in: a batch of dimse.ts (256 KiB of fragments
 * and their headers) or one fragment of a 256 KiB PDU. A longer batch gets a buffer of its own.
 */
const BATCH_BUFFER_SIZE = 264 * 1024;

/** An established association, seen from either side. */
export class Association {
  private state: State = 'established';
  /** Buffers for P-DATA batches, reused once the transport has written them (two in flight at most, in practice one). */
  private readonly batchBuffers = new BufferPool(BATCH_BUFFER_SIZE, 2);
  private readonly framer: PduFramer;
  /** PDVs of the P-DATA-TF PDU being consumed. */
  private pdvQueue: Pdv[] = [];
  readonly contexts: ReadonlyMap<number, NegotiatedContext>;
  readonly peer: PeerInfo;
  readonly timeoutMs: number;

  private constructor(
    readonly role: 'requestor' | 'acceptor',
    readonly transport: Transport,
    framer: PduFramer,
    readonly callingAE: string,
    readonly calledAE: string,
    contexts: Map<number, NegotiatedContext>,
    peerUser: UserInformation,
    readonly ourMaxPduLength: number,
    timeoutMs: number,
  ) {
    this.framer = framer;
    this.contexts = contexts;
    this.timeoutMs = timeoutMs;
    this.peer = {
      aeTitle: role === 'requestor' ? calledAE : callingAE,
      maxPduLength: peerUser.maxPduLength,
      ...(peerUser.implementationClassUID !== undefined ? { implementationClassUID: peerUser.implementationClassUID } : {}),
      ...(peerUser.implementationVersionName !== undefined ? { implementationVersionName: peerUser.implementationVersionName } : {}),
      remoteAddress: `${transport.info.remoteAddress}:${transport.info.remotePort}`,
      ...(transport.info.tls ? { tls: transport.info.tls } : {}),
    };
  }

  // ---- Establishment -----------------------------------------------------------------------------

  /** Sends an A-ASSOCIATE-RQ over a connected transport and waits (ARTIM) for the AC or RJ. */
  static async request(transport: Transport, params: RequestParams): Promise<Association> {
    checkRequest(params);
    const ourMax = checkOwnMaxPdu(params.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH);
    const timeoutMs = params.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const framer = new PduFramer({ maxPDataLength: ourMax });
    const rq: AssociateRq = {
      type: 'A-ASSOCIATE-RQ',
      protocolVersion: PROTOCOL_VERSION,
      calledAE: params.calledAE,
      callingAE: params.callingAE,
      applicationContext: DICOM_APPLICATION_CONTEXT,
      presentationContexts: params.presentationContexts,
      userInformation: ourUserInformation(ourMax),
    };
    let answer: Pdu;
    try {
      await writeWithin(transport, encodePdu(rq), timeoutMs, 'sending A-ASSOCIATE-RQ');
      answer = await readPduWithin(transport, framer, timeoutMs, 'waiting for A-ASSOCIATE-AC (ARTIM)');
    } catch (e) {
      await abortTransport(transport, e);
      throw e;
    }
    switch (answer.type) {
      case 'A-ASSOCIATE-AC':
        break;
      case 'A-ASSOCIATE-RJ':
        await transport.close().catch(() => undefined);
        throw rejectError(answer, params.calledAE);
      case 'A-ABORT':
        transport.destroy();
        throw netError('NET_ASSOCIATION', `association request to ${params.calledAE}: ${describeAbort(answer)}`, { abortSource: answer.source, abortReason: answer.reason });
      default:
        await abortTransport(transport, undefined, 2);
        throw netError('NET_PROTOCOL', `the peer answered the A-ASSOCIATE-RQ with ${answer.type}`, { pduType: answer.type });
    }
    const ac: AssociateAc = answer;
    const contexts = new Map<number, NegotiatedContext>();
    for (const pc of rq.presentationContexts) {
      const got = ac.presentationContexts.find((c) => c.id === pc.id);
      const accepted = got?.result === PC_RESULT.ACCEPTANCE;
      if (accepted && !pc.transferSyntaxes.includes(got.transferSyntax)) {
        await abortTransport(transport, undefined, 2);
        throw netError('NET_PROTOCOL', `the peer accepted presentation context ${pc.id} with transfer syntax ${got.transferSyntax}, which was not proposed`, {
          contextId: pc.id,
        });
      }
      contexts.set(pc.id, {
        id: pc.id,
        abstractSyntax: pc.abstractSyntax,
        proposedTransferSyntaxes: pc.transferSyntaxes,
        result: got ? got.result : PC_RESULT.NO_REASON,
        transferSyntax: accepted ? got.transferSyntax : '',
      });
    }
    const peerMax = ac.userInformation.maxPduLength;
    if (peerMax !== 0 && peerMax < MIN_PEER_MAX_PDU_LENGTH) {
      await abortTransport(transport, undefined, 2);
      throw netError('NET_PROTOCOL', `the peer's maximum PDU length ${peerMax} is below ${MIN_PEER_MAX_PDU_LENGTH}`, { maxPduLength: peerMax });
    }
    return new Association('requestor', transport, framer, params.callingAE, params.calledAE, contexts, ac.userInformation, ourMax, timeoutMs);
  }

  /**
   * Waits (ARTIM) for an A-ASSOCIATE-RQ on a freshly accepted transport and answers it with `decide`'s
   * verdict. Returns undefined when the association was rejected (the transport is then closed).
   */
  static async accept(transport: Transport, decide: (rq: AssociateRq) => AcceptDecision, options: AssociationOptions = {}): Promise<Association | undefined> {
    const ourMax = checkOwnMaxPdu(options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const framer = new PduFramer({ maxPDataLength: ourMax });
    let rq: Pdu;
    try {
      rq = await readPduWithin(transport, framer, timeoutMs, 'waiting for A-ASSOCIATE-RQ (ARTIM)');
    } catch (e) {
      await abortTransport(transport, e);
      throw e;
    }
    if (rq.type !== 'A-ASSOCIATE-RQ') {
      await abortTransport(transport, undefined, 2);
      throw netError('NET_PROTOCOL', `expected A-ASSOCIATE-RQ, got ${rq.type}`, { pduType: rq.type });
    }
    let decision: AcceptDecision;
    if ((rq.protocolVersion & 0x0001) === 0) decision = { reject: { result: 1, source: 2, reason: 2 } };
    else if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT) decision = { reject: { result: 1, source: 1, reason: 2 } };
    else if (rq.userInformation.maxPduLength !== 0 && rq.userInformation.maxPduLength < MIN_PEER_MAX_PDU_LENGTH) decision = { reject: { result: 1, source: 1, reason: 1 } };
    else decision = decide(rq);
    if ('reject' in decision) {
      const rj: AssociateRj = { type: 'A-ASSOCIATE-RJ', ...decision.reject };
      await writeWithin(transport, encodePdu(rj), timeoutMs, 'sending A-ASSOCIATE-RJ').catch(() => undefined);
      await transport.close().catch(() => undefined);
      return undefined;
    }
    const contexts = new Map<number, NegotiatedContext>();
    for (const pc of rq.presentationContexts) {
      const answer = decision.contexts.find((c) => c.id === pc.id);
      const accepted = answer?.result === PC_RESULT.ACCEPTANCE && pc.transferSyntaxes.includes(answer.transferSyntax);
      contexts.set(pc.id, {
        id: pc.id,
        abstractSyntax: pc.abstractSyntax,
        proposedTransferSyntaxes: pc.transferSyntaxes,
        result: accepted
          ? PC_RESULT.ACCEPTANCE
          : answer === undefined
            ? PC_RESULT.NO_REASON
            : answer.result === PC_RESULT.ACCEPTANCE
              ? PC_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED
              : answer.result,
        transferSyntax: accepted ? answer.transferSyntax : '',
      });
    }
    const ac: AssociateAc = {
      type: 'A-ASSOCIATE-AC',
      protocolVersion: PROTOCOL_VERSION,
      calledAE: rq.calledAE,
      callingAE: rq.callingAE,
      applicationContext: DICOM_APPLICATION_CONTEXT,
      presentationContexts: [...contexts.values()].map((c) => ({ id: c.id, result: c.result, transferSyntax: c.transferSyntax })),
      userInformation: ourUserInformation(ourMax),
    };
    await writeWithin(transport, encodePdu(ac), timeoutMs, 'sending A-ASSOCIATE-AC').catch(async (e: unknown) => {
      await abortTransport(transport, e);
      throw e;
    });
    return new Association('acceptor', transport, framer, rq.callingAE, rq.calledAE, contexts, rq.userInformation, ourMax, timeoutMs);
  }

  // ---- Data transfer ------------------------------------------------------------------------------

  get established(): boolean {
    return this.state === 'established';
  }

  /** The largest PDV fragment we may send: the peer's Maximum Length less the PDV header. */
  get maxFragmentLength(): number {
    const peerMax = this.peer.maxPduLength === 0 ? MAX_SEND_PDU_LENGTH : Math.min(this.peer.maxPduLength, ABSOLUTE_MAX_PDU_LENGTH);
    return peerMax - PDV_HEADER_LENGTH;
  }

  acceptedContext(id: number): NegotiatedContext | undefined {
    const c = this.contexts.get(id);
    return c && c.result === PC_RESULT.ACCEPTANCE ? c : undefined;
  }

  /**
   * Sends one PDV in its own P-DATA-TF PDU. `parts` are the fragment's bytes, copied once into the PDU;
   * their total must not exceed `maxFragmentLength`. Resolves when the transport takes more (back-pressure).
   */
  async sendPdv(contextId: number, command: boolean, last: boolean, parts: readonly Buffer[]): Promise<void> {
    this.checkEstablished();
    let length = 0;
    for (const p of parts) length += p.length;
    if (length > this.maxFragmentLength) throw netError('NET_PROTOCOL', `internal: fragment of ${length} bytes above the peer's limit`, { contextId });
    const pdu = Buffer.allocUnsafe(PDU_HEADER_LENGTH + PDV_HEADER_LENGTH + length);
    encodePDataHeader(contextId, command, last, length).copy(pdu, 0);
    let at = PDU_HEADER_LENGTH + PDV_HEADER_LENGTH;
    for (const p of parts) at += p.copy(pdu, at);
    await this.write(pdu, 'sending P-DATA-TF');
  }

  /**
   * Sends several data fragments of one message, each in its own P-DATA-TF PDU, with one write: the
   * peer's Maximum Length is often 16 KiB (dcmtk's default), and a write per PDU cost more in the TLS
   * layer and the kernel than the bytes themselves. Only the final fragment may carry `last`.
   * Each fragment is a list of parts (no longer than `maxFragmentLength` in all), copied once.
   * `command`, a whole command set of one fragment, goes first in its own PDU (the message's command
   * and its first data in one write: one TLS record and one system call fewer per C-STORE).
   */
  async sendDataPdvs(contextId: number, fragments: readonly (readonly Buffer[])[], last: boolean, command?: Buffer): Promise<void> {
    this.checkEstablished();
    const lengths = fragments.map((parts) => parts.reduce((n, p) => n + p.length, 0));
    let total = 0;
    if (command) {
      if (command.length > this.maxFragmentLength) throw netError('NET_PROTOCOL', `internal: command of ${command.length} bytes above the peer's limit`, { contextId });
      total += PDU_HEADER_LENGTH + PDV_HEADER_LENGTH + command.length;
    }
    for (const length of lengths) {
      if (length > this.maxFragmentLength) throw netError('NET_PROTOCOL', `internal: fragment of ${length} bytes above the peer's limit`, { contextId });
      total += PDU_HEADER_LENGTH + PDV_HEADER_LENGTH + length;
    }
    // A buffer of the association's pool, taken back once the transport has written it: a fresh
    // buffer per write made 2 GB of short-lived buffers per 2 GB sent, and full collections with them.
    const pooled = total <= BATCH_BUFFER_SIZE ? this.batchBuffers.take() : undefined;
    const batch = pooled ? pooled.subarray(0, total) : Buffer.allocUnsafe(total);
    let at = 0;
    if (command) {
      at += writePDataHeader(batch, at, contextId, true, true, command.length);
      at += command.copy(batch, at);
    }
    for (const [i, parts] of fragments.entries()) {
      at += writePDataHeader(batch, at, contextId, false, last && i === fragments.length - 1, lengths[i] as number);
      for (const p of parts) at += p.copy(batch, at);
    }
    await this.write(batch, 'sending P-DATA-TF', pooled && ((): void => this.batchBuffers.give(pooled)));
  }

  /** Sends a whole message part (a command set) cut into fragments no longer than the peer accepts. */
  async sendFragmented(contextId: number, command: boolean, bytes: Buffer): Promise<void> {
    const max = this.maxFragmentLength;
    if (bytes.length === 0) return this.sendPdv(contextId, command, true, []);
    for (let at = 0; at < bytes.length; at += max) {
      const end = Math.min(at + max, bytes.length);
      await this.sendPdv(contextId, command, end === bytes.length, [bytes.subarray(at, end)]);
    }
  }

  /**
   * The next PDV from the peer, or 'release' when the peer asks to release (answer with
   * `acceptRelease`). An A-ABORT becomes NET_ASSOCIATION; anything else unexpected aborts.
   * With a `wait`, the limit is its deadline (shared by the PDVs of one message, so PDUs that
   * trickle in cannot stretch the wait), and its `what` names what was awaited.
   */
  async nextPdv(timeoutMs = this.timeoutMs, wait?: Wait): Promise<Pdv | 'release'> {
    const queued = this.pdvQueue.shift();
    if (queued) return queued;
    this.checkEstablished();
    const pdu = await this.readPdu(timeoutMs, wait?.what ?? 'waiting for P-DATA-TF', wait?.deadline);
    switch (pdu.type) {
      case 'P-DATA-TF': {
        for (const pdv of pdu.pdvs) {
          if (!this.acceptedContext(pdv.contextId)) {
            await this.abort(2, 6);
            throw netError('NET_PROTOCOL', `the peer sent data on presentation context ${pdv.contextId}, which is not accepted`, { contextId: pdv.contextId });
          }
        }
        this.pdvQueue = pdu.pdvs.slice(1);
        return pdu.pdvs[0]!;
      }
      case 'A-RELEASE-RQ':
        this.state = 'releasing';
        return 'release';
      default:
        await this.abort(2, 2);
        throw netError('NET_PROTOCOL', `unexpected ${pdu.type} on an established association`, { pduType: pdu.type });
    }
  }

  // ---- Release and abort -----------------------------------------------------------------------------

  /** A-RELEASE (requestor): sends A-RELEASE-RQ, waits (ARTIM) for A-RELEASE-RP, closes. */
  async release(): Promise<void> {
    if (this.state !== 'established') return;
    this.state = 'releasing';
    try {
      await this.write(encodePdu({ type: 'A-RELEASE-RQ' }), 'sending A-RELEASE-RQ');
      // One ARTIM period for the whole release: P-DATA-TF the peer still sends does not restart it.
      const deadline = deadlineAfter(this.timeoutMs);
      for (;;) {
        const pdu = await this.readPdu(this.timeoutMs, 'waiting for A-RELEASE-RP (ARTIM)', deadline);
        if (pdu.type === 'A-RELEASE-RP') break;
        if (pdu.type === 'A-RELEASE-RQ') {
          // Release collision (PS3.8 §7.2.2.2): the requestor answers first, then waits for its RP.
          await this.write(encodePdu({ type: 'A-RELEASE-RP' }), 'sending A-RELEASE-RP');
          continue;
        }
        if (pdu.type === 'P-DATA-TF') continue;
        await this.abort(2, 2);
        throw netError('NET_PROTOCOL', `unexpected ${pdu.type} while releasing`, { pduType: pdu.type });
      }
      this.state = 'released';
      await this.transport.close();
    } catch (e) {
      if ((this.state as State) !== 'aborted') {
        this.state = 'aborted';
        this.transport.destroy();
      }
      throw e;
    }
  }

  /** Answers the peer's A-RELEASE-RQ (acceptor side) and closes. */
  async acceptRelease(): Promise<void> {
    this.state = 'released';
    try {
      await this.write(encodePdu({ type: 'A-RELEASE-RP' }), 'sending A-RELEASE-RP');
      // The requestor closes the connection (PS3.8 §9.2, Sta13); close() bounds the wait.
      await this.transport.close();
    } catch {
      this.transport.destroy();
    }
  }

  /** A-ABORT: sends the PDU (best effort) and drops the connection. source 0 = user, 2 = provider. */
  async abort(source = 0, reason = 0): Promise<void> {
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    this.pdvQueue = [];
    await abortTransport(this.transport, undefined, source, reason);
  }

  // ---- Internals --------------------------------------------------------------------------------------

  private checkEstablished(): void {
    if (this.state === 'aborted') throw netError('NET_ASSOCIATION', 'the association was aborted');
    if (this.state !== 'established') throw netError('NET_ASSOCIATION', `the association is ${this.state}`);
  }

  private async write(buf: Buffer, what: string, onWritten?: () => void): Promise<void> {
    try {
      await writeWithin(this.transport, buf, this.timeoutMs, what, onWritten);
    } catch (e) {
      // The peer may have aborted while we were sending: its A-ABORT explains the failure better.
      const abort = await this.pendingAbort();
      this.state = 'aborted';
      this.transport.destroy();
      if (abort) throw netError('NET_ASSOCIATION', describeAbort(abort), { abortSource: abort.source, abortReason: abort.reason }, e);
      throw e;
    }
  }

  /** An A-ABORT already received but not yet read, if any (looks for a short while only). */
  private async pendingAbort(): Promise<{ source: number; reason: number } | undefined> {
    try {
      const deadline = Date.now() + 200;
      for (;;) {
        const pdu = this.framer.next();
        if (pdu) {
          if (pdu.type === 'A-ABORT') return pdu;
          continue;
        }
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        const chunk = await withTimeout(this.transport.read(), left, () => new Error('no more'));
        if (chunk === null) return undefined;
        this.framer.push(chunk);
      }
    } catch {
      return undefined;
    }
  }

  private async readPdu(timeoutMs: number, what: string, deadline?: number): Promise<Pdu> {
    try {
      const pdu = await readPduWithin(this.transport, this.framer, timeoutMs, what, deadline);
      if (pdu.type === 'A-ABORT') {
        this.state = 'aborted';
        this.transport.destroy();
        throw netError('NET_ASSOCIATION', describeAbort(pdu), { abortSource: pdu.source, abortReason: pdu.reason });
      }
      return pdu;
    } catch (e) {
      if (this.state !== 'aborted') {
        this.state = 'aborted';
        await abortTransport(this.transport, e, 2);
      }
      throw e;
    }
  }
}

// ---- Helpers ------------------------------------------------------------------------------------------

function rejectError(rj: AssociateRj, calledAE: string): DcmsafeError {
  return netError('NET_ASSOCIATION', `${calledAE}: ${describeReject(rj)}`, { rejectResult: rj.result, rejectSource: rj.source, rejectReason: rj.reason });
}

async function writeWithin(transport: Transport, buf: Buffer, timeoutMs: number, what: string, onWritten?: () => void): Promise<void> {
  await withTimeout(transport.write(buf, onWritten), timeoutMs, () => {
    transport.destroy();
    return netError('NET_TIMEOUT', `the peer did not take our data within ${timeoutMs} ms (${what})`, { timeoutMs });
  });
}

/** What a read waits for, and until when (`deadlineAfter`): several reads can share one limit. */
export interface Wait {
  readonly what: string;
  /** performance.now() value; undefined: no limit. */
  readonly deadline: number | undefined;
}

/** The deadline `timeoutMs` from now (undefined when 0: no limit). */
export function deadlineAfter(timeoutMs: number): number | undefined {
  return timeoutMs > 0 ? performance.now() + timeoutMs : undefined;
}

/**
 * Reads one PDU within `timeoutMs`, or until `deadline` when one is given (the message still names
 * `timeoutMs`, the limit the caller set for the whole wait).
 */
async function readPduWithin(transport: Transport, framer: PduFramer, timeoutMs: number, what: string, deadline?: number): Promise<Pdu> {
  const read = async (): Promise<Pdu> => {
    for (;;) {
      const pdu = framer.next();
      if (pdu) return pdu;
      const chunk = await transport.read();
      if (chunk === null) throw netError('NET_CONNECT', `the peer closed the connection (${what})`);
      framer.push(chunk);
    }
  };
  // withTimeout takes 0 as "no limit": a deadline already passed still gets 1 ms (a PDU already buffered wins).
  const waitMs = deadline === undefined || timeoutMs <= 0 ? timeoutMs : Math.max(1, Math.ceil(deadline - performance.now()));
  return withTimeout(read(), waitMs, () => netError('NET_TIMEOUT', `no answer from the peer within ${timeoutMs} ms (${what})`, { timeoutMs }));
}

/** The A-ABORT reason for an error of ours (PS3.8 Table 9-26): unrecognized PDU (1), invalid parameter (6), or not specified (0). */
function abortReasonFor(cause: unknown): number {
  if (!(cause instanceof DcmsafeError) || (cause.code as string) !== 'NET_PROTOCOL') return 0;
  return typeof cause.data.ourAbortReason === 'number' ? cause.data.ourAbortReason : 6;
}

/** Sends an A-ABORT if the connection still takes it, then drops the connection. */
async function abortTransport(transport: Transport, cause: unknown, source = 2, reason = abortReasonFor(cause)): Promise<void> {
  const dead = cause instanceof DcmsafeError && ['NET_CONNECT', 'NET_TLS'].includes(cause.code as string);
  if (!dead) {
    await withTimeout(transport.write(encodePdu({ type: 'A-ABORT', source, reason })), 500, () => new Error('abort not sent')).catch(() => undefined);
  }
  transport.destroy();
}
