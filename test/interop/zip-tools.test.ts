/**
 * ZIP File Media (PS3.12 Annex V) against Info-ZIP unzip/zip and 7-Zip: our ZIP of a File-set tree
 * tests clean and extracts byte-identical with both tools, with Stored/Deflated as decided; our
 * reader reads ZIPs written by `zip -r` and `7z a -tzip` exactly as the tools extract them; a ZIP
 * with more than 65535 entries (ZIP64 end records) tests clean with both tools.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { memoryFile } from '../../src/media/media-file.js';
import { openZip, planZip, type ZipMediaFile } from '../../src/media/zip/index.js';
import { describeWithTools, hasTool, run, tempDir } from '../helpers/env.js';
import { EXPLICIT_LE, JPEG_BASELINE, part10, readAll, secureFile, signal, writeTo } from '../media/zip/helpers.js';

const NOW = new Date('2024-05-06T07:08:10Z');
const SERIES = ['DICOM', 'PA000001', 'ST000001', 'SE000001'];

interface TreeFile {
  path: string[];
  bytes: Buffer;
  compressible?: boolean;
  /** What `unzip -v` should show. */
  stored: boolean;
}

function tree(): TreeFile[] {
  return [
    { path: ['DICOMDIR'], bytes: part10(EXPLICIT_LE, signal(8_000, 1), '1.2.3.1'), stored: false },
    { path: ['README.TXT'], bytes: Buffer.from('DICOM File-set written by dcmsafe.\r\n'.repeat(30)), stored: false },
    { path: ['INDEX.HTM'], bytes: Buffer.from('<html><body><p>DICOM images</p></body></html>\r\n'.repeat(20)), stored: false },
    { path: [...SERIES, 'IM000001'], bytes: part10(EXPLICIT_LE, signal(300_000, 2)), stored: false },
    { path: [...SERIES, 'IM000002'], bytes: part10(JPEG_BASELINE, signal(200_000, 3)), stored: true }, // sniffed
    { path: [...SERIES, 'IM000003'], bytes: secureFile(150_000), stored: true }, // sniffed
    { path: [...SERIES, 'IM000004'], bytes: part10(EXPLICIT_LE, signal(100_000, 4)), compressible: false, stored: true }, // hint
    { path: ['DICOM', 'PA000001', 'ST000001', 'SE000002', 'IM000001'], bytes: part10(EXPLICIT_LE, signal(2_000_000, 5)), stored: false },
    { path: ['DICOM', 'PA000002', 'ST000001', 'SE000001', 'IM000001'], bytes: signal(1_000, 6), compressible: false, stored: true },
  ];
}

function mediaFiles(files: TreeFile[]): ZipMediaFile[] {
  return files.map((f) => ({ ...memoryFile(f.path, f.bytes), ...(f.compressible === undefined ? {} : { compressible: f.compressible }) }));
}

/** Every file under `root`: relative "/" path → bytes (folders only as the paths of their files). */
function readTree(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string): void => {
    for (const name of readdirSync(path.join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(root, r)).isDirectory()) walk(r);
      else out.set(r, readFileSync(path.join(root, r)));
    }
  };
  walk('');
  return out;
}

function writeTree(root: string, files: TreeFile[]): void {
  for (const f of files) {
    mkdirSync(path.join(root, ...f.path.slice(0, -1)), { recursive: true });
    writeFileSync(path.join(root, ...f.path), f.bytes);
  }
}

function expectSameTree(actual: Map<string, Buffer>, expected: Map<string, Buffer>, label: string): void {
  expect([...actual.keys()].sort(), label).toEqual([...expected.keys()].sort());
  for (const [name, bytes] of expected) expect(actual.get(name)?.equals(bytes), `${label}: ${name}`).toBe(true);
}

function ok(r: ReturnType<typeof run>, label: string): string {
  expect(r.status, `${label}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

describeWithTools(['unzip', '7z'], 'ZIP media against unzip and 7-Zip', () => {
  const dir = tempDir('dcmsafe-zip-tools-');
  const files = tree();
  const expected = new Map(files.map((f) => [f.path.join('/'), f.bytes]));
  const ours = path.join(dir, 'ours.zip');

  it('our ZIP of a File-set tree passes unzip -t and 7z t', async () => {
    await writeTo(ours, planZip(mediaFiles(files), { now: NOW }).emit());
    expect(ok(run('unzip', ['-t', ours]), 'unzip -t')).toMatch(/No errors detected/);
    expect(ok(run('7z', ['t', ours]), '7z t')).toMatch(/Everything is Ok/);
  });

  it('unzip -d and 7z x extract trees byte-identical to the input', () => {
    const byUnzip = path.join(dir, 'by-unzip');
    const by7z = path.join(dir, 'by-7z');
    ok(run('unzip', ['-q', ours, '-d', byUnzip]), 'unzip -d');
    ok(run('7z', ['x', '-y', `-o${by7z}`, ours]), '7z x');
    expectSameTree(readTree(byUnzip), expected, 'unzip');
    expectSameTree(readTree(by7z), expected, '7z');
  });

  it('unzip -v shows Stored for the incompressible entries and Defl for the others, DICOMDIR first', () => {
    const listing = ok(run('unzip', ['-v', ours]), 'unzip -v');
    const rows = [...listing.matchAll(/^\s*(\d+)\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+\S+\s+[0-9a-f]{8}\s+(.+)$/gm)].map((m) => ({ method: m[2] ?? '', name: (m[4] ?? '').trim() }));
    expect(rows.map((r) => r.name)).toEqual(['DICOMDIR', ...files.filter((f) => f.path[0] !== 'DICOMDIR').map((f) => f.path.join('/'))]);
    for (const f of files) {
      const row = rows.find((r) => r.name === f.path.join('/'));
      if (f.stored) expect(row?.method, row?.name).toBe('Stored');
      else expect(row?.method, row?.name).toMatch(/^Defl/);
    }
  });

  it('our reader reads a ZIP written by 7z a -tzip as 7z x extracts it', async () => {
    const src = path.join(dir, 'src-7z');
    writeTree(src, files);
    const zip = path.join(dir, 'seven.zip');
    ok(run('7z', ['a', '-tzip', zip, '.'], { cwd: src }), '7z a');
    const out = path.join(dir, 'seven-x');
    ok(run('7z', ['x', '-y', `-o${out}`, zip]), '7z x');
    const volume = await openZip(zip);
    try {
      expect(volume.entries.some((e) => e.isDirectory)).toBe(true); // 7-Zip writes folder entries
      const read = await readAll(volume);
      expectSameTree(read, readTree(out), 'our reader vs 7z x');
      expectSameTree(read, expected, 'our reader vs input');
    } finally {
      await volume.close();
    }
  });

  it('our reader reads a ZIP written by zip -r as unzip extracts it (skipped without Info-ZIP zip)', async (ctx) => {
    if (!hasTool('zip')) {
      console.warn('!!! SKIPPED: Info-ZIP "zip" is not installed; the zip -r case needs it');
      ctx.skip();
      return;
    }
    const src = path.join(dir, 'src-zip');
    writeTree(src, files);
    const zip = path.join(dir, 'infozip.zip');
    ok(run('zip', ['-r', '-q', '-X', zip, '.'], { cwd: src }), 'zip -r');
    const out = path.join(dir, 'infozip-x');
    ok(run('unzip', ['-q', zip, '-d', out]), 'unzip -d');
    const volume = await openZip(zip);
    try {
      const read = await readAll(volume);
      expectSameTree(read, readTree(out), 'our reader vs unzip');
      expectSameTree(read, expected, 'our reader vs input');
    } finally {
      await volume.close();
    }
  });

  it('a ZIP of 65 536 entries gets the ZIP64 end records, and unzip, 7-Zip and our reader accept it', async () => {
    const many = Array.from({ length: 65_536 }, (_, i) => memoryFile(['DICOM', `D${Math.floor(i / 4096)}`, `F${i}`], Buffer.from(`${i}\n`)));
    const plan = planZip(many, { now: NOW, compress: 'never' });
    expect(plan.zip64).toBe(true);
    const zip = path.join(dir, 'many.zip');
    await writeTo(zip, plan.emit());
    const bytes = readFileSync(zip);
    // End of central directory: 0xFFFF counts, preceded by the ZIP64 locator (APPNOTE 4.3.15, 4.3.16).
    expect(bytes.readUInt32LE(bytes.length - 22)).toBe(0x06054b50);
    expect(bytes.readUInt16LE(bytes.length - 22 + 10)).toBe(0xffff);
    expect(bytes.readUInt32LE(bytes.length - 42)).toBe(0x07064b50);
    expect(ok(run('unzip', ['-tq', zip]), 'unzip -tq')).toMatch(/No errors detected/);
    expect(ok(run('7z', ['t', zip]), '7z t')).toMatch(/Files: 65536/);
    const volume = await openZip(zip);
    try {
      expect(volume.entries.length).toBe(65_536);
      expect(volume.entries[65_535]?.path).toEqual(['DICOM', 'D15', 'F65535']);
    } finally {
      await volume.close();
    }
  }, 60_000);
});
