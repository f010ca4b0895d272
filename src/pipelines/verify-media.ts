/**
 * verify: any incoming medium (ours or anyone's) → open it (folder, ISO 9660, FAT, ZIP) → classify
 * every file → open the DICOMDIR (decrypting it on secure media) → check every file (Part 10 parse;
 * for Secure DICOM Files decryption, signature or digest, and the signer's trust) → compare the
 * DICOMDIR with the files → a report of findings and a verdict. A bad file is a finding, never a
 * crash; the verifier throws only when it cannot go on at all.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { decodeDicomdir, DIRECTORY_FINDINGS, type DecodedDicomdir } from '../dicom/dicomdir/decode.js';
import { MEDIA_STORAGE_DIRECTORY_SOP_CLASS, type DirectoryRecord } from '../dicom/dicomdir/model.js';
import { isPatientIndependent } from '../dicom/dicomdir/record-types.js';
import { planFileSet, patientNameKey } from '../dicom/fileset/plan.js';
import { scanFile, type ScanResult } from '../dicom/fileset/scan.js';
import { readPart10Header, type Part10Header } from '../dicom/part10/header.js';
import { findProfile } from '../dicom/profiles/profiles.js';
import { MAC_PARAMETERS_SEQUENCE } from '../dicom/signature/mac.js';
import { T } from '../dicom/tags.js';
import { encodeDicomdir } from '../dicom/dicomdir/encode.js';
import { checkOutputFolder } from '../media/folder/write-folder.js';
import { BufferReader, readChunks, type RandomAccessReader } from '../media/io/random-access-reader.js';
import { openMedia, openMediaImage, type MediaSource, type SourceEntry } from '../media/source/index.js';
import { looksLikeSecureFile, type DecryptionKeys } from '../security/cms/reader.js';
import { lazyRsaService } from '../security/cms/rsa-service.js';
import { forEachBounded } from '../util/concurrency.js';
import { describeCertificate } from '../security/pki/certificates.js';
import { judge, openJudgedSecureFile, type JudgedSecureFile } from '../security/secure-file.js';
import type { TrustInput } from '../security/pki/trust.js';
import { systemClock, type Clock } from '../util/clock.js';
import { VERSION } from '../version.js';
import { nameBasedUid } from '../util/uid.js';
import { fileSetDescriptor } from './fileset-descriptor.js';
import { MANIFEST_NAME, readManifest, type ManifestEntry } from './media-manifest.js';
import { MAX_SIGNED_DATA } from '../security/cms/signed-data-reader.js';
import { judgeDicomSignatures, type DicomSignatureVerdict } from './verify-dicom-signatures.js';
import { FINDING_CODES, REPORT_SCHEMA_VERSION, type FileReport, type Finding, type PatientReport, type Policy, type Severity, type SignerReport, type VerifyReport, type Verdict } from './verify-report.js';
import { BufferPool } from '../util/buffer-pool.js';

/** Progress of a verification: one event per file checked (the DICOMDIR first). */
export type VerifyEvent = { readonly type: 'file-checked'; readonly file: string; readonly index: number; readonly total: number };

export interface VerifyOptions {
  /** The medium: a folder, an image file or a block device; with `image`, only its name in the report. */
  readonly media: string;
  /**
   * The medium's bytes (an ISO 9660, FAT or ZIP image) already at hand, e.g. in memory: opened
   * instead of `media`, and owned by the verification from then on (closed when it ends).
   */
  readonly image?: RandomAccessReader;
  readonly trust: Omit<TrustInput, 'now'>;
  readonly keys: DecryptionKeys;
  readonly policy: Policy;
  /** Write the files that pass the policy (decrypted) as a conformant folder here. */
  readonly extract?: string;
  readonly includeFailed?: boolean;
  readonly clock?: Clock;
  readonly limits?: { maxEntries?: number; maxHeaderBytes?: number; maxDicomdirBytes?: number };
  readonly onEvent?: (event: VerifyEvent) => void;
}

/**
 * How much of a decrypted file is kept to read its header (the rest is only hashed); a header that
 * does not fit is read in a second pass keeping up to MAX_HEADER_PREFIX (the rewrite's own bound).
 */
const HEADER_PREFIX = 256 << 10;
const MAX_HEADER_PREFIX = 256 << 20;
const MAX_DICOMDIR = 512 << 20;

const EXECUTABLE_NAMES = /^(AUTORUN\.INF|.*\.(EXE|COM|BAT|CMD|MSI|DLL|SCR|PIF|PS1|VBS|VBE|JSE|WSF|SH|APP|JAR|LNK|CPL|REG))$/i;

interface Checked {
  readonly entry: SourceEntry;
  readonly name: string; // "/"-separated path on the medium
  kind: FileReport['kind'];
  /** What the report and the DICOMDIR comparison need of the file's header (no more: see factsOf). */
  header?: FileFacts;
  judged?: JudgedSecureFile;
  /** DICOM Digital Signatures of a plain file (PS3.15 Annex C), when it carries any. */
  dicomSignatures?: DicomSignatureVerdict;
  /** Where the verified bytes were staged for --extract. */
  staged?: string;
  /** A secure file read only up to its header: integrity and signer not judged yet (see planMedia). */
  deferred?: boolean;
  /** SHA-256 of the file's bytes on the medium, when a signed manifest is there to compare it with. */
  sha256?: string;
  readonly findings: Finding[];
}

function plural(n: number, word: string): string {
  return `${n} ${n === 1 ? word : `${word}s`}`;
}

function finding(code: string, message: string, file?: string, severity?: Severity): Finding {
  const sev = severity ?? FINDING_CODES[code]?.severity ?? (DIRECTORY_FINDINGS as Record<string, { severity: Severity }>)[code]?.severity ?? 'error';
  return { code, severity: sev, message, ...(file ? { file } : {}) };
}

function uid(h: Part10Header | undefined, tag: number, metaTag?: number): string | undefined {
  const v = h?.dataSet.text(tag) ?? (metaTag !== undefined ? h?.meta?.text(metaTag) : undefined);
  return v?.replace(/\0/g, '').trim() || undefined;
}

/** PS3.10 §8: 1-8 components of 1-8 characters A-Z 0-9 _. */
function nameProblem(components: readonly string[]): string | undefined {
  if (components.length > 8) return `${components.length} levels (at most 8)`;
  for (const c of components) {
    if (c.length > 8) return `"${c}" is longer than 8 characters`;
    if (/[a-z]/.test(c)) return `"${c}" has lower-case letters`;
    if (c.includes('.')) return `"${c}" has an extension`;
    if (!/^[A-Z0-9_]+$/i.test(c)) return `"${c}" has characters outside A-Z 0-9 _`;
  }
  return undefined;
}

async function sniff(reader: RandomAccessReader): Promise<Buffer> {
  return reader.read(0, 140);
}

function looksLikeDicom(head: Buffer): boolean {
  if (head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM') return true;
  // A bare data set: group 0002 or 0008 first, little endian (PS3.10 §7.1 files without a preamble).
  if (head.length < 8) return false;
  const group = head.readUInt16LE(0);
  return group === 0x0002 || group === 0x0008 || (group === 0x0000 && head.readUInt16LE(2) === 0x0000);
}

function executableContent(head: Buffer): boolean {
  return head.toString('latin1', 0, 2) === 'MZ' || head.toString('latin1', 0, 4) === '\x7fELF' || head.toString('latin1', 0, 2) === '#!';
}

export async function verifyMedia(options: VerifyOptions): Promise<VerifyReport> {
  const clock = options.clock ?? systemClock;
  const now = clock.now();
  const trust: TrustInput = { ...options.trust, now };
  if (options.extract) await checkOutputFolder(options.extract);

  let source: MediaSource;
  try {
    source = await openSource(options);
  } catch (e) {
    if (e instanceof DcmsafeError && e.fault === 'usage') throw e;
    const message = e instanceof Error ? e.message : String(e);
    return finish(options, now, { path: options.media, kind: 'unknown', secure: false, dicomdir: 'missing' }, [finding('MEDIA_UNREADABLE', message, undefined)], [], [], undefined, true);
  }
  try {
    return await verifyOpened(options, source, trust, now);
  } finally {
    await source.close();
  }
}

function openSource(options: Pick<VerifyOptions, 'media' | 'image' | 'limits'>): Promise<MediaSource> {
  const limits = options.limits?.maxEntries ? { maxEntries: options.limits.maxEntries } : {};
  return options.image ? openMediaImage(options.image, options.media, limits) : openMedia(options.media, limits);
}

/** A medium checked for an import: the report, with the secure files whose judgement is still to come. */
export interface PlannedMedia {
  /** As far as planning goes: deferred files have their header checked, not yet their integrity or signer. */
  readonly report: VerifyReport;
  /** The deferred files ("/"-separated paths): read their content through, then settle() them. */
  readonly deferred: ReadonlySet<string>;
  /** Records a deferred file's judgement (or why its content could not be read); returns the findings it adds. */
  settle(file: string, outcome: { readonly judged: JudgedSecureFile } | { readonly error: unknown }): readonly Finding[];
  /** The complete report, every deferred file settled (INTERNAL when one is not). */
  complete(): VerifyReport;
}

/**
 * verifyMedia for an import, without reading secure files twice: each is decrypted only as far as its
 * header (what reconciliation and the DICOMDIR comparison need); its signature and signer are judged
 * when the importer reads it through to send it, and settled here, so the report stays complete.
 * Plain files are read as by verifyMedia (header only, unless they carry DICOM signatures).
 */
export async function planMedia(options: Omit<VerifyOptions, 'extract' | 'includeFailed'>): Promise<PlannedMedia> {
  const clock = options.clock ?? systemClock;
  const now = clock.now();
  const trust: TrustInput = { ...options.trust, now };
  let source: MediaSource;
  try {
    source = await openSource(options);
  } catch (e) {
    if (e instanceof DcmsafeError && e.fault === 'usage') throw e;
    const report = await verifyMedia(options);
    return { report, deferred: new Set(), settle: () => [], complete: () => report };
  }
  let state: CheckedMedia;
  try {
    state = await checkMedia(options, source, trust, true);
  } finally {
    await source.close();
  }
  const pending = new Map(state.checked.filter((c) => c.deferred).map((c) => [c.name, c]));
  return {
    report: summarize(options, now, state).report,
    deferred: new Set(pending.keys()),
    settle(file, outcome) {
      const c = pending.get(file);
      if (!c) return [];
      pending.delete(file);
      delete c.deferred;
      const before = c.findings.length;
      if ('judged' in outcome) {
        c.judged = outcome.judged;
        judgeFindings(outcome.judged, c);
      } else c.findings.push(secureFailure(outcome.error, c.name));
      return c.findings.slice(before);
    },
    complete() {
      if (pending.size > 0) throw new DcmsafeError('INTERNAL', `${pending.size} secure file(s) were never read through: ${[...pending.keys()].slice(0, 3).join(', ')}`, { files: pending.size });
      return summarize(options, now, state).report;
    },
  };
}

async function verifyOpened(options: VerifyOptions, source: MediaSource, trust: TrustInput, now: Date): Promise<VerifyReport> {
  const checkedMedia = await checkMedia(options, source, trust, false);
  const { report, dicomFiles } = summarize(options, now, checkedMedia);
  if (options.extract && checkedMedia.staging) {
    return { ...report, extracted: await extract(options, report, dicomFiles, checkedMedia.staging) };
  }
  return report;
}

/** Every file of an opened medium checked, before the medium-wide comparisons (see summarize). */
interface CheckedMedia {
  readonly media: Omit<VerifyReport['media'], 'secure'>;
  /** Findings on the medium itself (from opening it). */
  readonly findings: readonly Finding[];
  readonly checked: Checked[];
  readonly dicomdirFile?: Checked;
  readonly decoded?: DecodedDicomdir;
  readonly dicomdirSecure: boolean;
  readonly manifest?: CheckedManifest;
  readonly staging?: string;
}

/**
 * Opens and checks every file. With `deferSecure`, a Secure DICOM File is decrypted only as far as
 * its header (up to the pixel data) and left `deferred`: its integrity and signer are judged later,
 * by whoever reads its content through (the importer, while sending), and handed back with settle().
 */
async function checkMedia(options: VerifyOptions, source: MediaSource, trust: TrustInput, deferSecure: boolean): Promise<CheckedMedia> {
  // Content keys are decrypted on worker threads, so several files are in flight at once.
  // Keys that already carry their raw operation (the importer's, which keeps the results for its send
  // pass) are taken as they are.
  const own = (options.keys.certificates ?? []).some((c) => c.rawPrivate);
  const rsa = own ? { keys: options.keys, close: (): Promise<void> => Promise.resolve() } : lazyRsaService(options.keys);
  try {
    return await checkFiles({ ...options, keys: rsa.keys }, source, trust, deferSecure);
  } finally {
    await rsa.close();
  }
}

/** Files checked at once: enough to keep the RSA workers and this thread busy, few enough to keep memory flat. */
const FILES_IN_FLIGHT = 4;

async function checkFiles(options: VerifyOptions, source: MediaSource, trust: TrustInput, deferSecure: boolean): Promise<CheckedMedia> {
  const findings: Finding[] = source.findings.map((f) => finding(f.code, f.message, f.file));
  // Verified bytes wait inside the extract folder (under names of our own) until the verdict is known.
  const staging = options.extract ? path.join(path.resolve(options.extract), '.dcmsafe-staging') : undefined;
  if (staging) await mkdir(staging, { recursive: true });
  const checked: Checked[] = [];
  // The windows that keep the start of each secure file's content for its header, reused from file to
  // file: a fresh 256 KiB per file was 780 MB of buffers to collect on a 2 GB secure DVD, and those
  // still in flight at a young-generation collection lived on until a full one, raising the peak.
  const prefixes = new BufferPool(HEADER_PREFIX, FILES_IN_FLIGHT);
  let dicomdirEntry: SourceEntry | undefined;
  let manifestEntry: SourceEntry | undefined;
  for (const entry of source.entries) {
    const name = entry.path.join('/');
    if (entry.path.length === 1 && entry.path[0]?.toUpperCase() === 'DICOMDIR') {
      dicomdirEntry = entry;
      continue;
    }
    if (entry.path.length === 1 && entry.path[0]?.toUpperCase() === MANIFEST_NAME) {
      manifestEntry = entry;
      continue;
    }
    checked.push({ entry, name, kind: 'other', findings: [] });
  }
  const manifest = manifestEntry ? await checkManifest(source, manifestEntry, trust) : undefined;
  // With a manifest, the plain files' bytes are hashed to compare with it (secure files prove themselves).
  const hashPlain = async (reader: RandomAccessReader, c: Checked): Promise<void> => {
    if (!manifest?.entries) return;
    try {
      const hash = createHash('sha256');
      for await (const chunk of readChunks(reader, 0, reader.size)) hash.update(chunk);
      c.sha256 = hash.digest('hex');
    } catch (e) {
      c.findings.push(finding('MEDIA_UNREADABLE', `${c.name}: ${e instanceof Error ? e.message : String(e)}`, c.name));
    }
  };

  // The DICOMDIR first: on secure media it tells whether a plain file is a downgrade.
  let decoded: DecodedDicomdir | undefined;
  let dicomdirState: VerifyReport['media']['dicomdir'] = dicomdirEntry ? 'present' : 'missing';
  let dicomdirFile: Checked | undefined;
  let dicomdirSecure = false;
  if (dicomdirEntry) {
    dicomdirFile = { entry: dicomdirEntry, name: dicomdirEntry.path.join('/'), kind: 'dicomdir', findings: [] };
    const reader = await source.open(dicomdirEntry);
    try {
      const head = await sniff(reader);
      let bytesReader: RandomAccessReader = reader;
      if (looksLikeSecureFile(head)) {
        dicomdirSecure = true;
        const opened = await openSecureInto(reader, options.keys, trust, MAX_DICOMDIR, dicomdirFile);
        // A DICOMDIR above MAX_DICOMDIR shows as truncated (its declared size kept): refused, not misread.
        if (opened) bytesReader = new BufferReader(opened.prefix, dicomdirFile.name, opened.length);
        else dicomdirState = hasKeys(options.keys) ? 'unreadable' : 'encrypted-no-key';
      }
      if (!dicomdirSecure) await hashPlain(reader, dicomdirFile);
      if (dicomdirState === 'present') {
        try {
          decoded = await decodeDicomdir(bytesReader);
          for (const f of decoded.findings) dicomdirFile.findings.push(finding(f.code, f.message, dicomdirFile.name, f.severity));
        } catch (e) {
          dicomdirState = 'unreadable';
          dicomdirFile.findings.push(finding('DICOMDIR_UNREADABLE', e instanceof Error ? e.message : String(e), dicomdirFile.name));
        }
      }
    } finally {
      await reader.close();
    }
  } else {
    findings.push(finding('DICOMDIR_MISSING', 'no DICOMDIR in the root: every file was scanned and the index rebuilt in memory'));
  }

  // Every other file.
  const total = checked.length + (dicomdirFile ? 1 : 0);
  if (dicomdirFile) options.onEvent?.({ type: 'file-checked', file: dicomdirFile.name, index: 0, total });
  await forEachBounded(checked, FILES_IN_FLIGHT, async (c, index) => {
    options.onEvent?.({ type: 'file-checked', file: c.name, index: index + (dicomdirFile ? 1 : 0), total });
    const last = c.entry.path[c.entry.path.length - 1] ?? '';
    let reader: RandomAccessReader;
    try {
      reader = await source.open(c.entry);
    } catch (e) {
      c.findings.push(finding('MEDIA_UNREADABLE', e instanceof Error ? e.message : String(e), c.name));
      return;
    }
    try {
      const head = await sniff(reader);
      if (EXECUTABLE_NAMES.test(last) || executableContent(head)) {
        c.kind = 'executable';
        c.findings.push(finding('EXECUTABLE', `${c.name} looks like a program or autorun file; it was not run`, c.name));
        await hashPlain(reader, c);
        return;
      }
      if (looksLikeSecureFile(head)) {
        c.kind = 'secure';
        const deferred = deferSecure && !staging && (await readSecureHeaderInto(reader, options.keys, trust, c));
        const content = deferred ? undefined : await openSecureInto(reader, options.keys, trust, HEADER_PREFIX, c, staging, prefixes);
        if (content) {
          try {
            const before = c.findings.length;
            await parseHeader(new BufferReader(content.prefix, c.name, content.length), c);
            if (!c.header && content.length > content.prefix.length) {
              // A header longer than the window (a large structure set, say): decrypt once more and keep
              // up to MAX_HEADER_PREFIX. The verdict on the file is the first pass's; only the header is new.
              c.findings.splice(before);
              const again = await openSecureInto(reader, options.keys, trust, MAX_HEADER_PREFIX, { ...c, findings: [] });
              if (again) await parseHeader(new BufferReader(again.prefix, c.name, again.length), c);
            }
          } finally {
            // Only strings were taken from the header (factsOf): its window serves the next file.
            content.release();
          }
        }
      } else if (looksLikeDicom(head)) {
        c.kind = 'dicom';
        const header = await parseHeader(reader, c);
        // Signed files get a full streamed pass (their MAC covers the pixel data); others stay header-only.
        if (header && (header.dataSet.has(MAC_PARAMETERS_SEQUENCE) || header.dataSet.has(T.DigitalSignaturesSequence))) await checkSignaturesInto(reader, c, trust);
        if (c.header && staging) c.staged = await stage(staging, readChunks(reader, 0, reader.size), c);
      }
      if (c.kind !== 'secure') await hashPlain(reader, c);
      if (c.header?.sopClassUID === MEDIA_STORAGE_DIRECTORY_SOP_CLASS) {
        // Another directory file beside the DICOMDIR (a backup or a variant): not an instance.
        c.kind = 'other';
        delete c.header;
        delete c.staged;
        c.findings.length = 0;
        c.findings.push(finding('EXTRA_DIRECTORY', `${c.name} is a DICOM directory file other than the root DICOMDIR; it was not used`, c.name));
      }
    } finally {
      await reader.close();
    }
    if (c.kind === 'dicom' || c.kind === 'secure') {
      const problem = nameProblem(c.entry.path);
      if (problem) c.findings.push(finding('NAME_NOT_CONFORMANT', `${c.name}: ${problem} (PS3.10 §8)`, c.name));
    }
  });
  return {
    media: { path: path.resolve(options.media), kind: source.kind, ...(source.label ? { label: source.label } : {}), dicomdir: dicomdirState },
    findings,
    checked,
    ...(dicomdirFile ? { dicomdirFile } : {}),
    ...(decoded ? { decoded } : {}),
    dicomdirSecure,
    ...(manifest ? { manifest } : {}),
    ...(staging ? { staging } : {}),
  };
}

/** The signed media manifest as checked: its own file, its entries when it reads, whether its signer is trusted. */
interface CheckedManifest {
  readonly file: Checked;
  readonly entries?: ReadonlyMap<string, ManifestEntry>;
  readonly trusted: boolean;
  judged?: JudgedSecureFile;
}

async function checkManifest(source: MediaSource, entry: SourceEntry, trust: TrustInput): Promise<CheckedManifest> {
  const file: Checked = { entry, name: entry.path.join('/'), kind: 'other', findings: [] };
  try {
    if (entry.size > MAX_SIGNED_DATA) throw new DcmsafeError('CMS_MALFORMED', `${file.name}: ${entry.size} bytes, more than a manifest may have`, { file: file.name });
    const reader = await source.open(entry);
    let bytes: Buffer;
    try {
      const parts: Buffer[] = [];
      for await (const chunk of readChunks(reader, 0, reader.size)) parts.push(chunk);
      bytes = Buffer.concat(parts);
    } finally {
      await reader.close();
    }
    const read = readManifest(bytes, file.name);
    const judged = judge({ structure: 'signed', wrapped: false, contentEncryption: '', legacy: read.signed.legacy, recipient: { kind: 'certificate', index: 0 }, signers: read.signed.signers, valid: read.signed.valid }, trust);
    file.judged = judged;
    if (judged.status !== 'trusted') {
      const who = judged.signers.map((x) => x.trust?.signer.subject ?? '(unknown signer)').join(', ');
      const why = judged.status === 'altered' || judged.status === 'bad-signature' ? 'its signature does not match its content' : `its signer ${who} is ${judged.status}`;
      file.findings.push(finding('MANIFEST_INVALID', `${file.name}: ${why}`, file.name));
    }
    return { file, entries: read.entries, trusted: judged.status === 'trusted' };
  } catch (e) {
    file.findings.push(finding('MANIFEST_INVALID', `${file.name}: ${e instanceof Error ? e.message : String(e)}`, file.name));
    return { file, trusted: false };
  }
}

/**
 * The manifest against the medium, and which files no trusted signature covers whole. A file is
 * covered by its own signature when it is a Secure DICOM File judged trusted (the CMS structure
 * protects every byte of it), or by a trusted manifest that lists it with its size and SHA-256. An
 * Annex C signature alone covers the data set's elements, not the preamble or File Meta Information.
 */
function coverage(manifest: CheckedManifest | undefined, files: readonly Checked[], dicomdirSecure: boolean, findings: Finding[]): Checked[] {
  // Names compare without case: a disc mounted on Linux without Rock Ridge shows them in lower case.
  const key = (p: string): string => p.toUpperCase();
  const listed = manifest?.trusted && manifest.entries ? new Map([...manifest.entries.values()].map((e) => [key(e.path), e])) : undefined;
  const onMedium = new Map<string, Checked[]>();
  for (const c of files) onMedium.set(key(c.name), [...(onMedium.get(key(c.name)) ?? []), c]);
  // Secure DICOM Files (the DICOMDIR of secure media too) prove every byte themselves.
  const selfProtected = (c: Checked): boolean => c.kind === 'secure' || (c.kind === 'dicomdir' && dicomdirSecure);
  if (listed) {
    for (const e of listed.values()) {
      const same = onMedium.get(key(e.path)) ?? [];
      const c = same[0];
      if (!c) findings.push(finding('MANIFEST_MISMATCH', `${e.path} is in the signed manifest but not on the medium`, e.path));
      else if (same.length > 1) for (const x of same) x.findings.push(finding('MANIFEST_MISMATCH', `${x.name}: ${same.length} files whose names differ only in case, where the signed manifest lists one`, x.name));
      else if (c.entry.size !== e.size) c.findings.push(finding('MANIFEST_MISMATCH', `${c.name}: ${c.entry.size} bytes, the signed manifest says ${e.size}`, c.name));
      else if (!selfProtected(c) && c.sha256 !== e.sha256) c.findings.push(finding('MANIFEST_MISMATCH', `${c.name}: its SHA-256 differs from the signed manifest's: it was changed`, c.name));
    }
    for (const c of files) if (!listed.has(key(c.name))) c.findings.push(finding('MANIFEST_MISMATCH', `${c.name} is not in the signed manifest: it was added or renamed`, c.name));
  }
  const ownSignature = (c: Checked): boolean => selfProtected(c) && c.judged?.status === 'trusted';
  const inManifest = (c: Checked): boolean => {
    const e = listed?.get(key(c.name));
    return e !== undefined && onMedium.get(key(c.name))?.length === 1 && !selfProtected(c) && c.sha256 !== undefined && e.size === c.entry.size && c.sha256 === e.sha256;
  };
  return files.filter((c) => !ownSignature(c) && !inManifest(c));
}

/**
 * The medium-wide checks (downgrades, DICOMDIR against the files, patients, signers) and the report.
 * Works on copies of the files' findings, so it can run again once deferred files are settled.
 */
function summarize(options: VerifyOptions, now: Date, state: CheckedMedia): { report: VerifyReport; dicomFiles: Checked[] } {
  const findings = [...state.findings];
  const checked = state.checked.map((c) => ({ ...c, findings: [...c.findings] }));
  const dicomdirFile = state.dicomdirFile ? { ...state.dicomdirFile, findings: [...state.dicomdirFile.findings] } : undefined;
  const decoded = state.decoded;
  const dicomdirSecure = state.dicomdirSecure;

  const secureMedia = dicomdirSecure || checked.some((c) => c.kind === 'secure');
  if (secureMedia) {
    for (const c of checked.filter((x) => x.kind === 'dicom')) c.findings.push(finding('DOWNGRADE', `${c.name} is a plain DICOM file on media whose other files are encrypted`, c.name));
  }

  // The DICOMDIR against the files.
  const dicomFiles = checked.filter((c) => (c.kind === 'dicom' || c.kind === 'secure') && c.header);
  if (decoded) compareDirectory(decoded, checked, dicomFiles, findings);

  const patients = patientsOf(dicomFiles);
  if (patients.length > 1) findings.push(finding('MULTIPLE_PATIENTS', `the medium holds ${patients.length} patients: check that each belongs where it is imported`));
  const allChecked = dicomdirFile ? [dicomdirFile, ...checked] : checked;
  const anySigned = allChecked.some((c) => c.judged?.cms.structure === 'signed');
  const dicomSigned = dicomFiles.filter((c) => (c.dicomSignatures?.signatures.length ?? 0) > 0).length;
  if (!secureMedia && dicomFiles.length > 0 && dicomSigned === 0) findings.push(finding('PLAIN_MEDIA', 'the medium is neither signed nor encrypted: nothing proves where it came from'));
  else if (!secureMedia && dicomSigned < dicomFiles.length) findings.push(finding('PLAIN_MEDIA', `${dicomFiles.length - dicomSigned} of ${dicomFiles.length} DICOM files carry no DICOM signature: nothing proves where they came from`));
  else if (secureMedia && !anySigned && dicomFiles.length > 0) findings.push(finding('UNSIGNED', 'the secure files carry digests, not signatures: their origin is not proven'));

  const manifestFile = state.manifest ? { ...state.manifest.file, findings: [...state.manifest.file.findings] } : undefined;
  const uncovered = coverage(state.manifest, allChecked, dicomdirSecure, findings);
  if (manifestFile && !state.manifest?.trusted) uncovered.push(manifestFile);
  if (uncovered.length > 0 && (anySigned || dicomSigned > 0)) {
    const shown = uncovered.slice(0, 6).map((c) => c.name).join(', ');
    findings.push(finding('UNPROTECTED_FILE', `${plural(uncovered.length, 'file')} no trusted signature covers whole (${shown}${uncovered.length > 6 ? ', ...' : ''}): the medium cannot be called trusted`));
  }
  const unreadable = dicomFiles.length === 0 && !decoded;
  const reported = manifestFile ? [...allChecked, manifestFile] : allChecked;
  const report = finish(options, now, { ...state.media, secure: secureMedia }, findings, reported, patients, signerReports(reported), unreadable, uncovered.length);
  return { report, dicomFiles };
}

function hasKeys(keys: DecryptionKeys): boolean {
  return (keys.certificates?.length ?? 0) + (keys.passwords?.length ?? 0) > 0;
}

/**
 * Decrypts and judges a Secure DICOM File; returns its first `keep` bytes and the content's whole
 * length, or undefined when it cannot be opened. With `buffers` (whose size is `keep`), the bytes are
 * kept in one of its windows: call release() when done with `prefix`.
 */
async function openSecureInto(
  reader: RandomAccessReader,
  keys: DecryptionKeys,
  trust: TrustInput,
  keep: number,
  c: Checked,
  staging?: string,
  buffers?: BufferPool,
): Promise<{ prefix: Buffer; length: number; release(): void } | undefined> {
  if (!hasKeys(keys)) {
    c.findings.push(finding('SECURE_NO_KEY', `${c.name} is encrypted and no key or password was given`, c.name));
    return undefined;
  }
  // One buffer for the prefix, filled in place: no copy per chunk and no concatenation (both were
  // garbage on every file). Sized by the file otherwise (the content is no longer than its encryption).
  const pooled = buffers?.size === keep ? buffers : undefined;
  let window: Buffer | undefined;
  const release = (): void => {
    if (window && pooled) pooled.give(window);
    window = undefined;
  };
  try {
    const opened = await openJudgedSecureFile(reader, keys, trust);
    let kept = 0;
    let length = 0;
    const tee = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of opened.content) {
        length += chunk.length;
        if (kept < keep) {
          window ??= pooled ? pooled.take() : Buffer.allocUnsafeSlow(Math.min(keep, Math.max(reader.size, chunk.length)));
          kept += chunk.copy(window, kept, 0, Math.min(chunk.length, window.length - kept));
        }
        yield chunk;
      }
    };
    if (staging) c.staged = await stage(staging, tee(), c);
    else for await (const chunk of tee()) void chunk;
    const judged = await opened.result;
    c.judged = judged;
    judgeFindings(judged, c);
    return { prefix: window ? window.subarray(0, kept) : Buffer.alloc(0), length, release };
  } catch (e) {
    release();
    c.findings.push(secureFailure(e, c.name));
    return undefined;
  }
}

/** The finding for a Secure DICOM File that cannot be opened or read through: no key of ours, or unreadable. */
function secureFailure(e: unknown, name: string): Finding {
  const code = e instanceof DcmsafeError ? e.code : 'INTERNAL';
  const noKey = code === 'CMS_NO_RECIPIENT' || code === 'CMS_WRONG_PASSWORD' || code === 'CMS_WRONG_KEY';
  return finding(noKey ? 'SECURE_NO_KEY' : 'SECURE_UNREADABLE', `${name}: ${e instanceof Error ? e.message : String(e)}`, name);
}

/** The first window of a deferred secure file's content; doubled until its header is whole. */
const DEFERRED_FIRST_WINDOW = 64 << 10;

/**
 * Decrypts a Secure DICOM File only as far as its header: the content is pulled in growing windows
 * until the Part 10 header parses up to the pixel data, then left unread (the content key is wiped
 * when the stream is closed), and the file marked `deferred`. A file whose content ends within the
 * window is judged at once, as by openSecureInto. Returns false when the file must go the full way
 * instead (no keys, a failure at its start, or no pixel data within HEADER_PREFIX): that path records
 * the finding.
 */
async function readSecureHeaderInto(reader: RandomAccessReader, keys: DecryptionKeys, trust: TrustInput, c: Checked): Promise<boolean> {
  if (!hasKeys(keys)) return false;
  let content: AsyncIterator<Buffer>;
  let result: Promise<JudgedSecureFile>;
  try {
    const opened = await openJudgedSecureFile(reader, keys, trust);
    content = opened.content[Symbol.asyncIterator]();
    result = opened.result;
  } catch {
    return false;
  }
  const before = c.findings.length;
  try {
    let prefix = Buffer.alloc(0);
    const more: Buffer[] = [];
    let ended = false;
    // Up to the window the full path keeps (HEADER_PREFIX): a header not found by then (a large
    // structure set, an encapsulated document, a file that is not DICOM) goes the full way.
    for (let window = DEFERRED_FIRST_WINDOW; window <= HEADER_PREFIX; window *= 2) {
      let kept = prefix.length;
      while (!ended && kept < window) {
        const next = await content.next();
        if (next.done) ended = true;
        else {
          more.push(next.value);
          kept += next.value.length;
        }
      }
      prefix = Buffer.concat([prefix, ...more]);
      more.length = 0;
      // Until the content has ended its length is unknown; the file's size bounds it from above.
      const probe: Checked = { ...c, findings: [] };
      const header = await parseHeader(new BufferReader(prefix, c.name, ended ? prefix.length : Math.max(prefix.length, reader.size)), probe);
      if (!ended && !header?.pixelData) continue; // cut short inside the data set: read more
      if (ended) {
        c.judged = await result;
        judgeFindings(c.judged, c);
      } else c.deferred = true;
      if (probe.header) c.header = probe.header;
      c.findings.push(...probe.findings);
      return true;
    }
    return false;
  } catch {
    delete c.judged;
    delete c.deferred;
    c.findings.splice(before);
    return false;
  } finally {
    await content.return?.().catch(() => undefined);
  }
}

function judgeFindings(j: JudgedSecureFile, c: Checked): void {
  const who = j.signers.map((s) => s.trust?.signer.subject ?? '(unknown signer)').join(', ');
  switch (j.status) {
    case 'trusted':
      break;
    case 'altered':
    case 'bad-signature':
      c.findings.push(finding('FILE_TAMPERED', `${c.name}: the signature or digest does not match the content: it was changed`, c.name));
      break;
    case 'untrusted-chain':
    case 'expired':
    case 'revoked':
    case 'wrong-key-usage':
      c.findings.push(finding('SIGNER_UNTRUSTED', `${c.name}: signer ${who} is ${j.status}: ${j.signers.flatMap((s) => s.trust?.reasons ?? []).join('; ')}`, c.name));
      break;
    case 'signer-certificate-missing':
      c.findings.push(finding('SIGNER_CERTIFICATE_MISSING', `${c.name}: signed, but the signer's certificate is not in the file`, c.name));
      break;
    case 'no-signer':
      break; // reported once for the medium (UNSIGNED)
    case 'no-integrity':
      c.findings.push(finding('NO_INTEGRITY', `${c.name}: encrypted without digest or signature (PS3.15 D.1 requires one)`, c.name));
      break;
  }
  if (j.cms.legacy.length > 0) c.findings.push(finding('LEGACY_ALGORITHM', `${c.name}: ${j.cms.legacy.join(', ')}`, c.name));
}

/** What the report and the DICOMDIR comparison use of a file's header; undefined: absent from the file. */
interface FileFacts {
  readonly transferSyntaxUID: string;
  readonly sopClassUID?: string;
  readonly sopInstanceUID?: string;
  readonly studyInstanceUID?: string;
  readonly seriesInstanceUID?: string;
  readonly patientId?: string;
  readonly patientName?: string;
  readonly birthDate?: string;
  readonly studyDate?: string;
  readonly studyDescription?: string;
  readonly accessionNumber?: string;
  readonly modality?: string;
  readonly seriesNumber?: string;
}

/**
 * A header reduced to a few strings: a medium of 100 000 instances keeps 100 000 of these until the
 * report is made, so they hold neither the data set nor the read buffers its values point into.
 */
function factsOf(h: Part10Header): FileFacts {
  const ds = h.dataSet;
  const facts: Record<string, string | undefined> = {
    transferSyntaxUID: h.transferSyntax.uid,
    sopClassUID: uid(h, T.SOPClassUID, T.MediaStorageSOPClassUID),
    sopInstanceUID: uid(h, T.SOPInstanceUID, T.MediaStorageSOPInstanceUID),
    studyInstanceUID: uid(h, T.StudyInstanceUID),
    seriesInstanceUID: uid(h, T.SeriesInstanceUID),
    patientId: ds.text(T.PatientID),
    patientName: ds.string(T.PatientName),
    birthDate: ds.text(T.PatientBirthDate),
    studyDate: ds.text(T.StudyDate),
    studyDescription: ds.string(T.StudyDescription)?.trim(),
    accessionNumber: ds.text(T.AccessionNumber),
    modality: ds.text(T.Modality),
    seriesNumber: ds.text(T.SeriesNumber),
  };
  for (const [k, v] of Object.entries(facts)) if (v === undefined) delete facts[k];
  return facts as unknown as FileFacts;
}

async function parseHeader(reader: RandomAccessReader, c: Checked): Promise<Part10Header | undefined> {
  try {
    const header = await readPart10Header(reader);
    if (header.format !== 'part10') c.findings.push(finding('NOT_PART10', `${c.name}: ${header.format} (no preamble or File Meta Information)`, c.name));
    for (const w of header.warnings) c.findings.push(finding('DICOM_DEVIATION', `${c.name}: ${w.code}: ${w.message}`, c.name));
    c.header = factsOf(header);
    return header;
  } catch (e) {
    c.findings.push(finding('DICOM_UNREADABLE', `${c.name}: ${e instanceof Error ? e.message : String(e)}`, c.name));
    return undefined;
  }
}

async function checkSignaturesInto(reader: RandomAccessReader, c: Checked, trust: TrustInput): Promise<void> {
  try {
    c.dicomSignatures = await judgeDicomSignatures(reader, c.name, trust);
    c.findings.push(...c.dicomSignatures.findings);
  } catch (e) {
    // The file cannot be read through to its end: its signatures cannot hold.
    c.findings.push(finding('DICOM_SIGNATURE_INVALID', `${c.name}: the DICOM signatures cannot be checked: ${e instanceof Error ? e.message : String(e)}`, c.name));
  }
}

/** Writes verified bytes into the staging folder under a name of our own (never a name from the medium). */
async function stage(staging: string, chunks: AsyncIterable<Buffer>, c: Checked): Promise<string> {
  const target = path.join(staging, `F${createHash('sha256').update(c.name).digest('hex').slice(0, 24)}`);
  await pipeline(Readable.from(chunks), createWriteStream(target, { flags: 'wx' }));
  return target;
}

function compareDirectory(decoded: DecodedDicomdir, checked: Checked[], dicomFiles: Checked[], findings: Finding[]): void {
  const byPath = new Map<string, Checked>();
  for (const c of checked) byPath.set(c.entry.path.map((p) => p.toUpperCase()).join('/'), c);
  const referenced = new Set<Checked>();
  const patientIds = new Map<string, number>();
  const studyUids = new Map<string, number>();
  const visit = (record: DirectoryRecord, ancestors: DirectoryRecord[]): void => {
    if (record.type === 'PATIENT') {
      const id = record.keys.text(T.PatientID) ?? '';
      patientIds.set(id, (patientIds.get(id) ?? 0) + 1);
    }
    if (record.type === 'STUDY') {
      const id = record.keys.text(T.StudyInstanceUID) ?? '';
      if (id) studyUids.set(id, (studyUids.get(id) ?? 0) + 1);
    }
    if (record.fileId && record.type !== 'PATIENT' && record.type !== 'STUDY' && record.type !== 'SERIES') {
      const key = record.fileId.map((p) => p.toUpperCase()).join('/');
      const file = byPath.get(key);
      if (!file) {
        findings.push(finding('RECORD_FILE_MISSING', `the DICOMDIR's ${record.type} record references ${record.fileId.join('\\')}, which is not on the medium`, record.fileId.join('/')));
      } else {
        referenced.add(file);
        if (file.header) compareRecord(record, ancestors, file);
        else if (file.kind === 'other' || file.kind === 'executable') {
          findings.push(finding('RECORD_FILE_NOT_DICOM', `the DICOMDIR's ${record.type} record references ${record.fileId.join('\\')}, which is not a DICOM file`, file.name));
        }
      }
    }
    for (const child of record.children) visit(child, [...ancestors, record]);
  };
  for (const root of decoded.fileSet.roots) visit(root, []);
  for (const [id, n] of patientIds) if (n > 1) findings.push(finding('DUPLICATE_PATIENT_RECORD', `${n} PATIENT records for Patient ID ${id}`));
  for (const [id, n] of studyUids) if (n > 1) findings.push(finding('DUPLICATE_STUDY_RECORD', `${n} STUDY records for Study Instance UID ${id}`));
  for (const c of dicomFiles) {
    if (!referenced.has(c)) c.findings.push(finding('ORPHAN_FILE', `${c.name} is a DICOM file the DICOMDIR does not reference`, c.name));
  }
}

function compareRecord(record: DirectoryRecord, ancestors: DirectoryRecord[], file: Checked): void {
  const h = file.header as FileFacts;
  const differences: string[] = [];
  const check = (what: string, inRecord: string | undefined, inFile: string | undefined): void => {
    if (inRecord !== undefined && inFile !== undefined && inRecord !== inFile) differences.push(`${what}: record ${inRecord}, file ${inFile}`);
  };
  check('SOP Instance UID', record.sopInstanceUID, h.sopInstanceUID);
  check('SOP Class UID', record.sopClassUID, h.sopClassUID);
  check('Transfer Syntax UID', record.transferSyntaxUID, h.transferSyntaxUID);
  for (const a of ancestors) {
    if (a.type === 'SERIES') check('Series Instance UID', a.keys.text(T.SeriesInstanceUID), h.seriesInstanceUID);
    if (a.type === 'STUDY') check('Study Instance UID', a.keys.text(T.StudyInstanceUID), h.studyInstanceUID);
    if (a.type === 'PATIENT') {
      check('Patient ID', a.keys.text(T.PatientID), h.patientId);
      const rn = a.keys.string(T.PatientName);
      const fn = h.patientName;
      if (rn !== undefined && fn !== undefined && patientNameKey(rn) !== patientNameKey(fn)) differences.push(`Patient's Name: record ${rn}, file ${fn}`);
    }
  }
  if (differences.length > 0) file.findings.push(finding('RECORD_MISMATCH', `${file.name}: ${differences.join('; ')}`, file.name));
}

function patientsOf(files: Checked[]): PatientReport[] {
  type Study = PatientReport['studies'][number];
  type Series = Study['series'][number];
  const patients = new Map<string, { report: PatientReport & { studies: Study[] }; studies: Map<string, { report: Study; series: Map<string, Series> }> }>();
  for (const c of files) {
    const f = c.header as FileFacts;
    // Palettes, hanging protocols, implant templates: on the medium, but nobody's images.
    if (isPatientIndependent(f.sopClassUID ?? '')) continue;
    const id = f.patientId ?? '';
    const name = f.patientName?.trim() ?? '';
    const key = `${id}|${patientNameKey(name)}`;
    let p = patients.get(key);
    if (!p) {
      p = { report: { patientId: id, patientName: name, birthDate: f.birthDate ?? '', studies: [] }, studies: new Map() };
      patients.set(key, p);
    }
    const studyUid = f.studyInstanceUID ?? '';
    let st = p.studies.get(studyUid);
    if (!st) {
      st = { report: { studyInstanceUID: studyUid, studyDate: f.studyDate ?? '', studyDescription: f.studyDescription ?? '', accessionNumber: f.accessionNumber ?? '', series: [] }, series: new Map() };
      p.studies.set(studyUid, st);
      p.report.studies.push(st.report);
    }
    const seriesUid = f.seriesInstanceUID ?? '';
    const se = st.series.get(seriesUid);
    if (se) (se as { instances: number }).instances++;
    else {
      const created: Series = { seriesInstanceUID: seriesUid, modality: f.modality ?? '', seriesNumber: f.seriesNumber ?? '', instances: 1 };
      st.series.set(seriesUid, created);
      st.report.series.push(created);
    }
  }
  return [...patients.values()].map((p) => p.report);
}

/** Every signature of the medium, CMS (secure files) and DICOM (PS3.15 Annex C, plain files), as one signer per certificate and trust status. */
function signerReports(files: Checked[]): SignerReport[] {
  type Signed = { certificate?: Buffer; trust?: { status: string; chain: Array<{ subject: string }>; reasons: string[] }; signingTime?: Date };
  const signatures: Signed[] = files.flatMap((c) => [
    ...(c.judged?.signers ?? []).map((s): Signed => ({ certificate: s.cms.signerCertificate, trust: s.trust, signingTime: s.cms.signingTime })),
    // A DICOM signature whose trust could not be judged (unreadable certificate) names no signer.
    ...(c.dicomSignatures?.signatures ?? []).filter((s) => s.trust).map((s): Signed => ({ certificate: s.check.certificate, trust: s.trust, signingTime: s.check.signingTime })),
  ]);
  const bySigner = new Map<string, SignerReport & { files: number; signingTimes: { first?: string; last?: string } }>();
  for (const s of signatures) {
    if (!s.certificate) continue;
    const d = describeCertificate(s.certificate);
    const key = `${d.fingerprintSha256}|${s.trust?.status ?? ''}`;
    let r = bySigner.get(key);
    if (!r) {
      r = { subject: d.subject, issuer: d.issuer, serialNumber: d.serialNumber, status: s.trust?.status ?? 'unknown', chain: s.trust?.chain.map((x) => x.subject) ?? [], signingTimes: {}, files: 0, reasons: s.trust?.reasons ?? [] };
      bySigner.set(key, r);
    }
    r.files++;
    const t = s.signingTime?.toISOString();
    if (t) {
      if (!r.signingTimes.first || t < r.signingTimes.first) r.signingTimes.first = t;
      if (!r.signingTimes.last || t > r.signingTimes.last) r.signingTimes.last = t;
    }
  }
  return [...bySigner.values()];
}

const TAMPERED = new Set(['FILE_TAMPERED', 'SECURE_UNREADABLE', 'DICOM_UNREADABLE', 'MEDIA_UNREADABLE', 'DICOMDIR_UNREADABLE']);

export function policyPasses(policy: Policy, verdict: Verdict, findings: readonly Finding[]): boolean {
  if (verdict === 'unreadable') return false;
  switch (policy) {
    case 'strict':
      return findings.every((f) => f.severity === 'info');
    case 'standard':
      return findings.every((f) => f.severity !== 'error');
    case 'lenient':
      return findings.every((f) => !TAMPERED.has(f.code));
  }
}

function finish(
  options: VerifyOptions,
  now: Date,
  media: VerifyReport['media'],
  mediaFindings: Finding[],
  files: Checked[],
  patients: PatientReport[],
  signers: SignerReport[] = [],
  unreadable = false,
  uncovered = 0,
): VerifyReport {
  const findings = [...mediaFindings, ...files.flatMap((c) => c.findings)];
  const dicom = files.filter((c) => c.kind === 'dicom' || c.kind === 'secure' || c.kind === 'dicomdir');
  const errors = findings.filter((f) => f.severity === 'error').length;
  const trustedFiles = dicom.filter((c) => c.judged?.status === 'trusted' || c.dicomSignatures?.trusted === true).length;
  // Plain media signed inside the data sets (PS3.15 Annex C): the DICOMDIR is not signed, but it was
  // compared with the signed instances (any disagreement is an error and the verdict is not reached).
  const instances = dicom.filter((c) => c.kind !== 'dicomdir');
  const signedPlain = instances.length > 0 && instances.every((c) => c.dicomSignatures?.trusted === true) && dicom.every((c) => c.kind !== 'secure');
  let verdict: Verdict;
  if (unreadable) verdict = 'unreadable';
  else if (errors > 0) verdict = 'problems';
  // Trusted: every file on the medium covered whole by a trusted signature (see coverage()).
  else if (((dicom.length > 0 && trustedFiles === dicom.length) || signedPlain) && uncovered === 0) verdict = 'trusted';
  else verdict = 'intact-unsigned';
  const fileReports: FileReport[] = files.map((c) => {
    const worst = c.findings.find((f) => f.severity === 'error') ?? c.findings.find((f) => f.severity === 'warning');
    const signer = c.judged?.signers[0]?.trust?.signer.subject ?? c.dicomSignatures?.reports[0]?.signer;
    return {
      path: c.name,
      kind: c.kind,
      status: worst?.code ?? 'ok',
      size: c.entry.size,
      ...(c.header ? { sopInstanceUID: c.header.sopInstanceUID ?? '', sopClassUID: c.header.sopClassUID ?? '', transferSyntaxUID: c.header.transferSyntaxUID } : {}),
      ...(signer ? { signer } : {}),
      ...(c.judged ? { protection: c.judged.cms.structure } : {}),
      ...(c.dicomSignatures ? { dicomSignatures: c.dicomSignatures.reports } : {}),
    };
  });
  const studies = patients.reduce((n, p) => n + p.studies.length, 0);
  const series = patients.reduce((n, p) => n + p.studies.reduce((m, s) => m + s.series.length, 0), 0);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'dcmsafe', version: VERSION },
    verifiedAt: now.toISOString(),
    media,
    policy: options.policy,
    verdict,
    passed: policyPasses(options.policy, verdict, findings),
    summary: {
      files: files.length,
      dicomFiles: dicom.filter((c) => c.kind !== 'dicomdir').length,
      secureFiles: files.filter((c) => c.kind === 'secure').length,
      signedFiles: files.filter((c) => c.judged?.cms.structure === 'signed' || (c.dicomSignatures?.signatures.length ?? 0) > 0).length,
      trustedFiles,
      patients: patients.length,
      studies,
      series,
      instances: dicom.filter((c) => c.kind !== 'dicomdir' && c.header).length,
      errors,
      warnings: findings.filter((f) => f.severity === 'warning').length,
      infos: findings.filter((f) => f.severity === 'info').length,
    },
    signers,
    patients,
    findings,
    files: fileReports,
  };
}

/**
 * --extract: the files that pass the policy (all with --include-failed), decrypted, under File IDs
 * of our own making, with a new DICOMDIR indexing exactly them. Names on the medium never become
 * paths: nothing can land outside the folder.
 */
async function extract(options: VerifyOptions, report: VerifyReport, files: Checked[], staging: string): Promise<NonNullable<VerifyReport['extracted']>> {
  const target = path.resolve(options.extract as string);
  const fileOk = (c: Checked): boolean => options.includeFailed === true || policyPasses(options.policy, report.verdict === 'unreadable' ? 'problems' : report.verdict, c.findings);
  const chosen = files.filter((c) => c.staged && fileOk(c));
  const scans: ScanResult[] = [];
  for (const c of chosen) scans.push(await scanFile(c.staged as string));
  try {
    if (chosen.length === 0) return { folder: target, files: 0, skipped: files.length };
    const plan = planFileSet(scans, {
      profile: findProfile('STD-GEN-CD'),
      fileSetId: 'EXTRACTED',
      fileSetUID: nameBasedUid(['dcmsafe extract', report.verifiedAt, report.media.path, ...chosen.map((c) => c.name)].join('|')),
      clock: { now: () => new Date(report.verifiedAt) },
      allowPatientMismatch: true,
      skipUnreadable: true,
      acceptAnyTransferSyntax: true,
    });
    for (const p of plan.instances) {
      const dest = path.join(target, ...p.fileId);
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(p.instance.path, dest);
    }
    await writeFile(path.join(target, 'DICOMDIR'), encodeDicomdir(plan.fileSet), { flag: 'wx' });
    await writeFile(path.join(target, ...(plan.fileSet.descriptorFileId ?? ['README'])), fileSetDescriptor(plan, findProfile('STD-GEN-CD'), new Date(report.verifiedAt)), { flag: 'wx' });
    return { folder: target, files: plan.instances.length, skipped: files.length - plan.instances.length };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
