/**
 * DICOM Digital Signatures (PS3.15 Annex C): the MAC stream rules (PS3.3 C.12.1.1.3.1.1, as dcmtk's
 * dcmsign computes it), signing and checking round trips for the six MAC algorithms, and hostile
 * signature items (truncated, bad lengths, wrong certificate type, wrong MAC ID...) that must give
 * typed results, never a crash. The interop tests check the same against dcmsign itself.
 */
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DcmsafeError } from '../../src/errors/index.js';
import { DataSet } from '../../src/dicom/dataset.js';
import { ReaderByteSource } from '../../src/dicom/part10/byte-source.js';
import { buildDataSet, ELE, encodePart10, makeElement } from '../../src/dicom/part10/writer.js';
import { canonicalDataSet, canonicalValue } from '../../src/dicom/signature/canonical.js';
import { MAC_ALGORITHMS, macElement, type MacAlgorithm } from '../../src/dicom/signature/mac.js';
import { openSigned, signatureDateTime, TAG, type DicomSigner } from '../../src/dicom/signature/sign.js';
import { checkDicomSignatures, MAX_MAC_PARAMETERS, parseDateTime } from '../../src/dicom/signature/verify.js';
import { T } from '../../src/dicom/tags.js';
import { BufferReader } from '../../src/media/io/random-access-reader.js';
import { issueCertificate } from '../../src/security/pki/issue.js';

const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.7';
const SOP_INSTANCE = '2.25.1234567890';
const NOW = new Date('2025-06-01T12:00:00.123Z');

let signer: DicomSigner;

beforeAll(() => {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certificate = issueCertificate({
    subject: { CN: 'Unit signer', O: 'dcmsafe tests' },
    publicKey: key.publicKey,
    signingKey: key.privateKey,
    serialNumber: 7n,
    notBefore: new Date('2024-01-01'),
    notAfter: new Date('2060-01-01'),
    keyUsage: ['digitalSignature', 'nonRepudiation'],
  });
  signer = { certificate, privateKey: key.privateKey, algorithm: 'SHA256', profile: 'base' };
});

function instance(): Buffer {
  const code = buildDataSet([
    [0x00080100, 'SH', '121'],
    [0x00080102, 'SH', 'DCM'],
  ]);
  const ds = buildDataSet([
    [T.SOPClassUID, 'UI', SOP_CLASS],
    [T.SOPInstanceUID, 'UI', SOP_INSTANCE],
    [T.PatientName, 'PN', 'Doe^Jane'],
    [T.PatientID, 'LO', 'P1'],
    [0x00400260, 'SQ', [code]],
    [T.Rows, 'US', 4],
    [T.Columns, 'US', 4],
    [T.BitsAllocated, 'US', 8],
    [T.BitsStored, 'US', 8],
    [T.HighBit, 'US', 7],
    [T.PixelRepresentation, 'US', 0],
    [T.SamplesPerPixel, 'US', 1],
    [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    [T.PixelData, 'OB', Buffer.from([...Array(16).keys()])],
  ]);
  return encodePart10({ sopClassUID: SOP_CLASS, sopInstanceUID: SOP_INSTANCE }, ds);
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

async function sign(bytes: Buffer, s: DicomSigner = signer): Promise<Buffer> {
  const file = await openSigned(new ReaderByteSource(new BufferReader(bytes, 'in'), 0), { name: 'in', signer: s, now: NOW, signatureUID: '2.25.99' });
  return collect(file.part10());
}

function check(bytes: Buffer): ReturnType<typeof checkDicomSignatures> {
  return checkDicomSignatures(new ReaderByteSource(new BufferReader(bytes, 'signed'), 0), 'signed');
}

/** Replaces the last occurrence of `from` by `to` (same length). */
function patchLast(bytes: Buffer, from: Buffer | string, to: Buffer | string): Buffer {
  const a = Buffer.isBuffer(from) ? from : Buffer.from(from, 'latin1');
  const b = Buffer.isBuffer(to) ? to : Buffer.from(to, 'latin1');
  const at = bytes.lastIndexOf(a);
  expect(at).toBeGreaterThan(0);
  const out = Buffer.from(bytes);
  b.copy(out, at);
  return out;
}

describe('MAC stream (PS3.3 C.12.1.1.3.1.1)', () => {
  it('writes sequences without lengths, items as their tag alone, and the sequence delimiter tag', () => {
    const item = buildDataSet([[0x00080100, 'SH', 'AB']]);
    const parts: Buffer[] = [];
    macElement(makeElement(0x00400260, 'SQ', [item]), (b) => parts.push(b));
    expect(Buffer.concat(parts).toString('hex')).toBe(
      [
        '40006002', '5351', '0000', // tag, SQ, reserved: no length
        'feff00e0', // Item tag alone
        '08000001', '5348', '0200', '4142', // (0008,0100) SH "AB" as encoded
        'feffdde0', // Sequence Delimitation tag alone, no Item Delimitation
      ].join(''),
    );
  });

  it('writes ordinary elements as they are encoded, padded', () => {
    const parts: Buffer[] = [];
    macElement(makeElement(T.PatientID, 'LO', 'P'), (b) => parts.push(b));
    expect(Buffer.concat(parts).toString('hex')).toBe('10002000' + '4c4f' + '0200' + '5020');
  });

  it('writes encapsulated values with their fragments as Item tag and value, OB whatever the VR', () => {
    const ds = new DataSet(ELE);
    const value = Buffer.from('feff00e000000000' + 'feff00e0020000000102', 'hex');
    ds.set({ tag: T.PixelData, vr: 'OW', length: undefined, offset: 0, valueOffset: 100, value, fragments: [{ offset: 108, length: 0 }, { offset: 116, length: 2 }] });
    const parts: Buffer[] = [];
    macElement(ds.get(T.PixelData) as never, (b) => parts.push(b));
    expect(Buffer.concat(parts).toString('hex')).toBe('e07f1000' + '4f42' + '0000' + 'feff00e0' + 'feff00e0' + '0102' + 'feffdde0');
  });

  it('reads and writes Digital Signature DateTime in UTC', () => {
    expect(signatureDateTime(NOW)).toBe('20250601120000.123000+0000');
    expect(parseDateTime('20250601140000.123000+0200')?.toISOString()).toBe(NOW.toISOString());
    expect(parseDateTime('2025')).toBeUndefined();
  });
});

describe('signing and checking', () => {
  it.each(Object.keys(MAC_ALGORITHMS) as MacAlgorithm[])('round-trips with %s and covers every element, pixel data included', async (algorithm) => {
    const signed = await sign(instance(), { ...signer, algorithm });
    const result = await check(signed);
    expect(result.signatures).toHaveLength(1);
    const [s] = result.signatures;
    expect(s?.valid, s?.problem?.message).toBe(true);
    expect(s?.macAlgorithm).toBe(algorithm);
    expect(s?.coversPixelData).toBe(true);
    expect(s?.uncoveredTags).toEqual([]);
    expect(s?.certificateType).toBe('X509_1993_SIG');
    expect(s?.signingTime?.toISOString()).toBe(NOW.toISOString());
  });

  it('puts the MAC Parameters before the pixel data and the signatures last', async () => {
    const signed = await sign(instance());
    expect(signed.indexOf(Buffer.from('fe4f0100', 'hex'))).toBeLessThan(signed.indexOf(Buffer.from('e07f10004f42', 'hex')));
    expect(signed.lastIndexOf(Buffer.from('fafffaff', 'hex'))).toBeGreaterThan(signed.indexOf(Buffer.from('e07f10004f42', 'hex')));
  });

  it('is deterministic for the same key, time and UID', async () => {
    expect((await sign(instance())).equals(await sign(instance()))).toBe(true);
  });

  it('adds a second signature with its own MAC ID, both valid', async () => {
    const twice = await sign(await sign(instance()), { ...signer, algorithm: 'SHA512', profile: 'creator' });
    const result = await check(twice);
    expect(result.signatures.map((s) => [s.macId, s.valid, s.profile])).toEqual([
      [0, true, undefined],
      [1, true, 'creator'],
    ]);
  });

  it('fails when a signed attribute changes (same length)', async () => {
    const altered = patchLast(await sign(instance()), 'Doe^Jane', 'Doe^John');
    const [s] = (await check(altered)).signatures;
    expect(s?.valid).toBe(false);
    expect(s?.problem?.kind).toBe('mismatch');
  });

  it('fails when a pixel changes', async () => {
    const signed = await sign(instance());
    const at = signed.indexOf(Buffer.from('e07f10004f42', 'hex')) + 12;
    signed.writeUInt8(signed.readUInt8(at + 3) ^ 0xff, at + 3);
    expect((await check(signed)).signatures[0]?.problem?.kind).toBe('mismatch');
  });
});

describe('canonical string values (PS3.5 §6.2, Table 6.2-1)', () => {
  const b = (text: string): Buffer => Buffer.from(text, 'latin1');
  const canon = (text: string, vr: Parameters<typeof canonicalValue>[1], charsets: string[] = []): string => canonicalValue(b(text), vr, charsets).toString('latin1');

  it.each(['AE', 'CS', 'DS', 'IS', 'LO', 'PN', 'SH'] as const)('%s: leading and trailing spaces of each value go, one space pads to even length', (vr) => {
    expect(canon('  AB  ', vr)).toBe('AB');
    expect(canon(' ABC ', vr)).toBe('ABC ');
    expect(canon('A B', vr)).toBe('A B '); // embedded spaces are significant
    expect(canon(' A \\ B\\C  ', vr)).toBe('A\\B\\C ');
  });

  it.each(['AS', 'DA', 'DT', 'TM', 'UC'] as const)('%s: trailing spaces of each value go, leading ones stay', (vr) => {
    expect(canon('20250101  ', vr)).toBe('20250101');
    expect(canon(' 1 \\2  ', vr)).toBe(' 1\\2');
    expect(canon(' 1 \\23 ', vr)).toBe(' 1\\23 ');
  });

  it.each(['LT', 'ST', 'UT', 'UR'] as const)('%s: one value, backslash is text: trailing spaces go, leading ones stay', (vr) => {
    expect(canon('  line one \\ two    ', vr)).toBe('  line one \\ two');
    expect(canon('/dos/A' + ' '.repeat(250), vr)).toBe('/dos/A');
  });

  it('the cases dcmtk reads differently from the bytes as stored', () => {
    expect(canon('DERIVED \\SECONDARY\\OTHER  ', 'CS')).toBe('DERIVED\\SECONDARY\\OTHER ');
    expect(canon('*NO INFO NO INFO*      NO INFO          ', 'LO')).toBe('*NO INFO NO INFO*      NO INFO'); // 40 bytes read as 30 by dcmtk
  });

  it('all-space values become empty', () => {
    for (const vr of ['SH', 'CS', 'LO', 'PN', 'DA', 'LT', 'UT'] as const) expect(canonicalValue(b('  '), vr).length, vr).toBe(0);
    expect(canon('  \\  ', 'CS')).toBe('\\ '); // two empty values
    expect(canon('', 'LO')).toBe('');
  });

  it('UI: trailing NULs go, one NUL pads to even length; spaces are not UI padding', () => {
    expect(canonicalValue(b('1.2.3\0\0\0'), 'UI').toString('latin1')).toBe('1.2.3\0');
    expect(canonicalValue(b('1.2.34\0\0'), 'UI').toString('latin1')).toBe('1.2.34');
    expect(canonicalValue(b('1.2\\1.3\0'), 'UI').toString('latin1')).toBe('1.2\\1.3\0');
  });

  it('binary VRs and UN are untouched; canonical values come back as the same buffer', () => {
    for (const vr of ['OB', 'OW', 'UN', 'US', 'UL', 'FD', 'AT', 'SQ'] as const) {
      const v = b('  \\ \0\0  ');
      expect(canonicalValue(v, vr), vr).toBe(v);
    }
    const v = b('ABC ');
    expect(canonicalValue(v, 'CS')).toBe(v);
  });

  it('does not split character set dependent values where 5CH can be part of a character', () => {
    const gbk = Buffer.concat([b(' '), Buffer.from([0x81, 0x5c]), b(' X  ')]); // 81 5C is one GBK character
    expect(canonicalValue(gbk, 'LO', ['GBK']).toString('hex')).toBe(Buffer.concat([b(' '), Buffer.from([0x81, 0x5c]), b(' X ')]).toString('hex'));
    expect(canonicalValue(gbk, 'LO', ['ISO 2022 IR 6', 'ISO 2022 IR 87']).length).toBe(6);
    expect(canonicalValue(gbk, 'CS', ['GBK']).toString('latin1')).toBe('\x81\\X '); // CS is not character set dependent
    expect(canonicalValue(b(' A \\ B '), 'LO', ['ISO_IR 192']).toString('latin1')).toBe('A\\B ');
  });

  it('walks sequence items at every depth, inheriting their character set, and leaves the input alone', () => {
    const inner = new DataSet(ELE);
    inner.set(makeElement(0x00080100, 'SH', b(' 121  ')));
    inner.set(makeElement(0x00081155, 'UI', b('1.2.3\0\0\0')));
    const item = new DataSet(ELE);
    item.set(makeElement(0x00080104, 'LO', b('  Meaning   ')));
    item.set(makeElement(0x00400260, 'SQ', [inner]));
    const ds = new DataSet(ELE);
    ds.set(makeElement(T.SpecificCharacterSet, 'CS', b('GBK ')));
    ds.set(makeElement(T.ImageType, 'CS', b('ORIGINAL \\PRIMARY   ')));
    ds.set(makeElement(0x00091010, 'UN', b('  \0\0')));
    ds.set(makeElement(T.PixelData, 'OB', b('    ')));
    ds.set(makeElement(0x00400275, 'SQ', [item]));
    const out = canonicalDataSet(ds);
    expect(out.bytes(T.ImageType)?.toString('latin1')).toBe('ORIGINAL\\PRIMARY');
    expect(out.get(T.ImageType)?.length).toBe(16);
    expect(out.get(0x00091010)?.value?.toString('latin1')).toBe('  \0\0');
    expect(out.get(T.PixelData)?.value?.toString('latin1')).toBe('    ');
    const [outItem] = out.items(0x00400275);
    expect(outItem?.get(0x00080104)?.value?.toString('latin1')).toBe('  Meaning'.padEnd(10, ' ')); // LO under GBK: trailing only
    expect(outItem?.charsets()).toEqual(['GBK']);
    const [outInner] = outItem?.items(0x00400260) ?? [];
    expect(outInner?.get(0x00080100)?.value?.toString('latin1')).toBe(' 121'); // SH under GBK: trailing only
    expect(outInner?.get(0x00081155)?.value?.toString('latin1')).toBe('1.2.3\0');
    // The input is not changed.
    expect(ds.get(T.ImageType)?.value?.toString('latin1')).toBe('ORIGINAL \\PRIMARY   ');
    expect(inner.get(0x00080100)?.value?.toString('latin1')).toBe(' 121  ');
  });

  it('the signer writes and signs the canonical values; the file checks, and signing again changes nothing', async () => {
    const item = new DataSet(ELE);
    item.set(makeElement(0x00080100, 'SH', b('  121 ')));
    const ds = buildDataSet([
      [T.SOPClassUID, 'UI', SOP_CLASS],
      [T.SOPInstanceUID, 'UI', SOP_INSTANCE],
      [T.ImageType, 'CS', b('DERIVED \\SECONDARY\\OTHER  ')],
      [T.PatientName, 'PN', b('Doe^Jane    ')],
      [0x00102160, 'SH', b('  ')],
      [0x00400260, 'SQ', [item]],
      [T.PixelData, 'OB', Buffer.from([...Array(16).keys()])],
    ]);
    const signed = await sign(encodePart10({ sopClassUID: SOP_CLASS, sopInstanceUID: SOP_INSTANCE }, ds));
    expect(signed.includes(b('DERIVED\\SECONDARY\\OTHER '))).toBe(true);
    expect(signed.includes(b('Doe^Jane    '))).toBe(false);
    expect(signed.includes(Buffer.concat([Buffer.from('10006021534800', 'hex'), Buffer.from([0])]))).toBe(true); // (0010,2160) SH, length 0
    expect(signed.includes(b('  121 '))).toBe(false);
    const [s] = (await check(signed)).signatures;
    expect(s?.valid, s?.problem?.message).toBe(true);
  });
});

describe('hostile signature items', () => {
  it('wrong certificate type → unsupported', async () => {
    const bad = patchLast(await sign(instance()), 'X509_1993_SIG', 'X509_1993_XXX');
    const [s] = (await check(bad)).signatures;
    expect(s?.valid).toBe(false);
    expect(s?.problem?.kind).toBe('unsupported');
  });

  it('unknown MAC algorithm → unsupported', async () => {
    const bad = patchLast(await sign(instance()), 'SHA256', 'SHA999');
    expect((await check(bad)).signatures[0]?.problem?.kind).toBe('unsupported');
  });

  it('MAC ID without MAC Parameters → malformed', async () => {
    // The signature item's MAC ID Number (0400,0005) US 0 → 7.
    const bad = patchLast(await sign(instance()), Buffer.from('000405005553020000', 'hex'), Buffer.from('000405005553020007', 'hex'));
    const [s] = (await check(bad)).signatures;
    expect(s?.problem?.kind).toBe('malformed');
  });

  it('damaged Signature → mismatch', async () => {
    const signed = await sign(instance());
    signed.writeUInt8(signed.readUInt8(signed.length - 5) ^ 0x01, signed.length - 5);
    expect((await check(signed)).signatures[0]?.problem?.kind).toBe('mismatch');
  });

  it('Certificate of Signer that is not a certificate → malformed', async () => {
    const signed = await sign(instance());
    const cert = signer.certificate;
    const bad = patchLast(signed, cert.subarray(0, 16), Buffer.alloc(16, 0x41));
    expect((await check(bad)).signatures[0]?.problem?.kind).toBe('malformed');
  });

  it('truncated file → typed error', async () => {
    const signed = await sign(instance());
    await expect(check(signed.subarray(0, signed.length - 100))).rejects.toBeInstanceOf(DcmsafeError);
  });

  it('impossible sequence length → typed error', async () => {
    const signed = await sign(instance());
    const at = signed.lastIndexOf(Buffer.from('fafffaff5351', 'hex'));
    signed.writeUInt32LE(0x7ffffff0, at + 8);
    const e = await check(signed).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DcmsafeError);
    expect((e as DcmsafeError).code).toMatch(/^PART10_/);
  });

  it('MAC Parameters without Data Elements Signed → malformed', async () => {
    const signed = await sign(instance());
    // (0400,0020) becomes (0400,0021): the list of signed elements is gone.
    const bad = patchLast(signed, Buffer.from('00042000', 'hex'), Buffer.from('00042100', 'hex'));
    const [s] = (await check(bad)).signatures;
    expect(s?.valid).toBe(false);
    expect(s?.problem?.kind).toBe('malformed');
  });
  it('Data Elements Signed listing an element the data set lacks → mismatch, not a crash', async () => {
    const signed = await sign(instance());
    // Patient ID (0010,0020) in the AT list becomes (0010,0021), absent from the data set.
    const atList = signed.indexOf(Buffer.from('00042000', 'hex'));
    expect(atList).toBeGreaterThan(0);
    const at = signed.indexOf(Buffer.from('10002000', 'hex'), atList);
    signed.writeUInt16LE(0x0021, at + 2);
    const [s] = (await check(signed)).signatures;
    expect(s?.valid).toBe(false);
    expect(s?.problem?.kind).toBe('mismatch');
    expect(s?.coveredTags).toContain(0x00100021);
  });

  it('file truncated inside the pixel data → typed error', async () => {
    const signed = await sign(instance());
    const at = signed.lastIndexOf(Buffer.from('e07f1000', 'hex'));
    expect(at).toBeGreaterThan(0);
    const e = await check(signed.subarray(0, at + 12 + 5)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DcmsafeError);
    expect((e as DcmsafeError).code).toBe('PART10_TRUNCATED');
  });

  it('many MAC Parameters items with huge Data Elements Signed → bounded work, typed results', async () => {
    const atList = Buffer.alloc(16_000 * 4);
    for (let i = 0; i < 16_000; i++) {
      atList.writeUInt16LE(0x0013, i * 4);
      atList.writeUInt16LE(i & 0xffff, i * 4 + 2);
    }
    const count = MAX_MAC_PARAMETERS + 6;
    const params = Array.from({ length: count }, (_, id) =>
      buildDataSet([
        [TAG.MACIDNumber, 'US', id],
        [TAG.MACCalculationTransferSyntaxUID, 'UI', '1.2.840.10008.1.2.1'],
        [TAG.MACAlgorithm, 'CS', 'SHA256'],
        [TAG.DataElementsSigned, 'AT', atList],
      ]),
    );
    const sigs = Array.from({ length: count }, (_, id) =>
      buildDataSet([
        [TAG.MACIDNumber, 'US', id],
        [TAG.DigitalSignatureUID, 'UI', `2.25.${id + 1}`],
        [TAG.DigitalSignatureDateTime, 'DT', '20250601120000+0000'],
        [TAG.CertificateType, 'CS', 'X509_1993_SIG'],
        [TAG.CertificateOfSigner, 'OB', signer.certificate],
        [TAG.Signature, 'OB', Buffer.alloc(256, 1)],
      ]),
    );
    const many: [number, 'LO', string][] = Array.from({ length: 20_000 }, (_, i) => [(0x0011 << 16) | (0x1000 + i), 'LO', 'x']);
    const ds = buildDataSet([[T.SOPClassUID, 'UI', SOP_CLASS], [T.SOPInstanceUID, 'UI', SOP_INSTANCE], ...many, [0x4ffe0001, 'SQ', params], [T.DigitalSignaturesSequence, 'SQ', sigs]]);
    const started = Date.now();
    const result = await check(encodePart10({ sopClassUID: SOP_CLASS, sopInstanceUID: SOP_INSTANCE }, ds));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.signatures).toHaveLength(count);
    expect(result.signatures.every((s) => !s.valid)).toBe(true);
    expect(result.signatures[0]?.problem?.kind).toBe('mismatch');
    expect(result.signatures[count - 1]?.problem?.kind).toBe('unsupported');
  }, 60_000);
  it('an instance with more elements than Data Elements Signed can list → typed input error, not INTERNAL', async () => {
    const many: [number, 'LO', string][] = Array.from({ length: 17_000 }, (_, i) => [(0x0011 << 16) | (0x1000 + i), 'LO', 'x']);
    const ds = buildDataSet([[T.SOPClassUID, 'UI', SOP_CLASS], [T.SOPInstanceUID, 'UI', SOP_INSTANCE], ...many]);
    const e = await sign(encodePart10({ sopClassUID: SOP_CLASS, sopInstanceUID: SOP_INSTANCE }, ds)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DcmsafeError);
    expect((e as DcmsafeError).fault).not.toBe('internal');
  });
});
