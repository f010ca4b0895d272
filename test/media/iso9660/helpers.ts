/** Shared by the ISO 9660 unit and interop tests: images in memory, deterministic contents, a hand-built multi-extent image. */
import { createHash } from 'node:crypto';
import { memoryFile, type ImagePlan, type MediaFile } from '../../../src/media/media-file.js';
import { BufferReader, type RandomAccessReader } from '../../../src/media/io/random-access-reader.js';
import { planIso9660, type Iso9660Options } from '../../../src/media/iso9660/writer.js';
import { openIso9660 } from '../../../src/media/iso9660/reader.js';
import { encodeDirectory } from '../../../src/media/iso9660/directory.js';
import { FILE_FLAG, type DirectoryRecord } from '../../../src/media/iso9660/directory-record.js';
import { encodePathTable } from '../../../src/media/iso9660/path-table.js';
import { encodePrimaryVolumeDescriptor } from '../../../src/media/iso9660/primary-volume-descriptor.js';
import { encodeVolumeDescriptorSetTerminator } from '../../../src/media/iso9660/volume-descriptor.js';

export const T0 = new Date('2024-05-06T07:08:09Z');
export const OPTIONS: Iso9660Options = { volumeIdentifier: 'DCMSAFE_TEST', recordingTime: T0, applicationIdentifier: 'DCMSAFE' };

/** Deterministic bytes: SHA-256 in counter mode over a seed. */
export function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, pos = 0; pos < size; i++, pos += 32) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, pos);
  return out;
}

export async function emitAll(plan: ImagePlan): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of plan.emit()) chunks.push(c);
  return Buffer.concat(chunks);
}

export async function imageOf(files: readonly MediaFile[], options: Iso9660Options = OPTIONS): Promise<Buffer> {
  return emitAll(planIso9660(files, options));
}

/** A File-set-like tree: DICOMDIR, README.TXT, INDEX.HTM and a few images of awkward sizes. */
export function dicomLikeFiles(): MediaFile[] {
  const files: MediaFile[] = [
    memoryFile(['DICOMDIR'], bytesOf('DICOMDIR', 6000)),
    memoryFile(['README.TXT'], Buffer.from('This CD holds a DICOM File-set.\r\n')),
    memoryFile(['INDEX.HTM'], Buffer.from('<!DOCTYPE html><title>Index</title>\n')),
  ];
  const sizes = [0, 1, 2047, 2048, 2049, 10_000, 65_536];
  let n = 0;
  for (const pa of ['PA000001', 'PA000002']) {
    for (const st of ['ST000001', 'ST000002']) {
      for (const se of ['SE000001']) {
        for (let im = 1; im <= 4; im++) {
          const path = ['DICOM', pa, st, se, `IM${String(im).padStart(6, '0')}`];
          files.push(memoryFile(path, bytesOf(path.join('/'), sizes[n++ % sizes.length] ?? 0)));
        }
      }
    }
  }
  return files;
}

/** Every file of an image read back by our reader: "A/B" -> bytes, directories -> "dir". */
export async function readTree(image: Buffer | RandomAccessReader): Promise<Map<string, Buffer | 'dir'>> {
  const reader = Buffer.isBuffer(image) ? new BufferReader(image) : image;
  const volume = await openIso9660(reader);
  const out = new Map<string, Buffer | 'dir'>();
  for (const e of volume.entries) {
    if (e.isDirectory) {
      out.set(e.path.join('/'), 'dir');
    } else {
      const f = volume.openFile(e);
      out.set(e.path.join('/'), await f.read(0, f.size));
    }
  }
  return out;
}

/** The files of `files` as the same map (directories included). */
export function expectedTree(files: readonly MediaFile[], contents: ReadonlyMap<string, Buffer>): Map<string, Buffer | 'dir'> {
  const out = new Map<string, Buffer | 'dir'>();
  for (const f of files) {
    for (let i = 1; i < f.path.length; i++) out.set(f.path.slice(0, i).join('/'), 'dir');
    out.set(f.path.join('/'), contents.get(f.path.join('/')) ?? Buffer.alloc(0));
  }
  return out;
}

export async function contentsOf(files: readonly MediaFile[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const f of files) {
    const o = await f.open();
    const chunks: Buffer[] = [];
    for await (const c of o.stream) chunks.push(c);
    await o.close();
    out.set(f.path.join('/'), Buffer.concat(chunks));
  }
  return out;
}

/**
 * A Level 3 image built by hand with our encoders: /BIG.DAT recorded as three sections (multi-extent
 * flag on all but the last record), placed out of order, then /SMALL.TXT. Returns the image and BIG.DAT's bytes.
 */
export function multiExtentImage(): { image: Buffer; big: Buffer; small: Buffer } {
  const B = 2048;
  const sections = [bytesOf('s0', 2 * B), bytesOf('s1', B), bytesOf('s2', 1000)];
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
    rec('BIG.DAT;1', at.s0, sections[0]!.length, FILE_FLAG.MULTI_EXTENT),
    rec('BIG.DAT;1', at.s1, sections[1]!.length, FILE_FLAG.MULTI_EXTENT),
    rec('BIG.DAT;1', at.s2, sections[2]!.length, 0),
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
  sections[0]!.copy(image, at.s0 * B);
  sections[1]!.copy(image, at.s1 * B);
  sections[2]!.copy(image, at.s2 * B);
  small.copy(image, at.small * B);
  return { image, big: Buffer.concat(sections), small };
}
