/**
 * What the crash-safety tests share: large synthetic inputs with a known patient name and a known
 * pixel byte pattern, seeded kill delays, spawning the CLI and killing it with SIGKILL, and a walk of
 * folders that reports every file holding plaintext patient data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodePart10 } from '../../src/dicom/part10/writer.js';
import { T } from '../../src/dicom/tags.js';
import { seededRandom } from '../../src/util/random.js';
import { REPO } from '../helpers/env.js';
import { instanceDataSet } from '../helpers/synthetic.js';

export const CLI = path.join(REPO, 'dist/cli/main.js');
export const PATIENT_NAME = 'Crashtest^Patricia';
export const PATIENT_ID = 'CRASH-0001';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';

/** 4 KiB of seeded bytes, repeated through every instance's pixel data; its first 32 bytes are searched for. */
const PIXEL_BLOCK = seededRandom('dcmsafe crash pixels').bytes(4096);
export const PIXEL_MARKER = PIXEL_BLOCK.subarray(0, 32);

/**
 * `count` CT instances of one patient, each `side`×`side` 16-bit pixels (2 MiB at 1024), written
 * to `dir`; returns the SOP Instance UIDs.
 */
export function writeCrashInputs(dir: string, count: number, side = 1024): string[] {
  mkdirSync(dir, { recursive: true });
  const pixels = Buffer.alloc(side * side * 2);
  for (let off = 0; off < pixels.length; off += PIXEL_BLOCK.length) PIXEL_BLOCK.copy(pixels, off);
  const study = '2.25.1000000000000000000001';
  const series = '2.25.1000000000000000000002';
  const sops: string[] = [];
  for (let i = 0; i < count; i++) {
    const sop = `2.25.1000000000000000001${String(i).padStart(3, '0')}`;
    sops.push(sop);
    const ds = instanceDataSet({
      sop,
      sopClass: CT_IMAGE,
      modality: 'CT',
      patientId: PATIENT_ID,
      patientName: PATIENT_NAME,
      birthDate: '19610203',
      study,
      series,
      studyDate: '20260101',
      instanceNumber: i + 1,
      extra: [
        [T.StudyID, 'SH', 'CRASH'],
        [T.SeriesNumber, 'IS', 1],
        [T.SamplesPerPixel, 'US', 1],
        [T.PhotometricInterpretation, 'CS', 'MONOCHROME2'],
        [T.Rows, 'US', side],
        [T.Columns, 'US', side],
        [T.BitsAllocated, 'US', 16],
        [T.BitsStored, 'US', 12],
        [T.HighBit, 'US', 11],
        [T.PixelRepresentation, 'US', 0],
        [T.PixelData, 'OW', pixels],
      ],
    });
    writeFileSync(path.join(dir, `IM${String(i).padStart(4, '0')}.dcm`), encodePart10({ sopClassUID: CT_IMAGE, sopInstanceUID: sop }, ds));
  }
  return sops;
}

/** `n` kill delays in ms spread over [0, span): one seeded point in each of n equal slices. */
export function killDelays(seed: string, n: number, span: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => Math.floor(((i + r.bytes(4).readUInt32BE(0) / 2 ** 32) * span) / n));
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
  /** When each stderr line (progress) came, in ms from the start. */
  readonly lines: ReadonlyArray<{ readonly ms: number; readonly text: string }>;
  readonly killed: boolean;
}

/**
 * Runs the CLI; with `killAfterMs`, sends SIGKILL then (if it is still running); with `killWhen`,
 * as soon as a stderr (progress) line makes it true.
 */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, killAfterMs?: number, killWhen?: (line: string) => boolean): Promise<Finished> {
  const started = Date.now();
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lines: Array<{ ms: number; text: string }> = [];
  let killed = false;
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => {
    const at = Date.now() - started;
    for (const text of d.toString().split('\n')) {
      if (!text.trim()) continue;
      lines.push({ ms: at, text });
      if (killWhen?.(text) && child.exitCode === null && child.signalCode === null) killed = child.kill('SIGKILL');
    }
    stderr += d.toString();
  });
  const timer =
    killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          killed = child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
        }, killAfterMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - started, stdout, stderr, lines, killed: killed && signal === 'SIGKILL' });
    });
  });
}

export interface Offence {
  readonly file: string;
  readonly why: string;
}

/**
 * Every regular file under `roots` that holds plaintext patient data: the patient's name (as
 * written, or as ASCII/UTF-16 would hold it), the pixel marker, or "DICM" at offset 128 (a plain
 * Part 10 file). Symbolic links are not followed; one that points anywhere but at a process's own
 * descriptors (the de-identification staging) is an offence too. `allow` skips files (the inputs).
 */
export function plaintextOffences(roots: readonly string[], allow: (file: string) => boolean = () => false): Offence[] {
  const name = Buffer.from(PATIENT_NAME, 'latin1');
  const name16 = Buffer.from(PATIENT_NAME, 'utf16le');
  const out: Offence[] = [];
  const walk = (p: string): void => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return; // removed meanwhile
    }
    if (st.isDirectory()) {
      for (const n of readdirSync(p)) walk(path.join(p, n));
      return;
    }
    if (allow(p)) return;
    if (st.isSymbolicLink()) {
      const target = readlinkSync(p);
      if (!/^\/(proc\/self|dev)\/fd\/\d+$/.test(target)) out.push({ file: p, why: `symbolic link to ${target}` });
      return;
    }
    if (!st.isFile()) return;
    const bytes = readFileSync(p);
    if (bytes.length >= 132 && bytes.toString('latin1', 128, 132) === 'DICM') out.push({ file: p, why: 'DICM at offset 128' });
    if (bytes.includes(name) || bytes.includes(name16)) out.push({ file: p, why: 'patient name' });
    if (bytes.includes(PIXEL_MARKER)) out.push({ file: p, why: 'pixel data' });
  };
  for (const r of roots) walk(r);
  return out;
}

/** Names in `dir` that look like what an interrupted run leaves (partials, staging folders, temporary files). */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => /\.partial-|^\.?dcmsafe-deid-|\.tmp$/.test(n));
}
