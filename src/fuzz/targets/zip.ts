/**
 * Fuzz target: the ZIP reader as verify uses it (openZipSource: the central directory checked by
 * openZip with the default limits, then every entry read to its end through a ZipEntryReader), then
 * each entry read backwards so that the entry reader restarts and finally buffers the entry. One input
 * in four is written to a file in the scratch folder and opened by path (verify DIR.zip); the others are
 * opened as an image in memory (verify --image), a few times faster.
 * Seeds: ZIPs from our writer (stored, deflated, with data descriptors), one of them given ZIP64 end
 * records, and, when installed at seed time, ZIPs from zip(1) (deflated with folder entries, stored,
 * forced ZIP64, streamed from stdin with a data descriptor) and 7z.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { memoryFile } from '../../media/media-file.js';
import { openZipSource } from '../../media/source/images.js';
import { resolveLimits } from '../../media/source/types.js';
import { planZip, type ZipCompression } from '../../media/zip/writer.js';
import { collect, hasTool, readWholeSource, repairedMutations, runTool, syncLinked } from '../media-inputs.js';
import type { Seed } from '../mutate.js';
import type { FuzzTarget } from '../target.js';
import { fixZipTimes, linkedZipFields, withZip64End, zipFields } from '../zip-fields.js';

const NOW = new Date('2024-05-06T07:08:09Z');

function content(name: string, size: number, compressible: boolean): Buffer {
  const b = Buffer.alloc(size);
  let x = name.length * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = compressible ? (i >> 5) & 0xff : x >>> 24;
  }
  return b;
}

async function writerSeeds(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const files = [
    memoryFile(['DICOMDIR'], content('DICOMDIR', 400, true)),
    memoryFile(['DICOM', 'PA000001', 'IM000001'], content('IM1', 1500, true)),
    { ...memoryFile(['DICOM', 'PA000001', 'IM000002'], content('IM2', 300, false)), compressible: false },
    memoryFile(['README.TXT'], Buffer.from('This ZIP holds a DICOM File-set.\r\n')),
    memoryFile(['EMPTY.DAT'], Buffer.alloc(0)),
  ];
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (const compress of ['auto', 'never'] as ZipCompression[]) {
    out.push({ name: `writer:${compress}`, bytes: await collect(planZip(files, { now: NOW, compress })) });
  }
  out.push({ name: 'writer:auto+zip64-end', bytes: withZip64End(out[0]!.bytes) });
  // Entries of several inflate chunks, so that the entry reader's window slides and restarts.
  const large = [memoryFile(['DICOMDIR'], content('DICOMDIR', 100, true)), memoryFile(['LARGE.DAT'], content('large', 48_000, true)), memoryFile(['STORED.DAT'], content('stored', 24_000, false))];
  out.push({ name: 'writer:large-entries', bytes: await collect(planZip(large, { now: NOW })) });
  return out;
}

function toolSeeds(): Array<{ name: string; bytes: Buffer }> {
  const out: Array<{ name: string; bytes: Buffer }> = [];
  const haveZip = hasTool('zip');
  const have7z = hasTool('7z');
  if (!haveZip && !have7z) return out;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dcmsafe-fuzz-zip-'));
  const run = (tool: string, args: string[], input?: Buffer): boolean => runTool(tool, args, dir, {}, input);
  const take = (name: string, file: string): void => {
    try {
      // Fixed times (files, -X, the DOS times of the headers): the same seed bytes on every run.
      out.push({ name, bytes: fixZipTimes(readFileSync(path.join(dir, file))) });
    } catch {
      // the tool made nothing: no seed
    }
  };
  try {
    mkdirSync(path.join(dir, 'set/DICOM/Sub Folder'), { recursive: true });
    writeFileSync(path.join(dir, 'set/DICOMDIR'), content('d', 500, true));
    writeFileSync(path.join(dir, 'set/DICOM/Sub Folder/image.dcm'), content('i', 900, true));
    writeFileSync(path.join(dir, 'set/DICOM/noise.bin'), content('n', 200, false));
    for (const p of ['set/DICOMDIR', 'set/DICOM/Sub Folder/image.dcm', 'set/DICOM/noise.bin', 'set/DICOM/Sub Folder', 'set/DICOM', 'set']) utimesSync(path.join(dir, p), NOW, NOW);
    if (haveZip) {
      if (run('zip', ['-q', '-X', '-r', 'deflated.zip', 'set'])) take('tool:zip-deflated', 'deflated.zip');
      if (run('zip', ['-q', '-X', '-0', '-r', 'stored.zip', 'set'])) take('tool:zip-stored', 'stored.zip');
      if (run('zip', ['-q', '-X', '-fz', '-r', 'zip64.zip', 'set'])) take('tool:zip-zip64', 'zip64.zip');
      if (run('zip', ['-q', '-X', 'stdin.zip', '-'], content('s', 700, true))) take('tool:zip-stdin-descriptor', 'stdin.zip');
    }
    if (have7z && run('7z', ['a', '-tzip', '-bd', 'seven.zip', 'set'])) take('tool:7z', 'seven.zip');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export const zipTarget: FuzzTarget = {
  name: 'zip',
  description: 'ZIP file as verify reads it: central directory with the limits, every entry inflated and checked (openZipSource)',
  async seeds() {
    return [...(await writerSeeds()), ...toolSeeds()].map((s): Seed => ({ ...s, fields: zipFields(s.bytes) }));
  },
  arbitrary(seeds) {
    const links = new Map(seeds.map((s) => [s, linkedZipFields(s.bytes)]));
    return repairedMutations(seeds, 'local headers made to agree with the central directory', (bytes, seed) => syncLinked(bytes, seed, links.get(seed) ?? []));
  },
  async run(input, ctx) {
    // A small window and few restarts, so that the backward reads below exercise the entry reader's
    // restart and whole-entry buffering (verify's defaults are 4 MiB, 3 and 256 MiB).
    const options = { window: 4096, maxRestarts: 2, maxBuffered: 1 << 20 };
    // One input in four as a ZIP file (verify DIR.zip: yauzl over our file reader), the others as an image
    // in memory (verify --image: yauzl over a RandomAccessReader), which is about three times faster:
    // the checks of openZip and the entry reader are the same code on both ways. Chosen by the input's
    // CRC-32, so an input always goes the same way.
    let source;
    if ((zlib.crc32(input) & 3) === 0) {
      const file = path.join(ctx.scratch, 'fuzz.zip');
      await writeFile(file, input);
      source = await openZipSource(file, resolveLimits(), options);
    } else {
      source = await openZipSource('fuzz.zip', resolveLimits(), options, new BufferReader(input, 'fuzz.zip'));
    }
    // Forward to the end, then back and forth: restart, restart, buffer whole, and a read from the buffer.
    await readWholeSource(source, async (reader) => {
      if (reader.size > 0) for (const at of [0, reader.size >> 1, 0, reader.size >> 1, 0, reader.size - 1]) await reader.read(at, Math.min(1000, reader.size - at));
    });
  },
};
