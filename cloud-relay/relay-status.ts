// The relay's status document (GET /v1/status), built from snapshots by a pure
// function so it can be tested without a running relay.
import { PROTOCOL_VERSION, WARDLINE_VERSION } from '../protocol/index.js';
import type { ConnectedAgent } from './ingest/replication-session.js';
import type { FeedSize } from './store/feed-store.js';

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
}

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
  }[];
  hospitals: {
    id: string;
    name: string | null;
    /** False for a hospital whose data is still held but which is no longer configured. */
    configured: boolean;
    connectedAgents: number;
    feeds: { feed: string; highWaterSeq: number; events: number; lastBatchAt: string }[];
  }[];
}

export function buildRelayStatus(input: RelayStatusInput): RelayStatus {
  const names = new Map(input.hospitals.map((h) => [h.id, h.name ?? null]));
  const ids = [...new Set([...input.hospitals.map((h) => h.id), ...input.feeds.map((f) => f.hospital)])];
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
    })),
    hospitals: ids.map((id) => ({
      id,
      name: names.get(id) ?? null,
      configured: names.has(id),
      connectedAgents: input.agents.filter((a) => a.hospital === id).length,
      feeds: input.feeds
        .filter((f) => f.hospital === id)
        .map((f) => ({ feed: f.feed, highWaterSeq: f.highWaterSeq, events: f.events, lastBatchAt: iso(f.updatedAtMs) })),
    })),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
