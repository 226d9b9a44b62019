// Prometheus metrics for the agent, read from the parts' own counters at scrape
// time, so the hot paths carry no metrics code. Names follow Prometheus
// conventions (_total, _seconds, _bytes); labels carry feed, relay, source and
// stream names only — never anything from a message. Node's and the process's
// own metrics keep their stock names (`process_cpu_seconds_total`, `nodejs_*`),
// so the stock Node.js dashboards and alerts work unchanged.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { LatencyHistograms } from './latency-histograms.js';

export interface AgentMetricsSnapshot {
  journalHeadSeq: number;
  groupCommits: number;
  appendsCommitted: number;
  links: { relay: string; streaming: boolean }[];
  feeds: { feed: string; relay: string; ackedSeq: number; eventsSent: number; bytesSent: number; backlogEvents: number; backlogBytes: number; lagSeconds: number; /** The codec and level the next batch is compressed at. */ compression: { codec: string; level: number }; /** Completeness proofs; absent when off. */ proofs?: { verifiedThroughSeq: number; incidents: number } }[];
  sources: { source: string; received: number; acknowledged: number; rejected: number; duplicates: number }[];
  /** The disk budget; absent when the agent has none (tests building a partial status). */
  disk?: {
    freeBytes: number | null;
    totalBytes: number | null;
    /** 0 ok, 1 warning, 2 critical. */
    stateLevel: number;
    forecastFullInSeconds: number | null;
    journalBytes: number;
    journalRows: number;
    journalKeptRows: number;
    trimmedEvents: number;
    trimmedDedupeKeys: number;
  };
  /** The uplink; absent when the agent has none wired (tests building a partial status). */
  bandwidth?: { limitBytesPerSecond: number | null; classes: { class: string; blocked: boolean }[] };
  /** Inbound channels; absent when none is configured. atRelay is what the relay last reported (null: not yet). */
  inbound?: {
    channel: string;
    received: number;
    accepted: number;
    refused: number;
    expired: number;
    atAgent: number;
    quarantined: number;
    atRelay: number | null;
    oldestWaitingSeconds: number | null;
  }[];
}

/** A counter whose value is copied from a running total at scrape time. */
function totalCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]) {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function setTotal<L extends string>(counter: Counter<L>, labels: Record<L, string>, value: number): void {
  counter.reset();
  counter.inc(labels, value);
}

/** What `wardline_agent_build_info` carries as labels. */
export interface AgentBuildInfo {
  version: string;
  protocolVersion: number;
}

export interface AgentMetricsOptions {
  build?: AgentBuildInfo;
  /** The latency histograms the data path observes into. */
  latency?: LatencyHistograms;
}

export function createAgentMetrics(snapshot: () => AgentMetricsSnapshot, options: AgentMetricsOptions = {}): Registry {
  const registry = new Registry();
  // Registered first, so its collect hook runs before the others are read and one
  // snapshot feeds every metric of a scrape.
  new Gauge({ name: 'wardline_agent_journal_head_seq', help: 'Last committed journal sequence number', registers: [registry], collect() {
    refresh(this);
  } });
  collectDefaultMetrics({ register: registry });
  if (options.build) {
    const build = new Gauge({ name: 'wardline_agent_build_info', help: 'Always 1; the labels say which release runs (version, protocol_version, nodejs)', labelNames: ['version', 'protocol_version', 'nodejs'], registers: [registry] });
    build.set({ version: options.build.version, protocol_version: String(options.build.protocolVersion), nodejs: process.version }, 1);
  }
  options.latency?.register(registry);

  const groupCommits = totalCounter(registry, 'wardline_agent_group_commits_total', 'Journal transactions committed (each one fsync)', []);
  const appends = totalCounter(registry, 'wardline_agent_appends_committed_total', 'Append requests committed (messages, HTTP requests)', []);
  const linkUp = new Gauge({ name: 'wardline_agent_link_up', help: '1 while the stream to the relay is established', labelNames: ['relay'], registers: [registry] });
  const acked = new Gauge({ name: 'wardline_agent_feed_acked_seq', help: 'Journal seq the relay has durably acknowledged', labelNames: ['feed', 'relay'], registers: [registry] });
  const backlogEvents = new Gauge({ name: 'wardline_agent_feed_backlog_events', help: 'Events not yet acknowledged by the relay', labelNames: ['feed', 'relay'], registers: [registry] });
  const backlogBytes = new Gauge({ name: 'wardline_agent_feed_backlog_bytes', help: 'Bytes of event bodies not yet acknowledged', labelNames: ['feed', 'relay'], registers: [registry] });
  const verifiedThrough = new Gauge({ name: 'wardline_agent_feed_verified_through_seq', help: 'Every seq through this one is proved complete at the relay (completeness proofs)', labelNames: ['feed', 'relay'], registers: [registry] });
  const integrityIncidents = new Gauge({ name: 'wardline_agent_feed_integrity_incidents', help: 'Events a completeness proof found the relay holding otherwise than sent', labelNames: ['feed', 'relay'], registers: [registry] });
  const lag = new Gauge({ name: 'wardline_agent_feed_lag_seconds', help: 'Age of the oldest unacknowledged event', labelNames: ['feed', 'relay'], registers: [registry] });
  const compressionLevel = new Gauge({ name: 'wardline_agent_feed_compression_level', help: "Level the feed's next batch is compressed at (adaptive: higher while the line is the bottleneck)", labelNames: ['feed', 'relay', 'codec'], registers: [registry] });
  const sentEvents = totalCounter(registry, 'wardline_agent_feed_sent_events_total', 'Events sent to the relay (resends included)', ['feed', 'relay']);
  const sentBytes = totalCounter(registry, 'wardline_agent_feed_sent_bytes_total', 'Compressed payload bytes sent to the relay', ['feed', 'relay']);
  const received = totalCounter(registry, 'wardline_agent_source_received_total', 'Messages received per source', ['source']);
  const acknowledged = totalCounter(registry, 'wardline_agent_source_acknowledged_total', 'Messages acknowledged after commit per source', ['source']);
  const rejected = totalCounter(registry, 'wardline_agent_source_rejected_total', 'Messages rejected (AE/AR, 4xx/5xx) per source', ['source']);
  const duplicates = totalCounter(registry, 'wardline_agent_source_duplicates_total', 'Retransmissions recognised and not journaled again', ['source']);
  const diskFree = new Gauge({ name: 'wardline_agent_disk_free_bytes', help: "Bytes free for the agent on the data directory's filesystem", registers: [registry] });
  const diskTotal = new Gauge({ name: 'wardline_agent_disk_total_bytes', help: "Size of the data directory's filesystem", registers: [registry] });
  const diskState = new Gauge({ name: 'wardline_agent_disk_state', help: 'Disk budget state: 0 ok, 1 warning, 2 critical (non-critical sources refused)', registers: [registry] });
  const diskForecast = new Gauge({ name: 'wardline_agent_disk_forecast_full_seconds', help: 'Seconds until the disk is full at the recent growth rate (+Inf when not growing)', registers: [registry] });
  const journalBytes = new Gauge({ name: 'wardline_agent_journal_bytes', help: 'Bytes of agent.db and its WAL on disk', registers: [registry] });
  const journalRows = new Gauge({ name: 'wardline_agent_journal_rows', help: 'Events held in the journal (trimmed ones excluded)', registers: [registry] });
  const journalKeptRows = new Gauge({ name: 'wardline_agent_journal_kept_rows', help: 'Journal rows held below the trim floor: current versions of records, and superseded ones awaiting the next trim', registers: [registry] });
  const trimmedEvents = totalCounter(registry, 'wardline_agent_journal_trimmed_events_total', 'Journal events trimmed (acknowledged by every feed and past retention)', []);
  const trimmedDedupeKeys = totalCounter(registry, 'wardline_agent_dedupe_keys_trimmed_total', 'Retransmission keys trimmed after their retention', []);
  const bandwidthLimit = new Gauge({ name: 'wardline_agent_bandwidth_limit_bytes_per_second', help: 'Uplink rate limit in force, compressed payload bytes per second (+Inf when unlimited)', registers: [registry] });
  const classBlocked = new Gauge({ name: 'wardline_agent_bandwidth_class_blocked', help: '1 while the timetable does not let this priority class send', labelNames: ['class'], registers: [registry] });

  const inboundEvents = totalCounter(registry, 'wardline_agent_inbound_events_total', 'Inbound events by outcome: received (journaled), accepted, refused, expired', ['channel', 'outcome']);
  const inboundPending = new Gauge({ name: 'wardline_agent_inbound_pending', help: 'Inbound events not final, by where they wait: agent (delivering, retrying, awaiting), quarantined, relay (as last reported)', labelNames: ['channel', 'where'], registers: [registry] });
  const inboundOldest = new Gauge({ name: 'wardline_agent_inbound_oldest_waiting_seconds', help: 'Age of the oldest inbound event not yet final, at the agent or (as last reported) at the relay', labelNames: ['channel'], registers: [registry] });

  function refresh(head: Gauge): void {
    const s = snapshot();
    head.set(s.journalHeadSeq);
    setTotal(groupCommits, {}, s.groupCommits);
    setTotal(appends, {}, s.appendsCommitted);
    linkUp.reset();
    for (const l of s.links) linkUp.set({ relay: l.relay }, l.streaming ? 1 : 0);
    for (const metric of [acked, backlogEvents, backlogBytes, lag, compressionLevel, verifiedThrough, integrityIncidents]) metric.reset();
    for (const counter of [sentEvents, sentBytes]) counter.reset();
    for (const f of s.feeds) {
      const labels = { feed: f.feed, relay: f.relay };
      acked.set(labels, f.ackedSeq);
      backlogEvents.set(labels, f.backlogEvents);
      backlogBytes.set(labels, f.backlogBytes);
      lag.set(labels, f.lagSeconds);
      compressionLevel.set({ ...labels, codec: f.compression.codec }, f.compression.level);
      if (f.proofs) {
        verifiedThrough.set(labels, f.proofs.verifiedThroughSeq);
        integrityIncidents.set(labels, f.proofs.incidents);
      }
      sentEvents.inc(labels, f.eventsSent);
      sentBytes.inc(labels, f.bytesSent);
    }
    for (const counter of [received, acknowledged, rejected, duplicates]) counter.reset();
    for (const src of s.sources) {
      received.inc({ source: src.source }, src.received);
      acknowledged.inc({ source: src.source }, src.acknowledged);
      rejected.inc({ source: src.source }, src.rejected);
      duplicates.inc({ source: src.source }, src.duplicates);
    }
    if (s.disk) {
      // Unknown figures (no reading yet) keep their last value: a 0 would page someone.
      if (s.disk.freeBytes !== null) diskFree.set(s.disk.freeBytes);
      if (s.disk.totalBytes !== null) diskTotal.set(s.disk.totalBytes);
      diskState.set(s.disk.stateLevel);
      diskForecast.set(s.disk.forecastFullInSeconds ?? Infinity);
      journalBytes.set(s.disk.journalBytes);
      journalRows.set(s.disk.journalRows);
      journalKeptRows.set(s.disk.journalKeptRows);
      setTotal(trimmedEvents, {}, s.disk.trimmedEvents);
      setTotal(trimmedDedupeKeys, {}, s.disk.trimmedDedupeKeys);
    }
    inboundEvents.reset();
    inboundPending.reset();
    inboundOldest.reset();
    for (const c of s.inbound ?? []) {
      for (const outcome of ['received', 'accepted', 'refused', 'expired'] as const) inboundEvents.inc({ channel: c.channel, outcome }, c[outcome]);
      inboundPending.set({ channel: c.channel, where: 'agent' }, c.atAgent);
      inboundPending.set({ channel: c.channel, where: 'quarantined' }, c.quarantined);
      if (c.atRelay !== null) inboundPending.set({ channel: c.channel, where: 'relay' }, c.atRelay);
      inboundOldest.set({ channel: c.channel }, c.oldestWaitingSeconds ?? 0);
    }
    if (s.bandwidth) {
      bandwidthLimit.set(s.bandwidth.limitBytesPerSecond ?? Infinity);
      classBlocked.reset();
      for (const c of s.bandwidth.classes) classBlocked.set({ class: c.class }, c.blocked ? 1 : 0);
    }
  }
  return registry;
}
