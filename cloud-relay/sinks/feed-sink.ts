// One feed's sink: publishes every event of (hospital, feed) past its durable
// sink cursor, once each and in seq order, to the feed's subject.
//
// Failure modes handled:
//  1. The relay is killed between a publish's ack and the cursor write (the
//     cursor is written once per page): at start, and after every failure, the
//     sink reads the subject's last message first (reconcile): its Nats-Msg-Id
//     `${hospital}/${feed}/${seq}` says which seq the stream holds, and the
//     sink continues after max(that, cursor). No reliance on the duplicate
//     window, which a long outage outlives.
//  2. A publish whose ack never came (NATS restarted, the network cut): it may
//     or may not be stored; the next attempt reconciles first, as in 1.
//  3. Two relay processes publishing one feed (the lease ran out while one was
//     paused): each publish expects the subject's last stream sequence; the
//     second is refused (SinkSubjectMovedError) and reconciles, finding the
//     other's message. The lease makes that rare; the expectation makes it harmless.
//  4. Messages removed from the stream (limits, a purge) so the subject's last
//     message is older than the cursor, or the subject is empty: the cursor wins
//     (nothing is published twice); the expectation follows what the stream holds.
//  5. The subject's last message is not the feed's: the sink halts the feed
//     rather than guess (WL_SINK_FOREIGN_MESSAGE), retrying slowly.
//  6. The feed revoked: readEvents refuses; the sink waits, and continues after
//     its cursor when the feed is reinstated.
//  7. Ingest is never slowed: the sink only reads the feed store (its own pace),
//     woken by the FeedNotifier, with a poll as the fallback.
import type { Logger } from 'pino';
import { toVendorEventLine } from '../../protocol/index.js';
import { FeedRevokedError } from '../errors.js';
import type { FeedNotifier, FeedStore } from '../store/index.js';
import { SinkForeignMessageError, SinkSubjectMovedError } from './errors.js';
import { sinkBackoffMs } from './sink-backoff.js';
import type { SinkConfig } from './sink-config.js';
import type { SinkCursorStore, SinkFeedKey } from './sink-cursor-store.js';
import type { SinkPublisher } from './sink-publisher.js';
import { canTransition, type SinkState } from './sink-state.js';
import { seqOfMessageId, sinkMessageId, sinkSubject } from './sink-subject.js';

/** The longest the durable cursor trails a feed being published, in milliseconds (it is written at once when caught up). */
export const CURSOR_WRITE_MS = 250;

/** Where the stream stands for the feed: its last seq published and that message's stream sequence. */
interface StreamPosition {
  publishedSeq: number;
  subjectSeq: number;
}

/** A feed's sink as the status page shows it. */
export interface FeedSinkSnapshot extends SinkFeedKey {
  subject: string;
  state: SinkState;
  /** The last seq known published (acked or found by a reconcile); null before the first reconcile. */
  publishedSeq: number | null;
  /** Events published by this process since it started. */
  published: number;
  /** Publishes JetStream answered as duplicates (within its window): each a message that was already stored. */
  duplicates: number;
  /** Failed publishes or reads of the stream since start. */
  publishErrors: number;
  /** Reconciles run (start, after a failure, after a lost race). */
  reconciles: number;
  lastError: { code: string; message: string; atMs: number } | null;
  /** When the last event was published, ms since the epoch. */
  lastPublishedAtMs: number | null;
}

export interface FeedSinkOptions {
  config: SinkConfig;
  hospital: string;
  feed: string;
  store: FeedStore;
  notifier: FeedNotifier;
  cursors: SinkCursorStore;
  publisher: SinkPublisher;
  /** This process's lease holder id. */
  holder: string;
  logger: Logger;
  now: () => number;
}

export class FeedSink {
  readonly key: SinkFeedKey;
  readonly subject: string;
  private current: SinkState = 'starting';
  private position: StreamPosition | undefined;
  private readonly stopper = new AbortController();
  private running: Promise<void> | undefined;
  private leaseRenewedAtMs = 0;
  private counts = { published: 0, duplicates: 0, publishErrors: 0, reconciles: 0 };
  private lastError: FeedSinkSnapshot['lastError'] = null;
  private lastPublishedAtMs: number | null = null;
  /** The cursor as last written by this process. */
  private savedSeq = 0;
  private savedAtMs = 0;

  constructor(private readonly options: FeedSinkOptions) {
    this.key = { sink: options.config.name, hospital: options.hospital, feed: options.feed };
    this.subject = sinkSubject(options.config.subjectPrefix, options.hospital, options.feed);
  }

  get state(): SinkState {
    return this.current;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops after the publish in flight and lets the lease go, so another process may take the feed at once. */
  async stop(): Promise<void> {
    this.stopper.abort(new Error('the sink is stopping'));
    await this.running;
    this.transition('stopped');
    await this.options.cursors.releaseLease(this.key, this.options.holder).catch(() => undefined);
  }

  snapshot(): FeedSinkSnapshot {
    return {
      ...this.key,
      subject: this.subject,
      state: this.current,
      publishedSeq: this.position?.publishedSeq ?? null,
      ...this.counts,
      lastError: this.lastError,
      lastPublishedAtMs: this.lastPublishedAtMs,
    };
  }

  private get stopping(): boolean {
    return this.stopper.signal.aborted;
  }

  private async run(): Promise<void> {
    const { config, store } = this.options;
    let failures = 0;
    while (!this.stopping) {
      try {
        // The lease is written again only when a third of its ttl has passed: relay.db has one writer at a
        // time, and ingest must not queue behind a sink that renews on every wake-up.
        if ((this.position === undefined || this.options.now() - this.leaseRenewedAtMs > config.leaseTtlMs / 3) && !(await this.renewLease())) {
          this.position = undefined;
          this.transition('standby');
          await this.sleep(config.leaseTtlMs / 3);
          continue;
        }
        if (this.position === undefined) {
          this.transition('reconciling');
          this.position = await this.reconcile();
        }
        const page = await store.readEvents(this.options.hospital, this.options.feed, this.position.publishedSeq, config.pageEvents);
        failures = 0;
        if (page.events.length === 0) {
          this.transition('caught-up');
          await this.saveCursor(true);
          await this.waitForAdvance(this.position.publishedSeq);
          continue;
        }
        this.transition('publishing');
        let prevSeq = page.prevSeq;
        for (const event of page.events) {
          if (this.stopping) break;
          const ack = await this.options.publisher.publish({
            subject: this.subject,
            messageId: sinkMessageId(this.options.hospital, this.options.feed, event.seq),
            headers: { 'Content-Type': 'application/json', 'Wardline-Hospital': this.options.hospital, 'Wardline-Feed': this.options.feed, 'Wardline-Seq': String(event.seq) },
            payload: toVendorEventLine(event, { hospital: this.options.hospital, feed: this.options.feed, prevSeq }).slice(0, -1),
            expectLastSubjectSeq: this.position.subjectSeq,
          });
          this.position = { publishedSeq: event.seq, subjectSeq: ack.streamSeq };
          prevSeq = event.seq;
          if (ack.duplicate) this.counts.duplicates += 1;
          else this.counts.published += 1;
          this.lastPublishedAtMs = this.options.now();
          // A long page keeps the lease alive as it goes.
          if (this.options.now() - this.leaseRenewedAtMs > config.leaseTtlMs / 3 && !(await this.renewLease())) break;
        }
        await this.saveCursor(false);
      } catch (error) {
        if (this.stopping) break;
        this.position = undefined;
        if (error instanceof SinkSubjectMovedError) {
          this.options.logger.warn({ sink: config.name, subject: this.subject }, 'the subject moved under the sink (another publisher); reconciling');
          continue;
        }
        if (error instanceof FeedRevokedError) {
          this.transition('revoked');
          await this.sleep(config.pollMs);
          continue;
        }
        this.counts.publishErrors += 1;
        this.lastError = { code: codeOf(error), message: error instanceof Error ? error.message : String(error), atMs: this.options.now() };
        if (error instanceof SinkForeignMessageError) {
          this.transition('halted');
          await this.sleep(config.maxBackoffMs);
          continue;
        }
        failures += 1;
        this.transition('backoff', error);
        await this.sleep(sinkBackoffMs(failures, config.maxBackoffMs));
      }
    }
  }

  /**
   * Writes the cursor if it moved, at most every CURSOR_WRITE_MS unless `now`
   * (caught up): a lagging cursor costs nothing but a longer reconcile read, and
   * fewer writes leave relay.db's one write lock to ingest.
   */
  private async saveCursor(now: boolean): Promise<void> {
    const position = this.position;
    if (position === undefined || position.publishedSeq <= this.savedSeq) return;
    if (!now && this.options.now() - this.savedAtMs < CURSOR_WRITE_MS) return;
    await this.options.cursors.advance(this.key, this.options.holder, position.publishedSeq, position.subjectSeq);
    this.savedSeq = position.publishedSeq;
    this.savedAtMs = this.options.now();
  }

  /** Takes or renews the feed's lease; true while this process holds it. */
  private async renewLease(): Promise<boolean> {
    const held = await this.options.cursors.takeLease(this.key, this.options.holder, this.options.config.leaseTtlMs);
    if (held) this.leaseRenewedAtMs = this.options.now();
    return held;
  }

  /** What the stream holds of the feed, from the subject's last message and the durable cursor (failure modes 1, 4, 5). */
  private async reconcile(): Promise<StreamPosition> {
    this.counts.reconciles += 1;
    const [tail, cursor] = await Promise.all([this.options.publisher.lastOnSubject(this.subject), this.options.cursors.cursor(this.key)]);
    if (tail === null) return { publishedSeq: cursor.publishedSeq, subjectSeq: 0 };
    const seq = seqOfMessageId(tail.messageId, this.options.hospital, this.options.feed);
    if (seq === undefined) throw new SinkForeignMessageError(this.options.config.name, this.subject, tail.messageId);
    const position = { publishedSeq: Math.max(seq, cursor.publishedSeq), subjectSeq: tail.streamSeq };
    if (position.publishedSeq > cursor.publishedSeq) await this.options.cursors.advance(this.key, this.options.holder, position.publishedSeq, position.subjectSeq);
    this.savedSeq = position.publishedSeq;
    return position;
  }

  /** Until the feed's visible seq passes `afterSeq`, the poll interval passes (the lease is renewed) or the sink stops. */
  private async waitForAdvance(afterSeq: number): Promise<void> {
    const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(Math.min(this.options.config.pollMs, this.options.config.leaseTtlMs / 3))]);
    await this.options.notifier.wait(this.options.hospital, this.options.feed, afterSeq, signal).catch(() => undefined);
  }

  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.stopper.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private transition(to: SinkState, cause?: unknown): void {
    const from = this.current;
    if (from === to) return;
    if (!canTransition(from, to)) {
      this.options.logger.error({ sink: this.key.sink, hospital: this.key.hospital, feed: this.key.feed, from, to }, 'illegal sink state transition refused');
      return;
    }
    this.current = to;
    const fields = { sink: this.key.sink, hospital: this.key.hospital, feed: this.key.feed, transition: `${from} -> ${to}` };
    if (to === 'backoff' || to === 'halted') this.options.logger.warn({ ...fields, err: cause ?? this.lastError?.message }, 'sink %s -> %s', from, to);
    else this.options.logger.debug(fields, 'sink %s -> %s', from, to);
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'WL_INTERNAL';
}
