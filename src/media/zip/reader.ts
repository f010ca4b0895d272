/**
 * A guarded, streaming ZIP reader (PKWARE APPNOTE 6.3.10) over yauzl, for ZIP File Media (PS3.12
 * Annex V) received from elsewhere: nothing in it is trusted.
 *
 * Before any content is read (`openZip`):
 *  - every name is checked before it can become a path (names.ts: yauzl's validateFileName plus
 *    our checks), and names must not collide (duplicates, a file used as a folder, or names that
 *    differ only in case, which overwrite each other on Windows and macOS);
 *  - zip bombs are refused from the central directory alone: entry count, total declared size and
 *    per-entry declared ratio against the limits;
 *  - overlapping entries (Fifield 2019, "A better zip bomb": many central directory entries whose
 *    data is the same bytes) are refused: yauzl exposes each entry's local header offset and
 *    compressed size, so entries sorted by offset must each end (at least header + data) before the
 *    next one starts, and before the central directory.
 * When a file is opened (`openFile`), its local header is read and must agree with the central
 * directory (name, method, sizes, CRC where present), and its data must end before the next local
 * header: the exact form of the overlap check.
 * While a file streams, the bytes coming out of inflate are counted: more than declared is a bomb
 * (aborted at once: at most one inflate chunk past the declared size is ever produced), fewer or a
 * wrong CRC-32 (yauzl does not check it) is a damaged ZIP.
 */
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { DcmsafeError, asDcmsafeError } from '../../errors/index.js';
import { zipError } from './errors.js';
import { FileRandomAccessReader } from './file-reader.js';
import { checkEntryName } from './names.js';

export interface ZipEntryInfo {
  /** Validated path components from the ZIP root. */
  path: string[];
  isDirectory: boolean;
  /** Declared uncompressed size; the stream is checked against it. */
  size: number;
  compressedSize: number;
  method: 'stored' | 'deflated';
}

export interface ZipVolume {
  /** The entries in central directory order. */
  entries: ZipEntryInfo[];
  /** The entry's bytes, inflated and checked (size, CRC-32) while they stream. */
  openFile(entry: ZipEntryInfo): Promise<AsyncIterable<Buffer>>;
  /** Stops any stream still open and closes the file. */
  close(): Promise<void>;
}

export interface ZipLimits {
  /** Most entries accepted (default 1 000 000). */
  maxEntries?: number;
  /** Most total declared uncompressed bytes (default 64 GiB). */
  maxTotalSize?: number;
  /**
   * Highest declared uncompressed/compressed ratio of one deflated entry (default 1100). Deflate
   * cannot exceed about 1032:1, so anything higher means the declared sizes lie; a lower limit (such
   * as 1000) would refuse honest ZIPs holding blank images, which deflate at about 1029:1.
   */
  maxRatio?: number;
}

export const DEFAULT_ZIP_LIMITS: Required<ZipLimits> = {
  maxEntries: 1_000_000,
  maxTotalSize: 64 * 2 ** 30,
  maxRatio: 1100,
};

const LOCAL_HEADER_SIZE = 30; // APPNOTE 4.3.7, without name and extra field
const CENTRAL_HEADER_SIZE = 46; // APPNOTE 4.3.12, without name, extra field and comment
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const MAX_32 = 0xffffffff;

interface EntryRecord {
  readonly info: ZipEntryInfo;
  readonly entry: Entry;
  readonly name: string;
  /** Where the next local header (or the central directory) starts: this entry's data must end before. */
  limit: number;
  /** The limit is the central directory (last entry), not another entry. */
  last: boolean;
}

/** yauzl's errors are plain Errors: file system ones become IO, everything else is a damaged ZIP. */
function asZipError(e: unknown, file: string, entry?: string): DcmsafeError {
  if (e instanceof DcmsafeError) return e;
  const errno = e as NodeJS.ErrnoException | undefined;
  if (errno && typeof errno.code === 'string' && typeof errno.syscall === 'string') return asDcmsafeError(e, { file });
  const message = e instanceof Error ? e.message : String(e);
  return zipError('ZIP_INVALID', `${file}${entry ? `: ${entry}` : ''}: not a valid ZIP (${message})`, { file, ...(entry ? { entry } : {}) }, e);
}

/** A ZIP held elsewhere than in a file of its own (an image in memory): yauzl's reader over it, its size and a name for messages. */
export interface ZipSource {
  readonly reader: yauzl.RandomAccessReader;
  readonly size: number;
  readonly name: string;
}

async function openYauzl(source: string | ZipSource): Promise<ZipFile> {
  const reader = typeof source === 'string' ? await FileRandomAccessReader.open(source) : source.reader;
  const size = typeof source === 'string' ? (reader as FileRandomAccessReader).size : source.size;
  return new Promise((resolve, reject) => {
    yauzl.fromRandomAccessReader(
      reader,
      size,
      // decodeStrings off: names come as bytes and are decoded and checked here, so a bad name
      // gets our error code instead of yauzl's generic one.
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true },
      (err, zipfile) => {
        if (!err) return resolve(zipfile);
        // yauzl leaves the reader to us when it cannot open the ZIP.
        reader.close(() => reject(err));
      },
    );
  });
}

function nextEntry(zipfile: ZipFile): Promise<Entry | undefined> {
  return new Promise((resolve, reject) => {
    const onEntry = (entry: Entry): void => {
      cleanup();
      resolve(entry);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      zipfile.off('entry', onEntry);
      zipfile.off('end', onEnd);
      zipfile.off('error', onError);
    };
    zipfile.on('entry', onEntry);
    zipfile.on('end', onEnd);
    zipfile.on('error', onError);
    zipfile.readEntry();
  });
}

/** Tracks names so that no two entries land on the same path, and no file is also a folder. */
class NameRegistry {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();
  private readonly folded = new Map<string, string>();

  add(file: string, path: readonly string[], isDirectory: boolean): void {
    const key = path.join('/');
    const conflict = (why: string): DcmsafeError => zipError('ZIP_INVALID', `${file}: entry "${key}" ${why}`, { file, entry: key });
    if (this.files.has(key) || (!isDirectory && this.folders.has(key))) throw conflict('appears twice (or as both a file and a folder)');
    for (let i = 1; i < path.length; i++) {
      const folder = path.slice(0, i).join('/');
      if (this.files.has(folder)) throw conflict(`is inside "${folder}", which is a file`);
      this.folders.add(folder);
    }
    const lower = key.toLowerCase();
    const other = this.folded.get(lower);
    if (other !== undefined && other !== key) throw conflict(`and "${other}" differ only in case`);
    this.folded.set(lower, key);
    if (isDirectory) this.folders.add(key);
    else this.files.add(key);
  }
}

/** Opens a ZIP, reads and checks its whole central directory; contents are read only by `openFile`. */
export async function openZip(source: string | ZipSource, limits: ZipLimits = {}): Promise<ZipVolume> {
  const path = typeof source === 'string' ? source : source.name;
  // Field by field: an explicit `undefined` must not switch a limit off.
  const max: Required<ZipLimits> = {
    maxEntries: limits.maxEntries ?? DEFAULT_ZIP_LIMITS.maxEntries,
    maxTotalSize: limits.maxTotalSize ?? DEFAULT_ZIP_LIMITS.maxTotalSize,
    maxRatio: limits.maxRatio ?? DEFAULT_ZIP_LIMITS.maxRatio,
  };
  const zipfile = await openYauzl(source).catch((e: unknown) => {
    throw asZipError(e, path);
  });
  try {
    const records = await readCentralDirectory(zipfile, path, max);
    return volume(zipfile, path, records);
  } catch (e) {
    zipfile.on('error', () => undefined); // a failure to close the file adds nothing to the first error
    zipfile.close();
    throw asZipError(e, path);
  }
}

async function readCentralDirectory(zipfile: ZipFile, file: string, max: Required<ZipLimits>): Promise<EntryRecord[]> {
  // yauzl keeps the central directory offset as its read cursor until the first readEntry().
  const centralOffset = (zipfile as unknown as { readEntryCursor: number }).readEntryCursor;
  const count = zipfile.entryCount;
  if (typeof centralOffset !== 'number' || centralOffset > zipfile.fileSize) {
    throw zipError('ZIP_INVALID', `${file}: central directory offset beyond the end of the file`, { file });
  }
  if (count * CENTRAL_HEADER_SIZE > zipfile.fileSize - centralOffset) {
    throw zipError('ZIP_INVALID', `${file}: ${count} entries cannot fit in the central directory`, { file });
  }
  if (count > max.maxEntries) {
    throw zipError('ZIP_BOMB', `${file}: ${count} entries, more than the limit of ${max.maxEntries}`, { file, entries: count });
  }

  const records: EntryRecord[] = [];
  const names = new NameRegistry();
  let total = 0;
  for (;;) {
    const entry = await nextEntry(zipfile);
    if (entry === undefined) break;
    const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
    const path = checkEntryName(name);
    const isDirectory = name.endsWith('/');
    const bad = (why: string): DcmsafeError => zipError('ZIP_INVALID', `${file}: ${name}: ${why}`, { file, entry: name });
    if (entry.generalPurposeBitFlag & FLAG_ENCRYPTED) {
      // PS3.12 Annex V does not address ZIP encryption; secure media use Secure DICOM Files instead.
      throw bad('encrypted entries are not supported');
    }
    if (entry.compressionMethod !== METHOD_STORED && entry.compressionMethod !== METHOD_DEFLATED) {
      throw bad(`compression method ${entry.compressionMethod} is not supported (only stored and deflated)`);
    }
    const size = entry.uncompressedSize;
    const compressedSize = entry.compressedSize;
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(compressedSize)) throw bad('impossible sizes');
    if (isDirectory && size !== 0) throw bad('a folder entry with content');
    if (entry.compressionMethod === METHOD_DEFLATED && size > 0) {
      const ratio = compressedSize === 0 ? Infinity : size / compressedSize;
      if (ratio > max.maxRatio) {
        throw zipError('ZIP_BOMB', `${file}: ${name}: declares ${size} bytes from ${compressedSize} (ratio ${Math.round(ratio)}, limit ${max.maxRatio})`, {
          file,
          entry: name,
          size,
          compressedSize,
        });
      }
    }
    total += size;
    if (total > max.maxTotalSize) {
      throw zipError('ZIP_BOMB', `${file}: declared content exceeds the limit of ${max.maxTotalSize} bytes (at ${name})`, { file, entry: name, total });
    }
    names.add(file, path, isDirectory);
    const info: ZipEntryInfo = {
      path,
      isDirectory,
      size,
      compressedSize,
      method: entry.compressionMethod === METHOD_STORED ? 'stored' : 'deflated',
    };
    records.push({ info, entry, name, limit: centralOffset, last: true });
  }
  checkOverlaps(records, centralOffset, file);
  return records;
}

/**
 * Fifield's overlapping-entry bombs: sorted by local header offset, each entry's local header and
 * data must end before the next local header (a shared offset is the "full overlap" form). The
 * local name and extra field are not read here, so header + data is a lower bound of the span: no
 * honest ZIP fails it. `openFile` repeats the check with the real local header.
 */
function checkOverlaps(records: EntryRecord[], centralOffset: number, file: string): void {
  const sorted = [...records].sort((a, b) => a.entry.relativeOffsetOfLocalHeader - b.entry.relativeOffsetOfLocalHeader);
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i] as EntryRecord;
    const next = sorted[i + 1];
    const start = r.entry.relativeOffsetOfLocalHeader;
    const end = start + LOCAL_HEADER_SIZE + r.info.compressedSize;
    r.limit = next ? next.entry.relativeOffsetOfLocalHeader : centralOffset;
    r.last = next === undefined;
    if (end > r.limit) {
      if (next) {
        throw zipError('ZIP_BOMB', `${file}: entries "${r.name}" and "${next.name}" overlap (local headers at ${start} and ${r.limit})`, {
          file,
          entry: r.name,
          offset: start,
        });
      }
      throw zipError('ZIP_INVALID', `${file}: ${r.name}: data runs into the central directory`, { file, entry: r.name, offset: start });
    }
  }
}

function volume(zipfile: ZipFile, file: string, records: EntryRecord[]): ZipVolume {
  const byInfo = new Map<ZipEntryInfo, EntryRecord>(records.map((r) => [r.info, r]));
  const active = new Set<Readable>();
  let closed = false;
  // yauzl re-emits an error of the underlying reader (closing the file); unheard, it would crash the process.
  let lateError: unknown;
  zipfile.on('error', (e: Error) => {
    lateError ??= e;
  });

  async function openFile(info: ZipEntryInfo): Promise<AsyncIterable<Buffer>> {
    const record = byInfo.get(info);
    if (!record) throw new DcmsafeError('INTERNAL', `${file}: openFile was given an entry of another ZIP`, { file });
    if (closed) throw new DcmsafeError('INTERNAL', `${file}: ZIP already closed`, { file });
    if (info.isDirectory) return (async function* () {})();
    const { entry, name } = record;
    const fileDataStart = await checkLocalHeader(zipfile, file, record).catch((e: unknown) => {
      throw asZipError(e, file, name);
    });
    const raw = await new Promise<Readable>((resolve, reject) => {
      zipfile.openReadStreamLowLevel(fileDataStart, entry.compressedSize, 0, entry.compressedSize, false, null, (err, stream) =>
        err ? reject(asZipError(err, file, name)) : resolve(stream),
      );
    });
    let out: Readable = raw;
    if (entry.compressionMethod === METHOD_DEFLATED) {
      const inflate = zlib.createInflateRaw();
      // pipeline forwards an error of either stream to the other, so the loop below sees it.
      out = pipeline(raw, inflate, () => undefined);
    }
    active.add(raw).add(out);
    return stream(raw, out, record);
  }

  async function* stream(raw: Readable, out: Readable, record: EntryRecord): AsyncGenerator<Buffer> {
    const { entry, name } = record;
    const size = entry.uncompressedSize;
    let count = 0;
    let crc = 0;
    try {
      for await (const chunk of out as AsyncIterable<Buffer>) {
        count += chunk.length;
        if (count > size) {
          throw zipError('ZIP_BOMB', `${file}: ${name}: inflates to more than the ${size} bytes declared`, { file, entry: name, size });
        }
        crc = zlib.crc32(chunk, crc);
        yield chunk;
      }
    } catch (e) {
      throw asZipError(e, file, name);
    } finally {
      raw.destroy();
      out.destroy();
      active.delete(raw);
      active.delete(out);
    }
    if (count !== size) throw zipError('ZIP_INVALID', `${file}: ${name}: ${count} bytes, ${size} declared`, { file, entry: name, size });
    if (crc >>> 0 !== entry.crc32 >>> 0) {
      throw zipError('ZIP_INVALID', `${file}: ${name}: CRC-32 mismatch (damaged content)`, { file, entry: name });
    }
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    for (const s of active) s.destroy();
    active.clear();
    await new Promise<void>((resolve) => {
      if (!zipfile.isOpen) return resolve();
      // The reader emits "close" once the file is closed, or "error" if closing failed.
      zipfile.once('close', () => resolve());
      zipfile.once('error', () => resolve());
      zipfile.close();
    });
    if (lateError !== undefined) throw asZipError(lateError, file);
  }

  return { entries: records.map((r) => r.info), openFile, close };
}

/** Reads the entry's local header (APPNOTE 4.3.7), checks it against the central directory and the overlap limit; returns where the data starts. */
async function checkLocalHeader(zipfile: ZipFile, file: string, record: EntryRecord): Promise<number> {
  const { entry, name } = record;
  const local = await zipfile.readLocalFileHeaderPromise(entry);
  const bad = (why: string): DcmsafeError => zipError('ZIP_INVALID', `${file}: ${name}: local header ${why}`, { file, entry: name });
  if (!local.fileName.equals(entry.fileNameRaw)) throw bad('names another file than the central directory');
  if (local.compressionMethod !== entry.compressionMethod) throw bad('gives another compression method');
  if (local.generalPurposeBitFlag & FLAG_ENCRYPTED) throw bad('says encrypted');
  if (!(local.generalPurposeBitFlag & FLAG_DATA_DESCRIPTOR)) {
    // Without a data descriptor the local header carries CRC and sizes (0xFFFFFFFF: in a ZIP64 extra field).
    if (local.crc32 !== entry.crc32) throw bad('gives another CRC-32');
    if (local.compressedSize !== MAX_32 && local.compressedSize !== entry.compressedSize) throw bad('gives another compressed size');
    if (local.uncompressedSize !== MAX_32 && local.uncompressedSize !== entry.uncompressedSize) throw bad('gives another size');
  }
  const end = local.fileDataStart + entry.compressedSize;
  if (end > record.limit && record.last) throw bad(`puts the data beyond the start of the central directory (${end} > ${record.limit})`);
  if (end > record.limit) {
    throw zipError('ZIP_BOMB', `${file}: ${name}: data overlaps the next entry (ends at ${end}, next local header at ${record.limit})`, {
      file,
      entry: name,
      offset: entry.relativeOffsetOfLocalHeader,
    });
  }
  return local.fileDataStart;
}
