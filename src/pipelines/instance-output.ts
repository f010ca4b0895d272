/**
 * One instance as it goes on a medium: converted for the profile, signed when DICOM signatures are
 * asked for, then protected (Secure DICOM File) when the medium is secure. Described by plain data
 * (`InstanceJob`), so the same code runs on the main thread or on a worker thread (parallel/), and
 * the same job gives the same bytes wherever it runs: every random octet comes from a stream forked
 * by the file's ID, and the time is the one given.
 */
import type { PlannedInstance } from '../dicom/fileset/plan.js';
import { prepareSignedOutput, type DicomSigner } from '../dicom/signature/sign.js';
import { prepareOutput, type TranscodeKind } from '../dicom/transcode/transcode.js';
import type { OpenedContent } from '../media/media-file.js';
import type { Clock } from '../util/clock.js';
import type { Random } from '../util/random.js';
import { protect, type MediaSecurity } from './protect.js';

export interface ProtectContext {
  readonly security?: MediaSecurity;
  /** Add a DICOM Digital Signature to every instance (PS3.15 Annex C): the files stay plain DICOM. */
  readonly dicomSignature?: DicomSigner;
  readonly clock: Clock;
  readonly random: Random;
  /** Produces instances ahead of the writer on worker threads (parallel/pool.ts); absent: here, when the writer asks. */
  readonly producer?: InstanceProducer;
}

export interface InstanceProducer {
  open(job: InstanceJob, size: number): Promise<OpenedContent>;
}

/** What producing one instance needs, as data another thread can receive. */
export interface InstanceJob {
  readonly path: string;
  readonly kind: TranscodeKind;
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly fileId: readonly string[];
}

export function jobOf(p: PlannedInstance): InstanceJob {
  return { path: p.instance.path, kind: p.kind, sopClassUID: p.instance.sopClassUID, sopInstanceUID: p.instance.sopInstanceUID, fileId: p.fileId };
}

/** The instance converted for the medium, and signed when DICOM signatures are asked for. */
async function prepareInstance(job: InstanceJob, ctx: ProtectContext): Promise<{ size: number; stream(): AsyncIterable<Buffer>; close(): Promise<void> }> {
  if (!ctx.dicomSignature) return prepareOutput(job.path, job.kind, { sopClassUID: job.sopClassUID, sopInstanceUID: job.sopInstanceUID });
  // The same random stream and time at planning and at writing: the signed bytes are the same.
  return prepareSignedOutput(job.path, {
    signer: ctx.dicomSignature,
    now: ctx.clock.now(),
    random: ctx.random.fork(`dicom-signature/${job.fileId.join('/')}`),
    ...(job.kind === 'decode' ? { decodePixelData: true } : {}),
  });
}

/**
 * The size an instance will have on the medium (converted, signed, then protected), found without
 * writing it. A file copied as it is has the size the scan found (`scannedSize`): it is not opened
 * again (thousands of files: an open, a stat and a close each, on the planning thread). Should it
 * change before it is written, writing it fails with the size check, as for any other change.
 */
export async function outputSizeOf(job: InstanceJob, ctx: ProtectContext, scannedSize?: number): Promise<number> {
  if (job.kind === 'copy' && !ctx.dicomSignature && scannedSize !== undefined) {
    return protect(ctx.security, { size: scannedSize, stream: () => notStreamed(job) }, ctx).size;
  }
  const out = await prepareInstance(job, ctx);
  try {
    return protect(ctx.security, out, ctx).size;
  } finally {
    await out.close();
  }
}

function notStreamed(job: InstanceJob): never {
  throw new Error(`${job.path}: sized from its scan, not to be streamed`);
}

/** The instance's bytes on the medium; throws when they would not be the `size` planned. */
export async function openInstance(job: InstanceJob, size: number, ctx: ProtectContext): Promise<OpenedContent> {
  const out = await prepareInstance(job, ctx);
  // Each file's keys come from its own random stream: the writer's order does not change them.
  const file = protect(ctx.security, out, { ...ctx, random: ctx.random.fork(job.fileId.join('/')) });
  if (file.size !== size) {
    await out.close();
    throw new Error(`${job.path}: output size changed between planning (${size}) and writing (${file.size})`);
  }
  return { stream: file.stream(), close: () => out.close() };
}
