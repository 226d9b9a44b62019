// The one in-memory RelayTransport for unit tests. It keeps the contract the
// real gRPC transport keeps against a real relay (test/contract/
// relay-transport.contract.ts runs both): Hello -> Welcome with the relay's
// marks, each batch answered in order with the relay's decision (the relay's
// own decideBatch: ack, duplicate ack, gap nack, revoked nack), revoke and
// reinstate answered, close() ends the session once, a dead address or an
// aborted attempt rejects with a retryable RelayLinkError.
//
// `answers: 'manual'` keeps the relay silent: batches are only recorded, and
// the test plays the relay itself (calling the pump's onAck/onNack directly).
import { PROTOCOL_VERSION, decideBatch } from '../../protocol/index.js';
import { RelayLinkError } from '../../agent/replication/errors.js';
import type {
  FeedControlRequest,
  HelloInfo,
  OutboundBatch,
  RelaySession,
  RelaySessionHandlers,
  RelayTransport,
  WelcomeInfo,
} from '../../agent/replication/relay-transport.js';

export interface FakeRelayOptions {
  relayId?: string;
  maxBatchBytes?: number;
  /** auto (default): the relay answers every batch and control request. manual: it records them and says nothing. */
  answers?: 'auto' | 'manual';
  /** The hospital's secret the relay accepts; default: any. */
  secret?: string;
}

/** The relay's side, shared by every transport and session made from it: what it holds survives a reconnect. */
export class FakeRelay {
  readonly relayId: string;
  readonly maxBatchBytes: number;
  readonly answers: 'auto' | 'manual';
  /** Durable high-water mark per feed. */
  readonly highWater = new Map<string, number>();
  readonly revoked = new Set<string>();
  /** Every session opened, newest last. */
  readonly sessions: FakeRelaySession[] = [];
  /** False: nothing listens (a dead address); open() fails in the connect phase. */
  reachable = true;

  constructor(private readonly options: FakeRelayOptions = {}) {
    this.relayId = options.relayId ?? 'fake-relay';
    this.maxBatchBytes = options.maxBatchBytes ?? 1 << 20;
    this.answers = options.answers ?? 'auto';
  }

  /** A transport to this relay (one per agent link, as GrpcRelayTransport). */
  transport(): FakeRelayTransport {
    return new FakeRelayTransport(this);
  }

  /** A session as open() would return it, without a handshake: for tests that drive a pump by hand. */
  session(handlers: Partial<RelaySessionHandlers> = {}): FakeRelaySession {
    return this.welcome({ hospitalId: 'test', agentId: 'test', agentVersion: 'test', secret: '', feeds: [] }, { onAck() {}, onNack() {}, onClose() {}, ...handlers });
  }

  /** @internal Checks Hello and opens a session. */
  welcome(hello: HelloInfo, handlers: RelaySessionHandlers): FakeRelaySession {
    if (this.options.secret !== undefined && hello.secret !== this.options.secret) {
      throw new RelayLinkError('relay stream ended: unknown hospital or wrong secret', false, 'handshake');
    }
    const welcome: WelcomeInfo = {
      relayId: this.relayId,
      protocolVersion: PROTOCOL_VERSION,
      highWater: new Map(hello.feeds.map((feed) => [feed, this.highWater.get(feed) ?? 0])),
      maxBatchBytes: this.maxBatchBytes,
      revoked: new Set(hello.feeds.filter((feed) => this.revoked.has(feed))),
    };
    const session = new FakeRelaySession(this, welcome, handlers);
    this.sessions.push(session);
    return session;
  }
}

export class FakeRelayTransport implements RelayTransport {
  private readonly open_ = new Set<FakeRelaySession>();

  constructor(readonly relay: FakeRelay) {}

  async open(hello: HelloInfo, handlers: RelaySessionHandlers, signal?: AbortSignal): Promise<RelaySession> {
    this.shutdown();
    // A network hop: the attempt is asynchronous, as on a real line.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted) throw new RelayLinkError(`connect attempt to relay abandoned: ${reasonOf(signal)}`, true, 'connect');
    if (!this.relay.reachable) throw new RelayLinkError('cannot reach relay: the connection failed', true, 'connect');
    const session = this.relay.welcome(hello, {
      ...handlers,
      onClose: (error) => {
        this.open_.delete(session);
        handlers.onClose(error);
      },
    });
    this.open_.add(session);
    return session;
  }

  shutdown(): void {
    for (const session of [...this.open_]) session.close();
  }
}

/** One stream: records what the agent sent; in auto mode answers it as the relay does. */
export class FakeRelaySession implements RelaySession {
  /** Batches handed over, in order. */
  readonly sent: OutboundBatch[] = [];
  /** The same, with when each was handed over (performance.now()). */
  readonly sends: { batch: OutboundBatch; atMs: number }[] = [];
  readonly controls: FeedControlRequest[] = [];
  /** 'open' until close(); then the reason it was closed with (undefined: a plain close). */
  closedWith: Error | undefined | 'open' = 'open';
  private readonly sentWaiters = new Set<() => void>();

  constructor(
    private readonly relay: FakeRelay,
    readonly welcome: WelcomeInfo,
    private readonly handlers: RelaySessionHandlers,
  ) {}

  async send(batch: OutboundBatch): Promise<void> {
    if (this.closedWith !== 'open') throw new RelayLinkError('session is closed', true, 'stream');
    this.sent.push(batch);
    this.sends.push({ batch, atMs: performance.now() });
    for (const wake of [...this.sentWaiters]) wake();
    if (this.relay.answers === 'auto') queueMicrotask(() => this.answer(batch));
  }

  sendControl(request: FeedControlRequest): void {
    if (this.closedWith !== 'open') return;
    this.controls.push(request);
    if (this.relay.answers === 'auto') queueMicrotask(() => this.answerControl(request));
  }

  close(reason?: Error): void {
    if (this.closedWith !== 'open') return;
    this.closedWith = reason;
    for (const wake of [...this.sentWaiters]) wake();
    this.handlers.onClose(reason);
  }

  /** Resolves once `count` batches were handed over on this session (rejects if it closes first, or after timeoutMs). */
  whenSent(count: number, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`expected ${count} batches, got ${this.sent.length}`)), timeoutMs);
      const check = (): void => {
        if (this.sent.length >= count) done();
        else if (this.closedWith !== 'open') done(new Error(`session closed after ${this.sent.length} of ${count} batches`));
      };
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.sentWaiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.sentWaiters.add(check);
      check();
    });
  }

  private answer(batch: OutboundBatch): void {
    if (this.closedWith !== 'open') return;
    const highWater = this.relay.highWater.get(batch.feed) ?? 0;
    if (this.relay.revoked.has(batch.feed)) {
      this.handlers.onNack(batch.feed, highWater + 1, `feed ${batch.feed} is revoked`, 'revoked');
      return;
    }
    const decision = decideBatch(highWater, batch.firstSeq, batch.lastSeq, batch.journalHeadSeq ? Math.max(batch.lastSeq, batch.journalHeadSeq) : undefined);
    switch (decision.kind) {
      case 'gap':
        this.handlers.onNack(batch.feed, decision.expectedSeq, `expected seq ${decision.expectedSeq}`, 'gap');
        return;
      case 'invalid':
      case 'beyond-head':
        this.close(new RelayLinkError(`relay stream ended: invalid batch (${decision.kind})`, true, 'stream'));
        return;
      case 'append':
      case 'overlap':
        this.relay.highWater.set(batch.feed, batch.lastSeq);
        this.handlers.onAck(batch.feed, batch.lastSeq, false);
        return;
      case 'duplicate':
        this.handlers.onAck(batch.feed, highWater, true);
    }
  }

  private answerControl(request: FeedControlRequest): void {
    if (this.closedWith !== 'open') return;
    const highWaterSeq = this.relay.highWater.get(request.feed) ?? 0;
    if (request.kind === 'revoke') {
      const alreadyRevoked = this.relay.revoked.has(request.feed);
      this.relay.revoked.add(request.feed);
      this.handlers.onControlAnswer?.({ kind: 'revoke', feed: request.feed, eventsDeleted: 0, bytesDeleted: 0, highWaterSeq, revokedAtMs: Date.now(), alreadyRevoked });
      return;
    }
    const wasRevoked = this.relay.revoked.delete(request.feed);
    this.handlers.onControlAnswer?.({ kind: 'reinstate', feed: request.feed, highWaterSeq, wasRevoked });
  }
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : 'cancelled';
}
