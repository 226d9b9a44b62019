// One MLLP sender's socket: frames in, ACKs out in the same order. What a frame
// means is decided by Hl7Intake (hl7-intake.ts) through the listener's context;
// this file owns the socket, the framer, the pipeline and the byte budget.
//
// Failure modes handled (numbers as in mllp-listener.ts):
//  4. Pipelined frames: processed concurrently (one group commit can take them all)
//     but answered strictly in arrival order. A sender that pipelines without bound
//     is paused at maxPipelinedFrames.
//  5. A frame larger than maxFrameBytes: AE, then the connection is closed (the
//     stream position inside it is lost).
//  6. Peers that vanish, reset or half-close: socket errors are logged, never thrown;
//     ACKs still owed to a half-closed peer are written before the socket is ended.
//  9. Floods (this connection's share): unfinished frames over the shared
//     maxBufferedBytes budget are refused AR and the connection closed; a frame of
//     more than maxSegments segments is answered AR; idle for idleTimeoutMs, closed.
import type net from 'node:net';
import { frameMllp, MLLP_REFUSED_FRAME_HEAD_BYTES, MllpFramer, type MllpFrame, type MllpFrameTooLargeError } from '../../hl7/index.js';
import type { Answer, MllpLogger, Prepared, PreparedMessage } from './hl7-intake.js';
import type { MllpByteBudget } from './mllp-byte-budget.js';

const KEEPALIVE_DELAY_MS = 30_000;
/** After we end a socket, how long the peer gets to close its side before we destroy it. */
export const CLOSE_GRACE_MS = 1_000;

/** What a connection needs from its listener. */
export interface ConnectionContext {
  log: MllpLogger;
  source: string;
  maxFrameBytes: number;
  maxSegments: number;
  idleTimeoutMs: number;
  maxPipelinedFrames: number;
  /** Shared by the listener's connections. */
  budget: MllpByteBudget;
  prepare(frame: Buffer): Promise<Prepared>;
  commit(prepared: PreparedMessage): Promise<Answer>;
  refuseOversize(limitBytes: number): Answer;
  /** `peer` to log the refusal with it; undefined when the caller already did. */
  refuseFrame(head: Buffer, reason: string, peer: string | undefined): Answer;
  refused(peer: string, reason: string): void;
  /** Told, for each answer written, the seconds since its frame was complete and its code. */
  observeAckLatency?: (seconds: number, code: string) => void;
  /** An AE or AR was answered to `peer` (written or not: the sender did not get an AA). */
  rejected?(peer: string, answer: Answer): void;
}

/** One sender's socket: frames in, ACKs out in the same order. */
export class MllpConnection {
  private readonly framer: MllpFramer;
  /** Resolves once every ACK queued so far has been written. */
  private tail: Promise<void> = Promise.resolve();
  /** Resolves once the last frame taken is prepared: the next one's prepare() waits for it. */
  private preparing: Promise<unknown> = Promise.resolve();
  private unanswered = 0;
  /** Bytes of the unfinished frame reserved from the budget. */
  private partialReserved = 0;
  /** Bytes of complete, unanswered frames reserved from the budget. */
  private completeReserved = 0;
  /** No more frames are taken; the socket is ended once the queued ACKs are out. */
  private closing = false;
  private socketEnded = false;
  readonly peer: string;
  /** When data last arrived (or the connection opened), ms since the epoch. */
  lastActiveMs = Date.now();
  /** Resolves when the socket has closed, whichever side closed it. */
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: net.Socket,
    private readonly context: ConnectionContext,
  ) {
    this.framer = new MllpFramer(context.maxFrameBytes, context.maxSegments);
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true); // an ACK is one small write the sender is waiting for
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    if (context.idleTimeoutMs > 0) socket.setTimeout(context.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('timeout', () => this.onIdle());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A peer that resets or vanishes is routine; its unanswered messages get resent.
      const level = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'debug' : 'warn';
      context.log[level]({ err, source: context.source, peer: this.peer }, 'MLLP connection error');
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        context.budget.release(this.partialReserved, 'partial');
        context.budget.release(this.completeReserved, 'complete');
        this.partialReserved = 0;
        this.completeReserved = 0;
        context.log.debug({ source: context.source, peer: this.peer }, 'MLLP connection closed');
        resolve();
      }),
    );
    context.log.debug({ source: context.source, peer: this.peer }, 'MLLP connection opened');
  }

  /** Nothing in flight, no frame arriving: closing it loses nothing. */
  get evictable(): boolean {
    return this.unanswered === 0 && !this.framer.hasPartialFrame && !this.closing;
  }

  /** True once every queued ACK is written and the socket has been ended. */
  get ended(): boolean {
    return this.socketEnded;
  }

  /** Takes no more frames; resolves once queued ACKs are written and the socket is ended. */
  drain(): Promise<void> {
    this.closing = true;
    this.socket.pause();
    return this.finish();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.lastActiveMs = Date.now();
    let frames: MllpFrame[];
    try {
      frames = this.framer.pushFrames(chunk);
    } catch (err) {
      // Only MllpFrameTooLargeError is thrown; where the next frame starts is unknowable.
      const tooLarge = err as MllpFrameTooLargeError;
      this.releasePartial();
      this.processFrames((tooLarge.completedFrames ?? []).map((payload) => ({ payload, segmentsOverLimit: false })));
      const limitBytes = tooLarge.limitBytes ?? this.context.maxFrameBytes;
      this.close(Promise.resolve(this.context.refuseOversize(limitBytes)));
      return;
    }
    // What the unfinished frame held now belongs to the frames it completed, or to the next one.
    this.releasePartial();
    this.processFrames(frames);
    if (this.closing) return;
    const partial = this.framer.bufferedBytes;
    if (partial > 0 && !this.context.budget.tryReserve(partial, 'partial')) {
      const { budget } = this.context;
      const reason = `unfinished MLLP frames across connections would hold more than maxBufferedBytes (${budget.partialLimitBytes} of ${budget.limitBytes} bytes); closing the connection, resend later`;
      const head = this.framer.partialHead();
      this.context.refused(this.peer, reason);
      this.close(Promise.resolve(this.context.refuseFrame(head, reason, undefined)), { readRest: false });
      return;
    }
    this.partialReserved = partial;
  }

  private processFrames(frames: MllpFrame[]): void {
    for (const frame of frames) {
      const { payload } = frame;
      if (frame.segmentsOverLimit) {
        const reason = `HL7 message of more than maxSegments (${this.context.maxSegments}) segments; not stored`;
        this.enqueue(Promise.resolve(this.context.refuseFrame(payload, reason, this.peer)), 0);
        continue;
      }
      if (isBlank(payload)) {
        this.context.log.debug({ source: this.context.source, peer: this.peer }, 'Blank MLLP frame ignored');
        continue;
      }
      if (!this.context.budget.tryReserve(payload.length, 'complete')) {
        const reason = `MLLP frames across connections hold more than maxBufferedBytes (${this.context.budget.limitBytes} bytes); resend later`;
        this.enqueue(Promise.resolve(this.context.refuseFrame(payload.subarray(0, MLLP_REFUSED_FRAME_HEAD_BYTES), reason, this.peer)), 0);
        continue;
      }
      this.completeReserved += payload.length;
      const prepared = this.preparing.then(() => this.context.prepare(payload));
      this.preparing = prepared;
      // Registered before the next frame's prepare: this frame's append is issued first.
      this.enqueue(
        prepared.then((p) => ('answer' in p ? p.answer : this.context.commit(p))),
        payload.length,
      );
    }
  }

  private releasePartial(): void {
    this.context.budget.release(this.partialReserved, 'partial');
    this.partialReserved = 0;
  }

  /**
   * Takes no more frames: the last answer is `answer`, then the socket is ended.
   * Without `readRest` the peer's remaining bytes are left unread (a flood is not
   * read to its end, the socket is destroyed after the grace period).
   */
  private close(answer: Promise<Answer>, options: { readRest: boolean } = { readRest: true }): void {
    this.closing = true;
    this.framer.discardPartial();
    this.releasePartial();
    this.enqueue(answer, 0);
    void this.finish(options.readRest);
  }

  private onEnd(): void {
    if (this.framer.hasPartialFrame && !this.closing) {
      this.context.log.warn({ source: this.context.source, peer: this.peer }, 'Peer closed mid-frame; the partial message was not acknowledged');
    }
    this.closing = true;
    void this.finish();
  }

  private onIdle(): void {
    if (this.unanswered > 0) return; // slow store, not an idle peer
    this.context.log.info({ source: this.context.source, peer: this.peer, idleTimeoutMs: this.context.idleTimeoutMs }, 'Closing idle MLLP connection');
    this.closing = true;
    this.framer.discardPartial();
    this.releasePartial();
    void this.finish();
  }

  /** Queues an answer to be written in order; `reservedBytes` go back to the budget once it is written. */
  private enqueue(answer: Promise<Answer>, reservedBytes: number): void {
    this.unanswered++;
    if (this.unanswered >= this.context.maxPipelinedFrames) this.socket.pause();
    const takenAt = performance.now();
    this.tail = this.tail
      .then(() => answer)
      .then((a) => {
        this.unanswered--;
        this.releaseComplete(reservedBytes);
        this.write(a);
        this.context.observeAckLatency?.((performance.now() - takenAt) / 1000, a.code);
        if (!this.closing && this.unanswered < this.context.maxPipelinedFrames) this.socket.resume();
      })
      .catch((err: unknown) => {
        // process() never rejects; if it somehow did, order is lost and so is the connection.
        this.releaseComplete(reservedBytes);
        this.context.log.error({ err, source: this.context.source, peer: this.peer }, 'MLLP answer failed; closing connection');
        this.socket.destroy();
      });
  }

  private releaseComplete(bytes: number): void {
    const released = Math.min(bytes, this.completeReserved);
    this.completeReserved -= released;
    this.context.budget.release(released, 'complete');
  }

  private write(answer: Answer): void {
    if (answer.code !== 'AA') this.context.rejected?.(this.peer, answer);
    if (!this.socket.writable) {
      // The message is journaled (or refused) all the same; the sender will resend and get AA.
      this.context.log.debug({ source: this.context.source, peer: this.peer, ack: answer.code }, 'Peer gone before its ACK');
      return;
    }
    this.socket.write(frameMllp(answer.bytes));
  }

  private async finish(readRest = true): Promise<void> {
    await this.tail;
    if (this.socketEnded) return;
    this.socketEnded = true;
    this.socket.end();
    // Read (and ignore) until the peer's FIN so the socket can close; don't wait forever.
    if (readRest) this.socket.resume();
    else this.socket.pause();
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }
}

function isBlank(frame: Buffer): boolean {
  for (const byte of frame) if (byte !== 0x0d && byte !== 0x0a && byte !== 0x20 && byte !== 0x09) return false;
  return true;
}
