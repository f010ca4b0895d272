/**
 * A File-set as a ZIP file (PS3.12 Annex V; PKWARE APPNOTE 6.3.10): one File-set per ZIP, the
 * DICOMDIR at the ZIP root and first, the File-set's directory structure kept as "/"-separated entry
 * names (APPNOTE 4.4.17). Written with archiver's ZipArchive (zip-stream over compress-commons).
 *
 * Streaming: each MediaFile is opened only when the previous entry is complete, its bytes flow
 * through archiver (CRC-32 and deflate on the fly, sizes in a data descriptor, APPNOTE 4.3.9) and it
 * is closed before the next one opens, so thousands of files never hold thousands of handles and
 * memory does not grow with file size. Backpressure reaches the file: nothing is read faster than
 * the consumer of `emit()` takes the ZIP bytes.
 *
 * Determinism: same files, same options, same Node (zlib) → byte-identical ZIP. Entry times are the
 * injected `now` as MS-DOS date/time in UTC (archiver's default, `forceLocalTime: false`, so the
 * machine's time zone does not leak in); archiver writes no extended-timestamp or other extra field
 * (only ZIP64 ones, APPNOTE 4.5.3, when sizes or offsets need them); modes are fixed (0644, "made by"
 * Unix); entries keep the given order.
 *
 * Stored or deflated (APPNOTE 4.4.5, methods 0 and 8): see `compressionOf`.
 */
import { Readable } from 'node:stream';
import { ZipArchive } from 'archiver';
import { DcmsafeError, asDcmsafeError } from '../../errors/index.js';
import type { MediaFile } from '../media-file.js';
import { checkEntryName } from './names.js';
import { SNIFF_BYTES, sniffCompressible } from './sniff.js';

/** A MediaFile with an optional hint: false for encrypted or already compressed content (stored, not deflated). */
export interface ZipMediaFile extends MediaFile {
  readonly compressible?: boolean;
}

export type ZipCompression = 'auto' | 'never' | 'always';

export interface ZipOptions {
  /** Injected clock: the time of every entry. */
  now: Date;
  /** auto (default): deflate unless the hint or the first bytes say it cannot help; never: store all; always: deflate all non-empty files. */
  compress?: ZipCompression;
  /** zlib deflate level 1-9 (default 6, zlib's and zip(1)'s default: ZIP-MAIL travels by email, where size matters). */
  level?: number;
}

export interface ZipPlanEntry {
  /** Entry name: path components joined with "/". */
  readonly name: string;
  readonly size: number;
  /** 'stored' or 'deflated' when known at plan time; 'sniff' when the first bytes will decide. */
  readonly method: 'stored' | 'deflated' | 'sniff';
}

export interface ZipPlan {
  /** The entries in ZIP order (DICOMDIR first). */
  readonly entries: readonly ZipPlanEntry[];
  /** Whether the ZIP64 end of central directory records are forced (APPNOTE 4.3.14, 4.3.15). */
  readonly zip64: boolean;
  /** The ZIP bytes, in order, reading each file when its turn comes. */
  emit(): AsyncGenerator<Buffer>;
}

const MAX_16 = 0xffff;
const MAX_32 = 0xffffffff;

/**
 * Whether the ZIP needs the ZIP64 end records. compress-commons switches to them by itself only when
 * there are more than 65535 entries or the central directory starts beyond 4 GiB; exactly 65535
 * entries, or a central directory at exactly 0xFFFFFFFF, would leave the 0xFFFF/0xFFFFFFFF markers
 * of APPNOTE 4.4.1.4 without a ZIP64 record. So: force them from an upper bound of the archive size.
 * Per-entry ZIP64 extra fields (size or offset beyond 4 GiB) are compress-commons' own business.
 */
export function needsZip64(entries: readonly { name: string; size: number; method: ZipPlanEntry['method'] }[]): boolean {
  if (entries.length >= MAX_16) return true;
  let bound = 22 + 56 + 20; // end records, ZIP64 ones included
  for (const e of entries) {
    const nameBytes = Buffer.byteLength(e.name, 'utf8');
    // Deflate's worst case is a few bytes per 16 KiB stored block; 1/1000 + 64 is far above it.
    const data = e.method === 'stored' ? e.size : e.size + Math.ceil(e.size / 1000) + 64;
    bound += 30 + nameBytes + data + 24 + (46 + nameBytes + 28);
  }
  return bound >= MAX_32;
}

function planError(name: string, why: string): DcmsafeError {
  // The paths come from our own File-set plan: a bad one is a bug upstream, not bad media.
  return new DcmsafeError('INTERNAL', `cannot put ${JSON.stringify(name)} in a ZIP: ${why}`, { entry: name });
}

/** The method decided at plan time, or 'sniff' when the first bytes must tell. */
function compressionOf(file: ZipMediaFile, compress: ZipCompression): ZipPlanEntry['method'] {
  if (file.size === 0) return 'stored'; // nothing to gain; archiver would write a 2-byte deflate stream
  if (compress === 'never') return 'stored';
  if (compress === 'always') return 'deflated';
  if (file.compressible === false) return 'stored';
  if (file.compressible === true) return 'deflated';
  return 'sniff';
}

/** Lays out the ZIP: entry order, names, methods known in advance, ZIP64. Nothing is opened yet. */
export function planZip(files: readonly ZipMediaFile[], options: ZipOptions): ZipPlan {
  const compress = options.compress ?? 'auto';
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new DcmsafeError('INTERNAL', `ZIP deflate level must be 1 to 9, not ${level}`);
  }
  if (Number.isNaN(options.now.getTime())) throw new DcmsafeError('INTERNAL', 'ZIP entry time is not a valid date');

  // PS3.12 Annex V: the DICOMDIR is at the root; first, so a reader of a truncated download finds it.
  const dicomdir = files.findIndex((f) => f.path.length === 1 && f.path[0] === 'DICOMDIR');
  const ordered = dicomdir < 0 ? [...files] : [files[dicomdir] as ZipMediaFile, ...files.filter((_, i) => i !== dicomdir)];

  const names = new Set<string>();
  const folders = new Set<string>();
  const entries: ZipPlanEntry[] = [];
  for (const file of ordered) {
    const name = file.path.join('/');
    if (file.path.length === 0 || file.path.some((c) => c.length === 0 || c.includes('/'))) {
      throw planError(name, 'path components must be non-empty and free of "/"');
    }
    try {
      checkEntryName(name);
    } catch (e) {
      throw planError(name, e instanceof Error ? e.message : String(e));
    }
    if (!Number.isSafeInteger(file.size) || file.size < 0) throw planError(name, `invalid size ${file.size}`);
    if (names.has(name) || folders.has(name)) throw planError(name, 'duplicate path');
    for (let i = 1; i < file.path.length; i++) {
      const folder = file.path.slice(0, i).join('/');
      if (names.has(folder)) throw planError(name, `"${folder}" is a file`);
      folders.add(folder);
    }
    names.add(name);
    entries.push({ name, size: file.size, method: compressionOf(file, compress) });
  }
  const zip64 = needsZip64(entries);

  return {
    entries,
    zip64,
    emit: () => emitZip(ordered, entries, { now: options.now, level, zip64 }),
  };
}

interface EmitSettings {
  now: Date;
  level: number;
  zip64: boolean;
}

async function* emitZip(files: readonly ZipMediaFile[], entries: readonly ZipPlanEntry[], settings: EmitSettings): AsyncGenerator<Buffer> {
  const archive = new ZipArchive({ forceZip64: settings.zip64, zlib: { level: settings.level } });
  let failure: unknown;
  // Archiver re-emits its module's errors; without a listener they would be thrown at the event loop.
  archive.on('error', (e: Error) => {
    failure ??= e;
  });
  let stop: (reason: Error) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => undefined);

  const feeding = feed(archive, files, entries, settings.now, stopped).catch((e: unknown) => {
    failure ??= e;
    // The entry in progress may never complete (archiver does not forward source errors): end the
    // archive stream with the error so the consumer's loop stops.
    archive.abort();
    archive.destroy(e instanceof Error ? e : new Error(String(e)));
  });

  try {
    for await (const chunk of archive as AsyncIterable<Buffer>) {
      yield chunk;
    }
  } catch (e) {
    throw asDcmsafeError(failure ?? e);
  } finally {
    // Consumer done, stopped early, or failed: release whatever file is open.
    stop(new Error('ZIP emission stopped'));
    if (!archive.destroyed) archive.destroy();
    await feeding;
  }
  if (failure !== undefined) throw asDcmsafeError(failure);
}

/** Feeds the files to archiver one at a time, each opened only when the previous entry is complete. */
async function feed(archive: ZipArchive, files: readonly ZipMediaFile[], entries: readonly ZipPlanEntry[], now: Date, stopped: Promise<never>): Promise<void> {
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as ZipMediaFile;
    const entry = entries[i] as ZipPlanEntry;
    const opening = file.open();
    const opened = await Promise.race([opening, stopped]).catch((e: unknown) => {
      void opening.then((o) => o.close()).catch(() => undefined);
      throw e;
    });
    let source: Readable | undefined;
    let failed = false;
    try {
      let stream: AsyncIterable<Buffer> = opened.stream;
      let store = entry.method === 'stored';
      if (entry.method === 'sniff') {
        const peeked = await Promise.race([peek(stream, SNIFF_BYTES), stopped]);
        store = !sniffCompressible(peeked.head);
        stream = peeked.rest;
      }
      source = Readable.from(exactly(stream, file.size, entry.name), { objectMode: false });
      const sourceFailed = new Promise<never>((_, reject) => {
        (source as Readable).once('error', reject);
      });
      const done = entryDone(archive);
      archive.append(source, { name: entry.name, date: now, mode: 0o644, store });
      await Promise.race([done, sourceFailed, stopped]);
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      if (source && !source.readableEnded) source.destroy();
      // A close error matters only when nothing else went wrong first.
      await opened.close().catch((e: unknown) => {
        if (!failed) throw e;
      });
    }
  }
  // The returned promise settles only when the output is consumed; the consumer loop waits for that.
  archive.finalize().catch(() => undefined);
}

/** Resolves when archiver has written the entry in progress (its `entry` event), rejects on an archive error. */
function entryDone(archive: ZipArchive): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onEntry = (): void => {
      cleanup();
      resolve();
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      archive.off('entry', onEntry);
      archive.off('error', onError);
    };
    archive.on('entry', onEntry);
    archive.on('error', onError);
  });
}

/** Passes the bytes through, checking that exactly `size` of them come (MediaFile's contract). */
async function* exactly(stream: AsyncIterable<Buffer>, size: number, name: string): AsyncGenerator<Buffer> {
  let count = 0;
  for await (const chunk of stream) {
    count += chunk.length;
    if (count > size) throw new DcmsafeError('INTERNAL', `${name}: more than the ${size} bytes planned`, { entry: name });
    if (chunk.length > 0) yield chunk;
  }
  if (count !== size) throw new DcmsafeError('INTERNAL', `${name}: ${count} bytes, ${size} planned`, { entry: name });
}

/** Reads at least `want` bytes (or all) for the sniffer and gives back a stream that still yields everything. */
async function peek(stream: AsyncIterable<Buffer>, want: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const iterator = stream[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < want) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    have += next.value.length;
  }
  // One chunk is used as it is (it may be a whole in-memory file: no copy).
  const head = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  const rest = (async function* () {
    yield* chunks;
    chunks.length = 0;
    if (!ended) yield* { [Symbol.asyncIterator]: () => iterator };
  })();
  return { head, rest };
}
