// Replicates the agent's feeds to one relay over one stream.
//
// The loop: connect -> Hello/Welcome (the relay's durable high-water mark per
// feed) -> stream batches, several in flight per feed, each the next contiguous
// journal range -> on any failure, back off with jitter and start again from the
// relay's Welcome. Nothing about progress is trusted from memory across streams.
//
// Failure modes handled:
//  1. Relay down: open() fails; backoff grows to its cap; ingest is unaffected
//     because the backlog is simply the journal after the acked seq.
//  2. Dead or half-open link: keepalive (transport) or the ack timeout here closes
//     the stream within seconds.
//  3. Gap nack: resend from the relay's expected seq (FeedWindow).
//  4. Misbehaving relay (ack beyond what was sent): stream closed, resume from Welcome.
//  5. stop() during any phase: the current stream is closed and the loop ends.
import { encodeEventsAsync, type CodecName } from '../../protocol/index.js';
import type { FeedAcks, Journal, ReadLimits } from '../store/index.js';
import { backoffDelayMs, type BackoffPolicy } from './backoff.js';
import { AckTimeoutError, RelayLinkError, RelayProtocolViolation } from './errors.js';
import { FeedWindow } from './feed-window.js';
import { LinkStateMachine, type LinkTransition } from './link-state.js';
import type { HelloInfo, RelaySession, RelayTransport } from './relay-transport.js';

export interface ReplicatedFeed {
  name: string;
  streams: string[];
  /** Version of the policy shaping this feed (0 = pass-through). */
  policyVersion: number;
}

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
  clock?: () => number;
  random?: () => number;
}

export interface FeedReplicationStatus {
  feed: string;
  streams: string[];
  ackedSeq: number;
  sentSeq: number;
  inFlight: number;
  lastAckAtMs: number | null;
  eventsSent: number;
  bytesSent: number;
  batchesAcked: number;
  duplicateAcks: number;
  nacks: number;
}

export interface ReplicatorStatus {
  relay: string;
  state: LinkTransition['to'];
  sinceMs: number;
  lastError: string | null;
  relayId: string | null;
  reconnects: number;
  nextAttemptAtMs: number | null;
  feeds: FeedReplicationStatus[];
  transitions: LinkTransition[];
}

interface FeedRuntime {
  spec: ReplicatedFeed;
  window: FeedWindow;
  lastBatchAtMs: number;
  lastAckAtMs: number | null;
  persistedAckedSeq: number;
  eventsSent: number;
  bytesSent: number;
  batchesAcked: number;
  duplicateAcks: number;
  nacks: number;
}

export class Replicator {
  readonly link: LinkStateMachine;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly feeds = new Map<string, FeedRuntime>();
  private stopping = false;
  private running: Promise<void> | undefined;
  private session: RelaySession | undefined;
  private attempt = 0;
  private reconnects = 0;
  private relayId: string | null = null;
  private nextAttemptAtMs: number | null = null;
  private cancelSleep: (() => void) | undefined;
  private wakePump: (() => void) | undefined;

  constructor(private readonly options: ReplicatorOptions) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.link = new LinkStateMachine(options.relayName, options.log, this.clock);
    const saved = options.feedAcks.all();
    for (const spec of options.feeds) {
      const window = new FeedWindow(spec.name, options.maxInFlight);
      const acked = saved.get(spec.name) ?? 0;
      window.reset(acked);
      this.feeds.set(spec.name, {
        spec,
        window,
        lastBatchAtMs: 0,
        lastAckAtMs: null,
        persistedAckedSeq: acked,
        eventsSent: 0,
        bytesSent: 0,
        batchesAcked: 0,
        duplicateAcks: 0,
        nacks: 0,
      });
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
    this.session?.close();
    await this.running;
    this.persistAcks(true);
    this.options.transport.shutdown();
  }

  /** Operator request: drop the current stream or backoff wait and connect now. */
  reconnectNow(): void {
    this.attempt = 0;
    if (this.cancelSleep) this.cancelSleep();
    else this.session?.close(new RelayLinkError('reconnect requested by operator', true, 'stream'));
  }

  status(): ReplicatorStatus {
    return {
      relay: this.options.relayName,
      state: this.link.state,
      sinceMs: this.link.since,
      lastError: this.link.lastError ?? null,
      relayId: this.relayId,
      reconnects: this.reconnects,
      nextAttemptAtMs: this.link.state === 'backoff' ? this.nextAttemptAtMs : null,
      feeds: [...this.feeds.values()].map((f) => ({
        feed: f.spec.name,
        streams: f.spec.streams,
        ackedSeq: f.window.ackedSeq,
        sentSeq: f.window.nextAfter,
        inFlight: f.window.inFlightCount,
        lastAckAtMs: f.lastAckAtMs,
        eventsSent: f.eventsSent,
        bytesSent: f.bytesSent,
        batchesAcked: f.batchesAcked,
        duplicateAcks: f.duplicateAcks,
        nacks: f.nacks,
      })),
      transitions: [...this.link.history],
    };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.link.transition('connecting', this.attempt === 0 ? 'start' : `attempt ${this.attempt + 1}`);
      // Created before open() so a close that races the handshake is never missed.
      let markClosed!: (error: Error | undefined) => void;
      const closed = new Promise<Error | undefined>((resolve) => (markClosed = resolve));
      let error: Error | undefined;
      try {
        const session = await this.options.transport.open(
          { ...this.options.hello, feeds: [...this.feeds.keys()] },
          {
            onAck: (feed, seq, duplicate) => this.onAck(feed, seq, duplicate),
            onNack: (feed, expected, detail) => this.onNack(feed, expected, detail),
            onClose: markClosed,
          },
        );
        if (this.stopping) {
          session.close();
          break;
        }
        error = await this.stream(session, closed);
      } catch (openError) {
        error = openError as Error;
      }
      if (this.stopping) break;
      this.reconnects++;
      await this.backoff(error);
    }
    this.link.transition('closed', 'stop requested');
  }

  /** Runs one established session until it closes; resolves with the reason. */
  private async stream(session: RelaySession, closed: Promise<Error | undefined>): Promise<Error | undefined> {
    this.session = session;
    this.relayId = session.welcome.relayId;
    for (const feed of this.feeds.values()) {
      const highWater = session.welcome.highWater.get(feed.spec.name) ?? 0;
      feed.window.reset(highWater);
      feed.lastBatchAtMs = 0;
    }
    this.persistAcks(true);
    this.link.transition('streaming', `welcome from relay ${session.welcome.relayId}`);
    this.attempt = 0;

    let filling = false;
    let again = false;
    const limits: ReadLimits = {
      ...this.options.limits,
      maxBytes: Math.min(this.options.limits.maxBytes, Math.max(1, Math.floor(session.welcome.maxBatchBytes * 0.9))),
    };
    const fill = async (): Promise<void> => {
      if (filling) {
        again = true;
        return;
      }
      filling = true;
      try {
        do {
          again = false;
          await this.fillWindows(session, limits);
        } while (again && this.session === session);
      } catch (error) {
        session.close(error as Error);
      } finally {
        filling = false;
      }
    };
    const wake = (): void => void fill();
    this.wakePump = wake;
    const unsubscribe = this.options.journal.onCommit(wake);
    const ticker = setInterval(() => {
      this.checkAckTimeouts(session);
      this.persistAcks(false);
      wake();
    }, Math.min(1000, this.options.emptyBatchIntervalMs));
    wake();
    try {
      return await closed;
    } finally {
      clearInterval(ticker);
      unsubscribe();
      this.session = undefined;
      this.wakePump = undefined;
      this.persistAcks(true);
    }
  }

  private async fillWindows(session: RelaySession, limits: ReadLimits): Promise<void> {
    let progressed = true;
    // Round-robin across feeds so one busy feed cannot starve the others.
    while (progressed && this.session === session) {
      progressed = false;
      for (const feed of this.feeds.values()) {
        if (this.session !== session || !feed.window.canSend) continue;
        if (await this.sendNext(session, feed, limits)) progressed = true;
      }
    }
  }

  /** Sends the feed's next batch if there is one worth sending; returns whether it did. */
  private async sendNext(session: RelaySession, feed: FeedRuntime, limits: ReadLimits): Promise<boolean> {
    const after = feed.window.nextAfter;
    const range = this.options.journal.readRange(feed.spec.streams, after, limits);
    if (!range) return false;
    if (range.events.length === 0) {
      // A range holding none of the feed's events only moves the high-water mark.
      // Send it when the scan hit its limit (or the feed would never get past a
      // stretch of other streams), otherwise at most every emptyBatchIntervalMs.
      const scannedToLimit = range.lastSeq - after >= limits.maxScan;
      const quietLongEnough = this.clock() - feed.lastBatchAtMs >= this.options.emptyBatchIntervalMs && feed.window.inFlightCount === 0;
      if (!scannedToLimit && !quietLongEnough) return false;
    }
    const encoded = await encodeEventsAsync(range.events, this.options.codec);
    // The stream may have ended while the payload was compressed on the thread pool.
    if (this.session !== session) return false;
    const now = this.clock();
    feed.window.sent({ firstSeq: range.firstSeq, lastSeq: range.lastSeq, events: range.events.length, bytes: encoded.payload.length, sentAtMs: now });
    feed.lastBatchAtMs = now;
    feed.eventsSent += range.events.length;
    feed.bytesSent += encoded.payload.length;
    await session.send({
      feed: feed.spec.name,
      firstSeq: range.firstSeq,
      lastSeq: range.lastSeq,
      codec: this.options.codec,
      payload: encoded.payload,
      payloadSha256: encoded.payloadSha256,
      eventCount: range.events.length,
      uncompressedBytes: encoded.uncompressedBytes,
      policyVersion: feed.spec.policyVersion,
    });
    return true;
  }

  private onAck(feedName: string, highWaterSeq: number, duplicate: boolean): void {
    const feed = this.feeds.get(feedName);
    const outcome = feed ? feed.window.onAck(highWaterSeq) : { kind: 'violation' as const, reason: `ack for unknown feed ${feedName}` };
    if (outcome.kind === 'violation' || !feed) {
      this.session?.close(new RelayProtocolViolation(outcome.kind === 'violation' ? outcome.reason : 'bad ack'));
      return;
    }
    feed.batchesAcked++;
    if (duplicate) feed.duplicateAcks++;
    feed.lastAckAtMs = this.clock();
    this.wakePump?.();
  }

  private onNack(feedName: string, expectedSeq: number, detail: string): void {
    const feed = this.feeds.get(feedName);
    const outcome = feed ? feed.window.onNack(expectedSeq) : { kind: 'violation' as const, reason: `nack for unknown feed ${feedName}` };
    if (outcome.kind === 'violation' || !feed) {
      this.session?.close(new RelayProtocolViolation(outcome.kind === 'violation' ? outcome.reason : 'bad nack'));
      return;
    }
    if (outcome.kind === 'resend-from') {
      feed.nacks++;
      this.options.log.warn({ relay: this.options.relayName, feed: feedName, expectedSeq, detail }, 'relay refused a batch; resending from its expected seq');
      this.wakePump?.();
    }
  }

  private checkAckTimeouts(session: RelaySession): void {
    const now = this.clock();
    for (const feed of this.feeds.values()) {
      const oldest = feed.window.oldestSentAtMs;
      if (oldest !== undefined && now - oldest > this.options.ackTimeoutMs) {
        session.close(new AckTimeoutError(feed.spec.name, now - oldest));
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
    for (const feed of this.feeds.values()) {
      if (feed.window.ackedSeq !== feed.persistedAckedSeq) {
        this.options.feedAcks.record(feed.spec.name, this.options.relayName, feed.window.ackedSeq);
        feed.persistedAckedSeq = feed.window.ackedSeq;
      }
    }
  }

  private async backoff(error: Error | undefined): Promise<void> {
    const retryable = !(error instanceof RelayLinkError) || error.retryable;
    const delay = retryable ? backoffDelayMs(this.attempt, this.options.backoff, this.random) : this.options.backoff.maxMs;
    this.attempt++;
    this.nextAttemptAtMs = this.clock() + delay;
    this.link.transition('backoff', error?.message ?? 'stream ended', error);
    this.options.log.warn({ relay: this.options.relayName, delayMs: delay, err: error?.message }, 'relay link down; retrying after backoff');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delay);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.cancelSleep = done;
    });
    this.cancelSleep = undefined;
    this.nextAttemptAtMs = null;
  }
}
