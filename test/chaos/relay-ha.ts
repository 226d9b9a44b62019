// The high-availability proof: a real agent replicating through a round-robin
// TCP balancer to several relay processes on one PostgreSQL database, hopping
// between them (balancer resets, and SIGKILL of the process it is on, restarted
// afterwards), while a vendor follows every feed live through a process other
// than the agent's. Afterwards: PostgreSQL holds exactly N events per feed,
// contiguous from 1; the vendor received each event once, in order; nothing the
// agent was told to keep is missing. One function for both sizes: the in-suite
// test (relay-ha.int.test.ts) and the full program (relay-ha-run.ts).
//
// Failure modes exercised:
//  1. A hop by reset: the agent's connection is cut; it reconnects and the
//     balancer sends it to the next process, which must resume from the durable
//     mark in PostgreSQL (loadPositions at Hello), not from its own memory.
//  2. A hop by SIGKILL: the process the agent is on dies mid-batch; the balancer
//     stops sending to it (health check) until it is back. Batches it had not
//     committed are resent by the agent and stored once.
//  3. The vendor's live tail is fed by commits of another process (the doorbell
//     or the polling fallback), and moves to another process whenever the agent
//     lands on its own or its process is killed; it resumes from its cursor.
import { join } from 'node:path';
import pg from 'pg';
import { DemoVendor } from '../../cli/demo/demo-vendor.js';
import type { FeedEvent } from '../../protocol/index.js';
import { freePort } from '../support/free-port.js';
import { RelayCluster } from '../support/relay-cluster.js';
import { RoundRobinProxy } from '../support/round-robin-proxy.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

export const HA_HOSPITAL = 'ha-hospital';
/** A second feed carrying the same stream, so "per feed" is checked on two feeds of one agent. */
export const HA_SECOND_FEED = 'lab';
const HA_FEEDS = [PAIR_FEED, HA_SECOND_FEED] as const;
const INGEST_STREAM = 'orders';
const STATUS_POLL_MS = 20;

export interface RelayHaOptions {
  /** Working directory (configs, dataDirs, logs). */
  dir: string;
  /** postgres:// URL of the database every relay process shares (empty at the start): where the end is checked. */
  databaseUrl: string;
  /** Events to ingest; each feed ends with seqs 1..events. */
  events: number;
  /** Hops of the agent between processes, spread over the replication. */
  hops: number;
  /** How many of the hops SIGKILL the agent's process (restarted afterwards) instead of resetting the balancer. */
  kills: number;
  /** Relay processes; default 3. */
  relays?: number;
  /** Rows per HTTP ingest request; default 500. */
  rowsPerRequest?: number;
  /** Concurrent ingest requests; default 2. */
  ingestWorkers?: number;
  /** Every relay's `store` section; default `{ kind: postgres, url: databaseUrl }`. */
  store?: Record<string, unknown>;
  /** How long the end may take to settle (agent drained, vendor caught up), ms; default 120 s. */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

export type HopKind = 'reset' | 'kill';

export interface HopRecord {
  index: number;
  kind: HopKind;
  /** Backend the agent was on before, and the one it resumed on. */
  from: number | undefined;
  to: number | undefined;
  /** The agent's acknowledged seq (first feed) when the hop was made. */
  atAckedSeq: number;
  /** From the hop to the agent's next Welcome, ms. */
  welcomeMs: number;
  /** From the hop to the first acknowledgement after that Welcome (or to streaming with nothing left to send), ms. */
  resumeMs: number;
}

export interface FeedOutcome {
  feed: string;
  /** Rows of the feed in PostgreSQL, their lowest and highest seq, and the durable mark. */
  stored: number;
  minSeq: number;
  maxSeq: number;
  highWaterSeq: number;
  /** Events the vendor received, and how many of the ingested rows it saw exactly once. */
  vendorReceived: number;
  vendorRowsOnce: number;
  /**
   * Events the agent put on the wire beyond the first copy of each: batches in
   * flight, unacknowledged, when a hop cut the connection. A batch PostgreSQL had
   * already stored and sent again would show as a duplicate ack.
   */
  eventsResent: number;
  duplicateAcks: number;
  nacks: number;
}

export interface RelayHaResult {
  events: number;
  hops: HopRecord[];
  feeds: FeedOutcome[];
  violations: string[];
  /** From the first ingest request until every feed was acknowledged and stored, seconds. */
  seconds: number;
  ingestSeconds: number;
  /** Events per second end to end (ingested, replicated, committed in PostgreSQL), per feed. */
  eventsPerSecond: number;
  vendorReconnects: number;
  connectionsPerBackend: readonly number[];
  /** wardline_relay_batches_total of the processes running at the end (a killed process's counts died with it). */
  relayBatches: Record<string, number>;
}

/** Median and 99th percentile (nearest rank) of a list of ms. */
export function percentiles(values: readonly number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
  return { p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1] ?? 0 };
}

interface AgentFeedStatus {
  feed: string;
  ackedSeq: number;
  lastAckAtMs: number | null;
  eventsSent: number;
  duplicateAcks: number;
  nacks: number;
}
interface AgentView {
  journal: { headSeq: number };
  feeds: AgentFeedStatus[];
  links: { state: string; transitions: { to: string; atMs: number }[] }[];
}

/** Which kind each hop is: the kills spread evenly among the hops. */
function hopKinds(hops: number, kills: number): HopKind[] {
  const kinds: HopKind[] = Array.from({ length: hops }, () => 'reset');
  for (let k = 0; k < Math.min(kills, hops); k++) kinds[Math.floor(((k + 0.5) * hops) / Math.min(kills, hops))] = 'kill';
  return kinds;
}

export async function runRelayHa(options: RelayHaOptions): Promise<RelayHaResult> {
  const log = options.log ?? (() => {});
  const total = options.events;
  const violations: string[] = [];
  const proxyPort = await freePort();
  const pair = await WardlinePair.create(options.dir, {
    hospital: HA_HOSPITAL,
    logLevel: 'warn',
    relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
    extraFeeds: [{ name: HA_SECOND_FEED, streams: [INGEST_STREAM] }],
  });
  const cluster = await RelayCluster.create({
    dir: options.dir,
    size: options.relays ?? 3,
    baseConfigFile: join(options.dir, 'relay.yaml'),
    store: options.store ?? { kind: 'postgres', url: options.databaseUrl },
  });
  await cluster.startAll();
  const proxy = await RoundRobinProxy.start({ backends: cluster.grpcBackends, listenPort: proxyPort });
  const vendors: DemoVendor[] = [];
  try {
    await pair.startAgent();
    const agentStatus = async (): Promise<AgentView> => (await pair.agentStatus()) as unknown as AgentView;

    // --- the vendor: one live follower per feed, always through a process other than the agent's ---
    const vendorAddress = (): string => {
      const candidates = cluster.running.filter((i) => i !== proxy.lastBackend);
      const choice = candidates[0] ?? cluster.running[0] ?? 0;
      return cluster.grpcAddress(choice);
    };
    const seen = HA_FEEDS.map(() => ({ last: 0, received: 0, rows: new Uint8Array(total) }));
    const vendorProblems: string[] = [];
    HA_FEEDS.forEach((feed, f) => {
      const state = seen[f]!;
      const onEvent = (message: FeedEvent): void => {
        const seq = Number(message.event?.seq ?? 0);
        state.received++;
        if (seq !== state.last + 1) vendorProblems.push(`${feed}: seq ${seq} after ${state.last}`);
        if (seq > state.last) state.last = seq;
        const row = (JSON.parse(Buffer.from(message.event!.body!).toString('utf8')) as { rowId: number }).rowId;
        if (row >= 0 && row < total) state.rows[row] = Math.min(255, state.rows[row]! + 1);
      };
      const vendor = new DemoVendor(vendorAddress, PAIR_VENDOR_KEY, undefined, feed, { retryMs: 100, onEvent });
      vendor.start();
      vendors.push(vendor);
    });
    const moveVendorsOffAgent = (): void => {
      const agentOn = proxy.lastBackend === undefined ? undefined : cluster.grpcAddress(proxy.lastBackend);
      for (const vendor of vendors) if (vendor.currentAddress === agentOn) vendor.reconnect();
    };

    // --- ingest: JSON rows over HTTP, each request retried with its Idempotency-Key until accepted ---
    const rowsPerRequest = options.rowsPerRequest ?? 500;
    const requests = Math.ceil(total / rowsPerRequest);
    const started = Date.now();
    let nextRequest = 0;
    const ingestWorker = async (): Promise<void> => {
      while (nextRequest < requests) {
        const index = nextRequest++;
        const first = index * rowsPerRequest;
        const rows = Array.from({ length: Math.min(rowsPerRequest, total - first) }, (_, i) => ({ key: `ORD-${(first + i) % 5000}`, rowId: first + i, status: 'NW' }));
        const body = JSON.stringify(rows);
        for (;;) {
          try {
            const response = await fetch(`${pair.agentHttp}/v1/ingest/${INGEST_STREAM}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': `ha-${index}` },
              body,
              signal: AbortSignal.timeout(30_000),
            });
            if (response.ok) break;
            if (response.status < 500 && response.status !== 429) throw new Error(`ingest refused: ${response.status} ${await response.text()}`);
          } catch (error) {
            if ((error as Error).message.startsWith('ingest refused')) throw error;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    const ingest = Promise.all(Array.from({ length: options.ingestWorkers ?? 2 }, ingestWorker)).then(() => (Date.now() - started) / 1000);

    // --- hops, spread over the replication by the agent's acknowledged seq ---
    const kinds = hopKinds(options.hops, options.kills);
    const hops: HopRecord[] = [];
    let restarting: Promise<void> = Promise.resolve();
    for (let h = 0; h < kinds.length; h++) {
      const due = Math.floor(((h + 1) * total) / (kinds.length + 1));
      let status = await agentStatus();
      while ((status.feeds[0]?.ackedSeq ?? 0) < due) {
        await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
        status = await agentStatus();
      }
      const kind = kinds[h]!;
      const from = proxy.lastBackend;
      if (kind === 'kill') await restarting;
      const at = Date.now();
      if (kind === 'reset' || from === undefined) {
        proxy.resetAll();
      } else {
        // A health check takes the dead process out of rotation until it is back.
        proxy.disable(from);
        await cluster.kill(from);
        restarting = cluster.start(from).then(() => proxy.enable(from));
      }
      const record = await awaitResume(agentStatus, at, total);
      hops.push({ index: h + 1, kind, from, to: proxy.lastBackend, atAckedSeq: status.feeds[0]?.ackedSeq ?? 0, ...record });
      moveVendorsOffAgent();
      log(`hop ${h + 1}/${kinds.length} ${kind}: relay ${from} → ${proxy.lastBackend} at seq ${status.feeds[0]?.ackedSeq}; welcome ${record.welcomeMs} ms, resumed ${record.resumeMs} ms`);
    }

    const ingestSeconds = await ingest;
    await restarting;
    // --- settle: every feed acknowledged to the end, the vendor caught up ---
    const deadline = Date.now() + (options.settleTimeoutMs ?? 120_000);
    let status = await agentStatus();
    while (Date.now() < deadline && !(status.journal.headSeq >= total && status.feeds.every((f) => f.ackedSeq >= status.journal.headSeq))) {
      await new Promise((r) => setTimeout(r, 50));
      status = await agentStatus();
    }
    const seconds = (Date.now() - started) / 1000;
    while (Date.now() < deadline && seen.some((s) => s.last < total)) await new Promise((r) => setTimeout(r, 50));
    // A moment more, so an event served twice after the last one would be seen.
    await new Promise((r) => setTimeout(r, 500));
    log(`replicated ${total} events in ${seconds.toFixed(1)} s (ingest took ${ingestSeconds.toFixed(1)} s)`);

    if (status.journal.headSeq !== total) violations.push(`the agent journaled ${status.journal.headSeq} events, expected ${total}`);
    const stored = await storedFeeds(options.databaseUrl);
    const feeds: FeedOutcome[] = HA_FEEDS.map((feed, f) => {
      const row = stored.get(feed) ?? { stored: 0, minSeq: 0, maxSeq: 0, highWaterSeq: 0 };
      const agentFeed = status.feeds.find((s) => s.feed === feed);
      if (!agentFeed) violations.push(`the agent's status has no feed ${feed}`);
      if (agentFeed && agentFeed.ackedSeq !== total) violations.push(`${feed}: the agent is acknowledged to ${agentFeed.ackedSeq}, expected ${total}`);
      if (row.stored !== total || row.minSeq !== 1 || row.maxSeq !== total) violations.push(`${feed}: PostgreSQL holds ${row.stored} events, seqs ${row.minSeq}..${row.maxSeq}; expected ${total}, 1..${total}`);
      if (row.highWaterSeq !== total) violations.push(`${feed}: durable mark ${row.highWaterSeq}, expected ${total}`);
      const state = seen[f]!;
      let once = 0;
      for (const n of state.rows) if (n === 1) once++;
      if (state.received !== total) violations.push(`${feed}: the vendor received ${state.received} events, expected ${total}`);
      if (once !== total) violations.push(`${feed}: the vendor saw ${once} of ${total} ingested rows exactly once`);
      return {
        feed,
        ...row,
        vendorReceived: state.received,
        vendorRowsOnce: once,
        eventsResent: Math.max(0, (agentFeed?.eventsSent ?? 0) - total),
        duplicateAcks: agentFeed?.duplicateAcks ?? 0,
        nacks: agentFeed?.nacks ?? 0,
      };
    });
    if (vendorProblems.length > 0) violations.push(`the vendor's events out of order or twice (${vendorProblems.length}): ${vendorProblems.slice(0, 10).join(', ')}`);
    const relayBatches = await batchCounts(cluster);
    return {
      events: total,
      hops,
      feeds,
      violations,
      seconds,
      ingestSeconds,
      eventsPerSecond: total / seconds,
      vendorReconnects: vendors.reduce((n, v) => n + v.reconnects, 0),
      connectionsPerBackend: proxy.connectionsPerBackend,
      relayBatches,
    };
  } finally {
    for (const vendor of vendors) vendor.stop();
    await pair.agent?.kill('SIGTERM');
    await proxy.stop();
    await cluster.stop();
  }
}

/**
 * Polls the agent until it streams again after a hop made at `at`: its next
 * Welcome (a transition to streaming after `at`), then an acknowledgement after
 * that Welcome, or streaming with nothing left to send.
 */
async function awaitResume(status: () => Promise<AgentView>, at: number, total: number, timeoutMs = 60_000): Promise<{ welcomeMs: number; resumeMs: number }> {
  const deadline = at + timeoutMs;
  for (;;) {
    const view = await status();
    const welcome = view.links[0]?.transitions.find((t) => t.to === 'streaming' && t.atMs >= at);
    if (welcome) {
      const ack = view.feeds[0]?.lastAckAtMs ?? 0;
      if (ack >= welcome.atMs) return { welcomeMs: welcome.atMs - at, resumeMs: ack - at };
      const idle = view.feeds.every((f) => f.ackedSeq >= view.journal.headSeq) && view.journal.headSeq >= total;
      if (idle) return { welcomeMs: welcome.atMs - at, resumeMs: welcome.atMs - at };
    }
    if (Date.now() > deadline) throw new Error(`the agent did not resume within ${timeoutMs} ms of a hop (link ${view.links[0]?.state})`);
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
  }
}

/** Per feed of HA_HOSPITAL: rows in feed_events, their seq range, and the durable mark in feed_positions. */
async function storedFeeds(url: string): Promise<Map<string, { stored: number; minSeq: number; maxSeq: number; highWaterSeq: number }>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const events = await client.query<{ feed: string; stored: string; min_seq: string; max_seq: string }>(
      'SELECT feed, count(*) AS stored, min(seq) AS min_seq, max(seq) AS max_seq FROM feed_events WHERE hospital = $1 GROUP BY feed',
      [HA_HOSPITAL],
    );
    const marks = await client.query<{ feed: string; high_water_seq: string }>('SELECT feed, high_water_seq FROM feed_positions WHERE hospital = $1', [HA_HOSPITAL]);
    const result = new Map<string, { stored: number; minSeq: number; maxSeq: number; highWaterSeq: number }>();
    for (const row of events.rows) result.set(row.feed, { stored: Number(row.stored), minSeq: Number(row.min_seq), maxSeq: Number(row.max_seq), highWaterSeq: 0 });
    for (const row of marks.rows) {
      const entry = result.get(row.feed) ?? { stored: 0, minSeq: 0, maxSeq: 0, highWaterSeq: 0 };
      entry.highWaterSeq = Number(row.high_water_seq);
      result.set(row.feed, entry);
    }
    return result;
  } finally {
    await client.end();
  }
}

/** wardline_relay_batches_total by result, summed over the running processes' /metrics. */
async function batchCounts(cluster: RelayCluster): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const index of cluster.running) {
    try {
      const text = await (await fetch(`${cluster.httpBase(index)}/metrics`, { headers: PAIR_OPERATOR_HEADERS, signal: AbortSignal.timeout(5000) })).text();
      for (const match of text.matchAll(/^wardline_relay_batches_total\{[^}]*result="([a-z]+)"[^}]*\} (\d+(?:\.\d+)?)/gm)) counts[match[1]!] = (counts[match[1]!] ?? 0) + Number(match[2]);
    } catch {
      // a process that does not answer adds nothing
    }
  }
  return counts;
}
