// The relay's status document (GET /v1/status), built from snapshots by a pure
// function so it can be tested without a running relay.
import type { SinkFeedStatus } from '../sinks/index.js';
import { PROTOCOL_VERSION, WARDLINE_VERSION } from '../../protocol/index.js';
import type { ConnectedAgent, HospitalInbound, ReceiptCounts } from '../ingest/index.js';
import type { RetentionLimits, RetentionSweepStatus } from '../retention/index.js';
import type { AgentLedgerHead, FeedRevocation, FeedSize, StoredTreeHead } from '../store/index.js';
import type { RelayClusterStatus } from './relay-cluster-status.js';
import type { VendorStatus } from './vendor-status.js';

export interface RelayStatusInput {
  relayId: string;
  /** Milliseconds since the epoch. */
  startedAtMs: number;
  /** Milliseconds since the epoch. */
  nowMs: number;
  /** The configured hospitals. */
  hospitals: readonly { id: string; name?: string }[];
  agents: readonly ConnectedAgent[];
  feeds: readonly FeedSize[];
  /** The agents' egress-ledger heads per feed; default none. */
  ledgerHeads?: readonly AgentLedgerHead[];
  /** Feeds the hospitals revoked; default none. */
  revocations?: readonly FeedRevocation[];
  /** Per vendor key, its cursor and lag in each feed it is granted (status/vendor-status.ts); default none. */
  vendors?: readonly VendorStatus[];
  /** The newest signed tree head per (hospital, feed) (completeness proofs); default none. */
  treeHeads?: readonly StoredTreeHead[];
  /** Per hospital its inbound channels (ReplicationService.inboundStatus); absent = this relay keeps no inbound events. */
  inbound?: readonly HospitalInbound[];
  /** Per sink and feed its state, position and lag (cloud-relay/sinks); default none. */
  sinks?: readonly SinkFeedStatus[];
  /** The relay processes on this relay's store (relay-cluster-status.ts); default null (not reported). */
  cluster?: RelayClusterStatus;
  /** Set when the relay's database could not be read for this status: since when (ms) and why. */
  storeUnavailable?: { sinceMs: number; error: string };
  /** The retention limits of each feed and what this process's sweeps did (cloud-relay/retention); absent = not reported. */
  retention?: { limits: (hospital: string, feed: string) => RetentionLimits; sweep: RetentionSweepStatus };
}

/** A feed's retention as the status shows it. */
export interface FeedRetentionStatus {
  /** The feed's limits (relay.yaml `retention`): events older than maxAgeMs, and the oldest beyond maxBytes, are removed; null = no such limit. */
  maxAgeMs: number | null;
  maxBytes: number | null;
  /** The seq of the newest event retention removed (0 = none): a cursor below it is refused (WL_CURSOR_BELOW_RETENTION). */
  floorSeq: number;
  /** The oldest event still held; null when the feed holds none. */
  oldestSeq: number | null;
  /** When this process last swept the feed; null before (or when it has no limits). */
  lastSweepAt: string | null;
  /** Events and body bytes this process's sweeps removed from the feed since it started. */
  removedEvents: number;
  removedBytes: number;
  /** Why this process's last sweep of the feed failed; null when it did not. */
  lastError: string | null;
}

/** A connected agent's problem when it speaks protocol 1 to a relay that keeps inbound events. */
export const AGENT_PROTOCOL_1_PROBLEM = 'agent speaks protocol 1: inbound events wait at the relay until the agent is upgraded';

export interface RelayStatus {
  relayId: string;
  /** The relay's software version. */
  version: string;
  protocolVersion: number;
  startedAt: string;
  uptimeSeconds: number;
  connectedAgents: {
    hospital: string;
    agentId: string;
    agentVersion: string;
    peer: string;
    feeds: readonly string[];
    connectedAt: string;
    lastBatchAt: string | null;
    batches: number;
    events: number;
    /** `certificate`, `secret` or `certificate and secret`. */
    authenticatedBy: string;
    /** The replication protocol version the stream speaks. */
    protocolVersion: number;
    /** The inbound channels the stream carries (declared in its Hello); null when it carries none. */
    inboundChannels: string[] | null;
    /** Why this agent gets no inbound events though the relay keeps them (AGENT_PROTOCOL_1_PROBLEM); null when none. */
    problem: string | null;
  }[];
  hospitals: {
    id: string;
    name: string | null;
    /** False for a hospital whose data is still held but which is no longer configured. */
    configured: boolean;
    connectedAgents: number;
    feeds: {
      feed: string;
      highWaterSeq: number;
      events: number;
      lastBatchAt: string;
      /** The newest signed tree head (completeness proofs): the window the agent and the relay last agreed on; absent before the first. */
      lastTreeHead?: { fromSeq: number; toSeq: number; treeSize: number; root: string; signedAt: string };
      retention: FeedRetentionStatus;
    }[];
    /**
     * Per feed, the newest egress-ledger head the hospital's agent sent (index 0,
     * head "": none yet) and the batches received: evidence for `wardline audit verify --relay-http`.
     */
    ledgerHeads: { feed: string; index: number; head: string; receivedAt: string; batches: number; lastBatchAt: string | null }[];
    /** Feeds the hospital revoked: deleted here, refused, not served. */
    revokedFeeds: { feed: string; revokedAt: string; highWaterSeq: number; eventsDeleted: number; bytesDeleted: number; reason: string }[];
    /** Inbound events for the hospital per channel; null when this relay keeps none. */
    inbound: {
      channels: {
        channel: string;
        /** Not yet acknowledged by the agent (waiting or on the wire), not expired. */
        waiting: number;
        /** When the oldest of them was written; null with none. */
        oldestWaitingAt: string | null;
        oldestWaitingSeconds: number | null;
        /** Sent on an open stream, not yet acknowledged. */
        sentUnacked: number;
        /** Receipts stored since the relay started, by outcome. */
        receipts: ReceiptCounts;
      }[];
      /** Why the hospital's events are not moving (an agent of protocol 1 connected); null when nothing is wrong that the relay sees. */
      problem: string | null;
    } | null;
  }[];
  /** Per vendor key: where it has read each granted feed up to, and how far behind the head that is. */
  vendors: readonly VendorStatus[];
  /** Per sink and feed: its state, the last seq published and its lag; empty without sinks. */
  sinks: readonly SinkFeedStatus[];
  /** The store, the relay processes sharing it and who holds each hospital's stream; null when not reported. */
  cluster: RelayClusterStatus | null;
  /** This process's retention sweeps (every sweepIntervalMs); null when not reported. */
  retention: { sweepIntervalMs: number; lastSweepAt: string | null; lastSweepDurationMs: number | null; lastError: string | null } | null;
  /**
   * Non-null when the relay's database could not be read for this status: feeds,
   * vendors' cursors, sinks and processes are then empty because they are not
   * known, not because there are none. Agents connected come from this process's memory.
   */
  storeUnavailable: { since: string; error: string } | null;
}

/** GET /v1/status with a vendor key: the relay's identity and that vendor's own grants and cursors, nothing of anyone else. */
export interface VendorOwnStatus {
  relayId: string;
  version: string;
  protocolVersion: number;
  vendor: VendorStatus;
}

export function buildVendorOwnStatus(relayId: string, vendor: VendorStatus): VendorOwnStatus {
  return { relayId, version: WARDLINE_VERSION, protocolVersion: PROTOCOL_VERSION, vendor };
}

export function buildRelayStatus(input: RelayStatusInput): RelayStatus {
  const names = new Map(input.hospitals.map((h) => [h.id, h.name ?? null]));
  const ledgerHeads = input.ledgerHeads ?? [];
  const revocations = input.revocations ?? [];
  const problemOf = (a: ConnectedAgent): string | null => (input.inbound !== undefined && a.protocolVersion < 2 ? AGENT_PROTOCOL_1_PROBLEM : null);
  const ids = [...new Set([...input.hospitals.map((h) => h.id), ...input.feeds.map((f) => f.hospital), ...ledgerHeads.map((h) => h.hospital), ...revocations.map((r) => r.hospital)])];
  return {
    relayId: input.relayId,
    version: WARDLINE_VERSION,
    protocolVersion: PROTOCOL_VERSION,
    startedAt: iso(input.startedAtMs),
    uptimeSeconds: Math.max(0, Math.floor((input.nowMs - input.startedAtMs) / 1000)),
    connectedAgents: input.agents.map((a) => ({
      hospital: a.hospital,
      agentId: a.agentId,
      agentVersion: a.agentVersion,
      peer: a.peer,
      feeds: a.feeds,
      connectedAt: iso(a.connectedAtMs),
      lastBatchAt: a.lastBatchAtMs === undefined ? null : iso(a.lastBatchAtMs),
      batches: a.batches,
      events: a.events,
      authenticatedBy: a.authenticatedBy,
      protocolVersion: a.protocolVersion,
      inboundChannels: a.inbound === null ? null : a.inbound.map((w) => w.channel),
      problem: problemOf(a),
    })),
    hospitals: ids.map((id) => ({
      id,
      name: names.get(id) ?? null,
      configured: names.has(id),
      connectedAgents: input.agents.filter((a) => a.hospital === id).length,
      feeds: input.feeds
        .filter((f) => f.hospital === id)
        .map((f) => {
          const head = input.treeHeads?.find((h) => h.hospital === f.hospital && h.feed === f.feed);
          return {
            feed: f.feed,
            highWaterSeq: f.highWaterSeq,
            events: f.events,
            lastBatchAt: iso(f.updatedAtMs),
            ...(head ? { lastTreeHead: { fromSeq: head.fromSeq, toSeq: head.toSeq, treeSize: head.treeSize, root: head.root.toString('hex'), signedAt: iso(head.signedAtMs) } } : {}),
            retention: feedRetention(input, f),
          };
        }),
      ledgerHeads: ledgerHeads
        .filter((h) => h.hospital === id)
        .map((h) => ({
          feed: h.feed,
          index: h.ledgerIndex,
          head: h.ledgerHead,
          receivedAt: iso(h.receivedAtMs),
          batches: h.batches,
          lastBatchAt: h.lastBatchAtMs === null ? null : iso(h.lastBatchAtMs),
        })),
      revokedFeeds: revocations
        .filter((r) => r.hospital === id)
        .map((r) => ({
          feed: r.feed,
          revokedAt: iso(r.revokedAtMs),
          highWaterSeq: r.highWaterSeq,
          eventsDeleted: r.eventsDeleted,
          bytesDeleted: r.bytesDeleted,
          reason: r.reason,
        })),
      inbound: input.inbound === undefined ? null : hospitalInbound(input, id, problemOf),
    })),
    vendors: input.vendors ?? [],
    sinks: input.sinks ?? [],
    cluster: input.cluster ?? null,
    retention: input.retention
      ? {
          sweepIntervalMs: input.retention.sweep.sweepIntervalMs,
          lastSweepAt: input.retention.sweep.lastSweepAtMs === null ? null : iso(input.retention.sweep.lastSweepAtMs),
          lastSweepDurationMs: input.retention.sweep.lastSweepDurationMs,
          lastError: input.retention.sweep.lastError,
        }
      : null,
    storeUnavailable: input.storeUnavailable ? { since: iso(input.storeUnavailable.sinceMs), error: input.storeUnavailable.error } : null,
  };
}

function hospitalInbound(input: RelayStatusInput, id: string, problemOf: (a: ConnectedAgent) => string | null): NonNullable<RelayStatus['hospitals'][number]['inbound']> {
  const channels = input.inbound?.find((h) => h.hospital === id)?.channels ?? [];
  return {
    channels: channels.map((c) => ({
      channel: c.channel,
      waiting: c.waiting,
      oldestWaitingAt: c.oldestReceivedAtMs === null ? null : iso(c.oldestReceivedAtMs),
      oldestWaitingSeconds: c.oldestReceivedAtMs === null ? null : Math.max(0, Math.floor((input.nowMs - c.oldestReceivedAtMs) / 1000)),
      sentUnacked: c.sentUnacked,
      receipts: c.receipts,
    })),
    problem: input.agents.filter((a) => a.hospital === id).map(problemOf).find((p) => p !== null) ?? null,
  };
}

function feedRetention(input: RelayStatusInput, f: FeedSize): FeedRetentionStatus {
  const limits = input.retention?.limits(f.hospital, f.feed);
  const swept = input.retention?.sweep.feeds.find((r) => r.hospital === f.hospital && r.feed === f.feed);
  return {
    maxAgeMs: limits?.maxAge ?? null,
    maxBytes: limits?.maxBytes ?? null,
    // The store's, not this process's last sweep's: another process may have raised it since.
    floorSeq: f.retentionFloorSeq,
    oldestSeq: f.oldestSeq ?? null,
    lastSweepAt: swept && swept.lastSweepAtMs > 0 ? iso(swept.lastSweepAtMs) : null,
    removedEvents: swept?.removedEvents ?? 0,
    removedBytes: swept?.removedBytes ?? 0,
    lastError: swept?.lastError ?? null,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
