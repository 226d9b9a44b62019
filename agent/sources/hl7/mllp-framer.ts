// MLLP (Minimal Lower Layer Protocol) framing: <VT> payload <FS><CR>.
//
// Failure modes handled:
//  1. A frame split across many TCP reads (bytes are buffered until <FS><CR>).
//  2. Several frames in one read (every complete frame is returned, in order).
//  3. Bytes before a <VT> (line noise, a sender's stray CR/LF): skipped and counted.
//  4. A frame that never ends: refused once it passes maxFrameBytes, so a broken
//     sender cannot make the agent buffer without bound.
//  5. <FS> not followed by <CR>: tolerated as end of frame only when <CR> arrives;
//     a lone <FS> inside the payload is kept as data.

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

/** Frames larger than this are refused unless configured otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class MllpFrameTooLargeError extends Error {
  override name = 'MllpFrameTooLargeError';
  constructor(
    readonly limitBytes: number,
    /** Frames completed earlier in the same read: still to be processed and acknowledged. */
    readonly completedFrames: Buffer[] = [],
  ) {
    super(`MLLP frame exceeds ${limitBytes} bytes without an end marker`);
  }
}

export function frameMllp(payload: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(payload.length + 3);
  framed[0] = MLLP_START;
  payload.copy(framed, 1);
  framed[payload.length + 1] = MLLP_END;
  framed[payload.length + 2] = MLLP_CR;
  return framed;
}

export class MllpFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private inFrame = false;
  /** Bytes seen outside any frame, for diagnostics. */
  discardedBytes = 0;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Feeds bytes from the socket; returns the payloads of every frame completed by them. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (!this.inFrame) {
        const start = data.indexOf(MLLP_START);
        if (start < 0) {
          this.discardedBytes += data.length;
          return frames;
        }
        this.discardedBytes += start;
        this.inFrame = true;
        data = data.subarray(start + 1);
        continue;
      }
      const end = this.findEnd(data);
      if (end < 0) {
        this.append(data, frames);
        return frames;
      }
      this.append(data.subarray(0, end), frames);
      // The end marker's <FS> may be the last byte of the previous chunk.
      const payload = this.take();
      frames.push(payload.subarray(0, payload.length - (payload[payload.length - 1] === MLLP_END ? 1 : 0)));
      this.inFrame = false;
      data = data.subarray(end + 1);
    }
    return frames;
  }

  /** True while a frame has started but not ended (bytes would be lost on close). */
  get hasPartialFrame(): boolean {
    return this.inFrame;
  }

  /** Index of the <CR> that ends the frame (the byte before it is <FS>), or -1. */
  private findEnd(data: Buffer): number {
    let from = 0;
    for (;;) {
      const cr = data.indexOf(MLLP_CR, from);
      if (cr < 0) return -1;
      const previous = cr > 0 ? data[cr - 1] : this.lastBufferedByte();
      if (previous === MLLP_END) return cr;
      from = cr + 1;
    }
  }

  private lastBufferedByte(): number | undefined {
    const last = this.chunks[this.chunks.length - 1];
    return last === undefined ? undefined : last[last.length - 1];
  }

  private append(data: Buffer, completedFrames: Buffer[]): void {
    if (data.length === 0) return;
    this.buffered += data.length;
    // +1: the buffer may hold the <FS> that ends a frame of exactly maxFrameBytes.
    if (this.buffered > this.maxFrameBytes + 1) {
      this.reset();
      this.inFrame = false;
      throw new MllpFrameTooLargeError(this.maxFrameBytes, completedFrames);
    }
    this.chunks.push(data);
  }

  private take(): Buffer {
    const payload = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.reset();
    // payload includes the <FS> (findEnd stops at the <CR>); the caller strips it.
    return payload;
  }

  private reset(): void {
    this.chunks = [];
    this.buffered = 0;
  }
}
