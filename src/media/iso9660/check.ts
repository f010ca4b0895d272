/**
 * Conformance checks of an ISO 9660 image, run alike on our images and on other tools' (pycdlib's
 * habit): ECMA-119 structure (§6.9.1 path table order and contents, §9.3 record order, "." and ".."
 * records, §6.8.2.1 depth, extents that overlap nothing), §10.1 Level 1 (8.3 d-character names, one
 * extent per file) and PS3.12 Annex F.2 (blank System Identifier, version ";1", no extended attribute
 * records, file flags bits 3-4 zero, 2048-byte blocks).
 *
 * The image is first read by openIso9660, so a structure that cannot be read at all throws its typed
 * error; what can be read but does not conform comes back as findings.
 */
import type { RandomAccessReader } from '../io/random-access-reader.js';
import { A_CHARACTERS, D_CHARACTERS } from './characters.js';
import { FILE_FLAG, type DirectoryRecord } from './directory-record.js';
import { comparePadded, compareIdentifiers, isLevel1DirectoryIdentifier, isLevel1FileIdentifier, PARENT_IDENTIFIER, splitIdentifier } from './file-identifier.js';
import { decodePathTable, type PathTableRecord, type PathTableType } from './path-table.js';
import { openIso9660, readDirectoryRecords, readVolumeDescriptorSet, type LocatedRecord, type OpenIso9660Options } from './reader.js';
import { SECTOR_SIZE } from './volume-descriptor.js';

export type IsoRule = 'ecma119' | 'level1' | 'ps3.12';

export interface IsoFinding {
  rule: IsoRule;
  message: string;
  /** Path of the directory or file concerned, "/" separated. */
  path?: string;
}

interface CheckedDirectory {
  record: DirectoryRecord;
  identifier: string;
  parentNumber: number;
  level: number;
  path: string;
}

/** Findings about `reader`'s image; an empty list means it conforms to all three rule sets. */
export async function checkIso9660(reader: RandomAccessReader, options: OpenIso9660Options = {}): Promise<IsoFinding[]> {
  const volume = await openIso9660(reader, options); // bounds, loops and record syntax are checked here
  const findings: IsoFinding[] = [];
  const add = (rule: IsoRule, message: string, path?: string): void => {
    findings.push(path === undefined ? { rule, message } : { rule, message, path });
  };
  const set = await readVolumeDescriptorSet(reader);
  const pvd = set.primary;
  const bs = pvd.logicalBlockSize;

  if (pvd.fileStructureVersion !== 1) add('ecma119', `file structure version ${pvd.fileStructureVersion}, not 1`);
  if (pvd.volumeSetSize < 1 || pvd.volumeSequenceNumber < 1 || pvd.volumeSequenceNumber > pvd.volumeSetSize) {
    add('ecma119', `volume ${pvd.volumeSequenceNumber} of a set of ${pvd.volumeSetSize}`);
  }
  if (pvd.volumeSpaceSize * bs > reader.size) add('ecma119', `volume space of ${pvd.volumeSpaceSize} blocks but the image has ${reader.size} bytes`);
  if (!D_CHARACTERS.test(pvd.volumeIdentifier)) add('ecma119', `volume identifier "${pvd.volumeIdentifier}" is not d-characters`);
  if (!A_CHARACTERS.test(pvd.systemIdentifier)) add('ecma119', `system identifier "${pvd.systemIdentifier}" is not a-characters`);
  if (pvd.systemIdentifier !== '' && pvd.systemIdentifier !== 'CD-RTOS CD-BRIDGE') add('ps3.12', `system identifier "${pvd.systemIdentifier}" is not blank`);
  if (bs !== SECTOR_SIZE) add('ps3.12', `logical block size ${bs}, not 2048`);
  if (volume.level === 3) add('level1', 'a file has more than one extent');

  // Extents in use: [start, end) in bytes, to find overlaps.
  const used: Array<{ start: number; end: number; what: string }> = [
    { start: 0, end: (set.terminatorSector + 1) * SECTOR_SIZE, what: 'system area and volume descriptors' },
  ];
  const tableBytes = Math.ceil(pvd.pathTableSize / bs) * bs;
  for (const [type, loc] of [['L', pvd.typeLPathTable], ['M', pvd.typeMPathTable]] as const) used.push({ start: loc * bs, end: loc * bs + tableBytes, what: `path table ${type}` });

  // The directory hierarchy in path table order (§6.9.1): breadth first, children by identifier.
  const dirs: CheckedDirectory[] = [{ record: pvd.rootDirectoryRecord, identifier: '\x00', parentNumber: 1, level: 1, path: '' }];
  for (let n = 0; n < dirs.length; n++) {
    const dir = dirs[n] as CheckedDirectory;
    const at = dir.path || '/';
    const start = (dir.record.location + dir.record.extendedAttributeLength) * bs;
    used.push({ start, end: start + dir.record.dataLength, what: `directory ${at}` });
    if (dir.level > 8) add('ecma119', `directory at level ${dir.level}; at most 8 levels`, at);
    const located = await readDirectoryRecords(reader, start, dir.record.dataLength, Number.MAX_SAFE_INTEGER);
    const parent = dirs[dir.parentNumber - 1] as CheckedDirectory;
    const dotdot = located[1]?.record;
    if (dotdot?.identifier === PARENT_IDENTIFIER && dotdot.location !== parent.record.location) add('ecma119', `".." points to block ${dotdot.location}, not the parent's ${parent.record.location}`, at);
    const children = located.slice(2);
    checkRecords(dir, children, add);
    // The directories openIso9660 read (and proved free of loops): an associated file (§6.5.4) is not
    // entered, whatever its flags say, else a record "associated directory" pointing to an ancestor
    // would be walked forever.
    const subdirs = children.filter((c) => c.record.flags & FILE_FLAG.DIRECTORY && !(c.record.flags & FILE_FLAG.ASSOCIATED_FILE)).map((c) => c.record);
    subdirs.sort((a, b) => comparePadded(a.identifier, b.identifier));
    for (const r of subdirs) dirs.push({ record: r, identifier: r.identifier, parentNumber: n + 1, level: dir.level + 1, path: `${dir.path}/${r.identifier}` });
    for (const c of children) {
      const r = c.record;
      if (r.flags & FILE_FLAG.DIRECTORY || r.dataLength === 0) continue;
      const s = (r.location + r.extendedAttributeLength) * bs;
      used.push({ start: s, end: s + r.dataLength, what: `${dir.path}/${r.identifier}` });
    }
  }

  const expected: PathTableRecord[] = dirs.map((d) => ({ identifier: d.identifier, location: d.record.location, parentNumber: d.parentNumber, extendedAttributeLength: d.record.extendedAttributeLength }));
  for (const [type, loc] of [['L', pvd.typeLPathTable], ['M', pvd.typeMPathTable]] as [PathTableType, number][]) {
    await checkPathTable(reader, type, loc * bs, pvd.pathTableSize, expected, add);
  }
  if (pvd.optionalTypeLPathTable !== 0 || pvd.optionalTypeMPathTable !== 0) {
    for (const [type, loc] of [['L', pvd.optionalTypeLPathTable], ['M', pvd.optionalTypeMPathTable]] as [PathTableType, number][]) {
      if (loc !== 0) await checkPathTable(reader, type, loc * bs, pvd.pathTableSize, expected, add, 'optional ');
    }
  }

  used.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < used.length; i++) {
    const a = used[i - 1] as (typeof used)[number];
    const b = used[i] as (typeof used)[number];
    if (b.start < a.end && b.start !== b.end) add('ecma119', `${b.what} overlaps ${a.what}`);
  }
  return findings;
}

function checkRecords(dir: CheckedDirectory, children: LocatedRecord[], add: (rule: IsoRule, message: string, path?: string) => void): void {
  const at = dir.path || '/';
  let previous: DirectoryRecord | undefined;
  for (const { record: r } of children) {
    const isDir = (r.flags & FILE_FLAG.DIRECTORY) !== 0;
    const path = `${dir.path}/${r.identifier}`;
    if (previous) {
      const order = compareIdentifiers(splitIdentifier(previous.identifier, (previous.flags & FILE_FLAG.DIRECTORY) !== 0), splitIdentifier(r.identifier, isDir));
      // Multi-extent sections repeat one identifier (§9.3 allows equal consecutive identifiers for them).
      if (order > 0 || (order === 0 && !(previous.flags & FILE_FLAG.MULTI_EXTENT))) add('ecma119', `${r.identifier} is recorded after ${previous.identifier} (§9.3 order)`, at);
    }
    previous = r;
    if (isDir ? !isLevel1DirectoryIdentifier(r.identifier) : !/^[A-Z0-9_]{1,8}\.[A-Z0-9_]{0,3}(;\d+)?$/.test(r.identifier)) {
      add('level1', `${JSON.stringify(r.identifier)} is not a Level 1 ${isDir ? 'directory' : 'file'} identifier`, path);
    } else if (!isDir && !isLevel1FileIdentifier(r.identifier)) {
      add('ps3.12', `${r.identifier} has a version other than ;1`, path);
    }
    if (r.extendedAttributeLength !== 0) add('ps3.12', 'has an extended attribute record', path);
    if (r.flags & (FILE_FLAG.RECORD | FILE_FLAG.PROTECTION)) add('ps3.12', `file flags 0x${r.flags.toString(16)} set bit 3 or 4`, path);
    if (r.volumeSequenceNumber !== 1) add('ecma119', `volume sequence number ${r.volumeSequenceNumber}`, path);
  }
}

async function checkPathTable(
  reader: RandomAccessReader,
  type: PathTableType,
  position: number,
  size: number,
  expected: readonly PathTableRecord[],
  add: (rule: IsoRule, message: string, path?: string) => void,
  label = '',
): Promise<void> {
  const name = `${label}path table ${type}`;
  const buf = await reader.read(position, size);
  if (buf.length < size) {
    add('ecma119', `${name} ends past the image`);
    return;
  }
  let table: PathTableRecord[];
  try {
    table = decodePathTable(buf, type, { file: reader.name, offset: position }, expected.length + 1);
  } catch (e) {
    add('ecma119', `${name}: ${(e as Error).message}`);
    return;
  }
  if (table.length !== expected.length) add('ecma119', `${name} has ${table.length} records for ${expected.length} directories`);
  const n = Math.min(table.length, expected.length);
  for (let i = 0; i < n; i++) {
    const got = table[i] as PathTableRecord;
    const want = expected[i] as PathTableRecord;
    if (got.identifier !== want.identifier || got.location !== want.location || got.parentNumber !== want.parentNumber || got.extendedAttributeLength !== want.extendedAttributeLength) {
      add('ecma119', `${name} record ${i + 1} is ${JSON.stringify(got)}, the directories say ${JSON.stringify(want)}`);
      return;
    }
  }
}
