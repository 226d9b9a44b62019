// One agent's Replicate stream: Hello, then batches answered strictly in order.
//
// Failure modes handled:
//  1. A batch before Hello, a second Hello, an empty message, a frame that is
//     not an AgentMessage at all: the stream ends with INVALID_ARGUMENT
//     (WL_PROTOCOL_VIOLATION).
//  2. Wrong hospital id or secret, wrong protocol version: UNAUTHENTICATED /
//     FAILED_PRECONDITION before anything is read from the store.
//  3. A corrupt, oversize or malformed batch: the stream ends with a status
//     naming what was wrong; nothing of the batch is stored, so the agent's
//     resend after reconnecting is accepted as if the first never came.
//  4. A resend (duplicate or overlap) or a gap: acked or nacked, the stream
//     stays open. FeedStore.storeBatch decides (protocol/batch-decision.ts);
//     the session answers its decision and checks nothing itself.
//  5. An agent that sends faster than the relay stores: messages queue in
//     order; past MAX_QUEUED_MESSAGES the stream is paused, so HTTP/2 flow
//     control pushes back on the agent instead of relay memory growing.
//  6. The agent vanishes mid-batch (cancel): the session closes; a batch that
//     was already committed stays committed and its ack is simply lost, which
//     the agent's resume (Welcome high-water mark) covers.
//  7. The relay stops: queued batches are finished and acked, then the stream
//     ends with UNAVAILABLE so the agent reconnects.
//  8. A batch of a feed the hospital revoked (storeBatch says `revoked`,
//     also when another stream revoked it while this batch was decoded):
//     nacked REVOKED, nothing stored;
//     the stream stays open for the other feeds (feed-control-handler.ts does
//     the revoke and reinstate themselves).
//  9. A batch whose range runs past what its events and the agent's announced
//     journal head justify (an empty batch claiming lastSeq 2^53 − 1): the
//     stream ends with FAILED_PRECONDITION (WL_BATCH_BEYOND_HEAD), nothing
//     stored, so the feed's mark never runs ahead of the agent's journal.
// 10. Imaging (with a BlobStore: Welcome lists "blob-v1"): BlobOffer and
//     BlobPart are answered in stream order (blob-transfer-handler.ts); a batch
//     whose blob-ref event names an instance not complete here is nacked
//     BLOB_INCOMPLETE with expected_seq = first_seq and nothing stored. The
//     (feed, seq) → instance references are recorded before storeBatch,
//     idempotently, and dropped again when the store did not take the batch,
//     so the feed store's transaction stays the one decision point and works
//     the same on every backend; a reference only counts for vendors once its
//     seq is visible, which storeBatch alone moves.
// 11. Completeness proofs (with a signing key: Welcome lists "proof-v1"): a
//     ProofRequest is answered in stream order (proof-handler.ts); a Batch with
//     repair=true is always decoded and stored only where the relay lacks the
//     event below the mark (FeedStore.storeBatch, decision `repaired`), then
//     acked with the unchanged mark. A proof message to a relay without the
//     key ends the stream (the agent only sends one when Welcome lists it).
// 12. The downlink (with an InboundStore, to a stream of protocol 2: Welcome
//     lists "inbound-v1"): the channels the Hello declares are checked (a bad
//     name, a TTL of 0 or past 30 days, an unknown content type end the stream
//     with WL_PROTOCOL_VIOLATION naming the channel and the field) and kept
//     (InboundStore.declareChannels) before Welcome; inbound-handler.ts then
//     sends each channel's events in a window through this session's queue, so
//     deliveries, acks and answers keep one order and one backpressure. A
//     stream of protocol 1 gets nothing inbound and its Hello's channels are
//     ignored; inboundAck or inboundReceipt before Hello, on a protocol 1
//     stream or to a relay without the store ends the stream (WL_PROTOCOL_VIOLATION).
// 13. A relay started to act as an older one (deps.protocolVersion 1, a test
//     option): a Hello of another version is refused as that release did
//     (FAILED_PRECONDITION, WL_PROTOCOL_VERSION, "… but this relay speaks 1;
//     upgrade the older side"), and Welcome lists no "inbound-v1".
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import {
  BatchDecodeError,
  ErrorCode,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  decodeEventsAsync,
  pb,
  type AgentMessage,
  type JournalEvent,
  type RelayMessage,
} from '../../protocol/index.js';
import { NAME_PATTERN } from '../../protocol/index.js';
import {
  AgentAuthError,
  BadBatchError,
  BatchBeyondHeadError,
  BatchTooLargeError,
  ProtocolVersionError,
  FeedRevokedError,
  ProtocolViolationError,
  RelayError,
  ShuttingDownError,
  UnknownFeedError,
} from '../errors.js';
import { toGrpcStatus, writeMessage } from '../grpc/index.js';
import type { RelayMetrics } from '../status/index.js';
import { needsEvents, type BatchToStore, type BlobReference, type BlobStore, type FeedStore, type StoredBatch } from '../store/index.js';
import { BLOB_FEATURE, EXPORT_FEATURE, INBOUND_FEATURE, PROOF_FEATURE, PURGE_FEATURE, type ReceiptOutcome } from '../../protocol/index.js';
import type { InboundStore } from '../inbound/index.js';
import { InboundHandler, declaredInboundChannels, type InboundWindowStatus } from './inbound-handler.js';
import type { FeedPurger } from '../exit/index.js';
import { handlePurge } from './purge-handler.js';
import type { MinisignKey } from '../../runtime/index.js';
import { checkBlobRefs, handleBlobOffer, handleBlobPart, type BlobContext } from './blob-transfer-handler.js';
import { UndecodableAgentMessage, type IncomingAgentMessage } from './agent-message-decoder.js';
import { handleProofRequest } from './proof-handler.js';
import { handleReinstate, handleRevoke, ledgerHeadOf } from './feed-control-handler.js';
import type { AgentAuthentication, HospitalAuth } from './hospital-auth.js';
import { peerIdentity } from '../tls/index.js';

/** Messages waiting to be processed before the stream is paused. */
export const MAX_QUEUED_MESSAGES = 8;
/** Queue depth at which a paused stream is resumed. */
export const RESUME_QUEUED_MESSAGES = 2;

export type SessionState = 'awaiting-hello' | 'streaming' | 'draining' | 'closed';

const LEGAL_TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  'awaiting-hello': ['streaming', 'draining', 'closed'],
  streaming: ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

export type ReplicateCall = ServerDuplexStream<IncomingAgentMessage, RelayMessage>;
type Hello = NonNullable<AgentMessage['hello']>;
type Batch = NonNullable<AgentMessage['batch']>;

/** An agent past Hello, as the status page shows it. */
export interface ConnectedAgent {
  hospital: string;
  agentId: string;
  agentVersion: string;
  /** The peer address as gRPC reports it (`ip:port`). */
  peer: string;
  feeds: readonly string[];
  /** Milliseconds since the epoch. */
  connectedAtMs: number;
  /** Milliseconds since the epoch; undefined until the first batch. */
  lastBatchAtMs: number | undefined;
  batches: number;
  /** Events newly stored from this stream. */
  events: number;
  /** What proved the hospital: its client certificate, its secret, or both. */
  authenticatedBy: AgentAuthentication;
  /** The replication protocol version the stream speaks (the agent's). */
  protocolVersion: number;
  /** The inbound channels this stream carries, with their windows; null when it carries none (protocol 1, or a relay without inbound). */
  inbound: InboundWindowStatus[] | null;
}

export interface ReplicationSessionDeps {
  store: FeedStore;
  hospitals: HospitalAuth;
  metrics: RelayMetrics;
  logger: Logger;
  relayId: string;
  /** The largest compressed Batch.payload accepted, in bytes. */
  maxBatchBytes: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Imaging chunks and the instances events name; absent = this relay takes no blobs (Welcome lists no "blob-v1"). */
  blobs?: BlobStore;
  /** Where vendors have read this hospital's feeds (feeds/vendor-reads.ts); absent = never sent. */
  vendorProgress?: (hospital: string, feeds: readonly string[]) => VendorReadPosition[];
  /** The relay's signing key (tree heads, purge receipts); absent = this relay signs nothing (no "proof-v1", "purge-v1"). */
  signingKey?: MinisignKey;
  /** Purges with signed receipts (cloud-relay/exit); absent or unable to sign = no "purge-v1", and a Purge is answered with an error. */
  purger?: FeedPurger;
  /** The Export RPC (export-call.ts), served with signingKey: Welcome then lists "export-v1". Absent = not served. */
  exports?: { scratchDir: string; knownHospitals: readonly string[] };
  /** Inbound events and receipts (cloud-relay/inbound): with it, a protocol 2 stream's Welcome lists "inbound-v1". Absent = nothing inbound. */
  inbound?: InboundStore;
  /** Told of every inbound receipt newly stored (the status's counts). */
  onInboundReceipt?: (hospital: string, channel: string, outcome: ReceiptOutcome) => void;
  /**
   * The newest protocol version this relay speaks; default PROTOCOL_VERSION. 1 makes
   * it answer as a relay from before the downlink (the agents' compatibility tests).
   */
  protocolVersion?: number;
}

/** One vendor key's read position in one feed, as VendorProgress carries it. */
export interface VendorReadPosition {
  feed: string;
  vendor: string;
  readThroughSeq: number;
  readAtMs: number;
}

export class ReplicationSession {
  private state: SessionState = 'awaiting-hello';
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  /** Messages received on this stream, for error messages ("message 3 on this stream …"). */
  private received = 0;
  private readonly abort = new AbortController();
  private agent: ConnectedAgent | undefined;
  private feeds: ReadonlySet<string> = new Set();
  private log: Logger;
  /** The last VendorProgress sent, as JSON: unchanged positions are not sent again; the first is always sent, even empty, so the agent knows this relay reports them. */
  private sentVendorProgress: string | undefined;
  /** The agent asked for VendorProgress in its Hello; an older agent or a raw client did not. */
  private wantsVendorProgress = false;
  /** The version this stream speaks: the agent's (MIN_PROTOCOL_VERSION..PROTOCOL_VERSION). */
  private protocolVersion = PROTOCOL_VERSION;
  /** The downlink on this stream; undefined when it carries none. */
  private inbound: InboundHandler | undefined;
  readonly peer: string;

  constructor(
    private readonly call: ReplicateCall,
    private readonly deps: ReplicationSessionDeps,
    private readonly onClosed: (session: ReplicationSession) => void,
  ) {
    this.peer = call.getPeer();
    this.log = deps.logger.child({ peer: this.peer });
  }

  /** Starts reading the stream. */
  start(): void {
    this.call.on('data', (message: IncomingAgentMessage) => {
      const index = ++this.received;
      this.enqueue(() => this.process(message, index));
    });
    // The agent half-closed: answer what is queued, then end with OK.
    this.call.on('end', () => this.enqueue(async () => this.end()));
    this.call.on('cancelled', () => this.transition('closed', 'cancelled by the agent'));
    this.call.on('close', () => this.transition('closed', 'stream closed'));
  }

  /** The agent behind this stream, once it has said Hello. */
  get connectedAgent(): ConnectedAgent | undefined {
    return this.agent && { ...this.agent, inbound: this.inbound ? this.inbound.windowStatus() : null };
  }

  /** Ends the stream with `error` if it has not said Hello yet (the service's Hello deadline); true if it did end it. */
  refuseBeforeHello(error: RelayError): boolean {
    if (this.state !== 'awaiting-hello') return false;
    this.fail(error);
    return true;
  }

  /**
   * Sends the vendors' read positions in this stream's feeds if they changed since
   * the last time; queued behind the acks already owed, so the stream keeps its order.
   */
  offerVendorProgress(): void {
    if (this.state !== 'streaming' || !this.agent || !this.wantsVendorProgress || !this.deps.vendorProgress) return;
    const reads = this.deps.vendorProgress(this.agent.hospital, [...this.feeds]);
    const json = JSON.stringify(reads);
    if (json === this.sentVendorProgress) return;
    this.sentVendorProgress = json;
    this.enqueue(() => this.send(pb.RelayMessage.create({ vendorProgress: { reads } })));
  }

  /** Sends InboundBacklog if what waits at the relay changed (the service's interval); queued like every answer. */
  offerInboundBacklog(): void {
    if (this.state === 'streaming') this.inbound?.offerBacklog();
  }

  /** Finishes queued batches, then ends the stream with UNAVAILABLE (relay shutdown). */
  async drain(): Promise<void> {
    if (this.state === 'closed') return;
    this.transition('draining', 'relay shutting down');
    await this.queue;
    this.fail(new ShuttingDownError());
  }

  private enqueue(job: () => Promise<void>): void {
    // Messages that arrive while draining are neither stored nor acked; the
    // agent resends them after reconnecting.
    if (this.state === 'closed' || this.state === 'draining') return;
    this.queued += 1;
    if (this.queued >= MAX_QUEUED_MESSAGES) this.call.pause();
    this.queue = this.queue
      .then(() => (this.state === 'closed' ? undefined : job()))
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.queued -= 1;
        if (this.queued <= RESUME_QUEUED_MESSAGES && this.call.isPaused() && this.state !== 'draining') this.call.resume();
      });
  }

  private async process(message: IncomingAgentMessage, index: number): Promise<void> {
    if (message instanceof UndecodableAgentMessage) {
      throw new ProtocolViolationError(
        `message ${index} on this stream is not a valid AgentMessage (${message.bytes} bytes: ${message.reason}); nothing of it was stored`,
      );
    }
    switch (message.body) {
      case 'hello':
        return this.onHello(message.hello!);
      case 'batch':
        try {
          return await this.onBatch(message.batch!);
        } catch (error) {
          if (error instanceof RelayError) this.deps.metrics.batches.inc({ result: 'rejected' });
          throw error;
        }
      case 'revoke':
      case 'reinstate': {
        if (!this.agent) throw new ProtocolViolationError(`${message.body} before Hello: the first message on a stream must be Hello`);
        const answer =
          message.body === 'revoke'
            ? await handleRevoke(this.deps.store, this.agent.hospital, message.revoke!, this.log, this.deps.blobs)
            : await handleReinstate(this.deps.store, this.agent.hospital, message.reinstate!, this.log);
        return this.send(answer);
      }
      case 'purge': {
        if (!this.agent) throw new ProtocolViolationError('purge before Hello: the first message on a stream must be Hello');
        if (!this.deps.purger?.canSign) {
          return this.send(pb.RelayMessage.create({ purged: { feed: message.purge!.feed ?? '', error: 'WL_PURGE_UNSIGNED: this relay does not offer purge-v1 (it cannot sign a receipt); nothing was deleted' } }));
        }
        return this.send(await handlePurge(this.deps.purger, this.agent.hospital, this.agent.agentId, message.purge!, this.log));
      }
      case 'blobOffer':
        return this.send(await handleBlobOffer(this.blobContext('blobOffer'), message.blobOffer!));
      case 'blobPart':
        return this.send(await handleBlobPart(this.blobContext('blobPart'), message.blobPart!));
      case 'inboundAck':
        return this.inboundHandler('inboundAck').onAck(message.inboundAck!);
      case 'inboundReceipt':
        return this.inboundHandler('inboundReceipt').onReceipt(message.inboundReceipt!);
      case 'proofRequest': {
        if (!this.agent) throw new ProtocolViolationError('proofRequest before Hello: the first message on a stream must be Hello');
        const signingKey = this.deps.signingKey;
        if (!signingKey) throw new ProtocolViolationError(`proofRequest: this relay signs no tree heads (its Welcome lists no "${PROOF_FEATURE}" feature)`);
        const context = { store: this.deps.store, hospital: this.agent.hospital, feeds: this.feeds, signingKey, now: this.deps.now, log: this.log };
        return this.send(await handleProofRequest(context, message.proofRequest!));
      }
      default:
        throw new ProtocolViolationError('empty AgentMessage: expected hello or batch');
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    if (this.state === 'draining') return;
    if (this.state !== 'awaiting-hello') throw new ProtocolViolationError('a second Hello on one stream; Hello is sent once, first');
    const hospital = hello.hospitalId ?? '';
    this.log = this.log.child({ hospital, agentId: hello.agentId ?? '' });
    // Every version from MIN_PROTOCOL_VERSION is spoken; the stream then speaks the agent's.
    const version = hello.protocolVersion ?? 0;
    const newest = this.deps.protocolVersion ?? PROTOCOL_VERSION;
    const oldest = Math.min(MIN_PROTOCOL_VERSION, newest);
    if (version < oldest || version > newest) throw new ProtocolVersionError(version, newest, oldest);
    this.protocolVersion = version;
    // The verified client certificate (mutual TLS) is the agent's identity; Hello must agree with it.
    const authenticatedBy = this.deps.hospitals.verify(hospital, hello.secret ?? '', peerIdentity(this.call));

    const feeds = [...new Set(hello.feeds ?? [])];
    this.wantsVendorProgress = hello.wantsVendorProgress === true;
    const badName = feeds.find((feed) => !NAME_PATTERN.test(feed));
    if (badName !== undefined) {
      throw new ProtocolViolationError(
        `Hello declares feed ${JSON.stringify(badName)}, which is not a valid feed name (1-128 letters, digits, ".", "_" or "-")`,
      );
    }
    // The downlink needs both sides: protocol 2 and a relay that keeps inbound events.
    const inboundStore = this.protocolVersion >= 2 ? this.deps.inbound : undefined;
    const inboundChannels = inboundStore ? declaredInboundChannels(hello.inboundChannels ?? []) : [];
    if (inboundStore) await inboundStore.declareChannels(hospital, inboundChannels, this.deps.now());
    // Another relay process sharing the database may have stored this agent's last batches.
    await this.deps.store.loadPositions(hospital);
    const positions = feeds.map((feed) => {
      const { highWaterSeq, revoked } = this.deps.store.position(hospital, feed);
      return revoked ? { feed, highWaterSeq, revoked: true } : { feed, highWaterSeq };
    });
    this.feeds = new Set(feeds);
    this.agent = {
      hospital,
      agentId: hello.agentId ?? '',
      agentVersion: hello.agentVersion ?? '',
      peer: this.peer,
      feeds,
      connectedAtMs: this.deps.now(),
      lastBatchAtMs: undefined,
      batches: 0,
      events: 0,
      authenticatedBy,
      protocolVersion: this.protocolVersion,
      inbound: null,
    };
    if (inboundStore) {
      this.inbound = new InboundHandler({
        store: inboundStore,
        hospital,
        channels: inboundChannels,
        enqueue: (job) => this.enqueue(job),
        send: (message) => this.send(message),
        metrics: this.deps.metrics,
        now: this.deps.now,
        log: this.log,
        onReceiptStored: (channel, outcome) => this.deps.onInboundReceipt?.(hospital, channel, outcome),
      });
    }
    this.transition('streaming', `Hello from ${hospital}`);
    await this.send(
      pb.RelayMessage.create({
        welcome: {
          protocolVersion: this.protocolVersion,
          positions,
          maxBatchBytes: this.deps.maxBatchBytes,
          relayId: this.deps.relayId,
          features: [
            ...(this.deps.blobs ? [BLOB_FEATURE] : []),
            ...(this.deps.signingKey ? [PROOF_FEATURE] : []),
            ...(this.deps.purger?.canSign ? [PURGE_FEATURE] : []),
            ...(this.deps.exports && this.deps.signingKey ? [EXPORT_FEATURE] : []),
            ...(this.inbound ? [INBOUND_FEATURE] : []),
          ],
        },
      }),
    );
    // After Welcome, so the agent knows the feature before the first delivery.
    await this.inbound?.start();
  }

  private async onBatch(batch: Batch): Promise<void> {
    const agent = this.agent;
    if (!agent) throw new ProtocolViolationError('batch before Hello: the first message on a stream must be Hello');
    const { store, metrics } = this.deps;
    const feed = batch.feed ?? '';
    if (!this.feeds.has(feed)) throw new UnknownFeedError(feed, [...this.feeds]);
    const payload = batch.payload ?? new Uint8Array();
    metrics.batchBytes.inc({ hospital: agent.hospital }, payload.length);
    agent.batches += 1;
    agent.lastBatchAtMs = this.deps.now();
    if (payload.length > this.deps.maxBatchBytes) throw new BatchTooLargeError(feed, payload.length, this.deps.maxBatchBytes);

    const firstSeq = Number(batch.firstSeq ?? 0);
    const lastSeq = Number(batch.lastSeq ?? 0);
    const toStore: BatchToStore = {
      hospital: agent.hospital,
      feed,
      firstSeq,
      lastSeq,
      journalHeadSeq: Number(batch.journalHeadSeq ?? 0),
      completeThroughSeq: Number(batch.completeThroughSeq ?? 0),
      ledgerHead: ledgerHeadOf(batch),
      ...(batch.repair ? { repair: true } : {}),
    };
    let refs: BlobReference[] = [];
    /** Decodes, checks the blob-ref events and stores; undefined when the batch was nacked for an incomplete instance. */
    const storeDecoded = async (): Promise<StoredBatch | undefined> => {
      const events = await this.decode(feed, batch, payload);
      const blobs = this.deps.blobs;
      if (blobs) {
        const range = `[${firstSeq}, ${lastSeq}]`;
        const checked = await checkBlobRefs(blobs, agent.hospital, feed, events, store.position(agent.hospital, feed).highWaterSeq, range);
        if ('incomplete' in checked) {
          await this.nackBlobIncomplete(feed, firstSeq, lastSeq, checked.incomplete);
          return undefined;
        }
        refs = checked.refs;
        if (refs.length > 0) await blobs.recordReferences(agent.hospital, feed, refs);
      }
      try {
        return await store.storeBatch({ ...toStore, events });
      } catch (error) {
        await this.forgetRefs(feed, refs);
        throw error;
      }
    };
    if (batch.repair && !this.deps.signingKey) throw new ProtocolViolationError(`a repair batch: this relay takes none (its Welcome lists no "${PROOF_FEATURE}" feature)`);
    // A resend, a gap or a revoked feed needs no decompression: storeBatch answers it without events.
    // A repair is always decoded: its events lie below the mark by definition.
    let stored = batch.repair ? await storeDecoded() : needsEvents(store.position(agent.hospital, feed), firstSeq, lastSeq) ? await storeDecoded() : await store.storeBatch(toStore);
    // Another stream moved the feed meanwhile, so the batch now counts: decode it after all.
    if (stored?.decision.kind === 'needs-events') stored = await storeDecoded();
    if (!stored) return;
    // References of events the store did not take must not hold chunks (a resend records them again).
    const taken = stored.decision.kind === 'append' || stored.decision.kind === 'overlap' || stored.decision.kind === 'duplicate' || stored.decision.kind === 'repaired';
    if (!taken) await this.forgetRefs(feed, refs);
    agent.events += stored.storedEvents;
    metrics.eventsStored.inc({ hospital: agent.hospital }, stored.storedEvents);
    return this.answer(feed, firstSeq, lastSeq, stored);
  }

  /** The batch's events; a corrupt, oversize or bomb payload ends the stream with a status saying so. */
  private async decode(feed: string, batch: Batch, payload: Uint8Array): Promise<JournalEvent[]> {
    const firstSeq = Number(batch.firstSeq ?? 0);
    const lastSeq = Number(batch.lastSeq ?? 0);
    try {
      // Inflated on the thread pool and stopped at the batch's limit: a bomb costs no stall and no memory past it.
      return await decodeEventsAsync(
        {
          codec: batch.codec ?? 0,
          payload,
          payloadSha256: batch.payloadSha256 ?? new Uint8Array(),
          firstSeq,
          lastSeq,
          eventCount: batch.eventCount ?? 0,
          uncompressedBytes: batch.uncompressedBytes ?? 0,
        },
        this.deps.maxBatchBytes,
      );
    } catch (cause) {
      if (!(cause instanceof BatchDecodeError)) throw cause;
      const code = cause.code === ErrorCode.BATCH_INFLATION ? cause.code : ErrorCode.BAD_BATCH;
      throw new BadBatchError(`batch [${firstSeq}, ${lastSeq}] of feed "${feed}" rejected: ${cause.message}`, feed, { cause, code });
    }
  }

  /** Acks or nacks a batch according to storeBatch's decision; `highWater` is the feed's mark after it. */
  private async answer(feed: string, firstSeq: number, lastSeq: number, { decision, highWater }: StoredBatch): Promise<void> {
    switch (decision.kind) {
      case 'revoked':
        return this.refuseRevoked(feed, firstSeq, lastSeq, new FeedRevokedError(this.agent!.hospital, feed, decision.revokedAtMs), highWater);
      case 'needs-events':
        // storeBatch was given the events on the second call, so it cannot ask again.
        throw new Error(`feed "${feed}": the store asked for the events of batch [${firstSeq}, ${lastSeq}] twice`);
      case 'invalid':
        throw new BadBatchError(`batch of feed "${feed}" rejected: ${decision.reason}`, feed);
      case 'beyond-head':
        throw new BatchBeyondHeadError(feed, firstSeq, lastSeq, decision.ceilingSeq);
      case 'gap':
        this.deps.metrics.batches.inc({ result: 'gap' });
        this.log.info({ feed, firstSeq, lastSeq, expectedSeq: decision.expectedSeq }, 'batch leaves a gap; nacked');
        return this.send(
          pb.RelayMessage.create({
            nack: {
              feed,
              expectedSeq: decision.expectedSeq,
              reason: pb.NackReason.NACK_REASON_GAP,
              detail: `batch [${firstSeq}, ${lastSeq}] does not start at ${decision.expectedSeq}: the relay holds feed "${feed}" up to ${highWater}; resend from ${decision.expectedSeq}`,
            },
          }),
        );
      case 'repaired':
        this.deps.metrics.batches.inc({ result: 'repaired' });
        this.log.info({ feed, firstSeq, lastSeq, highWater }, 'repair batch stored what the relay lacked; marks unchanged');
        return this.send(pb.RelayMessage.create({ ack: { feed, highWaterSeq: highWater, duplicate: false } }));
      case 'duplicate':
      case 'append':
      case 'overlap':
        this.deps.metrics.batches.inc({ result: decision.kind });
        this.log.debug({ feed, firstSeq, lastSeq, result: decision.kind, highWater }, 'batch acked');
        return this.send(pb.RelayMessage.create({ ack: { feed, highWaterSeq: highWater, duplicate: decision.kind === 'duplicate' } }));
    }
  }

  /** Nacks a batch naming an instance not complete here: the agent offers it again, then resends from firstSeq. */
  private nackBlobIncomplete(feed: string, firstSeq: number, lastSeq: number, incomplete: { seq: number; sha256: string; sopInstanceUid: string }): Promise<void> {
    this.deps.metrics.batches.inc({ result: 'blob-incomplete' });
    this.log.info({ feed, firstSeq, lastSeq, ...incomplete }, 'batch names an imaging instance not complete at the relay; nacked');
    return this.send(
      pb.RelayMessage.create({
        nack: {
          feed,
          expectedSeq: firstSeq,
          reason: pb.NackReason.NACK_REASON_BLOB_INCOMPLETE,
          detail: `batch [${firstSeq}, ${lastSeq}] of feed "${feed}": the blob-ref event at seq ${incomplete.seq} names instance ${incomplete.sha256} (SOP Instance UID ${incomplete.sopInstanceUid}), which the relay does not hold complete; offer it, send its missing chunks, then resend from ${firstSeq}. Nothing of the batch was stored`,
        },
      }),
    );
  }

  private async forgetRefs(feed: string, refs: readonly BlobReference[]): Promise<void> {
    if (refs.length > 0 && this.deps.blobs) await this.deps.blobs.forgetReferences(this.agent!.hospital, feed, refs.map((r) => r.seq));
  }

  /** The stream's hospital and feeds for a blob message; a blob message before Hello or to a relay without blobs ends the stream. */
  private blobContext(message: string): BlobContext {
    if (!this.agent) throw new ProtocolViolationError(`${message} before Hello: the first message on a stream must be Hello`);
    if (!this.deps.blobs) throw new ProtocolViolationError(`${message}: this relay takes no blobs (its Welcome lists no "${BLOB_FEATURE}" feature)`);
    return { hospital: this.agent.hospital, feeds: this.feeds, blobs: this.deps.blobs, store: this.deps.store, metrics: this.deps.metrics };
  }

  /** The stream's downlink for an inbound message; one before Hello, on a protocol 1 stream or to a relay without inbound ends the stream. */
  private inboundHandler(message: string): InboundHandler {
    if (!this.agent) throw new ProtocolViolationError(`${message} before Hello: the first message on a stream must be Hello`);
    if (!this.inbound) {
      throw new ProtocolViolationError(
        this.protocolVersion < 2
          ? `${message} on a stream of protocol ${this.protocolVersion}: inbound events need protocol 2 (its Welcome lists no "${INBOUND_FEATURE}" feature)`
          : `${message}: this relay sends no inbound events (its Welcome lists no "${INBOUND_FEATURE}" feature)`,
      );
    }
    return this.inbound;
  }

  /** Nacks a batch of a revoked feed; the stream goes on for the other feeds. */
  private refuseRevoked(feed: string, firstSeq: number, lastSeq: number, error: FeedRevokedError, highWater: number): Promise<void> {
    this.deps.metrics.batches.inc({ result: 'revoked' });
    this.log.warn({ feed, firstSeq, lastSeq }, 'batch of a revoked feed refused');
    return this.send(
      pb.RelayMessage.create({
        nack: { feed, expectedSeq: highWater + 1, reason: pb.NackReason.NACK_REASON_REVOKED, detail: `${error.message}; its batches are refused until the agent re-enables it` },
      }),
    );
  }

  private send(message: RelayMessage): Promise<void> {
    return writeMessage(this.call, message, this.abort.signal);
  }

  /** Ends the stream with OK once the agent has half-closed and everything queued is answered. */
  private end(): void {
    if (this.state === 'closed') return;
    this.call.end();
    this.transition('closed', 'agent closed the stream');
  }

  /** Ends the stream with the error's status; logs one line saying why. */
  private fail(error: unknown): void {
    if (this.state === 'closed') return; // cancelled meanwhile: nobody to tell
    const status = toGrpcStatus(error);
    // hospital and peer are bound to this.log; the line adds what ended the stream.
    const fields = {
      code: error instanceof RelayError ? error.code : 'internal',
      grpcCode: status.code,
      reason: (error as Error).message,
      ...(error instanceof AgentAuthError ? { authFailure: error.reason } : {}),
    };
    if (error instanceof ShuttingDownError) {
      this.log.info(fields, 'replication stream ended: relay shutting down');
    } else if (error instanceof RelayError) {
      this.deps.metrics.streamErrors.inc({ code: error.code });
      this.log.warn(fields, 'replication stream ended with an error');
    } else {
      this.deps.metrics.streamErrors.inc({ code: 'internal' });
      this.log.error({ ...fields, err: error }, 'replication stream ended by an internal error');
    }
    this.call.emit('error', status);
    this.transition('closed', `ended with ${status.details}`);
  }

  /** The one place the session's state changes; side effects of entering a state live here. */
  private transition(to: SessionState, reason: string): void {
    const from = this.state;
    if (from === to) return;
    if (!LEGAL_TRANSITIONS[from].includes(to)) throw new Error(`replication session: illegal transition ${from} -> ${to} (${reason})`);
    this.state = to;
    this.log.debug({ reason }, `session ${from} -> ${to}`);
    switch (to) {
      case 'streaming':
        this.deps.metrics.connectedAgents.inc();
        this.log.info({ agentVersion: this.agent?.agentVersion, feeds: this.agent?.feeds }, 'agent connected');
        break;
      case 'draining':
        this.call.pause();
        break;
      case 'closed':
        if (this.agent) {
          this.deps.metrics.connectedAgents.dec();
          this.log.info({ batches: this.agent?.batches, events: this.agent?.events, reason }, 'agent disconnected');
        }
        this.inbound?.close(); // what was on the wire stays unacked in the store and goes again on the next stream
        this.abort.abort(); // stops a write waiting for 'drain'
        this.onClosed(this);
        break;
      case 'awaiting-hello':
        break;
    }
  }
}
