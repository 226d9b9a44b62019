// HL7 v2 over MLLP: the source for LIS, HIS and interface-engine feeds.
//
// Failure modes handled:
//  1. A message the agent cannot take (bad charset, bad MSH, no key): AE with an ERR
//     saying why; the connection goes on serving later frames.
//  2. The agent refuses for a reason of its own (admission check, store failure, an
//     internal error): AR, so the sender keeps the message and retries; nothing is
//     claimed durable.
//  3. AA only once the writer has resolved, i.e. the event is durable (invariant 1);
//     a retransmission the store recognises as a duplicate is answered AA again.
//  4. Pipelined frames: processed concurrently (one group commit can take them all)
//     but answered strictly in arrival order on their connection. A sender that
//     pipelines without bound is paused at maxPipelinedFrames.
//  5. A frame larger than maxFrameBytes: AE, then that connection is closed (the
//     stream position inside it is lost), others are unaffected.
//  6. Peers that vanish, reset or half-close: socket errors are logged, never thrown;
//     ACKs still owed to a half-closed peer are written before the socket is ended.
//  7. stop(): no new connections or frames; frames in flight finish committing and are
//     answered; then sockets are ended, and destroyed after a bounded wait.

import net from 'node:net';
import type { AdmissionCheck, AppendRequest, AppendResult, JournalWriter } from '../store/append-request.js';
import {
  buildAck,
  checkHl7Mapping,
  decodeHl7,
  DEFAULT_MAX_FRAME_BYTES,
  encodeHl7,
  frameMllp,
  Hl7Error,
  Hl7ErrorCode,
  Hl7Message,
  MllpFramer,
  MllpFrameTooLargeError,
  readHl7Header,
  resolveHl7Route,
  type AckCode,
  type AckError,
  type DecodedHl7,
  type Hl7Header,
  type Hl7MappingRule,
} from './hl7/index.js';

/** The logging the listener needs; a pino logger fits. Never given message content (it is patient data). */
export interface MllpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MllpListenerOptions {
  /** The source name, recorded on every event and passed to the admission check, e.g. "lis-mllp". */
  name: string;
  /** Address to listen on, e.g. "0.0.0.0". */
  host: string;
  /** TCP port; 0 picks a free one (tests). The agent's default is 2575. */
  port: number;
  writer: JournalWriter;
  /** The rules in force, usually `mergeMapping(configured)`. Checked in the constructor. */
  mapping: readonly Hl7MappingRule[];
  /** Consulted for every message; a refusal is answered AR with its reason. */
  admission?: AdmissionCheck;
  log: MllpLogger;
  /** Largest MLLP payload accepted, in bytes; default 16 MiB (DEFAULT_MAX_FRAME_BYTES). */
  maxFrameBytes?: number;
  /** Close a connection with nothing in flight after this many ms without data; default 0 (never). */
  idleTimeoutMs?: number;
  /** How long stop() waits for in-flight messages before destroying sockets, in ms; default 5000. */
  stopTimeoutMs?: number;
  /** Unanswered frames per connection before reading from it pauses; default 64. */
  maxPipelinedFrames?: number;
  /**
   * MSH-18 assumed for messages that declare no charset and are not valid UTF-8;
   * default "GB 18030-2000" (DEFAULT_HL7_FALLBACK_CHARSET).
   */
  fallbackCharset?: string;
  /** Clock for ACK timestamps and stats; default `() => new Date()`. */
  now?: () => Date;
}

/** What the dashboard shows for an MLLP source. */
export interface MllpListenerStats {
  /** "stopped" also while stop() is finishing in-flight messages: nothing new is accepted. */
  state: 'listening' | 'stopped';
  /** Open connections. */
  connections: number;
  /** Frames received (blank keep-alive frames excluded). */
  received: number;
  /** Messages answered AA, duplicates included. */
  acknowledged: number;
  /** AA answers to retransmissions the store already held. */
  duplicates: number;
  /** Messages answered AE or AR. */
  rejected: number;
  lastRejection?: { at: Date; code: 'AE' | 'AR'; reason: string };
  lastMessageAt?: Date;
}

/**
 * Default idle timeout: none. Interface engines hold one connection open for days and
 * some reconnect badly; dead peers are found by TCP keepalive instead.
 */
export const DEFAULT_MLLP_IDLE_TIMEOUT_MS = 0;
/** Default bound on stop()'s wait for in-flight messages, in ms. */
export const DEFAULT_MLLP_STOP_TIMEOUT_MS = 5_000;
/** Default unanswered frames per connection before reading pauses. */
export const DEFAULT_MLLP_MAX_PIPELINED_FRAMES = 64;
const KEEPALIVE_DELAY_MS = 30_000;
/** After we end a socket, how long the peer gets to close its side before we destroy it. */
const CLOSE_GRACE_MS = 1_000;

type ListenerState = 'idle' | 'starting' | 'listening' | 'stopping' | 'stopped';

const LEGAL: Record<ListenerState, readonly ListenerState[]> = {
  idle: ['starting', 'stopped'],
  starting: ['listening', 'stopped'],
  listening: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** An ACK ready to write, and what it said. */
interface Answer {
  bytes: Buffer;
  code: AckCode;
}

/** Receives HL7 v2 messages over MLLP and journals them, answering each with an original-mode ACK. */
export class MllpListener {
  private state: ListenerState = 'idle';
  private server: net.Server | undefined;
  private starting: Promise<unknown> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly connections = new Set<MllpConnection>();
  private readonly counts = { received: 0, acknowledged: 0, duplicates: 0, rejected: 0 };
  private lastRejection: MllpListenerStats['lastRejection'];
  private lastMessageAt: Date | undefined;
  private readonly now: () => Date;
  private readonly ackIdPrefix: string;
  private ackSequence = 0;

  /** @throws RangeError when a mapping rule is malformed (naming the rule). */
  constructor(private readonly options: MllpListenerOptions) {
    checkHl7Mapping(options.mapping);
    this.now = options.now ?? (() => new Date());
    // ACK control ids must differ across restarts too; MSH-10 is 20 characters in v2.5.
    this.ackIdPrefix = `WL${Date.now().toString(36).toUpperCase()}`;
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  async start(): Promise<{ host: string; port: number }> {
    this.transition('starting');
    // allowHalfOpen: a sender may send its last frame and FIN; it is still owed the ACK.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server = server;
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.starting = listening.catch(() => undefined);
    try {
      await listening;
    } catch (err) {
      this.transition('stopped');
      throw err;
    }
    server.on('error', (err) => this.options.log.error({ err, source: this.options.name }, 'MLLP server error'));
    this.transition('listening');
    const address = server.address() as net.AddressInfo;
    this.options.log.info({ source: this.options.name, host: address.address, port: address.port }, 'MLLP listener started');
    return { host: address.address, port: address.port };
  }

  /**
   * Stops accepting connections and frames, lets frames in flight commit and be
   * answered, then closes every socket. Resolves within about stopTimeoutMs + 1 s.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  stats(): MllpListenerStats {
    const stats: MllpListenerStats = {
      state: this.state === 'listening' ? 'listening' : 'stopped',
      connections: this.connections.size,
      ...this.counts,
    };
    if (this.lastRejection !== undefined) stats.lastRejection = { ...this.lastRejection };
    if (this.lastMessageAt !== undefined) stats.lastMessageAt = this.lastMessageAt;
    return stats;
  }

  private transition(to: ListenerState): void {
    const from = this.state;
    if (!LEGAL[from].includes(to)) throw new Error(`MLLP listener "${this.options.name}": cannot go from ${from} to ${to}`);
    this.state = to;
    this.options.log.debug({ source: this.options.name, from, to }, `MLLP listener ${from} -> ${to}`);
  }

  private async shutdown(): Promise<void> {
    if (this.state === 'starting') await this.starting;
    if (this.state === 'idle') return this.transition('stopped');
    if (this.state !== 'listening') return;
    this.transition('stopping');
    const server = this.server!;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    const connections = [...this.connections];

    const timeoutMs = this.options.stopTimeoutMs ?? DEFAULT_MLLP_STOP_TIMEOUT_MS;
    const drained = Promise.all(connections.map((c) => c.drain()));
    if ((await raceTimeout(drained, timeoutMs)) === 'timeout') {
      const stuck = connections.filter((c) => !c.ended);
      this.options.log.warn(
        { source: this.options.name, timeoutMs, connections: stuck.length },
        'MLLP stop: messages still in flight; closing their connections unanswered (senders will resend)',
      );
      for (const connection of stuck) connection.destroy();
    }
    const allClosed = Promise.all(connections.map((c) => c.closed));
    if ((await raceTimeout(allClosed, CLOSE_GRACE_MS)) === 'timeout') {
      for (const connection of connections) connection.destroy();
      await allClosed;
    }
    await serverClosed;
    this.transition('stopped');
    this.options.log.info({ source: this.options.name, ...this.counts }, 'MLLP listener stopped');
  }

  private accept(socket: net.Socket): void {
    if (this.state !== 'listening') {
      socket.destroy();
      return;
    }
    const connection = new MllpConnection(socket, {
      log: this.options.log,
      source: this.options.name,
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_MLLP_IDLE_TIMEOUT_MS,
      maxPipelinedFrames: this.options.maxPipelinedFrames ?? DEFAULT_MLLP_MAX_PIPELINED_FRAMES,
      process: (frame) => this.process(frame),
      refuseOversize: (limitBytes) => this.refuseOversize(limitBytes),
    });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  /**
   * One message, from bytes to ACK. Never rejects. Everything before the append is
   * synchronous, so appends are issued in arrival order and the journal keeps the
   * sender's order for pipelined messages.
   */
  private async process(frame: Buffer): Promise<Answer> {
    const { name, log } = this.options;
    this.counts.received++;
    this.lastMessageAt = this.now();
    let header: Hl7Header | undefined;
    let encodeAck = (text: string): Buffer => Buffer.from(text, 'utf8');
    try {
      let decoded: DecodedHl7;
      try {
        decoded = decodeHl7(frame, { fallbackCharset: this.options.fallbackCharset });
      } catch (err) {
        // Latin-1 maps each byte to one character, so the MSH fields the ACK echoes go
        // back byte for byte whatever the undecodable charset really was.
        header = readHl7Header(frame.toString('latin1'));
        encodeAck = (text) => Buffer.from(text, 'latin1');
        throw err;
      }
      // The encoding actually used, which differs from MSH-18 when the fallback applied.
      encodeAck = (text) => encodeHl7(text, decoded.encoding);
      let message: Hl7Message;
      try {
        message = Hl7Message.parse(decoded.text);
      } catch (err) {
        header = readHl7Header(decoded.text);
        throw err;
      }
      header = message;

      const refusal = this.options.admission?.(name);
      if (refusal !== undefined) {
        return this.answer('AR', header, { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: refusal }, encodeAck);
      }
      const route = resolveHl7Route(message, this.options.mapping);
      const messageType = message.triggerEvent === '' ? message.messageType : `${message.messageType}^${message.triggerEvent}`;
      const request: AppendRequest = {
        source: name,
        events: [
          {
            stream: route.stream,
            key: route.key,
            op: route.op,
            contentType: 'hl7v2',
            // Stored as UTF-8 whatever the wire charset; headers.charset keeps the original.
            body: Buffer.from(decoded.text, 'utf8'),
            headers: {
              controlId: message.controlId,
              messageType,
              sendingApplication: message.sendingApplication,
              sendingFacility: message.sendingFacility,
              charset: decoded.charset,
            },
          },
        ],
        // Retransmissions reuse MSH-10 from the same application and facility.
        dedupe: { scope: `${message.sendingApplication}|${message.sendingFacility}`, id: message.controlId },
      };

      let result: AppendResult;
      try {
        result = await this.options.writer.append(request);
      } catch (err) {
        log.error({ err, source: name, controlId: message.controlId }, 'Journal append failed; answering AR');
        const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: 'The agent could not store the message; resend it later' };
        return this.answer('AR', header, error, encodeAck);
      }
      this.counts.acknowledged++;
      if (result.duplicate) this.counts.duplicates++;
      log.debug(
        { source: name, controlId: message.controlId, messageType, stream: route.stream, seqs: result.seqs, duplicate: result.duplicate },
        'HL7 message journaled',
      );
      return this.answer('AA', header, undefined, encodeAck);
    } catch (err) {
      if (err instanceof Hl7Error) return this.answer('AE', header, err, encodeAck);
      log.error({ err, source: name }, 'Unexpected error handling an HL7 message; answering AR');
      const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: 'Internal error in the agent; the message was not stored' };
      return this.answer('AR', header, error, encodeAck);
    }
  }

  private refuseOversize(limitBytes: number): Answer {
    this.counts.received++;
    this.lastMessageAt = this.now();
    const error = {
      hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR,
      message: `MLLP frame larger than ${limitBytes} bytes; closing the connection`,
    };
    return this.answer('AE', undefined, error, (text) => Buffer.from(text, 'utf8'));
  }

  private answer(code: AckCode, original: Hl7Header | undefined, error: AckError | undefined, encode: (text: string) => Buffer): Answer {
    const at = this.now();
    const controlId = `${this.ackIdPrefix}${(++this.ackSequence).toString(36).toUpperCase()}`;
    const text = buildAck({ original, code, error, now: at, controlId });
    if (code !== 'AA') {
      const reason = error?.message ?? code;
      this.counts.rejected++;
      this.lastRejection = { at, code, reason };
      this.options.log.warn(
        {
          source: this.options.name,
          controlId: original?.mshField(10),
          ack: code,
          hl7Code: error?.hl7Code,
          location: error?.location,
          reason,
        },
        `HL7 message answered ${code}`,
      );
    }
    return { bytes: encode(text), code };
  }
}

interface ConnectionContext {
  log: MllpLogger;
  source: string;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxPipelinedFrames: number;
  process(frame: Buffer): Promise<Answer>;
  refuseOversize(limitBytes: number): Answer;
}

/** One sender's socket: frames in, ACKs out in the same order. */
class MllpConnection {
  private readonly framer: MllpFramer;
  /** Resolves once every ACK queued so far has been written. */
  private tail: Promise<void> = Promise.resolve();
  private unanswered = 0;
  /** No more frames are taken; the socket is ended once the queued ACKs are out. */
  private closing = false;
  private socketEnded = false;
  private readonly peer: string;
  /** Resolves when the socket has closed, whichever side closed it. */
  readonly closed: Promise<void>;

  constructor(
    private readonly socket: net.Socket,
    private readonly context: ConnectionContext,
  ) {
    this.framer = new MllpFramer(context.maxFrameBytes);
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
        context.log.debug({ source: context.source, peer: this.peer }, 'MLLP connection closed');
        resolve();
      }),
    );
    context.log.debug({ source: context.source, peer: this.peer }, 'MLLP connection opened');
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
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (err) {
      // Only MllpFrameTooLargeError is thrown; where the next frame starts is unknowable.
      const tooLarge = err as MllpFrameTooLargeError;
      this.processFrames(tooLarge.completedFrames ?? []);
      const limitBytes = tooLarge.limitBytes ?? this.context.maxFrameBytes;
      this.closing = true;
      this.enqueue(Promise.resolve(this.context.refuseOversize(limitBytes)));
      void this.finish();
      return;
    }
    this.processFrames(frames);
  }

  private processFrames(frames: Buffer[]): void {
    for (const frame of frames) {
      if (isBlank(frame)) {
        this.context.log.debug({ source: this.context.source, peer: this.peer }, 'Blank MLLP frame ignored');
        continue;
      }
      this.enqueue(this.context.process(frame));
    }
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
    this.context.log.info({ source: this.context.source, peer: this.peer }, 'Closing idle MLLP connection');
    this.closing = true;
    void this.finish();
  }

  private enqueue(answer: Promise<Answer>): void {
    this.unanswered++;
    if (this.unanswered >= this.context.maxPipelinedFrames) this.socket.pause();
    this.tail = this.tail
      .then(() => answer)
      .then((a) => {
        this.unanswered--;
        this.write(a);
        if (!this.closing && this.unanswered < this.context.maxPipelinedFrames) this.socket.resume();
      })
      .catch((err: unknown) => {
        // process() never rejects; if it somehow did, order is lost and so is the connection.
        this.context.log.error({ err, source: this.context.source, peer: this.peer }, 'MLLP answer failed; closing connection');
        this.socket.destroy();
      });
  }

  private write(answer: Answer): void {
    if (!this.socket.writable) {
      // The message is journaled (or refused) all the same; the sender will resend and get AA.
      this.context.log.debug({ source: this.context.source, peer: this.peer, ack: answer.code }, 'Peer gone before its ACK');
      return;
    }
    this.socket.write(frameMllp(answer.bytes));
  }

  private async finish(): Promise<void> {
    await this.tail;
    if (this.socketEnded) return;
    this.socketEnded = true;
    this.socket.end();
    // Read (and ignore) until the peer's FIN so the socket can close; don't wait forever.
    this.socket.resume();
    const timer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }
}

function isBlank(frame: Buffer): boolean {
  for (const byte of frame) if (byte !== 0x0d && byte !== 0x0a && byte !== 0x20 && byte !== 0x09) return false;
  return true;
}

async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise.then(() => 'done' as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
