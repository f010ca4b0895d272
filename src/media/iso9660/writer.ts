/**
 * ISO 9660 Level 1 image writer for PS3.12 Annex F (CD-R) media: lays out every extent first
 * (layout.ts), then emits the image as one sequential stream, opening each file when its extent comes.
 * Same files and recording time give the same bytes.
 */
import { DcmsafeError } from '../../errors/index.js';
import type { ImagePlan, MediaFile } from '../media-file.js';
import { A_CHARACTERS, D_CHARACTERS } from './characters.js';
import { checkRecordingTime } from './date-time.js';
import { encodeDirectory } from './directory.js';
import { FILE_FLAG, type DirectoryRecord } from './directory-record.js';
import { ISO9660_NAME, isoError } from './errors.js';
import { PARENT_IDENTIFIER, SELF_IDENTIFIER } from './file-identifier.js';
import { BLOCK_SIZE, layoutIso9660, type Iso9660Layout, type LaidOutDirectory, type LaidOutFile } from './layout.js';
import { encodePathTable } from './path-table.js';
import { encodePrimaryVolumeDescriptor, type PrimaryVolumeDescriptor } from './primary-volume-descriptor.js';
import { encodeVolumeDescriptorSetTerminator, SYSTEM_AREA_SECTORS } from './volume-descriptor.js';

export interface Iso9660Options {
  /** The File-set ID (PS3.12 F.2): at most 32 d-characters (A-Z 0-9 _); trailing spaces are padding. */
  volumeIdentifier: string;
  /** From the injected clock: the volume dates and every directory record's recording date. */
  recordingTime: Date;
  /** At most 128 a-characters. */
  publisherIdentifier?: string;
  /** At most 128 a-characters, e.g. "DCMSAFE". */
  applicationIdentifier?: string;
}

function checkIdentifier(field: string, value: string, width: number, chars: RegExp): string {
  const v = value.replace(/ +$/, '');
  if (v.length > width || !chars.test(v)) {
    const set = chars === D_CHARACTERS ? 'd-characters (A-Z 0-9 _)' : 'a-characters (A-Z 0-9 _ space !"%&\'()*+,-./:;<=>?)';
    throw isoError(ISO9660_NAME, `${field} "${value}" must be at most ${width} ${set}`, { field, value });
  }
  // §8.4.20: a first byte 0x5F would make the field name a file in the root directory.
  if (chars === A_CHARACTERS && v.startsWith('_')) throw isoError(ISO9660_NAME, `${field} "${value}" must not start with "_"`, { field, value });
  return v;
}

function primaryVolumeDescriptor(layout: Iso9660Layout, options: Iso9660Options): PrimaryVolumeDescriptor {
  return {
    systemIdentifier: '', // PS3.12 F.2.2: spaces, no CD-I application
    volumeIdentifier: checkIdentifier('volume identifier', options.volumeIdentifier, 32, D_CHARACTERS),
    volumeSpaceSize: layout.totalBlocks,
    volumeSetSize: 1,
    volumeSequenceNumber: 1,
    logicalBlockSize: BLOCK_SIZE,
    pathTableSize: layout.pathTableSize,
    typeLPathTable: layout.typeLPathTable,
    optionalTypeLPathTable: 0,
    typeMPathTable: layout.typeMPathTable,
    optionalTypeMPathTable: 0,
    rootDirectoryRecord: directoryRecord(layout.root, SELF_IDENTIFIER, options.recordingTime),
    volumeSetIdentifier: '',
    publisherIdentifier: checkIdentifier('publisher identifier', options.publisherIdentifier ?? '', 128, A_CHARACTERS),
    dataPreparerIdentifier: '',
    applicationIdentifier: checkIdentifier('application identifier', options.applicationIdentifier ?? '', 128, A_CHARACTERS),
    copyrightFileIdentifier: '',
    abstractFileIdentifier: '',
    bibliographicFileIdentifier: '',
    creation: options.recordingTime,
    modification: options.recordingTime,
    expiration: undefined,
    effective: undefined,
    fileStructureVersion: 1,
  };
}

function directoryRecord(node: LaidOutDirectory | LaidOutFile, identifier: string, recorded: Date): DirectoryRecord {
  return {
    extendedAttributeLength: 0, // PS3.12 F.2.2
    location: node.location,
    dataLength: node.size,
    recorded,
    flags: node.kind === 'directory' ? FILE_FLAG.DIRECTORY : 0,
    fileUnitSize: 0,
    interleaveGapSize: 0,
    volumeSequenceNumber: 1,
    identifier,
    systemUse: Buffer.alloc(0),
  };
}

function directoryRecords(dir: LaidOutDirectory, recorded: Date): DirectoryRecord[] {
  return [
    directoryRecord(dir, SELF_IDENTIFIER, recorded),
    directoryRecord(dir.parent ?? dir, PARENT_IDENTIFIER, recorded), // the root is its own parent
    ...dir.children.map((c) => directoryRecord(c, c.identifier, recorded)),
  ];
}

/**
 * Validates `files` and `options`, lays out every extent and returns the image's exact size and an
 * `emit()` that produces it. Throws ISO9660_NAME, ISO9660_DEPTH or ISO9660_FILE_SIZE (usage) before any
 * byte is produced.
 */
export function planIso9660(files: readonly MediaFile[], options: Iso9660Options): ImagePlan {
  checkRecordingTime(options.recordingTime);
  const recorded = new Date(options.recordingTime.getTime());
  const layout = layoutIso9660(files);
  const pvd = encodePrimaryVolumeDescriptor(primaryVolumeDescriptor(layout, { ...options, recordingTime: recorded }));
  const size = layout.totalBlocks * BLOCK_SIZE;

  async function* emit(): AsyncGenerator<Buffer> {
    let written = 0;
    const at = (block: number, what: string): void => {
      if (written !== block * BLOCK_SIZE) throw new DcmsafeError('INTERNAL', `ISO 9660 writer: ${what} planned at block ${block} but ${written} bytes written`, {});
    };
    const put = (buf: Buffer): Buffer => {
      written += buf.length;
      return buf;
    };
    yield put(Buffer.alloc(SYSTEM_AREA_SECTORS * BLOCK_SIZE)); // §6.2.1 System Area
    yield put(pvd); // §8.4, sector 16
    yield put(encodeVolumeDescriptorSetTerminator()); // §8.3, sector 17
    const tables = layout.pathTable;
    for (const [type, location] of [['L', layout.typeLPathTable], ['M', layout.typeMPathTable]] as const) {
      at(location, `path table ${type}`);
      const table = encodePathTable(tables, type);
      yield put(table);
      yield put(Buffer.alloc(padding(table.length)));
    }
    for (const dir of layout.directories) {
      at(dir.location, `directory /${dir.path.join('/')}`);
      yield put(encodeDirectory(directoryRecords(dir, recorded)));
    }
    for (const f of layout.files) {
      if (f.size > 0) at(f.location, f.path.join('/')); // an empty file is still opened, to check it is empty
      for await (const chunk of fileContent(f)) yield put(chunk);
      const pad = padding(f.size);
      if (pad > 0) yield put(Buffer.alloc(pad));
    }
    if (written !== size) throw new DcmsafeError('INTERNAL', `ISO 9660 writer: ${written} bytes written, ${size} planned`, {});
  }

  return { size, emit };
}

const padding = (n: number): number => (BLOCK_SIZE - (n % BLOCK_SIZE)) % BLOCK_SIZE;

/** The file's bytes, checked to be exactly `size`: a MediaFile that lies is a bug upstream. */
async function* fileContent(f: LaidOutFile): AsyncGenerator<Buffer> {
  const opened = await f.file.open();
  try {
    let n = 0;
    for await (const chunk of opened.stream) {
      n += chunk.length;
      if (n > f.size) throw new DcmsafeError('INTERNAL', `${f.path.join('/')} yields more than its ${f.size} planned bytes`, { path: f.path.join('/'), size: f.size });
      if (chunk.length > 0) yield chunk;
    }
    if (n !== f.size) throw new DcmsafeError('INTERNAL', `${f.path.join('/')} yields ${n} bytes, ${f.size} planned`, { path: f.path.join('/'), size: f.size, yielded: n });
  } finally {
    await opened.close();
  }
}
