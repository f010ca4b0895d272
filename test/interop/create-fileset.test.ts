/**
 * Acceptance of File-set creation, checked by tools nobody here wrote: dciodvfy (dicom3tools) on the
 * DICOMDIR, dcmdump (dcmtk) on every file, pydicom's FileSet on the whole set, and the pixel data of
 * every converted file against the input decoded by dcmtk, gdcm or pydicom.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { CORPUS, CORPUS_FOLDERS, describeWithTools, PYTHON, REPO, run, tempDir } from '../helpers/env.js';

const CLI = path.join(REPO, 'dist/cli/main.js');
const PY = path.join(REPO, 'test/interop/py');

interface Summary {
  counts: { instances: number };
  files: Array<{ fileId: string; input: string; kind: string; sopInstanceUID: string }>;
  normalized: unknown[];
}

interface Check {
  instances: string[];
  mismatches: unknown[];
  pixels: Array<{ input: string; kind: string; oracle: string; status: string; detail?: unknown }>;
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function checkFileSet(name: string, inputs: () => string[], extraArgs: string[] = []): void {
  describeWithTools(['dciodvfy', 'dcmdump', 'dcmdjpeg', 'gdcmconv', 'pydicom', 'numpy'], name, () => {
    const tmp = tempDir();
    const out = path.join(tmp, 'fileset');
    let summary: Summary;
    let check: Check;

    beforeAll(() => {
      const r = run(process.execPath, [CLI, 'create', ...inputs(), '--media', 'folder', '--out', out, '--json', ...extraArgs]);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      summary = JSON.parse(r.stdout) as Summary;
      const files = path.join(tmp, 'files.json');
      writeFileSync(files, JSON.stringify(summary.files));
      const c = run(PYTHON, [path.join(PY, 'check_fileset.py'), out, files]);
      expect(c.status, c.stderr).toBe(0);
      check = JSON.parse(c.stdout) as Check;
    });

    it('dciodvfy reports no errors in the DICOMDIR', () => {
      const r = run('dciodvfy', [path.join(out, 'DICOMDIR')]);
      const errors = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
      expect(errors).toEqual([]);
    });

    it('dcmdump reads every file', () => {
      for (const f of summary.files) {
        const r = run('dcmdump', ['-q', path.join(out, ...f.fileId.split('\\'))]);
        expect(r.status, `${f.fileId}: ${r.stderr}`).toBe(0);
        expect(r.stderr, f.fileId).toBe('');
      }
    });

    it("pydicom's FileSet finds exactly the distinct SOP instances given", () => {
      const e = run(PYTHON, [path.join(PY, 'expected_instances.py'), ...inputs()]);
      expect(e.status, e.stderr).toBe(0);
      const expected = JSON.parse(e.stdout) as string[];
      expect([...check.instances].sort()).toEqual(expected);
      expect(summary.counts.instances).toBe(expected.length);
    });

    it('every referenced file is a Part 10 file whose identifiers match its record', () => {
      expect(check.mismatches).toEqual([]);
    });

    it('copied files are byte-identical to their inputs', () => {
      for (const f of summary.files.filter((x) => x.kind === 'copy')) {
        expect(sha(path.join(out, ...f.fileId.split('\\'))), f.input).toBe(sha(f.input));
      }
    });

    it('converted files hold the same pixels as the input decoded by another tool', () => {
      const different = check.pixels.filter((p) => p.status === 'different' || p.status === 'no-oracle');
      expect(different).toEqual([]);
    });
  });
}

checkFileSet('create over every non-malformed corpus file (STD-GEN-CD)', () => CORPUS_FOLDERS.map((f) => path.join(CORPUS, f)));
checkFileSet('create over the corpus with STD-GEN-USB-J2K', () => CORPUS_FOLDERS.map((f) => path.join(CORPUS, f)), ['--profile', 'STD-GEN-USB-J2K']);

let samplesDir = '';
checkFileSet('create over the built-in samples', () => {
  if (!samplesDir) {
    samplesDir = path.join(tempDir('dcmsafe-samples-'), 'in');
    const r = run(process.execPath, [CLI, 'samples', '--out', samplesDir]);
    if (r.status !== 0) throw new Error(r.stderr);
  }
  return [samplesDir];
});
