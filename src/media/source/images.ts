/**
 * ISO 9660, FAT and ZIP images as media sources, through their guarded readers: the readers check
 * the structures and throw their typed errors (ISO9660_*, FAT_*, ZIP_*) on hostile images, limits
 * included (they cannot hand back a partial listing, so there a limit is an error, not a finding).
 * Here: directories dropped (entries are regular files), files above the size limit left out with a
 * LIMIT finding, and each file opened as a RandomAccessReader (a ZIP entry through ZipEntryReader).
 */
import type { RandomAccessReader } from '../io/random-access-reader.js';
import { DcmsafeError } from '../../errors/index.js';
import { openFatImage, type FatEntry } from '../fat/reader.js';
import { openIso9660, type IsoEntry } from '../iso9660/reader.js';
import { openZip, type ZipEntryInfo } from '../zip/reader.js';
import { EntryTable, type MediaKind, type MediaSource, type SourceEntry, type SourceFinding, type SourceLimits } from './types.js';
import { ZipEntryReader, type ZipEntryReaderOptions } from './zip-entry-reader.js';
import { YauzlReader } from './yauzl-reader.js';

interface Listing<T> {
  readonly entries: SourceEntry[];
  readonly findings: SourceFinding[];
  readonly table: EntryTable<T>;
}

/** The regular files of a reader's listing, with the size and depth limits applied. */
function list<T extends { path: string[]; size: number; isDirectory: boolean }>(items: readonly T[], limits: SourceLimits): Listing<T> {
  const entries: SourceEntry[] = [];
  const findings: SourceFinding[] = [];
  const table = new EntryTable<T>();
  for (const item of items) {
    if (item.isDirectory) continue;
    const file = item.path.join('/');
    if (item.path.length > limits.maxDepth) {
      findings.push({ code: 'LIMIT', message: `deeper than ${limits.maxDepth} levels: left out`, file });
      continue;
    }
    if (item.size > limits.maxFileSize) {
      findings.push({ code: 'LIMIT', message: `${item.size} bytes, more than the limit of ${limits.maxFileSize}: left out`, file });
      continue;
    }
    const entry: SourceEntry = { path: [...item.path], size: item.size };
    entries.push(entry);
    table.add(entry, item);
  }
  return { entries, findings, table };
}

function lookup<T>(table: EntryTable<T>, entry: SourceEntry, where: string, isClosed: () => boolean): T {
  const item = table.get(entry);
  if (item === undefined) throw new DcmsafeError('INTERNAL', `${where}: ${entry.path.join('/')} is not an entry of this medium`, { file: where });
  if (isClosed()) throw new DcmsafeError('INTERNAL', `${where}: the medium is closed`, { file: where });
  return item;
}

function labelOf(s: string): { label?: string } {
  const t = s.trim();
  return t === '' ? {} : { label: t };
}

/** An ISO 9660 or FAT image read through `image`, which the source owns from here on (closed by close(), or on failure). */
export async function openImageSource(kind: Extract<MediaKind, 'iso9660' | 'fat'>, where: string, image: RandomAccessReader, limits: SourceLimits): Promise<MediaSource> {
  const options = { maxEntries: limits.maxEntries, maxDepth: limits.maxDepth };
  let closed = false;
  try {
    // Both readers give entries with a path and an openFile(entry): one source shape serves both.
    const volume = kind === 'iso9660' ? await openIso9660(image, options) : await openFatImage(image, options);
    const label = 'volumeIdentifier' in volume ? volume.volumeIdentifier : volume.label;
    const openFile = (entry: IsoEntry | FatEntry): RandomAccessReader =>
      'volumeIdentifier' in volume ? volume.openFile(entry as IsoEntry) : volume.openFile(entry as FatEntry);
    const { entries, findings, table } = list<IsoEntry | FatEntry>(volume.entries, limits);
    return {
      kind,
      path: where,
      ...labelOf(label),
      entries,
      findings,
      open: (entry) => Promise.resolve().then(() => openFile(lookup(table, entry, where, () => closed))),
      close: async () => {
        if (closed) return;
        closed = true;
        await image.close();
      },
    };
  } catch (e) {
    await image.close().catch(() => undefined);
    throw e;
  }
}

/**
 * A ZIP file (or a ZIP image read through `image`, which the source then owns): the central directory
 * checked by openZip, each entry served by a ZipEntryReader.
 */
export async function openZipSource(where: string, limits: SourceLimits, readerOptions: ZipEntryReaderOptions = {}, image?: RandomAccessReader): Promise<MediaSource> {
  const volume = await openZip(image ? { reader: new YauzlReader(image), size: image.size, name: where } : where, { maxEntries: limits.maxEntries });
  const { entries, findings, table } = list<ZipEntryInfo>(depthFirst(volume.entries), limits);
  let closed = false;
  return {
    kind: 'zip',
    path: where,
    entries,
    findings,
    open: (entry) =>
      Promise.resolve().then(() => {
        const info = lookup(table, entry, where, () => closed);
        return new ZipEntryReader(() => volume.openFile(info), info.size, `${where}:/${info.path.join('/')}`, readerOptions);
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await volume.close();
    },
  };
}

/**
 * ZIP entries in depth-first order: central directory order need not keep a folder's files together,
 * so each folder's children are ordered by their first appearance in the central directory and
 * folders are visited where they first appear. Stable: it depends only on the central directory.
 */
export function depthFirst<T extends { path: string[] }>(items: readonly T[]): T[] {
  const rank = new Map<string, number>();
  const keys = items.map((item) =>
    item.path.map((_, i) => {
      const prefix = JSON.stringify(item.path.slice(0, i + 1));
      let r = rank.get(prefix);
      if (r === undefined) rank.set(prefix, (r = rank.size));
      return r;
    }),
  );
  const order = items.map((_, i) => i);
  order.sort((a, b) => {
    const ka = keys[a] as number[];
    const kb = keys[b] as number[];
    for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
      if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number);
    }
    return ka.length - kb.length;
  });
  return order.map((i) => items[i] as T);
}
