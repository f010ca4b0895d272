/**
 * What every medium writer takes: the files to put on it, each with its path, its exact size known in
 * advance, and its bytes produced only when the writer reaches it. Writers lay everything out first
 * (sizes known before a byte is written) and then emit the medium as one sequential stream.
 */
export interface OpenedContent {
  readonly stream: AsyncIterable<Buffer>;
  close(): Promise<void>;
  /**
   * The SHA-256 (hex) of the bytes `stream` yielded, once it has ended, when the producer computed it
   * anyway (a worker thread hashes what it produces, so the writer's thread does not have to).
   */
  readonly sha256?: () => string | undefined;
}

export interface MediaFile {
  /** Path components from the medium's root; the last one is the file name (e.g. ["DICOM", "PA000001", "IM000001"] or ["README.TXT"]). */
  readonly path: readonly string[];
  /** Exact number of bytes `open().stream` yields. */
  readonly size: number;
  /**
   * Written after every other file of the medium (its content depends on theirs: the signed
   * manifest). Writers that otherwise emit files in list order keep it last in the list.
   */
  readonly emitLast?: boolean;
  /** Opens the content; called once, when the writer reaches the file. */
  open(): Promise<OpenedContent>;
}

/** A medium image laid out and ready to be emitted. */
export interface ImagePlan {
  /** Exact size of the image in bytes. */
  readonly size: number;
  /** The image bytes, in order, reading each file's content when its turn comes. */
  emit(): AsyncGenerator<Buffer>;
}

/** A MediaFile over bytes in memory (DICOMDIR, README.TXT, INDEX.HTM, tests). */
export function memoryFile(path: readonly string[], bytes: Buffer): MediaFile {
  return {
    path,
    size: bytes.length,
    open: () =>
      Promise.resolve({
        stream: (async function* () {
          yield bytes;
        })(),
        close: () => Promise.resolve(),
      }),
  };
}
