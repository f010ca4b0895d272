/**
 * Test environment: where the shared corpus is, and which reference tools are here. A test that needs
 * a tool nobody here wrote (dcmtk, dicom3tools, pydicom...) goes through `describeWithTools`: without
 * the tool it is skipped with a loud message, unless DCMSAFE_REQUIRE_TOOLS=1 (CI), where it fails.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CORPUS = path.resolve(REPO, '../shared/corpus');
/** Debian's pydicom lives in the system Python, which may not be the first python3 on PATH. */
export const PYTHON = process.env.DCMSAFE_PYTHON ?? '/usr/bin/python3';
export const REQUIRE_TOOLS = process.env.DCMSAFE_REQUIRE_TOOLS === '1';

const availability = new Map<string, boolean>();

/** Tools are commands on PATH, or "pydicom"/"numpy" for the Python modules. */
export function hasTool(tool: string): boolean {
  let ok = availability.get(tool);
  if (ok === undefined) {
    if (tool === 'pydicom' || tool === 'numpy') {
      ok = spawnSync(PYTHON, ['-c', `import ${tool}`], { stdio: 'ignore' }).status === 0;
    } else {
      ok = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
    }
    availability.set(tool, ok);
  }
  return ok;
}

export function describeWithTools(tools: readonly string[], name: string, body: () => void): void {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const message = `reference tool(s) missing: ${missing.join(', ')} (install with scripts/install-reference-tools.sh)`;
  if (REQUIRE_TOOLS) {
    describe(name, () => {
      it('has its reference tools', () => {
        throw new Error(`${message}; DCMSAFE_REQUIRE_TOOLS=1 makes this a failure`);
      });
    });
  } else {
    console.warn(`\n!!! SKIPPED "${name}": ${message}\n`);
    describe.skip(name, body);
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], options: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...options });
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** A temporary folder removed after the file's tests (kept, for a look, with DCMSAFE_KEEP_TEMP=1). */
// Folders made by tempDir, removed when the test file ends. One hook for the file, registered as it
// imports this module: a hook registered from inside a running test never ran, and every folder made
// there was left in $TMPDIR (hundreds per suite run).
const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = 'dcmsafe-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  if (process.env.DCMSAFE_KEEP_TEMP === '1') console.warn(`keeping ${dir}`);
  else madeDirs.push(dir);
  return dir;
}

export interface CorpusEntry {
  path: string;
  absolute: string;
  category: string;
  transferSyntax: string;
  notes: string;
  malformed: boolean;
  isDicom: boolean;
}

/** The corpus index (MANIFEST.tsv), so tests pick files by what they are, not by name. */
export function corpusManifest(): CorpusEntry[] {
  const lines = readFileSync(path.join(CORPUS, 'MANIFEST.tsv'), 'utf8').trimEnd().split('\n');
  const header = (lines[0] ?? '').split('\t');
  const col = (name: string): number => header.indexOf(name);
  return lines.slice(1).map((line) => {
    const f = line.split('\t');
    const p = f[col('path')] ?? '';
    const notes = f[col('notes')] ?? '';
    return {
      path: p,
      absolute: path.join(CORPUS, p),
      category: f[col('category')] ?? '',
      transferSyntax: f[col('transfer_syntax_uid')] ?? '',
      notes,
      malformed: p.startsWith('malformed/'),
      isDicom: !p.startsWith('LICENSES/') && !notes.startsWith('text:'),
    };
  });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every corpus folder but malformed/: the inputs of the acceptance runs. */
export const CORPUS_FOLDERS = ['charset', 'cr-dx', 'ct', 'doc', 'fileset', 'mr', 'nm-pet', 'no-meta', 'other', 'pr', 'rt', 'seg', 'sr', 'transfer-syntax', 'us'];
