/**
 * yauzl's RandomAccessReader over one of ours, so a ZIP held as an image in memory (or any
 * RandomAccessReader) goes through the same guarded ZIP reader as a ZIP file. Reads are positioned;
 * closing it closes the reader under it.
 */
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { readChunks, type RandomAccessReader } from '../io/random-access-reader.js';

const CHUNK = 64 * 1024;

export class YauzlReader extends yauzl.RandomAccessReader {
  constructor(private readonly image: RandomAccessReader) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    // Past the end the chunks stop short: yauzl counts the bytes and reports the short read itself.
    const image = this.image;
    return Readable.from(
      (async function* (): AsyncGenerator<Buffer> {
        const stop = Math.min(end, image.size);
        if (start < stop) yield* readChunks(image, start, stop - start, CHUNK);
      })(),
    );
  }

  override close(callback: (err: Error | null) => void): void {
    this.image.close().then(
      () => callback(null),
      (e: unknown) => callback(e instanceof Error ? e : new Error(String(e))),
    );
  }
}
