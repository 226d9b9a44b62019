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
//  6. A frame of more segments than maxSegments (4 million one-byte segments fit
//     in 15 MB, and splitting them took ~700 MB and 1.3 s of event loop): counted
//     as the bytes arrive, and once over the limit the rest of the frame is read
//     and dropped, keeping only its head (where MSH is) so the frame can still be
//     answered. The end marker is found by looking for <FS>, not <CR>, so a frame
//     of millions of segments costs one search per read, not one per segment.

import { AgentError, AgentErrorCode } from '../errors.js';

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

/** Frames larger than this are refused unless configured otherwise. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** A frame grew past the limit without an end marker: the connection is closed after the completed frames are answered. */
export class MllpFrameTooLargeError extends AgentError {
  constructor(
    readonly limitBytes: number,
    /** Frames completed earlier in the same read: still to be processed and acknowledged. */
    readonly completedFrames: Buffer[] = [],
    options?: { cause?: unknown },
  ) {
    super(`MLLP frame exceeds ${limitBytes} bytes without an end marker`, AgentErrorCode.MLLP_FRAME_TOO_LARGE, options);
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

/** Bytes kept of a frame refused for its segment count: enough for any MSH the ACK must echo. */
export const MLLP_REFUSED_FRAME_HEAD_BYTES = 8 * 1024;

/** One frame off the wire. */
export interface MllpFrame {
  /** The payload; only its first MLLP_REFUSED_FRAME_HEAD_BYTES when `segmentsOverLimit`. */
  payload: Buffer;
  /** True when the frame held more segments than maxSegments: the rest of it was dropped. */
  segmentsOverLimit: boolean;
}

export class MllpFramer {
  /** The last byte of the current frame read so far, kept or dropped: an <FS> that may end it. */
  private lastByte: number | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private inFrame = false;
  /** Segment terminators seen in the current frame (CRs, or LFs while no CR has come). */
  private crs = 0;
  private lfs = 0;
  /** The current frame is over maxSegments: its bytes are counted, not kept. */
  private dropping = false;
  /** Bytes of the current frame read while dropping (for maxFrameBytes). */
  private dropped = 0;
  /** Bytes seen outside any frame, for diagnostics. */
  discardedBytes = 0;

  /**
   * @param maxFrameBytes largest payload; default DEFAULT_MAX_FRAME_BYTES (16 MiB)
   * @param maxSegments most segments in a payload before it is dropped; default unbounded
   */
  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES, private readonly maxSegments = Number.POSITIVE_INFINITY) {}

  /** Bytes of the current, unfinished frame held in memory. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The first bytes (at most maxBytes) of the unfinished frame: its MSH, for an answer. */
  partialHead(maxBytes = MLLP_REFUSED_FRAME_HEAD_BYTES): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= maxBytes) return Buffer.from(first.subarray(0, maxBytes));
    return Buffer.concat(this.chunks, Math.min(this.buffered, maxBytes));
  }

  /** Forgets the unfinished frame (the connection is closing); bytes up to the next <VT> are skipped. */
  discardPartial(): void {
    this.reset();
    this.inFrame = false;
  }

  /** Feeds bytes from the socket; returns the payloads of every frame completed by them. */
  push(chunk: Buffer): Buffer[] {
    return this.pushFrames(chunk).map((frame) => frame.payload);
  }

  /** Feeds bytes from the socket; returns every frame completed by them, flagged when over maxSegments. */
  pushFrames(chunk: Buffer): MllpFrame[] {
    const frames: MllpFrame[] = [];
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
      const segmentsOverLimit = this.dropping;
      const payload = this.take();
      frames.push({ payload: payload.subarray(0, payload.length - (payload[payload.length - 1] === MLLP_END ? 1 : 0)), segmentsOverLimit });
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
    if (data[0] === MLLP_CR && this.lastByte === MLLP_END) return 0;
    let from = 0;
    for (;;) {
      const fs = data.indexOf(MLLP_END, from);
      if (fs < 0 || fs + 1 >= data.length) return -1;
      if (data[fs + 1] === MLLP_CR) return fs + 1;
      from = fs + 1;
    }
  }

  private append(data: Buffer, completedFrames: MllpFrame[]): void {
    if (data.length === 0) return;
    this.lastByte = data[data.length - 1];
    // +1: the buffer may hold the <FS> that ends a frame of exactly maxFrameBytes.
    if (this.buffered + this.dropped + data.length > this.maxFrameBytes + 1) {
      this.reset();
      this.inFrame = false;
      throw new MllpFrameTooLargeError(this.maxFrameBytes, completedFrames.map((frame) => frame.payload));
    }
    if (this.dropping) {
      this.dropped += data.length;
      return;
    }
    if (this.countSegments(data) > this.maxSegments) {
      // Keep the head for the answer; everything after it is dropped as it comes.
      this.chunks.push(data);
      this.buffered += data.length;
      const head = this.partialHead();
      this.dropped = this.buffered - head.length;
      this.chunks = [head];
      this.buffered = head.length;
      this.dropping = true;
      return;
    }
    this.buffered += data.length;
    this.chunks.push(data);
  }

  /** Segments so far, counting terminators as splitSegments will: CRs, or LFs in a frame without CR. */
  private countSegments(data: Buffer): number {
    const limit = this.maxSegments;
    if (limit === Number.POSITIVE_INFINITY) return 0;
    for (let at = data.indexOf(MLLP_CR); at >= 0 && this.crs <= limit; at = data.indexOf(MLLP_CR, at + 1)) this.crs++;
    if (this.crs === 0) {
      for (let at = data.indexOf(0x0a); at >= 0 && this.lfs <= limit; at = data.indexOf(0x0a, at + 1)) this.lfs++;
      return this.lfs;
    }
    return this.crs;
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
    this.crs = 0;
    this.lfs = 0;
    this.dropping = false;
    this.dropped = 0;
    this.lastByte = undefined;
  }
}
