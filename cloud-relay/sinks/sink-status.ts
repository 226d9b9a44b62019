// The sinks' part of the relay status: per sink and feed its state, how far it
// has published, and its lag — the events the store holds past the sink's
// position and how long the oldest of them has waited — read at status time.
import type { FeedStore } from '../store/index.js';
import type { FeedSinkSnapshot } from './feed-sink.js';
import type { SinkState } from './sink-state.js';

/** Lag counts stop here, as the vendors' (status/vendor-status.ts UNREAD_COUNT_CAP). */
export const SINK_LAG_COUNT_CAP = 100_000;

export interface SinkFeedStatus {
  sink: string;
  hospital: string;
  feed: string;
  subject: string;
  state: SinkState;
  /** False while the sink's NATS connection is down. */
  connected: boolean;
  publishedSeq: number | null;
  /** Events stored past publishedSeq, counted up to SINK_LAG_COUNT_CAP. */
  lagEvents: number;
  lagCapped: boolean;
  /** How long the oldest unpublished event has waited at the relay, in seconds; 0 when none. */
  lagSeconds: number;
  published: number;
  duplicates: number;
  publishErrors: number;
  reconciles: number;
  lastError: { code: string; message: string; at: string } | null;
  lastPublishedAt: string | null;
}

export async function sinkFeedStatus(store: FeedStore, snapshot: FeedSinkSnapshot, connected: boolean, nowMs: number): Promise<SinkFeedStatus> {
  const after = snapshot.publishedSeq ?? 0;
  const unread = snapshot.state === 'revoked' ? { events: 0, capped: false, oldestStoredAtMs: null } : await store.unreadAfter(snapshot.hospital, snapshot.feed, after, SINK_LAG_COUNT_CAP);
  return {
    sink: snapshot.sink,
    hospital: snapshot.hospital,
    feed: snapshot.feed,
    subject: snapshot.subject,
    state: snapshot.state,
    connected,
    publishedSeq: snapshot.publishedSeq,
    lagEvents: unread.events,
    lagCapped: unread.capped,
    lagSeconds: unread.oldestStoredAtMs === null ? 0 : Math.max(0, (nowMs - unread.oldestStoredAtMs) / 1000),
    published: snapshot.published,
    duplicates: snapshot.duplicates,
    publishErrors: snapshot.publishErrors,
    reconciles: snapshot.reconciles,
    lastError: snapshot.lastError && { code: snapshot.lastError.code, message: snapshot.lastError.message, at: new Date(snapshot.lastError.atMs).toISOString() },
    lastPublishedAt: snapshot.lastPublishedAtMs === null ? null : new Date(snapshot.lastPublishedAtMs).toISOString(),
  };
}
