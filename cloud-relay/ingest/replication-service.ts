// The gRPC Replication service: one ReplicationSession per Replicate stream.
// The service tracks sessions (for status and shutdown) and bounds the ones
// that have not said Hello; everything a stream does after that is in
// replication-session.ts.
//
// Failure modes handled:
//  1. Streams that open and never say Hello (thousands of them, to hold relay
//     memory and file descriptors): each is closed with DEADLINE_EXCEEDED
//     (WL_HELLO_TIMEOUT) helloTimeoutMs after it opened.
//  2. One address opening streams faster than the deadline closes them: past
//     maxUnauthenticatedStreamsPerPeer streams waiting for Hello, a new one from
//     that address is refused at once with RESOURCE_EXHAUSTED
//     (WL_TOO_MANY_UNAUTHENTICATED), without a session; agents that said Hello
//     do not count, so an address's honest agents are not held back by them.
//  3. Inbound backlog (with an InboundStore): every stream is offered it each
//     inboundBacklogIntervalMs and sends it only when it changed, so an agent
//     hears at most every 2 s how much waits for it, and nothing when nothing moved.
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { PROTOCOL_VERSION, ReplicationService as ReplicationServiceDefinition } from '../../protocol/index.js';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER } from '../grpc/index.js';
import { HelloTimeoutError, TooManyUnauthenticatedStreamsError } from '../errors.js';
import { toGrpcStatus } from '../grpc/index.js';
import { decodeAgentMessage } from './agent-message-decoder.js';
import { ReplicationSession, type ConnectedAgent, type ReplicateCall, type ReplicationSessionDeps } from './replication-session.js';
import { serveExportCall, type ExportCall } from './export-call.js';
import { InboundReceiptCounts, type ReceiptCounts } from './inbound-receipt-counts.js';

export interface ReplicationServiceOptions extends ReplicationSessionDeps {
  /** Default DEFAULT_HELLO_TIMEOUT_MS. */
  helloTimeoutMs?: number;
  /** Default DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER. */
  maxUnauthenticatedStreamsPerPeer?: number;
  /** How often each stream is offered the vendors' read positions (sent only when changed), in ms. Default DEFAULT_VENDOR_PROGRESS_INTERVAL_MS. */
  vendorProgressIntervalMs?: number;
  /** How often each stream is offered InboundBacklog (sent only when changed), in ms. Default DEFAULT_INBOUND_BACKLOG_INTERVAL_MS. */
  inboundBacklogIntervalMs?: number;
}

/** Inbound backlog reaches the agent at most this often, in ms (the agent's dashboard shows it "as last reported"). */
export const DEFAULT_INBOUND_BACKLOG_INTERVAL_MS = 2_000;

/** One hospital's inbound channels as the relay status shows them. */
export interface HospitalInbound {
  hospital: string;
  channels: {
    channel: string;
    /** Not yet acknowledged by the agent (waiting or on the wire), and not expired (the store's durable count). */
    waiting: number;
    oldestReceivedAtMs: number | null;
    /** On the wire now: sent on an open stream and not yet acknowledged. */
    sentUnacked: number;
    /** Receipts stored since the relay started, by outcome. */
    receipts: ReceiptCounts;
  }[];
}

/**
 * Vendor read positions are checked this often per stream, in ms: a night-duty
 * question ("did the platform read it?") is answered within seconds, and an
 * unchanged position costs one JSON comparison, nothing on the wire.
 */
export const DEFAULT_VENDOR_PROGRESS_INTERVAL_MS = 2_000;

export class ReplicationService {
  private readonly sessions = new Set<ReplicationSession>();
  /** Sessions that may not have said Hello yet, by peer host; pruned of those that did when counted. */
  private readonly awaitingHello = new Map<string, Set<ReplicationSession>>();
  /** Peer hosts refused since they were last under the cap (one warning per episode, not per stream). */
  private readonly overCap = new Set<string>();
  private readonly helloTimeoutMs: number;
  private readonly maxUnauthenticatedPerPeer: number;
  /**
   * One error for every refusal: a flood is refused thousands of times a second,
   * and building an Error (its stack) each time was the largest cost of refusing.
   */
  private readonly overCapError: TooManyUnauthenticatedStreamsError;

  constructor(private readonly options: ReplicationServiceOptions) {
    this.helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.maxUnauthenticatedPerPeer = options.maxUnauthenticatedStreamsPerPeer ?? DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER;
    this.overCapError = new TooManyUnauthenticatedStreamsError(this.maxUnauthenticatedPerPeer);
    if (options.vendorProgress) {
      this.vendorProgressTimer = setInterval(() => {
        for (const session of this.sessions) session.offerVendorProgress();
      }, options.vendorProgressIntervalMs ?? DEFAULT_VENDOR_PROGRESS_INTERVAL_MS);
      this.vendorProgressTimer.unref();
    }
    if (options.inbound) {
      this.inboundBacklogTimer = setInterval(() => {
        for (const session of this.sessions) session.offerInboundBacklog();
      }, options.inboundBacklogIntervalMs ?? DEFAULT_INBOUND_BACKLOG_INTERVAL_MS);
      this.inboundBacklogTimer.unref();
    }
    this.sessionDeps = { ...options, onInboundReceipt: (hospital, channel, outcome) => this.receiptCounts.add(hospital, channel, outcome) };
  }

  private readonly vendorProgressTimer: NodeJS.Timeout | undefined;
  private readonly inboundBacklogTimer: NodeJS.Timeout | undefined;
  private readonly receiptCounts = new InboundReceiptCounts();
  private readonly sessionDeps: ReplicationServiceOptions;

  /** The grpc-js handler for Replicate (bidirectional streaming). */
  readonly replicate = (call: ReplicateCall): void => {
    const host = peerHost(call.getPeer());
    const waiting = this.waitingFrom(host);
    if (waiting.size >= this.maxUnauthenticatedPerPeer) return this.refuse(call, host);
    this.overCap.delete(host);

    const timer = setTimeout(() => session.refuseBeforeHello(new HelloTimeoutError(this.helloTimeoutMs)), this.helloTimeoutMs);
    const session = new ReplicationSession(call, this.sessionDeps, (closed) => {
      clearTimeout(timer);
      this.sessions.delete(closed);
      waiting.delete(closed);
      if (waiting.size === 0 && this.awaitingHello.get(host) === waiting) this.awaitingHello.delete(host);
    });
    this.sessions.add(session);
    waiting.add(session);
    session.start();
  };

  /**
   * The service definition to pass to `server.addService(definition, implementation)`:
   * the protocol's, with a request decoder that hands undecodable frames to the
   * session instead of failing them inside grpc-js.
   */
  get definition(): ServiceDefinition {
    return {
      replicate: { ...ReplicationServiceDefinition.replicate, requestDeserialize: decodeAgentMessage },
      // Only when served: a relay without it answers UNIMPLEMENTED, which the agent words as "upgrade the relay".
      ...(this.exportServed ? { export: ReplicationServiceDefinition.export } : {}),
    };
  }

  /** The implementation to pass to `server.addService(definition, …)`. */
  get implementation(): UntypedServiceImplementation {
    return { replicate: this.replicate, ...(this.exportServed ? { export: this.export } : {}) };
  }

  /** The grpc-js handler for Export (server streaming): the hospital's signed export as files (export-call.ts). */
  readonly export = (call: ExportCall): void => {
    const { store, blobs, hospitals, signingKey, relayId, logger, exports } = this.options;
    void serveExportCall({ store, ...(blobs ? { blobs } : {}), hospitals, signingKey: signingKey!, relayId, logger, ...exports! }, call);
  };

  private get exportServed(): boolean {
    return this.options.exports !== undefined && this.options.signingKey !== undefined;
  }

  /** Agents past Hello, oldest first. */
  connectedAgents(): ConnectedAgent[] {
    const agents: ConnectedAgent[] = [];
    for (const session of this.sessions) {
      const agent = session.connectedAgent;
      if (agent) agents.push(agent);
    }
    return agents;
  }

  /**
   * Per hospital, its inbound channels: what waits (from the store), what is on
   * the wire (the open streams' windows) and the receipts stored since start.
   * Undefined when this relay keeps no inbound events.
   */
  async inboundStatus(hospitals: readonly string[]): Promise<HospitalInbound[] | undefined> {
    const store = this.options.inbound;
    if (!store) return undefined;
    const agents = this.connectedAgents();
    return Promise.all(
      hospitals.map(async (hospital) => ({
        hospital,
        channels: (await store.backlog(hospital)).map((entry) => ({
          channel: entry.channel,
          waiting: entry.waiting,
          oldestReceivedAtMs: entry.oldestReceivedAtMs,
          sentUnacked: agents
            .filter((a) => a.hospital === hospital)
            .reduce((sum, a) => sum + (a.inbound?.find((w) => w.channel === entry.channel)?.sentUnacked ?? 0), 0),
          receipts: this.receiptCounts.of(hospital, entry.channel),
        })),
      })),
    );
  }

  /** True when a protocol 2 stream's Welcome lists "inbound-v1" here (the relay keeps inbound events and speaks protocol 2). */
  get offersInbound(): boolean {
    return this.options.inbound !== undefined && (this.options.protocolVersion ?? PROTOCOL_VERSION) >= 2;
  }

  /** Finishes every stream's queued batches, then ends each with UNAVAILABLE. */
  async closeAll(): Promise<void> {
    clearInterval(this.vendorProgressTimer);
    clearInterval(this.inboundBacklogTimer);
    await Promise.all([...this.sessions].map((session) => session.drain()));
  }

  /** The sessions from `host` still waiting for Hello (those that said it are dropped here). */
  private waitingFrom(host: string): Set<ReplicationSession> {
    let waiting = this.awaitingHello.get(host);
    if (!waiting) {
      waiting = new Set();
      this.awaitingHello.set(host, waiting);
    }
    for (const session of waiting) if (session.connectedAgent) waiting.delete(session);
    return waiting;
  }

  /** Ends a stream over the per-peer cap without building a session for it. */
  private refuse(call: ReplicateCall, host: string): void {
    const error = this.overCapError;
    this.options.metrics.streamErrors.inc({ code: error.code });
    if (!this.overCap.has(host)) {
      this.overCap.add(host);
      this.options.logger.warn({ peerHost: host, limit: this.maxUnauthenticatedPerPeer, code: error.code }, 'replication streams refused: too many from one address waiting to say Hello');
    }
    call.emit('error', toGrpcStatus(error));
  }
}

/** The address part of a gRPC peer (`1.2.3.4:5678`, `[::1]:5678`), without the port. */
export function peerHost(peer: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const colon = peer.lastIndexOf(':');
  // More than one colon without brackets is a bare IPv6 address: no port to strip.
  return colon > 0 && peer.indexOf(':') === colon ? peer.slice(0, colon) : peer;
}
