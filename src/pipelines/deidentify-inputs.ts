/**
 * create --deidentify: every input instance is de-identified (PS3.15 E.2 with the chosen E.3
 * options, see dicom/deidentify) BEFORE the File-set is planned, so that the DICOMDIR, README.TXT,
 * INDEX.HTM, the manifest and the summary are built from de-identified headers only.
 *
 * Each instance is streamed once through the rewrite (header parsed and de-identified in memory,
 * pixel data passed through untouched) into a staging folder that the caller owns and removes;
 * planning then scans the staged files as it scans any input, so every later step (sizes, transcoding,
 * signing, encryption, the media writers) works on de-identified files only. The staged file is new
 * Part 10: a zero preamble and a new File Meta Information naming dcmsafe (E.1.1 item 7).
 *
 * Burned-in annotation is not cleaned (the Clean Pixel Data option is not offered): instances that
 * say they have it, and those of modalities and SOP classes that often carry it, are refused unless
 * the caller accepts them; they are listed either way.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
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
 * De-identifies `files` into `stagingDir` (which must exist and be empty) and scans the results.
 * Inputs that are not DICOM or cannot be read keep their scan result (they never reach the media).
 */
export async function deidentifyInputs(files: readonly string[], stagingDir: string, request: DeidentifyRequest, ctx: { random: Random; clock: Clock; onScanned?: (index: number, result: ScanResult) => void }): Promise<DeidentifiedInputs> {
  const deid = new Deidentifier({ options: request.options }, ctx.random);
  const scans: ScanResult[] = [];
  const inputOf = new Map<string, string>();
  const burnedIn: BurnedInInstance[] = [];
  await mkdir(stagingDir, { recursive: true });
  for (const [index, file] of files.entries()) {
    const first = await scanFile(file);
    if (first.kind !== 'instance') {
      scans.push(first);
      ctx.onScanned?.(index, first);
      continue;
    }
    const staged = path.join(stagingDir, `${String(index).padStart(6, '0')}.dcm`);
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
      else await pipeline(Readable.from(rewrite.part10()), createWriteStream(staged, { flags: 'wx' }));
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
