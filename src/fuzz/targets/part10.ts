/** Fuzz target: the Part 10 reader (preamble, File Meta Information, data set to the end). */
import { readPart10Header } from '../../dicom/part10/header.js';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { buildSamples } from '../../samples/generate.js';
import { dicomFields } from '../dicom-fields.js';
import type { Seed } from '../mutate.js';
import { corpusFiles, type FuzzTarget } from '../target.js';

const FOLDERS = ['charset', 'ct', 'mr', 'cr-dx', 'us', 'nm-pet', 'sr', 'pr', 'rt', 'seg', 'doc', 'other', 'transfer-syntax', 'no-meta', 'malformed'];

export const part10Target: FuzzTarget = {
  name: 'part10',
  description: 'Part 10 file: preamble, File Meta Information, the whole data set (readPart10Header)',
  async seeds(ctx) {
    const ours = buildSamples('fuzz-part10').files.filter((f) => f.bytes.length <= 512 * 1024).slice(0, 6);
    const corpus = await corpusFiles(ctx, FOLDERS, { max: 30, maxBytes: 256 * 1024, suffix: /\.(dcm|DCM)$|^[^.]+$/ });
    const all = [...ours.map((f) => ({ name: `samples:${f.path}`, bytes: f.bytes })), ...corpus];
    return all.map((s): Seed => ({ ...s, fields: dicomFields(s.bytes) }));
  },
  async run(input) {
    // As verify reads a file: the header to the pixel data, then (as import does) the whole data set.
    await readPart10Header(new BufferReader(input, 'fuzz.dcm'));
    await readPart10Header(new BufferReader(input, 'fuzz.dcm'), { stopAtPixelData: false });
  },
};
