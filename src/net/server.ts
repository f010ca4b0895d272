/**
 * A small Storage SCP (PS3.4 Annex B) with Verification (Annex A), over TCP or TLS (PS3.15 B.12/B.13):
 * for tests and benchmarks. It accepts C-ECHO, and C-STORE of any storage SOP class in the transfer
 * syntaxes it is told to accept, and writes each data set as a Part 10 file (PS3.10 §7.1) named by
 * its SOP Instance UID, streamed from the network to disk.
 *
 * Bounded and hostile-safe: the file name comes from a validated UID only (digits and dots); files
 * are written under a temporary name and renamed when complete; associations, data set size and
 * every wait are limited; a peer that misbehaves has its association aborted, others go on.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { KeyObject } from 'node:crypto';
import { encodeFileMeta } from '../dicom/part10/writer.js';
import { lookupTransferSyntax } from '../dicom/transfer-syntax.js';
import { isValidUid } from '../util/uid.js';
import { Association, DEFAULT_MAX_PDU_LENGTH, type AcceptDecision } from './association.js';
import { COMMAND_FIELD, encodeCommand, receiveCommand, receiveDataSet, VERIFICATION_SOP_CLASS, type Command } from './dimse.js';
import { usageError } from './errors.js';
import { PC_RESULT, isValidAETitle, type AssociateRq, type PresentationContextAc } from './pdu.js';
import { keyMaterial, SocketTransport, TLS_PROFILE, type Transport } from './transport.js';

export interface StoreScpOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
  readonly aeTitle: string;
  /** Refuse associations whose called AE title is not ours (default true). */
  readonly checkCalledAETitle?: boolean;
  readonly tls?: {
    readonly cert: Buffer;
    readonly key: KeyObject | Buffer;
    /** CAs trusted for client certificates. */
    readonly ca?: readonly Buffer[];
    readonly requireClientCertificate?: boolean;
  };
  readonly storageDir: string;
  /** Transfer syntaxes accepted, in our order of preference; default: every syntax dcmsafe knows. */
  readonly acceptTransferSyntaxes?: readonly string[];
  readonly maxPduLength?: number;
  /** ARTIM and DIMSE timeout (default 30 s). */
  readonly timeoutMs?: number;
  /** Concurrent associations; more are rejected transiently (default 8). */
  readonly maxAssociations?: number;
  /** Largest data set accepted; a larger one aborts the association (default 4 GiB). */
  readonly maxDataSetBytes?: number;
  /** Called after each file is complete on disk. */
  readonly onStored?: (file: StoredFile) => void;
}

export interface StoredFile {
  readonly path: string;
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly transferSyntaxUID: string;
  readonly callingAE: string;
  readonly dataSetBytes: number;
}

export interface StoreScpStats {
  associations: number;
  rejected: number;
  echoes: number;
  stored: number;
  failed: number;
  bytesReceived: number;
  tlsFailures: number;
  /** The last error messages (at most 20), for tests and diagnostics. */
  readonly errors: string[];
}

export interface StoreScp {
  readonly port: number;
  readonly stats: StoreScpStats;
  close(): Promise<void>;
}

/** Storage SOP classes: the Storage Service Class's own branch, plus those registered elsewhere (PS3.4 B.5). */
const OTHER_STORAGE_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.34.7', // RT Beams Delivery Instruction Storage
  '1.2.840.10008.5.1.4.34.10', // RT Brachy Application Setup Delivery Instruction Storage
  '1.2.840.10008.5.1.4.38.1', // Hanging Protocol Storage
  '1.2.840.10008.5.1.4.39.1', // Color Palette Storage
  '1.2.840.10008.5.1.4.43.1', // Generic Implant Template Storage
  '1.2.840.10008.5.1.4.44.1', // Implant Assembly Template Storage
  '1.2.840.10008.5.1.4.45.1', // Implant Template Group Storage
]);

export function isStorageSopClass(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.') || OTHER_STORAGE_SOP_CLASSES.has(uid);
}

const STATUS = {
  SUCCESS: 0x0000,
  OUT_OF_RESOURCES: 0xa700,
  SOP_CLASS_NOT_SUPPORTED: 0x0122,
  CANNOT_UNDERSTAND: 0xc000,
  UNRECOGNIZED_OPERATION: 0x0211,
} as const;

const DEFAULT_MAX_DATA_SET = 4 * 1024 * 1024 * 1024;

export interface StoreScpHandler {
  readonly stats: StoreScpStats;
  /** Serves one association on a connected transport, to its end; never throws. */
  serve(transport: Transport): Promise<void>;
  /** Drops every association in progress. */
  destroyAll(): void;
}

/** The SCP without its listener: serves associations on any transport (the TCP/TLS server, or tests). */
export function createStoreScpHandler(options: Omit<StoreScpOptions, 'port' | 'host' | 'tls'>): StoreScpHandler {
  if (!isValidAETitle(options.aeTitle)) throw usageError(`AE title ${JSON.stringify(options.aeTitle)} is not 1-16 characters without backslash or control characters`);
  const accepted = (options.acceptTransferSyntaxes ?? []).length ? [...options.acceptTransferSyntaxes!] : undefined;
  const acceptsSyntax = (ts: string): boolean => (accepted ? accepted.includes(ts) : lookupTransferSyntax(ts) !== undefined);
  const maxAssociations = options.maxAssociations ?? 8;
  const stats: StoreScpStats = { associations: 0, rejected: 0, echoes: 0, stored: 0, failed: 0, bytesReceived: 0, tlsFailures: 0, errors: [] };
  const noteError = (message: string): void => {
    stats.errors.push(message);
    if (stats.errors.length > 20) stats.errors.shift();
  };
  const active = new Set<Transport>();
  let fileCounter = 0;

  const decide = (rq: AssociateRq): AcceptDecision => {
    if (active.size > maxAssociations) return { reject: { result: 2, source: 3, reason: 2 } }; // transient, local limit exceeded
    if ((options.checkCalledAETitle ?? true) && rq.calledAE !== options.aeTitle.trim()) return { reject: { result: 1, source: 1, reason: 7 } };
    const contexts: PresentationContextAc[] = rq.presentationContexts.map((pc) => {
      if (pc.abstractSyntax !== VERIFICATION_SOP_CLASS && !isStorageSopClass(pc.abstractSyntax)) {
        return { id: pc.id, result: PC_RESULT.ABSTRACT_SYNTAX_NOT_SUPPORTED, transferSyntax: '' };
      }
      // The proposer's order is its preference; with our own list, ours decides.
      const candidates = accepted ? accepted.filter((ts) => pc.transferSyntaxes.includes(ts)) : pc.transferSyntaxes.filter(acceptsSyntax);
      const ts = candidates[0];
      return ts ? { id: pc.id, result: PC_RESULT.ACCEPTANCE, transferSyntax: ts } : { id: pc.id, result: PC_RESULT.TRANSFER_SYNTAXES_NOT_SUPPORTED, transferSyntax: '' };
    });
    return { contexts };
  };

  const respond = async (assoc: Association, contextId: number, rq: Command, commandField: number, status: number, errorComment?: string): Promise<void> => {
    const rsp = encodeCommand({
      commandField,
      messageIdBeingRespondedTo: rq.messageId ?? 0,
      ...(rq.affectedSOPClassUID !== undefined ? { affectedSOPClassUID: rq.affectedSOPClassUID } : {}),
      ...(rq.affectedSOPInstanceUID !== undefined && commandField === COMMAND_FIELD.C_STORE_RSP ? { affectedSOPInstanceUID: rq.affectedSOPInstanceUID } : {}),
      hasDataSet: false,
      status,
      ...(errorComment ? { errorComment } : {}),
    });
    await assoc.sendFragmented(contextId, true, rsp);
  };

  const store = async (assoc: Association, contextId: number, rq: Command): Promise<void> => {
    const ctx = assoc.acceptedContext(contextId)!;
    const sopClassUID = rq.affectedSOPClassUID ?? '';
    const sopInstanceUID = rq.affectedSOPInstanceUID ?? '';
    let problem: { status: number; comment: string } | undefined;
    if (sopClassUID !== ctx.abstractSyntax) problem = { status: STATUS.SOP_CLASS_NOT_SUPPORTED, comment: 'SOP class differs from the presentation context' };
    else if (!isValidUid(sopInstanceUID)) problem = { status: STATUS.CANNOT_UNDERSTAND, comment: 'invalid Affected SOP Instance UID' };
    if (problem) {
      await receiveDataSet(assoc, contextId, () => undefined, options.maxDataSetBytes ?? DEFAULT_MAX_DATA_SET);
      stats.failed++;
      await respond(assoc, contextId, rq, COMMAND_FIELD.C_STORE_RSP, problem.status, problem.comment);
      return;
    }
    // The name is the validated UID (digits and dots only): it cannot leave storageDir.
    const finalPath = path.join(options.storageDir, `${sopInstanceUID}.dcm`);
    const partPath = path.join(options.storageDir, `.${sopInstanceUID}.${process.pid}.${++fileCounter}.${randomBytes(4).toString('hex')}.part`);
    let file: FileHandle;
    try {
      file = await open(partPath, 'wx');
    } catch (e) {
      await receiveDataSet(assoc, contextId, () => undefined, options.maxDataSetBytes ?? DEFAULT_MAX_DATA_SET);
      stats.failed++;
      noteError(`creating ${partPath}: ${e instanceof Error ? e.message : String(e)}`);
      await respond(assoc, contextId, rq, COMMAND_FIELD.C_STORE_RSP, STATUS.OUT_OF_RESOURCES, 'cannot create the file');
      return;
    }
    let writeError: unknown;
    let bytes = 0;
    try {
      await file.write(
        encodeFileMeta({
          sopClassUID,
          sopInstanceUID,
          transferSyntaxUID: ctx.transferSyntax,
          ...(isValidAETitle(assoc.callingAE) ? { sourceApplicationEntityTitle: assoc.callingAE } : {}),
        }),
      );
      bytes = await receiveDataSet(
        assoc,
        contextId,
        async (fragment) => {
          if (writeError) return;
          try {
            await file.write(fragment);
          } catch (e) {
            writeError = e;
          }
        },
        options.maxDataSetBytes ?? DEFAULT_MAX_DATA_SET,
      );
      await file.close();
    } catch (e) {
      await file.close().catch(() => undefined);
      await rm(partPath, { force: true });
      throw e;
    }
    stats.bytesReceived += bytes;
    if (writeError) {
      await rm(partPath, { force: true });
      stats.failed++;
      noteError(`writing ${sopInstanceUID}: ${writeError instanceof Error ? writeError.message : String(writeError)}`);
      await respond(assoc, contextId, rq, COMMAND_FIELD.C_STORE_RSP, STATUS.OUT_OF_RESOURCES, 'cannot write the file');
      return;
    }
    await rename(partPath, finalPath);
    stats.stored++;
    options.onStored?.({ path: finalPath, sopClassUID, sopInstanceUID, transferSyntaxUID: ctx.transferSyntax, callingAE: assoc.callingAE, dataSetBytes: bytes });
    await respond(assoc, contextId, rq, COMMAND_FIELD.C_STORE_RSP, STATUS.SUCCESS);
  };

  const serve = async (transport: Transport): Promise<void> => {
    active.add(transport);
    try {
      const assoc = await Association.accept(transport, decide, {
        maxPduLength: options.maxPduLength ?? DEFAULT_MAX_PDU_LENGTH,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      });
      if (!assoc) {
        stats.rejected++;
        return;
      }
      stats.associations++;
      for (;;) {
        // Between messages the peer may stay idle for the DIMSE timeout, not longer.
        const got = await receiveCommand(assoc);
        if (got === 'release') {
          await assoc.acceptRelease();
          return;
        }
        const { contextId, command } = got;
        switch (command.commandField) {
          case COMMAND_FIELD.C_ECHO_RQ:
            stats.echoes++;
            await respond(assoc, contextId, command, COMMAND_FIELD.C_ECHO_RSP, STATUS.SUCCESS);
            break;
          case COMMAND_FIELD.C_STORE_RQ:
            if (!command.hasDataSet) {
              stats.failed++;
              await respond(assoc, contextId, command, COMMAND_FIELD.C_STORE_RSP, STATUS.CANNOT_UNDERSTAND, 'C-STORE-RQ without a data set');
              break;
            }
            await store(assoc, contextId, command);
            break;
          default:
            noteError(`unsupported command 0x${command.commandField.toString(16)}`);
            await assoc.abort(2, 0);
            return;
        }
      }
    } catch (e) {
      noteError(e instanceof Error ? e.message : String(e));
      transport.destroy();
    } finally {
      active.delete(transport);
    }
  };

  return {
    stats,
    serve,
    destroyAll() {
      for (const t of active) t.destroy();
    },
  };
}

export async function startStoreScp(options: StoreScpOptions): Promise<StoreScp> {
  const handler = createStoreScpHandler(options);
  const { stats } = handler;
  const maxAssociations = options.maxAssociations ?? 8;
  const noteError = (message: string): void => {
    stats.errors.push(message);
    if (stats.errors.length > 20) stats.errors.shift();
  };

  const onSocket = (socket: net.Socket, isTls: boolean): void => {
    socket.on('error', () => undefined); // reported through the transport
    void handler.serve(new SocketTransport(socket, { tls: isTls }));
  };

  let server: net.Server;
  if (options.tls) {
    const t = options.tls;
    const key = keyMaterial(t.key);
    server = tls.createServer(
      {
        ...TLS_PROFILE,
        cert: t.cert,
        key,
        ...(t.ca?.length ? { ca: [...t.ca] } : {}),
        requestCert: t.requireClientCertificate ?? false,
        rejectUnauthorized: t.requireClientCertificate ?? false,
        honorCipherOrder: true,
      },
      (socket) => onSocket(socket, true),
    );
    server.on('tlsClientError', (e: Error) => {
      stats.tlsFailures++;
      noteError(`TLS: ${e.message}`);
    });
  } else {
    server = net.createServer((socket) => onSocket(socket, false));
  }
  server.maxConnections = maxAssociations * 2;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      handler.destroyAll();
      await closed;
    },
  };
}
