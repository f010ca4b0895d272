/**
 * create: inputs → scan (headers only) → plan the File-set → size every output file (converted and
 * protected) → split over discs if needed → lay out each medium → emit it in one stream. Every kind of
 * medium (folder, ISO 9660 disc, USB stick or FAT32 image, ZIP) goes through the same steps. Emits
 * typed progress events; returns a summary that the CLI prints as text or JSON.
 */
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { planFileSet, type FileSetPlan } from '../dicom/fileset/plan.js';
import { scanFiles, type ScanResult } from '../dicom/fileset/scan.js';
import { DEFAULT_PROFILE_FOR_MEDIA, findProfile, secureTwin, type ApplicationProfile, type MediaKind } from '../dicom/profiles/profiles.js';
import { BLOCK, DISC_CAPACITY, isDisc } from '../media/capacity.js';
import { planFat32Image } from '../media/fat/writer.js';
import { checkOutputFolder, FolderWriter } from '../media/folder/write-folder.js';
import { planIso9660 } from '../media/iso9660/writer.js';
import type { ImagePlan, MediaFile } from '../media/media-file.js';
import { manifest } from '../media/pdi/pdi.js';
import { checkStick, writeToStick } from '../media/usb/stick.js';
import { checkOutputFile, writeImageFile } from '../media/write-image.js';
import { planZip } from '../media/zip/writer.js';
import { systemClock, type Clock } from '../util/clock.js';
import { randomSpec, systemRandom, type Random } from '../util/random.js';
import { nameBasedUid } from '../util/uid.js';
import { describeCertificate } from '../security/pki/certificates.js';
import { summarize, type CreateSummary, type VolumeSummary } from './create-summary.js';
import { collectInputs } from './inputs.js';
import { DeidStaging, deidentifyInputs, type DeidentifyRequest } from './deidentify-inputs.js';
import { describeSecurity, type MediaSecurity } from './protect.js';
import { manifestSigner, withManifest } from './media-manifest.js';
import { splitIntoDiscs } from './split.js';
import { outputSize, volumeFiles, type VolumeContext } from './volume-files.js';
import { jobOf, type ProtectContext } from './instance-output.js';
import { InstancePool, poolSize, WINDOW } from './parallel/pool.js';
import { forEachBounded } from '../util/concurrency.js';
import { writeFileExclusive } from '../util/durable.js';
import type { DicomSigner } from '../dicom/signature/sign.js';

export type CreateEvent =
  | { readonly type: 'collected'; readonly files: number }
  | { readonly type: 'scanned'; readonly path: string; readonly index: number; readonly total: number; readonly result: ScanResult['kind'] }
  | { readonly type: 'planned'; readonly patients: number; readonly instances: number; readonly volumes: number; readonly bytes: number }
  | { readonly type: 'progress'; readonly volume: number; readonly bytesDone: number; readonly bytesTotal: number }
  | { readonly type: 'wrote-volume'; readonly volume: number; readonly output: string; readonly bytes: number }
  | { readonly type: 'done'; readonly outputs: readonly string[] };

export interface CreateOptions {
  readonly inputs: readonly string[];
  readonly media: MediaKind;
  /** A folder (folder, USB stick), or an image file (.iso for discs, .img for USB, .zip). */
  readonly out: string;
  readonly profile?: string;
  /** File-set ID (0004,1130): up to 16 of A-Z, 0-9, _ and space. */
  readonly fileSetId?: string;
  readonly allowPatientMismatch?: boolean;
  readonly skipInvalid?: boolean;
  readonly uidRoot?: string;
  /** Sign and encrypt every file (secure media): the profile becomes its STD-GEN-SEC twin. */
  readonly security?: MediaSecurity;
  /** Add a DICOM Digital Signature (PS3.15 Annex C) to every instance; the media stay plain unless `security` is given too. */
  readonly dicomSignature?: DicomSigner;
  /**
   * De-identify every instance (PS3.15 E.2 and the chosen E.3 options) before planning: the media,
   * the DICOMDIR, README.TXT, INDEX.HTM, the manifest and the summary carry only de-identified values.
   */
  readonly deidentify?: DeidentifyRequest;
  /** Disc capacity in bytes, instead of the medium's (e.g. DVD dual layer, or small in tests). */
  readonly capacity?: number;
  /** USB image size in bytes (default: what the files need). */
  readonly imageSize?: number;
  /** USB stick: replace a File-set already on it. */
  readonly replace?: boolean;
  readonly institution?: string;
  /** Write the label text (plain media) or patient letter (password media) here. */
  readonly manifest?: string;
  /** Put the password into the patient letter (only when the caller has it and asks). */
  readonly manifestPassword?: string;
  /** Who can open secure media, for README.TXT and INDEX.HTM (certificate subjects, "a password"). */
  readonly clock?: Clock;
  readonly random?: Random;
  readonly onEvent?: (event: CreateEvent) => void;
}

export const DEFAULT_FILESET_ID = 'DCMSAFE';

/** Output sizes worked out at once (each opens one input file). */
const SIZING_IN_FLIGHT = 8;

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

const MEDIA_NAMES: Record<MediaKind, string> = { cd: 'CD', dvd: 'DVD', bd: 'Blu-ray disc', usb: 'USB stick', zip: 'ZIP file', folder: 'folder' };

/** Where each medium goes: the output itself, or NAME-1.iso, NAME-2.iso... when the input was split. */
export function volumeOutputs(out: string, count: number): string[] {
  if (count === 1) return [out];
  const ext = path.extname(out);
  const base = out.slice(0, out.length - ext.length);
  return Array.from({ length: count }, (_, i) => `${base}-${i + 1}${ext}`);
}

/** File-set IDs of split media: the base ID with _1, _2... (each disc is a File-set of its own). */
function volumeFileSetId(base: string, index: number, count: number): string {
  if (count === 1) return base;
  const suffix = `_${index + 1}`;
  return `${base.trimEnd().slice(0, 16 - suffix.length)}${suffix}`;
}

function isImageOutput(media: MediaKind, out: string): boolean {
  return isDisc(media) || media === 'zip' || (media === 'usb' && /\.(img|raw|bin)$/i.test(out));
}

async function checkOutput(options: CreateOptions): Promise<void> {
  if (isImageOutput(options.media, options.out)) await checkOutputFile(options.out);
  else if (options.media === 'folder') await checkOutputFolder(options.out);
  // A mounted stick is checked once the size is known.
}

export async function createMedia(options: CreateOptions): Promise<CreateSummary> {
  if (!options.deidentify) return createMediaFrom(options, undefined);
  // De-identified instances are staged in unnamed files, which the end of the process frees however
  // it ends; for secure media in memory while there is room (see deidentify-inputs.ts).
  const staging = await DeidStaging.open({ preferMemory: options.security !== undefined });
  try {
    return await createMediaFrom(options, staging);
  } finally {
    await staging.close();
  }
}

async function createMediaFrom(options: CreateOptions, staging: DeidStaging | undefined): Promise<CreateSummary> {
  const emit = options.onEvent ?? ((): void => undefined);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const profile = profileFor(options.media, options.profile, options.security !== undefined);
  const fileSetId = checkFileSetId(options.fileSetId ?? DEFAULT_FILESET_ID);
  if (isDisc(options.media) && fileSetId.includes(' ')) {
    // The File-set ID is the ISO 9660 volume identifier (PS3.12 F.2), and d-characters have no space.
    throw new DcmsafeError('FILESET_ID_INVALID', `File-set ID "${fileSetId}" has a space, which a disc's volume identifier cannot hold`, { fileSetId });
  }
  if (options.uidRoot) nameBasedUid('check', options.uidRoot); // a bad root is a usage error before any work
  await checkOutput(options); // before reading inputs: a wrong --out should not cost a scan

  const { files, ignored } = await collectInputs(options.inputs, options.out);
  emit({ type: 'collected', files: files.length });
  const scans: ScanResult[] = [];
  const deidentified =
    options.deidentify && staging
      ? await deidentifyInputs(files, staging, options.deidentify, { random, clock, onScanned: (index, result) => emit({ type: 'scanned', path: files[index] as string, index, total: files.length, result: result.kind }) })
      : undefined;
  if (deidentified) scans.push(...deidentified.scans);
  else for (const result of await scanFiles(files, { onScanned: (index, r) => emit({ type: 'scanned', path: files[index] as string, index, total: files.length, result: r.kind }) })) scans.push(result);
  const planOptions = {
    profile,
    clock,
    allowPatientMismatch: options.allowPatientMismatch ?? false,
    skipUnreadable: options.skipInvalid ?? false,
  };
  const whole: FileSetPlan = planFileSet(scans, { ...planOptions, fileSetId, fileSetUID: fileSetUID(scans, { fileSetId, created: clock.now(), ...(options.uidRoot ? { uidRoot: options.uidRoot } : {}) }) });

  // Every output file's exact size, before anything is written: layouts and disc splits need them.
  const ctx = { ...(options.security ? { security: options.security } : {}), ...(options.dicomSignature ? { dicomSignature: options.dicomSignature } : {}), clock, random };
  const sizes = new Map<string, number>();
  // Each size needs the file's header (and a dry run when signing): several files at once keep the disk busy.
  await forEachBounded(whole.instances, SIZING_IN_FLIGHT, async (p) => {
    sizes.set(p.instance.path, await outputSize(p, ctx));
  });

  const capacity = isDisc(options.media) ? (options.capacity ?? DISC_CAPACITY[options.media]) : undefined;
  const groups = capacity !== undefined ? splitIntoDiscs(whole.instances, sizes, capacity) : [whole.instances];
  const plans =
    groups.length === 1
      ? [whole]
      : groups.map((instances, i) => {
          const id = volumeFileSetId(fileSetId, i, groups.length);
          const subset: ScanResult[] = instances.map((p) => ({ kind: 'instance', instance: p.instance }));
          return planFileSet(subset, { ...planOptions, fileSetId: id, fileSetUID: fileSetUID(subset, { fileSetId: id, created: clock.now(), ...(options.uidRoot ? { uidRoot: options.uidRoot } : {}) }) });
        });
  const outputs = volumeOutputs(options.out, plans.length);
  for (const o of outputs.slice(1)) await checkOutputFile(o);
  emit({
    type: 'planned',
    patients: whole.fileSet.roots.filter((r) => r.type === 'PATIENT').length,
    instances: whole.instances.length,
    volumes: plans.length,
    bytes: [...sizes.values()].reduce((a, b) => a + b, 0),
  });

  const security = options.security ? describeSecurity(options.security) : undefined;
  const manifestBy = manifestSigner(options.security, options.dicomSignature);
  const pool = startPool(options, ctx, whole.instances.length, manifestBy !== undefined);
  try {
    return await writeVolumes();
  } finally {
    await pool?.close();
  }

  async function writeVolumes(): Promise<CreateSummary> {
    const secureFor = security?.recipients.map((r) => (r.kind === 'password' ? 'whoever has the password of this medium' : `the holder of the key of ${r.subject}`));
    const volumes: VolumeSummary[] = [];
    for (const [i, plan] of plans.entries()) {
      const vctx: VolumeContext = {
        ...ctx,
        profile,
        institution: options.institution ?? '(institution not set)',
        mediaKind: MEDIA_NAMES[options.media],
        ...(plans.length > 1 ? { volumeLabel: `${MEDIA_NAMES[options.media]} ${i + 1} of ${plans.length}` } : {}),
        ...(secureFor ? { secureFor } : {}),
        ...(security?.signer ? { signedBy: security.signer.subject } : {}),
        ...(options.dicomSignature ? { dicomSignedBy: describeCertificate(options.dicomSignature.certificate).subject } : {}),
      };
      const out = outputs[i] as string;
      // Images are written through writeImageFile, which is done with a chunk when it asks for the next.
      const borrow = ['cd', 'dvd', 'bd'].includes(options.media) || (options.media === 'usb' && isImageOutput('usb', out));
      const sequence = pool?.sequence(
        plan.instances.map((p) => ({ job: jobOf(p), size: sizes.get(p.instance.path) as number })),
        { borrow },
      );
      const { files: planned, description } = await volumeFiles(plan, sizes, sequence ? { ...vctx, producer: sequence } : vctx);
      // Signed media also get a signed manifest of every file (MANIFEST.P7M, emitted last).
      const mediaFiles = manifestBy ? withManifest(planned, manifestBy, clock) : planned;
      // Progress at most every 64 MiB, and at the end.
      const progress = (bytesTotal: number) => {
        let last = -Infinity;
        return (bytesDone: number): void => {
          if (bytesDone - last < 64 << 20 && bytesDone < bytesTotal) return;
          last = bytesDone;
          emit({ type: 'progress', volume: i + 1, bytesDone, bytesTotal });
        };
      };
      let bytes: number;
      try {
        bytes = await writeVolume(options, out, mediaFiles, plan.fileSet.fileSetId, clock.now(), random, capacity, progress);
      } finally {
        sequence?.close();
      }
      emit({ type: 'wrote-volume', volume: i + 1, output: out, bytes });
      volumes.push({
        output: path.resolve(out),
        fileSetId: plan.fileSet.fileSetId,
        fileSetUID: plan.fileSet.fileSetUID,
        bytes,
        instances: plan.instances.length,
        studies: [...new Set(plan.instances.map((p) => p.instance.studyInstanceUID ?? ''))].filter(Boolean),
      });
      if (options.manifest) {
        const target = volumeOutputs(options.manifest, plans.length)[i] as string;
        const text = manifest(description, { passwordMedia: security?.recipients.some((r) => r.kind === 'password') ?? false, ...(options.manifestPassword ? { password: options.manifestPassword } : {}) });
        await writeFileExclusive(target, text, options.manifestPassword ? 0o600 : 0o644); // whole or absent, never a part
      }
    }
    emit({ type: 'done', outputs: volumes.map((v) => v.output) });
    const signed = summarize({ plan: whole, profile, media: options.media, volumes, ignoredInputs: ignored, ...(security ? { security } : {}) });
    const ds = options.dicomSignature;
    const summary: CreateSummary = ds ? { ...signed, dicomSignature: { signer: describeCertificate(ds.certificate).subject, profile: ds.profile, macAlgorithm: ds.algorithm } } : signed;
    return deidentified ? withDeidentification(summary, deidentified) : summary;
  }
}

/**
 * Worker threads for the instances when each one costs CPU (signing, encrypting): none for plain
 * copies (the disk is the limit), for a single file, or when the Random cannot be rebuilt on
 * another thread (a test's own); see parallel/pool.ts.
 */
function startPool(options: CreateOptions, ctx: ProtectContext, instances: number, hashOutput: boolean): InstancePool | undefined {
  const workers = poolSize();
  const spec = randomSpec(ctx.random);
  if (workers < 1 || instances < 2 || !spec || (!options.security && !options.dicomSignature)) return undefined;
  return new InstancePool(
    { ...(options.security ? { security: options.security } : {}), ...(options.dicomSignature ? { dicomSignature: options.dicomSignature } : {}), random: spec, window: WINDOW, hashOutput },
    { workers: Math.min(workers, instances), clock: ctx.clock },
  );
}

/** The summary of de-identified media: staged files named by the inputs they came from, and what de-identification did. */
function withDeidentification(summary: CreateSummary, d: Awaited<ReturnType<typeof deidentifyInputs>>): CreateSummary {
  const input = (p: string): string => d.inputOf.get(p) ?? p;
  return {
    ...summary,
    files: summary.files.map((f) => ({ ...f, input: input(f.input) })),
    transcoded: summary.transcoded.map((t) => ({ ...t, input: input(t.input) })),
    inputWarnings: summary.inputWarnings.map((w) => ({ ...w, input: input(w.input) })),
    merged: summary.merged.map((m) => ({ ...m, kept: input(m.kept), dropped: m.dropped.map(input) })),
    skipped: summary.skipped.map((k) => ({ ...k, path: input(k.path) })),
    unknownSopClasses: summary.unknownSopClasses.map((u) => ({ ...u, path: input(u.path) })),
    deidentification: d.summary,
  };
}

async function writeVolume(
  options: CreateOptions,
  out: string,
  files: MediaFile[],
  fileSetId: string,
  now: Date,
  random: Random,
  capacity: number | undefined,
  progress: (total: number) => (done: number) => void,
): Promise<number> {
  const total = files.reduce((n, f) => n + f.size, 0);
  const suffix = random.bytes(4).toString('hex');
  const image = (plan: ImagePlan): Promise<number> => writeImageFile(out, plan.emit(), suffix, progress(plan.size), plan.size);
  switch (options.media) {
    case 'cd':
    case 'dvd':
    case 'bd': {
      const plan = planIso9660(files, { volumeIdentifier: fileSetId, recordingTime: now, applicationIdentifier: 'DCMSAFE' });
      if (capacity !== undefined && Math.ceil(plan.size / BLOCK) > Math.floor(capacity / BLOCK)) {
        throw new DcmsafeError('MEDIA_CAPACITY', `${out}: the image needs ${plan.size} bytes, the medium holds ${capacity}`, { file: out, size: plan.size, capacity });
      }
      return image(plan);
    }
    case 'zip': {
      const zip = planZip(files, { now });
      return writeImageFile(out, zip.emit(), suffix, progress(total));
    }
    case 'usb': {
      if (isImageOutput('usb', out)) {
        return image(planFat32Image(files, { volumeLabel: fileSetId.slice(0, 11), now, ...(options.imageSize ? { size: options.imageSize } : {}) }));
      }
      // Directory entries and cluster slack: a few percent over the file bytes.
      await checkStick(out, Math.ceil(total * 1.03) + files.length * 4096, options.replace ?? false);
      return writeToStick(out, files, { replace: options.replace ?? false, onProgress: progress(total) });
    }
    case 'folder': {
      const writer = await FolderWriter.begin(out, suffix);
      try {
        let done = 0;
        const report = progress(total);
        for (const f of files) {
          const content = await f.open();
          try {
            done += await writer.writeFile(f.path, content.stream, f.size);
          } finally {
            await content.close();
          }
          report(done);
        }
        await writer.commit();
        return done;
      } catch (e) {
        await writer.abort();
        throw e;
      }
    }
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
