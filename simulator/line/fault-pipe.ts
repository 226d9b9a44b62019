// One direction of a proxied TCP connection: bytes read from `from` are written
// to `to`, in order, shaped by whatever the fault proxy currently says.
//
// What it models, per chunk as it arrives:
//  1. Blackhole: the chunk (and a FIN) is dropped, as a line that loses every
//     packet would; the pipe remembers that it lost bytes, because a TCP stream
//     with a hole in it cannot carry on intact.
//  2. Latency: the chunk is held until arrival + latency. The queue is FIFO, so
//     order holds even when the latency is changed while chunks wait.
//  3. Throttle: a token bucket shared by every pipe of the same direction (a
//     line's capacity is shared by its connections) paces the writes.
//  4. Slicing: writes of at most N bytes, one per event-loop turn, so that the
//     reader sees frames split across many reads.
// Backpressure: the source is paused while more than HIGH_WATER_BYTES wait, and
// while the destination's own buffer is full.
import type { Socket } from 'node:net';
import type { TokenBucket } from '../../agent/bandwidth/index.js';

/** The shaping in force for one direction, read afresh for every write. */
export interface PipeShaping {
  swallowing: boolean;
  latencyMs: number;
  /** Largest single write, in bytes; undefined = as read. */
  sliceBytes: number | undefined;
  bucket: TokenBucket | undefined;
}

export interface FaultPipeOptions {
  from: Socket;
  to: Socket;
  shaping: () => PipeShaping;
  onForwarded: (bytes: number) => void;
  onSwallowed: (bytes: number) => void;
}

/** Bytes queued in a pipe before its source is paused. */
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;

interface QueuedChunk {
  data: Buffer;
  /** performance.now() before which the chunk may not be written (latency). */
  dueAtMs: number;
}

export class FaultPipe {
  private readonly queue: QueuedChunk[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private sourceEnded = false;
  private closed = false;
  private wake: (() => void) | undefined;
  /** Whether this direction ever dropped bytes (the stream has a hole). */
  lostBytes = false;

  constructor(private readonly options: FaultPipeOptions) {
    const { from } = options;
    from.on('data', (chunk: Buffer) => this.onData(chunk));
    from.on('end', () => {
      // A FIN is a packet too: a blackholed line loses it.
      if (options.shaping().swallowing) {
        this.lostBytes = true;
        return;
      }
      this.sourceEnded = true;
      void this.pump();
    });
  }

  /** Drops everything still waiting in the pipe (the line just went dark). */
  discardQueued(): void {
    if (this.queuedBytes > 0) {
      this.options.onSwallowed(this.queuedBytes);
      this.lostBytes = true;
    }
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.resumeSourceIfLow();
    this.kick();
  }

  /** Re-reads the shaping now instead of finishing the current wait (a setting changed). */
  kick(): void {
    this.wake?.();
  }

  /** Stops writing; the connection is gone. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.kick();
  }

  private onData(chunk: Buffer): void {
    const shaping = this.options.shaping();
    if (this.closed) return;
    if (shaping.swallowing) {
      this.lostBytes = true;
      this.options.onSwallowed(chunk.length);
      return;
    }
    this.queue.push({ data: chunk, dueAtMs: performance.now() + shaping.latencyMs });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > HIGH_WATER_BYTES) this.options.from.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const { to } = this.options;
    try {
      while (this.queue.length > 0 && !this.closed && !to.destroyed) {
        const head = this.queue[0]!;
        const shaping = this.options.shaping();
        const waitMs = head.dueAtMs - performance.now();
        if (waitMs > 0) {
          await this.sleep(waitMs);
          continue;
        }
        let bytes = head.data.length;
        if (shaping.sliceBytes !== undefined) bytes = Math.min(bytes, shaping.sliceBytes);
        if (shaping.bucket) {
          const granted = shaping.bucket.takeUpTo(bytes);
          if (granted === 0) {
            // Wake for a quarter of a burst at a time: a smooth line, and a full burst of slack for a late timer.
            await this.sleep(Math.max(1, shaping.bucket.delayMs(Math.min(bytes, Math.ceil(shaping.bucket.burstBytes / 4)))));
            continue;
          }
          bytes = granted;
        }
        const piece = head.data.subarray(0, bytes);
        if (bytes === head.data.length) this.queue.shift();
        else head.data = head.data.subarray(bytes);
        this.queuedBytes -= bytes;
        this.options.onForwarded(bytes);
        const flushed = to.write(piece);
        this.resumeSourceIfLow();
        if (!flushed) await this.waitForDrain();
        // One slice per turn of the event loop, so the reader gets a read per slice.
        else if (shaping.sliceBytes !== undefined) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (this.queue.length === 0 && this.sourceEnded && !this.closed && !to.destroyed) to.end();
    } finally {
      this.pumping = false;
    }
    // Data that arrived during the last await of a finishing pump.
    if (this.queue.length > 0 && !this.closed && !to.destroyed) void this.pump();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      this.wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => (this.wake = undefined));
  }

  private waitForDrain(): Promise<void> {
    const { to } = this.options;
    return new Promise((resolve) => {
      const done = (): void => {
        to.off('drain', done);
        to.off('close', done);
        this.wake = undefined;
        resolve();
      };
      to.once('drain', done);
      to.once('close', done);
      this.wake = done;
    });
  }

  private resumeSourceIfLow(): void {
    const { from } = this.options;
    if (this.queuedBytes <= LOW_WATER_BYTES && from.isPaused() && !from.destroyed) from.resume();
  }
}
