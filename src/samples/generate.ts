/**
 * `dcmsafe samples`: a deterministic synthetic sample set of DICOM Part 10 files (PS3.10 §7) for the
 * demo and the tests. Two patients, one named in UTF-8 (ISO_IR 192) and one in Latin-1 (ISO_IR 100);
 * a CT series with a Basic Text SR and an Encapsulated PDF in the same study; an MR study; an
 * ultrasound multi-frame study. Everything that varies (UIDs) comes from a seeded generator, and
 * every date and time is a constant, so one seed always gives the same bytes.
 *
 * `buildSamples` plans the whole set in memory (pure); `generateSamples` writes it to a folder.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodePart10 } from '../dicom/part10/writer.js';
import type { DataSet } from '../dicom/dataset.js';
import { asDcmsafeError, DcmsafeError } from '../errors/index.js';
import { seededRandom } from '../util/random.js';
import { uidGenerator, type UidGenerator } from '../util/uid.js';
import {
  basicTextSrDataSet,
  code,
  ctImageDataSet,
  encapsulatedPdfDataSet,
  mrImageDataSet,
  SOP_CLASS,
  usMultiFrameDataSet,
  type Context,
  type Instance,
  type Patient,
  type SampleCharset,
  type Series,
  type Study,
} from './iods.js';
import { buildPdf } from './pdf.js';
import { ctSlice, mrSlice, usFrames, type CtGeometry, type MrGeometry, type UsGeometry } from './pixels.js';

/** The seed of the published sample set; another seed gives other UIDs and the same pixels. */
export const DEFAULT_SAMPLES_SEED = 'dcmsafe-samples-1';

export interface SamplePatientSummary {
  readonly id: string;
  /** The name as Unicode text; the files hold it encoded in `charset`. */
  readonly name: string;
  readonly charset: SampleCharset;
  readonly birthDate: string;
  readonly sex: string;
  /** Folder of the patient's studies, relative to the output folder, with "/" separators. */
  readonly folder: string;
}

export interface SampleStudySummary {
  readonly patientId: string;
  readonly studyInstanceUID: string;
  readonly studyDate: string;
  readonly description: string;
  readonly folder: string;
}

export interface SampleSeriesSummary {
  readonly studyInstanceUID: string;
  readonly seriesInstanceUID: string;
  readonly seriesNumber: number;
  readonly modality: string;
  readonly description: string;
  /** Number of instances (files) in the series. */
  readonly count: number;
}

export interface SampleFileSummary {
  /** Relative to the output folder, with "/" separators. */
  readonly path: string;
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly seriesInstanceUID: string;
  readonly size: number;
}

export interface SamplesSummary {
  readonly outDir: string;
  readonly seed: string;
  readonly patients: readonly SamplePatientSummary[];
  readonly studies: readonly SampleStudySummary[];
  readonly series: readonly SampleSeriesSummary[];
  readonly files: readonly SampleFileSummary[];
  readonly totalBytes: number;
}

export interface SampleFile {
  readonly path: string;
  readonly bytes: Buffer;
}

/** The whole sample set in memory: what `generateSamples` writes, and its summary. */
export interface SampleSet {
  readonly summary: Omit<SamplesSummary, 'outDir'>;
  readonly files: readonly SampleFile[];
}

// ---- the fixed facts of the sample set ---------------------------------------------------------

const PATIENT_A: Patient = { id: 'SAMPLE-A', name: 'Łukasiewicz^Zoë', charset: 'ISO_IR 192', birthDate: '19780314', sex: 'F' };
const PATIENT_B: Patient = { id: 'SAMPLE-B', name: 'Müller^Jürgen', charset: 'ISO_IR 100', birthDate: '19520907', sex: 'M' };

const CT: CtGeometry = { rows: 128, columns: 128, pixelSpacing: 2, rescaleIntercept: -1024, pixelPaddingValue: -2000 };
const CT_SLICES = 20;
const CT_SLICE_THICKNESS = 5;
const MR: MrGeometry = { rows: 64, columns: 64, pixelSpacing: 3.75, maxValue: 4095 };
const MR_SLICES = 8;
const MR_SLICE_THICKNESS = 5;
const MR_SLICE_SPACING = 6;
const US: UsGeometry = { rows: 48, columns: 64, frames: 10 };
const US_FRAME_TIME = 100; // ms, 10 frames per second

/** HHMMSS plus some seconds, within the day. */
export function addSeconds(time: string, seconds: number): string {
  const t = Number(time.slice(0, 2)) * 3600 + Number(time.slice(2, 4)) * 60 + Number(time.slice(4, 6)) + seconds;
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(Math.floor(t / 3600) % 24)}${two(Math.floor(t / 60) % 60)}${two(t % 60)}`;
}

/** Collects files and their summaries as the studies are built. */
class Collector {
  readonly patients: SamplePatientSummary[] = [];
  readonly studies: SampleStudySummary[] = [];
  readonly series: SampleSeriesSummary[] = [];
  readonly fileSummaries: SampleFileSummary[] = [];
  readonly files: SampleFile[] = [];

  constructor(readonly uids: UidGenerator) {}

  patient(p: Patient, folder: string): void {
    this.patients.push({ id: p.id, name: p.name, charset: p.charset, birthDate: p.birthDate, sex: p.sex, folder });
  }

  study(p: Patient, s: Study, folder: string): void {
    this.studies.push({ patientId: p.id, studyInstanceUID: s.instanceUID, studyDate: s.date, description: s.description, folder });
  }

  addSeries(s: Study, series: Series, count: number): void {
    this.series.push({
      studyInstanceUID: s.instanceUID,
      seriesInstanceUID: series.instanceUID,
      seriesNumber: series.number,
      modality: series.modality,
      description: series.description,
      count,
    });
  }

  file(relativePath: string, ctx: Context, ds: DataSet): void {
    const { sopClassUID, sopInstanceUID } = ctx.instance;
    const bytes = encodePart10({ sopClassUID, sopInstanceUID }, ds);
    this.files.push({ path: relativePath, bytes });
    this.fileSummaries.push({ path: relativePath, sopClassUID, sopInstanceUID, seriesInstanceUID: ctx.series.instanceUID, size: bytes.length });
  }

  instance(sopClassUID: string, number: number, contentDate: string, contentTime: string): Instance {
    return { sopClassUID, sopInstanceUID: this.uids.next(), number, contentDate, contentTime };
  }
}

const fileName = (prefix: string, n: number): string => `${prefix}${String(n).padStart(4, '0')}.dcm`;

// ---- patient A: CT study with an SR report and a PDF report ------------------------------------

function buildPatientA(out: Collector): void {
  const patient = PATIENT_A;
  const folder = 'patient-a/ct';
  const study: Study = {
    instanceUID: out.uids.next(),
    date: '20240315',
    time: '093000',
    id: 'CT1',
    accessionNumber: 'A0001',
    description: 'CT chest abdomen (synthetic)',
    referringPhysicianName: 'Skłodowska^Maria',
    institutionName: 'Szpital Przykładowy',
  };
  out.patient(patient, 'patient-a');
  out.study(patient, study, folder);

  // CT: 20 axial slices, 5 mm apart, from the feet up.
  const ctSeries: Series = { instanceUID: out.uids.next(), number: 1, modality: 'CT', description: 'Axial 5 mm', date: study.date, time: '093100', bodyPartExamined: 'CHESTABDOMEN' };
  const frameOfReferenceUID = out.uids.next();
  const [x0, y0] = [(-(CT.columns - 1) / 2) * CT.pixelSpacing, (-(CT.rows - 1) / 2) * CT.pixelSpacing];
  for (let i = 0; i < CT_SLICES; i++) {
    const z = (i - (CT_SLICES - 1) / 2) * CT_SLICE_THICKNESS;
    const instance = out.instance(SOP_CLASS.CTImageStorage, i + 1, study.date, addSeconds(ctSeries.time, i));
    const ctx: Context = { patient, study, series: ctSeries, instance };
    const ds = ctImageDataSet(ctx, {
      frameOfReferenceUID,
      plane: {
        pixelSpacing: [CT.pixelSpacing, CT.pixelSpacing],
        imageOrientationPatient: [1, 0, 0, 0, 1, 0],
        imagePositionPatient: [x0, y0, z],
        sliceThickness: CT_SLICE_THICKNESS,
        sliceLocation: z,
      },
      pixel: {
        rows: CT.rows,
        columns: CT.columns,
        samplesPerPixel: 1,
        photometricInterpretation: 'MONOCHROME2',
        bitsAllocated: 16,
        bitsStored: 16,
        pixelRepresentation: 1,
        pixelData: ctSlice(CT, i, z),
      },
      rescaleIntercept: CT.rescaleIntercept,
      pixelPaddingValue: CT.pixelPaddingValue,
      creation: { date: study.date, time: '093500' },
    });
    out.file(`${folder}/${fileName('CT', i + 1)}`, ctx, ds);
  }
  out.addSeries(study, ctSeries, CT_SLICES);

  // The report as structured text.
  const srSeries: Series = { instanceUID: out.uids.next(), number: 2, modality: 'SR', description: 'Report', date: study.date, time: '101500' };
  const srInstance = out.instance(SOP_CLASS.BasicTextSRStorage, 1, study.date, '101500');
  const srCtx: Context = { patient, study, series: srSeries, instance: srInstance };
  const sr = basicTextSrDataSet(srCtx, {
    root: {
      kind: 'CONTAINER',
      concept: code('18748-4', 'LN', 'Diagnostic Imaging Report'),
      children: [
        { kind: 'PNAME', relationship: 'HAS OBS CONTEXT', concept: code('121008', 'DCM', 'Person Observer Name'), name: 'Synthetic^Reader' },
        {
          kind: 'CONTAINER',
          relationship: 'CONTAINS',
          concept: code('121070', 'DCM', 'Findings'),
          children: [
            {
              kind: 'TEXT',
              relationship: 'CONTAINS',
              concept: code('121071', 'DCM', 'Finding'),
              text: 'Round lesion of 30 mm (120 HU) in the left trunk, centred at slice location 10 mm.',
            },
          ],
        },
        {
          kind: 'CONTAINER',
          relationship: 'CONTAINS',
          concept: code('121076', 'DCM', 'Conclusions'),
          children: [
            {
              kind: 'TEXT',
              relationship: 'CONTAINS',
              concept: code('121077', 'DCM', 'Conclusion'),
              text: 'Synthetic phantom made by dcmsafe for testing; not a real patient.',
            },
          ],
        },
      ],
    },
    creation: { date: study.date, time: '101500' },
  });
  out.file(`${folder}/${fileName('SR', 1)}`, srCtx, sr);
  out.addSeries(study, srSeries, 1);

  // The same report as a PDF document.
  const docSeries: Series = { instanceUID: out.uids.next(), number: 3, modality: 'DOC', description: 'Report PDF', date: study.date, time: '102000' };
  const docInstance = out.instance(SOP_CLASS.EncapsulatedPDFStorage, 1, study.date, '102000');
  const docCtx: Context = { patient, study, series: docSeries, instance: docInstance };
  const pdf = buildPdf({
    title: 'dcmsafe sample report',
    producer: 'dcmsafe samples',
    creationDate: `${study.date}102000Z`,
    lines: [
      'dcmsafe sample report',
      'Synthetic data for testing. Not a real patient, not a real report.',
      'Study: CT chest abdomen, 20 axial slices of 5 mm.',
      'Findings: round lesion of 30 mm (120 HU) in the left trunk, centred at z = 10 mm.',
      'Conclusion: the phantom is as expected.',
    ],
  });
  const doc = encapsulatedPdfDataSet(docCtx, {
    documentTitle: 'Sample report',
    concept: code('18748-4', 'LN', 'Diagnostic Imaging Report'),
    pdf,
    creation: { date: study.date, time: '102000' },
  });
  out.file(`${folder}/${fileName('DOC', 1)}`, docCtx, doc);
  out.addSeries(study, docSeries, 1);
}

// ---- patient B: MR study and ultrasound study --------------------------------------------------

function buildPatientB(out: Collector): void {
  const patient = PATIENT_B;
  out.patient(patient, 'patient-b');

  const mrStudy: Study = {
    instanceUID: out.uids.next(),
    date: '20240402',
    time: '141500',
    id: 'MR1',
    accessionNumber: 'B0001',
    description: 'MRT Schädel (synthetisch)',
    referringPhysicianName: 'Weiß^Anna',
    institutionName: 'Musterklinik Görlitz',
  };
  out.study(patient, mrStudy, 'patient-b/mr');
  const mrSeries: Series = { instanceUID: out.uids.next(), number: 1, modality: 'MR', description: 'T1 SE axial', date: mrStudy.date, time: '142000', bodyPartExamined: 'HEAD' };
  const frameOfReferenceUID = out.uids.next();
  const [x0, y0] = [(-(MR.columns - 1) / 2) * MR.pixelSpacing, (-(MR.rows - 1) / 2) * MR.pixelSpacing];
  for (let i = 0; i < MR_SLICES; i++) {
    const z = (i - (MR_SLICES - 1) / 2) * MR_SLICE_SPACING;
    const instance = out.instance(SOP_CLASS.MRImageStorage, i + 1, mrStudy.date, addSeconds(mrSeries.time, 10 * i));
    const ctx: Context = { patient, study: mrStudy, series: mrSeries, instance };
    const ds = mrImageDataSet(ctx, {
      frameOfReferenceUID,
      plane: {
        pixelSpacing: [MR.pixelSpacing, MR.pixelSpacing],
        imageOrientationPatient: [1, 0, 0, 0, 1, 0],
        imagePositionPatient: [x0, y0, z],
        sliceThickness: MR_SLICE_THICKNESS,
        spacingBetweenSlices: MR_SLICE_SPACING,
        sliceLocation: z,
      },
      pixel: {
        rows: MR.rows,
        columns: MR.columns,
        samplesPerPixel: 1,
        photometricInterpretation: 'MONOCHROME2',
        bitsAllocated: 16,
        bitsStored: 12,
        pixelRepresentation: 0,
        pixelData: mrSlice(MR, i, z),
      },
      creation: { date: mrStudy.date, time: '143000' },
    });
    out.file(`patient-b/mr/${fileName('MR', i + 1)}`, ctx, ds);
  }
  out.addSeries(mrStudy, mrSeries, MR_SLICES);

  const usStudy: Study = {
    instanceUID: out.uids.next(),
    date: '20240610',
    time: '101500',
    id: 'US1',
    accessionNumber: 'B0002',
    description: 'Echokardiographie (synthetisch)',
    referringPhysicianName: 'Weiß^Anna',
    institutionName: 'Musterklinik Görlitz',
  };
  out.study(patient, usStudy, 'patient-b/us');
  const usSeries: Series = { instanceUID: out.uids.next(), number: 1, modality: 'US', description: 'Colour Doppler loop', date: usStudy.date, time: '101700', bodyPartExamined: 'HEART' };
  const usInstance = out.instance(SOP_CLASS.UltrasoundMultiFrameImageStorage, 1, usStudy.date, '101700');
  const usCtx: Context = { patient, study: usStudy, series: usSeries, instance: usInstance };
  const us = usMultiFrameDataSet(usCtx, {
    pixel: {
      rows: US.rows,
      columns: US.columns,
      samplesPerPixel: 3,
      photometricInterpretation: 'RGB',
      bitsAllocated: 8,
      bitsStored: 8,
      pixelRepresentation: 0,
      pixelData: usFrames(US),
    },
    numberOfFrames: US.frames,
    frameTime: US_FRAME_TIME,
    creation: { date: usStudy.date, time: '101800' },
  });
  out.file(`patient-b/us/${fileName('US', 1)}`, usCtx, us);
  out.addSeries(usStudy, usSeries, 1);
}

/** The whole sample set in memory; the same seed gives the same bytes. */
export function buildSamples(seed: string = DEFAULT_SAMPLES_SEED): SampleSet {
  const out = new Collector(uidGenerator(seededRandom(seed)));
  buildPatientA(out);
  buildPatientB(out);
  return {
    summary: {
      seed,
      patients: out.patients,
      studies: out.studies,
      series: out.series,
      files: out.fileSummaries,
      totalBytes: out.files.reduce((n, f) => n + f.bytes.length, 0),
    },
    files: out.files,
  };
}

/** Creates `outDir` if missing; refuses one that exists and holds anything. */
async function prepareOutput(outDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(outDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await mkdir(outDir, { recursive: true });
      return;
    }
    if (code === 'ENOTDIR') throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${outDir} exists and is not a folder`, { file: outDir });
    throw asDcmsafeError(e, { file: outDir });
  }
  if (entries.length > 0) {
    throw new DcmsafeError('OUTPUT_NOT_EMPTY', `${outDir} is not empty (${entries.length} entries); samples are written only into a new or empty folder`, {
      file: outDir,
    });
  }
}

/** Writes the sample set under `outDir` (one folder per patient and study) and says what it wrote. */
export async function generateSamples(outDir: string, options: { seed?: string } = {}): Promise<SamplesSummary> {
  const set = buildSamples(options.seed ?? DEFAULT_SAMPLES_SEED);
  const root = path.resolve(outDir);
  await prepareOutput(root);
  try {
    for (const file of set.files) {
      const target = path.join(root, ...file.path.split('/'));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, file.bytes, { flag: 'wx' }); // never overwrite
    }
  } catch (e) {
    throw asDcmsafeError(e, { file: root });
  }
  return { outDir: root, ...set.summary };
}
