// Generated inputs for the bench: a realistic CT study set (single-frame slices plus a few large
// multi-frame XA instances), one large sparse instance, and header-only instances for the DICOMDIR
// scale case. Files are written with dcmsafe's own Part 10 writer (Explicit VR Little Endian), under
// PS3.10 File IDs (upper case, at most 8 characters per component) so dcmmkdir accepts them as they are.
import { randomUUID } from 'node:crypto';
import { closeSync, ftruncateSync, linkSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { buildDataSet, encodePart10 } from '../../dist/dicom/part10/writer.js';
import { T } from '../../dist/dicom/tags.js';

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const XA_IMAGE = '1.2.840.10008.5.1.4.1.1.12.1';
const SLICE = 512;
const SLICE_BYTES = SLICE * SLICE * 2; // 512x512, 16 bits: 0.5 MiB of pixel data per slice

// Tags the writer's table does not name.
const TAG = {
  FrameIncrementPointer: 0x00280009,
  SliceThickness: 0x00180050,
  KVP: 0x00180060,
  BodyPartExamined: 0x00180015,
  PositionReferenceIndicator: 0x00201040,
  SliceLocation: 0x00201041,
  WindowCenter: 0x00281050,
  WindowWidth: 0x00281051,
  RescaleIntercept: 0x00281052,
  RescaleSlope: 0x00281053,
  FrameTime: 0x00181063,
};

/** Fresh UIDs each run (2.25 from a UUID), so nothing downstream can lean on a cache of the last run. */
function freshUid() {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`)}`;
}

/**
 * A pool of seeded pseudo-random 12-bit CT values (xorshift32): fast, reproducible, and not
 * compressible or sparse, so the reference tools really read and encrypt every byte. Each file takes
 * a window at its own offset, so no two files are equal.
 */
function noisePool(bytes, seed = 0x9e3779b9) {
  const words = new Uint16Array(bytes / 2);
  let x = seed >>> 0;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x & 0x0fff;
  }
  return Buffer.from(words.buffer);
}

const POOL_BYTES = 16 << 20;
let pool;
function pixels(bytes, index) {
  pool ??= noisePool(POOL_BYTES);
  const out = Buffer.allocUnsafe(bytes);
  let at = ((index * 7919) % (POOL_BYTES / 4)) * 2; // even offset: 16-bit samples stay aligned
  for (let done = 0; done < bytes; ) {
    const n = Math.min(bytes - done, POOL_BYTES - at);
    pool.copy(out, done, at, at + n);
    done += n;
    at = 0;
  }
  return out;
}

function patientStudy(study) {
  return [
    [T.SpecificCharacterSet, 'CS', 'ISO_IR 100'],
    [T.PatientName, 'PN', 'BENCH^CHEST'],
    [T.PatientID, 'LO', 'BENCH-0001'],
    [T.PatientBirthDate, 'DA', '19600101'],
    [T.PatientSex, 'CS', 'O'],
    [T.StudyInstanceUID, 'UI', study.uid],
    [T.StudyDate, 'DA', '20250101'],
    [T.StudyTime, 'TM', '120000'],
    [T.StudyID, 'SH', study.id],
    [T.AccessionNumber, 'SH', `ACC${study.id}`],
    [T.ReferringPhysicianName, 'PN', 'REFERRER^A'],
    [T.StudyDescription, 'LO', study.description],
    [T.Manufacturer, 'LO', 'DCMSAFE BENCH'],
    [T.InstitutionName, 'LO', 'BENCH HOSPITAL'],
  ];
}

/** One CT slice: patient, study, series, frame of reference, plane, spacing, rescale and window. */
function ctSlice(study, series, n) {
  const sop = freshUid();
  const z = -200 + n * 1.25;
  const ds = buildDataSet([
    ...patientStudy(study),
    [T.ImageType, 'CS', ['ORIGINAL', 'PRIMARY', 'AXIAL']],
    [T.SOPClassUID, 'UI', CT_IMAGE],
    [T.SOPInstanceUID, 'UI', sop],
    [T.SeriesDate, 'DA', '20250101'],
    [T.ContentDate, 'DA', '20250101'],
    [T.ContentTime, 'TM', '120100'],
    [T.Modality, 'CS', 'CT'],
    [T.SeriesDescription, 'LO', series.description],
    [TAG.BodyPartExamined, 'CS', 'CHEST'],
    [TAG.SliceThickness, 'DS', '1.25'],
    [TAG.KVP, 'DS', '120'],
    [T.SeriesInstanceUID, 'UI', series.uid],
    [T.SeriesNumber, 'IS', series.number],
    [T.InstanceNumber, 'IS', n],
    [T.ImagePositionPatient, 'DS', ['-250', '-250', z.toFixed(2)]],
    [T.ImageOrientationPatient, 'DS', ['1', '0', '0', '0', '1', '0']],
    [T.FrameOfReferenceUID, 'UI', study.frameOfReference],
    [TAG.PositionReferenceIndicator, 'LO', ''],
    [TAG.SliceLocation, 'DS', z.toFixed(2)],
    [T.SamplesPerPixel, 'US', 1],
    [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    [T.Rows, 'US', SLICE],
    [T.Columns, 'US', SLICE],
    [T.PixelSpacing, 'DS', ['0.976562', '0.976562']],
    [T.BitsAllocated, 'US', 16],
    [T.BitsStored, 'US', 12],
    [T.HighBit, 'US', 11],
    [T.PixelRepresentation, 'US', 0],
    [TAG.WindowCenter, 'DS', '40'],
    [TAG.WindowWidth, 'DS', '400'],
    [TAG.RescaleIntercept, 'DS', '-1024'],
    [TAG.RescaleSlope, 'DS', '1'],
    [T.PixelData, 'OW', pixels(SLICE_BYTES, series.number * 100000 + n)],
  ]);
  return encodePart10({ sopClassUID: CT_IMAGE, sopInstanceUID: sop }, ds);
}

/** One multi-frame XA run of `frames` 512x512 16-bit frames. */
function xaRun(study, series, frames) {
  const sop = freshUid();
  const ds = buildDataSet([
    ...patientStudy(study),
    [T.ImageType, 'CS', ['ORIGINAL', 'PRIMARY', 'SINGLE PLANE']],
    [T.SOPClassUID, 'UI', XA_IMAGE],
    [T.SOPInstanceUID, 'UI', sop],
    [T.ContentDate, 'DA', '20250101'],
    [T.ContentTime, 'TM', '121000'],
    [T.Modality, 'CS', 'XA'],
    [T.SeriesDescription, 'LO', series.description],
    [TAG.KVP, 'DS', '80'],
    [TAG.FrameTime, 'DS', '66.7'],
    [T.SeriesInstanceUID, 'UI', series.uid],
    [T.SeriesNumber, 'IS', series.number],
    [T.InstanceNumber, 'IS', 1],
    [T.SamplesPerPixel, 'US', 1],
    [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    [T.NumberOfFrames, 'IS', frames],
    [TAG.FrameIncrementPointer, 'AT', Buffer.from([0x18, 0x00, 0x63, 0x10])], // (0018,1063) Frame Time
    [T.Rows, 'US', SLICE],
    [T.Columns, 'US', SLICE],
    [T.BitsAllocated, 'US', 16],
    [T.BitsStored, 'US', 12],
    [T.HighBit, 'US', 11],
    [T.PixelRepresentation, 'US', 0],
    [TAG.WindowCenter, 'DS', '2048'],
    [TAG.WindowWidth, 'DS', '4096'],
    [T.PixelData, 'OW', pixels(frames * SLICE_BYTES, series.number * 100000)],
  ]);
  return encodePart10({ sopClassUID: XA_IMAGE, sopInstanceUID: sop }, ds);
}

/**
 * The study set of about `size` bytes under `dir`: 80% CT slices in 4 series (DIR/S001/I00001...),
 * 20% in 3 multi-frame XA instances (DIR/S101/I00001...), at most `maxMultiFrame` bytes each.
 * Returns { files, bytes } of what was written.
 */
export function writeStudySet(dir, size, maxMultiFrame) {
  const ct = { uid: freshUid(), id: '1', description: 'CT CHEST', frameOfReference: freshUid() };
  const xa = { uid: freshUid(), id: '2', description: 'XA CORONARY' };
  let files = 0;
  let bytes = 0;
  const put = (file, buf) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, buf);
    files++;
    bytes += buf.length;
  };
  const frames = Math.max(1, Math.min(Math.floor(maxMultiFrame / SLICE_BYTES), Math.round((size * 0.2) / 3 / SLICE_BYTES)));
  for (let k = 1; k <= 3; k++) {
    const series = { uid: freshUid(), number: 100 + k, description: `RUN ${k}` };
    put(path.join(dir, `S${100 + k}`, 'I00001'), xaRun(xa, series, frames));
  }
  const slices = Math.max(4, Math.round((size - bytes) / (SLICE_BYTES + 1500)));
  const seriesCount = 4;
  for (let s = 1; s <= seriesCount; s++) {
    const series = { uid: freshUid(), number: s, description: `AXIAL ${s}` };
    const count = Math.floor(slices / seriesCount) + (s <= slices % seriesCount ? 1 : 0);
    for (let n = 1; n <= count; n++) put(path.join(dir, `S${String(s).padStart(3, '0')}`, `I${String(n).padStart(5, '0')}`), ctSlice(ct, series, n));
  }
  return { files, bytes, slices, multiFrame: 3, framesPerMultiFrame: frames };
}

/** One instance with `pixels` bytes of pixel data, sparse (the memory case measures dcmsafe, not the disk). */
export function writeLargeInstance(file, pixelBytes) {
  const study = { uid: freshUid(), id: '9', description: 'LARGE' };
  const sop = freshUid();
  const header = encodePart10(
    { sopClassUID: CT_IMAGE, sopInstanceUID: sop },
    buildDataSet([
      ...patientStudy(study),
      [T.SOPClassUID, 'UI', CT_IMAGE],
      [T.SOPInstanceUID, 'UI', sop],
      [T.Modality, 'CS', 'CT'],
      [T.SeriesInstanceUID, 'UI', freshUid()],
      [T.SeriesNumber, 'IS', 1],
      [T.InstanceNumber, 'IS', 1],
    ]),
  );
  const el = Buffer.alloc(12);
  el.writeUInt16LE(0x7fe0, 0);
  el.writeUInt16LE(0x0010, 2);
  el.write('OB', 4, 'latin1');
  el.writeUInt32LE(pixelBytes, 8);
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'w');
  writeSync(fd, Buffer.concat([header, el]));
  ftruncateSync(fd, header.length + el.length + pixelBytes);
  closeSync(fd);
  return header.length + el.length + pixelBytes;
}

/**
 * `count` header-only CT instances (a 2x2 image, so dcmmkdir takes them as images) of one study,
 * 100 per series, as DIR/S0001/I00001... Returns the files in order, for the subsets of smaller N.
 */
export function writeHeaderOnlySet(dir, count) {
  const study = { uid: freshUid(), id: '7', description: 'SCALE', frameOfReference: freshUid() };
  const files = [];
  let series;
  for (let i = 0; i < count; i++) {
    const s = Math.floor(i / 100) + 1;
    if (i % 100 === 0) {
      series = { uid: freshUid(), number: s, description: `SERIES ${s}` };
      mkdirSync(path.join(dir, `S${String(s).padStart(4, '0')}`), { recursive: true });
    }
    const sop = freshUid();
    const ds = buildDataSet([
      ...patientStudy(study),
      [T.SOPClassUID, 'UI', CT_IMAGE],
      [T.SOPInstanceUID, 'UI', sop],
      [T.Modality, 'CS', 'CT'],
      [T.SeriesInstanceUID, 'UI', series.uid],
      [T.SeriesNumber, 'IS', s],
      [T.InstanceNumber, 'IS', (i % 100) + 1],
      [T.FrameOfReferenceUID, 'UI', study.frameOfReference],
      [T.SamplesPerPixel, 'US', 1],
      [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
      [T.Rows, 'US', 2],
      [T.Columns, 'US', 2],
      [T.BitsAllocated, 'US', 16],
      [T.BitsStored, 'US', 12],
      [T.HighBit, 'US', 11],
      [T.PixelRepresentation, 'US', 0],
      [T.PixelData, 'OW', Buffer.alloc(8, 1)],
    ]);
    const file = path.join(dir, `S${String(s).padStart(4, '0')}`, `I${String((i % 100) + 1).padStart(5, '0')}`);
    writeFileSync(file, encodePart10({ sopClassUID: CT_IMAGE, sopInstanceUID: sop }, ds));
    files.push(path.relative(dir, file));
  }
  return files;
}

/** A tree of hard links to the first `count` of `files` (a smaller N of the same set, at no disk cost). */
export function linkSubset(from, files, count, to) {
  for (const rel of files.slice(0, count)) {
    mkdirSync(path.join(to, path.dirname(rel)), { recursive: true });
    linkSync(path.join(from, rel), path.join(to, rel));
  }
}
