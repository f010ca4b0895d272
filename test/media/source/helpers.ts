/**
 * Shared by the media source tests: one small File-set-like tree, written as an ISO 9660 image, a
 * FAT32 image (partitioned or not), a ZIP and a folder by our own writers, and ways to read a
 * MediaSource back whole.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { memoryFile, type ImagePlan, type MediaFile } from '../../../src/media/media-file.js';
import { planFat32Image } from '../../../src/media/fat/writer.js';
import { planIso9660 } from '../../../src/media/iso9660/writer.js';
import { planZip, type ZipCompression } from '../../../src/media/zip/writer.js';
import type { MediaSource } from '../../../src/media/source/index.js';

export const NOW = new Date('2024-05-06T07:08:09Z');

/** Deterministic bytes: SHA-256 in counter mode over a seed. */
export function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0, pos = 0; pos < size; i++, pos += 32) createHash('sha256').update(`${seed}:${i}`).digest().copy(out, pos);
  return out;
}

/** Compressible bytes (a slow sine with a little noise, like CT pixels): deflate has work to do. */
export function signal(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size);
  let x = seed >>> 0;
  for (let i = 0; i + 1 < size; i += 2) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt16LE(1000 + Math.round(400 * Math.sin(i / 4000)) + ((x >>> 24) & 0x0f), i);
  }
  return b;
}

/** path "A/B" → bytes, for a tree with 8.3 upper-case names (ISO 9660 Level 1 and FAT short names). */
export function treeContents(): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  m.set('DICOMDIR', bytesOf('DICOMDIR', 6000));
  m.set('README.TXT', Buffer.from('This medium holds a DICOM File-set.\r\n'));
  const sizes = [0, 1, 2047, 2048, 2049, 10_000, 65_536, 200_001];
  let n = 0;
  for (const pa of ['PA000001', 'PA000002']) {
    for (const st of ['ST000001', 'ST000002']) {
      for (let im = 1; im <= 2; im++) {
        const p = `DICOM/${pa}/${st}/SE000001/IM00000${im}`;
        m.set(p, n % 3 === 0 ? signal(sizes[n % sizes.length] ?? 0, n) : bytesOf(p, sizes[n % sizes.length] ?? 0));
        n++;
      }
    }
  }
  return m;
}

export function mediaFiles(contents: ReadonlyMap<string, Buffer>): MediaFile[] {
  return [...contents].map(([p, b]) => memoryFile(p.split('/'), b));
}

export async function writePlan(plan: { emit(): AsyncGenerator<Buffer> } | ImagePlan, file: string): Promise<string> {
  const h = await open(file, 'w');
  try {
    for await (const c of plan.emit()) await h.write(c);
  } finally {
    await h.close();
  }
  return file;
}

export async function writeIso(dir: string, contents: ReadonlyMap<string, Buffer>, name = 'disc.iso'): Promise<string> {
  return writePlan(planIso9660(mediaFiles(contents), { volumeIdentifier: 'DCMSAFE_TEST', recordingTime: NOW }), path.join(dir, name));
}

export async function writeFat(dir: string, contents: ReadonlyMap<string, Buffer>, name = 'stick.img'): Promise<string> {
  return writePlan(planFat32Image(mediaFiles(contents), { volumeLabel: 'DCMSAFE', now: NOW }), path.join(dir, name));
}

export async function writeZip(dir: string, contents: ReadonlyMap<string, Buffer>, compress: ZipCompression = 'always', name = 'media.zip'): Promise<string> {
  return writePlan(planZip(mediaFiles(contents), { now: NOW, compress }), path.join(dir, name));
}

export function writeFolder(dir: string, contents: ReadonlyMap<string, Buffer>): string {
  for (const [p, b] of contents) {
    const abs = path.join(dir, ...p.split('/'));
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, b);
  }
  return dir;
}

/** Every entry of a source read back whole (in odd-sized pieces), path → bytes, in listing order. */
export async function readSource(source: MediaSource, piece = 50_001): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of source.entries) {
    const r = await source.open(e);
    try {
      const parts: Buffer[] = [];
      for (let pos = 0; pos < r.size; pos += piece) parts.push(await r.read(pos, piece));
      expectEqualSize(r.size, e.size, e.path.join('/'));
      out.set(e.path.join('/'), Buffer.concat(parts));
    } finally {
      await r.close();
    }
  }
  return out;
}

function expectEqualSize(a: number, b: number, what: string): void {
  if (a !== b) throw new Error(`${what}: reader size ${a}, entry size ${b}`);
}

/** Whether the listing is depth first: once a folder's entries stop, none of them comes again. */
export function isDepthFirst(paths: readonly string[][]): boolean {
  const closed = new Set<string>();
  let open: string[] = [];
  for (const p of paths) {
    const folders = p.slice(0, -1).map((_, i) => JSON.stringify(p.slice(0, i + 1)));
    for (const f of open) if (!folders.includes(f)) closed.add(f);
    if (folders.some((f) => closed.has(f))) return false;
    open = folders;
  }
  return true;
}

/** The code of what `f` throws ('ok' when it does not). */
export async function codeOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}
