// Assembles GET /v1/status from the parts' own status. The same object feeds the
// dashboard, `wardline agent status` and the metrics.
import type { AgentMetricsSnapshot } from './metrics/agent-metrics.js';
import type { ReplicatorStatus } from './replicator/replicator.js';
import type { FeedAcks, Journal } from './store/index.js';

export interface SourceStatus {
  name: string;
  kind: 'mllp' | 'http';
  state: string;
  listen?: string;
  received: number;
  acknowledged: number;
  rejected: number;
  duplicates: number;
  lastRejection: { atMs: number; reason: string } | null;
  lastMessageAtMs: number | null;
}

export interface FeedStatus {
  feed: string;
  relay: string;
  streams: string[];
  ackedSeq: number;
  sentSeq: number;
  inFlight: number;
  backlog: { events: number; bytes: number; oldestAgeSeconds: number | null };
  /** Age of the oldest event the relay has not acknowledged; 0 when caught up. */
  lagSeconds: number;
  lastAckAtMs: number | null;
  eventsSent: number;
  bytesSent: number;
}

export interface AgentStatus {
  hospital: { id: string; name: string };
  agentId: string;
  version: string;
  startedAtMs: number;
  journal: { headSeq: number; pendingAppends: number; groupCommits: number; appendsCommitted: number };
  links: Omit<ReplicatorStatus, 'feeds'>[];
  feeds: FeedStatus[];
  sources: SourceStatus[];
}

export interface AgentStatusInputs {
  hospital: { id: string; name: string };
  agentId: string;
  version: string;
  startedAtMs: number;
  journal: Journal;
  feedAcks: FeedAcks;
  replicators: () => ReplicatorStatus[];
  sources: () => SourceStatus[];
  clock?: () => number;
  /** Backlog figures scan the journal; they are recomputed at most this often, in ms. */
  backlogCacheMs?: number;
}

export function createStatusProvider(inputs: AgentStatusInputs): () => AgentStatus {
  const clock = inputs.clock ?? Date.now;
  const cacheMs = inputs.backlogCacheMs ?? 1000;
  const backlogCache = new Map<string, { atMs: number; ackedSeq: number; value: ReturnType<FeedAcks['backlog']> }>();

  const backlogOf = (feed: string, streams: string[], ackedSeq: number) => {
    const now = clock();
    const cached = backlogCache.get(feed);
    if (cached && cached.ackedSeq === ackedSeq && now - cached.atMs < cacheMs) return cached.value;
    const value = inputs.feedAcks.backlog(streams, ackedSeq);
    backlogCache.set(feed, { atMs: now, ackedSeq, value });
    return value;
  };

  return () => {
    const now = clock();
    const replicators = inputs.replicators();
    const feeds: FeedStatus[] = replicators.flatMap((r) =>
      r.feeds.map((f) => {
        const backlog = backlogOf(f.feed, f.streams, f.ackedSeq);
        const oldestAgeSeconds = backlog.oldestTsMs === null ? null : Math.max(0, (now - backlog.oldestTsMs) / 1000);
        return {
          feed: f.feed,
          relay: r.relay,
          streams: f.streams,
          ackedSeq: f.ackedSeq,
          sentSeq: f.sentSeq,
          inFlight: f.inFlight,
          backlog: { events: backlog.events, bytes: backlog.bytes, oldestAgeSeconds },
          lagSeconds: oldestAgeSeconds ?? 0,
          lastAckAtMs: f.lastAckAtMs,
          eventsSent: f.eventsSent,
          bytesSent: f.bytesSent,
        };
      }),
    );
    const commits = inputs.journal.groupCommitStats;
    return {
      hospital: inputs.hospital,
      agentId: inputs.agentId,
      version: inputs.version,
      startedAtMs: inputs.startedAtMs,
      journal: { headSeq: inputs.journal.head, pendingAppends: inputs.journal.pendingAppends, groupCommits: commits.groups, appendsCommitted: commits.requests },
      links: replicators.map(({ feeds: _feeds, transitions, ...link }) => ({ ...link, transitions: transitions.slice(-50) })),
      feeds,
      sources: inputs.sources(),
    };
  };
}

export function toMetricsSnapshot(status: AgentStatus): AgentMetricsSnapshot {
  return {
    journalHeadSeq: status.journal.headSeq,
    groupCommits: status.journal.groupCommits,
    appendsCommitted: status.journal.appendsCommitted,
    links: status.links.map((l) => ({ relay: l.relay, streaming: l.state === 'streaming' })),
    feeds: status.feeds.map((f) => ({
      feed: f.feed,
      relay: f.relay,
      ackedSeq: f.ackedSeq,
      eventsSent: f.eventsSent,
      bytesSent: f.bytesSent,
      backlogEvents: f.backlog.events,
      backlogBytes: f.backlog.bytes,
      lagSeconds: f.lagSeconds,
    })),
    sources: status.sources.map((s) => ({ source: s.name, received: s.received, acknowledged: s.acknowledged, rejected: s.rejected, duplicates: s.duplicates })),
  };
}
