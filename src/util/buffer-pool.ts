/**
 * Equal-sized buffers given out and taken back, for large buffers that live as long as one file is
 * being handled (the head of each file an import sends, the header window of each secure file verify
 * reads). Allocated afresh each time, such a buffer often outlives
 * a young-generation collection, is promoted, and is then freed only by a full collection: thousands of
 * files meant hundreds of full collections of the whole heap. Taken back, the same few serve every file.
 *
 * The holder gives a buffer back only when nothing refers to it any more (no view of it is still read):
 * the pool hands it out again as it is, with the previous holder's bytes in it.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    /** Length of every buffer. */
    readonly size: number,
    /** Most idle buffers kept; more given back are left to the garbage collector. */
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buf: Buffer): void {
    if (buf.length !== this.size || this.free.length >= this.keep || this.free.includes(buf)) return;
    this.free.push(buf);
  }

  /** Idle buffers held (for tests). */
  get idle(): number {
    return this.free.length;
  }
}
