// HL7 v2 over MLLP: the source for LIS, HIS and interface-engine feeds. This file
// is the TCP server and the Source; mllp-connection.ts is one sender's socket and
// hl7-intake.ts what a frame means (no I/O), as tagged below.
//
// Failure modes handled:
//  1. [intake] A message the agent cannot take (bad charset, bad MSH, no key): AE
//     with an ERR saying why; the connection goes on serving later frames.
//  2. [intake] The agent refuses for a reason of its own (admission check, store
//     failure, an internal error): AR, so the sender keeps the message and retries;
//     nothing is claimed durable.
//  3. [intake] AA only once the writer has resolved, i.e. the event is durable
//     (invariant 1); a retransmission the store recognises as a duplicate is answered
//     AA again.
//  4. [connection] Pipelined frames: processed concurrently (one group commit can
//     take them all) but answered strictly in arrival order on their connection. A
//     sender that pipelines without bound is paused at maxPipelinedFrames.
//  5. [connection] A frame larger than maxFrameBytes: AE, then that connection is
//     closed (the stream position inside it is lost), others are unaffected.
//  6. [connection] Peers that vanish, reset or half-close: socket errors are logged,
//     never thrown; ACKs still owed to a half-closed peer are written before the
//     socket is ended.
//  7. [listener] stop(): no new connections or frames; frames in flight finish
//     committing and are answered; then sockets are ended, and destroyed after a
//     bounded wait.
//  8. [intake] A retransmission is the same message: the dedupe key carries the
//     content's digest (without MSH-7). The same MSH-10 with other content (a spoofed
//     message that took the sender's next control id, a sender whose counter reset)
//     is journaled as a new event, logged and reported for the control-id-reused
//     alert.
//  9. [listener, connection] Floods: at maxConnections, a new connection closes the
//     one idle longest (or is closed itself when every one has a message in flight);
//     bytes held in unfinished and unanswered frames across connections are bounded
//     by maxBufferedBytes (a complete frame over it is answered AR, an unfinished one
//     AR from its MSH and the connection closed); a frame of more than maxSegments
//     segments is dropped as it arrives and answered AR; a connection idle for
//     idleTimeoutMs (default 5 min) is closed. Each refusal is logged with the peer.
// 10. [intake: pause; listener: setImmediate] A large message does not hold the event
//     loop for its whole parse: decoding, parsing and hashing yield between them, so
//     other senders' ACKs go out; a connection's messages are still appended in their
//     arrival order.

import net from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES, type Hl7MappingRule } from '../../hl7/index.js';
import type { JournalWriter, Rejection } from '../../store/index.js';
import type { AdmissionCheck, Source, SourceAddress, SourceStatus } from '../source.js';
import type { RejectionKind } from '../rejection-kind.js';
import { DEFAULT_MLLP_MAX_BUFFERED_BYTES, MllpByteBudget } from './mllp-byte-budget.js';
import type { ControlIdReuse } from './control-id-reuse-log.js';
import { Hl7Intake, type Answer, type MllpLogger } from './hl7-intake.js';
import { CLOSE_GRACE_MS, MllpConnection } from './mllp-connection.js';

export type { MllpLogger } from './hl7-intake.js';

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
  /** Told, for each ACK written, the seconds since its frame was complete and the ACK code (the agent's latency histogram). */
  observeAckLatency?: (seconds: number, code: string) => void;
  /** Told of every AE and AR answered, with the sender's address (the rejected-message list); must be cheap. */
  onRejection?: (rejection: Rejection) => void;
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
  lastRejection?: { at: Date; code: 'AE' | 'AR'; reason: string; kind: RejectionKind };
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
/** At most this many refusal log lines a second per listener; the rest are counted in the next line. */
const REFUSAL_LOG_PER_SECOND = 20;
/** Default bound on stop()'s wait for in-flight messages, in ms. */
export const DEFAULT_MLLP_STOP_TIMEOUT_MS = 5_000;
/** Default unanswered frames per connection before reading pauses. */
export const DEFAULT_MLLP_MAX_PIPELINED_FRAMES = 64;

type ListenerState = 'idle' | 'starting' | 'listening' | 'stopping' | 'stopped';

const LEGAL: Record<ListenerState, readonly ListenerState[]> = {
  idle: ['starting', 'stopped'],
  starting: ['listening', 'stopped'],
  listening: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** Receives HL7 v2 messages over MLLP and journals them, answering each with an original-mode ACK. */
export class MllpListener implements Source {
  readonly kind = 'mllp' as const;
  private state: ListenerState = 'idle';
  private server: net.Server | undefined;
  private starting: Promise<unknown> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly connections = new Set<MllpConnection>();
  private connectionsRefused = 0;
  private readonly budget: MllpByteBudget;
  private readonly intake: Hl7Intake;
  private readonly refusalLog = { second: 0, lines: 0, suppressed: 0 };
  private readonly now: () => Date;
  /** The port bound by start(); until then the configured one. */
  private boundPort: number | undefined;

  /** @throws RangeError when a mapping rule is malformed (naming the rule), or maxBufferedBytes cannot hold a maxFrameBytes frame. */
  constructor(private readonly options: MllpListenerOptions) {
    this.now = options.now ?? (() => new Date());
    // ACK control ids must differ across restarts too; MSH-10 is 20 characters in v2.5.
    this.intake = new Hl7Intake({
      source: options.name,
      writer: options.writer,
      mapping: options.mapping,
      admission: options.admission,
      log: options.log,
      fallbackCharset: options.fallbackCharset,
      now: this.now,
      pause: yieldToEventLoop,
      ackIdPrefix: `WL${Date.now().toString(36).toUpperCase()}`,
    });
    this.budget = new MllpByteBudget(options.maxBufferedBytes ?? DEFAULT_MLLP_MAX_BUFFERED_BYTES);
    const problem = this.budget.problemWith(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    if (problem !== undefined) throw new RangeError(`MLLP source "${options.name}": maxBufferedBytes (${this.budget.limitBytes}): ${problem}`);
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  get name(): string {
    return this.options.name;
  }

  async start(): Promise<SourceAddress> {
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
    this.boundPort = address.port;
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
      ...this.intake.counts,
      connectionsRefused: this.connectionsRefused,
      controlIdReuse: this.intake.controlIdReuse(),
    };
    const { lastRejection, lastMessageAt } = this.intake;
    if (lastRejection !== undefined) stats.lastRejection = { ...lastRejection };
    if (lastMessageAt !== undefined) stats.lastMessageAt = lastMessageAt;
    return stats;
  }

  /** The source's line of /v1/status: `listen` names the bound port once started. */
  status(): SourceStatus {
    const stats = this.stats();
    return {
      name: this.options.name,
      kind: 'mllp',
      state: stats.state,
      listen: `${this.options.host}:${this.boundPort ?? this.options.port}`,
      received: stats.received,
      acknowledged: stats.acknowledged,
      rejected: stats.rejected,
      duplicates: stats.duplicates,
      lastRejection: stats.lastRejection ? { atMs: stats.lastRejection.at.getTime(), reason: stats.lastRejection.reason, kind: stats.lastRejection.kind } : null,
      lastMessageAtMs: stats.lastMessageAt === undefined ? null : stats.lastMessageAt.getTime(),
      controlIdReuse: stats.controlIdReuse,
      controlIdsReused: stats.controlIdsReused,
      connectionsRefused: stats.connectionsRefused,
    };
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
    this.options.log.info({ source: this.options.name, ...this.intake.counts, connectionsRefused: this.connectionsRefused }, 'MLLP listener stopped');
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
      prepare: (frame) => this.intake.prepare(frame),
      commit: (prepared) => this.intake.commit(prepared),
      refuseOversize: (limitBytes) => this.intake.refuseOversize(limitBytes),
      refuseFrame: (head, reason, peer) => this.refuseFrame(head, reason, peer),
      refused: (peer, reason) => this.refused(peer, reason),
      observeAckLatency: this.options.observeAckLatency,
      rejected: (peer, answer) => this.rejected(peer, answer),
    });
    this.connections.add(connection);
    void connection.closed.then(() => this.connections.delete(connection));
  }

  /**
   * Answers AR to a frame the agent will not take for a limit of its own
   * (maxSegments, maxBufferedBytes), from what its head holds of MSH.
   */
  private refuseFrame(head: Buffer, reason: string, peer: string | undefined): Answer {
    if (peer !== undefined) this.refusalLine(peer, reason);
    return this.intake.refuseFrame(head, reason);
  }

  /** A connection closed for a limit (maxConnections, maxBufferedBytes). */
  private rejected(peer: string, answer: Answer): void {
    const { onRejection } = this.options;
    if (!onRejection || (answer.code !== 'AE' && answer.code !== 'AR')) return;
    onRejection({
      atMs: this.now().getTime(),
      source: this.options.name,
      peer,
      ackCode: answer.code,
      reason: answer.rejection?.reason ?? answer.code,
      ...(answer.rejection?.controlId ? { controlId: answer.rejection.controlId } : {}),
    });
  }

  private refused(peer: string, reason: string): void {
    this.connectionsRefused++;
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
}

/** Lets I/O callbacks (other connections' reads and ACK writes) run before going on. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
