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
//  8. A retransmission is the same message: the dedupe key carries the content's
//     digest (without MSH-7). The same MSH-10 with other content (a spoofed message
//     that took the sender's next control id, a sender whose counter reset) is
//     journaled as a new event, logged and reported for the control-id-reused alert.
//  9. Floods: at maxConnections, a new connection closes the one idle longest (or is
//     closed itself when every one has a message in flight); bytes held in
//     unfinished and unanswered frames across connections are bounded by
//     maxBufferedBytes (a complete frame over it is answered AR, an unfinished one AR
//     from its MSH and the connection closed); a frame of more than maxSegments
//     segments is dropped as it arrives and answered AR; a connection idle for
//     idleTimeoutMs (default 5 min) is closed. Each refusal is logged with the peer.
// 10. A large message does not hold the event loop for its whole parse: decoding,
//     parsing and hashing yield between them, so other senders' ACKs go out; a
//     connection's messages are still appended in their arrival order.

import net from 'node:net';
import type { AdmissionCheck, AppendRequest, AppendResult, JournalWriter } from '../../store/append-request.js';
import {
  buildAck,
  checkHl7Mapping,
  decodeHl7,
  DEFAULT_MAX_FRAME_BYTES,
  encodeHl7,
  frameMllp,
  Hl7Error,
  Hl7ErrorCode,
  hl7ContentDigest,
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
  MLLP_REFUSED_FRAME_HEAD_BYTES,
  type MllpFrame,
} from '../../hl7/index.js';
import { DEFAULT_MLLP_MAX_BUFFERED_BYTES, MllpByteBudget } from './mllp-byte-budget.js';
import { ControlIdReuseLog, type ControlIdReuse } from './control-id-reuse-log.js';

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
  /** Close a connection with nothing in flight after this many ms without data; 0 never; default 5 min (DEFAULT_MLLP_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** Open connections at most; one more is closed on accept. Default DEFAULT_MLLP_MAX_CONNECTIONS (100). */
  maxConnections?: number;
  /** Bytes held in unfinished and unanswered frames across connections; default 64 MiB (DEFAULT_MLLP_MAX_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
  /** Segments in one message at most; default DEFAULT_MLLP_MAX_SEGMENTS (50 000). */
  maxSegments?: number;
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
  /** Messages journaled although their MSH-10 was held with other content. */
  controlIdsReused: number;
  /** Connections closed on accept (maxConnections) or for holding too many bytes (maxBufferedBytes). */
  connectionsRefused: number;
  /** The senders that reused a control id, newest first (at most CONTROL_ID_REUSE_SENDERS). */
  controlIdReuse: ControlIdReuse[];
  lastRejection?: { at: Date; code: 'AE' | 'AR'; reason: string };
  lastMessageAt?: Date;
}

/**
 * Default idle timeout: 5 minutes. Interface engines hold one connection open for
 * days, but they reconnect when they next have a message (every MLLP client must,
 * after a network cut); without a timeout, 2,000 idle connections stayed open
 * forever. Set 0 for a sender that truly cannot reconnect.
 */
export const DEFAULT_MLLP_IDLE_TIMEOUT_MS = 5 * 60_000;
/** Default bound on open connections per listener: a hospital has a few interface engines, each with a few connections. */
export const DEFAULT_MLLP_MAX_CONNECTIONS = 100;
/**
 * Default bound on segments per message. The largest real messages (a radiology
 * report as one OBX per line, a cumulative lab result) hold a few thousand; 4
 * million one-byte segments cost ~700 MB and 1.3 s of event loop to split.
 */
export const DEFAULT_MLLP_MAX_SEGMENTS = 50_000;
/** Frames from this size on are decoded, parsed and hashed in slices (setImmediate between). */
const SLICE_FRAME_BYTES = 256 * 1024;
/** At most this many refusal log lines a second per listener; the rest are counted in the next line. */
const REFUSAL_LOG_PER_SECOND = 20;
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

/** A message parsed and mapped, ready to append. */
interface PreparedMessage {
  request: AppendRequest;
  message: Hl7Message;
  messageType: string;
  stream: string;
  encodeAck: (text: string) => Buffer;
}

/** What prepare() made of a frame: a message to append, or already its answer. */
type Prepared = PreparedMessage | { answer: Answer };

/** Receives HL7 v2 messages over MLLP and journals them, answering each with an original-mode ACK. */
export class MllpListener {
  private state: ListenerState = 'idle';
  private server: net.Server | undefined;
  private starting: Promise<unknown> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly connections = new Set<MllpConnection>();
  private readonly counts = { received: 0, acknowledged: 0, duplicates: 0, rejected: 0, controlIdsReused: 0, connectionsRefused: 0 };
  private readonly budget: MllpByteBudget;
  private readonly reuse = new ControlIdReuseLog();
  private readonly refusalLog = { second: 0, lines: 0, suppressed: 0 };
  private lastRejection: MllpListenerStats['lastRejection'];
  private lastMessageAt: Date | undefined;
  private readonly now: () => Date;
  private readonly ackIdPrefix: string;
  private ackSequence = 0;

  /** @throws RangeError when a mapping rule is malformed (naming the rule), or maxBufferedBytes cannot hold a maxFrameBytes frame. */
  constructor(private readonly options: MllpListenerOptions) {
    checkHl7Mapping(options.mapping);
    this.now = options.now ?? (() => new Date());
    this.budget = new MllpByteBudget(options.maxBufferedBytes ?? DEFAULT_MLLP_MAX_BUFFERED_BYTES);
    const problem = this.budget.problemWith(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    if (problem !== undefined) throw new RangeError(`MLLP source "${options.name}": maxBufferedBytes (${this.budget.limitBytes}): ${problem}`);
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
      controlIdReuse: this.reuse.list(),
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
    const maxConnections = this.options.maxConnections ?? DEFAULT_MLLP_MAX_CONNECTIONS;
    if (this.connections.size >= maxConnections) {
      // Room is made by closing the connection quiet the longest, so idle connections
      // held open by a flood cannot lock a real sender out; when every connection has
      // a message in flight, the newcomer is closed. Nothing has been read from either,
      // so there is no frame to answer: the close is the refusal.
      const idlest = [...this.connections].filter((c) => c.evictable).sort((a, b) => a.lastActiveMs - b.lastActiveMs)[0];
      if (idlest === undefined) {
        this.refused(`${socket.remoteAddress}:${socket.remotePort}`, `maxConnections (${maxConnections}) open, each with a message in flight; new connection closed`);
        socket.destroy();
        return;
      }
      this.refused(idlest.peer, `maxConnections (${maxConnections}) open; closed the connection idle longest to make room`);
      this.connections.delete(idlest);
      idlest.destroy();
    }
    const connection = new MllpConnection(socket, {
      log: this.options.log,
      source: this.options.name,
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxSegments: this.options.maxSegments ?? DEFAULT_MLLP_MAX_SEGMENTS,
      idleTimeoutMs: this.options.idleTimeoutMs ?? DEFAULT_MLLP_IDLE_TIMEOUT_MS,
      maxPipelinedFrames: this.options.maxPipelinedFrames ?? DEFAULT_MLLP_MAX_PIPELINED_FRAMES,
      budget: this.budget,
      prepare: (frame) => this.prepare(frame),
      commit: (prepared) => this.commit(prepared),
      refuseOversize: (limitBytes) => this.refuseOversize(limitBytes),
      refuseFrame: (head, reason, peer) => this.refuseFrame(head, reason, peer),
      refused: (peer, reason) => this.refused(peer, reason),
    });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  /**
   * A message from bytes to its append request, or to its answer when it cannot be
   * taken. Never rejects. A large frame yields to the event loop between decoding,
   * parsing and hashing; the connection runs its frames' prepare() one after another
   * and commit() at once after each, so appends keep the sender's order.
   */
  private async prepare(frame: Buffer): Promise<Prepared> {
    const { name } = this.options;
    this.counts.received++;
    this.lastMessageAt = this.now();
    const slice = frame.length >= SLICE_FRAME_BYTES;
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
      if (slice) await yieldToEventLoop();
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
        return { answer: this.answer('AR', header, { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: refusal }, encodeAck) };
      }
      const route = resolveHl7Route(message, this.options.mapping);
      const messageType = message.triggerEvent === '' ? message.messageType : `${message.messageType}^${message.triggerEvent}`;
      if (slice) await yieldToEventLoop();
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
        // Retransmissions reuse MSH-10 from the same application and facility, and
        // are the same message: the digest tells them from a reused control id.
        dedupe: { scope: `${message.sendingApplication}|${message.sendingFacility}`, id: message.controlId, digest: hl7ContentDigest(message) },
      };
      return { request, message, messageType, stream: route.stream, encodeAck };
    } catch (err) {
      return { answer: this.failed(err, header, encodeAck) };
    }
  }

  /** Appends a prepared message and answers it. Never rejects; calls the writer before its first await. */
  private async commit(prepared: PreparedMessage): Promise<Answer> {
    const { name, log } = this.options;
    const { request, message, messageType, encodeAck } = prepared;
    let result: AppendResult;
    try {
      result = await this.options.writer.append(request);
    } catch (err) {
      log.error({ err, source: name, controlId: message.controlId }, 'Journal append failed; answering AR');
      const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: 'The agent could not store the message; resend it later' };
      return this.answer('AR', message, error, encodeAck);
    }
    this.counts.acknowledged++;
    if (result.duplicate) this.counts.duplicates++;
    if (result.idReused === true) this.controlIdReused(message, result.seqs[0] ?? 0);
    log.debug(
      { source: name, controlId: message.controlId, messageType, stream: prepared.stream, seqs: result.seqs, duplicate: result.duplicate },
      'HL7 message journaled',
    );
    return this.answer('AA', message, undefined, encodeAck);
  }

  private failed(err: unknown, header: Hl7Header | undefined, encodeAck: (text: string) => Buffer): Answer {
    if (err instanceof Hl7Error) return this.answer('AE', header, err, encodeAck);
    this.options.log.error({ err, source: this.options.name }, 'Unexpected error handling an HL7 message; answering AR');
    const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: 'Internal error in the agent; the message was not stored' };
    return this.answer('AR', header, error, encodeAck);
  }

  /** Names the sender and the control id, never the content (it is patient data). */
  private controlIdReused(message: Hl7Message, seq: number): void {
    this.counts.controlIdsReused++;
    const reuse = this.reuse.record({
      sendingApplication: message.sendingApplication,
      sendingFacility: message.sendingFacility,
      controlId: message.controlId,
      seq,
      atMs: this.now().getTime(),
    });
    this.options.log.warn(
      { source: this.options.name, sendingApplication: reuse.sendingApplication, sendingFacility: reuse.sendingFacility, controlId: reuse.controlId, seq, reuses: reuse.count },
      'HL7 control id reused with different content: journaled as a new message (a spoofed message, or a sender whose counter reset)',
    );
  }

  /**
   * Answers AR to a frame the agent will not take for a limit of its own
   * (maxSegments, maxBufferedBytes), from what its head holds of MSH.
   */
  private refuseFrame(head: Buffer, reason: string, peer: string | undefined): Answer {
    this.counts.received++;
    this.lastMessageAt = this.now();
    if (peer !== undefined) this.refusalLine(peer, reason);
    const error = { hl7Code: Hl7ErrorCode.APPLICATION_INTERNAL_ERROR, message: reason };
    return this.answer('AR', readHl7Header(head.toString('latin1')), error, (text) => Buffer.from(text, 'latin1'));
  }

  /** A connection closed for a limit (maxConnections, maxBufferedBytes). */
  private refused(peer: string, reason: string): void {
    this.counts.connectionsRefused++;
    this.refusalLine(peer, reason);
  }

  /** One warn line per refusal naming the peer, at most REFUSAL_LOG_PER_SECOND a second; the rest are counted. */
  private refusalLine(peer: string, reason: string): void {
    const second = Math.floor(this.now().getTime() / 1000);
    const log = this.refusalLog;
    if (second !== log.second) {
      log.second = second;
      log.lines = 0;
    }
    if (log.lines >= REFUSAL_LOG_PER_SECOND) {
      log.suppressed++;
      return;
    }
    log.lines++;
    const suppressed = log.suppressed;
    log.suppressed = 0;
    this.options.log.warn({ source: this.options.name, peer, reason, ...(suppressed > 0 ? { suppressedSinceLastLine: suppressed } : {}) }, `MLLP refused: ${reason}`);
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
}

/** One sender's socket: frames in, ACKs out in the same order. */
class MllpConnection {
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
    this.tail = this.tail
      .then(() => answer)
      .then((a) => {
        this.unanswered--;
        this.releaseComplete(reservedBytes);
        this.write(a);
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

/** Lets I/O callbacks (other connections' reads and ACK writes) run before going on. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
