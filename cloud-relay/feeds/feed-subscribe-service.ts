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
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toFeedEventProto, type FeedEvent, type SubscribeRequest } from '../../protocol/index.js';
import { NAME_PATTERN } from '../../protocol/index.js';
import { DEFAULT_STALLED_RESPONSE_MS } from './feed-limits-config.js';
import { BadRequestError, RelayError, ShuttingDownError } from '../errors.js';
import { toGrpcStatus, writeMessage } from '../grpc/index.js';
import type { RelayMetrics } from '../status/index.js';
import type { FeedNotifier, FeedStore } from '../store/index.js';
import { nextCursor } from './feed-cursor.js';
import type { FeedAccess, VendorAuth } from './vendor-auth.js';
import type { VendorReads } from './vendor-reads.js';
import type { VendorSlots } from './vendor-slots.js';

/** Events read from the store per page. */
export const DEFAULT_SUBSCRIBE_PAGE_EVENTS = 500;

export type SubscribeCall = ServerWritableStream<SubscribeRequest, FeedEvent>;

export interface FeedSubscribeServiceOptions {
  store: FeedStore;
  notifier: FeedNotifier;
  vendors: VendorAuth;
  metrics: RelayMetrics;
  logger: Logger;
  /** Default DEFAULT_SUBSCRIBE_PAGE_EVENTS. */
  pageEvents?: number;
  /** Where each vendor has read up to, for the status page; absent = not tracked. */
  reads?: VendorReads;
  /** Per-key bounds on follow subscriptions and replays (shared with the HTTP API's reads). */
  slots: VendorSlots;
  /** A call whose vendor reads nothing for this long is ended, in milliseconds; default DEFAULT_STALLED_RESPONSE_MS. */
  stalledResponseMs?: number;
}

export class FeedSubscribeService {
  private readonly active = new Set<AbortController>();

  constructor(private readonly options: FeedSubscribeServiceOptions) {}

  /** The grpc-js handler for Feeds.Subscribe (server streaming). */
  readonly subscribe = (call: SubscribeCall): void => {
    void this.serve(call);
  };

  /** The implementation to pass to `server.addService(FeedsService, …)`. */
  get implementation(): { subscribe: (call: SubscribeCall) => void } {
    return { subscribe: this.subscribe };
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
    const { store, notifier, vendors, metrics } = this.options;
    const pageEvents = this.options.pageEvents ?? DEFAULT_SUBSCRIBE_PAGE_EVENTS;
    const stalledMs = this.options.stalledResponseMs ?? DEFAULT_STALLED_RESPONSE_MS;
    const controller = new AbortController();
    const signal = controller.signal;
    this.active.add(controller);
    const gone = () => controller.abort(new Error('subscriber went away'));
    call.on('cancelled', gone);
    let log = this.options.logger.child({ peer: call.getPeer() });
    let following: FeedAccess | undefined;
    let release: (() => void) | undefined;
    try {
      const request = call.request;
      const feed = request.feed;
      if (!NAME_PATTERN.test(feed)) throw new BadRequestError(`feed: expected a feed name, got ${JSON.stringify(feed)}`, 'feed');
      const after = Number(request.after);
      if (!Number.isSafeInteger(after) || after < 0) throw new BadRequestError(`after: expected a non-negative integer, got ${request.after}`, 'after');
      const access = vendors.authorize(authorizationOf(call), feed, request.hospitalId);
      release = this.options.slots.acquire(access.vendor, request.follow ? 'follow' : 'read');
      log = log.child({ vendor: access.vendor, hospital: access.hospital, feed });
      log.info({ after, follow: request.follow }, 'feed subscription opened');
      if (request.follow) {
        this.options.reads?.subscription(access.vendor, access.hospital, feed, after, 1);
        following = access;
      }

      let cursor = after;
      for (;;) {
        const page = await store.readEvents(access.hospital, feed, cursor, pageEvents);
        let prevSeq = page.prevSeq;
        for (const event of page.events) {
          await writeMessage(call, toFeedEventProto(event, { hospital: access.hospital, feed, prevSeq }), signal, stalledMs);
          prevSeq = event.seq;
        }
        metrics.eventsServed.inc({ api: 'grpc' }, page.events.length);
        cursor = nextCursor(cursor, page);
        this.options.reads?.record(access.vendor, access.hospital, feed, cursor, 'grpc');
        if (!page.complete) continue;
        if (!request.follow) break;
        await notifier.wait(access.hospital, feed, cursor, signal);
      }
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
      if (following) this.options.reads?.subscription(following.vendor, following.hospital, following.feed, 0, -1);
      call.off('cancelled', gone);
      this.active.delete(controller);
    }
  }
}

function authorizationOf(call: SubscribeCall): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return value === undefined ? undefined : value.toString();
}
