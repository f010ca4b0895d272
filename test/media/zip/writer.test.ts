/**
 * The ZIP writer (PS3.12 Annex V over PKWARE APPNOTE): round trip through our reader, stored or
 * deflated per hint and per sniffed content, determinism, one file open at a time, streaming in
 * flat memory, plan checks, ZIP64 decision.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryFile } from '../../../src/media/media-file.js';
import { needsZip64, openZip, planZip, type ZipMediaFile } from '../../../src/media/zip/index.js';
import { tempDir } from '../../helpers/env.js';
import { EXPLICIT_LE, JPEG_BASELINE, collect, generate, generatedFile, loggedFile, part10, readAll, secureFile, sha256, signal, writeTo, type FileEvent } from './helpers.js';

const NOW = new Date('2024-05-06T07:08:10Z');
const dir = tempDir('dcmsafe-zip-writer-');
const IM = (n: number): string[] => ['DICOM', 'PA000001', 'ST000001', 'SE000001', `IM00000${n}`];

function fileSet(): ZipMediaFile[] {
  return [
    memoryFile(['README.TXT'], Buffer.from('This File-set was written by dcmsafe.\r\n'.repeat(20))),
    memoryFile(IM(1), part10(EXPLICIT_LE, signal(40_000, 1))), // native: sniffed, deflated
    memoryFile(IM(2), part10(JPEG_BASELINE, signal(30_000, 2))), // encapsulated: sniffed, stored
    memoryFile(IM(3), secureFile(20_000)), // Secure DICOM File: sniffed, stored
    { ...memoryFile(IM(4), part10(EXPLICIT_LE, signal(10_000, 4))), compressible: false }, // hint wins
    { ...memoryFile(IM(5), part10(JPEG_BASELINE, signal(10_000, 5))), compressible: true }, // hint wins
    memoryFile(['DICOM', 'EMPTY'], Buffer.alloc(0)),
    memoryFile(['DICOMDIR'], part10(EXPLICIT_LE, signal(5_000, 9))), // given last, written first
    memoryFile(['INDEX.HTM'], Buffer.from('<html><body>DICOM</body></html>\n'.repeat(10))),
  ];
}

async function writeZip(name: string, files: ZipMediaFile[], options: Parameters<typeof planZip>[1] = { now: NOW }): Promise<string> {
  const file = path.join(dir, name);
  await writeTo(file, planZip(files, options).emit());
  return file;
}

describe('planZip and our reader', () => {
  it('round-trips paths and bytes, DICOMDIR first, the rest in the given order', async () => {
    const files = fileSet();
    const zip = await writeZip('roundtrip.zip', files);
    const volume = await openZip(zip);
    try {
      const names = volume.entries.map((e) => e.path.join('/'));
      expect(names[0]).toBe('DICOMDIR');
      expect(names.slice(1)).toEqual(files.filter((f) => f.path[0] !== 'DICOMDIR').map((f) => f.path.join('/')));
      expect(volume.entries.every((e) => !e.isDirectory)).toBe(true);
      const contents = await readAll(volume);
      for (const f of files) {
        const expected = await collect((await f.open()).stream);
        expect(contents.get(f.path.join('/'))?.equals(expected), f.path.join('/')).toBe(true);
      }
    } finally {
      await volume.close();
    }
  });

  it('stores encrypted and compressed content, deflates the rest (hint first, else the first bytes)', async () => {
    const files = fileSet();
    const plan = planZip(files, { now: NOW });
    expect(Object.fromEntries(plan.entries.map((e) => [e.name, e.method]))).toMatchObject({
      [IM(4).join('/')]: 'stored',
      [IM(5).join('/')]: 'deflated',
      'DICOM/EMPTY': 'stored',
      [IM(1).join('/')]: 'sniff',
    });
    const volume = await openZip(await writeZip('methods.zip', files));
    try {
      const method = Object.fromEntries(volume.entries.map((e) => [e.path.join('/'), e.method]));
      expect(method).toEqual({
        DICOMDIR: 'deflated',
        'README.TXT': 'deflated',
        [IM(1).join('/')]: 'deflated',
        [IM(2).join('/')]: 'stored',
        [IM(3).join('/')]: 'stored',
        [IM(4).join('/')]: 'stored',
        [IM(5).join('/')]: 'deflated',
        'DICOM/EMPTY': 'stored',
        'INDEX.HTM': 'deflated',
      });
      const deflated = volume.entries.find((e) => e.path.join('/') === IM(1).join('/'));
      expect(deflated && deflated.compressedSize < deflated.size).toBe(true);
    } finally {
      await volume.close();
    }
  });

  it('compress "never" stores everything, "always" deflates every non-empty file', async () => {
    for (const [compress, expected] of [
      ['never', 'stored'],
      ['always', 'deflated'],
    ] as const) {
      const volume = await openZip(await writeZip(`${compress}.zip`, fileSet(), { now: NOW, compress }));
      try {
        for (const e of volume.entries) expect(e.method, e.path.join('/')).toBe(e.size === 0 ? 'stored' : expected);
      } finally {
        await volume.close();
      }
    }
  });

  it('is deterministic: same files and clock give the same bytes; the clock is the entry time, in UTC fields', async () => {
    const a = await collect(planZip(fileSet(), { now: NOW }).emit());
    const b = await collect(planZip(fileSet(), { now: NOW }).emit());
    expect(a.equals(b)).toBe(true);
    const c = await collect(planZip(fileSet(), { now: new Date('2025-01-02T03:04:06Z') }).emit());
    expect(c.equals(a)).toBe(false);
    expect(c.length).toBe(a.length);
    // First local header (APPNOTE 4.3.7): DOS time at 10, date at 12, no extra field (length at 28).
    expect(a.readUInt32LE(0)).toBe(0x04034b50);
    expect(a.readUInt16LE(10)).toBe((7 << 11) | (8 << 5) | (10 >> 1));
    expect(a.readUInt16LE(12)).toBe(((2024 - 1980) << 9) | (5 << 5) | 6);
    expect(a.readUInt16LE(28)).toBe(0);
  });

  it('is deterministic whatever the chunking of the input (deflate without flushes)', async () => {
    const data = signal(300_000, 3);
    const zip = (chunk: number): Promise<Buffer> => collect(planZip([loggedFile(['A'], data, [], { chunk })], { now: NOW }).emit());
    const reference = await zip(64 * 1024);
    for (const chunk of [7, 1000, 300_000]) expect((await zip(chunk)).equals(reference), `chunk ${chunk}`).toBe(true);
  });

  it('opens each file only when its turn comes and closes it before the next one opens', async () => {
    const log: FileEvent[] = [];
    const files = [0, 1, 2, 3].map((i) => loggedFile(['DICOM', `IM${i}`], signal(100_000, i), log));
    await collect(planZip(files, { now: NOW }).emit());
    expect(log).toEqual(files.flatMap((f) => [{ event: 'open', name: f.path.join('/') }, { event: 'close', name: f.path.join('/') }]));
  });

  it('closes the open file when the consumer stops early, and opens no other', async () => {
    const log: FileEvent[] = [];
    const files = [0, 1, 2].map((i) => loggedFile(['F', `IM${i}`], signal(3_000_000, i), log, { chunk: 64 * 1024 }));
    for await (const chunk of planZip(files, { now: NOW }).emit()) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    expect(log).toEqual([
      { event: 'open', name: 'F/IM0' },
      { event: 'close', name: 'F/IM0' },
    ]);
  });

  it('fails (INTERNAL) when a file yields fewer or more bytes than its size, and closes it', async () => {
    for (const lie of [1, -1]) {
      const log: FileEvent[] = [];
      const files = [loggedFile(['A'], signal(50_000), log, { lie }), loggedFile(['B'], signal(1000), log)];
      await expect(collect(planZip(files, { now: NOW }).emit())).rejects.toMatchObject({ code: 'INTERNAL' });
      expect(log).toEqual([
        { event: 'open', name: 'A' },
        { event: 'close', name: 'A' },
      ]);
    }
  });

  it('refuses paths that are no safe ZIP names, duplicates and files used as folders (INTERNAL: the plan is ours)', () => {
    const bad: string[][] = [[], ['..', 'X'], ['A', ''], ['A/B'], ['A\\B'], ['C:'], ['A\0']];
    for (const p of bad) {
      expect(() => planZip([memoryFile(p, Buffer.from('x'))], { now: NOW }), JSON.stringify(p)).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    }
    const x = Buffer.from('x');
    expect(() => planZip([memoryFile(['A'], x), memoryFile(['A'], x)], { now: NOW })).toThrow(/duplicate/);
    expect(() => planZip([memoryFile(['A'], x), memoryFile(['A', 'B'], x)], { now: NOW })).toThrow(/is a file/);
    expect(() => planZip([memoryFile(['A', 'B'], x), memoryFile(['A'], x)], { now: NOW })).toThrow(/duplicate/);
    expect(() => planZip([], { now: NOW, level: 0 })).toThrow(/level/);
  });

  it('streams a 50 MB file through in flat memory and reads it back identical', async () => {
    const size = 50 * 1024 * 1024;
    const file = path.join(dir, 'large.zip');
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const plan = planZip([memoryFile(['DICOMDIR'], Buffer.from('dir')), generatedFile(['DICOM', 'BIG'], size)], { now: NOW });
      await writeTo(
        file,
        (async function* () {
          for await (const chunk of plan.emit()) {
            expect(chunk.length).toBeLessThan(4 * 1024 * 1024);
            peak = Math.max(peak, process.memoryUsage().rss);
            yield chunk;
          }
        })(),
      );
    } finally {
      clearInterval(timer);
    }
    // Loose: the file is 50 MB; holding it (or its deflated form) whole would show far above this.
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
    const volume = await openZip(file);
    try {
      const big = volume.entries.find((e) => e.path.join('/') === 'DICOM/BIG');
      expect(big).toMatchObject({ size, method: 'deflated' });
      expect(await sha256(await volume.openFile(big!))).toBe(await sha256(generate(size)));
    } finally {
      await volume.close();
    }
    expect((await sha256(createReadStream(file))).length).toBe(64);
  }, 60_000);
});

describe('needsZip64', () => {
  const entry = (size: number, method: 'stored' | 'deflated' | 'sniff' = 'stored') => ({ name: 'DICOM/PA000001/IM000001', size, method });
  it('forces the ZIP64 end records from 65535 entries on (exactly 65535 would leave a bare 0xFFFF count)', () => {
    expect(needsZip64(Array.from({ length: 65534 }, () => entry(10)))).toBe(false);
    expect(needsZip64(Array.from({ length: 65535 }, () => entry(10)))).toBe(true);
  });
  it('forces them when the archive may reach 4 GiB', () => {
    expect(needsZip64([entry(2 ** 31), entry(2 ** 31 - 10_000)])).toBe(false);
    expect(needsZip64([entry(2 ** 31), entry(2 ** 31)])).toBe(true);
    expect(needsZip64([entry(4_294_000_000, 'stored')])).toBe(false);
    expect(needsZip64([entry(4_294_000_000, 'deflated')])).toBe(true); // deflate may grow incompressible data
  });
  it('is what planZip reports', () => {
    expect(planZip([memoryFile(['A'], Buffer.from('a'))], { now: NOW }).zip64).toBe(false);
  });
});
