/**
 * A 200 MB instance goes through the coercing rewrite with a small memory delta: the pixel data is
 * streamed, never held (src/dicom/reconcile/rewrite.ts). Both sources are tried: a file, and a
 * read stream seen only as an async iterator (the shape of decrypted content).
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ReaderByteSource, type ByteSource } from '../../../src/dicom/part10/byte-source.js';
import { readPart10File } from '../../../src/dicom/part10/header.js';
import { buildDataSet, elementHeaderBytes, encodeDataSet, encodeFileMeta } from '../../../src/dicom/part10/writer.js';
import { T } from '../../../src/dicom/tags.js';
import { coerceDataSet, IterableByteSource, openRewrite } from '../../../src/dicom/reconcile/index.js';
import { FileReader, readChunks } from '../../../src/media/io/random-access-reader.js';
import { tempDir } from '../../helpers/env.js';

const PIXEL_BYTES = 200 * 1024 * 1024;
const BLOCK = 4 * 1024 * 1024;
const SOP = '1.2.826.0.1.3680043.8.498.77';
const SC = '1.2.840.10008.5.1.4.1.1.7.3'; // Multi-frame Grayscale Word SC

/** Writes a 200 MB Explicit VR Little Endian instance; returns the SHA-256 of its pixel data. */
function writeLargeInstance(file: string): string {
  const frames = PIXEL_BYTES / (1024 * 1024 * 2);
  const ds = buildDataSet([
    [T.SOPClassUID, 'UI', SC],
    [T.SOPInstanceUID, 'UI', SOP],
    [T.StudyInstanceUID, 'UI', `${SOP}.1`],
    [T.SeriesInstanceUID, 'UI', `${SOP}.2`],
    [T.Modality, 'CS', 'OT'],
    [T.PatientName, 'PN', 'Big^File'],
    [T.PatientID, 'LO', 'BIG1'],
    [T.SamplesPerPixel, 'US', 1],
    [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
    [T.NumberOfFrames, 'IS', frames],
    [T.Rows, 'US', 1024],
    [T.Columns, 'US', 1024],
    [T.BitsAllocated, 'US', 16],
    [T.BitsStored, 'US', 16],
    [T.HighBit, 'US', 15],
    [T.PixelRepresentation, 'US', 0],
  ]);
  const fd = openSync(file, 'w');
  const hash = createHash('sha256');
  try {
    writeSync(fd, encodeFileMeta({ sopClassUID: SC, sopInstanceUID: SOP, transferSyntaxUID: '1.2.840.10008.1.2.1' }));
    writeSync(fd, encodeDataSet(ds));
    writeSync(fd, elementHeaderBytes(T.PixelData, 'OW', PIXEL_BYTES));
    const block = Buffer.alloc(BLOCK);
    for (let written = 0, n = 0; written < PIXEL_BYTES; written += BLOCK, n++) {
      for (let i = 0; i < BLOCK; i += 4) block.writeUInt32LE((n * BLOCK + i) ^ 0x5a5a5a5a, i);
      hash.update(block);
      writeSync(fd, block);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Rewrites with coercion into `out`, sampling memory; returns the largest growth seen. */
async function rewriteMeasured(source: ByteSource, out: string): Promise<number> {
  const base = memory();
  let peak = 0;
  const r = await openRewrite(source, {
    name: 'large',
    transform: (ds) => coerceDataSet(ds, { patientId: 'LOC-BIG', issuerOfPatientId: 'LOCAL_HOSP' }, { modifyingSystem: 'dcmsafe 0.1.0', now: new Date(0) }).dataSet,
  });
  const sink = createWriteStream(out);
  let n = 0;
  for await (const chunk of r.part10()) {
    if (!sink.write(chunk)) await once(sink, 'drain');
    if (++n % 16 === 0) peak = Math.max(peak, memory() - base);
  }
  sink.end();
  await once(sink, 'finish');
  return peak;
}

async function pixelHash(file: string): Promise<string> {
  const h = await readPart10File(file);
  expect(h.dataSet.text(T.PatientID)).toBe('LOC-BIG');
  const px = h.pixelData;
  expect(px?.length).toBe(PIXEL_BYTES);
  const reader = await FileReader.open(file);
  try {
    const hash = createHash('sha256');
    for await (const c of readChunks(reader, px?.valueOffset ?? 0, PIXEL_BYTES)) hash.update(c);
    return hash.digest('hex');
  } finally {
    await reader.close();
  }
}

describe('streamed rewrite of a 200 MB instance', () => {
  const dir = tempDir('dcmsafe-reconcile-');
  const input = path.join(dir, 'large.dcm');
  let expected = '';

  it('streams from a file with a small memory delta', async () => {
    expected = writeLargeInstance(input);
    const reader = await FileReader.open(input);
    const out = path.join(dir, 'from-file.dcm');
    let peak: number;
    try {
      peak = await rewriteMeasured(new ReaderByteSource(reader), out);
    } finally {
      await reader.close();
    }
    console.log(`200 MB rewrite from a file: memory grew by at most ${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(peak).toBeLessThan(64 * 2 ** 20);
    expect(await pixelHash(out)).toBe(expected);
  });

  it('streams from an async iterator with a small memory delta', async () => {
    const out = path.join(dir, 'from-stream.dcm');
    const stream = createReadStream(input, { highWaterMark: 1 << 20 });
    const peak = await rewriteMeasured(new IterableByteSource(stream, 'large (stream)'), out);
    console.log(`200 MB rewrite from a stream: memory grew by at most ${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(peak).toBeLessThan(64 * 2 ** 20);
    expect(await pixelHash(out)).toBe(expected);
  });
});
