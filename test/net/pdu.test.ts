/**
 * Upper Layer PDUs (PS3.8 §9.3): every PDU type encodes and decodes back to itself, the fixed fields
 * sit at their offsets, the framer cuts any chunking of the stream into the same PDUs, and hostile
 * input (short, absurd lengths, unknown types, broken items) is a NET_PROTOCOL error, never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../../src/dicom/part10/writer.js';
import { DcmsafeError } from '../../src/errors/index.js';
import {
  decodePduBuffer,
  describeAbort,
  describeReject,
  encodePDataHeader,
  encodePdu,
  isValidAETitle,
  PduFramer,
  type AssociateAc,
  type AssociateRq,
  type Pdu,
} from '../../src/net/pdu.js';

const RQ: AssociateRq = {
  type: 'A-ASSOCIATE-RQ',
  protocolVersion: 1,
  calledAE: 'STORESCP',
  callingAE: 'DCMSAFE',
  applicationContext: '1.2.840.10008.3.1.1.1',
  presentationContexts: [
    { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2'] },
    { id: 3, abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: ['1.2.840.10008.1.2.4.50'] },
  ],
  userInformation: { maxPduLength: 262144, implementationClassUID: IMPLEMENTATION_CLASS_UID, implementationVersionName: IMPLEMENTATION_VERSION_NAME },
};

const AC: AssociateAc = {
  type: 'A-ASSOCIATE-AC',
  protocolVersion: 1,
  calledAE: 'STORESCP',
  callingAE: 'DCMSAFE',
  applicationContext: '1.2.840.10008.3.1.1.1',
  presentationContexts: [
    { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2.1' },
    { id: 3, result: 4, transferSyntax: '' },
  ],
  userInformation: { maxPduLength: 16384, implementationClassUID: '1.2.276.0.7230010.3.0.3.6.7', implementationVersionName: 'OFFIS_DCMTK_367' },
};

const ALL: Pdu[] = [
  RQ,
  AC,
  { type: 'A-ASSOCIATE-RJ', result: 1, source: 1, reason: 7 },
  {
    type: 'P-DATA-TF',
    pdvs: [
      { contextId: 1, command: true, last: true, data: Buffer.from('command bytes') },
      { contextId: 1, command: false, last: false, data: Buffer.alloc(1000, 7) },
    ],
  },
  { type: 'A-RELEASE-RQ' },
  { type: 'A-RELEASE-RP' },
  { type: 'A-ABORT', source: 2, reason: 6 },
];

function expectProtocolError(f: () => unknown, pattern?: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DcmsafeError);
    expect((e as DcmsafeError).code).toBe('NET_PROTOCOL');
    if (pattern) expect((e as DcmsafeError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected NET_PROTOCOL');
}

describe('PDU round trips', () => {
  it.each(ALL.map((p) => [p.type, p] as const))('%s decodes to what was encoded', (_name, pdu) => {
    expect(decodePduBuffer(encodePdu(pdu))).toEqual(pdu);
  });

  it('A-ASSOCIATE-RQ fixed fields sit at their PS3.8 offsets', () => {
    const b = encodePdu(RQ);
    expect(b[0]).toBe(0x01); // PDU type
    expect(b.readUInt32BE(2)).toBe(b.length - 6); // PDU length
    expect(b.readUInt16BE(6)).toBe(0x0001); // protocol version
    expect(b.toString('latin1', 10, 26)).toBe('STORESCP        '); // called AE title
    expect(b.toString('latin1', 26, 42)).toBe('DCMSAFE         '); // calling AE title
    expect(b.subarray(42, 74).every((x) => x === 0)).toBe(true); // reserved
    expect(b[74]).toBe(0x10); // application context item first
    expect(b.toString('latin1', 78, 78 + b.readUInt16BE(76))).toBe('1.2.840.10008.3.1.1.1');
  });

  it('the P-DATA-TF header for one PDV has the lengths and control bits of PS3.8 §9.3.5', () => {
    const h = encodePDataHeader(5, false, true, 100);
    expect([...h]).toEqual([0x04, 0, 0, 0, 0, 106, 0, 0, 0, 102, 5, 0x02]);
    expect(encodePDataHeader(3, true, false, 0)[11]).toBe(0x01);
  });

  it('decodes whatever the chunking of the stream', () => {
    const stream = Buffer.concat(ALL.map(encodePdu));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 40 }), (cuts) => {
        const framer = new PduFramer({ maxPDataLength: 16384 });
        const out: Pdu[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts[i % cuts.length]!;
          framer.push(stream.subarray(at, at + n));
          at += n;
          for (let p = framer.next(); p; p = framer.next()) out.push(p);
        }
        expect(out).toEqual(ALL);
        expect(framer.pending).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('accepts UIDs padded with NUL, as some peers send them, and skips unknown items', () => {
    const b = encodePdu({ ...AC, applicationContext: '1.2.840.10008.3.1.1.1\0' });
    expect((decodePduBuffer(b) as AssociateAc).applicationContext).toBe('1.2.840.10008.3.1.1.1');
    const extra = Buffer.from([0x70, 0, 0, 2, 9, 9]); // unknown item type 0x70
    const withExtra = Buffer.concat([b, extra]);
    withExtra.writeUInt32BE(withExtra.length - 6, 2);
    expect((decodePduBuffer(withExtra) as AssociateAc).presentationContexts).toHaveLength(2);
  });
});

describe('hostile PDUs', () => {
  it('refuses a truncated PDU', () => {
    const b = encodePdu(RQ);
    expectProtocolError(() => decodePduBuffer(b.subarray(0, b.length - 1)), /truncated/);
    expectProtocolError(() => decodePduBuffer(b.subarray(0, 3)), /truncated/);
  });

  it('refuses an absurd length from the header alone, before buffering', () => {
    const framer = new PduFramer({ maxPDataLength: 16384 });
    framer.push(Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xff]));
    expectProtocolError(() => framer.next(), /announces 4294967295 bytes, more than the 16384/);
    const rq = new PduFramer({ maxPDataLength: 16384 });
    rq.push(Buffer.from([0x01, 0, 0x10, 0, 0, 0]));
    expectProtocolError(() => rq.next(), /more than the 1048576/);
  });

  it('refuses a P-DATA-TF longer than the maximum length we announced', () => {
    const pdu = encodePdu({ type: 'P-DATA-TF', pdvs: [{ contextId: 1, command: false, last: true, data: Buffer.alloc(16384 - 6 + 1) }] });
    const framer = new PduFramer({ maxPDataLength: 16384 });
    framer.push(pdu.subarray(0, 6));
    expectProtocolError(() => framer.next(), /16385 bytes, more than the 16384/);
    const ok = encodePdu({ type: 'P-DATA-TF', pdvs: [{ contextId: 1, command: false, last: true, data: Buffer.alloc(16384 - 6) }] });
    const framer2 = new PduFramer({ maxPDataLength: 16384 });
    framer2.push(ok);
    expect(framer2.next()?.type).toBe('P-DATA-TF');
  });

  it('refuses unknown PDU types, such as a TLS ClientHello sent to a plain port', () => {
    expectProtocolError(() => decodePduBuffer(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])), /unknown PDU type 0x16/);
    expectProtocolError(() => decodePduBuffer(Buffer.from([0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0])), /unknown PDU type 0x08/);
  });

  it('refuses fixed-length PDUs of the wrong length', () => {
    expectProtocolError(() => decodePduBuffer(Buffer.from([0x03, 0, 0, 0, 0, 3, 0, 1, 1])), /not 4|allowed/);
    expectProtocolError(() => decodePduBuffer(Buffer.from([0x05, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0])), /allowed/);
  });

  it('refuses items longer than what holds them', () => {
    const b = Buffer.from(encodePdu(RQ));
    b.writeUInt16BE(0xfff0, 76); // application context item length
    expectProtocolError(() => decodePduBuffer(b), /claims 65520 bytes/);
  });

  it('refuses PDVs with impossible lengths or even context IDs', () => {
    const pdata = (pdvLength: number, contextId: number, bodyExtra = 0): Buffer => {
      const body = Buffer.alloc(6 + bodyExtra);
      body.writeUInt32BE(pdvLength, 0);
      body.writeUInt8(contextId, 4);
      return Buffer.concat([Buffer.from([0x04, 0, 0, 0, 0, body.length]), body]);
    };
    expectProtocolError(() => decodePduBuffer(pdata(1, 1)), /claims 1 bytes/);
    expectProtocolError(() => decodePduBuffer(pdata(100, 1)), /claims 100 bytes/);
    expectProtocolError(() => decodePduBuffer(pdata(2, 2)), /not odd/);
    expectProtocolError(() => decodePduBuffer(Buffer.from([0x04, 0, 0, 0, 0, 0])), /without any PDV/);
  });

  it('refuses associations without the required items, or with non-UID syntaxes', () => {
    const noUser = Buffer.from(encodePdu({ ...RQ, userInformation: { maxPduLength: 1 } }));
    const uiAt = noUser.length - 12; // user information item: header 4 + max length sub-item 8
    expect(noUser[uiAt]).toBe(0x50);
    const truncatedUser = Buffer.from(noUser.subarray(0, uiAt));
    truncatedUser.writeUInt32BE(truncatedUser.length - 6, 2);
    expectProtocolError(() => decodePduBuffer(truncatedUser), /no user information/);
    expectProtocolError(() => decodePduBuffer(encodePdu({ ...RQ, presentationContexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.x'] }] })), /not a UID/);
    expectProtocolError(() => decodePduBuffer(encodePdu({ ...RQ, presentationContexts: [] })), /no presentation context/);
  });

  it('turns random bytes into PDUs or NET_PROTOCOL errors, nothing else', () => {
    const seeds = ALL.map(encodePdu);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (i, flips) => {
        const b = Buffer.from(seeds[i]!);
        for (const [at, v] of flips) b[at % b.length] = v;
        try {
          decodePduBuffer(b);
        } catch (e) {
          expect(e).toBeInstanceOf(DcmsafeError);
          expect((e as DcmsafeError).code).toBe('NET_PROTOCOL');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('reasons in words', () => {
  it('decodes A-ASSOCIATE-RJ results, sources and reasons', () => {
    expect(describeReject({ result: 1, source: 1, reason: 7 })).toBe('association rejected permanently by the called application (service user): called AE title not recognized');
    expect(describeReject({ result: 1, source: 1, reason: 3 })).toMatch(/calling AE title not recognized/);
    expect(describeReject({ result: 2, source: 3, reason: 2 })).toMatch(/rejected transiently .* local limit exceeded/);
    expect(describeReject({ result: 1, source: 2, reason: 2 })).toMatch(/protocol version not supported/);
  });

  it('decodes A-ABORT sources and reasons', () => {
    expect(describeAbort({ source: 0, reason: 0 })).toMatch(/service user/);
    expect(describeAbort({ source: 2, reason: 1 })).toMatch(/unrecognized PDU$/);
  });

  it('validates AE titles', () => {
    expect(isValidAETitle('STORESCP')).toBe(true);
    expect(isValidAETitle('A'.repeat(16))).toBe(true);
    expect(isValidAETitle('A'.repeat(17))).toBe(false);
    expect(isValidAETitle('')).toBe(false);
    expect(isValidAETitle('    ')).toBe(false);
    expect(isValidAETitle('A\\B')).toBe(false);
    expect(isValidAETitle('A\nB')).toBe(false);
  });
});
