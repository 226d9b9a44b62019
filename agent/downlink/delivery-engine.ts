// Delivers one channel's journaled inbound events into the hospital's system
// through the channel's sink, and writes a receipt for each outcome. Per key one
// event at a time, in journal order, until it is final or quarantined; across
// keys up to `concurrency` at once (key-queues.ts). What an answer makes of an
// event is retry-decision.ts; this file applies it: the row, the receipt in the
// journal and the outbox row in one transaction.
//
// Failure modes handled:
// 1. A crash mid-attempt: the row is left `delivering`; at start it is retried with
//    the same id, which the system deduplicates (MSH-10, webhook-id, primary key).
// 2. The system unreachable (sinkDown): the event backs off like any retry but the
//    failure is not counted towards quarantine; the channel shows its sink down since when.
// 3. A poison event (unmappable, or failing quarantineAfter times): quarantined with
//    a receipt, its key held, other keys flow; replay or refuse ends it.
// 4. TTL: an event not accepted by expiresAtMs gets a final `expired`; an `awaiting`
//    one is withdrawn first, and if the system already took it, settle decides.
// 5. A receipt written twice (a retry of the journal append): the dedupe id
//    `<id>/<outcome>/<attempts>` keeps one.
// 6. The journal lost the event's body (trimmed): quarantined, never delivered empty.
// 7. A sink that throws (a bug): counted as a retryable failure, logged, never stops the channel.
import { receiptStreamName, type InboundReceipt, type ReceiptOutcome } from '../../protocol/index.js';
import { systemTimers, type TimerHandle, type Timers } from '../../runtime/index.js';
import type { JournalWriter } from '../store/index.js';
import { type DeliveryRow, type DeliveryState, type DeliveryStore } from './delivery-store.js';
import type { ReceiptOutbox } from './downlink-ports.js';
import { InboundControlError, InboundEventLostError } from './errors.js';
import type { DeliveryPolicy } from './inbound-config.js';
import { headsToStart, KeyQueues } from './key-queues.js';
import { decideAfterAttempt, type RetryDecision } from './retry-decision.js';
import type { InboundSink, SinkOutcome } from './sinks/index.js';

export interface DeliveryEngineLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** Whether the channel's system answered lately: unknown before any attempt. */
export type SinkState = { state: 'unknown' } | { state: 'up'; sinceMs: number } | { state: 'down'; sinceMs: number; reason: string };

/** One outcome, for metrics: the receipt's outcome (or retry/awaiting) and the attempt's duration. */
export interface DeliveryObservation {
  channel: string;
  outcome: ReceiptOutcome | 'retry' | 'awaiting';
  /** How long the sink took, in seconds (0 for an expiry or an operator's refusal). */
  seconds: number;
}

export interface DeliveryEngineOptions {
  channel: string;
  relay: string;
  sink: InboundSink;
  store: DeliveryStore;
  journal: JournalWriter;
  outbox: ReceiptOutbox;
  policy: DeliveryPolicy;
  log: DeliveryEngineLogger;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
  timers?: Timers;
  /** For the retry jitter; default Math.random. */
  random?: () => number;
  /** Called once per outcome (metrics). */
  observe?: (observation: DeliveryObservation) => void;
}

/** A channel's delivery as status shows it. */
export interface ChannelDeliveryStatus {
  channel: string;
  relay: string;
  sinkKind: InboundSink['kind'];
  paused: boolean;
  pausedBy: { operator: string; reason: string; sinceMs: number } | null;
  sinkState: SinkState;
  received: number;
  accepted: number;
  refused: number;
  expired: number;
  pending: number;
  delivering: number;
  retrying: number;
  awaiting: number;
  quarantined: number;
  /** received_at of the oldest event not yet final, or null. */
  oldestWaitingAtMs: number | null;
}

/** An event held in memory: its row, kept in step with the store. */
type Entry = DeliveryRow;

const SOURCE = 'downlink';

export class DeliveryEngine {
  readonly channel: string;
  readonly relay: string;
  private readonly sink: InboundSink;
  private readonly store: DeliveryStore;
  private readonly journal: JournalWriter;
  private readonly outbox: ReceiptOutbox;
  private readonly policy: DeliveryPolicy;
  private readonly log: DeliveryEngineLogger;
  private readonly clock: () => number;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly observe: (observation: DeliveryObservation) => void;

  private readonly queues = new KeyQueues<Entry>();
  /** Ids an attempt, a settle, a withdrawal or a receipt is under way for. */
  private readonly busy = new Set<string>();
  private readonly work = new Set<Promise<void>>();
  private paused = false;
  private started = false;
  private closed = false;
  private sinkState: SinkState = { state: 'unknown' };
  private wakeTimer: TimerHandle | undefined;
  private wakeAtMs = Infinity;
  private settleTimer: TimerHandle | undefined;
  private settling = false;
  /** Awaiting events past their TTL the system had already taken (withdraw said no): settle decides, not the expiry. */
  private readonly takenBySystem = new Set<string>();
  /** The earliest TTL of the queued events (a bound: it may have left since); nothing can expire before it. */
  private earliestExpiryMs = Infinity;

  constructor(options: DeliveryEngineOptions) {
    this.channel = options.channel;
    this.relay = options.relay;
    this.sink = options.sink;
    this.store = options.store;
    this.journal = options.journal;
    this.outbox = options.outbox;
    this.policy = options.policy;
    this.log = options.log;
    this.clock = options.clock ?? Date.now;
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? Math.random;
    this.observe = options.observe ?? (() => undefined);
  }

  /** Loads the channel's open events (an attempt a crash cut short is retried, same id) and starts delivering. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.paused = this.store.pauses().has(this.channel);
    const now = this.clock();
    for (const row of this.store.open(this.channel)) {
      if (row.state === 'delivering') {
        this.log.info({ id: row.id, channel: this.channel, attempt: row.attempts }, 'inbound delivery cut short by a restart: retrying with the same id');
        this.store.update(row.id, { state: 'retrying', nextAttemptMs: now });
        row.state = 'retrying';
        row.nextAttemptMs = now;
      }
      this.enqueue(row);
    }
    this.pump();
  }

  private enqueue(row: Entry): void {
    this.queues.add(row);
    this.earliestExpiryMs = Math.min(this.earliestExpiryMs, row.expiresAtMs);
  }

  /** New events were journaled for this channel (the intake calls this after its commit); each row is read by its id. */
  wake(ids: readonly string[]): void {
    if (!this.started || this.closed) return;
    for (const id of ids) {
      if (this.queues.has(id)) continue;
      const row = this.store.get(id);
      if (row && row.channel === this.channel && row.state === 'pending') this.enqueue(row);
    }
    this.pump();
  }

  /** Stops starting attempts (the ones under way finish); events are still journaled. Survives a restart. */
  pause(operator: string, reason: string): void {
    this.store.pause(this.channel, operator, reason);
    this.paused = true;
    this.log.info({ channel: this.channel, operator }, 'inbound channel paused');
  }

  resume(): void {
    this.store.resume(this.channel);
    this.paused = false;
    this.log.info({ channel: this.channel }, 'inbound channel resumed');
    this.pump();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** A quarantined event delivered again (after the config or the system was fixed); its counted failures start over. */
  replay(id: string): void {
    const entry = this.quarantinedEntry(id);
    const now = this.clock();
    this.store.update(id, { state: 'pending', countedFailures: 0, nextAttemptMs: now });
    Object.assign(entry, { state: 'pending' as DeliveryState, countedFailures: 0, nextAttemptMs: now });
    this.log.info({ id, channel: this.channel }, 'inbound event replayed');
    this.pump();
  }

  /** A quarantined event ended by the hospital: a final `refused` receipt with the operator's reason. */
  async refuse(id: string, reason: string): Promise<void> {
    const entry = this.quarantinedEntry(id);
    this.busy.add(id);
    try {
      await this.finish(entry, { kind: 'final', outcome: 'refused', code: '', reason: `refused by the hospital: ${reason}`, reference: '' }, 0);
    } finally {
      this.busy.delete(id);
    }
    this.pump();
  }

  status(): ChannelDeliveryStatus {
    const counts = this.store.counts(this.channel);
    const s = counts.byState;
    const pause = this.store.pauses().get(this.channel);
    return {
      channel: this.channel,
      relay: this.relay,
      sinkKind: this.sink.kind,
      paused: this.paused,
      pausedBy: pause ? { operator: pause.operator, reason: pause.reason, sinceMs: pause.pausedAtMs } : null,
      sinkState: this.sinkState,
      received: Object.values(s).reduce((a, b) => a + b, 0),
      accepted: s.accepted,
      refused: s.refused,
      expired: s.expired,
      pending: s.pending,
      delivering: s.delivering,
      retrying: s.retrying,
      awaiting: s.awaiting,
      quarantined: s.quarantined,
      oldestWaitingAtMs: counts.oldestOpenReceivedAtMs,
    };
  }

  /** Stops: no new attempts, timers cleared; resolves once the ones under way are written. */
  async close(): Promise<void> {
    this.closed = true;
    this.timers.clearTimeout(this.wakeTimer);
    this.timers.clearInterval(this.settleTimer);
    this.wakeTimer = undefined;
    this.settleTimer = undefined;
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Resolves once nothing is under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  private quarantinedEntry(id: string): Entry {
    const entry = this.queues.get(id);
    if (!entry) {
      const row = this.store.get(id);
      if (!row || row.channel !== this.channel) throw new InboundControlError(`no inbound event ${id} in channel ${this.channel}`, 'unknown-event', id);
      throw new InboundControlError(`inbound event ${id} is ${row.state}, not quarantined`, 'conflict', id);
    }
    if (entry.state !== 'quarantined' || this.busy.has(id)) {
      throw new InboundControlError(`inbound event ${id} is ${entry.state}, not quarantined`, 'conflict', id);
    }
    return entry;
  }

  /** Starts what is due, expires what is past its TTL, and arms the timer for the next due time. */
  private pump(): void {
    if (this.closed || !this.started) return;
    const now = this.clock();
    if (this.queues.size === 0) this.earliestExpiryMs = Infinity;
    // Every queued event is looked at only when one may have passed its TTL: a pump runs after each
    // delivery, and a backlog of tens of thousands scanned at every one made the drain quadratic.
    if (now >= this.earliestExpiryMs) {
      let earliest = Infinity;
      for (const entry of this.queues.all()) {
        if (this.takenBySystem.has(entry.id)) continue;
        if (entry.expiresAtMs <= now && !this.busy.has(entry.id)) this.track(this.expire(entry));
        earliest = Math.min(earliest, entry.expiresAtMs);
      }
      this.earliestExpiryMs = earliest;
    }
    if (!this.paused) {
      const due = (e: Entry): boolean => (e.state === 'pending' || e.state === 'retrying') && e.nextAttemptMs <= now && !this.busy.has(e.id);
      const inFlight = new Set([...this.busy].filter((id) => this.queues.get(id)?.state === 'delivering'));
      for (const entry of headsToStart(this.queues.heads(), inFlight, this.policy.concurrency, due)) {
        this.track(this.attempt(entry));
        inFlight.add(entry.id);
      }
    }
    this.armWake(now);
    this.armSettle();
  }

  private armWake(now: number): void {
    // A TTL already past belongs to an event in flight: its attempt's end pumps again.
    let next = this.earliestExpiryMs > now ? this.earliestExpiryMs : Infinity;
    if (!this.paused) {
      for (const head of this.queues.heads()) {
        if ((head.state === 'pending' || head.state === 'retrying') && !this.busy.has(head.id)) next = Math.min(next, head.nextAttemptMs);
      }
    }
    if (next === this.wakeAtMs && this.wakeTimer) return;
    this.timers.clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAtMs = next;
    if (next === Infinity) return;
    this.wakeTimer = this.timers.setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAtMs = Infinity;
      this.pump();
    }, Math.max(0, next - now));
    this.wakeTimer.unref?.();
  }

  private armSettle(): void {
    // An awaiting event holds its key, so it is a head.
    const awaiting = this.queues.heads().some((e) => e.state === 'awaiting');
    if (awaiting && !this.settleTimer && this.sink.settle) {
      this.settleTimer = this.timers.setInterval(() => this.track(this.settleAwaiting()), this.policy.settleIntervalMs);
      this.settleTimer.unref?.();
    } else if (!awaiting && this.settleTimer) {
      this.timers.clearInterval(this.settleTimer);
      this.settleTimer = undefined;
    }
  }

  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => this.log.error({ channel: this.channel, err: error }, 'inbound delivery step failed'))
      .finally(() => {
        this.work.delete(tracked);
        this.pump();
      });
    this.work.add(tracked);
  }

  private async attempt(entry: Entry): Promise<void> {
    this.busy.add(entry.id);
    try {
      const attempt = this.store.beginAttempt(entry.id);
      entry.state = 'delivering';
      entry.attempts = attempt;
      const event = this.store.event(entry.seq);
      if (!event) {
        const lost = new InboundEventLostError(entry.id, entry.seq);
        this.log.error({ id: entry.id, channel: this.channel, attempt, code: lost.code }, lost.message);
        await this.finish(entry, { kind: 'quarantine', code: '', reason: 'the agent no longer holds the event', countedFailures: entry.countedFailures }, 0);
        return;
      }
      const startedMs = this.clock();
      let outcome: SinkOutcome;
      try {
        outcome = await this.sink.deliver({
          id: entry.id,
          channel: this.channel,
          key: entry.key,
          contentType: event.contentType,
          body: event.body,
          vendor: event.headers.vendor ?? '',
          receivedAtMs: entry.receivedAtMs,
          expiresAtMs: entry.expiresAtMs,
          attempt,
        });
      } catch (error) {
        this.log.error({ id: entry.id, channel: this.channel, attempt, err: error }, 'inbound sink threw: counted as a failed attempt');
        outcome = { kind: 'retryable', code: 'error', reason: (error as Error).message ?? String(error), sinkDown: false };
      }
      const ms = this.clock() - startedMs;
      this.noteSink(outcome);
      const decision = decideAfterAttempt(outcome, { attempt, countedFailures: entry.countedFailures, expiresAtMs: entry.expiresAtMs }, this.policy, this.clock(), this.random);
      this.log.info(
        { id: entry.id, channel: this.channel, attempt, outcome: outcome.kind, code: 'code' in outcome ? outcome.code : '', ms, decision: decision.kind },
        'inbound delivery attempt',
      );
      await this.finish(entry, decision, ms / 1000);
    } finally {
      this.busy.delete(entry.id);
    }
  }

  private noteSink(outcome: SinkOutcome): void {
    const now = this.clock();
    if (outcome.kind === 'retryable' && outcome.sinkDown) {
      if (this.sinkState.state !== 'down') {
        this.sinkState = { state: 'down', sinceMs: now, reason: outcome.reason };
        this.log.warn({ channel: this.channel, sink: this.sink.kind, code: outcome.code }, 'inbound sink down');
      }
    } else if (outcome.kind !== 'unmappable' && this.sinkState.state !== 'up') {
      if (this.sinkState.state === 'down') this.log.info({ channel: this.channel, sink: this.sink.kind }, 'inbound sink up again');
      this.sinkState = { state: 'up', sinceMs: now };
    }
  }

  /** Applies a decision: the row, and for a final or a quarantine the receipt with its outbox row, in one transaction. */
  private async finish(entry: Entry, decision: RetryDecision, seconds: number): Promise<void> {
    const now = this.clock();
    switch (decision.kind) {
      case 'retry':
        this.store.update(entry.id, { state: 'retrying', countedFailures: decision.countedFailures, nextAttemptMs: decision.nextAttemptMs, code: decision.code, reason: decision.reason });
        Object.assign(entry, { state: 'retrying', countedFailures: decision.countedFailures, nextAttemptMs: decision.nextAttemptMs, lastCode: decision.code, lastReason: decision.reason });
        this.observe({ channel: this.channel, outcome: 'retry', seconds });
        return;
      case 'await':
        this.store.update(entry.id, { state: 'awaiting', code: decision.code });
        Object.assign(entry, { state: 'awaiting', lastCode: decision.code });
        this.observe({ channel: this.channel, outcome: 'awaiting', seconds });
        return;
      case 'quarantine':
        await this.writeReceipt(entry, 'quarantined', decision.code, decision.reason, '', { countedFailures: decision.countedFailures });
        Object.assign(entry, { state: 'quarantined', countedFailures: decision.countedFailures, lastCode: decision.code, lastReason: decision.reason });
        this.log.warn({ id: entry.id, channel: this.channel, attempt: entry.attempts, outcome: 'quarantined', code: decision.code }, 'inbound event quarantined: its key waits for a replay or refusal');
        this.observe({ channel: this.channel, outcome: 'quarantined', seconds });
        return;
      case 'final':
        await this.writeReceipt(entry, decision.outcome, decision.code, decision.reason, decision.reference, { decidedAtMs: now });
        entry.state = decision.outcome;
        this.queues.remove(entry.id);
        this.takenBySystem.delete(entry.id);
        this.log.info({ id: entry.id, channel: this.channel, attempt: entry.attempts, outcome: decision.outcome, code: decision.code }, 'inbound event final');
        this.observe({ channel: this.channel, outcome: decision.outcome, seconds });
        return;
    }
  }

  private async writeReceipt(entry: Entry, outcome: ReceiptOutcome, code: string, reason: string, reference: string, row: { countedFailures?: number; decidedAtMs?: number }): Promise<void> {
    const decidedAtMs = this.clock();
    const receipt: InboundReceipt = {
      id: entry.id,
      channel: this.channel,
      outcome,
      final: outcome !== 'quarantined',
      code,
      reason,
      reference,
      attempts: entry.attempts,
      decidedAtMs,
    };
    const body = { ...receipt, decidedAtMs: undefined, decidedAt: new Date(decidedAtMs).toISOString() };
    const update = { state: outcome as DeliveryState, code, reason, ...row };
    const result = await this.journal.append({
      source: SOURCE,
      events: [
        {
          stream: receiptStreamName(this.channel),
          key: entry.id,
          op: 'upsert',
          contentType: 'json',
          body: Buffer.from(JSON.stringify(body)),
          headers: { inboundId: entry.id, channel: this.channel, relay: this.relay, outcome },
        },
      ],
      dedupe: { scope: 'inbound-receipt', id: `${entry.id}/${outcome}/${entry.attempts}` },
      alsoInTransaction: () => {
        this.store.update(entry.id, update);
        this.outbox.enqueue(this.relay, receipt);
      },
    });
    // Already journaled (and its row and outbox row with it): bring the row in step, nothing else.
    if (result.duplicate) this.store.update(entry.id, update);
  }

  private async expire(entry: Entry): Promise<void> {
    this.busy.add(entry.id);
    try {
      if (entry.state === 'awaiting' && this.sink.withdraw) {
        const withdrawn = await this.sink.withdraw(entry.id);
        if (!withdrawn) {
          // The system took it before the TTL: what it decided is the receipt.
          this.takenBySystem.add(entry.id);
          await this.settleIds([entry.id]);
          return;
        }
      }
      const reason = `not accepted before its TTL ran out (${new Date(entry.expiresAtMs).toISOString()})`;
      await this.finish(entry, { kind: 'final', outcome: 'expired', code: '', reason, reference: '' }, 0);
    } finally {
      this.busy.delete(entry.id);
    }
  }

  private async settleAwaiting(): Promise<void> {
    if (this.settling || this.closed) return;
    const ids = this.queues
      .all()
      .filter((e) => e.state === 'awaiting' && !this.busy.has(e.id))
      .map((e) => e.id);
    if (ids.length === 0) return;
    this.settling = true;
    for (const id of ids) this.busy.add(id);
    try {
      await this.settleIds(ids);
    } finally {
      for (const id of ids) this.busy.delete(id);
      this.settling = false;
    }
  }

  private async settleIds(ids: readonly string[]): Promise<void> {
    if (!this.sink.settle) return;
    const decided = await this.sink.settle(ids);
    for (const [id, outcome] of decided) {
      const entry = this.queues.get(id);
      if (!entry || entry.state !== 'awaiting') continue;
      const decision = decideAfterAttempt(outcome, { attempt: entry.attempts, countedFailures: entry.countedFailures, expiresAtMs: entry.expiresAtMs }, this.policy, this.clock(), this.random);
      this.log.info({ id, channel: this.channel, attempt: entry.attempts, outcome: outcome.kind, code: 'code' in outcome ? outcome.code : '', decision: decision.kind }, 'inbound event settled');
      await this.finish(entry, decision, 0);
    }
  }
}
