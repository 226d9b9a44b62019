// The relay's side of the downlink on one Replicate stream (protocol 2, Welcome
// lists "inbound-v1"): inbound events to the agent per declared channel in a
// window, its acks, its receipts, and how much waits here.
//
// Failure modes handled:
//  1. A cut mid-window (the agent vanished, the line broke): nothing of the
//     window is kept in memory across streams. The next stream starts from the
//     store's acked mark (InboundStore.ackedSeq), so exactly the unacked events
//     are sent again; the agent deduplicates them by id and acks again.
//  2. An agent that journals slower than vendors write: at most
//     MAX_INBOUND_WINDOW_EVENTS events and MAX_INBOUND_WINDOW_BYTES of bodies
//     are unacknowledged per channel; the rest waits in the store. An event
//     larger than the room left waits (taken and held here, already marked
//     sent) until the window has room for it, or goes alone into an empty one.
//  3. An ack beyond what this stream sent (an agent that journaled a previous
//     stream's events, or a broken one claiming 2^53): the mark moves only up
//     to the highest seq sent on this stream, so an event never sent is never
//     acknowledged; the agent acks again after the resend.
//  4. An ack or receipt for a channel the Hello did not declare, an ack before
//     Hello or on a protocol 1 stream: the stream ends with WL_PROTOCOL_VIOLATION
//     (replication-session.ts).
//  5. A receipt resent after a cut: stored once (InboundStore.storeReceipt is
//     idempotent) and acked again; a second final receipt with another outcome,
//     a receipt for an id the relay never sent, or a malformed one is answered
//     with ReceiptAck.error (WL_RECEIPT_*) and nothing stored; the stream goes on.
//  6. Writes while the agent is connected: the store's subscribe() wakes the
//     channel's pump; wakes coalesce to one queued pump per channel, so a burst
//     of writes cannot fill the session's queue.
//  7. Order and backpressure: every message this handler writes goes through the
//     session's ordered queue and its send(), which waits for HTTP/2 'drain'; a
//     pump never runs beside an agent message's processing.
import type { Logger } from 'pino';
import {
  FINAL_OUTCOMES,
  INBOUND_CONTENT_TYPES,
  INBOUND_FIELD_TYPES,
  INBOUND_ID_PATTERN,
  RECEIPT_OUTCOMES,
  isInboundChannelName,
  pb,
  type AgentMessage,
  type InboundChannelDeclaration,
  type InboundContentType,
  type InboundFieldType,
  type InboundReceipt,
  type ReceiptOutcome,
  type RelayMessage,
} from '../../protocol/index.js';
import { ProtocolViolationError, RelayErrorCode } from '../errors.js';
import type { InboundRecord, InboundStore } from '../inbound/index.js';
import type { RelayMetrics } from '../status/index.js';

/** Events sent and not yet acknowledged, per channel and stream. */
export const MAX_INBOUND_WINDOW_EVENTS = 256;
/** Body bytes sent and not yet acknowledged, per channel and stream. */
export const MAX_INBOUND_WINDOW_BYTES = 1024 * 1024;
/**
 * At most this many events and body bytes go in one InboundDelivery: the agent
 * journals a delivery in one transaction and acks it, so smaller messages keep
 * acks (and the window) moving while the rest of the window is on the wire.
 */
export const MAX_DELIVERY_EVENTS = 64;
export const MAX_DELIVERY_BYTES = 256 * 1024;
/** The most inbound channels one Hello may declare. */
export const MAX_INBOUND_CHANNELS = 64;
/** The longest TTL a channel may declare, in ms (30 days): an event older than that is no booking anyone still waits for. */
export const MAX_DECLARED_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** The largest body a channel may declare, in bytes (the relay's own inbound.maxBodyBytes caps writes further). */
export const MAX_DECLARED_BODY_BYTES = 16 * 1024 * 1024;
/** Backlog is re-read this often even when nothing woke it (ticks of the service's interval): an expiry by another relay process shows. */
const BACKLOG_REFRESH_TICKS = 15;

type InboundChannelMessage = NonNullable<NonNullable<AgentMessage['hello']>['inboundChannels']>[number];
type InboundAckMessage = NonNullable<AgentMessage['inboundAck']>;
type InboundReceiptMessage = NonNullable<AgentMessage['inboundReceipt']>;

/**
 * The channels a Hello declares, checked: a valid name (once), a default TTL
 * within its maximum and the maximum within MAX_DECLARED_TTL_MS, a body limit,
 * known content types, key and field paths of the form "$.a.b". Throws
 * ProtocolViolationError naming the channel and what is wrong.
 */
export function declaredInboundChannels(channels: readonly InboundChannelMessage[]): InboundChannelDeclaration[] {
  if (channels.length > MAX_INBOUND_CHANNELS) {
    throw new ProtocolViolationError(`Hello declares ${channels.length} inbound channels; at most ${MAX_INBOUND_CHANNELS} are taken`);
  }
  const seen = new Set<string>();
  return channels.map((channel, index) => {
    const name = channel.name ?? '';
    const bad = (what: string) => new ProtocolViolationError(`Hello declares inbound channel ${index + 1} (${JSON.stringify(name)}) ${what}; nothing of the stream was taken`);
    if (!isInboundChannelName(name)) throw bad('with an invalid name (1-128 letters, digits, ".", "_" or "-")');
    if (seen.has(name)) throw bad('twice');
    seen.add(name);
    const defaultTtlMs = Number(channel.defaultTtlMs ?? 0);
    const maxTtlMs = Number(channel.maxTtlMs ?? 0);
    if (!Number.isSafeInteger(maxTtlMs) || maxTtlMs <= 0 || maxTtlMs > MAX_DECLARED_TTL_MS) {
      throw bad(`with maxTtlMs ${maxTtlMs}: expected 1 to ${MAX_DECLARED_TTL_MS} (30 days)`);
    }
    if (!Number.isSafeInteger(defaultTtlMs) || defaultTtlMs <= 0 || defaultTtlMs > maxTtlMs) {
      throw bad(`with defaultTtlMs ${defaultTtlMs}: expected 1 to its maxTtlMs ${maxTtlMs}`);
    }
    const maxBodyBytes = Number(channel.maxBodyBytes ?? 0);
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0 || maxBodyBytes > MAX_DECLARED_BODY_BYTES) {
      throw bad(`with maxBodyBytes ${maxBodyBytes}: expected 1 to ${MAX_DECLARED_BODY_BYTES}`);
    }
    const contentTypes = [...new Set(channel.contentTypes ?? [])];
    const badType = contentTypes.find((t) => !(INBOUND_CONTENT_TYPES as readonly string[]).includes(t));
    if (contentTypes.length === 0 || badType !== undefined) {
      throw bad(`with content types ${JSON.stringify(contentTypes)}: expected one or more of ${INBOUND_CONTENT_TYPES.join(', ')}`);
    }
    const keyPath = channel.keyPath ?? '';
    if (keyPath !== '' && !isFieldPath(keyPath)) throw bad(`with keyPath ${JSON.stringify(keyPath)}: expected "" or "$.member.member"`);
    const requiredFields = (channel.requiredFields ?? []).map((field) => {
      const path = field.path ?? '';
      const type = field.type ?? '';
      if (!isFieldPath(path)) throw bad(`with a required field path ${JSON.stringify(path)}: expected "$.member.member"`);
      if (!(INBOUND_FIELD_TYPES as readonly string[]).includes(type)) throw bad(`with required field ${path} of type ${JSON.stringify(type)}: expected one of ${INBOUND_FIELD_TYPES.join(', ')}`);
      return { path, type: type as InboundFieldType };
    });
    return { name, defaultTtlMs, maxTtlMs, maxBodyBytes, contentTypes: contentTypes as InboundContentType[], keyPath, requiredFields };
  });
}

function isFieldPath(path: string): boolean {
  return /^\$(\.[^.]+)+$/.test(path);
}

/** What the handler is handed by its session. */
export interface InboundHandlerContext {
  store: InboundStore;
  hospital: string;
  channels: readonly InboundChannelDeclaration[];
  /** Runs a job in the session's ordered queue (after what is queued; dropped once the session drains or closes). */
  enqueue: (job: () => Promise<void>) => void;
  /** The session's send (waits for 'drain'); only called from queued jobs. */
  send: (message: RelayMessage) => Promise<void>;
  metrics: RelayMetrics;
  /** Milliseconds since the epoch. */
  now: () => number;
  log: Logger;
  /** Told of every receipt newly stored (the status's counts per outcome). */
  onReceiptStored?: (channel: string, outcome: ReceiptOutcome) => void;
}

/** One channel's window on this stream. */
interface ChannelWindow {
  declaration: InboundChannelDeclaration;
  /** The store's acked mark as last known. */
  ackedSeq: number;
  /** The highest seq taken from the store on this stream (sent or held). */
  takenThroughSeq: number;
  /** The highest seq sent on this stream. */
  sentThroughSeq: number;
  /** Sent, not yet acknowledged, oldest first. */
  inFlight: { seq: number; bytes: number }[];
  inFlightBytes: number;
  /** Taken (marked sent) but not yet written: no room in the window for them yet. `resend`: it was on a stream before. */
  held: { record: InboundRecord; resend: boolean }[];
  /** A pump of this channel waits in the session's queue. */
  pumpQueued: boolean;
}

/** A channel's window as the status shows it. */
export interface InboundWindowStatus {
  channel: string;
  /** Events sent on this stream and not yet acknowledged. */
  sentUnacked: number;
  ackedSeq: number;
}

export class InboundHandler {
  private readonly windows = new Map<string, ChannelWindow>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  /** Something that moves the backlog happened since it was last sent. */
  private backlogDirty = true;
  private backlogTicks = 0;
  private sentBacklog: string | undefined;

  constructor(private readonly context: InboundHandlerContext) {
    for (const declaration of context.channels) {
      this.windows.set(declaration.name, { declaration, ackedSeq: 0, takenThroughSeq: 0, sentThroughSeq: 0, inFlight: [], inFlightBytes: 0, held: [], pumpQueued: false });
    }
  }

  /** Reads each channel's acked mark (never memory: a reconnect resends what is unacked), listens for writes and queues the first pumps and backlog. Called from a queued job, after Welcome. */
  async start(): Promise<void> {
    const { store, hospital } = this.context;
    for (const window of this.windows.values()) {
      window.ackedSeq = await store.ackedSeq(hospital, window.declaration.name);
      window.takenThroughSeq = window.ackedSeq;
      window.sentThroughSeq = window.ackedSeq;
    }
    if (this.closed) return;
    this.unsubscribe = store.subscribe(hospital, (what, channel) => {
      this.backlogDirty = true;
      if (what === 'write') this.schedulePump(channel);
    });
    for (const channel of this.windows.keys()) this.schedulePump(channel);
    this.offerBacklog();
  }

  /** The agent journaled `channel` through `throughSeq`. Called from a queued job. */
  async onAck(ack: InboundAckMessage): Promise<void> {
    const channel = ack.channel ?? '';
    const window = this.windows.get(channel);
    if (!window) throw new ProtocolViolationError(`inboundAck for channel ${JSON.stringify(channel)}, which this stream's Hello did not declare (declared: ${[...this.windows.keys()].join(', ') || 'none'})`);
    const claimed = Number(ack.throughSeq ?? 0);
    // Never acknowledge what this stream has not sent: an unsent event would never leave the relay.
    const through = Math.min(claimed, window.sentThroughSeq);
    if (claimed > through) this.context.log.debug({ channel, claimed, sentThroughSeq: window.sentThroughSeq }, 'inbound ack beyond what this stream sent; taken up to what was sent');
    if (through > window.ackedSeq) {
      window.ackedSeq = await this.context.store.ack(this.context.hospital, channel, through, this.context.now());
      let acked = 0;
      while (window.inFlight.length > 0 && window.inFlight[0]!.seq <= through) {
        window.inFlightBytes -= window.inFlight.shift()!.bytes;
        acked += 1;
      }
      if (acked > 0) this.context.metrics.inboundEvents.inc({ result: 'acked' }, acked);
      this.backlogDirty = true;
    }
    await this.fill(window);
  }

  /** Stores a receipt and answers ReceiptAck. Called from a queued job. */
  async onReceipt(message: InboundReceiptMessage): Promise<void> {
    const receipt = receiptOf(message);
    const answer = (error: string) =>
      this.context.send(pb.RelayMessage.create({ receiptAck: { id: receipt.id, final: receipt.final, outcome: receipt.outcome, ...(error ? { error } : {}) } }));
    const invalid = receiptProblem(receipt);
    if (invalid) {
      this.context.log.warn({ id: receipt.id, channel: receipt.channel, code: RelayErrorCode.RECEIPT_INVALID }, 'inbound receipt refused: malformed');
      return answer(`${RelayErrorCode.RECEIPT_INVALID}: ${invalid}; nothing was stored`);
    }
    const result = await this.context.store.storeReceipt(this.context.hospital, receipt, this.context.now());
    const fields = { id: receipt.id, channel: receipt.channel, outcome: receipt.outcome, final: receipt.final, attempts: receipt.attempts };
    switch (result.kind) {
      case 'stored':
        this.context.metrics.inboundReceipts.inc({ outcome: receipt.outcome });
        this.context.onReceiptStored?.(receipt.channel, receipt.outcome);
        this.backlogDirty = true;
        this.context.log.info({ ...fields, receiptSeq: result.receiptSeq }, 'inbound receipt stored');
        return answer('');
      case 'duplicate':
        this.context.log.debug({ ...fields, receiptSeq: result.receiptSeq }, 'inbound receipt again (a resend); acked');
        return answer('');
      case 'unknown':
        this.context.log.warn({ ...fields, code: RelayErrorCode.RECEIPT_UNKNOWN }, 'inbound receipt refused: unknown event');
        return answer(`${RelayErrorCode.RECEIPT_UNKNOWN}: ${result.reason}; nothing was stored`);
      case 'conflict':
        this.context.log.warn({ ...fields, code: RelayErrorCode.RECEIPT_CONFLICT }, 'inbound receipt refused: the event already has another final receipt');
        return answer(`${RelayErrorCode.RECEIPT_CONFLICT}: ${result.reason}; the first final receipt stands`);
    }
  }

  /** Queues an InboundBacklog if the backlog may have changed (the service's interval, at most every 2 s); sent only when it did. */
  offerBacklog(): void {
    if (this.closed) return;
    this.backlogTicks += 1;
    if (!this.backlogDirty && this.backlogTicks % BACKLOG_REFRESH_TICKS !== 0) return;
    this.backlogDirty = false;
    this.context.enqueue(async () => {
      const entries = (await this.context.store.backlog(this.context.hospital)).filter((e) => this.windows.has(e.channel));
      const channels = entries.map((e) => ({ channel: e.channel, waiting: e.waiting, oldestReceivedAtMs: e.oldestReceivedAtMs ?? 0 }));
      const json = JSON.stringify(channels);
      if (json === this.sentBacklog) return;
      this.sentBacklog = json;
      await this.context.send(pb.RelayMessage.create({ inboundBacklog: { channels } }));
    });
  }

  /** Each declared channel's window on this stream. */
  windowStatus(): InboundWindowStatus[] {
    return [...this.windows.values()].map((w) => ({ channel: w.declaration.name, sentUnacked: w.inFlight.length, ackedSeq: w.ackedSeq }));
  }

  /** The stream ended: stop listening; what was in flight stays unacked in the store and goes again on the next stream. */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private schedulePump(channel: string): void {
    const window = this.windows.get(channel);
    if (!window || window.pumpQueued || this.closed) return;
    window.pumpQueued = true;
    this.context.enqueue(async () => {
      // Cleared first: a write committed while this pump reads wakes another.
      window.pumpQueued = false;
      await this.fill(window);
    });
  }

  /** Sends what fits in the channel's window, oldest first, several events per InboundDelivery. */
  private async fill(window: ChannelWindow): Promise<void> {
    const { store, hospital, metrics } = this.context;
    const channel = window.declaration.name;
    while (!this.closed) {
      if (window.held.length === 0) {
        const roomEvents = MAX_INBOUND_WINDOW_EVENTS - window.inFlight.length;
        const roomBytes = MAX_INBOUND_WINDOW_BYTES - window.inFlightBytes;
        if (roomEvents <= 0 || roomBytes <= 0) return;
        const nowMs = this.context.now();
        const taken = await store.takeToSend(hospital, channel, window.takenThroughSeq, Math.min(roomEvents, MAX_DELIVERY_EVENTS), Math.min(roomBytes, MAX_DELIVERY_BYTES), nowMs);
        if (taken.length === 0) return;
        window.takenThroughSeq = taken[taken.length - 1]!.channelSeq;
        // takeToSend marks a first send with nowMs; an earlier mark means an earlier stream sent it.
        window.held = taken.map((record) => ({ record, resend: record.firstSentAtMs !== null && record.firstSentAtMs < nowMs }));
      }
      const delivery: InboundRecord[] = [];
      let bytes = 0;
      let resent = 0;
      while (window.held.length > 0 && window.inFlight.length + delivery.length < MAX_INBOUND_WINDOW_EVENTS) {
        const size = window.held[0]!.record.body.length;
        const unacked = window.inFlight.length + delivery.length;
        // Past the byte window only alone: an event as large as the window still gets through.
        if (unacked > 0 && window.inFlightBytes + bytes + size > MAX_INBOUND_WINDOW_BYTES) break;
        const next = window.held.shift()!;
        delivery.push(next.record);
        if (next.resend) resent += 1;
        bytes += size;
      }
      if (delivery.length === 0) return;
      for (const record of delivery) window.inFlight.push({ seq: record.channelSeq, bytes: record.body.length });
      window.inFlightBytes += bytes;
      window.sentThroughSeq = delivery[delivery.length - 1]!.channelSeq;
      if (delivery.length - resent > 0) metrics.inboundEvents.inc({ result: 'sent' }, delivery.length - resent);
      if (resent > 0) metrics.inboundEvents.inc({ result: 'resent' }, resent);
      this.context.log.debug({ channel, firstSeq: delivery[0]!.channelSeq, lastSeq: window.sentThroughSeq, events: delivery.length, bytes }, 'inbound delivery sent');
      await this.context.send(pb.RelayMessage.create({ inboundDelivery: { events: delivery.map(wireEvent) } }));
    }
  }
}

function wireEvent(record: InboundRecord) {
  return {
    id: record.id,
    channel: record.channel,
    channelSeq: record.channelSeq,
    key: record.key,
    contentType: record.contentType,
    body: record.body,
    vendor: record.vendor,
    idempotencyKey: record.idempotencyKey,
    receivedAtMs: record.receivedAtMs,
    expiresAtMs: record.expiresAtMs,
  };
}

function receiptOf(message: InboundReceiptMessage): InboundReceipt {
  return {
    id: message.id ?? '',
    channel: message.channel ?? '',
    outcome: (message.outcome ?? '') as ReceiptOutcome,
    final: message.final === true,
    code: message.code ?? '',
    reason: message.reason ?? '',
    reference: message.reference ?? '',
    attempts: Number(message.attempts ?? 0),
    decidedAtMs: Number(message.decidedAtMs ?? 0),
  };
}

/** Why a receipt cannot be stored as sent; undefined when it can. */
function receiptProblem(receipt: InboundReceipt): string | undefined {
  if (!INBOUND_ID_PATTERN.test(receipt.id)) return `receipt for ${JSON.stringify(receipt.id)}, which is not an inbound id ("ib" and 18 base32 characters)`;
  if (!isInboundChannelName(receipt.channel)) return `receipt for ${receipt.id} names channel ${JSON.stringify(receipt.channel)}, which is not a valid channel name`;
  if (!(RECEIPT_OUTCOMES as readonly string[]).includes(receipt.outcome)) return `receipt for ${receipt.id} has outcome ${JSON.stringify(receipt.outcome)}: expected one of ${RECEIPT_OUTCOMES.join(', ')}`;
  if (FINAL_OUTCOMES.has(receipt.outcome) !== receipt.final) return `receipt for ${receipt.id} has outcome ${receipt.outcome} with final ${receipt.final}: ${receipt.outcome} is ${FINAL_OUTCOMES.has(receipt.outcome) ? '' : 'not '}final`;
  return undefined;
}
