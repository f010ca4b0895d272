/**
 * Fuzz target: the ISO 9660 reader as verify uses it (openImageSource('iso9660') over the image: volume
 * descriptors, the whole directory tree, every file's bytes), then the conformance check (checkIso9660:
 * path tables, record order, overlaps), the only reader of the path tables. Seeds: small images from our writer, one
 * Level 3 image with a multi-extent file built with our encoders, and, when installed at seed time,
 * xorriso and genisoimage images with Joliet and Rock Ridge.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BufferReader } from '../../media/io/random-access-reader.js';
import { checkIso9660 } from '../../media/iso9660/check.js';
import { planIso9660 } from '../../media/iso9660/writer.js';
import { memoryFile, type MediaFile } from '../../media/media-file.js';
import { openImageSource } from '../../media/source/images.js';
import { resolveLimits } from '../../media/source/types.js';
import { bothEndianPairs, iso9660Fields } from '../iso9660-fields.js';
import { multiExtentImage } from '../iso9660-multi-extent.js';
import { collect, hasTool, readWholeSource, repairedMutations, runTool, syncLinked } from '../media-inputs.js';
import type { Seed } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

const T0 = new Date('2024-05-06T07:08:09Z');
const B = 2048;

function content(name: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + name.length * 7 + name.charCodeAt(i % name.length)) & 0xff;
  return b;
}

function file(p: string, size: number): MediaFile {
  return memoryFile(p.split('/'), content(p, size));
}

/** Our writer's images: a flat one, a nested one (8 levels), one whose directory spans several sectors. */
async function writerSeeds(): Promise<Array<{ name: string; bytes: Buffer }>> {
  const sets: Record<string, MediaFile[]> = {
    flat: [file('DICOMDIR', 600), file('README.TXT', 40), file('EMPTY.DAT', 0), file('TWO.BIN', 2049)],
    nested: [
      file('DICOMDIR', 300),
      file('DICOM/PA000001/ST000001/SE000001/IM000001', 100),
      file('DICOM/PA000001/ST000001/SE000001/IM000002', 0),
      file('DICOM/PA000001/ST000002/SE000001/IM000001', 2048),
      file('DICOM/PA000002/ST000001/SE000001/IM000001', 10),
      file('A/B/C/D/E/F/G/LEAF.TXT', 5),
    ],
    wide: Array.from({ length: 60 }, (_, i) => file(`DIR/F${String(i).padStart(6, '0')}.DAT`, i % 3 === 0 ? 0 : 16 + i)),
  };
  const out: Array<{ name: string; bytes: Buffer }> = [];
  for (const [name, files] of Object.entries(sets)) {
    out.push({ name: `writer:${name}`, bytes: await collect(planIso9660(files, { volumeIdentifier: 'DCMSAFE_FUZZ', recordingTime: T0 })) });
  }
  return out;
}


/** The volume dates (§8.4.26) of every primary and supplementary descriptor set to T0 (genisoimage ignores SOURCE_DATE_EPOCH). */
function fixVolumeDates(image: Buffer): Buffer {
  for (let d = 16 * B; d + B <= image.length && image.toString('latin1', d + 1, d + 6) === 'CD001' && image[d] !== 255; d += B) {
    if (image[d] !== 1 && image[d] !== 2) continue;
    for (const at of [813, 830, 864]) {
      image.write('2024050607080900', d + at, 'latin1');
      image[d + at + 16] = 0;
    }
  }
  return image;
}

/** xorriso and genisoimage images (Joliet, Rock Ridge, lower-case and long names), when installed. */
function toolSeeds(): Array<{ name: string; bytes: Buffer }> {
  const tools: Array<[string, string[]]> = [
    ['xorriso', ['-as', 'mkisofs', '-no-pad', '-J', '-R', '-V', 'FUZZ', '-o', 'out.iso', 'tree']],
    ['genisoimage', ['-quiet', '-no-pad', '-J', '-o', 'out.iso', 'tree']],
  ];
  const out: Array<{ name: string; bytes: Buffer }> = [];
  const available = tools.filter(([tool]) => hasTool(tool));
  if (available.length === 0) return out;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dcmsafe-fuzz-iso-'));
  try {
    mkdirSync(path.join(dir, 'tree/Sub Dir/deeper'), { recursive: true });
    writeFileSync(path.join(dir, 'tree/README.TXT'), 'hello\n');
    writeFileSync(path.join(dir, 'tree/Sub Dir/a long file name.dcm'), content('long', 3000));
    writeFileSync(path.join(dir, 'tree/Sub Dir/deeper/x'), content('x', 10));
    writeFileSync(path.join(dir, 'tree/empty'), '');
    // Fixed times, so that a seed (and every input made from it) is the same bytes on every run.
    for (const p of ['tree/Sub Dir/deeper/x', 'tree/Sub Dir/deeper', 'tree/Sub Dir/a long file name.dcm', 'tree/Sub Dir', 'tree/README.TXT', 'tree/empty', 'tree']) utimesSync(path.join(dir, p), T0, T0);
    for (const [tool, args] of available) {
      rmSync(path.join(dir, 'out.iso'), { force: true });
      if (runTool(tool, args, dir, { SOURCE_DATE_EPOCH: String(T0.getTime() / 1000) })) {
        out.push({ name: `tool:${tool}`, bytes: fixVolumeDates(readFileSync(path.join(dir, 'out.iso'))) });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export const iso9660Target: FuzzTarget = {
  name: 'iso9660',
  description: 'ISO 9660 image as verify reads it (volume descriptors, the whole tree, every file: openImageSource), then checkIso9660 (path tables)',
  async seeds() {
    const all = [...(await writerSeeds()), { name: 'hand:multi-extent', bytes: multiExtentImage().image }, ...toolSeeds()];
    return all.map((s): Seed => ({ ...s, fields: iso9660Fields(s.bytes) }));
  },
  arbitrary(seeds) {
    const pairs = new Map(seeds.map((s) => [s, bothEndianPairs(s)]));
    return repairedMutations(seeds, 'both-endian halves made to agree', (bytes, seed) => syncLinked(bytes, seed, pairs.get(seed) ?? []));
  },
  async run(input) {
    const source = await openImageSource('iso9660', 'fuzz.iso', new BufferReader(input, 'fuzz.iso'), resolveLimits());
    await readWholeSource(source);
    // The conformance check reads what verify does not (the path tables, record order, overlaps).
    await checkIso9660(new BufferReader(input, 'fuzz.iso'));
  },
};
