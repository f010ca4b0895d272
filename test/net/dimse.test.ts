/**
 * DIMSE command sets (PS3.7 §6.3, §9.3, Annex E): the exact bytes of a C-ECHO-RQ in Implicit VR Little
 * Endian, round trips of C-STORE-RQ/RSP, hostile command sets refused, and the status table (Annex C,
 * PS3.4 B.2.3) mapped to categories and words.
 */
import { describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';
import { COMMAND_FIELD, decodeCommand, describeStatus, encodeCommand, type Command } from '../../src/net/dimse.js';

function element(group: number, elem: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(elem, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}
const us = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
const ul = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

function expectProtocolError(f: () => unknown, pattern: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(DcmsafeError);
  expect((error as DcmsafeError).code).toBe('NET_PROTOCOL');
  expect((error as DcmsafeError).message).toMatch(pattern);
}

describe('command sets', () => {
  it('encodes a C-ECHO-RQ byte for byte (group length, tags ascending, UI padded with NUL)', () => {
    const body = Buffer.concat([
      element(0x0000, 0x0002, Buffer.from('1.2.840.10008.1.1\0', 'latin1')), // Affected SOP Class UID, 17 chars + NUL
      element(0x0000, 0x0100, us(0x0030)), // Command Field
      element(0x0000, 0x0110, us(7)), // Message ID
      element(0x0000, 0x0800, us(0x0101)), // Command Data Set Type: none
    ]);
    const expected = Buffer.concat([element(0x0000, 0x0000, ul(body.length)), body]);
    const got = encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RQ, messageId: 7, affectedSOPClassUID: '1.2.840.10008.1.1', hasDataSet: false });
    expect(got.toString('hex')).toBe(expected.toString('hex'));
    expect(body.length).toBe(56);
  });

  it('round-trips C-STORE-RQ with a move originator and C-STORE-RSP with an error comment', () => {
    const rq: Command = {
      commandField: COMMAND_FIELD.C_STORE_RQ,
      messageId: 0xffff,
      affectedSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      affectedSOPInstanceUID: '1.2.3.4.5',
      priority: 2,
      hasDataSet: true,
      moveOriginatorAE: 'MOVER',
      moveOriginatorMessageId: 12,
    };
    expect(decodeCommand(encodeCommand(rq))).toEqual(rq);
    const rsp: Command = {
      commandField: COMMAND_FIELD.C_STORE_RSP,
      messageIdBeingRespondedTo: 3,
      affectedSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      affectedSOPInstanceUID: '1.2.3.4.5',
      hasDataSet: false,
      status: 0xa700,
      errorComment: 'disk full',
      offendingElements: [0x00100010],
    };
    expect(decodeCommand(encodeCommand(rsp))).toEqual(rsp);
  });

  it('refuses malformed command sets', () => {
    const good = encodeCommand({ commandField: COMMAND_FIELD.C_ECHO_RQ, messageId: 1, hasDataSet: false });
    expectProtocolError(() => decodeCommand(good.subarray(0, good.length - 1)), /claims 2 bytes/);
    expectProtocolError(() => decodeCommand(good.subarray(0, good.length - 3)), /truncated element header/);
    expectProtocolError(() => decodeCommand(Buffer.concat([good, element(0x0008, 0x0016, Buffer.alloc(2))])), /outside group 0000/);
    expectProtocolError(() => decodeCommand(Buffer.concat([element(0x0000, 0x0100, ul(0x30)), element(0x0000, 0x0800, us(0x0101))])), /wrong for US/);
    expectProtocolError(() => decodeCommand(Buffer.concat([element(0x0000, 0x0100, us(0x30)), element(0x0000, 0x0100, us(0x30))])), /appears twice/);
    expectProtocolError(() => decodeCommand(element(0x0000, 0x0800, us(0x0101))), /without Command Field/);
    expectProtocolError(() => decodeCommand(element(0x0000, 0x0100, us(0x30))), /without Command Data Set Type/);
  });
});

describe('status codes', () => {
  const table: Array<[number, string, string]> = [
    [0x0000, 'success', '0000 success'],
    [0x0001, 'warning', '0001 requested optional attributes are not supported'],
    [0xb000, 'warning', 'B000 coercion of data elements'],
    [0xb006, 'warning', 'B006 elements discarded'],
    [0xb007, 'warning', 'B007 data set does not match SOP class'],
    [0xb123, 'warning', 'B123 warning'],
    [0x0107, 'warning', '0107 attribute list error'],
    [0x0116, 'warning', '0116 attribute value out of range'],
    [0xa700, 'failure', 'A700 out of resources'],
    [0xa7ff, 'failure', 'A7FF out of resources'],
    [0xa900, 'failure', 'A900 data set does not match SOP class'],
    [0xa9ab, 'failure', 'A9AB data set does not match SOP class'],
    [0xc000, 'failure', 'C000 cannot understand'],
    [0xcfff, 'failure', 'CFFF cannot understand'],
    [0xa801, 'failure', 'A801 refused'],
    [0x0122, 'failure', '0122 SOP class not supported'],
    [0x0124, 'failure', '0124 not authorized'],
    [0x0211, 'failure', '0211 unrecognized operation'],
    [0x0212, 'failure', '0212 mistyped argument'],
    [0x0110, 'failure', '0110 processing failure'],
    [0xfe00, 'failure', 'FE00 cancelled'],
    [0xff00, 'failure', 'FF00 pending (not a final status for this operation)'],
    [0x1234, 'failure', '1234 unknown status'],
  ];
  it.each(table)('0x%s maps to %s: %s', (status, category, meaning) => {
    expect(describeStatus(status)).toEqual({ status, category, meaning });
  });

  it('keeps the error comment', () => {
    expect(describeStatus(0xa700, 'no space left')).toEqual({ status: 0xa700, category: 'failure', meaning: 'A700 out of resources', errorComment: 'no space left' });
  });
});
