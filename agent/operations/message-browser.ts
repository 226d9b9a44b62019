// The message browser's answers: where a message is (its journal seq, the ACK it
// got), whether each feed's relay has acknowledged it and when, and whether a
// vendor has read past it, in one object per message — the night-duty question
// "the LIS says this result left at 02:10: did the regional platform get it?".
//
// What each answer rests on:
//  - ACK: a journaled row was answered AA (HL7) or 200 (HTTP ingest): the source
//    acknowledges only once the append resolved, and a row exists only then; a
//    retransmission is answered AA again from the same row. Nothing is stored per
//    ACK. Refusals (AE, AR) append nothing: they are in the rejected list.
//  - relay ack: the feed's acked seq now (feed_acks), and when it was reached from
//    the ack history (feed-acks.ts), bounded by replication.ackPersistIntervalMs.
//  - vendors: what the relay last reported (VendorProgress); a relay that never
//    reported leaves "unknown", never "not read".
import type { FeedAcks, MessageQuery, MessageSearch, MessageSummary, Rejection, RejectionLog } from '../store/index.js';
import type { VendorPositions } from '../replication/index.js';

/** A feed as the browser needs it. */
export interface BrowsedFeed {
  name: string;
  relay: string;
  streams: readonly string[];
}

export interface MessageBrowserOptions {
  search: MessageSearch;
  feedAcks: FeedAcks;
  vendorPositions: VendorPositions;
  rejections: RejectionLog;
  feeds: readonly BrowsedFeed[];
  /** http.admin.showMessages: raw bodies for those logged in. */
  showMessages: boolean;
}

/** Whether one vendor key has read past the message. */
export interface VendorReadView {
  vendor: string;
  readThroughSeq: number;
  readAtMs: number;
  readPast: boolean;
}

/** One feed's part in a message's trail. */
export interface FeedTrail {
  feed: string;
  relay: string;
  /** The relay has acknowledged the message's seq. */
  acked: boolean;
  ackedSeq: number;
  /** When: in (ackedAfterMs, ackedAtMs]; undefined when acked before the history began, or not acked. */
  ackedAtMs?: number;
  ackedAfterMs?: number;
  /** 'unknown' when the relay has not reported vendor reads since the agent started. */
  vendors: VendorReadView[] | 'unknown';
}

/** A message and where it went. */
export interface MessageTrail {
  seq: number;
  stream: string;
  key: string;
  op: string;
  receivedAtMs: number;
  source: string;
  contentType: string;
  controlId?: string;
  messageType?: string;
  sendingApplication?: string;
  sendingFacility?: string;
  /** The answer the source gave: AA for HL7, 200 for HTTP ingest. */
  ack: string;
  bodyBytes: number;
  /** Only with http.admin.showMessages. */
  body?: string;
  feeds: FeedTrail[];
}

export class MessageBrowser {
  constructor(private readonly options: MessageBrowserOptions) {}

  get showsMessages(): boolean {
    return this.options.showMessages;
  }

  /** Messages matching `query`, newest first, with their trails (no bodies: open one for it). */
  find(query: MessageQuery): MessageTrail[] {
    const acked = this.options.feedAcks.all();
    return this.options.search.search(query).map((m) => this.trail(m, acked, false));
  }

  /** One message by seq, with its body when allowed; undefined when not held. */
  get(seq: number): MessageTrail | undefined {
    const message = this.options.search.get(seq);
    return message && this.trail(message, this.options.feedAcks.all(), this.options.showMessages);
  }

  /** The newest refusals, newest first. */
  rejected(limit: number): Rejection[] {
    return this.options.rejections.newest(limit);
  }

  private trail(m: MessageSummary, acked: Map<string, number>, withBody: boolean): MessageTrail {
    const h = m.headers;
    const feeds = this.options.feeds
      .filter((f) => f.streams.includes(m.stream))
      .map((f): FeedTrail => {
        const ackedSeq = acked.get(f.name) ?? 0;
        const isAcked = ackedSeq >= m.seq;
        const at = isAcked ? this.options.feedAcks.ackedAt(f.name, m.seq) : undefined;
        const reads = this.options.vendorPositions.forFeed(f.relay, f.name);
        return {
          feed: f.name,
          relay: f.relay,
          acked: isAcked,
          ackedSeq,
          ...(at ? { ackedAtMs: at.atMs, ...(at.afterMs !== undefined ? { ackedAfterMs: at.afterMs } : {}) } : {}),
          vendors: reads === undefined ? 'unknown' : reads.map((r) => ({ vendor: r.vendor, readThroughSeq: r.readThroughSeq, readAtMs: r.readAtMs, readPast: r.readThroughSeq >= m.seq })),
        };
      });
    const body = withBody ? this.options.search.body(m.seq) : undefined;
    return {
      seq: m.seq,
      stream: m.stream,
      key: m.key,
      op: m.op,
      receivedAtMs: m.tsMs,
      source: m.source,
      contentType: m.contentType,
      ...optional('controlId', h.controlId),
      ...optional('messageType', h.messageType),
      ...optional('sendingApplication', h.sendingApplication),
      ...optional('sendingFacility', h.sendingFacility),
      ack: m.contentType === 'hl7v2' ? 'AA' : '200',
      bodyBytes: m.bodyBytes,
      ...(body !== undefined ? { body: body.toString('utf8') } : {}),
      feeds,
    };
  }
}

function optional<K extends string>(name: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined || value === '' ? {} : ({ [name]: value } as Record<K, string>);
}
