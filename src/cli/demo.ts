/**
 * `dcmsafe demo` (and `npm start`): the built-in samples, a File-set built from them, and where both
 * are. It grows as capabilities land. The demo folder is replaced on each run, but only if it holds
 * our marker file, so it never deletes someone else's folder.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DcmsafeError } from '../errors/index.js';
import { createMedia } from '../pipelines/create-media.js';
import { generateSamples } from '../samples/generate.js';
import { checkOutputFolder } from '../media/folder/write-folder.js';
import { formatCreateSummary, formatSamplesSummary } from './format.js';

const MARKER = '.dcmsafe-demo';

export async function runDemo(dir: string): Promise<string> {
  const root = path.resolve(dir);
  if (await stat(path.join(root, MARKER)).catch(() => undefined)) {
    await rm(root, { recursive: true, force: true });
  } else {
    await checkOutputFolder(root).catch((e: unknown) => {
      throw e instanceof DcmsafeError ? new DcmsafeError('OUTPUT_NOT_EMPTY', `${root} exists and is not a dcmsafe demo folder; choose another with --out`, { file: root }) : e;
    });
  }
  await mkdir(root, { recursive: true });
  await writeFile(path.join(root, MARKER), 'dcmsafe demo output; safe to delete\n');
  const samplesDir = path.join(root, 'samples');
  const filesetDir = path.join(root, 'fileset');
  const samples = await generateSamples(samplesDir);
  const summary = await createMedia({ inputs: [samplesDir], media: 'folder', out: filesetDir });
  return [
    'dcmsafe demo',
    '',
    formatSamplesSummary(samples, samplesDir),
    '',
    formatCreateSummary(summary),
    '',
    `Look inside: ${filesetDir}/DICOMDIR (dcmdump ${path.relative(process.cwd(), filesetDir)}/DICOMDIR), or open the folder in a DICOM viewer.`,
  ].join('\n');
}
