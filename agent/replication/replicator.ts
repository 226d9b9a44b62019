// Replicates the agent's feeds to one relay over one stream.
//
// The loop: connect -> Hello/Welcome (the relay's durable high-water mark per
// feed) -> one pump per feed (feed-pump.ts) streams batches, each the next
// contiguous journal range, several in flight, each sent only when the shared
// uplink grants it (bandwidth/uplink.ts: rate limit, priority classes,
// timetable) -> on any failure, back off with jitter and start again from the
// relay's Welcome. Nothing about progress is trusted from memory across streams.
//
// Failure modes handled:
//  1. Relay down: open() fails; backoff grows to its cap; ingest is unaffected
//     because the backlog is simply the journal after the acked seq. An attempt
//     that timed out into a dark line counts against its backoff (backoff()), so
//     the line's return is met by an attempt already under way.
//  2. Dead or half-open link: keepalive (transport) or the ack timeout here closes
//     the stream within seconds.
//  3. Gap nack: resend from the relay's expected seq (FeedWindow, FeedPump).
//  4. Misbehaving relay (ack beyond what was sent): stream closed, resume from Welcome.
//  5. stop() during any phase: the current stream is closed (a connect attempt
//     under way is abandoned, its connection torn down) and the loop ends.
//  6. Replies that arrive after their stream ended: ignored; the next Welcome rules.
//  7. A revoke or reinstate whose answer is lost with its stream: kept pending
//     and sent again after the next Welcome (the relay's handling is idempotent).
//  8. The relay holds a feed as revoked (Welcome, or a Nack REVOKED): that
//     feed's pump stops handing over batches; the others go on.
//  9. The relay's Welcome holds a feed beyond the agent's journal head: that
//     feed stops with an integrity incident (FeedWindow), its acks are not
//     advanced, an error is logged and the alert rule feed-integrity fires;
//     the other feeds go on.
// 10. An older relay refuses protocol 2 (RelayProtocolTooOldError): the next
//     attempt starts at once in the relay's version, without inbound channels;
//     the feeds replicate as before and the inbound channels show the problem.
//     Protocol 2 is tried again on the first reconnect OLDER_RELAY_RETRY_MS
//     later (or at restart), so an upgraded relay is noticed without an operator.
// 11. The downlink (options.downlink): the InboundLink runs on each streaming
//     session whose Welcome offers it; deliveries, receipt acks and backlog
//     reports of a stream that ended are ignored, like every other reply.
import { INBOUND_FEATURE, PROTOCOL_VERSION, PURGE_FEATURE, type CodecName, type InboundChannelDeclaration } from '../../protocol/index.js';
import type { EgressRecorder, ReceiptRecorder } from '../audit/index.js';
import { InboundLink, type InboundIntake, type SqliteReceiptOutbox } from '../downlink/index.js';
import { DEFAULT_FEED_CLASS, Uplink } from '../bandwidth/index.js';
import type { FeedAcks, Journal, ReadLimits } from '../store/index.js';
import type { VendorPositions } from './vendor-positions.js';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import { AckTimeoutError, RelayLinkError, RelayProtocolTooOldError, RelayProtocolViolation } from './errors.js';
import { InstanceClaims } from './instance-claims.js';
import type { CompressionLevelSetting } from './compression-governor.js';
import { FeedPump, type FeedReplicationStatus, type ReplicatedFeed } from './feed-pump.js';
import { LinkStateMachine, type LinkTransition } from './link-state.js';
import { linkErrorKind, type LinkErrorKind } from './link-error-kind.js';
import type { FeedControlAnswer, FeedControlRequest, HelloInfo, NackReason, RelaySession, RelayTransport } from './relay-transport.js';
import { systemTimers, type TimerHandle, type Timers } from '../../runtime/index.js';
import type { InstanceArchive } from '../imaging/index.js';
import type { LeafFault } from './fault-locator.js';
import type { FeedProofStore } from './feed-proof-store.js';
import { FeedProver } from './feed-prover.js';
import type { ProofConfig } from './proof-config.js';

export type { FeedReplicationStatus, ReplicatedFeed } from './feed-pump.js';

export interface ReplicatorLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface ReplicatorOptions {
  relayName: string;
  transport: RelayTransport;
  journal: Journal;
  feedAcks: FeedAcks;
  feeds: ReplicatedFeed[];
  hello: Omit<HelloInfo, 'feeds'>;
  codec: CodecName;
  /** The codec's level, or 'adaptive' (compression-governor.ts). Default: the codec's default level. */
  compressionLevel?: CompressionLevelSetting;
  limits: ReadLimits;
  /** Batches per feed awaiting a reply at once. */
  maxInFlight: number;
  /** A batch unanswered this long means the link is dead, in ms. */
  ackTimeoutMs: number;
  /** How often a feed whose streams are quiet still advances its high-water mark, in ms. */
  emptyBatchIntervalMs: number;
  /** How often the acked seq is saved locally, in ms (the relay remains the authority). */
  ackPersistIntervalMs: number;
  backoff: BackoffPolicy;
  log: ReplicatorLogger;
  /**
   * The agent's uplink, shared with every other replicator (one line, one
   * budget). Default: a private unlimited uplink with the feeds' classes.
   */
  uplink?: Uplink;
  clock?: () => number;
  /** Default: the system timers (the backoff wait, the ack-timeout tick, the pumps' waits). */
  timers?: Timers;
  random?: () => number;
  /** Where every batch is recorded before it leaves (agent/audit); none = no ledger. */
  egress?: EgressRecorder;
  /** Told, per feed, the seconds from each batch's hand-over to the relay's ack (the agent's latency histogram). */
  observeRoundTrip?: (feed: string, seconds: number) => void;
  /** Keeps the vendors' read positions the relay reports; none = dropped. */
  vendorPositions?: VendorPositions;
  /** The hospital's instance archive: imaging feeds ship their instances' chunks from it; none = such feeds are held. */
  archive?: InstanceArchive;
  /** Completeness proofs (replication.proofs, feed-prover.ts); none = no leaves kept, no proofs. */
  proofs?: {
    config: ProofConfig;
    store: FeedProofStore;
    /** Told each new integrity incident once (the egress ledger's 'integrity-incident' record). */
    onIncident?: (feed: string, fault: LeafFault, problem: string) => void;
    /** The last seq the journal trimmer has deleted (leaves through it are dropped); absent = leaves are kept. */
    journalTrimmedThrough?: () => number;
  };
  /**
   * The downlink on this relay: the channels declared in Hello (protocol 2), the
   * intake that journals what arrives, the outbox receipts leave from, and the
   * ledger each receipt is recorded in before it first leaves (none = no record).
   * A replicator with a downlink runs even with no feed.
   */
  downlink?: { channels: InboundChannelDeclaration[]; intake: InboundIntake; outbox: SqliteReceiptOutbox; ledger?: ReceiptRecorder };
}

/** How long the agent keeps speaking an older relay's protocol before trying PROTOCOL_VERSION again, in ms. */
export const OLDER_RELAY_RETRY_MS = 10 * 60 * 1000;

/** The downlink of one relay as status shows it (Replicator.inboundStatus). */
export interface InboundLinkStatus {
  relay: string;
  /** The protocol version of the last Hello sent (PROTOCOL_VERSION unless the relay is older). */
  protocolVersion: number;
  /** Why inbound events cannot come from this relay; null when they can (or no stream was welcomed yet). */
  problem: string | null;
  channels: { channel: string; atRelay: { waiting: number; oldestReceivedAtMs: number | null; reportedAtMs: number } | null }[];
}

/** Told of what the relay says about whole feeds (the feed controls listen: FeedLink.listen). */
export interface ReplicatorListener {
  /** The relay answered a revoke or reinstate, possibly on a later stream than the request's. */
  onControlAnswer(relay: string, answer: FeedControlAnswer): void;
  /** A Welcome arrived; `revoked` are the feeds the relay holds as revoked. Called before any batch is sent. */
  onWelcome(relay: string, revoked: ReadonlySet<string>): void;
}

/** Why a pump stops when the relay holds its feed as revoked. */
const RELAY_REVOKED = 'revoked at the relay: it deleted the feed and refuses its batches until the feed is re-enabled (wardline agent reenable)';

export interface ReplicatorStatus {
  relay: string;
  state: LinkTransition['to'];
  sinceMs: number;
  /** When the link last stopped streaming, across every retry since (ms since the epoch); null while streaming. */
  downSinceMs: number | null;
  lastError: string | null;
  /** What kind of failure lastError is, for readers of other languages; null with no error. */
  lastErrorKind: LinkErrorKind | null;
  relayId: string | null;
  reconnects: number;
  nextAttemptAtMs: number | null;
  feeds: FeedReplicationStatus[];
  transitions: LinkTransition[];
}

/** One stream's lifetime: the signal every pump watches and the reason it ended. */
class StreamLife {
  private readonly controller = new AbortController();
  readonly ended: Promise<Error | undefined>;
  private resolveEnded!: (error: Error | undefined) => void;

  constructor() {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get over(): boolean {
    return this.controller.signal.aborted;
  }

  end(error: Error | undefined): void {
    if (this.over) return;
    this.controller.abort(error);
    this.resolveEnded(error);
  }
}

export class Replicator {
  readonly link: LinkStateMachine;
  private readonly clock: () => number;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly listeners: ReplicatorListener[] = [];
  private readonly uplink: Uplink;
  private readonly pumps = new Map<string, FeedPump>();
  private readonly provers = new Map<string, FeedProver>();
  private readonly persistedAckedSeq = new Map<string, number>();
  private stopping = false;
  private running: Promise<void> | undefined;
  private session: RelaySession | undefined;
  private attempt = 0;
  private reconnects = 0;
  private relayId: string | null = null;
  private nextAttemptAtMs: number | null = null;
  private cancelSleep: (() => void) | undefined;
  /** Set by reconnectNow(); the next backoff waits 0 ms. */
  private reconnectRequested = false;
  /** Abandons the connect attempt under way (its channel is torn down); undefined between attempts. */
  private abandonAttempt: AbortController | undefined;
  /** Revoke / reinstate requests not yet answered, latest per feed; sent after every Welcome. */
  private readonly pendingControls = new Map<string, FeedControlRequest>();
  /** The relay refused PROTOCOL_VERSION: the version it speaks, until when it is spoken (failure mode 10). */
  private olderRelay: { version: number; untilMs: number } | undefined;
  /** The version of the last Hello sent. */
  private helloVersion = PROTOCOL_VERSION;
  /** Why the last Welcome brought no downlink; null when it did or none came yet. */
  private inboundProblem: string | null = null;
  private readonly inboundLink: InboundLink | undefined;

  constructor(private readonly options: ReplicatorOptions) {
    this.clock = options.clock ?? Date.now;
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? Math.random;
    this.link = new LinkStateMachine(options.relayName, options.log, this.clock);
    const downlink = options.downlink;
    this.inboundLink =
      downlink && downlink.channels.length > 0
        ? new InboundLink({ relay: options.relayName, intake: downlink.intake, outbox: downlink.outbox, ...(downlink.ledger ? { ledger: downlink.ledger } : {}), log: options.log, clock: this.clock })
        : undefined;
    this.uplink = options.uplink ?? new Uplink({ classes: [...new Set(options.feeds.map((f) => f.class ?? DEFAULT_FEED_CLASS))], clock: this.clock });
    const saved = options.feedAcks.all();
    // One per relay: its feeds' shippers never send the same instance at once.
    const instanceClaims = new InstanceClaims();
    for (const spec of options.feeds) {
      const acked = saved.get(spec.name) ?? 0;
      this.persistedAckedSeq.set(spec.name, acked);
      this.pumps.set(
        spec.name,
        new FeedPump({
          spec,
          journal: options.journal,
          uplink: this.uplink,
          codec: options.codec,
          ...(options.compressionLevel !== undefined ? { compressionLevel: options.compressionLevel } : {}),
          limits: options.limits,
          maxInFlight: options.maxInFlight,
          emptyBatchIntervalMs: options.emptyBatchIntervalMs,
          savedAckedSeq: acked,
          clock: this.clock,
          timers: this.timers,
          log: options.log,
          egress: options.egress && { recordBatch: (batch) => options.egress!.recordBatch({ ...batch, relay: options.relayName }) },
          observeRoundTrip: options.observeRoundTrip && ((seconds) => options.observeRoundTrip!(spec.name, seconds)),
          ...(options.archive ? { archive: options.archive, instanceClaims } : {}),
          ...(options.proofs?.config.enabled ? { leaves: options.proofs.store } : {}),
        }),
      );
      const proofs = options.proofs;
      if (proofs?.config.enabled) {
        const pump = this.pumps.get(spec.name)!;
        this.provers.set(
          spec.name,
          new FeedProver({
            feed: spec.name,
            relay: options.relayName,
            config: proofs.config,
            store: proofs.store,
            ackedSeq: () => pump.window.ackedSeq,
            buildRepair: (seqs) => pump.buildRepair(seqs),
            ...(proofs.onIncident ? { onIncident: proofs.onIncident } : {}),
            ...(proofs.journalTrimmedThrough ? { journalTrimmedThrough: proofs.journalTrimmedThrough } : {}),
            clock: this.clock,
            log: options.log,
          }),
        );
      }
    }
  }

  start(): void {
    if (this.running) return;
    this.running = this.run().catch((error: unknown) => {
      this.options.log.error({ err: error, relay: this.options.relayName }, 'replicator stopped by an unexpected error');
    });
  }

  /** Closes the stream and ends the loop; resolves when it has. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelSleep?.();
    this.abandonAttempt?.abort(new Error('agent stopping'));
    this.session?.close();
    await this.running;
    this.inboundLink?.close();
    this.persistAcks(true);
    this.options.transport.shutdown();
  }

  /**
   * Operator request: drop the current stream, backoff wait or connect attempt
   * and connect now, on a fresh connection, with no backoff delay. An attempt
   * under way is abandoned (it may be stuck in a connection that will never
   * answer); the next one starts at once.
   */
  reconnectNow(): void {
    this.attempt = 0;
    this.reconnectRequested = true;
    if (this.cancelSleep) this.cancelSleep();
    else if (this.abandonAttempt) this.abandonAttempt.abort(new Error('reconnect requested by operator'));
    else this.session?.close(new RelayLinkError('reconnect requested by operator', true, 'stream'));
  }

  /** True when this replicator sends `feed`. */
  hasFeed(feed: string): boolean {
    return this.pumps.has(feed);
  }

  /** Tells `listener` of the relay's answers and Welcomes; the feed controls call it once, when they are built. */
  listen(listener: ReplicatorListener): void {
    this.listeners.push(listener);
  }

  /** Stops handing `feed`'s batches to the transport, at once (see FeedPump.setHold). */
  holdFeed(feed: string, reason: string): void {
    this.pumps.get(feed)?.setHold('operator', reason);
  }

  /** Lets `feed` send again, as far as the operator is concerned. */
  releaseFeed(feed: string): void {
    this.pumps.get(feed)?.setHold('operator', null);
  }

  feedStatus(feed: string): FeedReplicationStatus | undefined {
    return this.pumps.get(feed)?.status();
  }

  /** Resolves true once nothing of `feed` awaits the relay's reply, false after `timeoutMs`. */
  whenFeedIdle(feed: string, timeoutMs: number): Promise<boolean> {
    return this.pumps.get(feed)?.whenIdle(timeoutMs) ?? Promise.resolve(true);
  }

  /**
   * Sends a revoke or reinstate now if a stream is up, and after every Welcome
   * until the relay answers it. A later request for the same feed replaces it.
   */
  /** The features the relay listed in its Welcome (PURGE_FEATURE…); undefined while no stream is up. */
  relayFeatures(): ReadonlySet<string> | undefined {
    return this.link.state === 'streaming' ? (this.session?.welcome.features ?? new Set<string>()) : undefined;
  }

  requestControl(request: FeedControlRequest): void {
    this.pendingControls.set(request.feed, request);
    if (this.link.state === 'streaming') this.session?.sendControl(request);
  }

  /** Per feed with proofs running, the last seq of its closed windows (JournalTrimmerOptions.proofHolds). */
  proofHolds(): Map<string, number> {
    const holds = new Map<string, number>();
    for (const [feed, prover] of this.provers) {
      const through = prover.closedThroughSeq();
      if (through !== undefined) holds.set(feed, through);
    }
    return holds;
  }

  status(): ReplicatorStatus {
    return {
      relay: this.options.relayName,
      state: this.link.state,
      sinceMs: this.link.since,
      downSinceMs: this.link.downSinceMs,
      lastError: this.link.lastError ?? null,
      lastErrorKind: this.link.lastError === undefined ? null : linkErrorKind(this.link.lastError),
      relayId: this.relayId,
      reconnects: this.reconnects,
      nextAttemptAtMs: this.link.state === 'backoff' ? this.nextAttemptAtMs : null,
      feeds: [...this.pumps.values()].map((pump) => {
        const proofs = this.provers.get(pump.name)?.status();
        return proofs ? { ...pump.status(), proofs } : pump.status();
      }),
      transitions: [...this.link.history],
    };
  }

  /** The downlink of this relay: the protocol spoken, why inbound events cannot come (if so), each channel's backlog at the relay as last reported. */
  inboundStatus(): InboundLinkStatus {
    const channels = this.options.downlink?.channels ?? [];
    return {
      relay: this.options.relayName,
      protocolVersion: this.helloVersion,
      problem: channels.length > 0 ? this.inboundProblem : null,
      channels: channels.map((c) => ({ channel: c.name, atRelay: this.inboundLink?.backlogOf(c.name) ?? null })),
    };
  }

  /** The Hello of the next attempt: PROTOCOL_VERSION and the inbound channels, or an older relay's version without them. */
  private nextHello(): HelloInfo {
    if (this.olderRelay && this.clock() >= this.olderRelay.untilMs) this.olderRelay = undefined;
    const protocolVersion = this.olderRelay?.version ?? PROTOCOL_VERSION;
    this.helloVersion = protocolVersion;
    const channels = this.options.downlink?.channels ?? [];
    return {
      ...this.options.hello,
      feeds: [...this.pumps.keys()],
      protocolVersion,
      ...(protocolVersion >= 2 && channels.length > 0 ? { inboundChannels: channels } : {}),
    };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.link.transition('connecting', this.reconnects === 0 ? 'start' : `attempt ${this.attempt + 1}`);
      // Created before open() so a close that races the handshake is never missed.
      const life = new StreamLife();
      let error: Error | undefined;
      const attempt = new AbortController();
      this.abandonAttempt = attempt;
      const attemptStartedMs = this.clock();
      let connectFailedAfterMs = 0;
      try {
        const session = await this.options.transport.open(
          this.nextHello(),
          {
            onAck: (feed, seq, duplicate) => {
              if (!life.over) this.onAck(feed, seq, duplicate);
            },
            onNack: (feed, expected, detail, reason) => {
              if (!life.over) this.onNack(feed, expected, detail, reason);
            },
            onControlAnswer: (answer) => {
              if (!life.over) this.onControlAnswer(answer);
            },
            onVendorProgress: (reads) => {
              if (!life.over) this.options.vendorPositions?.update(this.options.relayName, reads);
            },
            onInboundDelivery: (events) => {
              if (!life.over) this.inboundLink?.onDelivery(events);
            },
            onReceiptAck: (ack) => {
              if (!life.over) this.inboundLink?.onReceiptAck(ack);
            },
            onInboundBacklog: (entries) => {
              if (!life.over) this.inboundLink?.onBacklog(entries);
            },
            onClose: (reason) => life.end(reason),
          },
          attempt.signal,
        );
        this.abandonAttempt = undefined;
        if (this.stopping) {
          session.close();
          break;
        }
        error = await this.stream(session, life);
      } catch (openError) {
        error = openError as Error;
        connectFailedAfterMs = this.clock() - attemptStartedMs;
      }
      this.abandonAttempt = undefined;
      life.end(error);
      if (this.stopping) break;
      this.reconnects++;
      await this.backoff(error, connectFailedAfterMs);
    }
    this.link.transition('closed', 'stop requested');
  }

  /** Runs one established session until it closes; resolves with the reason. */
  private async stream(session: RelaySession, life: StreamLife): Promise<Error | undefined> {
    this.session = session;
    this.relayId = session.welcome.relayId;
    for (const pump of this.pumps.values()) this.resetPump(pump, session.welcome.highWater.get(pump.name) ?? 0);
    const revoked = session.welcome.revoked ?? new Set<string>();
    for (const pump of this.pumps.values()) pump.setHold('relay', revoked.has(pump.name) ? RELAY_REVOKED : null);
    for (const listener of this.listeners) listener.onWelcome(this.options.relayName, revoked);
    this.persistAcks(true);
    this.link.transition('streaming', `welcome from relay ${session.welcome.relayId}`);
    this.inboundProblem = session.inbound ? null : inboundUnavailableMessage(session.welcome.relayId, session.welcome.protocolVersion);
    this.inboundLink?.attach(session, life.signal);
    // Before any batch, so a revoke is never overtaken by the feed's own data.
    for (const request of [...this.pendingControls.values()]) {
      // A purge left pending for a relay that does not offer it (replaced, or downgraded) is answered here: nothing was deleted.
      if (request.kind === 'purge' && !session.welcome.features?.has(PURGE_FEATURE)) {
        this.onControlAnswer({ kind: 'purge', feed: request.feed, receipt: '', receiptSignature: '', error: purgeUnsupportedMessage(session.welcome.relayId) });
        continue;
      }
      session.sendControl(request);
    }
    this.attempt = 0;
    // A request made while this connection was being set up is answered by it.
    this.reconnectRequested = false;

    const maxBatchBytes = Math.min(this.options.limits.maxBytes, Math.max(1, Math.floor(session.welcome.maxBatchBytes * 0.9)));
    for (const pump of this.pumps.values()) pump.start({ session, signal: life.signal, maxBatchBytes });
    const wakeAll = (): void => {
      for (const pump of this.pumps.values()) pump.wake();
    };
    const unsubscribeCommits = this.options.journal.onCommit(wakeAll);
    // A class the timetable just allowed starts sending without waiting for a commit or a tick.
    const unsubscribePolicy = this.uplink.onPolicyChange(wakeAll);
    const ticker = this.timers.setInterval(() => {
      this.checkAckTimeouts(session);
      this.persistAcks(false);
      wakeAll();
      for (const [feed, prover] of this.provers) if (!revoked.has(feed)) void prover.tick(session);
    }, Math.min(1000, this.options.emptyBatchIntervalMs));
    try {
      return await life.ended;
    } finally {
      this.timers.clearInterval(ticker);
      unsubscribeCommits();
      unsubscribePolicy();
      this.session = undefined;
      this.persistAcks(true);
    }
  }

  private onAck(feedName: string, highWaterSeq: number, duplicate: boolean): void {
    const pump = this.pumps.get(feedName);
    const outcome = pump ? pump.onAck(highWaterSeq, duplicate) : { kind: 'violation' as const, reason: `ack for unknown feed ${feedName}` };
    if (outcome.kind === 'violation') this.session?.close(new RelayProtocolViolation(outcome.reason));
  }

  private onNack(feedName: string, expectedSeq: number, detail: string, reason?: NackReason): void {
    const pump = this.pumps.get(feedName);
    const outcome = pump ? pump.onNack(expectedSeq) : { kind: 'violation' as const, reason: `nack for unknown feed ${feedName}` };
    if (outcome.kind === 'violation') {
      this.session?.close(new RelayProtocolViolation(outcome.reason));
    } else if (reason === 'revoked') {
      pump!.setHold('relay', RELAY_REVOKED);
      this.options.log.error({ relay: this.options.relayName, feed: feedName, detail }, 'the relay refuses this feed: it is revoked there; the feed is stopped');
    } else if (outcome.kind === 'resend-from') {
      this.options.log.warn({ relay: this.options.relayName, feed: feedName, expectedSeq, detail }, 'relay refused a batch; resending from its expected seq');
    }
  }

  private onControlAnswer(answer: FeedControlAnswer): void {
    if (this.pendingControls.get(answer.feed)?.kind === answer.kind) this.pendingControls.delete(answer.feed);
    const pump = this.pumps.get(answer.feed);
    const removed = answer.kind === 'revoke' || (answer.kind === 'purge' && !answer.error);
    if (pump && removed) pump.setHold('relay', RELAY_REVOKED);
    // The hospital had the relay delete the feed: its windows must never be "repaired" by resending what was deleted.
    if (answer.kind === 'revoke') this.provers.get(answer.feed)?.forgetThrough(answer.highWaterSeq);
    if (answer.kind === 'purge' && !answer.error) this.provers.get(answer.feed)?.forgetThrough(purgedThroughSeq(answer.receipt));
    if (pump && answer.kind === 'reinstate') {
      // The relay continues the feed from this mark; its word is the truth.
      if (pump.window.inFlightCount === 0) this.resetPump(pump, answer.highWaterSeq);
      pump.setHold('relay', null);
    }
    for (const listener of this.listeners) listener.onControlAnswer(this.options.relayName, answer);
  }

  /** Resets a pump to the relay's mark; says so loudly when the journal cannot account for it. */
  private resetPump(pump: FeedPump, highWaterSeq: number): void {
    const incident = pump.reset(highWaterSeq);
    if (!incident) return;
    this.options.log.error(
      { relay: this.options.relayName, feed: pump.name, relayMarkSeq: incident.relayMarkSeq, journalHeadSeq: incident.journalHeadSeq, ackedSeq: incident.ackedSeq },
      `relay integrity incident: ${incident.reason}`,
    );
  }

  private checkAckTimeouts(session: RelaySession): void {
    const now = this.clock();
    for (const pump of this.pumps.values()) {
      const oldest = pump.oldestSentAtMs;
      if (oldest !== undefined && now - oldest > this.options.ackTimeoutMs) {
        session.close(new AckTimeoutError(pump.name, now - oldest));
        return;
      }
    }
  }

  /** Saves acked seqs locally, at most once per ackPersistIntervalMs unless forced. */
  private lastPersistMs = 0;
  private persistAcks(force: boolean): void {
    const now = this.clock();
    if (!force && now - this.lastPersistMs < this.options.ackPersistIntervalMs) return;
    this.lastPersistMs = now;
    for (const pump of this.pumps.values()) {
      const acked = pump.window.ackedSeq;
      if (acked !== this.persistedAckedSeq.get(pump.name)) {
        this.options.feedAcks.record(pump.name, this.options.relayName, acked);
        this.persistedAckedSeq.set(pump.name, acked);
      }
    }
  }

  /**
   * Waits before the next attempt. The backoff spaces attempt starts: a connect
   * attempt that already waited `connectFailedAfterMs` (into a line that answers
   * nothing, up to connectTimeoutMs) counts against it, so an agent whose line
   * is dark always has an attempt under way and streams again as soon as the
   * line answers, instead of sitting out a backoff after it returned.
   */
  private async backoff(error: Error | undefined, connectFailedAfterMs = 0): Promise<void> {
    // An older relay (failure mode 10): at once in its version, unless that is the version it just refused.
    const olderRelay = error instanceof RelayProtocolTooOldError && error.relayVersion < this.helloVersion;
    if (olderRelay) {
      this.olderRelay = { version: error.relayVersion, untilMs: this.clock() + OLDER_RELAY_RETRY_MS };
      this.inboundProblem = inboundUnavailableMessage(this.relayId ?? this.options.relayName, error.relayVersion);
      this.options.log.warn(
        { relay: this.options.relayName, relayVersion: error.relayVersion, code: error.code, retryInMs: OLDER_RELAY_RETRY_MS },
        `relay speaks replication protocol ${error.relayVersion}: reconnecting in it; inbound events wait at the relay until it is upgraded`,
      );
    }
    const retryable = !(error instanceof RelayLinkError) || error.retryable;
    const requested = this.reconnectRequested || olderRelay;
    this.reconnectRequested = false;
    const spacing = retryable ? Math.max(0, backoffDelayMs(this.attempt, this.options.backoff, this.random) - connectFailedAfterMs) : this.options.backoff.maxMs;
    const delay = requested ? 0 : spacing;
    this.attempt++;
    this.nextAttemptAtMs = this.clock() + delay;
    this.link.transition('backoff', error?.message ?? 'stream ended', error);
    this.options.log.warn({ relay: this.options.relayName, delayMs: delay, err: error?.message }, 'relay link down; retrying after backoff');
    await new Promise<void>((resolve) => {
      const timers = this.timers;
      const timer: TimerHandle = timers.setTimeout(done, delay);
      function done(): void {
        timers.clearTimeout(timer);
        resolve();
      }
      this.cancelSleep = done;
    });
    this.cancelSleep = undefined;
    this.nextAttemptAtMs = null;
  }
}

/** Why a relay sends no inbound events: it speaks an older protocol, or does not list INBOUND_FEATURE. */
export function inboundUnavailableMessage(relayId: string, protocolVersion: number): string {
  return `relay ${relayId} speaks replication protocol ${protocolVersion} (no ${INBOUND_FEATURE}): upgrade the relay; inbound events wait there`;
}

/** What the operator reads when the relay is older than purge: which upgrade is missing. */
export function purgeUnsupportedMessage(relayId: string): string {
  return `relay ${relayId} does not offer ${PURGE_FEATURE} (signed purge receipts): upgrade the relay to a Wardline version with purge; nothing was deleted (wardline agent revoke deletes the feed without a receipt)`;
}

/** The highest seq a purge receipt says was deleted (its feeds' high-water marks); every window through it is forgotten. */
function purgedThroughSeq(receipt: string): number {
  try {
    const feeds = (JSON.parse(receipt) as { feeds?: { highWaterSeq?: unknown }[] }).feeds ?? [];
    return Math.max(0, ...feeds.map((f) => (typeof f.highWaterSeq === 'number' ? f.highWaterSeq : 0)));
  } catch {
    // A receipt that does not parse: nothing is forgotten, and the feed, held as revoked, is not proved anyway.
    return 0;
  }
}
