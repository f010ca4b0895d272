/**
 * A misbehaving Storage SCP for tests, on our own upper-layer codecs (src/net/pdu.ts framing and PDUs,
 * src/net/dimse.ts command sets) but driven byte by byte on a raw socket, so it can do what a
 * conformant SCP never does: stall, drop the connection in the middle of a PDU (while it receives the
 * data set, or while it sends its response), answer with failure or warning statuses, or send
 * malformed PDUs (unknown PDU type, a length beyond the limit, an unknown presentation context, a
 * response to another message or instance, a truncated command set, an A-ABORT or an A-RELEASE-RP out
 * of turn). Plain TCP or TLS, on 127.0.0.1 only.
 *
 * Scripted per association (accept, reject, stall or drop before the A-ASSOCIATE-AC) and per C-STORE
 * (`onStore`, called with the instance and the how-manieth attempt at it). The log says, for every
 * C-STORE-RQ, what the peer did and whether it acknowledged the instance: a well-formed C-STORE-RSP
 * with a success or warning status, for this message and this instance, written whole to the socket.
 * Those are exactly the instances an importer may count as stored.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { KeyObject } from 'node:crypto';
import { COMMAND_FIELD, decodeCommand, describeStatus, encodeCommand, type Command } from '../../src/net/dimse.js';
import { encodePdu, PC_RESULT, PduFramer, PDU_TYPE, type AssociateRq, type Pdu } from '../../src/net/pdu.js';
import { keyMaterial, TLS_PROFILE } from '../../src/net/transport.js';

export type AssociationBehaviour =
  | { readonly kind: 'accept' }
  /** Reads the A-ASSOCIATE-RQ and never answers (the requestor's ARTIM timer must fire). */
  | { readonly kind: 'stall' }
  /** Closes the connection after the A-ASSOCIATE-RQ, without an answer. */
  | { readonly kind: 'drop' }
  /** A-ASSOCIATE-AC that accepts none of the presentation contexts (abstract syntax not supported). */
  | { readonly kind: 'accept-none' }
  /** A-ASSOCIATE-RJ (PS3.8 §9.3.4). */
  | { readonly kind: 'reject'; readonly result: 1 | 2; readonly source: 1 | 2 | 3; readonly reason: number };

export type StoreBehaviour =
  /** Receives the data set and answers with this status (success 0000, warnings Bxxx, failures A7xx, A9xx, Cxxx, 0122...). */
  | { readonly kind: 'status'; readonly status: number; readonly errorComment?: string }
  /** Receives the data set and never answers. */
  | { readonly kind: 'stall' }
  /** Stops reading once the command set is in (the data set backs up in the socket buffers, then the requestor's writes wait). */
  | { readonly kind: 'stall-receiving' }
  /** Closes the connection once `afterBytes` bytes of the data set's PDUs have arrived: part of a P-DATA-TF in, the rest never read. */
  | { readonly kind: 'drop-receiving'; readonly afterBytes?: number }
  /** Receives the whole data set, then closes the connection without a response. */
  | { readonly kind: 'drop-before-response' }
  /** Sends the first `bytes` bytes of a success C-STORE-RSP PDU, then closes (default: half of it). */
  | { readonly kind: 'drop-sending'; readonly bytes?: number }
  /** A success C-STORE-RSP to another Message ID. */
  | { readonly kind: 'wrong-message-id' }
  /** A success C-STORE-RSP naming another Affected SOP Instance UID. */
  | { readonly kind: 'wrong-sop-instance' }
  /** A success C-STORE-RSP naming another Affected SOP Class UID. */
  | { readonly kind: 'wrong-sop-class' }
  /** A success C-STORE-RSP as a data set fragment (message control header bit 0 clear). */
  | { readonly kind: 'response-as-data' }
  /** A PDU of type 0x55, which PS3.8 does not define. */
  | { readonly kind: 'unknown-pdu-type' }
  /** A P-DATA-TF header announcing 16 MiB, far above the Maximum Length the requestor announced (a few bytes follow, then nothing). */
  | { readonly kind: 'pdu-too-long' }
  /** A success C-STORE-RSP on presentation context 251, which was never proposed. */
  | { readonly kind: 'unknown-context' }
  /** A well-framed P-DATA-TF whose command set is cut: its last element claims more bytes than remain. */
  | { readonly kind: 'truncated-response' }
  /** Success C-STORE-RSP PDVs of zero bytes, never the last, one every `everyMs` (a trickle that must not keep the requestor waiting forever). */
  | { readonly kind: 'trickle'; readonly everyMs: number }
  /** A-ABORT (source 0, service user) after the command set, while the data set comes, or after it. */
  | { readonly kind: 'abort'; readonly when: 'after-command' | 'after-data' }
  /** An A-RELEASE-RP that answers no request, instead of the response. */
  | { readonly kind: 'release-rp' };

export interface StoreRequest {
  readonly association: number;
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly messageId: number;
  /** 1 for the first C-STORE-RQ of this instance seen by this peer, 2 for the next... */
  readonly attempt: number;
}

export interface LogEntry extends StoreRequest {
  readonly behaviour: StoreBehaviour['kind'];
  /** Bytes of data set PDVs received (as far as the peer read). */
  dataBytes: number;
  /** The last data set fragment arrived. */
  complete: boolean;
  /** Status of a well-formed response for this message and instance, written whole; undefined when none was. */
  answered?: number;
}

export interface FaultyPeerOptions {
  /** The n-th association (from 1) gets `associations(n)`; default: accept all. */
  readonly associations?: (n: number) => AssociationBehaviour;
  /** What to do with each C-STORE-RQ; default: store with success. */
  readonly onStore?: (rq: StoreRequest) => StoreBehaviour;
  /**
   * How the peer answers the A-RELEASE-RQ: with an A-RELEASE-RP (default), never, with an A-ABORT, or
   * with an endless trickle of P-DATA-TF (one every 50 ms) and never the A-RELEASE-RP.
   */
  readonly release?: 'answer' | 'stall' | 'abort' | 'trickle';
  /** Our Maximum Length Received (default 4096, so a data set takes several P-DATA-TF PDUs). */
  readonly maxPduLength?: number;
  readonly aeTitle?: string;
  readonly tls?: { readonly cert: Buffer; readonly key: KeyObject | Buffer };
}

export interface FaultyPeer {
  readonly port: number;
  readonly log: LogEntry[];
  /** Associations asked for (A-ASSOCIATE-RQ received). */
  readonly associations: number;
  /** Instances acknowledged with success or warning, in order (the only ones an importer may call stored). */
  acknowledged(): string[];
  /** Instances of which a C-STORE-RQ arrived (whatever became of it). */
  attempted(): string[];
  close(): Promise<void>;
}

const IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.543.999';

/** A connection's bytes, pulled on demand into a PDU framer (the peer reads only when it chooses to). */
class Conn {
  private readonly queue: Buffer[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  readonly framer: PduFramer;
  /** Bytes pushed into the framer since `mark()`. */
  private sinceMark = 0;

  constructor(
    readonly socket: net.Socket,
    maxPduLength: number,
  ) {
    this.framer = new PduFramer({ maxPDataLength: maxPduLength });
    socket.on('data', (b: Buffer) => {
      this.queue.push(b);
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** The next chunk, or null at the end of the connection. */
  private async chunk(): Promise<Buffer | null> {
    for (;;) {
      const c = this.queue.shift();
      if (c) return c;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** The next PDU, or null when the connection ended (an incomplete PDU is dropped). */
  async pdu(): Promise<Pdu | null> {
    for (;;) {
      const pdu = this.framer.next();
      if (pdu) return pdu;
      const c = await this.chunk();
      if (c === null) return null;
      this.framer.push(c);
      this.sinceMark += c.length;
    }
  }

  mark(): void {
    this.sinceMark = this.framer.pending;
  }

  /** Reads until `n` bytes have come since `mark()` (or the connection ended). */
  async readBytes(n: number): Promise<number> {
    while (this.sinceMark < n) {
      const c = await this.chunk();
      if (c === null) break;
      this.framer.push(c);
      this.sinceMark += c.length;
    }
    return this.sinceMark;
  }

  /** Reads and throws away everything until the peer closes. */
  async drain(): Promise<void> {
    while ((await this.chunk()) !== null) {
      /* nothing */
    }
  }

  async write(b: Buffer): Promise<boolean> {
    if (this.socket.destroyed) return false;
    return new Promise((resolve) => this.socket.write(b, (err) => resolve(!err)));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function pdata(contextId: number, command: boolean, last: boolean, data: Buffer): Buffer {
  return encodePdu({ type: 'P-DATA-TF', pdvs: [{ contextId, command, last, data }] });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFaultyPeer(options: FaultyPeerOptions = {}): Promise<FaultyPeer> {
  const log: LogEntry[] = [];
  const attempts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const maxPdu = options.maxPduLength ?? 4096;
  let associations = 0;

  const accept = (rq: AssociateRq, none = false): Buffer =>
    encodePdu({
      type: 'A-ASSOCIATE-AC',
      protocolVersion: 1,
      calledAE: rq.calledAE,
      callingAE: rq.callingAE,
      applicationContext: rq.applicationContext,
      presentationContexts: rq.presentationContexts.map((pc) =>
        none ? { id: pc.id, result: PC_RESULT.ABSTRACT_SYNTAX_NOT_SUPPORTED, transferSyntax: '' } : { id: pc.id, result: PC_RESULT.ACCEPTANCE, transferSyntax: pc.transferSyntaxes[0]! },
      ),
      userInformation: { maxPduLength: maxPdu, implementationClassUID: IMPLEMENTATION_CLASS_UID, implementationVersionName: 'FAULTYPEER' },
    });

  const response = (rq: Command, over: Partial<Command> = {}, status = 0): Buffer =>
    encodeCommand({
      commandField: COMMAND_FIELD.C_STORE_RSP,
      messageIdBeingRespondedTo: rq.messageId ?? 0,
      affectedSOPClassUID: rq.affectedSOPClassUID ?? '',
      affectedSOPInstanceUID: rq.affectedSOPInstanceUID ?? '',
      hasDataSet: false,
      status,
      ...over,
    });

  /** Reads the data set PDVs of one message to its last fragment; false if the connection ended first. */
  const receiveData = async (conn: Conn, entry: LogEntry): Promise<boolean> => {
    for (;;) {
      const pdu = await conn.pdu();
      if (pdu === null) return false;
      if (pdu.type !== 'P-DATA-TF') return false;
      for (const pdv of pdu.pdvs) {
        entry.dataBytes += pdv.data.length;
        if (pdv.last) {
          entry.complete = true;
          return true;
        }
      }
    }
  };

  /** One C-STORE: returns false when the association is over. */
  const store = async (conn: Conn, association: number, contextId: number, rq: Command): Promise<boolean> => {
    const sopInstanceUID = rq.affectedSOPInstanceUID ?? '';
    const attempt = (attempts.get(sopInstanceUID) ?? 0) + 1;
    attempts.set(sopInstanceUID, attempt);
    const req: StoreRequest = { association, sopClassUID: rq.affectedSOPClassUID ?? '', sopInstanceUID, messageId: rq.messageId ?? 0, attempt };
    const b = options.onStore?.(req) ?? { kind: 'status', status: 0 };
    const entry: LogEntry = { ...req, behaviour: b.kind, dataBytes: 0, complete: false };
    log.push(entry);
    const done = async (): Promise<false> => {
      await conn.drain();
      return false;
    };
    if (b.kind === 'drop-receiving') {
      conn.mark();
      entry.dataBytes = await conn.readBytes(b.afterBytes ?? Math.floor(maxPdu * 1.5));
      conn.destroy();
      return false;
    }
    if (b.kind === 'stall-receiving') {
      conn.socket.pause();
      await new Promise<void>((resolve) => conn.socket.once('close', () => resolve()));
      return false;
    }
    if (b.kind === 'abort' && b.when === 'after-command') {
      await conn.write(encodePdu({ type: 'A-ABORT', source: 0, reason: 0 }));
      conn.destroy();
      return false;
    }
    if (!(await receiveData(conn, entry))) return false;
    switch (b.kind) {
      case 'status': {
        const ok = await conn.write(pdata(contextId, true, true, response(rq, b.errorComment ? { errorComment: b.errorComment } : {}, b.status)));
        if (ok) entry.answered = b.status;
        return ok;
      }
      case 'stall':
        return done();
      case 'drop-before-response':
        conn.destroy();
        return false;
      case 'drop-sending': {
        const pdu = pdata(contextId, true, true, response(rq));
        await conn.write(pdu.subarray(0, b.bytes ?? Math.floor(pdu.length / 2)));
        conn.destroy();
        return false;
      }
      case 'wrong-message-id':
        await conn.write(pdata(contextId, true, true, response(rq, { messageIdBeingRespondedTo: ((rq.messageId ?? 0) + 1) & 0xffff })));
        return done();
      case 'wrong-sop-instance':
        await conn.write(pdata(contextId, true, true, response(rq, { affectedSOPInstanceUID: `${sopInstanceUID.slice(0, 60)}.9` })));
        return done();
      case 'wrong-sop-class':
        await conn.write(pdata(contextId, true, true, response(rq, { affectedSOPClassUID: '1.2.840.10008.5.1.4.1.1.4' === rq.affectedSOPClassUID ? '1.2.840.10008.5.1.4.1.1.2' : '1.2.840.10008.5.1.4.1.1.4' })));
        return done();
      case 'response-as-data':
        await conn.write(pdata(contextId, false, true, response(rq)));
        return done();
      case 'unknown-pdu-type': {
        const pdu = Buffer.from([0x55, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
        await conn.write(pdu);
        return done();
      }
      case 'pdu-too-long': {
        const h = Buffer.alloc(16);
        h.writeUInt8(PDU_TYPE.P_DATA_TF, 0);
        h.writeUInt32BE(16 * 1024 * 1024, 2); // PDU length: 16 MiB
        h.writeUInt32BE(16 * 1024 * 1024 - 4, 6); // PDV item length
        h.writeUInt8(contextId, 10);
        h.writeUInt8(0x03, 11);
        await conn.write(h);
        return done();
      }
      case 'unknown-context':
        await conn.write(pdata(251, true, true, response(rq)));
        return done();
      case 'truncated-response': {
        const full = response(rq);
        // Cut inside the Affected SOP Instance UID value (the last element): its length now claims more than remains.
        await conn.write(pdata(contextId, true, true, full.subarray(0, full.length - 5)));
        return done();
      }
      case 'trickle': {
        const empty = pdata(contextId, true, false, Buffer.alloc(0));
        while (!conn.socket.destroyed && (await conn.write(empty))) await sleep(b.everyMs);
        return false;
      }
      case 'abort':
        await conn.write(encodePdu({ type: 'A-ABORT', source: 0, reason: 0 }));
        conn.destroy();
        return false;
      case 'release-rp':
        await conn.write(encodePdu({ type: 'A-RELEASE-RP' }));
        return done();
    }
  };

  const serve = async (socket: net.Socket): Promise<void> => {
    const conn = new Conn(socket, maxPdu);
    try {
      const first = await conn.pdu();
      if (first?.type !== 'A-ASSOCIATE-RQ') return conn.destroy();
      const association = ++associations;
      const a = options.associations?.(association) ?? { kind: 'accept' };
      switch (a.kind) {
        case 'stall':
          return await conn.drain();
        case 'drop':
          return conn.destroy();
        case 'reject':
          await conn.write(encodePdu({ type: 'A-ASSOCIATE-RJ', result: a.result, source: a.source, reason: a.reason }));
          return await conn.drain();
        case 'accept-none':
          await conn.write(accept(first, true));
          break;
        case 'accept':
          await conn.write(accept(first));
          break;
      }
      let command: Buffer[] = [];
      for (;;) {
        const pdu = await conn.pdu();
        if (pdu === null) return;
        if (pdu.type === 'A-RELEASE-RQ') {
          if (options.release === 'stall') return await conn.drain();
          if (options.release === 'trickle') {
            const some = pdata(first.presentationContexts[0]!.id, true, false, Buffer.alloc(0));
            while (await conn.write(some)) await sleep(50);
            return;
          }
          if (options.release === 'abort') await conn.write(encodePdu({ type: 'A-ABORT', source: 0, reason: 0 }));
          else await conn.write(encodePdu({ type: 'A-RELEASE-RP' }));
          return await conn.drain();
        }
        if (pdu.type !== 'P-DATA-TF') return conn.destroy();
        for (const pdv of pdu.pdvs) {
          if (!pdv.command) return conn.destroy();
          command.push(pdv.data);
          if (!pdv.last) continue;
          const rq = decodeCommand(Buffer.concat(command));
          command = [];
          if (rq.commandField === COMMAND_FIELD.C_ECHO_RQ) {
            await conn.write(pdata(pdv.contextId, true, true, encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RSP, messageIdBeingRespondedTo: rq.messageId ?? 0, hasDataSet: false, status: 0 })));
            continue;
          }
          if (rq.commandField !== COMMAND_FIELD.C_STORE_RQ || !(await store(conn, association, pdv.contextId, rq))) return;
        }
      }
    } catch {
      conn.destroy();
    } finally {
      conn.destroy();
    }
  };

  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void serve(socket);
  };
  const server = options.tls
    ? tls.createServer({ ...TLS_PROFILE, cert: options.tls.cert, key: keyMaterial(options.tls.key) }, onSocket)
    : net.createServer(onSocket);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    log,
    get associations() {
      return associations;
    },
    acknowledged() {
      return [...new Set(log.filter((e) => e.answered !== undefined && describeStatus(e.answered).category !== 'failure').map((e) => e.sopInstanceUID))];
    },
    attempted() {
      return [...new Set(log.map((e) => e.sopInstanceUID))];
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
