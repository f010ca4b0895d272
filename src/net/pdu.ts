/**
 * DICOM Upper Layer protocol data units (PS3.8 §9.3): A-ASSOCIATE-RQ/AC/RJ (§9.3.2-§9.3.4), P-DATA-TF
 * (§9.3.5), A-RELEASE-RQ/RP (§9.3.6-§9.3.7) and A-ABORT (§9.3.8), with the variable items of §9.3.2.1-
 * §9.3.2.3 and §9.3.3.2, and the User Information sub-items of PS3.8 Annex D.1 and PS3.7 Annex D.3.3.2-
 * D.3.3.3 (Maximum Length, Implementation Class UID, Implementation Version Name).
 *
 * Everything the peer sends is hostile until checked: each length is checked against what encloses it,
 * a PDU is refused as soon as its 6-byte header announces more than the limit (the P-DATA-TF limit is
 * the Maximum Length we announced), and every violation is a NET_PROTOCOL error naming the offset.
 */
import { netError } from './errors.js';

// ---- Constants -----------------------------------------------------------------------------------

export const PDU_TYPE = {
  ASSOCIATE_RQ: 0x01,
  ASSOCIATE_AC: 0x02,
  ASSOCIATE_RJ: 0x03,
  P_DATA_TF: 0x04,
  RELEASE_RQ: 0x05,
  RELEASE_RP: 0x06,
  ABORT: 0x07,
} as const;

const ITEM = {
  APPLICATION_CONTEXT: 0x10,
  PRESENTATION_CONTEXT_RQ: 0x20,
  PRESENTATION_CONTEXT_AC: 0x21,
  ABSTRACT_SYNTAX: 0x30,
  TRANSFER_SYNTAX: 0x40,
  USER_INFORMATION: 0x50,
  MAXIMUM_LENGTH: 0x51,
  IMPLEMENTATION_CLASS_UID: 0x52,
  IMPLEMENTATION_VERSION_NAME: 0x55,
} as const;

/** The DICOM Application Context Name (PS3.7 Annex A.2.1). */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
/** Protocol version 1 (PS3.8 §9.3.2: bit 0 set). */
export const PROTOCOL_VERSION = 0x0001;
/** The PDU header: type (1), reserved (1), length (4). */
export const PDU_HEADER_LENGTH = 6;
/** PDV item header inside a P-DATA-TF: item length (4), context ID (1), message control header (1). */
export const PDV_HEADER_LENGTH = 6;
/** No PDU is ever accepted above this, whatever was announced. */
export const ABSOLUTE_MAX_PDU_LENGTH = 64 * 1024 * 1024;
/** A-ASSOCIATE-RQ/AC PDUs above this are refused (128 contexts with long UIDs stay far below). */
export const MAX_ASSOCIATE_PDU_LENGTH = 1024 * 1024;
/** Smallest Maximum Length we accept from a peer (below it, fragments would be absurdly small). */
export const MIN_PEER_MAX_PDU_LENGTH = 1024;

/** Presentation context results (PS3.8 §9.3.3.2, Table 9-18). */
export const PC_RESULT = {
  ACCEPTANCE: 0,
  USER_REJECTION: 1,
  NO_REASON: 2,
  ABSTRACT_SYNTAX_NOT_SUPPORTED: 3,
  TRANSFER_SYNTAXES_NOT_SUPPORTED: 4,
} as const;

export function presentationContextResultText(result: number): string {
  switch (result) {
    case 0:
      return 'acceptance';
    case 1:
      return 'user rejection';
    case 2:
      return 'no reason (provider rejection)';
    case 3:
      return 'abstract syntax not supported';
    case 4:
      return 'transfer syntaxes not supported';
    default:
      return `unknown result ${result}`;
  }
}

// ---- PDU models -----------------------------------------------------------------------------------

export interface PresentationContextRq {
  /** Odd, 1 to 255. */
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
}

export interface PresentationContextAc {
  readonly id: number;
  /** PC_RESULT. */
  readonly result: number;
  /** The accepted transfer syntax; not significant when the context is rejected. */
  readonly transferSyntax: string;
}

export interface UserInformation {
  /** Maximum Length Received: the largest P-DATA-TF variable field the sender accepts; 0 = no limit. */
  readonly maxPduLength: number;
  readonly implementationClassUID?: string;
  readonly implementationVersionName?: string;
  /** Sub-items we do not interpret (role selection, extended negotiation, user identity...), kept as they came. */
  readonly otherItems?: ReadonlyArray<{ readonly type: number; readonly value: Buffer }>;
}

export interface AssociateRq {
  readonly type: 'A-ASSOCIATE-RQ';
  readonly protocolVersion: number;
  readonly calledAE: string;
  readonly callingAE: string;
  readonly applicationContext: string;
  readonly presentationContexts: readonly PresentationContextRq[];
  readonly userInformation: UserInformation;
}

export interface AssociateAc {
  readonly type: 'A-ASSOCIATE-AC';
  readonly protocolVersion: number;
  /** Echoed from the request, not tested (PS3.8 §9.3.3). */
  readonly calledAE: string;
  readonly callingAE: string;
  readonly applicationContext: string;
  readonly presentationContexts: readonly PresentationContextAc[];
  readonly userInformation: UserInformation;
}

export interface AssociateRj {
  readonly type: 'A-ASSOCIATE-RJ';
  /** 1 rejected-permanent, 2 rejected-transient. */
  readonly result: number;
  /** 1 service-user, 2 service-provider (ACSE), 3 service-provider (presentation). */
  readonly source: number;
  readonly reason: number;
}

export interface Pdv {
  /** Presentation context ID, odd, 1 to 255. */
  readonly contextId: number;
  /** Message control header bit 0: command (true) or data set (false). */
  readonly command: boolean;
  /** Message control header bit 1: last fragment of the command or data set. */
  readonly last: boolean;
  readonly data: Buffer;
}

export interface PDataTf {
  readonly type: 'P-DATA-TF';
  readonly pdvs: readonly Pdv[];
}

export interface ReleaseRq {
  readonly type: 'A-RELEASE-RQ';
}

export interface ReleaseRp {
  readonly type: 'A-RELEASE-RP';
}

export interface Abort {
  readonly type: 'A-ABORT';
  /** 0 service-user, 2 service-provider. */
  readonly source: number;
  readonly reason: number;
}

export type Pdu = AssociateRq | AssociateAc | AssociateRj | PDataTf | ReleaseRq | ReleaseRp | Abort;

// ---- Reasons in words ------------------------------------------------------------------------------

/** A-ASSOCIATE-RJ result, source and reason in words (PS3.8 §9.3.4, Table 9-21). */
export function describeReject(rj: Pick<AssociateRj, 'result' | 'source' | 'reason'>): string {
  const result = rj.result === 1 ? 'rejected permanently' : rj.result === 2 ? 'rejected transiently' : `rejected (result ${rj.result})`;
  let source: string;
  let reason: string;
  switch (rj.source) {
    case 1:
      source = 'by the called application (service user)';
      reason =
        {
          1: 'no reason given',
          2: 'application context name not supported',
          3: 'calling AE title not recognized',
          7: 'called AE title not recognized',
        }[rj.reason] ?? `reserved reason ${rj.reason}`;
      break;
    case 2:
      source = 'by the peer upper layer (service provider, ACSE)';
      reason = { 1: 'no reason given', 2: 'protocol version not supported' }[rj.reason] ?? `reserved reason ${rj.reason}`;
      break;
    case 3:
      source = 'by the peer upper layer (service provider, presentation)';
      reason = { 1: 'temporary congestion', 2: 'local limit exceeded' }[rj.reason] ?? `reserved reason ${rj.reason}`;
      break;
    default:
      source = `by an unknown source ${rj.source}`;
      reason = `reason ${rj.reason}`;
  }
  return `association ${result} ${source}: ${reason}`;
}

/** A-ABORT source and reason in words (PS3.8 §9.3.8, Table 9-26). */
export function describeAbort(abort: Pick<Abort, 'source' | 'reason'>): string {
  if (abort.source === 0) return 'association aborted by the peer application (service user)';
  if (abort.source === 2) {
    const reason =
      {
        0: 'reason not specified',
        1: 'unrecognized PDU',
        2: 'unexpected PDU',
        4: 'unrecognized PDU parameter',
        5: 'unexpected PDU parameter',
        6: 'invalid PDU parameter value',
      }[abort.reason] ?? `reserved reason ${abort.reason}`;
    return `association aborted by the peer upper layer (service provider): ${reason}`;
  }
  return `association aborted (source ${abort.source}, reason ${abort.reason})`;
}

// ---- Text fields -------------------------------------------------------------------------------------

const UID_TEXT = /^[0-9.]{1,64}$/;

/** AE titles: 1 to 16 characters of the default repertoire, no backslash or control characters, not all spaces (PS3.5 §6.2 AE). */
export function isValidAETitle(ae: string): boolean {
  return ae.length >= 1 && ae.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(ae) && ae.trim().length > 0;
}

function aeField(ae: string): Buffer {
  const b = Buffer.alloc(16, 0x20); // AE title field: 16 bytes, space padded
  b.write(ae, 0, 16, 'latin1');
  return b;
}

function readAE(buf: Buffer, offset: number): string {
  return buf.toString('latin1', offset, offset + 16).replace(/[\0 ]+$/, '').replace(/^ +/, '');
}

function readUid(value: Buffer, where: string, offset: number): string {
  // Some implementations pad UIDs in items with NUL or space (PS3.8 Annex F forbids it); tolerated.
  const text = value.toString('latin1').replace(/[\0 ]+$/, '');
  if (!UID_TEXT.test(text)) {
    throw netError('NET_PROTOCOL', `${where} at offset ${offset} is not a UID: ${JSON.stringify(text.slice(0, 80))}`, { offset });
  }
  return text;
}

// ---- Encoding ----------------------------------------------------------------------------------------

function item(type: number, value: Buffer): Buffer {
  if (value.length > 0xffff) throw netError('NET_PROTOCOL', `item 0x${type.toString(16)} too long (${value.length} bytes)`);
  const h = Buffer.alloc(4);
  h.writeUInt8(type, 0); // item type
  h.writeUInt8(0, 1); // reserved
  h.writeUInt16BE(value.length, 2); // item length
  return Buffer.concat([h, value]);
}

function pduHeader(type: number, length: number): Buffer {
  const h = Buffer.alloc(PDU_HEADER_LENGTH);
  h.writeUInt8(type, 0); // PDU type
  h.writeUInt8(0, 1); // reserved
  h.writeUInt32BE(length, 2); // PDU length (after this field)
  return h;
}

function encodeUserInformation(ui: UserInformation): Buffer {
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(ui.maxPduLength, 0); // Maximum Length Received
  const subItems = [item(ITEM.MAXIMUM_LENGTH, maxLength)];
  if (ui.implementationClassUID) subItems.push(item(ITEM.IMPLEMENTATION_CLASS_UID, Buffer.from(ui.implementationClassUID, 'latin1')));
  for (const other of ui.otherItems ?? []) subItems.push(item(other.type, other.value));
  if (ui.implementationVersionName) subItems.push(item(ITEM.IMPLEMENTATION_VERSION_NAME, Buffer.from(ui.implementationVersionName, 'latin1')));
  return item(ITEM.USER_INFORMATION, Buffer.concat(subItems));
}

function encodeAssociate(pdu: AssociateRq | AssociateAc): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(pdu.protocolVersion, 0); // protocol version (PDU offset 6)
  fixed.writeUInt16BE(0, 2); // reserved (offset 8)
  aeField(pdu.calledAE).copy(fixed, 4); // called AE title (offset 10, 16 bytes)
  aeField(pdu.callingAE).copy(fixed, 20); // calling AE title (offset 26, 16 bytes); offsets 42-73 reserved
  const items: Buffer[] = [item(ITEM.APPLICATION_CONTEXT, Buffer.from(pdu.applicationContext, 'latin1'))];
  if (pdu.type === 'A-ASSOCIATE-RQ') {
    for (const pc of pdu.presentationContexts) {
      const head = Buffer.from([pc.id, 0, 0, 0]); // context ID, reserved x3
      const sub = [item(ITEM.ABSTRACT_SYNTAX, Buffer.from(pc.abstractSyntax, 'latin1'))];
      for (const ts of pc.transferSyntaxes) sub.push(item(ITEM.TRANSFER_SYNTAX, Buffer.from(ts, 'latin1')));
      items.push(item(ITEM.PRESENTATION_CONTEXT_RQ, Buffer.concat([head, ...sub])));
    }
  } else {
    for (const pc of pdu.presentationContexts) {
      const head = Buffer.from([pc.id, 0, pc.result, 0]); // context ID, reserved, result/reason, reserved
      items.push(item(ITEM.PRESENTATION_CONTEXT_AC, Buffer.concat([head, item(ITEM.TRANSFER_SYNTAX, Buffer.from(pc.transferSyntax, 'latin1'))])));
    }
  }
  items.push(encodeUserInformation(pdu.userInformation));
  const body = Buffer.concat([fixed, ...items]);
  return Buffer.concat([pduHeader(pdu.type === 'A-ASSOCIATE-RQ' ? PDU_TYPE.ASSOCIATE_RQ : PDU_TYPE.ASSOCIATE_AC, body.length), body]);
}

function encodeFourByte(type: number, b2: number, b3: number): Buffer {
  const body = Buffer.from([0, 0, b2, b3]); // reserved, reserved/result, source, reason (per PDU)
  return Buffer.concat([pduHeader(type, 4), body]);
}

/** The header of a P-DATA-TF PDU holding one PDV of `fragmentLength` bytes: 12 bytes, the fragment follows. */
export function encodePDataHeader(contextId: number, command: boolean, last: boolean, fragmentLength: number): Buffer {
  const h = Buffer.alloc(PDU_HEADER_LENGTH + PDV_HEADER_LENGTH);
  writePDataHeader(h, 0, contextId, command, last, fragmentLength);
  return h;
}

/** encodePDataHeader written into `target` at `at` (no allocation per PDU when many go in one buffer); returns the bytes written. */
export function writePDataHeader(target: Buffer, at: number, contextId: number, command: boolean, last: boolean, fragmentLength: number): number {
  target.writeUInt8(PDU_TYPE.P_DATA_TF, at); // PDU type
  target.writeUInt8(0, at + 1); // reserved
  target.writeUInt32BE(PDV_HEADER_LENGTH + fragmentLength, at + 2); // PDU length
  target.writeUInt32BE(2 + fragmentLength, at + 6); // PDV item length (context ID + control header + fragment)
  target.writeUInt8(contextId, at + 10); // presentation context ID
  target.writeUInt8((command ? 0x01 : 0) | (last ? 0x02 : 0), at + 11); // message control header
  return PDU_HEADER_LENGTH + PDV_HEADER_LENGTH;
}

export function encodePdu(pdu: Pdu): Buffer {
  switch (pdu.type) {
    case 'A-ASSOCIATE-RQ':
    case 'A-ASSOCIATE-AC':
      return encodeAssociate(pdu);
    case 'A-ASSOCIATE-RJ': {
      const body = Buffer.from([0, pdu.result, pdu.source, pdu.reason]); // reserved, result, source, reason/diag.
      return Buffer.concat([pduHeader(PDU_TYPE.ASSOCIATE_RJ, 4), body]);
    }
    case 'P-DATA-TF': {
      const parts: Buffer[] = [];
      for (const pdv of pdu.pdvs) {
        const h = Buffer.alloc(PDV_HEADER_LENGTH);
        h.writeUInt32BE(2 + pdv.data.length, 0); // PDV item length
        h.writeUInt8(pdv.contextId, 4); // presentation context ID
        h.writeUInt8((pdv.command ? 0x01 : 0) | (pdv.last ? 0x02 : 0), 5); // message control header
        parts.push(h, pdv.data);
      }
      const body = Buffer.concat(parts);
      return Buffer.concat([pduHeader(PDU_TYPE.P_DATA_TF, body.length), body]);
    }
    case 'A-RELEASE-RQ':
      return encodeFourByte(PDU_TYPE.RELEASE_RQ, 0, 0);
    case 'A-RELEASE-RP':
      return encodeFourByte(PDU_TYPE.RELEASE_RP, 0, 0);
    case 'A-ABORT':
      return encodeFourByte(PDU_TYPE.ABORT, pdu.source, pdu.reason);
  }
}

// ---- Decoding ----------------------------------------------------------------------------------------

interface RawItem {
  type: number;
  /** Offset of the item header within the PDU (header included). */
  offset: number;
  value: Buffer;
}

/** Splits a run of items (type 1, reserved 1, length 2, value). `base` is the PDU offset of `buf`. */
function splitItems(buf: Buffer, base: number, where: string): RawItem[] {
  const items: RawItem[] = [];
  let p = 0;
  while (p < buf.length) {
    if (buf.length - p < 4) throw netError('NET_PROTOCOL', `${where}: truncated item header at offset ${base + p}`, { offset: base + p });
    const type = buf.readUInt8(p);
    const length = buf.readUInt16BE(p + 2);
    if (p + 4 + length > buf.length) {
      throw netError('NET_PROTOCOL', `${where}: item 0x${type.toString(16)} at offset ${base + p} claims ${length} bytes, only ${buf.length - p - 4} remain`, {
        offset: base + p,
      });
    }
    items.push({ type, offset: base + p, value: buf.subarray(p + 4, p + 4 + length) });
    p += 4 + length;
  }
  return items;
}

function decodeUserInformation(it: RawItem): UserInformation {
  let maxPduLength: number | undefined;
  let implementationClassUID: string | undefined;
  let implementationVersionName: string | undefined;
  const otherItems: Array<{ type: number; value: Buffer }> = [];
  for (const sub of splitItems(it.value, it.offset + 4, 'user information')) {
    switch (sub.type) {
      case ITEM.MAXIMUM_LENGTH:
        if (sub.value.length !== 4) throw netError('NET_PROTOCOL', `maximum length sub-item at offset ${sub.offset} is ${sub.value.length} bytes, not 4`, { offset: sub.offset });
        maxPduLength = sub.value.readUInt32BE(0);
        break;
      case ITEM.IMPLEMENTATION_CLASS_UID:
        implementationClassUID = readUid(sub.value, 'implementation class UID', sub.offset);
        break;
      case ITEM.IMPLEMENTATION_VERSION_NAME:
        if (sub.value.length > 16) throw netError('NET_PROTOCOL', `implementation version name at offset ${sub.offset} is longer than 16 bytes`, { offset: sub.offset });
        implementationVersionName = sub.value.toString('latin1').replace(/[\0 ]+$/, '');
        break;
      default:
        otherItems.push({ type: sub.type, value: Buffer.from(sub.value) });
    }
  }
  if (maxPduLength === undefined) throw netError('NET_PROTOCOL', `user information item at offset ${it.offset} has no maximum length sub-item`, { offset: it.offset });
  return {
    maxPduLength,
    ...(implementationClassUID !== undefined ? { implementationClassUID } : {}),
    ...(implementationVersionName !== undefined ? { implementationVersionName } : {}),
    ...(otherItems.length ? { otherItems } : {}),
  };
}

function checkContextId(id: number, offset: number): void {
  if (id % 2 === 0) throw netError('NET_PROTOCOL', `presentation context ID ${id} at offset ${offset} is not odd`, { offset });
}

function decodeAssociate(kind: 'A-ASSOCIATE-RQ' | 'A-ASSOCIATE-AC', body: Buffer): AssociateRq | AssociateAc {
  if (body.length < 68) throw netError('NET_PROTOCOL', `${kind} is ${body.length} bytes, shorter than its 68-byte fixed part`, { offset: PDU_HEADER_LENGTH });
  const protocolVersion = body.readUInt16BE(0);
  const calledAE = readAE(body, 4);
  const callingAE = readAE(body, 20);
  let applicationContext: string | undefined;
  let userInformation: UserInformation | undefined;
  const rqContexts: PresentationContextRq[] = [];
  const acContexts: PresentationContextAc[] = [];
  const seen = new Set<number>();
  for (const it of splitItems(body.subarray(68), PDU_HEADER_LENGTH + 68, kind)) {
    switch (it.type) {
      case ITEM.APPLICATION_CONTEXT:
        if (applicationContext !== undefined) throw netError('NET_PROTOCOL', `${kind} has two application context items`, { offset: it.offset });
        applicationContext = readUid(it.value, 'application context name', it.offset);
        break;
      case ITEM.PRESENTATION_CONTEXT_RQ:
      case ITEM.PRESENTATION_CONTEXT_AC: {
        const expected = kind === 'A-ASSOCIATE-RQ' ? ITEM.PRESENTATION_CONTEXT_RQ : ITEM.PRESENTATION_CONTEXT_AC;
        if (it.type !== expected) throw netError('NET_PROTOCOL', `${kind} holds a presentation context item of type 0x${it.type.toString(16)}`, { offset: it.offset });
        if (it.value.length < 4) throw netError('NET_PROTOCOL', `presentation context item at offset ${it.offset} is too short`, { offset: it.offset });
        const id = it.value.readUInt8(0);
        checkContextId(id, it.offset + 4);
        if (seen.has(id)) throw netError('NET_PROTOCOL', `presentation context ID ${id} appears twice`, { offset: it.offset });
        seen.add(id);
        const subs = splitItems(it.value.subarray(4), it.offset + 8, 'presentation context');
        if (kind === 'A-ASSOCIATE-RQ') {
          const abstract = subs.filter((s) => s.type === ITEM.ABSTRACT_SYNTAX);
          const transfer = subs.filter((s) => s.type === ITEM.TRANSFER_SYNTAX);
          if (abstract.length !== 1 || transfer.length === 0) {
            throw netError('NET_PROTOCOL', `presentation context ${id} needs one abstract syntax and at least one transfer syntax`, { offset: it.offset });
          }
          rqContexts.push({
            id,
            abstractSyntax: readUid(abstract[0]!.value, 'abstract syntax', abstract[0]!.offset),
            transferSyntaxes: transfer.map((t) => readUid(t.value, 'transfer syntax', t.offset)),
          });
        } else {
          const result = it.value.readUInt8(2);
          const transfer = subs.filter((s) => s.type === ITEM.TRANSFER_SYNTAX);
          if (result === PC_RESULT.ACCEPTANCE && transfer.length !== 1) {
            throw netError('NET_PROTOCOL', `accepted presentation context ${id} has ${transfer.length} transfer syntaxes, not 1`, { offset: it.offset });
          }
          const ts = result === PC_RESULT.ACCEPTANCE ? readUid(transfer[0]!.value, 'transfer syntax', transfer[0]!.offset) : '';
          acContexts.push({ id, result, transferSyntax: ts });
        }
        break;
      }
      case ITEM.USER_INFORMATION:
        if (userInformation !== undefined) throw netError('NET_PROTOCOL', `${kind} has two user information items`, { offset: it.offset });
        userInformation = decodeUserInformation(it);
        break;
      default:
        // Unknown items are skipped (PS3.8 §9.3.1); their length was checked.
        break;
    }
  }
  if (applicationContext === undefined) throw netError('NET_PROTOCOL', `${kind} has no application context item`);
  if (userInformation === undefined) throw netError('NET_PROTOCOL', `${kind} has no user information item`);
  if (kind === 'A-ASSOCIATE-RQ') {
    if (rqContexts.length === 0) throw netError('NET_PROTOCOL', 'A-ASSOCIATE-RQ proposes no presentation context');
    return { type: kind, protocolVersion, calledAE, callingAE, applicationContext, presentationContexts: rqContexts, userInformation };
  }
  return { type: kind, protocolVersion, calledAE, callingAE, applicationContext, presentationContexts: acContexts, userInformation };
}

function decodePData(body: Buffer): PDataTf {
  const pdvs: Pdv[] = [];
  let p = 0;
  while (p < body.length) {
    const at = PDU_HEADER_LENGTH + p;
    if (body.length - p < PDV_HEADER_LENGTH) throw netError('NET_PROTOCOL', `P-DATA-TF: truncated PDV header at offset ${at}`, { offset: at });
    const length = body.readUInt32BE(p);
    if (length < 2 || length > body.length - p - 4) {
      throw netError('NET_PROTOCOL', `P-DATA-TF: PDV at offset ${at} claims ${length} bytes, ${body.length - p - 4} remain`, { offset: at });
    }
    const contextId = body.readUInt8(p + 4);
    checkContextId(contextId, at + 4);
    const control = body.readUInt8(p + 5); // bits 2-7 reserved: sent as 0, not tested (PS3.8 Annex E.2)
    pdvs.push({ contextId, command: (control & 0x01) !== 0, last: (control & 0x02) !== 0, data: body.subarray(p + 6, p + 4 + length) });
    p += 4 + length;
  }
  if (pdvs.length === 0) throw netError('NET_PROTOCOL', 'P-DATA-TF without any PDV', { offset: PDU_HEADER_LENGTH });
  return { type: 'P-DATA-TF', pdvs };
}

/** Decodes a PDU from its type and the bytes after its 6-byte header. */
export function decodePdu(type: number, body: Buffer): Pdu {
  switch (type) {
    case PDU_TYPE.ASSOCIATE_RQ:
      return decodeAssociate('A-ASSOCIATE-RQ', body);
    case PDU_TYPE.ASSOCIATE_AC:
      return decodeAssociate('A-ASSOCIATE-AC', body);
    case PDU_TYPE.P_DATA_TF:
      return decodePData(body);
    case PDU_TYPE.ASSOCIATE_RJ:
    case PDU_TYPE.RELEASE_RQ:
    case PDU_TYPE.RELEASE_RP:
    case PDU_TYPE.ABORT: {
      if (body.length !== 4) throw netError('NET_PROTOCOL', `PDU type 0x0${type} has length ${body.length}, not 4`, { offset: 2 });
      if (type === PDU_TYPE.ASSOCIATE_RJ) return { type: 'A-ASSOCIATE-RJ', result: body.readUInt8(1), source: body.readUInt8(2), reason: body.readUInt8(3) };
      if (type === PDU_TYPE.RELEASE_RQ) return { type: 'A-RELEASE-RQ' };
      if (type === PDU_TYPE.RELEASE_RP) return { type: 'A-RELEASE-RP' };
      return { type: 'A-ABORT', source: body.readUInt8(2), reason: body.readUInt8(3) };
    }
    default:
      throw netError('NET_PROTOCOL', `unknown PDU type 0x${type.toString(16).padStart(2, '0')}`, { offset: 0, pduType: type, ourAbortReason: 1 });
  }
}

/** Decodes one whole PDU (header included); for tests and tools. */
export function decodePduBuffer(buf: Buffer): Pdu {
  const framer = new PduFramer({ maxPDataLength: ABSOLUTE_MAX_PDU_LENGTH });
  framer.push(buf);
  const pdu = framer.next();
  if (pdu === undefined) throw netError('NET_PROTOCOL', `truncated PDU: ${buf.length} bytes`, { offset: buf.length });
  if (framer.pending !== 0) throw netError('NET_PROTOCOL', `${framer.pending} bytes after the PDU`, { offset: buf.length - framer.pending });
  return pdu;
}

// ---- Framing ------------------------------------------------------------------------------------------

export interface FramerLimits {
  /** The Maximum Length we announced: P-DATA-TF PDUs longer than this are refused. */
  readonly maxPDataLength: number;
  readonly maxAssociateLength?: number;
}

/**
 * Cuts the byte stream from the peer into PDUs. The header is checked as soon as its 6 bytes are
 * here, so an absurd length is refused before anything is buffered for it; at most one PDU (bounded
 * by the limits) plus one read chunk is ever held.
 */
export class PduFramer {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly maxPData: number;
  private readonly maxAssociate: number;

  constructor(limits: FramerLimits) {
    this.maxPData = Math.min(limits.maxPDataLength || ABSOLUTE_MAX_PDU_LENGTH, ABSOLUTE_MAX_PDU_LENGTH);
    this.maxAssociate = Math.min(limits.maxAssociateLength ?? MAX_ASSOCIATE_PDU_LENGTH, ABSOLUTE_MAX_PDU_LENGTH);
  }

  /** Bytes received and not yet returned as a PDU. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete PDU, or undefined until more bytes arrive. */
  next(): Pdu | undefined {
    if (this.buffered < PDU_HEADER_LENGTH) return undefined;
    const header = this.peek(PDU_HEADER_LENGTH);
    const type = header.readUInt8(0);
    const length = header.readUInt32BE(2);
    this.checkHeader(type, length);
    if (this.buffered < PDU_HEADER_LENGTH + length) return undefined;
    this.take(PDU_HEADER_LENGTH);
    return decodePdu(type, this.take(length));
  }

  private checkHeader(type: number, length: number): void {
    let limit: number;
    switch (type) {
      case PDU_TYPE.ASSOCIATE_RQ:
      case PDU_TYPE.ASSOCIATE_AC:
        limit = this.maxAssociate;
        break;
      case PDU_TYPE.P_DATA_TF:
        limit = this.maxPData;
        break;
      case PDU_TYPE.ASSOCIATE_RJ:
      case PDU_TYPE.RELEASE_RQ:
      case PDU_TYPE.RELEASE_RP:
      case PDU_TYPE.ABORT:
        limit = 4;
        break;
      default:
        throw netError('NET_PROTOCOL', `unknown PDU type 0x${type.toString(16).padStart(2, '0')} (not a DICOM upper layer peer?)`, { offset: 0, pduType: type, ourAbortReason: 1 });
    }
    if (length > limit) {
      throw netError('NET_PROTOCOL', `PDU type 0x${type.toString(16).padStart(2, '0')} announces ${length} bytes, more than the ${limit} allowed`, { offset: 2, pduType: type, length });
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.alloc(n);
    let filled = 0;
    for (const c of this.chunks) {
      filled += c.copy(out, filled, 0, Math.min(c.length, n - filled));
      if (filled === n) break;
    }
    return out;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
