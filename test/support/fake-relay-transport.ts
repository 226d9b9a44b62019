// The one in-memory RelayTransport for unit tests. It keeps the contract the
// real gRPC transport keeps against a real relay (test/contract/
// relay-transport.contract.ts runs both): Hello -> Welcome with the relay's
// marks, each batch answered in order with the relay's decision (the relay's
// own decideBatch: ack, duplicate ack, gap nack, revoked nack), revoke and
// reinstate answered, close() ends the session once, a dead address or an
// aborted attempt rejects with a retryable RelayLinkError.
//
// Blob transfer (blobs: true, the default): the Welcome lists BLOB_FEATURE and
// the session has `blobs`; chunks are held in memory by hash per relay (so they
// survive a reconnect, like the relay's store); an offer answers which chunks
// are missing and how much of each is held; a part is taken only at the end of
// what is held, a complete chunk is stored only if its SHA-256 matches (else it
// starts again from 0); a batch whose blob-ref event names an instance not
// complete is nacked 'blob-incomplete' with expected = the batch's first seq.
//
// `answers: 'manual'` keeps the relay silent: batches are only recorded, and
// the test plays the relay itself (calling the pump's onAck/onNack directly).
//
// The downlink (inbound: true, the default, on a stream of protocol 2): the
// Welcome lists INBOUND_FEATURE and the session has `inbound`. writeInbound()
// stores an event per channel, numbered from 1; a session sends every event of
// a channel its Hello declared above the channel's acked mark that it has not
// sent yet, oldest first, up to 256 per delivery; an ack moves the mark
// (cumulative, never back) and the relay reports the backlog; a receipt for an
// event sent is stored once per (id, outcome, attempts) and answered, a second
// final one with another outcome, or one for an unknown id, is answered with an
// error. `protocolVersion: 1` plays an older relay: Hello of 2 ends the attempt
// as the gRPC transport reports it (RelayProtocolTooOldError), Hello of 1 is
// welcomed without the downlink.
import { createHash, randomBytes } from 'node:crypto';
import { BLOB_FEATURE, BLOB_REF_CONTENT_TYPE, FINAL_OUTCOMES, INBOUND_FEATURE, PROTOCOL_VERSION, decideBatch, decodeEvents, parseImagingInstanceBody, pb, type InboundReceipt } from '../../protocol/index.js';
import { BlobRefusedError, RelayLinkError, RelayProtocolTooOldError } from '../../agent/replication/errors.js';
import type { InboundEventIn } from '../../agent/downlink/downlink-ports.js';
import type {
  BlobChannel,
  BlobOfferAnswer,
  BlobOfferRequest,
  BlobPartAnswer,
  BlobPartRequest,
  FeedControlRequest,
  HelloInfo,
  InboundBacklogEntry,
  InboundChannel,
  OutboundBatch,
  OutgoingReceipt,
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
  /** Whether the relay takes blob transfer (lists BLOB_FEATURE); default true. */
  blobs?: boolean;
  /** Whether the relay offers the downlink (lists INBOUND_FEATURE on a stream of protocol 2); default true. */
  inbound?: boolean;
  /** The newest protocol the relay speaks; default PROTOCOL_VERSION. 1 plays a relay older than the downlink. */
  protocolVersion?: number;
}

/** Switches a test may flip while the relay runs. */
export interface FakeRelaySwitches {
  /** false: receipts are stored but never answered (their ReceiptAck is lost with the stream). Default true. */
  answerReceipts: boolean;
}

/** The most events the fake relay puts in one InboundDelivery. */
const FAKE_DELIVERY_EVENTS = 256;

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
  readonly blobFeature: boolean;
  /** Chunks held, by SHA-256: the bytes received from the chunk's start, and whether it was verified and stored. */
  readonly chunks = new Map<string, { bytes: Buffer; stored: boolean }>();
  /** Instances (SHA-256) whose every chunk is stored and whose whole hash matched. */
  readonly completeInstances = new Set<string>();
  /** (feed, instance SHA-256) offered before: the relay counts what deduplication saved at a feed's first offer only. */
  private readonly offeredBy = new Set<string>();
  /** Every blob request the agent sent, in order. */
  readonly offers: BlobOfferRequest[] = [];
  readonly parts: BlobPartRequest[] = [];
  readonly inboundFeature: boolean;
  readonly protocolVersion: number;
  /** Inbound events per channel, in channel_seq order. */
  readonly inboundEvents = new Map<string, InboundEventIn[]>();
  /** The agent's acked mark per channel. */
  readonly inboundAcked = new Map<string, number>();
  /** Receipts stored per event id, in the order they came. */
  readonly receipts = new Map<string, InboundReceipt[]>();
  /** Every Hello the relay was sent (also refused ones), in order. */
  readonly hellos: HelloInfo[] = [];
  readonly switches: FakeRelaySwitches = { answerReceipts: true };

  constructor(private readonly options: FakeRelayOptions = {}) {
    this.relayId = options.relayId ?? 'fake-relay';
    this.maxBatchBytes = options.maxBatchBytes ?? 1 << 20;
    this.answers = options.answers ?? 'auto';
    this.blobFeature = options.blobs ?? true;
    this.inboundFeature = options.inbound ?? true;
    this.protocolVersion = options.protocolVersion ?? PROTOCOL_VERSION;
  }

  /** Stores a vendor's event for `channel` (numbered next) and sends it on every open session that declared the channel. */
  writeInbound(channel: string, event: { key: string; body: Buffer | string; contentType?: string; vendor?: string; idempotencyKey?: string; ttlMs?: number }): InboundEventIn {
    const events = this.inboundEvents.get(channel) ?? [];
    this.inboundEvents.set(channel, events);
    const receivedAtMs = Date.now();
    const stored: InboundEventIn = {
      id: `ib${[...randomBytes(18)].map((b) => 'abcdefghijklmnopqrstuvwxyz234567'[b % 32]).join('')}`,
      channel,
      channelSeq: (events.at(-1)?.channelSeq ?? 0) + 1,
      key: event.key,
      contentType: event.contentType ?? 'json',
      body: Buffer.from(event.body),
      vendor: event.vendor ?? 'test-vendor',
      idempotencyKey: event.idempotencyKey ?? `k-${events.length + 1}`,
      receivedAtMs,
      expiresAtMs: receivedAtMs + (event.ttlMs ?? 3_600_000),
    };
    events.push(stored);
    for (const session of this.sessions) session.sendInbound();
    return stored;
  }

  /** What waits for the agent per channel (not acked). */
  inboundBacklog(channels: readonly string[]): InboundBacklogEntry[] {
    return channels.map((channel) => {
      const acked = this.inboundAcked.get(channel) ?? 0;
      const waiting = (this.inboundEvents.get(channel) ?? []).filter((e) => e.channelSeq > acked);
      return { channel, waiting: waiting.length, oldestReceivedAtMs: waiting[0]?.receivedAtMs ?? null };
    });
  }

  /** @internal Stores a receipt as the relay does; returns the error text of a refusal, '' when stored (or a duplicate). */
  takeReceipt(receipt: OutgoingReceipt): string {
    const sent = [...this.inboundEvents.values()].flat().find((e) => e.id === receipt.id);
    if (!sent) return `no inbound event ${receipt.id} was sent to this hospital`;
    const held = this.receipts.get(receipt.id) ?? [];
    if (held.some((r) => r.outcome === receipt.outcome && r.attempts === receipt.attempts)) return '';
    const final = held.find((r) => FINAL_OUTCOMES.has(r.outcome));
    if (final && receipt.final) return `inbound event ${receipt.id} already has the final receipt ${final.outcome}`;
    const { ledgerHead: _head, ledgerIndex: _index, ...plain } = receipt;
    held.push(plain);
    this.receipts.set(receipt.id, held);
    return '';
  }

  /** Bytes of part data received (what crossed the line as chunk bytes). */
  get partBytes(): number {
    let total = 0;
    for (const part of this.parts) total += part.data.length;
    return total;
  }

  /** @internal Answers an offer as the relay does (BlobHave). */
  answerOffer(request: BlobOfferRequest): BlobOfferAnswer {
    this.offers.push(request);
    const { manifest } = request;
    if (manifest.chunks.length === 0 || manifest.chunks.reduce((sum, c) => sum + c.size, 0) !== manifest.size) {
      throw new BlobRefusedError(`relay refused instance ${manifest.sha256} of feed ${request.feed}: the chunks' sizes do not add up to the instance's size`);
    }
    const missing: BlobOfferAnswer['missing'] = [];
    manifest.chunks.forEach((chunk, index) => {
      const held = this.chunks.get(chunk.sha256);
      if (!held?.stored) missing.push({ index, partialBytes: held?.bytes.length ?? 0 });
    });
    if (missing.length === 0 && !this.completeInstances.has(manifest.sha256)) {
      const whole = createHash('sha256');
      for (const chunk of manifest.chunks) whole.update(this.chunks.get(chunk.sha256)!.bytes);
      if (whole.digest('hex') !== manifest.sha256) throw new BlobRefusedError(`relay refused instance ${manifest.sha256}: its chunks do not hash to it`);
      this.completeInstances.add(manifest.sha256);
    }
    const first = !this.offeredBy.has(`${request.feed}\0${manifest.sha256}`);
    this.offeredBy.add(`${request.feed}\0${manifest.sha256}`);
    const dedupedBytes = first ? manifest.chunks.reduce((sum, chunk) => sum + (this.chunks.get(chunk.sha256)?.stored ? chunk.size : 0), 0) : 0;
    return { complete: missing.length === 0, missing, dedupedBytes };
  }

  /** @internal Takes a part as the relay does (BlobPartAck). */
  takePart(request: BlobPartRequest): BlobPartAnswer {
    this.parts.push(request);
    const held = this.chunks.get(request.chunkSha256) ?? { bytes: Buffer.alloc(0), stored: false };
    this.chunks.set(request.chunkSha256, held);
    if (held.stored) return { received: held.bytes.length, stored: true };
    if (request.offset !== held.bytes.length || request.offset + request.data.length > request.chunkSize) {
      throw new BlobRefusedError(`relay refused the part of chunk ${request.chunkSha256} at offset ${request.offset}: it holds ${held.bytes.length} bytes`, held.bytes.length);
    }
    held.bytes = Buffer.concat([held.bytes, request.data]);
    if (held.bytes.length === request.chunkSize) {
      if (createHash('sha256').update(held.bytes).digest('hex') !== request.chunkSha256) {
        held.bytes = Buffer.alloc(0);
        throw new BlobRefusedError(`relay refused chunk ${request.chunkSha256}: its bytes do not match its hash`, 0);
      }
      held.stored = true;
    }
    return { received: held.bytes.length, stored: held.stored };
  }

  /** @internal The first blob-ref event of the batch whose instance is not complete, if any. */
  incompleteInstanceIn(batch: OutboundBatch): string | undefined {
    if (!this.blobFeature) return undefined;
    const events = decodeEvents({ ...batch, codec: CODEC_TO_PROTO[batch.codec] });
    for (const event of events) {
      if (event.contentType !== BLOB_REF_CONTENT_TYPE || event.op !== 'upsert') continue;
      const body = parseImagingInstanceBody(event.body);
      if (!this.completeInstances.has(body.sha256)) return body.sopInstanceUid;
    }
    return undefined;
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
    this.hellos.push(hello);
    if (this.options.secret !== undefined && hello.secret !== this.options.secret) {
      throw new RelayLinkError('relay stream ended: unknown hospital or wrong secret', false, 'handshake');
    }
    const asked = hello.protocolVersion ?? PROTOCOL_VERSION;
    if (asked > this.protocolVersion) {
      throw new RelayProtocolTooOldError(
        this.protocolVersion,
        `relay speaks an older replication protocol version (${this.protocolVersion}): WL_PROTOCOL_VERSION: agent speaks replication protocol ${asked} but this relay speaks ${this.protocolVersion}; upgrade the older side`,
      );
    }
    const downlink = asked >= 2 && this.inboundFeature;
    const welcome: WelcomeInfo = {
      relayId: this.relayId,
      protocolVersion: asked,
      highWater: new Map(hello.feeds.map((feed) => [feed, this.highWater.get(feed) ?? 0])),
      maxBatchBytes: this.maxBatchBytes,
      revoked: new Set(hello.feeds.filter((feed) => this.revoked.has(feed))),
      features: new Set([...(this.blobFeature ? [BLOB_FEATURE] : []), ...(downlink ? [INBOUND_FEATURE] : [])]),
    };
    const session = new FakeRelaySession(this, welcome, handlers, downlink ? (hello.inboundChannels ?? []).map((c) => c.name) : []);
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
  readonly blobs?: BlobChannel;
  readonly inbound?: InboundChannel;
  /** InboundAcks the agent sent on this stream, in order. */
  readonly inboundAcks: { channel: string; throughSeq: number }[] = [];
  /** Receipts the agent sent on this stream, in order. */
  readonly receiptsSent: OutgoingReceipt[] = [];
  /** Per declared channel, the highest channel_seq sent on this stream. */
  private readonly inboundSentThrough = new Map<string, number>();
  private readonly sentWaiters = new Set<() => void>();
  /** Blob requests not yet answered: rejected when the session ends. */
  private readonly pendingBlobs = new Set<(error: Error) => void>();

  constructor(
    private readonly relay: FakeRelay,
    readonly welcome: WelcomeInfo,
    private readonly handlers: RelaySessionHandlers,
    /** The inbound channels this stream carries (declared in Hello, protocol 2, relay with the feature). */
    readonly inboundChannels: readonly string[] = [],
  ) {
    if (welcome.features?.has(INBOUND_FEATURE)) {
      this.inbound = { ack: (channel, throughSeq) => this.takeAck(channel, throughSeq), sendReceipt: (receipt) => this.takeReceipt(receipt) };
      // After the Welcome reached the agent, as on the wire.
      setImmediate(() => {
        this.reportBacklog();
        this.sendInbound();
      });
    }
    if (relay.blobFeature) {
      this.blobs = {
        offer: (request) => this.blobRequest(() => relay.answerOffer(request)),
        sendPart: (request) => this.blobRequest(() => relay.takePart(request)),
      };
    }
  }

  /** Answers after a hop (as on the wire), or rejects when the session ends first. */
  private blobRequest<T>(answer: () => T): Promise<T> {
    if (this.closedWith !== 'open') return Promise.reject(new RelayLinkError('session is closed', true, 'stream'));
    return new Promise<T>((resolve, reject) => {
      this.pendingBlobs.add(reject);
      setImmediate(() => {
        if (!this.pendingBlobs.delete(reject)) return;
        try {
          resolve(answer());
        } catch (error) {
          reject(error as Error);
        }
      });
    });
  }

  /** @internal Sends what this stream has not sent of its channels above the acked marks, oldest first. */
  sendInbound(): void {
    if (this.closedWith !== 'open' || !this.inbound) return;
    for (const channel of this.inboundChannels) {
      const from = Math.max(this.relay.inboundAcked.get(channel) ?? 0, this.inboundSentThrough.get(channel) ?? 0);
      const unsent = (this.relay.inboundEvents.get(channel) ?? []).filter((e) => e.channelSeq > from);
      for (let at = 0; at < unsent.length; at += FAKE_DELIVERY_EVENTS) {
        const delivery = unsent.slice(at, at + FAKE_DELIVERY_EVENTS);
        this.inboundSentThrough.set(channel, delivery.at(-1)!.channelSeq);
        this.handlers.onInboundDelivery?.(delivery.map((e) => ({ ...e, body: Buffer.from(e.body) })));
      }
    }
  }

  private takeAck(channel: string, throughSeq: number): void {
    if (this.closedWith !== 'open') return;
    this.inboundAcks.push({ channel, throughSeq });
    this.relay.inboundAcked.set(channel, Math.max(this.relay.inboundAcked.get(channel) ?? 0, throughSeq));
    queueMicrotask(() => this.reportBacklog());
  }

  private takeReceipt(receipt: OutgoingReceipt): void {
    if (this.closedWith !== 'open') return;
    this.receiptsSent.push(receipt);
    const error = this.relay.takeReceipt(receipt);
    if (!this.relay.switches.answerReceipts) return;
    setImmediate(() => {
      if (this.closedWith === 'open') this.handlers.onReceiptAck?.({ id: receipt.id, final: receipt.final, outcome: receipt.outcome, error });
    });
  }

  private reportBacklog(): void {
    if (this.closedWith !== 'open' || this.inboundChannels.length === 0) return;
    this.handlers.onInboundBacklog?.(this.relay.inboundBacklog(this.inboundChannels));
  }

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
    const pending = [...this.pendingBlobs];
    this.pendingBlobs.clear();
    for (const reject of pending) reject(new RelayLinkError('session closed before the relay answered a blob request', true, 'stream'));
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
      case 'overlap': {
        const incomplete = this.relay.incompleteInstanceIn(batch);
        if (incomplete !== undefined) {
          this.handlers.onNack(batch.feed, batch.firstSeq, `instance ${incomplete} is not complete at the relay`, 'blob-incomplete');
          return;
        }
        this.relay.highWater.set(batch.feed, batch.lastSeq);
        this.handlers.onAck(batch.feed, batch.lastSeq, false);
        return;
      }
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

const CODEC_TO_PROTO = { none: pb.Codec.CODEC_NONE, gzip: pb.Codec.CODEC_GZIP, deflate: pb.Codec.CODEC_DEFLATE, brotli: pb.Codec.CODEC_BROTLI } as const;

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : 'cancelled';
}
