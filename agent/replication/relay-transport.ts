// What the replicator needs from a connection to a relay. The replicator never
// sees a socket: the gRPC implementation (grpc-relay-transport.ts) plugs in here,
// and tests can plug in anything that keeps this contract.
import type { BlobManifest, CodecName, InboundChannelDeclaration, InboundReceipt } from '../../protocol/index.js';
import type { InboundEventIn } from '../downlink/index.js';

export interface HelloInfo {
  hospitalId: string;
  agentId: string;
  agentVersion: string;
  secret: string;
  feeds: string[];
  /** The inbound channels this agent delivers into the hospital (Hello.inbound_channels; protocol 2 only). */
  inboundChannels?: InboundChannelDeclaration[];
  /** The protocol version to speak; default PROTOCOL_VERSION. 1 after an older relay refused 2 (it takes no inbound channels). */
  protocolVersion?: number;
}

export interface WelcomeInfo {
  relayId: string;
  protocolVersion: number;
  /** The relay's durable high-water mark per feed named in Hello. */
  highWater: Map<string, number>;
  maxBatchBytes: number;
  /** Feeds the relay holds as revoked by the hospital (it refuses their batches). */
  revoked?: ReadonlySet<string>;
  /** Capabilities the relay listed (Welcome.features), e.g. BLOB_FEATURE; absent = none. */
  features?: ReadonlySet<string>;
}

/** An instance offered to the relay (BlobOffer). Hashes are lowercase hex. */
export interface BlobOfferRequest {
  feed: string;
  manifest: BlobManifest;
}

/** The relay's answer to an offer (BlobHave). */
export interface BlobOfferAnswer {
  /** The relay holds every chunk and the whole instance's hash matched: nothing to send. */
  complete: boolean;
  /** Chunks the relay lacks, by index into manifest.chunks, with the bytes of each it already holds from its start. */
  missing: { index: number; partialBytes: number }[];
  /** Bytes of the chunks the relay already held when this feed first offered the instance (0 on a re-offer): what deduplication saved. */
  dedupedBytes: number;
}

/** Part of one chunk (BlobPart). */
export interface BlobPartRequest {
  feed: string;
  chunkSha256: string;
  chunkSize: number;
  offset: number;
  data: Buffer;
}

/** The relay's answer to a part (BlobPartAck). */
export interface BlobPartAnswer {
  /** Bytes of the chunk the relay holds from its start. */
  received: number;
  /** The chunk is complete, verified and durable. */
  stored: boolean;
}

/**
 * Blob transfer on a session whose relay lists BLOB_FEATURE. Each call resolves
 * with the relay's answer to that request (matched by request id), or rejects
 * with the relay's refusal (BlobRefusedError) or when the session ends.
 */
export interface BlobChannel {
  offer(request: BlobOfferRequest): Promise<BlobOfferAnswer>;
  sendPart(request: BlobPartRequest): Promise<BlobPartAnswer>;
}

export interface OutboundBatch {
  feed: string;
  firstSeq: number;
  lastSeq: number;
  codec: CodecName;
  payload: Buffer;
  payloadSha256: Buffer;
  eventCount: number;
  uncompressedBytes: number;
  policyVersion: number;
  /** The journal head when the batch was read (>= lastSeq); the relay refuses a range past it and the batch's events. */
  journalHeadSeq?: number;
  /** The last seq no journal transaction spans (<= lastSeq): vendors are shown the batch up to it. Absent = lastSeq. */
  completeThroughSeq?: number;
  /** The egress ledger's head after this batch's record (32-byte SHA-256) and its index. */
  ledgerHead?: Buffer;
  ledgerIndex?: number;
  /** A resend of events a completeness proof found missing below the relay's mark (Batch.repair): the relay fills only those. */
  repair?: boolean;
}

/** A completeness-proof question about [fromSeq, toSeq] of a feed (ProofRequest). */
export interface ProofQuestion {
  feed: string;
  fromSeq: number;
  toSeq: number;
  /** Ask for the relay's leaves of the range too (at most 256). */
  listLeaves?: boolean;
  /** The range is a closed window with the agent's own count and root: the relay signs a tree head when they match. */
  closeWindow?: { leafCount: number; root: Buffer };
}

/** The relay's signed tree head of a window whose roots matched. */
export interface SignedTreeHeadInfo {
  fromSeq: number;
  toSeq: number;
  treeSize: number;
  root: Buffer;
  signedAtMs: number;
  signedText: string;
  signature: string;
}

/** The relay's answer (ProofAnswer). */
export interface ProofReply {
  leafCount: number;
  root: Buffer;
  leaves?: { seq: number; bodySha256: Buffer }[];
  treeHead?: SignedTreeHeadInfo;
  /**
   * The seq of the newest event the relay's retention removed from the feed
   * (ProofAnswer.retention_floor_seq; 0 or absent = none, or a relay from before
   * retention): the relay holds nothing at or below it, by its operator's rule.
   */
  retentionFloorSeq?: number;
}

/**
 * Completeness proofs on a session whose relay lists PROOF_FEATURE. ask resolves
 * with the relay's answer (or rejects with its refusal, ProofRefusedError);
 * repair sends a Batch with repair=true and resolves on the relay's ack of it.
 */
export interface ProofChannel {
  ask(question: ProofQuestion): Promise<ProofReply>;
  repair(batch: OutboundBatch): Promise<void>;
}

/** An operator's request about a whole feed, answered by the relay in order with the stream's other replies. */
export interface FeedControlRequest {
  /** 'purge' only to a relay whose Welcome lists PURGE_FEATURE. */
  kind: 'revoke' | 'reinstate' | 'purge';
  feed: string;
  reason: string;
  /** Purge: who asked, kept in the relay's receipt. */
  requestedBy?: string;
  /** The egress ledger's head when the request was recorded. */
  ledgerHead?: Buffer;
  ledgerIndex?: number;
}

/** The relay's answer to a FeedControlRequest. */
export type FeedControlAnswer =
  | {
      kind: 'revoke';
      feed: string;
      /** Events the relay deleted for this request, and their body bytes. */
      eventsDeleted: number;
      bytesDeleted: number;
      /** The feed's high-water mark when it was revoked. */
      highWaterSeq: number;
      /** When the relay first revoked the feed, ms since the epoch. */
      revokedAtMs: number;
      alreadyRevoked: boolean;
    }
  | { kind: 'reinstate'; feed: string; highWaterSeq: number; wasRevoked: boolean }
  /** Purged: the signed receipt (canonical JSON text and its minisign signature), or the relay's refusal (nothing deleted). */
  | { kind: 'purge'; feed: string; receipt: string; receiptSignature: string; error: string };

/** A vendor key's read position in one feed, as the relay reports it. */
export interface VendorReadPosition {
  feed: string;
  vendor: string;
  /** The vendor has been handed every event of the feed up to this seq. */
  readThroughSeq: number;
  /** When it last read, ms since the epoch (relay clock). */
  readAtMs: number;
}

/** A receipt as it leaves: the receipt and the egress ledger's head after its record (InboundReceipt.ledger_head). */
export interface OutgoingReceipt extends InboundReceipt {
  ledgerHead?: Buffer;
  ledgerIndex?: number;
}

/** The relay's answer to a receipt (ReceiptAck). `error` set: the relay refused it and stored nothing. */
export interface ReceiptAckInfo {
  id: string;
  final: boolean;
  outcome: string;
  error: string;
}

/** How much of one declared channel waits at the relay (InboundChannelBacklog), as it reported it. */
export interface InboundBacklogEntry {
  channel: string;
  /** Events the agent has not acknowledged (waiting or on the wire). */
  waiting: number;
  /** When the oldest of them was written, ms since the epoch; null with none. */
  oldestReceivedAtMs: number | null;
}

/**
 * The downlink on a session that speaks protocol 2 and whose Welcome lists
 * INBOUND_FEATURE. Both are fire-and-forget writes: the relay answers a receipt
 * with onReceiptAck, and an ack is never answered (the relay just stops resending).
 */
export interface InboundChannel {
  /** Every event of `channel` the relay sent up to `throughSeq` is journaled (cumulative; InboundAck). */
  ack(channel: string, throughSeq: number): void;
  sendReceipt(receipt: OutgoingReceipt): void;
}

/** Nack reasons the replicator acts on. */
export type NackReason = 'gap' | 'revoked' | 'blob-incomplete' | 'unspecified';

export interface RelaySessionHandlers {
  onAck(feed: string, highWaterSeq: number, duplicate: boolean): void;
  onNack(feed: string, expectedSeq: number, detail: string, reason?: NackReason): void;
  /** The relay answered a FeedControlRequest. */
  onControlAnswer?(answer: FeedControlAnswer): void;
  /** Where vendors have read the feeds (VendorProgress); a relay that predates it never calls this. */
  onVendorProgress?(reads: VendorReadPosition[]): void;
  /** Inbound events the relay sent (InboundDelivery), in its order; only on a session with `inbound`. */
  onInboundDelivery?(events: InboundEventIn[]): void;
  /** The relay's answer to a receipt. */
  onReceiptAck?(ack: ReceiptAckInfo): void;
  /** What waits at the relay per declared channel (InboundBacklog), sent when it changed. */
  onInboundBacklog?(entries: InboundBacklogEntry[]): void;
  /** The session ended: by the relay, the network, or close(). Called once. */
  onClose(error: Error | undefined): void;
}

export interface RelaySession {
  readonly welcome: WelcomeInfo;
  /** Queues a batch; resolves when the transport can take more (backpressure). */
  send(batch: OutboundBatch): Promise<void>;
  /** Sends a revoke or reinstate; the answer comes to onControlAnswer. */
  sendControl(request: FeedControlRequest): void;
  /** Blob transfer; absent when the relay does not list BLOB_FEATURE. */
  readonly blobs?: BlobChannel;
  /** Completeness proofs; absent when the relay does not list PROOF_FEATURE. */
  readonly proofs?: ProofChannel;
  /** The downlink; absent unless the stream speaks protocol 2 and the Welcome lists INBOUND_FEATURE. */
  readonly inbound?: InboundChannel;
  /** Ends the session; onClose follows. */
  close(reason?: Error): void;
}

export interface RelayTransport {
  /**
   * Opens a stream and completes the handshake; rejects if either fails, or as soon
   * as `signal` aborts (the attempt is abandoned and its connection torn down).
   */
  open(hello: HelloInfo, handlers: RelaySessionHandlers, signal?: AbortSignal): Promise<RelaySession>;
  /** Releases the channel. */
  shutdown(): void;
}
