// The gRPC Feeds.Subscribe handler: a vendor's feed after a cursor, page by
// page, then (with follow) the live tail until the vendor cancels.
//
// Failure modes handled:
//  1. A slow vendor: every write waits for 'drain' when the stream's buffer is
//     full, so a backlog replay never sits in relay memory.
//  2. Events stored while a page is being written, or between the last page
//     and the wait: the cursor moves to the snapshot's high-water mark and the
//     notifier remembers marks, so nothing is skipped and nothing sent twice.
//  3. The vendor cancels (or its connection dies) mid-page or while waiting:
//     the AbortSignal ends the write wait and the notifier wait; nothing leaks.
//  4. The relay stops: follow streams end with UNAVAILABLE so vendors reconnect
//     from their cursor.
//  5. A vendor that stops reading: a write that does not drain for
//     stalledResponseMs ends the call with UNAVAILABLE (WL_STALLED_RESPONSE),
//     which frees its slot; the vendor reconnects from its cursor.
//  6. One key opening thousands of subscriptions (each a store read on every
//     batch): past feedLimits (followSubscriptionsPerKey for follow, the shared
//     concurrentReadsPerKey for replays) a subscription ends at once with
//     RESOURCE_EXHAUSTED (WL_TOO_MANY_REQUESTS).
//  7. A cursor the feed cannot serve (past its head: a cursor from another
//     relay or a typo; below its retention floor: events after it removed),
//     at the start or later while a slow replay runs behind retention: the call
//     ends with OUT_OF_RANGE and trailers saying the feed's range, never a
//     silent wait for seqs that may never come or a silent gap.
//  8. A quiet feed (or a filter nothing passes): heartbeats every heartbeat_ms
//     go through the same drain/stall write as events, so an idle vendor still
//     learns the head and a vanished one is still cut (feed-heartbeat.ts).
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { pb, toFeedEventProto, type FeedEvent, type SubscribeRequest } from '../../protocol/index.js';
import { RelayError, ShuttingDownError } from '../errors.js';
import { toGrpcStatus, writeMessage } from '../grpc/index.js';
import type { RelayMetrics } from '../status/index.js';
import type { FeedNotifier, FeedStore } from '../store/index.js';
import type { ConsumerPositions } from './consumer-positions.js';
import { FeedConsumerService, type CommitCall, type CommitCallback, type ConsumerCall, type ConsumerCallback } from './feed-consumer-service.js';
import { waitForAdvance } from './feed-advance-wait.js';
import { nextCursor } from './feed-cursor.js';
import { HeartbeatSchedule, type FeedHeartbeatView } from './feed-heartbeat.js';
import { DEFAULT_HEARTBEAT_MS, DEFAULT_STALLED_RESPONSE_MS } from './feed-limits-config.js';
import { resolveReadStart, refuseOutOfRange } from './read-start.js';
import { parseSubscribeRequest, type SubscribePlan } from './subscribe-request.js';
import type { FeedAccess, VendorAuth } from './vendor-auth.js';
import type { VendorReads } from './vendor-reads.js';
import type { VendorSlots } from './vendor-slots.js';

/** Events read from the store per page. */
export const DEFAULT_SUBSCRIBE_PAGE_EVENTS = 500;

export type SubscribeCall = ServerWritableStream<SubscribeRequest, FeedEvent>;

/** What `server.addService(FeedsService, …)` takes (a type, not an interface: grpc-js wants an index signature). */
export type FeedsImplementation = {
  subscribe: (call: SubscribeCall) => void;
  commit: (call: CommitCall, callback: CommitCallback) => void;
  getConsumer: (call: ConsumerCall, callback: ConsumerCallback) => void;
};

export interface FeedSubscribeServiceOptions {
  store: FeedStore;
  notifier: FeedNotifier;
  vendors: VendorAuth;
  metrics: RelayMetrics;
  logger: Logger;
  /** Named consumers' committed cursors (Commit, GetConsumer, and where a read naming one starts). */
  consumers: ConsumerPositions;
  /** Default DEFAULT_SUBSCRIBE_PAGE_EVENTS. */
  pageEvents?: number;
  /** Where each vendor has read up to, for the status page; absent = not tracked. */
  reads?: VendorReads;
  /** Per-key bounds on follow subscriptions and replays (shared with the HTTP API's reads). */
  slots: VendorSlots;
  /** A call whose vendor reads nothing for this long is ended, in milliseconds; default DEFAULT_STALLED_RESPONSE_MS. */
  stalledResponseMs?: number;
  /** A follow subscription's heartbeat interval when it asks for none (heartbeat_ms = 0), in milliseconds; default DEFAULT_HEARTBEAT_MS. */
  heartbeatMs?: number;
  /** ms since the epoch; heartbeats' sent_at_ms and their schedule. Default Date.now. */
  clock?: () => number;
}

export class FeedSubscribeService {
  private readonly active = new Set<AbortController>();
  private readonly consumerService: FeedConsumerService;

  constructor(private readonly options: FeedSubscribeServiceOptions) {
    this.consumerService = new FeedConsumerService({
      vendors: options.vendors,
      consumers: options.consumers,
      slots: options.slots,
      metrics: options.metrics,
      logger: options.logger,
    });
  }

  /** The grpc-js handler for Feeds.Subscribe (server streaming). */
  readonly subscribe = (call: SubscribeCall): void => {
    void this.serve(call);
  };

  /** The implementation to pass to `server.addService(FeedsService, …)`. */
  get implementation(): FeedsImplementation {
    return { subscribe: this.subscribe, commit: this.consumerService.commit, getConsumer: this.consumerService.getConsumer };
  }

  /** Subscriptions currently open. */
  get openSubscriptions(): number {
    return this.active.size;
  }

  /** Ends every open subscription with UNAVAILABLE (relay shutdown). */
  closeAll(): void {
    for (const controller of this.active) controller.abort(new ShuttingDownError());
  }

  private async serve(call: SubscribeCall): Promise<void> {
    const { store, metrics } = this.options;
    const controller = new AbortController();
    const signal = controller.signal;
    this.active.add(controller);
    const gone = () => controller.abort(new Error('subscriber went away'));
    call.on('cancelled', gone);
    let log = this.options.logger.child({ peer: call.getPeer() });
    let following: { access: FeedAccess; consumer: string | undefined } | undefined;
    let release: (() => void) | undefined;
    try {
      const plan = parseSubscribeRequest(call.request, { heartbeatMs: this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS });
      const access = this.options.vendors.authorize(authorizationOf(call), plan.feed, plan.hospital);
      release = this.options.slots.acquire(access.vendor, plan.follow ? 'follow' : 'read');
      log = log.child({ vendor: access.vendor, hospital: access.hospital, feed: plan.feed, ...(plan.consumer === undefined ? {} : { consumer: plan.consumer }) });
      const { after, parameter } = await resolveReadStart(store, this.options.consumers, access, plan.start, { time: 'after_time_ms' });
      log.info({ after, follow: plan.follow, ...(plan.filter ? { filter: plan.filter } : {}) }, 'feed subscription opened');
      if (plan.follow) {
        this.options.reads?.subscription(access.vendor, access.hospital, plan.feed, after, 1, plan.consumer);
        following = { access, consumer: plan.consumer };
      }
      const cursor = await this.stream(call, access, plan, after, parameter, signal);
      call.end();
      log.info({ cursor }, 'feed subscription completed');
    } catch (error) {
      const reason: unknown = signal.aborted ? signal.reason : error;
      if (signal.aborted && !(reason instanceof ShuttingDownError)) {
        log.debug('feed subscription cancelled by the subscriber');
        return; // nobody left to tell
      }
      if (reason instanceof RelayError && !(reason instanceof ShuttingDownError)) {
        metrics.streamErrors.inc({ code: reason.code });
        log.warn({ code: reason.code, reason: reason.message }, 'feed subscription refused');
      } else if (!(reason instanceof ShuttingDownError)) {
        metrics.streamErrors.inc({ code: 'internal' });
        log.error({ err: reason }, 'feed subscription failed');
      }
      call.emit('error', toGrpcStatus(reason));
    } finally {
      release?.();
      if (following) {
        const { access, consumer } = following;
        this.options.reads?.subscription(access.vendor, access.hospital, access.feed, 0, -1, consumer);
      }
      call.off('cancelled', gone);
      this.active.delete(controller);
    }
  }

  /** Writes the feed after `after`, then (with follow) its live tail with heartbeats; the cursor reached. */
  private async stream(call: SubscribeCall, access: FeedAccess, plan: SubscribePlan, after: number, parameter: string, signal: AbortSignal): Promise<number> {
    const { store, notifier, metrics } = this.options;
    const pageEvents = this.options.pageEvents ?? DEFAULT_SUBSCRIBE_PAGE_EVENTS;
    const stalledMs = this.options.stalledResponseMs ?? DEFAULT_STALLED_RESPONSE_MS;
    const clock = this.options.clock ?? Date.now;
    const heartbeats = new HeartbeatSchedule(plan.heartbeatMs, clock);
    const { hospital, feed } = access;
    let cursor = after;
    let recorded: number | undefined;
    for (;;) {
      const page = await store.readEvents(hospital, feed, cursor, pageEvents, undefined, undefined, plan.filter);
      // At the start, and later too: a replay running behind retention must not skip what it removed.
      await refuseOutOfRange(store, access, cursor, page, cursor === after ? parameter : 'after');
      let prevSeq = page.prevSeq;
      for (const event of page.events) {
        await writeMessage(call, toFeedEventProto(event, { hospital, feed, prevSeq }), signal, stalledMs);
        heartbeats.eventSent();
        prevSeq = event.seq;
      }
      metrics.eventsServed.inc({ api: 'grpc' }, page.events.length);
      cursor = nextCursor(cursor, page);
      if (cursor !== recorded) {
        this.options.reads?.record(access.vendor, hospital, feed, cursor, 'grpc', plan.consumer);
        recorded = cursor;
      }
      if (!page.complete) continue;
      if (!plan.follow) return cursor;
      const heartbeat = heartbeats.afterRead(cursor, page);
      if (heartbeat) await writeMessage(call, heartbeatMessage(access, heartbeat), signal, stalledMs);
      await waitForAdvance(notifier, access, cursor, heartbeats.waitMs(), signal);
    }
  }
}

function heartbeatMessage(access: FeedAccess, heartbeat: FeedHeartbeatView): FeedEvent {
  return pb.FeedEvent.create({ hospitalId: access.hospital, feed: access.feed, heartbeat: pb.FeedHeartbeat.create(heartbeat) });
}

function authorizationOf(call: SubscribeCall): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return value === undefined ? undefined : value.toString();
}
