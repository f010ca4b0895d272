/**
 * Primary Volume Descriptor, ECMA-119 §8.4. PS3.12 F.2: the Volume Identifier holds the File-set ID;
 * the System Identifier is spaces unless a CD-I application is present.
 */
import { padField, readField } from './characters.js';
import { decodeDecDateTime, encodeDecDateTime } from './date-time.js';
import { decodeDirectoryRecord, encodeDirectoryRecord, type DirectoryRecord } from './directory-record.js';
import { ISO9660_INVALID, isoError } from './errors.js';
import { readBothUInt16, readBothUInt32, writeBothUInt16, writeBothUInt32, type FieldContext } from './numbers.js';
import { decodeVolumeDescriptorHeader, encodeVolumeDescriptorHeader, SECTOR_SIZE, STANDARD_IDENTIFIER, VOLUME_DESCRIPTOR_TYPE } from './volume-descriptor.js';

export interface PrimaryVolumeDescriptor {
  systemIdentifier: string;
  volumeIdentifier: string;
  /** In logical blocks. */
  volumeSpaceSize: number;
  volumeSetSize: number;
  volumeSequenceNumber: number;
  logicalBlockSize: number;
  pathTableSize: number;
  typeLPathTable: number;
  optionalTypeLPathTable: number;
  typeMPathTable: number;
  optionalTypeMPathTable: number;
  rootDirectoryRecord: DirectoryRecord;
  volumeSetIdentifier: string;
  publisherIdentifier: string;
  dataPreparerIdentifier: string;
  applicationIdentifier: string;
  copyrightFileIdentifier: string;
  abstractFileIdentifier: string;
  bibliographicFileIdentifier: string;
  creation: Date | undefined;
  modification: Date | undefined;
  expiration: Date | undefined;
  effective: Date | undefined;
  fileStructureVersion: number;
}

/** The root directory record in the descriptor is always 34 bytes (identifier 0x00). */
export const ROOT_RECORD_SIZE = 34;

export function sizeOfPrimaryVolumeDescriptor(): number {
  return SECTOR_SIZE;
}

export function encodePrimaryVolumeDescriptor(pvd: PrimaryVolumeDescriptor): Buffer {
  const buf = Buffer.alloc(SECTOR_SIZE);
  encodeVolumeDescriptorHeader(VOLUME_DESCRIPTOR_TYPE.PRIMARY, 1, buf); // BP 1-7 type 1, "CD001", version 1; BP 8 unused
  padField(pvd.systemIdentifier, 32).copy(buf, 8); // BP 9-40 system identifier
  padField(pvd.volumeIdentifier, 32).copy(buf, 40); // BP 41-72 volume identifier; BP 73-80 unused
  writeBothUInt32(buf, 80, pvd.volumeSpaceSize); // BP 81-88 volume space size; BP 89-120 unused
  writeBothUInt16(buf, 120, pvd.volumeSetSize); // BP 121-124 volume set size
  writeBothUInt16(buf, 124, pvd.volumeSequenceNumber); // BP 125-128 volume sequence number
  writeBothUInt16(buf, 128, pvd.logicalBlockSize); // BP 129-132 logical block size
  writeBothUInt32(buf, 132, pvd.pathTableSize); // BP 133-140 path table size
  buf.writeUInt32LE(pvd.typeLPathTable, 140); // BP 141-144 location of type L path table
  buf.writeUInt32LE(pvd.optionalTypeLPathTable, 144); // BP 145-148 location of optional type L path table
  buf.writeUInt32BE(pvd.typeMPathTable, 148); // BP 149-152 location of type M path table
  buf.writeUInt32BE(pvd.optionalTypeMPathTable, 152); // BP 153-156 location of optional type M path table
  encodeDirectoryRecord(pvd.rootDirectoryRecord, buf, 156); // BP 157-190 root directory record
  padField(pvd.volumeSetIdentifier, 128).copy(buf, 190); // BP 191-318 volume set identifier
  padField(pvd.publisherIdentifier, 128).copy(buf, 318); // BP 319-446 publisher identifier
  padField(pvd.dataPreparerIdentifier, 128).copy(buf, 446); // BP 447-574 data preparer identifier
  padField(pvd.applicationIdentifier, 128).copy(buf, 574); // BP 575-702 application identifier
  padField(pvd.copyrightFileIdentifier, 37).copy(buf, 702); // BP 703-739 copyright file identifier
  padField(pvd.abstractFileIdentifier, 37).copy(buf, 739); // BP 740-776 abstract file identifier
  padField(pvd.bibliographicFileIdentifier, 37).copy(buf, 776); // BP 777-813 bibliographic file identifier
  encodeDecDateTime(pvd.creation, buf, 813); // BP 814-830 volume creation date and time
  encodeDecDateTime(pvd.modification, buf, 830); // BP 831-847 volume modification date and time
  encodeDecDateTime(pvd.expiration, buf, 847); // BP 848-864 volume expiration date and time
  encodeDecDateTime(pvd.effective, buf, 864); // BP 865-881 volume effective date and time
  buf[881] = pvd.fileStructureVersion; // BP 882 file structure version; BP 883 reserved
  buf.fill(0x20, 883, 1395); // BP 884-1395 application use: not used, spaces as genisoimage and pycdlib write; BP 1396-2048 reserved, zero
  return buf;
}

/** Reads a Primary Volume Descriptor; `ctx.offset` is its image offset. Checks the header and the root record. */
export function decodePrimaryVolumeDescriptor(buf: Buffer, ctx: FieldContext): PrimaryVolumeDescriptor {
  const h = decodeVolumeDescriptorHeader(buf);
  if (h.type !== VOLUME_DESCRIPTOR_TYPE.PRIMARY || h.standardIdentifier !== STANDARD_IDENTIFIER || h.version !== 1) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: no Primary Volume Descriptor at ${ctx.offset}`, { file: ctx.file, offset: ctx.offset });
  }
  if (buf[156] !== ROOT_RECORD_SIZE) {
    throw isoError(ISO9660_INVALID, `${ctx.file}: the root directory record in the Primary Volume Descriptor is ${buf[156]} bytes, not 34`, {
      file: ctx.file,
      offset: ctx.offset + 156,
    });
  }
  return {
    systemIdentifier: readField(buf, 8, 32),
    volumeIdentifier: readField(buf, 40, 32),
    volumeSpaceSize: readBothUInt32(buf, 80, 'volume space size', ctx),
    volumeSetSize: readBothUInt16(buf, 120, 'volume set size', ctx),
    volumeSequenceNumber: readBothUInt16(buf, 124, 'volume sequence number', ctx),
    logicalBlockSize: readBothUInt16(buf, 128, 'logical block size', ctx),
    pathTableSize: readBothUInt32(buf, 132, 'path table size', ctx),
    typeLPathTable: buf.readUInt32LE(140),
    optionalTypeLPathTable: buf.readUInt32LE(144),
    typeMPathTable: buf.readUInt32BE(148),
    optionalTypeMPathTable: buf.readUInt32BE(152),
    rootDirectoryRecord: decodeDirectoryRecord(buf, 156, 156 + ROOT_RECORD_SIZE, ctx),
    volumeSetIdentifier: readField(buf, 190, 128),
    publisherIdentifier: readField(buf, 318, 128),
    dataPreparerIdentifier: readField(buf, 446, 128),
    applicationIdentifier: readField(buf, 574, 128),
    copyrightFileIdentifier: readField(buf, 702, 37),
    abstractFileIdentifier: readField(buf, 739, 37),
    bibliographicFileIdentifier: readField(buf, 776, 37),
    creation: decodeDecDateTime(buf, 813),
    modification: decodeDecDateTime(buf, 830),
    expiration: decodeDecDateTime(buf, 847),
    effective: decodeDecDateTime(buf, 864),
    fileStructureVersion: buf[881] ?? 0,
  };
}
