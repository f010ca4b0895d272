/**
 * A Level 3 ISO 9660 image built by hand, which no writer here produces: /BIG.DAT in three sections
 * (the multi-extent flag on all but the last record), placed out of order with an unused block
 * between them, then /SMALL.TXT. A fuzz seed for the ISO reader, and a fixture of its tests.
 */
import { createHash } from 'node:crypto';
import { encodeDirectory } from '../media/iso9660/directory.js';
import { FILE_FLAG, type DirectoryRecord } from '../media/iso9660/directory-record.js';
import { encodePathTable } from '../media/iso9660/path-table.js';
import { encodePrimaryVolumeDescriptor } from '../media/iso9660/primary-volume-descriptor.js';
import { encodeVolumeDescriptorSetTerminator } from '../media/iso9660/volume-descriptor.js';

const B = 2048;
const T0 = new Date('2024-05-06T07:08:09Z');

/** `size` deterministic bytes named by `seed` (SHA-256 blocks). */
export function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, pos = 0; pos < size; i++, pos += 32) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, pos);
  return out;
}

/** The image, and the bytes a reader must give for BIG.DAT and SMALL.TXT. */
export function multiExtentImage(): { image: Buffer; big: Buffer; small: Buffer } {
  const sections = [bytesOf('s0', 2 * B), bytesOf('s1', B), bytesOf('s2', 1000)] as const;
  const small = Buffer.from('small file\n');
  // blocks: 16 PVD, 17 terminator, 18 L, 19 M, 20 root, 21 s1, 22 unused, 23 s2, 24-25 s0, 26 small
  const at = { root: 20, s1: 21, s2: 23, s0: 24, small: 26 };
  const total = 27;
  const rec = (identifier: string, location: number, dataLength: number, flags: number): DirectoryRecord => ({
    extendedAttributeLength: 0,
    location,
    dataLength,
    recorded: T0,
    flags,
    fileUnitSize: 0,
    interleaveGapSize: 0,
    volumeSequenceNumber: 1,
    identifier,
    systemUse: Buffer.alloc(0),
  });
  const root = encodeDirectory([
    rec('\x00', at.root, B, FILE_FLAG.DIRECTORY),
    rec('\x01', at.root, B, FILE_FLAG.DIRECTORY),
    rec('BIG.DAT;1', at.s0, sections[0].length, FILE_FLAG.MULTI_EXTENT),
    rec('BIG.DAT;1', at.s1, sections[1].length, FILE_FLAG.MULTI_EXTENT),
    rec('BIG.DAT;1', at.s2, sections[2].length, 0),
    rec('SMALL.TXT;1', at.small, small.length, 0),
  ]);
  const table = [{ identifier: '\x00', location: at.root, parentNumber: 1, extendedAttributeLength: 0 }];
  const image = Buffer.alloc(total * B);
  encodePrimaryVolumeDescriptor({
    systemIdentifier: '',
    volumeIdentifier: 'MULTI',
    volumeSpaceSize: total,
    volumeSetSize: 1,
    volumeSequenceNumber: 1,
    logicalBlockSize: B,
    pathTableSize: 10,
    typeLPathTable: 18,
    optionalTypeLPathTable: 0,
    typeMPathTable: 19,
    optionalTypeMPathTable: 0,
    rootDirectoryRecord: rec('\x00', at.root, B, FILE_FLAG.DIRECTORY),
    volumeSetIdentifier: '',
    publisherIdentifier: '',
    dataPreparerIdentifier: '',
    applicationIdentifier: '',
    copyrightFileIdentifier: '',
    abstractFileIdentifier: '',
    bibliographicFileIdentifier: '',
    creation: T0,
    modification: T0,
    expiration: undefined,
    effective: undefined,
    fileStructureVersion: 1,
  }).copy(image, 16 * B);
  encodeVolumeDescriptorSetTerminator().copy(image, 17 * B);
  encodePathTable(table, 'L').copy(image, 18 * B);
  encodePathTable(table, 'M').copy(image, 19 * B);
  root.copy(image, at.root * B);
  sections[0].copy(image, at.s0 * B);
  sections[1].copy(image, at.s1 * B);
  sections[2].copy(image, at.s2 * B);
  small.copy(image, at.small * B);
  return { image, big: Buffer.concat(sections), small };
}
