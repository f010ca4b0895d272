/**
 * Fuzz target: the DICOM upper layer PDU decoder (PS3.8 §9.3): decodePduBuffer on the whole input, and
 * the stream framer (PduFramer) fed the same bytes in chunks of varied sizes, decoding every PDU it
 * cuts out (an input may hold several PDUs, as a connection does).
 *
 * Fields: PDU type and length, item types and lengths, presentation context IDs, sub-item lengths,
 * Maximum Length Received, PDV lengths, context IDs and message control headers. A PDU that decodes
 * must decode the same after encodePdu (what is read is what would be sent).
 */
import { DICOM_APPLICATION_CONTEXT, PC_RESULT, PDU_TYPE, PduFramer, decodePduBuffer, encodePdu, type Pdu } from '../../net/pdu.js';
import { DcmsafeError } from '../../errors/index.js';
import type { Field, Seed } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

const VERIFICATION = '1.2.840.10008.1.1';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
const ELE = '1.2.840.10008.1.2.1';
const ILE = '1.2.840.10008.1.2';
const JPEG_LOSSLESS = '1.2.840.10008.1.2.4.70';

/** Fields of a run of items (type 1, reserved 1, length 2): `sub` tells which items hold sub-items after `skip` bytes. */
function itemFields(buf: Buffer, start: number, end: number, out: Field[], depth = 0): void {
  let p = start;
  while (p + 4 <= end && depth < 4) {
    const type = buf[p] as number;
    const length = buf.readUInt16BE(p + 2);
    out.push({ offset: p, size: 1, endian: 'be' }, { offset: p + 2, size: 2, endian: 'be' });
    const value = p + 4;
    if (value + length > end) return;
    if (type === 0x20 || type === 0x21) {
      // Presentation context: ID, reserved, result/reason, reserved, then sub-items.
      out.push({ offset: value, size: 1, endian: 'be' }, { offset: value + 2, size: 1, endian: 'be' });
      itemFields(buf, value + 4, value + length, out, depth + 1);
    } else if (type === 0x50) {
      itemFields(buf, value, value + length, out, depth + 1);
    } else if (type === 0x51 && length === 4) {
      out.push({ offset: value, size: 4, endian: 'be' }); // Maximum Length Received
    }
    p = value + length;
  }
}

/** Fields of every PDU in a stream of them. */
export function pduFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let p = 0;
  while (p + 6 <= buf.length) {
    const type = buf[p] as number;
    const length = buf.readUInt32BE(p + 2);
    out.push({ offset: p, size: 1, endian: 'be' }, { offset: p + 2, size: 4, endian: 'be' });
    const body = p + 6;
    const end = Math.min(buf.length, body + length);
    if (type === PDU_TYPE.ASSOCIATE_RQ || type === PDU_TYPE.ASSOCIATE_AC) {
      out.push({ offset: body, size: 2, endian: 'be' }); // protocol version
      itemFields(buf, body + 68, end, out);
    } else if (type === PDU_TYPE.P_DATA_TF) {
      let q = body;
      while (q + 6 <= end) {
        out.push({ offset: q, size: 4, endian: 'be' }, { offset: q + 4, size: 1, endian: 'be' }, { offset: q + 5, size: 1, endian: 'be' });
        q += 4 + buf.readUInt32BE(q);
      }
    } else {
      for (let i = body; i < end; i++) out.push({ offset: i, size: 1, endian: 'be' });
    }
    p = body + length;
  }
  return out;
}

const userInformation = { maxPduLength: 16384, implementationClassUID: '1.2.826.0.1.3680043.10.1', implementationVersionName: 'DCMSAFE_FUZZ' };

/** The PDUs of an association, each kind at least once. */
function pdus(): Array<[string, Pdu]> {
  const rq: Pdu = {
    type: 'A-ASSOCIATE-RQ',
    protocolVersion: 1,
    calledAE: 'PACS',
    callingAE: 'DCMSAFE',
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [
      { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [ELE, ILE] },
      { id: 3, abstractSyntax: CT_IMAGE, transferSyntaxes: [JPEG_LOSSLESS, ELE] },
      { id: 5, abstractSyntax: MR_IMAGE, transferSyntaxes: [ELE] },
    ],
    userInformation,
  };
  // As dcmtk's storescu sends it: role selection (0x54) and asynchronous operations window (0x53) sub-items.
  const roleSelection = Buffer.concat([Buffer.from([0, CT_IMAGE.length]), Buffer.from(CT_IMAGE, 'latin1'), Buffer.from([1, 0])]);
  const dcmtkRq: Pdu = {
    type: 'A-ASSOCIATE-RQ',
    protocolVersion: 1,
    calledAE: 'ANY-SCP',
    callingAE: 'STORESCU',
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [{ id: 1, abstractSyntax: CT_IMAGE, transferSyntaxes: [ELE, '1.2.840.10008.1.2.2', ILE] }],
    userInformation: {
      maxPduLength: 116794,
      implementationClassUID: '1.2.276.0.7230010.3.0.3.6.8',
      implementationVersionName: 'OFFIS_DCMTK_368',
      otherItems: [
        { type: 0x53, value: Buffer.from([0, 1, 0, 1]) },
        { type: 0x54, value: roleSelection },
      ],
    },
  };
  const ac: Pdu = {
    type: 'A-ASSOCIATE-AC',
    protocolVersion: 1,
    calledAE: 'PACS',
    callingAE: 'DCMSAFE',
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [
      { id: 1, result: PC_RESULT.ACCEPTANCE, transferSyntax: ELE },
      { id: 3, result: PC_RESULT.ACCEPTANCE, transferSyntax: JPEG_LOSSLESS },
      { id: 5, result: 3, transferSyntax: '' },
    ],
    userInformation: { maxPduLength: 0, implementationClassUID: '1.2.3.4' },
  };
  const command = Buffer.alloc(80, 0x11);
  const data = Buffer.alloc(300, 0x22);
  const pdata: Pdu = {
    type: 'P-DATA-TF',
    pdvs: [
      { contextId: 3, command: true, last: true, data: command },
      { contextId: 3, command: false, last: false, data: data.subarray(0, 100) },
      { contextId: 3, command: false, last: true, data: data.subarray(100) },
    ],
  };
  return [
    ['A-ASSOCIATE-RQ', rq],
    ['A-ASSOCIATE-RQ as dcmtk sends it', dcmtkRq],
    ['A-ASSOCIATE-AC', ac],
    ['A-ASSOCIATE-RJ', { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 }],
    ['P-DATA-TF', pdata],
    ['A-RELEASE-RQ', { type: 'A-RELEASE-RQ' }],
    ['A-RELEASE-RP', { type: 'A-RELEASE-RP' }],
    ['A-ABORT', { type: 'A-ABORT', source: 2, reason: 6 }],
  ];
}

/** Chunk sizes from the input itself (xorshift seeded by its length and first bytes): deterministic per input. */
function* chunkSizes(input: Buffer): Generator<number> {
  let x = (input.length * 2654435761) ^ (input.readUInt32BE(0) | 0) ^ 0x9e3779b9 || 1;
  for (;;) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const r = (x >>> 0) % 100;
    yield r < 30 ? 1 + (r % 3) : r < 70 ? 1 + (r % 16) : 1 + ((x >>> 8) % 4096);
  }
}

function canonical(pdu: Pdu): string {
  return JSON.stringify(pdu, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('hex') : v));
}

export const pduTarget: FuzzTarget = {
  name: 'pdu',
  description: 'DICOM upper layer PDUs: decodePduBuffer, and PduFramer fed the bytes in random-sized chunks',
  async seeds() {
    const all = pdus().map(([name, pdu]) => ({ name: `ours:${name}`, bytes: encodePdu(pdu) }));
    // A whole association as the framer sees it: several PDUs back to back.
    const byName = new Map(all.map((s) => [s.name, s.bytes]));
    const stream = ['ours:A-ASSOCIATE-AC', 'ours:P-DATA-TF', 'ours:P-DATA-TF', 'ours:A-RELEASE-RP'].map((n) => byName.get(n) as Buffer);
    all.push({ name: 'ours:AC, two P-DATA-TF, RELEASE-RP back to back', bytes: Buffer.concat(stream) });
    return all.map((s): Seed => ({ ...s, fields: pduFields(s.bytes) }));
  },
  async run(input) {
    let first: unknown;
    let n = 0;
    try {
      const pdu = decodePduBuffer(input);
      n += pdu.type.length;
      // What was read is what we would send again: decode(encode(pdu)) is pdu.
      const again = decodePduBuffer(encodePdu(pdu));
      if (canonical(again) !== canonical(pdu)) throw new DcmsafeError('INTERNAL', `${pdu.type} does not survive encode and decode: ${canonical(pdu).slice(0, 300)} became ${canonical(again).slice(0, 300)}`);
    } catch (e) {
      first = e;
    }
    try {
      // The Maximum Length we would announce (16 KiB), so the framer's limit is hit too.
      const framer = new PduFramer({ maxPDataLength: 16384 });
      const sizes = input.length >= 4 ? chunkSizes(input) : undefined;
      for (let at = 0; at < input.length; ) {
        const size = sizes ? (sizes.next().value as number) : input.length;
        framer.push(input.subarray(at, at + size));
        at += size;
        for (let pdu = framer.next(); pdu !== undefined; pdu = framer.next()) n++;
      }
    } catch (e) {
      first ??= e;
    }
    if (first !== undefined) throw first;
    return n;
  },
};
