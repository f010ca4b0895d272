/** The on-disk structures one by one: each encoder against the byte positions of ECMA-119 and its decoder. */
import { describe, expect, it } from 'vitest';
import { decodeDecDateTime, decodeRecordingDateTime, encodeDecDateTime, encodeRecordingDateTime } from '../../../src/media/iso9660/date-time.js';
import { placeRecords, sizeOfDirectory, encodeDirectory } from '../../../src/media/iso9660/directory.js';
import { decodeDirectoryRecord, encodeDirectoryRecord, FILE_FLAG, sizeOfDirectoryRecord, type DirectoryRecord } from '../../../src/media/iso9660/directory-record.js';
import { decodePathTable, encodePathTable, sizeOfPathTable } from '../../../src/media/iso9660/path-table.js';
import { decodePrimaryVolumeDescriptor, encodePrimaryVolumeDescriptor, type PrimaryVolumeDescriptor } from '../../../src/media/iso9660/primary-volume-descriptor.js';
import { encodeVolumeDescriptorSetTerminator } from '../../../src/media/iso9660/volume-descriptor.js';
import { T0 } from './helpers.js';

const ctx = { file: 'test', offset: 0 };

function record(identifier: string, over: Partial<DirectoryRecord> = {}): DirectoryRecord {
  return {
    extendedAttributeLength: 0,
    location: 0x01020304,
    dataLength: 0x0a0b0c0d,
    recorded: T0,
    flags: 0,
    fileUnitSize: 0,
    interleaveGapSize: 0,
    volumeSequenceNumber: 1,
    identifier,
    systemUse: Buffer.alloc(0),
    ...over,
  };
}

describe('ISO 9660 structures', () => {
  it('dates: §8.4.26.1 digits with GMT offset 0, §9.1.5 seven bytes, "not specified"', () => {
    const b = Buffer.alloc(17);
    encodeDecDateTime(new Date('2024-05-06T07:08:09.123Z'), b, 0);
    expect(b.toString('latin1', 0, 16)).toBe('2024050607080912');
    expect(b[16]).toBe(0);
    expect(decodeDecDateTime(b, 0)?.toISOString()).toBe('2024-05-06T07:08:09.120Z');
    encodeDecDateTime(undefined, b, 0);
    expect(b.toString('latin1', 0, 16)).toBe('0000000000000000');
    expect(decodeDecDateTime(b, 0)).toBeUndefined();
    const r = Buffer.alloc(7);
    encodeRecordingDateTime(T0, r, 0);
    expect([...r]).toEqual([124, 5, 6, 7, 8, 9, 0]);
    expect(decodeRecordingDateTime(r, 0)?.getTime()).toBe(T0.getTime());
    // A GMT offset of +1 hour (4 intervals of 15 minutes) moves the instant back.
    r.writeInt8(4, 6);
    expect(decodeRecordingDateTime(r, 0)?.toISOString()).toBe('2024-05-06T06:08:09.000Z');
    expect(decodeRecordingDateTime(Buffer.alloc(7), 0)).toBeUndefined();
  });

  it('directory record: positions, padding byte, sizeOf, both byte orders', () => {
    expect(sizeOfDirectoryRecord(1)).toBe(34);
    expect(sizeOfDirectoryRecord(11)).toBe(44); // "IM000001.;1": odd, no padding
    expect(sizeOfDirectoryRecord(12)).toBe(46); // "README.TXT;1": even, one padding byte
    const buf = Buffer.alloc(64);
    const n = encodeDirectoryRecord(record('README.TXT;1', { flags: FILE_FLAG.DIRECTORY }), buf, 0);
    expect(n).toBe(46);
    expect(buf[0]).toBe(46); // BP 1
    expect(buf.readUInt32LE(2)).toBe(0x01020304); // BP 3-6
    expect(buf.readUInt32BE(6)).toBe(0x01020304); // BP 7-10
    expect(buf.readUInt32LE(10)).toBe(0x0a0b0c0d); // BP 11-14
    expect(buf.readUInt32BE(14)).toBe(0x0a0b0c0d); // BP 15-18
    expect(buf[25]).toBe(2); // BP 26 file flags
    expect(buf.readUInt16LE(28)).toBe(1); // BP 29-30
    expect(buf.readUInt16BE(30)).toBe(1); // BP 31-32
    expect(buf[32]).toBe(12); // BP 33 LEN_FI
    expect(buf.toString('latin1', 33, 45)).toBe('README.TXT;1');
    expect(buf[45]).toBe(0); // padding
    const back = decodeDirectoryRecord(buf, 0, 2048, ctx);
    expect(back).toMatchObject({ length: 46, location: 0x01020304, dataLength: 0x0a0b0c0d, flags: 2, identifier: 'README.TXT;1', volumeSequenceNumber: 1 });
    expect(back.recorded?.getTime()).toBe(T0.getTime());
  });

  it('directory record: malformed ones are ISO9660_INVALID', () => {
    const buf = Buffer.alloc(64);
    encodeDirectoryRecord(record('A.;1'), buf, 0);
    const bad = (mutate: (b: Buffer) => void, limit = 2048): void => {
      const b = Buffer.from(buf);
      mutate(b);
      expect(() => decodeDirectoryRecord(b, 0, limit, ctx)).toThrow(expect.objectContaining({ code: 'ISO9660_INVALID' }));
    };
    bad((b) => (b[0] = 20)); // shorter than the fixed part
    bad(() => undefined, 30); // crosses the end of its sector
    bad((b) => (b[32] = 40)); // identifier longer than the record
    bad((b) => (b[32] = 0)); // no identifier
    bad((b) => b.writeUInt32BE(7, 6)); // location disagrees between byte orders
  });

  it('path table: L and M byte orders, padding, sizeOf', () => {
    const records = [
      { identifier: '\x00', location: 20, parentNumber: 1, extendedAttributeLength: 0 },
      { identifier: 'DICOM', location: 21, parentNumber: 1, extendedAttributeLength: 0 },
      { identifier: 'PA000001', location: 0x123456, parentNumber: 2, extendedAttributeLength: 0 },
    ];
    expect(sizeOfPathTable(records)).toBe(10 + 14 + 16);
    const l = encodePathTable(records, 'L');
    const m = encodePathTable(records, 'M');
    expect(l.length).toBe(40);
    expect(l[10]).toBe(5); // BP 1 LEN_DI
    expect(l.readUInt32LE(12)).toBe(21); // BP 3-6
    expect(m.readUInt32BE(12)).toBe(21);
    expect(l.readUInt16LE(16)).toBe(1); // BP 7-8
    expect(m.readUInt16BE(16)).toBe(1);
    expect(l.toString('latin1', 18, 23)).toBe('DICOM');
    expect(l[23]).toBe(0); // padding after an odd identifier
    expect(decodePathTable(l, 'L', ctx, 10)).toEqual(records);
    expect(decodePathTable(m, 'M', ctx, 10)).toEqual(records);
    expect(() => decodePathTable(l.subarray(0, 35), 'L', ctx, 10)).toThrow(expect.objectContaining({ code: 'ISO9660_INVALID' }));
  });

  it('directory: records never cross a sector; the size is whole sectors', () => {
    // 2 x 34 + 45 x 44 = 2048 exactly; one more record starts sector 2.
    const sizes = [34, 34, ...Array<number>(45).fill(44)];
    expect(placeRecords(sizes).sectors).toBe(1);
    const more = placeRecords([...sizes, 44]);
    expect(more.sectors).toBe(2);
    expect(more.offsets.at(-1)).toBe(2048);
    expect(sizeOfDirectory([1, 1, ...Array<number>(46).fill(11)])).toBe(4096);
    const dir = encodeDirectory([record('\x00'), record('\x01'), ...Array.from({ length: 46 }, (_, i) => record(`IM${String(i).padStart(6, '0')}.;1`))]);
    expect(dir.length).toBe(4096);
    expect(dir[2048]).toBe(44);
  });

  it('primary volume descriptor: positions of ECMA-119 §8.4 and round trip', () => {
    const pvd: PrimaryVolumeDescriptor = {
      systemIdentifier: '',
      volumeIdentifier: 'FILESET1',
      volumeSpaceSize: 1234,
      volumeSetSize: 1,
      volumeSequenceNumber: 1,
      logicalBlockSize: 2048,
      pathTableSize: 40,
      typeLPathTable: 18,
      optionalTypeLPathTable: 0,
      typeMPathTable: 19,
      optionalTypeMPathTable: 0,
      rootDirectoryRecord: record('\x00', { location: 20, dataLength: 2048, flags: FILE_FLAG.DIRECTORY }),
      volumeSetIdentifier: '',
      publisherIdentifier: 'PUB',
      dataPreparerIdentifier: '',
      applicationIdentifier: 'DCMSAFE',
      copyrightFileIdentifier: '',
      abstractFileIdentifier: '',
      bibliographicFileIdentifier: '',
      creation: T0,
      modification: T0,
      expiration: undefined,
      effective: undefined,
      fileStructureVersion: 1,
    };
    const b = encodePrimaryVolumeDescriptor(pvd);
    expect(b.length).toBe(2048);
    expect(b.toString('latin1', 0, 7)).toBe('\x01CD001\x01'); // BP 1-7
    expect(b.toString('latin1', 8, 40)).toBe(' '.repeat(32)); // BP 9-40 system identifier: spaces
    expect(b.toString('latin1', 40, 72)).toBe('FILESET1'.padEnd(32)); // BP 41-72
    expect(b.readUInt32LE(80)).toBe(1234); // BP 81-84
    expect(b.readUInt32BE(84)).toBe(1234); // BP 85-88
    expect(b.readUInt16LE(128)).toBe(2048); // BP 129-130
    expect(b.readUInt32LE(140)).toBe(18); // BP 141-144
    expect(b.readUInt32BE(148)).toBe(19); // BP 149-152
    expect(b[156]).toBe(34); // BP 157 root record length
    expect(b.toString('latin1', 574, 581)).toBe('DCMSAFE'); // BP 575-
    expect(b.toString('latin1', 813, 829)).toBe('2024050607080900'); // BP 814-829
    expect(b.toString('latin1', 847, 863)).toBe('0000000000000000'); // BP 848-863 expiration not specified
    expect(b[881]).toBe(1); // BP 882 file structure version
    expect(b.subarray(1395).every((x) => x === 0)).toBe(true); // BP 1396-2048 reserved
    const back = decodePrimaryVolumeDescriptor(b, ctx);
    expect(back).toMatchObject({ ...pvd, rootDirectoryRecord: expect.objectContaining({ location: 20, dataLength: 2048 }), creation: T0, modification: T0 });
    const t = encodeVolumeDescriptorSetTerminator();
    expect(t.toString('latin1', 0, 7)).toBe('\xffCD001\x01');
    expect(t.subarray(7).every((x) => x === 0)).toBe(true);
  });
});
