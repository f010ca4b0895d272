/**
 * Reading a DICOM file's header (PS3.10 §7.1: preamble, "DICM", File Meta Information, data set)
 * up to its pixel data, without loading the pixel data. Tolerant of what real files do: no preamble,
 * no File Meta Information, legacy ACR-NEMA streams, a missing or wrong Transfer Syntax UID. Each
 * tolerance is reported as a warning; what cannot be read is a typed error.
 */
import { DcmsafeError } from '../../errors/index.js';
import { close as fsClose, closeSync, fstat as fsFstat, fstatSync, open as fsOpen, openSync, read as fsRead, readSync, type Stats } from 'node:fs';
import { readableLength, readFully, type RandomAccessReader } from '../../media/io/random-access-reader.js';
import { DataSet, type Syntax } from '../dataset.js';
import { lookupTag } from '../dictionary.js';
import { T } from '../tags.js';
import {
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
  EXPLICIT_VR_BIG_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  IMPLICIT_VR_LITTLE_ENDIAN,
  transferSyntaxOrGuess,
  type TransferSyntax,
} from '../transfer-syntax.js';
import { isVR } from '../vr.js';
import { InflateByteSource, PrefixedReader, ReaderByteSource, type ByteSource } from './byte-source.js';
import { DataSetParser, DEFAULT_LIMITS, type PixelDataPosition, type ReadLimits, type ReadWarning } from './parser.js';

/** How the file is laid out. */
export type Part10Format =
  | 'part10' // preamble, DICM, File Meta Information: a conformant DICOM file
  | 'no-preamble' // File Meta Information without the preamble and DICM
  | 'no-meta' // a bare data set
  | 'acr-nema'; // a legacy ACR-NEMA stream (recognition code, or no SOP Class UID)

export interface Part10Header {
  readonly name: string;
  readonly size: number;
  readonly format: Part10Format;
  /** The 128 preamble bytes, when present. */
  readonly preamble?: Buffer;
  readonly meta?: DataSet;
  /** File offset of the data set's first byte (for deflated files: of the compressed bytes). */
  readonly dataSetOffset: number;
  readonly transferSyntax: TransferSyntax;
  /** Where the transfer syntax came from: the File Meta Information, or a look at the bytes. */
  readonly syntaxSource: 'meta' | 'detected';
  /** The data set up to (not including) the pixel data. */
  readonly dataSet: DataSet;
  /** The top-level pixel data element, if the data set has one. */
  readonly pixelData?: PixelDataPosition;
  readonly warnings: readonly ReadWarning[];
}

export interface ReadHeaderOptions {
  readonly limits?: ReadLimits;
  /** Stop before the pixel data (default). With false, the whole data set is parsed. */
  readonly stopAtPixelData?: boolean;
  /**
   * readPart10File: open the file and read its first 64 KiB with blocking calls (other reads stay
   * asynchronous). For scanning many local files: each costs about 10 µs this way, several times less
   * than through the thread pool; the event loop waits that long.
   */
  readonly blockingOpen?: boolean;
  /**
   * readPart10File: a buffer of at least 64 KiB to read the file's first bytes into, reused by the
   * caller for its next file once this read is done (nothing read keeps a view of it).
   */
  readonly scratch?: Buffer;
}

const SYNTAX_EXPLICIT_LE: Syntax = { explicitVR: true, littleEndian: true };

function syntaxOf(ts: TransferSyntax): Syntax {
  return { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };
}

/**
 * Guesses the encoding of a bare data set from its first element (PS3.5 leaves no marker): the
 * group number tells the byte order, two upper-case letters after the tag tell explicit VR.
 */
export function detectSyntax(head: Buffer): string | undefined {
  if (head.length < 8) return undefined;
  const vrText = head.toString('latin1', 4, 6);
  const explicit = isVR(vrText);
  const groupLE = head.readUInt16LE(0);
  const groupBE = head.readUInt16BE(0);
  const plausible = (g: number): boolean => g <= 0x0010 || g === 0x0018 || g === 0x0020 || g === 0x0028;
  if (plausible(groupLE) && (groupLE !== 0 || head.readUInt16LE(2) === 0)) {
    return explicit ? EXPLICIT_VR_LITTLE_ENDIAN : IMPLICIT_VR_LITTLE_ENDIAN;
  }
  if (plausible(groupBE) && explicit) return EXPLICIT_VR_BIG_ENDIAN;
  return undefined;
}

/** Checks the declared syntax against the first element; returns a corrected UID and why, if they disagree. */
export function checkDeclaredSyntax(declared: TransferSyntax, head: Buffer): string | undefined {
  if (head.length < 8 || declared.deflated) return undefined;
  const vrText = head.toString('latin1', 4, 6);
  const looksExplicit = isVR(vrText);
  if (declared.explicitVR && !looksExplicit) {
    return declared.littleEndian ? IMPLICIT_VR_LITTLE_ENDIAN : undefined;
  }
  if (!declared.explicitVR && looksExplicit) {
    const tag = ((head.readUInt16LE(0) << 16) | head.readUInt16LE(2)) >>> 0;
    const entry = lookupTag(tag);
    if (entry && entry.vr === vrText) return EXPLICIT_VR_LITTLE_ENDIAN;
  }
  return undefined;
}

function notDicom(name: string, why: string): DcmsafeError {
  return new DcmsafeError('PART10_NOT_DICOM', `${name}: not a DICOM file (${why})`, { file: name, offset: 0 });
}

export interface FileMetaRead {
  readonly meta: DataSet;
  /** The Transfer Syntax UID (0002,0010) without its padding, if there is one. */
  readonly transferSyntaxUID: string | undefined;
  /** What the parser tolerated. */
  readonly warnings: readonly ReadWarning[];
}

/**
 * Parses the File Meta Information (PS3.10 §7.1: group 0002, Explicit VR Little Endian) from the
 * current position of `src`, leaving it at the first byte of the data set. A malformed group is
 * PART10_BAD_META (PART10_LIMIT stays as it is).
 */
export async function parseFileMeta(src: ByteSource, name: string, limits: ReadLimits): Promise<FileMetaRead> {
  const meta = new DataSet(SYNTAX_EXPLICIT_LE, undefined, src.position);
  const parser = new DataSetParser(src, limits);
  try {
    await parser.parse(meta, { stopAtPixelData: false, metaOnly: true });
  } catch (e) {
    if (e instanceof DcmsafeError && e.code !== 'PART10_LIMIT') {
      throw new DcmsafeError('PART10_BAD_META', `${name}: File Meta Information is malformed: ${e.message}`, { ...e.data, file: name }, { cause: e });
    }
    throw e;
  }
  return { meta, transferSyntaxUID: meta.text(T.TransferSyntaxUID)?.replace(/\0/g, ''), warnings: parser.warnings };
}

export async function readPart10Header(reader: RandomAccessReader, options: ReadHeaderOptions = {}): Promise<Part10Header> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const stopAtPixelData = options.stopAtPixelData ?? true;
  const name = reader.name;
  const warnings: ReadWarning[] = [];
  const start = await reader.read(0, 140);
  if (start.length < 8) throw notDicom(name, `only ${start.length} bytes`);

  let format: Part10Format;
  let metaOffset: number | undefined;
  let preamble: Buffer | undefined;
  if (start.length >= 132 && start.toString('latin1', 128, 132) === 'DICM') {
    format = 'part10';
    metaOffset = 132;
    preamble = Buffer.from(start.subarray(0, 128));
  } else if (start.toString('latin1', 0, 4) === 'DICM') {
    format = 'no-preamble';
    metaOffset = 4;
    warnings.push({ code: 'NO_PREAMBLE', message: 'DICM prefix without the 128-byte preamble', offset: 0 });
  } else if (start.readUInt16LE(0) === 0x0002 && isVR(start.toString('latin1', 4, 6))) {
    format = 'no-preamble';
    metaOffset = 0;
    warnings.push({ code: 'NO_PREAMBLE', message: 'File Meta Information without the 128-byte preamble and DICM prefix', offset: 0 });
  } else {
    format = 'no-meta';
  }

  let meta: DataSet | undefined;
  let dataSetOffset = 0;
  let tsUID: string | undefined;
  let syntaxSource: 'meta' | 'detected' = 'meta';
  if (metaOffset !== undefined) {
    const src = new ReaderByteSource(reader, metaOffset);
    const read = await parseFileMeta(src, name, limits);
    meta = read.meta;
    warnings.push(...read.warnings);
    dataSetOffset = src.position;
    const declaredLength = meta.uint32(T.FileMetaInformationGroupLength);
    const metaStart = meta.get(T.FileMetaInformationGroupLength);
    if (declaredLength === undefined) {
      warnings.push({ code: 'META_NO_GROUP_LENGTH', message: 'File Meta Information has no group length (0002,0000)', offset: metaOffset });
    } else if (metaStart && metaStart.valueOffset + 4 + declaredLength !== dataSetOffset) {
      warnings.push({ code: 'META_GROUP_LENGTH', message: `group length says ${declaredLength} bytes, the group has ${dataSetOffset - metaStart.valueOffset - 4}`, offset: metaStart.offset });
    }
    for (const [tag, what] of [
      [T.MediaStorageSOPClassUID, 'Media Storage SOP Class UID'],
      [T.MediaStorageSOPInstanceUID, 'Media Storage SOP Instance UID'],
    ] as const) {
      if (!meta.text(tag)) warnings.push({ code: 'META_MISSING', message: `File Meta Information lacks ${what}`, offset: metaOffset });
    }
    tsUID = read.transferSyntaxUID;
    if (!tsUID) {
      warnings.push({ code: 'META_NO_TRANSFER_SYNTAX', message: 'File Meta Information lacks Transfer Syntax UID; detected from the data', offset: metaOffset });
    }
  }

  const head = await reader.read(dataSetOffset, 16);
  if (tsUID) {
    const declared = transferSyntaxOrGuess(tsUID);
    if (!declared) {
      throw new DcmsafeError('PART10_UNSUPPORTED_SYNTAX', `${name}: unknown transfer syntax ${tsUID}`, { file: name, offset: dataSetOffset, transferSyntax: tsUID });
    }
    const corrected = checkDeclaredSyntax(declared, head);
    if (corrected) {
      warnings.push({ code: 'TRANSFER_SYNTAX_MISMATCH', message: `declared ${tsUID} but the data set is encoded as ${corrected}`, offset: dataSetOffset });
      tsUID = corrected;
      syntaxSource = 'detected';
    }
  } else {
    if (head.length === 0 && meta) {
      throw new DcmsafeError('PART10_TRUNCATED', `${name}: File Meta Information but no data set`, { file: name, offset: dataSetOffset });
    }
    tsUID = detectSyntax(head);
    syntaxSource = 'detected';
    if (!tsUID) throw notDicom(name, 'the first bytes are not a data element');
  }
  const transferSyntax = transferSyntaxOrGuess(tsUID) as TransferSyntax;

  let src: ByteSource;
  let inflate: InflateByteSource | undefined;
  if (transferSyntax.uid === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN) {
    inflate = InflateByteSource.fromReader(reader, dataSetOffset, 0, limits.maxInflated);
    src = inflate;
  } else {
    src = new ReaderByteSource(reader, dataSetOffset);
  }
  const dataSet = new DataSet(syntaxOf(transferSyntax), undefined, 0);
  const parser = new DataSetParser(src, limits);
  try {
    await parser.parse(dataSet, { stopAtPixelData });
  } finally {
    await inflate?.close();
  }
  warnings.push(...parser.warnings);

  if (format === 'no-meta') {
    if (dataSet.elements.size === 0) throw notDicom(name, 'no data elements');
    const acr = dataSet.text(T.RecognitionCode)?.startsWith('ACR-NEMA') || !dataSet.has(T.SOPClassUID);
    if (acr) format = 'acr-nema';
    warnings.push({ code: 'NO_META', message: acr ? 'legacy ACR-NEMA stream: no File Meta Information, no SOP Class UID' : 'data set without preamble and File Meta Information', offset: 0 });
  }

  return {
    name,
    size: reader.size,
    format,
    ...(preamble ? { preamble } : {}),
    ...(meta ? { meta } : {}),
    dataSetOffset,
    transferSyntax,
    syntaxSource,
    dataSet,
    ...(parser.pixelData ? { pixelData: parser.pixelData } : {}),
    warnings,
  };
}

/** Bytes read at once from the start of a file whose header is read. */
const HEADER_READ = 64 * 1024;

const fsCall = <T>(call: (done: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> =>
  new Promise<T>((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value))));

/** Reads of an open file descriptor, through the callback API (lighter than FileHandle for many small files). */
class DescriptorReader implements RandomAccessReader {
  constructor(
    private readonly fd: number,
    readonly size: number,
    readonly name: string,
  ) {}

  async read(position: number, length: number): Promise<Buffer> {
    const n = readableLength(position, length, this.size, this.name);
    return readFully(n, position, (b, off, len, pos) => fsCall<number>((cb) => fsRead(this.fd, b, off, len, pos, cb)));
  }

  close(): Promise<void> {
    return fsCall<void>((cb) => fsClose(this.fd, (err) => cb(err, undefined)));
  }

  closeSync(): void {
    closeSync(this.fd);
  }
}

/**
 * Opens a file and reads its first `n` bytes, asking for its size at the same time: a header that
 * fits costs four system calls (open, fstat, read, close) and no FileHandle.
 */
async function openWithHead(path: string, n: number, blocking: boolean, scratch: Buffer | undefined): Promise<PrefixedReader> {
  let fd: number;
  try {
    fd = blocking ? openSync(path, 'r') : await fsCall<number>((cb) => fsOpen(path, 'r', cb));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DcmsafeError('INPUT_NOT_FOUND', `cannot open ${path}: ${err.code ?? err.message}`, { file: path }, { cause: e });
  }
  try {
    const head = scratch && scratch.length >= n ? scratch.subarray(0, n) : Buffer.allocUnsafe(n);
    const [st, got] = blocking
      ? [settle(() => fstatSync(fd)), settle(() => readSync(fd, head, 0, n, 0))]
      : await Promise.allSettled([fsCall<Stats>((cb) => fsFstat(fd, cb)), fsCall<number>((cb) => fsRead(fd, head, 0, n, 0, cb))]);
    if (st.status === 'rejected') throw st.reason;
    if (!st.value.isFile()) throw new DcmsafeError('INPUT_NOT_FOUND', `${path} is not a regular file`, { file: path });
    if (got.status === 'rejected') throw got.reason;
    const reader = new DescriptorReader(fd, st.value.size, path);
    // A short read is the end of the file, unless it changed under us: then read the rest as usual.
    const bytes = got.value < n && got.value < st.value.size ? await reader.read(0, Math.min(n, st.value.size)) : head.subarray(0, Math.min(got.value, st.value.size));
    return new PrefixedReader(reader, bytes);
  } catch (e) {
    await fsCall<void>((cb) => fsClose(fd, (err) => cb(err, undefined))).catch(() => undefined);
    throw e;
  }
}

function settle<T>(f: () => T): PromiseSettledResult<T> {
  try {
    return { status: 'fulfilled', value: f() };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

/** Opens a file, reads its header, closes it. */
export async function readPart10File(path: string, options: ReadHeaderOptions = {}): Promise<Part10Header> {
  // One read for the whole header in most files; pixel data beyond it is never read.
  const blocking = options.blockingOpen === true;
  const reader = await openWithHead(path, HEADER_READ, blocking, options.scratch);
  try {
    return await readPart10Header(reader, options);
  } finally {
    if (blocking) reader.closeSync();
    else await reader.close();
  }
}
