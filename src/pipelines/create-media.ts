/**
 * create: inputs → scan (headers only) → plan the File-set → write each file (copied or converted,
 * streamed) → DICOMDIR and File-set Descriptor File. Emits typed progress events; returns a summary
 * that the CLI prints as text or JSON.
 */
import { DcmsafeError } from '../errors/index.js';
import { encodeDicomdir } from '../dicom/dicomdir/encode.js';
import { planFileSet, type FileSetPlan } from '../dicom/fileset/plan.js';
import { scanFile, type ScanResult } from '../dicom/fileset/scan.js';
import { DEFAULT_PROFILE_FOR_MEDIA, findProfile, secureTwin, type ApplicationProfile, type MediaKind } from '../dicom/profiles/profiles.js';
import { describeSecurity, once, protect, type MediaSecurity } from './protect.js';
import { prepareOutput } from '../dicom/transcode/transcode.js';
import { transferSyntaxName } from '../dicom/transfer-syntax.js';
import { checkOutputFolder, FolderWriter } from '../media/folder/write-folder.js';
import { systemClock, type Clock } from '../util/clock.js';
import { systemRandom, type Random } from '../util/random.js';
import { nameBasedUid } from '../util/uid.js';
import { collectInputs } from './inputs.js';
import { summarize, type CreateSummary } from './create-summary.js';
import { fileSetDescriptor } from './fileset-descriptor.js';

export type CreateEvent =
  | { readonly type: 'collected'; readonly files: number }
  | { readonly type: 'scanned'; readonly path: string; readonly index: number; readonly total: number; readonly result: ScanResult['kind'] }
  | { readonly type: 'planned'; readonly patients: number; readonly instances: number; readonly bytesToConvert: number }
  | { readonly type: 'wrote'; readonly fileId: string; readonly index: number; readonly total: number; readonly bytes: number; readonly kind: string }
  | { readonly type: 'wrote-dicomdir'; readonly bytes: number }
  | { readonly type: 'done'; readonly output: string };

export interface CreateOptions {
  readonly inputs: readonly string[];
  readonly media: MediaKind;
  readonly out: string;
  readonly profile?: string;
  /** File-set ID (0004,1130): up to 16 of A-Z, 0-9, _ and space. */
  readonly fileSetId?: string;
  readonly allowPatientMismatch?: boolean;
  readonly skipInvalid?: boolean;
  readonly uidRoot?: string;
  /** Sign and encrypt every file (secure media): the profile becomes its STD-GEN-SEC twin. */
  readonly security?: MediaSecurity;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly onEvent?: (event: CreateEvent) => void;
}

export const DEFAULT_FILESET_ID = 'DCMSAFE';

export function checkFileSetId(id: string): string {
  if (id.length > 16 || !/^[A-Z0-9_ ]*$/.test(id)) {
    throw new DcmsafeError('FILESET_ID_INVALID', `File-set ID "${id}" must be at most 16 characters of A-Z, 0-9, _ and space`, { fileSetId: id });
  }
  return id;
}

export function profileFor(media: MediaKind, id: string | undefined, secure: boolean): ApplicationProfile {
  const profile = findProfile(id ?? DEFAULT_PROFILE_FOR_MEDIA[media]);
  if (profile.secure && !secure) {
    throw new DcmsafeError('USAGE', `${profile.id} is a secure profile: give --recipient or a password to encrypt the media`, { profile: profile.id });
  }
  return secure ? secureTwin(profile) : profile;
}

export async function createMedia(options: CreateOptions): Promise<CreateSummary> {
  const emit = options.onEvent ?? ((): void => undefined);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  if (options.media !== 'folder') {
    throw new DcmsafeError('USAGE', `--media ${options.media} is not available yet; use --media folder`, { media: options.media });
  }
  const profile = profileFor(options.media, options.profile, options.security !== undefined);
  const fileSetId = checkFileSetId(options.fileSetId ?? DEFAULT_FILESET_ID);
  if (options.uidRoot) nameBasedUid('check', options.uidRoot); // a bad root is a usage error before any work
  await checkOutputFolder(options.out); // before reading inputs: a wrong --out should not cost a scan

  const { files, ignored } = await collectInputs(options.inputs, options.out);
  emit({ type: 'collected', files: files.length });
  const scans: ScanResult[] = [];
  for (const [index, file] of files.entries()) {
    const result = await scanFile(file);
    scans.push(result);
    emit({ type: 'scanned', path: file, index, total: files.length, result: result.kind });
  }

  const plan: FileSetPlan = planFileSet(scans, {
    profile,
    fileSetId,
    fileSetUID: fileSetUID(scans, { fileSetId, created: clock.now(), ...(options.uidRoot ? { uidRoot: options.uidRoot } : {}) }),
    clock,
    allowPatientMismatch: options.allowPatientMismatch ?? false,
    skipUnreadable: options.skipInvalid ?? false,
  });
  emit({
    type: 'planned',
    patients: plan.fileSet.roots.filter((r) => r.type === 'PATIENT').length,
    instances: plan.instances.length,
    bytesToConvert: plan.instances.filter((i) => i.kind !== 'copy').reduce((n, i) => n + i.instance.size, 0),
  });

  const writer = await FolderWriter.begin(options.out, random.bytes(4).toString('hex'));
  const written: Array<{ fileId: readonly string[]; bytes: number }> = [];
  try {
    for (const [index, p] of plan.instances.entries()) {
      const out = await prepareOutput(p.instance.path, p.kind, { sopClassUID: p.instance.sopClassUID, sopInstanceUID: p.instance.sopInstanceUID });
      try {
        const file = protect(options.security, out, { clock, random });
        const bytes = await writer.writeFile(p.fileId, file.stream(), file.size);
        written.push({ fileId: p.fileId, bytes });
        emit({ type: 'wrote', fileId: p.fileId.join('\\'), index, total: plan.instances.length, bytes, kind: p.kind });
      } finally {
        await out.close();
      }
    }
    // The DICOMDIR's offsets describe the inner (plain) file; on secure media it is wrapped like any other.
    const plainDicomdir = encodeDicomdir(plan.fileSet);
    const dicomdir = protect(options.security, { size: plainDicomdir.length, stream: () => once(plainDicomdir) }, { clock, random });
    const dicomdirBytes = await writer.writeFile(['DICOMDIR'], dicomdir.stream(), dicomdir.size);
    emit({ type: 'wrote-dicomdir', bytes: dicomdirBytes });
    const readme = fileSetDescriptor(plan, profile, clock.now());
    await writer.writeBytes(plan.fileSet.descriptorFileId ?? ['README'], readme);
    const output = await writer.commit();
    emit({ type: 'done', output });
    const bytes = written.reduce((n, w) => n + w.bytes, 0) + dicomdirBytes + readme.length;
    return summarize({ plan, profile, media: options.media, output, bytes, ignoredInputs: ignored, ...(options.security ? { security: describeSecurity(options.security) } : {}) });
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/**
 * The File-set UID is derived from what the File-set holds and when it was made: the same inputs and
 * clock give the same UID (reproducible media), any other File-set a different one. Plain and secure
 * media of the same File-set share it: the secure DICOMDIR wraps exactly the plain one.
 */
export function fileSetUID(scans: readonly ScanResult[], args: { fileSetId: string; created: Date; uidRoot?: string }): string {
  const sops = scans.flatMap((s) => (s.kind === 'instance' ? [s.instance.sopInstanceUID] : [])).sort();
  return nameBasedUid(['dcmsafe File-set', args.created.toISOString(), args.fileSetId, ...sops].join('|'), args.uidRoot);
}

/** One line per transcoded file, for people. */
export function describeConversion(p: FileSetPlan['instances'][number]): string {
  const from = transferSyntaxName(p.instance.transferSyntax.uid);
  return `${p.instance.path} → ${p.fileId.join('\\')}: ${p.kind} (${p.reason ?? from})`;
}

