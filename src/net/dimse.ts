/**
 * DIMSE messages (PS3.7): command sets in Implicit VR Little Endian, group 0000 led by Command Group
 * Length (§6.3, §9.3, Annex E); C-ECHO-RQ/RSP (§9.1.5, §9.3.5) and C-STORE-RQ/RSP (§9.1.1, §9.3.1);
 * status codes and their meaning (Annex C; C-STORE statuses PS3.4 B.2.3). A message is its command set,
 * then its data set, each sent as PDVs of the message's presentation context (PS3.8 Annex E).
 *
 * The C-STORE data set is streamed: it comes in as chunks and leaves as P-DATA-TF PDUs no longer than
 * the peer accepts, each write awaited, so at most one fragment and the socket's buffer are held.
 */
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN } from '../dicom/transfer-syntax.js';
import { asDcmsafeError, DcmsafeError } from '../errors/index.js';
import { deadlineAfter, type Association } from './association.js';
import { netError, usageError } from './errors.js';
import type { Pdv } from './pdu.js';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

/** Command Field values (PS3.7 Annex E). */
export const COMMAND_FIELD = {
  C_STORE_RQ: 0x0001,
  C_STORE_RSP: 0x8001,
  C_ECHO_RQ: 0x0030,
  C_ECHO_RSP: 0x8030,
} as const;

/** Command Data Set Type: 0x0101 means no data set follows; any other value means one does. */
export const NO_DATA_SET = 0x0101;
export const DATA_SET_PRESENT = 0x0000;

export const PRIORITY = { MEDIUM: 0x0000, HIGH: 0x0001, LOW: 0x0002 } as const;

/** Command elements (group 0000) used here. */
export const CMD = {
  CommandGroupLength: 0x00000000,
  AffectedSOPClassUID: 0x00000002,
  CommandField: 0x00000100,
  MessageID: 0x00000110,
  MessageIDBeingRespondedTo: 0x00000120,
  Priority: 0x00000700,
  CommandDataSetType: 0x00000800,
  Status: 0x00000900,
  OffendingElement: 0x00000901,
  ErrorComment: 0x00000902,
  ErrorID: 0x00000903,
  AffectedSOPInstanceUID: 0x00001000,
  MoveOriginatorApplicationEntityTitle: 0x00001030,
  MoveOriginatorMessageID: 0x00001031,
} as const;

type CommandVR = 'UI' | 'US' | 'UL' | 'AE' | 'LO' | 'AT';

const VR_OF: Record<number, CommandVR> = {
  [CMD.CommandGroupLength]: 'UL',
  [CMD.AffectedSOPClassUID]: 'UI',
  [CMD.CommandField]: 'US',
  [CMD.MessageID]: 'US',
  [CMD.MessageIDBeingRespondedTo]: 'US',
  [CMD.Priority]: 'US',
  [CMD.CommandDataSetType]: 'US',
  [CMD.Status]: 'US',
  [CMD.OffendingElement]: 'AT',
  [CMD.ErrorComment]: 'LO',
  [CMD.ErrorID]: 'US',
  [CMD.AffectedSOPInstanceUID]: 'UI',
  [CMD.MoveOriginatorApplicationEntityTitle]: 'AE',
  [CMD.MoveOriginatorMessageID]: 'US',
};

/** A command set above this is refused (a C-STORE-RQ is about 200 bytes). */
export const MAX_COMMAND_LENGTH = 64 * 1024;
/**
 * At most this many bytes of data PDUs go in one transport write (at least one PDU): a few PDUs per
 * write when the peer's maximum is small, without holding more than a source chunk or so back.
 */
export const WRITE_BATCH = 256 * 1024;

// ---- Command sets -----------------------------------------------------------------------------------

export interface Command {
  readonly commandField: number;
  readonly messageId?: number;
  readonly messageIdBeingRespondedTo?: number;
  readonly affectedSOPClassUID?: string;
  readonly affectedSOPInstanceUID?: string;
  readonly priority?: number;
  /** From Command Data Set Type: anything but 0x0101. */
  readonly hasDataSet: boolean;
  readonly status?: number;
  readonly errorComment?: string;
  readonly offendingElements?: readonly number[];
  readonly moveOriginatorAE?: string;
  readonly moveOriginatorMessageId?: number;
}

function textValue(text: string, pad: number): Buffer {
  const b = Buffer.from(text, 'latin1');
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([pad])]);
}

function usValue(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n & 0xffff, 0);
  return b;
}

/** Encodes a command set: Command Group Length first, then the elements in tag order. */
export function encodeCommand(cmd: Command): Buffer {
  const values = new Map<number, Buffer>();
  if (cmd.affectedSOPClassUID !== undefined) values.set(CMD.AffectedSOPClassUID, textValue(cmd.affectedSOPClassUID, 0x00));
  values.set(CMD.CommandField, usValue(cmd.commandField));
  if (cmd.messageId !== undefined) values.set(CMD.MessageID, usValue(cmd.messageId));
  if (cmd.messageIdBeingRespondedTo !== undefined) values.set(CMD.MessageIDBeingRespondedTo, usValue(cmd.messageIdBeingRespondedTo));
  if (cmd.priority !== undefined) values.set(CMD.Priority, usValue(cmd.priority));
  values.set(CMD.CommandDataSetType, usValue(cmd.hasDataSet ? DATA_SET_PRESENT : NO_DATA_SET));
  if (cmd.status !== undefined) values.set(CMD.Status, usValue(cmd.status));
  if (cmd.offendingElements?.length) {
    const b = Buffer.alloc(4 * cmd.offendingElements.length);
    cmd.offendingElements.forEach((t, i) => {
      b.writeUInt16LE(t >>> 16, 4 * i); // AT: group
      b.writeUInt16LE(t & 0xffff, 4 * i + 2); // AT: element
    });
    values.set(CMD.OffendingElement, b);
  }
  if (cmd.errorComment !== undefined) values.set(CMD.ErrorComment, textValue(cmd.errorComment.slice(0, 64), 0x20));
  if (cmd.affectedSOPInstanceUID !== undefined) values.set(CMD.AffectedSOPInstanceUID, textValue(cmd.affectedSOPInstanceUID, 0x00));
  if (cmd.moveOriginatorAE !== undefined) values.set(CMD.MoveOriginatorApplicationEntityTitle, textValue(cmd.moveOriginatorAE, 0x20));
  if (cmd.moveOriginatorMessageId !== undefined) values.set(CMD.MoveOriginatorMessageID, usValue(cmd.moveOriginatorMessageId));
  const parts: Buffer[] = [];
  let groupLength = 0;
  for (const tag of [...values.keys()].sort((a, b) => a - b)) {
    const value = values.get(tag)!;
    const h = Buffer.alloc(8);
    h.writeUInt16LE(tag >>> 16, 0); // group
    h.writeUInt16LE(tag & 0xffff, 2); // element
    h.writeUInt32LE(value.length, 4); // value length (implicit VR: 4 bytes)
    parts.push(h, value);
    groupLength += 8 + value.length;
  }
  const gl = Buffer.alloc(12);
  gl.writeUInt32LE(0, 0); // (0000,0000) Command Group Length
  gl.writeUInt32LE(4, 4); // length 4
  gl.writeUInt32LE(groupLength, 8); // bytes after this element
  return Buffer.concat([gl, ...parts]);
}

/** Decodes a command set; every length is checked and every known element's value size too. */
export function decodeCommand(buf: Buffer): Command {
  const values = new Map<number, Buffer>();
  let p = 0;
  while (p < buf.length) {
    if (buf.length - p < 8) throw netError('NET_PROTOCOL', `command set: truncated element header at offset ${p}`, { offset: p });
    const group = buf.readUInt16LE(p);
    const element = buf.readUInt16LE(p + 2);
    const length = buf.readUInt32LE(p + 4);
    const tag = ((group << 16) | element) >>> 0;
    const hex = `(${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`;
    if (group !== 0x0000) throw netError('NET_PROTOCOL', `command set: element ${hex} at offset ${p} is outside group 0000`, { offset: p, tag: hex });
    if (length > buf.length - p - 8) throw netError('NET_PROTOCOL', `command set: element ${hex} at offset ${p} claims ${length} bytes, ${buf.length - p - 8} remain`, { offset: p, tag: hex });
    if (values.has(tag)) throw netError('NET_PROTOCOL', `command set: element ${hex} appears twice`, { offset: p, tag: hex });
    const value = buf.subarray(p + 8, p + 8 + length);
    const vr = VR_OF[tag];
    if ((vr === 'US' && length !== 2) || (vr === 'UL' && length !== 4) || (vr === 'AT' && length % 4 !== 0)) {
      throw netError('NET_PROTOCOL', `command set: element ${hex} has ${length} bytes, wrong for ${vr}`, { offset: p, tag: hex });
    }
    values.set(tag, value);
    p += 8 + length;
  }
  const us = (tag: number): number | undefined => values.get(tag)?.readUInt16LE(0);
  const text = (tag: number): string | undefined => {
    const v = values.get(tag);
    return v === undefined ? undefined : v.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  };
  const commandField = us(CMD.CommandField);
  const dataSetType = us(CMD.CommandDataSetType);
  if (commandField === undefined) throw netError('NET_PROTOCOL', 'command set without Command Field (0000,0100)');
  if (dataSetType === undefined) throw netError('NET_PROTOCOL', 'command set without Command Data Set Type (0000,0800)');
  const at = values.get(CMD.OffendingElement);
  const offending: number[] = [];
  if (at) for (let i = 0; i < at.length; i += 4) offending.push(((at.readUInt16LE(i) << 16) | at.readUInt16LE(i + 2)) >>> 0);
  const cmd: Record<string, unknown> = { commandField, hasDataSet: dataSetType !== NO_DATA_SET };
  const set = (key: string, v: unknown): void => {
    if (v !== undefined) cmd[key] = v;
  };
  set('messageId', us(CMD.MessageID));
  set('messageIdBeingRespondedTo', us(CMD.MessageIDBeingRespondedTo));
  set('affectedSOPClassUID', text(CMD.AffectedSOPClassUID));
  set('affectedSOPInstanceUID', text(CMD.AffectedSOPInstanceUID));
  set('priority', us(CMD.Priority));
  set('status', us(CMD.Status));
  set('errorComment', text(CMD.ErrorComment));
  if (offending.length) cmd.offendingElements = offending;
  set('moveOriginatorAE', text(CMD.MoveOriginatorApplicationEntityTitle));
  set('moveOriginatorMessageId', us(CMD.MoveOriginatorMessageID));
  return cmd as unknown as Command;
}

// ---- Statuses ------------------------------------------------------------------------------------------

export type StatusCategory = 'success' | 'warning' | 'failure';

export interface StoreResult {
  readonly status: number;
  readonly category: StatusCategory;
  /** Status code in hex and its meaning, e.g. "B000 coercion of data elements". */
  readonly meaning: string;
  readonly errorComment?: string;
}

/** Specific status codes (PS3.7 Annex C; C-STORE: PS3.4 Table B.2-1). */
const STATUS_TEXT: ReadonlyMap<number, readonly [StatusCategory, string]> = new Map([
  [0x0000, ['success', 'success']],
  [0x0001, ['warning', 'requested optional attributes are not supported']],
  [0x0107, ['warning', 'attribute list error']],
  [0x0116, ['warning', 'attribute value out of range']],
  [0xb000, ['warning', 'coercion of data elements']],
  [0xb006, ['warning', 'elements discarded']],
  [0xb007, ['warning', 'data set does not match SOP class']],
  [0x0105, ['failure', 'no such attribute']],
  [0x0106, ['failure', 'invalid attribute value']],
  [0x0110, ['failure', 'processing failure']],
  [0x0111, ['failure', 'duplicate SOP instance']],
  [0x0112, ['failure', 'no such SOP instance']],
  [0x0117, ['failure', 'invalid object instance']],
  [0x0118, ['failure', 'no such SOP class']],
  [0x0119, ['failure', 'class-instance conflict']],
  [0x0120, ['failure', 'missing attribute']],
  [0x0121, ['failure', 'missing attribute value']],
  [0x0122, ['failure', 'SOP class not supported']],
  [0x0124, ['failure', 'not authorized']],
  [0x0210, ['failure', 'duplicate invocation']],
  [0x0211, ['failure', 'unrecognized operation']],
  [0x0212, ['failure', 'mistyped argument']],
  [0x0213, ['failure', 'resource limitation']],
  [0xfe00, ['failure', 'cancelled']],
]);

export function statusHex(status: number): string {
  return status.toString(16).toUpperCase().padStart(4, '0');
}

/** A DIMSE status as a category and words (C-STORE ranges: A7xx, A9xx, Cxxx; PS3.4 B.2.3). */
export function describeStatus(status: number, errorComment?: string): StoreResult {
  const known = STATUS_TEXT.get(status);
  let category: StatusCategory;
  let text: string;
  if (known) [category, text] = known;
  else if ((status & 0xff00) === 0xa700) [category, text] = ['failure', 'out of resources'];
  else if ((status & 0xff00) === 0xa900) [category, text] = ['failure', 'data set does not match SOP class'];
  else if ((status & 0xf000) === 0xc000) [category, text] = ['failure', 'cannot understand'];
  else if ((status & 0xf000) === 0xb000) [category, text] = ['warning', 'warning'];
  else if ((status & 0xf000) === 0xa000) [category, text] = ['failure', 'refused'];
  else if (status === 0xff00 || status === 0xff01) [category, text] = ['failure', 'pending (not a final status for this operation)'];
  else [category, text] = ['failure', 'unknown status'];
  return { status, category, meaning: `${statusHex(status)} ${text}`, ...(errorComment ? { errorComment } : {}) };
}

// ---- Receiving messages -----------------------------------------------------------------------------------

/**
 * Reads the command set of the next message (its command PDVs up to the last one). Returns 'release'
 * if the peer asks to release between messages. The whole command set must come within the timeout
 * (default: the association's): fragments that trickle in, empty ones included, do not restart it.
 */
export async function receiveCommand(assoc: Association, timeoutMs = assoc.timeoutMs, what = 'waiting for a command'): Promise<{ contextId: number; command: Command } | 'release'> {
  const parts: Buffer[] = [];
  let length = 0;
  let contextId: number | undefined;
  const wait = { what, deadline: deadlineAfter(timeoutMs) };
  for (;;) {
    const pdv: Pdv | 'release' = await assoc.nextPdv(timeoutMs, wait);
    if (pdv === 'release') {
      if (contextId === undefined) return 'release';
      await assoc.abort(2, 2);
      throw netError('NET_PROTOCOL', 'A-RELEASE-RQ in the middle of a command set');
    }
    if (!pdv.command) {
      await assoc.abort(2, 6);
      throw netError('NET_PROTOCOL', `a data set fragment came where a command set was expected (context ${pdv.contextId})`, { contextId: pdv.contextId });
    }
    if (contextId !== undefined && pdv.contextId !== contextId) {
      await assoc.abort(2, 6);
      throw netError('NET_PROTOCOL', `command fragments on contexts ${contextId} and ${pdv.contextId}`, { contextId: pdv.contextId });
    }
    contextId = pdv.contextId;
    length += pdv.data.length;
    if (length > MAX_COMMAND_LENGTH) {
      await assoc.abort(2, 6);
      throw netError('NET_PROTOCOL', `command set longer than ${MAX_COMMAND_LENGTH} bytes`, { contextId });
    }
    parts.push(pdv.data);
    if (pdv.last) break;
  }
  try {
    return { contextId, command: decodeCommand(Buffer.concat(parts)) };
  } catch (e) {
    await assoc.abort(2, 6);
    throw e;
  }
}

/**
 * Reads the data set that follows a command, fragment by fragment, handing each to `sink` (awaited:
 * receive back-pressure). Returns the number of bytes.
 */
export async function receiveDataSet(assoc: Association, contextId: number, sink: (fragment: Buffer) => Promise<void> | void, maxLength = Infinity): Promise<number> {
  let length = 0;
  for (;;) {
    const pdv = await assoc.nextPdv();
    if (pdv === 'release' || pdv.command || pdv.contextId !== contextId) {
      await assoc.abort(2, 2);
      throw netError('NET_PROTOCOL', `expected a data set fragment on context ${contextId}`, { contextId });
    }
    length += pdv.data.length;
    if (length > maxLength) {
      await assoc.abort(2, 0);
      throw netError('NET_PROTOCOL', `data set longer than the ${maxLength} bytes allowed`, { contextId, maxLength });
    }
    await sink(pdv.data);
    if (pdv.last) return length;
  }
}

async function* withTrailingByte(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of source) yield chunk;
  yield Buffer.from([0x00]);
}

// ---- Requestor (SCU) ------------------------------------------------------------------------------------

export interface StoreOptions {
  readonly priority?: number;
  /** For C-STORE sub-operations of a C-MOVE. */
  readonly moveOriginatorAE?: string;
  readonly moveOriginatorMessageId?: number;
}

/** DIMSE service user over an association: message IDs, C-ECHO, streamed C-STORE. */
export class DimseRequestor {
  private nextMessageId = 1;

  constructor(readonly association: Association) {}

  private messageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id >= 0xffff ? 1 : id + 1;
    return id;
  }

  private checkContext(contextId: number, abstractSyntax: string): string {
    const ctx = this.association.acceptedContext(contextId);
    if (!ctx) throw usageError(`presentation context ${contextId} was not accepted by the peer`, { contextId });
    if (ctx.abstractSyntax !== abstractSyntax) throw usageError(`presentation context ${contextId} is for ${ctx.abstractSyntax}, not ${abstractSyntax}`, { contextId });
    return ctx.transferSyntax;
  }

  async echo(contextId: number): Promise<{ status: number; roundTripMs: number }> {
    this.checkContext(contextId, VERIFICATION_SOP_CLASS);
    const messageId = this.messageId();
    const started = performance.now();
    await this.association.sendFragmented(
      contextId,
      true,
      encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RQ, messageId, affectedSOPClassUID: VERIFICATION_SOP_CLASS, hasDataSet: false }),
    );
    const rsp = await this.response(COMMAND_FIELD.C_ECHO_RSP, messageId, contextId);
    return { status: rsp.status ?? 0xffff, roundTripMs: performance.now() - started };
  }

  /**
   * C-STORE with the data set streamed from `dataSet` (in the context's transfer syntax). Each
   * fragment is at most the peer's limit and is sent before the next chunk is pulled. With a `length`,
   * a source that yields more or fewer bytes aborts the association; without one (a rewrite whose
   * size is known only at its end), one fragment is held back so the last can carry the last-fragment
   * flag. An odd deflated data set gets its pad byte (PS3.5 A.5).
   */
  async store(
    contextId: number,
    sopClassUID: string,
    sopInstanceUID: string,
    dataSet: AsyncIterable<Buffer> | Iterable<Buffer>,
    length: number | undefined,
    options: StoreOptions = {},
  ): Promise<StoreResult> {
    const transferSyntax = this.checkContext(contextId, sopClassUID);
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw usageError(`data set length ${length} is not a byte count`);
    if (transferSyntax === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN && length === undefined) {
      throw usageError('a deflated data set needs its length (for the pad byte of PS3.5 A.5)');
    }
    if (transferSyntax === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN && length !== undefined && length % 2 === 1) {
      // A deflated data set is padded to even length with one trailing NUL (PS3.5 A.5); files often omit it.
      dataSet = withTrailingByte(dataSet);
      length += 1;
    }
    const messageId = this.messageId();
    const command = encodeCommand({
      commandField: COMMAND_FIELD.C_STORE_RQ,
      messageId,
      affectedSOPClassUID: sopClassUID,
      affectedSOPInstanceUID: sopInstanceUID,
      priority: options.priority ?? PRIORITY.MEDIUM,
      hasDataSet: true,
      ...(options.moveOriginatorAE !== undefined ? { moveOriginatorAE: options.moveOriginatorAE } : {}),
      ...(options.moveOriginatorMessageId !== undefined ? { moveOriginatorMessageId: options.moveOriginatorMessageId } : {}),
    });
    // A command set of one fragment (always, but for a peer of a tiny Maximum Length) leaves with the first data.
    const lead = command.length <= this.association.maxFragmentLength ? command : undefined;
    if (!lead) await this.association.sendFragmented(contextId, true, command);
    await this.streamDataSet(contextId, dataSet, length, lead);
    const rsp = await this.response(COMMAND_FIELD.C_STORE_RSP, messageId, contextId);
    // Both are optional in the response, and must be the request's when present (PS3.7 Table 9.3-2, "U(=)"):
    // a response naming another instance or class acknowledges nothing of ours.
    if (rsp.affectedSOPInstanceUID !== undefined && rsp.affectedSOPInstanceUID !== sopInstanceUID) {
      await this.association.abort(2, 6);
      throw netError('NET_PROTOCOL', `C-STORE-RSP names instance ${rsp.affectedSOPInstanceUID}, not ${sopInstanceUID}`, { messageId });
    }
    if (rsp.affectedSOPClassUID !== undefined && rsp.affectedSOPClassUID !== sopClassUID) {
      await this.association.abort(2, 6);
      throw netError('NET_PROTOCOL', `C-STORE-RSP names SOP class ${rsp.affectedSOPClassUID}, not ${sopClassUID}`, { messageId });
    }
    return describeStatus(rsp.status ?? 0xffff, rsp.errorComment);
  }

  /** Streams the data set's PDVs; `command`, if given, goes in front of the first write (see sendDataPdvs). */
  private async streamDataSet(contextId: number, dataSet: AsyncIterable<Buffer> | Iterable<Buffer>, length: number | undefined, command?: Buffer): Promise<void> {
    const max = this.association.maxFragmentLength;
    let lead = command;
    const send = async (fragments: Buffer[][], last: boolean): Promise<void> => {
      const c = lead;
      lead = undefined;
      await this.association.sendDataPdvs(contextId, fragments, last, c);
    };
    let pending: Buffer[] = [];
    let pendingLength = 0;
    let sent = 0;
    const fail = async (message: string, cause?: unknown): Promise<never> => {
      await this.association.abort(0, 0);
      if (cause !== undefined) throw asDcmsafeError(cause, { contextId });
      throw new DcmsafeError('INTERNAL', message, { contextId, length, sent });
    };
    /** Takes the first `n` pending bytes as one fragment's parts (views, not copies). */
    const take = (n: number): Buffer[] => {
      const parts: Buffer[] = [];
      let taken = 0;
      while (taken < n) {
        const c = pending[0]!;
        const k = Math.min(c.length, n - taken);
        parts.push(k === c.length ? c : c.subarray(0, k));
        taken += k;
        if (k === c.length) pending.shift();
        else pending[0] = c.subarray(k);
      }
      pendingLength -= n;
      return parts;
    };
    /**
     * Sends every full fragment the pending bytes make (with a known length a full fragment can go at
     * once, the last is recognised by its size; without one, a fragment goes only when more bytes
     * follow it, so the final one can be flagged), up to WRITE_BATCH bytes per write.
     */
    const flushFull = async (): Promise<void> => {
      while (length !== undefined ? pendingLength >= max : pendingLength > max) {
        const batch: Buffer[][] = [];
        let last = false;
        while ((length !== undefined ? pendingLength >= max : pendingLength > max) && (batch.length === 0 || (batch.length + 1) * max <= WRITE_BATCH)) {
          batch.push(take(max));
          sent += max;
          last = sent === length;
        }
        await send(batch, last);
      }
    };
    try {
      for await (const chunk of dataSet) {
        if (length !== undefined && sent + pendingLength + chunk.length > length) return await fail(`the data set source yields more than the ${length} bytes announced`);
        if (chunk.length === 0) continue;
        pending.push(chunk);
        pendingLength += chunk.length;
        await flushFull();
      }
    } catch (e) {
      if (e instanceof DcmsafeError && this.association.established === false) throw e;
      return await fail(`reading the data set failed: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    if (length !== undefined && sent + pendingLength !== length) return await fail(`the data set source yields ${sent + pendingLength} bytes, ${length} were announced`);
    if (pendingLength > 0 || sent === 0) {
      const n = pendingLength;
      const parts = take(n);
      sent += n;
      await send([parts], true);
    }
    pending = [];
  }

  private async response(commandField: number, messageId: number, contextId: number): Promise<Command> {
    const got = await receiveCommand(this.association, this.association.timeoutMs, commandField === COMMAND_FIELD.C_STORE_RSP ? 'waiting for the C-STORE-RSP' : 'waiting for the C-ECHO-RSP');
    if (got === 'release') {
      await this.association.abort(2, 2);
      throw netError('NET_PROTOCOL', 'the peer asked to release while a response was awaited');
    }
    const rsp = got.command;
    if (rsp.commandField !== commandField || rsp.messageIdBeingRespondedTo !== messageId || got.contextId !== contextId) {
      await this.association.abort(2, 6);
      throw netError(
        'NET_PROTOCOL',
        `expected response 0x${commandField.toString(16)} to message ${messageId} on context ${contextId}, got 0x${rsp.commandField.toString(16)} to ${rsp.messageIdBeingRespondedTo} on ${got.contextId}`,
        { messageId },
      );
    }
    if (rsp.hasDataSet) {
      await this.association.abort(2, 6);
      throw netError('NET_PROTOCOL', 'the response announces a data set', { messageId });
    }
    if (rsp.status === undefined) {
      await this.association.abort(2, 6);
      throw netError('NET_PROTOCOL', 'the response has no Status (0000,0900)', { messageId });
    }
    return rsp;
  }
}
