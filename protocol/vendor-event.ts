// One logical feed event and its gRPC form (Feeds.Subscribe's FeedEvent). The
// HTTP/NATS form is vendor-event-json.ts; both carry the same fields:
//   hospital ↔ hospital_id, feed ↔ feed, prevSeq ↔ prev_seq, seq, stream, key,
//   op "upsert"|"delete" ↔ OP_UPSERT|OP_DELETE, ts (ISO 8601, ms, UTC) ↔ ts_ms,
//   source, contentType ↔ content_type, headers, and the body: text of an hl7v2
//   event and the JSON value of a json or blob-ref event ↔ its UTF-8 bytes;
//   bodyBase64 ↔ the bytes of any other content type.
import { eventFromProto, eventToProto, type JournalEvent } from './event.js';
import { pb } from './messages.js';
import type { FeedEvent } from './service-definitions.js';
import type { VendorEventContext } from './vendor-event-json.js';

/** The FeedEvent a vendor receives for `event` at its place in the feed. */
export function toFeedEventProto(event: JournalEvent, context: VendorEventContext): FeedEvent {
  return pb.FeedEvent.create({ hospitalId: context.hospital, feed: context.feed, prevSeq: context.prevSeq, event: eventToProto(event) });
}

/** The event and its place in the feed from a FeedEvent that carries one; undefined for a heartbeat. */
export function fromFeedEventProto(message: FeedEvent): { event: JournalEvent; context: VendorEventContext } | undefined {
  if (!message.event) return undefined;
  return { event: eventFromProto(message.event as InstanceType<typeof pb.Event>), context: { hospital: message.hospitalId, feed: message.feed, prevSeq: Number(message.prevSeq) } };
}
