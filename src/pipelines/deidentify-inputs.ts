/**
 * create --deidentify: every input instance is de-identified (PS3.15 E.2 with the chosen E.3
 * options, see dicom/deidentify) BEFORE the File-set is planned, so that the DICOMDIR, README.TXT,
 * INDEX.HTM, the manifest and the summary are built from de-identified headers only.
 *
 * Each instance is streamed once through the rewrite (header parsed and de-identified in memory,
 * pixel data passed through untouched) into a staging area (DeidStaging) that the caller owns and
 * closes; planning then scans the staged files as it scans any input, so every later step (sizes,
 * transcoding, signing, encryption, the media writers) works on de-identified files only. The staged
 * file is new Part 10: a zero preamble and a new File Meta Information naming dcmsafe (E.1.1 item 7).
 *
 * The staged files have no name (O_TMPFILE, or created and unlinked before a byte is written): the
 * process reaches them through its own descriptors (/proc/self/fd/N, which its worker threads share),
 * and the kernel frees them when the process ends, however it ends: a killed run leaves nothing that
 * holds the staged data. A private 0700 folder holds one symbolic link per staged file
 * (000001.dcm → /proc/self/fd/N) so that names, order and messages are those of the inputs; links
 * hold no data, and the folders of dead runs are removed by the next one. For secure media the
 * unnamed files go to memory (/dev/shm) while it has room, so no plaintext reaches a disk.
 *
 * Burned-in annotation is not cleaned (the Clean Pixel Data option is not offered): instances that
 * say they have it, and those of modalities and SOP classes that often carry it, are refused unless
 * the caller accepts them; they are listed either way.
 */
import { constants } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat, statfs, symlink, unlink, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive } from '../util/durable.js';
import { actionFor, isPrivateTag, tableRow, type OptionKey } from '../dicom/deidentify/actions.js';
import { Deidentifier, methodCodes } from '../dicom/deidentify/deidentify.js';
import { ENCRYPTED_ATTRIBUTES_SEQUENCE, encryptedAttributesItem } from '../dicom/deidentify/encrypted-attributes.js';
import { DataSet } from '../dicom/dataset.js';
import { scanFile, type ScanResult } from '../dicom/fileset/scan.js';
import { ReaderByteSource } from '../dicom/part10/byte-source.js';
import { ELE, makeElement } from '../dicom/part10/writer.js';
import { openRewrite } from '../dicom/reconcile/rewrite.js';
import { T } from '../dicom/tags.js';
import { DcmsafeError } from '../errors/index.js';
import { FileReader } from '../media/io/random-access-reader.js';
import type { Clock } from '../util/clock.js';
import type { Random } from '../util/random.js';

export interface DeidentifyRequest {
  readonly options: ReadonlySet<OptionKey>;
  /** DER certificate of the one recipient who may recover the original values (Encrypted Attributes Sequence). */
  readonly keepOriginalsFor?: { readonly certificate: Buffer; readonly subject: string };
  /** Put instances that may have burned-in annotation on the media anyway. */
  readonly acceptBurnedIn?: boolean;
}

export interface BurnedInInstance {
  readonly input: string;
  readonly reason: string;
}

export interface DeidentificationSummary {
  readonly profile: 'Basic Application Level Confidentiality Profile (PS3.15 E.2)';
  readonly options: string[];
  readonly methodCodes: Array<{ value: string; scheme: string; meaning: string }>;
  readonly patients: number;
  readonly instances: number;
  readonly uidsReplaced: number;
  /** Instances that may carry burned-in identification: on the media only with --accept-burned-in. */
  readonly burnedIn: BurnedInInstance[];
  readonly burnedInAccepted: boolean;
  readonly originalsEncryptedFor?: string;
  readonly notes: string[];
}

export interface DeidentifiedInputs {
  readonly scans: ScanResult[];
  /** Staged file → the input it came from. */
  readonly inputOf: ReadonlyMap<string, string>;
  readonly summary: DeidentificationSummary;
}

/** open(2)'s O_TMPFILE on Linux (__O_TMPFILE | O_DIRECTORY): Node's constants do not name it. */
const O_TMPFILE = 0o20000000 | constants.O_DIRECTORY;
/** Room left in memory-backed staging beyond the file being staged. */
const MEMORY_MARGIN = 256 << 20;
const STAGING_PREFIX = 'dcmsafe-deid-';

/**
 * Where de-identified instances wait for the media writer: unnamed files (see above), reached by
 * symbolic links in a private folder of `tmpdir`. `close()` releases them; so does the end of the
 * process, whatever ends it.
 */
export class DeidStaging {
  private readonly handles: FileHandle[] = [];
  private readonly procFd: string;

  private constructor(
    /** The private folder of links (0700). */
    readonly folder: string,
    /** Unnamed files go here when it has room for them (memory: /dev/shm), else to `tmpdir`. */
    private readonly memory: string | undefined,
    private readonly tmpdir: string,
  ) {
    this.procFd = process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd';
  }

  /** `preferMemory`: stage in /dev/shm while it has room (secure media: no plaintext on a disk). */
  static async open(options: { tmpdir?: string; preferMemory?: boolean; memoryDir?: string } = {}): Promise<DeidStaging> {
    const tmpdir = options.tmpdir ?? os.tmpdir();
    await removeStaleStaging(tmpdir);
    const folder = await mkdtemp(path.join(tmpdir, `${STAGING_PREFIX}${process.pid}-`)); // 0700
    const memoryDir = options.memoryDir ?? '/dev/shm';
    const memory = options.preferMemory && (await stat(memoryDir).then((s) => s.isDirectory(), () => false)) ? memoryDir : undefined;
    return new DeidStaging(folder, memory, tmpdir);
  }

  /** A new unnamed file of about `size` bytes, open for writing, and the path (a link) to read it by. */
  async create(index: number, size: number): Promise<{ handle: FileHandle; path: string }> {
    const dir = this.memory && (await roomFor(this.memory, size)) ? this.memory : this.tmpdir;
    const handle = await unnamedFile(dir);
    this.handles.push(handle);
    const link = path.join(this.folder, `${String(index).padStart(6, '0')}.dcm`);
    await symlink(`${this.procFd}/${handle.fd}`, link);
    return { handle, path: link };
  }

  /** Releases every staged file (the kernel frees them) and removes the folder of links. */
  async close(): Promise<void> {
    for (const h of this.handles.splice(0)) await h.close().catch(() => undefined);
    await rm(this.folder, { recursive: true, force: true });
  }
}

/** Whether `dir` (memory) keeps a quarter of its size, and at least MEMORY_MARGIN, free after `size` more bytes. */
async function roomFor(dir: string, size: number): Promise<boolean> {
  const fs = await statfs(dir).catch(() => undefined);
  return fs !== undefined && fs.bavail * fs.bsize - size >= Math.max(MEMORY_MARGIN, (fs.blocks * fs.bsize) / 4);
}

/** An unnamed file in `dir`: O_TMPFILE, else created and unlinked at once (before any data). */
async function unnamedFile(dir: string): Promise<FileHandle> {
  try {
    return await open(dir, constants.O_RDWR | O_TMPFILE, 0o600);
  } catch {
    const name = path.join(dir, `.${STAGING_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}`);
    const handle = await open(name, 'wx+', 0o600);
    await unlink(name);
    return handle;
  }
}

/** Removes link folders (and unnamed-file fallbacks) that runs which died left in `dir`. */
async function removeStaleStaging(dir: string): Promise<void> {
  const stale = new RegExp(`^\\.?${STAGING_PREFIX}(\\d+)-`);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(stale.exec(name)?.[1] ?? NaN);
    if (Number.isNaN(pid) || pid === process.pid || processAlive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

const SECONDARY_CAPTURE = /^1\.2\.840\.10008\.5\.1\.4\.1\.1\.7(\.\d+)?$/;
const BURNED_IN_MODALITIES = new Set(['US', 'SC']);

/** Why an instance may have identification burned into its pixels, or undefined. */
export function burnedInReason(ds: DataSet, sopClassUID: string): string | undefined {
  if (ds.text(T.BurnedInAnnotation)?.toUpperCase() === 'YES') return 'Burned In Annotation (0028,0301) is YES';
  const modality = ds.text(T.Modality)?.toUpperCase();
  if (modality && BURNED_IN_MODALITIES.has(modality)) return `modality ${modality} often has burned-in text`;
  if (SECONDARY_CAPTURE.test(sopClassUID)) return 'Secondary Capture instances often have burned-in text';
  return undefined;
}

export const OPTION_LABELS: Readonly<Record<OptionKey, string>> = {
  retainSafePrivate: 'retain-safe-private',
  retainUIDs: 'retain-uids',
  retainDeviceIdentity: 'retain-device-identity',
  retainInstitutionIdentity: 'retain-institution-identity',
  retainPatientCharacteristics: 'retain-patient-characteristics',
  retainLongitudinalFullDates: 'retain-longitudinal-full-dates',
  retainLongitudinalModifiedDates: 'retain-longitudinal-modified-dates',
  cleanDescriptors: 'clean-descriptors',
  cleanStructuredContent: 'clean-structured-content',
  cleanGraphics: 'clean-graphics',
};

/** Elements after the pixel data: those of Table E.1-1 get their action (padding and signatures go), private ones go. */
function trailingFilter(options: ReadonlySet<OptionKey>) {
  return (ds: DataSet): DataSet => {
    const out = new DataSet(ELE);
    for (const el of ds.sorted()) {
      if (isPrivateTag(el.tag)) continue;
      const row = tableRow(el.tag);
      if (row && actionFor(row, options) !== 'K') continue;
      out.set(el);
    }
    return out;
  };
}

/**
 * De-identifies `files` into `staging` and scans the results.
 * Inputs that are not DICOM or cannot be read keep their scan result (they never reach the media).
 */
export async function deidentifyInputs(files: readonly string[], staging: DeidStaging, request: DeidentifyRequest, ctx: { random: Random; clock: Clock; onScanned?: (index: number, result: ScanResult) => void }): Promise<DeidentifiedInputs> {
  const deid = new Deidentifier({ options: request.options }, ctx.random);
  const scans: ScanResult[] = [];
  const inputOf = new Map<string, string>();
  const burnedIn: BurnedInInstance[] = [];
  for (const [index, file] of files.entries()) {
    const first = await scanFile(file);
    if (first.kind !== 'instance') {
      scans.push(first);
      ctx.onScanned?.(index, first);
      continue;
    }
    let staged = '';
    let refused = false;
    const reader = await FileReader.open(file);
    try {
      const rewrite = await openRewrite(new ReaderByteSource(reader, 0), {
        name: file,
        transform: async (ds) => {
          const reason = burnedInReason(ds, first.instance.sopClassUID);
          if (reason) {
            burnedIn.push({ input: file, reason });
            refused = !request.acceptBurnedIn;
          }
          const result = deid.deidentify(ds);
          if (request.keepOriginalsFor && result.originals.elements.size > 0) {
            const item = await encryptedAttributesItem(result.originals, request.keepOriginalsFor.certificate, { random: ctx.random.fork(`deidentify/originals/${index}`), now: ctx.clock.now(), parent: result.dataSet });
            result.dataSet.set(makeElement(ENCRYPTED_ATTRIBUTES_SEQUENCE, 'SQ', [item]));
          }
          return result.dataSet;
        },
        transformTrailing: trailingFilter(request.options),
      });
      if (refused) await rewrite.discard();
      else {
        const file = await staging.create(index, reader.size);
        staged = file.path;
        for await (const chunk of rewrite.part10()) {
          for (let done = 0; done < chunk.length; ) done += (await file.handle.write(chunk, done, chunk.length - done)).bytesWritten;
        }
      }
    } catch (e) {
      if (e instanceof DcmsafeError && e.fault !== 'internal' && e.code !== 'IO') {
        const result: ScanResult = { kind: 'unreadable', unreadable: { path: file, code: e.code, message: e.message } };
        scans.push(result);
        ctx.onScanned?.(index, result);
        continue;
      }
      throw e;
    } finally {
      await reader.close();
    }
    if (refused) continue;
    const result = await scanFile(staged);
    inputOf.set(staged, file);
    scans.push(result);
    ctx.onScanned?.(index, result);
  }
  if (burnedIn.length > 0 && !request.acceptBurnedIn) {
    throw new DcmsafeError(
      'DEIDENTIFY_BURNED_IN',
      `${burnedIn.length} instance(s) may have identification burned into the pixel data, which de-identification does not clean: ${burnedIn
        .slice(0, 5)
        .map((b) => `${b.input} (${b.reason})`)
        .join('; ')}${burnedIn.length > 5 ? '; ...' : ''}. Leave them out, or add --accept-burned-in after checking them`,
      { count: burnedIn.length, files: burnedIn.map((b) => b.input) },
    );
  }
  const notes: string[] = [];
  if (request.options.has('retainSafePrivate')) notes.push('retain-safe-private: no private attribute is known to be safe, so all were removed (113111 not claimed)');
  return {
    scans,
    inputOf,
    summary: {
      profile: 'Basic Application Level Confidentiality Profile (PS3.15 E.2)',
      options: [...request.options].map((o) => OPTION_LABELS[o]).sort(),
      methodCodes: methodCodes(request.options).map((c) => ({ ...c })),
      patients: deid.patientCount,
      instances: scans.filter((s) => s.kind === 'instance').length,
      uidsReplaced: deid.uidMap.size,
      burnedIn,
      burnedInAccepted: request.acceptBurnedIn ?? false,
      ...(request.keepOriginalsFor ? { originalsEncryptedFor: request.keepOriginalsFor.subject } : {}),
      notes,
    },
  };
}
