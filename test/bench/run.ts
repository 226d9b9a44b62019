// `npm run bench`: the replication spine measured against this machine's limits
// and against a peer, in one run. Prints the tables and the goals, and writes
// test/bench/results/latest.{json,md}. Every Wardline figure is a ratio to a
// baseline measured in the same run, because absolute numbers on a shared
// machine drift. The agent and the relay are the real CLI as child processes;
// the load generators run in this process.
//
//  1. The ceiling: fsync latency; bare better-sqlite3 inserts of the same events.
//  2. Durable ingest: MLLP (ACK after commit) and HTTP batches, alone and together;
//     each alone also timed until the relay acknowledged its last event (live).
//  3. HL7 ACK latency at a steady rate, link up and link down.
//  4. End-to-end replication (journal -> relay durable ack) after the outage,
//     against the ceiling and a bare grpc-js stream of the same pre-encoded batches.
//  5. NATS JetStream doing the same work on the same payloads, edge stream mirrored
//     to a hub: live against section 2's runs reaching the relay, catch-up of the
//     outage's backlog against section 4's drain. The two like-for-like ratios.
//  6. Bytes on the wire per event against the event's raw JSON.
//  7. Outage: RSS and event-loop lag while 1,000,000 events pile up, relay down.
//  8. Resume: relay back -> first new ack.
//  9. PostgreSQL capture (postgres-capture.ts): 2,000 single-row transactions/s into
//     an agent with a relay and a vendor feed, commit-to-journal lag and digests;
//     a snapshot against the server's own COPY.
// 10. Imaging (imaging-bench.ts): a study through the DICOM Storage SCP against a
//     plain fsynced copy of the same bytes.
// 11. Export (export-bench.ts): the signed export of 1,000,000 events against a raw
//     SELECT of the same rows; `wardline export verify`, minisign -V, sha256sum -c and
//     the Python verifier timed on it. `-- --only export` runs it alone (results/export/).
// 13. Relay store on PostgreSQL (relay-store-bench.ts): PostgresFeedStore.storeBatch against a
//     bare INSERT … ON CONFLICT of the same batches and against SqliteFeedStore, then
//     `wardline relay migrate-store` of that relay.db; then (relay-live-tail-bench.ts) a commit at
//     one relay process to a vendor following at another, against following at the same process.
//     `-- --only relay-store` (results/relay-store/).
//
// Sizes can be scaled down for a quick look (WARDLINE_BENCH_OUTAGE_EVENTS etc.);
// the committed results are from the defaults. The capture section writes for 30 s
// by default; the 5-minute run is `npm run bench -- --capture-seconds 300`
// (or WARDLINE_BENCH_CAPTURE_SECONDS=300), and `-- --only capture` runs that section
// alone (its results go to results/capture/latest.{json,md}, leaving the full run's alone);
// `-- --only imaging` runs section 10 alone (results/imaging/). WARDLINE_CHILD_NODE_ARGS passes
// node options to agent and relay, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { DEFAULT_BACKOFF } from '../../agent/replication/backoff.js';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { toVendorEventJson, type JournalEvent } from '../../protocol/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { BenchReport, describeMachine, shown } from './bench-report.js';
import { measureFsync, measureRawInserts } from './disk-baseline.js';
import { measureBareGrpcStream, preEncodeBatches } from './grpc-baseline.js';
import { DEFAULT_NATS_SERVER_PATH, JetStreamPair, type JetStreamLiveResult } from './nats-peer.js';
import { MllpEcho } from './mllp-echo.js';
import { ProcessWatch } from './process-watch.js';
import { measurePostgresCapture } from './postgres-capture.js';
import { measureImagingIngest, measureImagingReplication } from './imaging-bench.js';
import { measureExport } from './export-bench.js';
import { measureDownlink } from './downlink-bench.js';
import { measureRelayStore } from './relay-store-bench.js';
import { measureCrossProcessLiveTail } from './relay-live-tail-bench.js';
import { BenchWorkload, ROWS_PER_POST, eventsOf, percentile, postJsonRows, sendOverMllp, type JsonPost } from './workload.js';
import type { CorpusMessage } from '../../simulator/index.js';
import type { EventInput } from '../../agent/store/index.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
/** HL7 messages and JSON rows in each durable-ingest run. */
const INGEST_MESSAGES = env('WARDLINE_BENCH_MESSAGES', 20_000);
const INGEST_ROWS = env('WARDLINE_BENCH_ROWS', 100_000);
/** Concurrent MLLP connections (interfaces of a HIS/LIS) and concurrent ingest requests. */
const MLLP_CONNECTIONS = env('WARDLINE_BENCH_CONNECTIONS', 8);
const HTTP_CONCURRENCY = 4;
/** A busy hospital's interface engine: ~100 messages/s, far above a day's average. */
const STEADY_RATE = env('WARDLINE_BENCH_STEADY_RATE', 100);
const STEADY_SECONDS = env('WARDLINE_BENCH_STEADY_SECONDS', 30);
const STEADY_CONNECTIONS = 4;
/** Events piled up while the relay is down; a share of them HL7 over MLLP, the rest JSON rows. */
const OUTAGE_EVENTS = env('WARDLINE_BENCH_OUTAGE_EVENTS', 1_000_000);
const OUTAGE_MESSAGES = Math.min(OUTAGE_EVENTS, env('WARDLINE_BENCH_OUTAGE_MESSAGES', 50_000));
const WATCH_INTERVAL_MS = 2_000;
/** Events the transport baseline streams. */
const BASELINE_EVENTS = env('WARDLINE_BENCH_BASELINE_EVENTS', 200_000);
const VENDOR_READ_EVENTS = 100_000;
const NATS_SERVER = process.env.WARDLINE_NATS_SERVER ?? DEFAULT_NATS_SERVER_PATH;
const APPS_FEED = 'apps';
/**
 * The agent's replication settings for the run, as JSON (e.g. '{"codec":"gzip"}' or
 * '{"maxInFlightBatches":16}'), to measure drain rate and wire bytes per choice;
 * the committed results are from the defaults.
 */
const AGENT_REPLICATION = JSON.parse(process.env.WARDLINE_BENCH_REPLICATION ?? '{}') as Record<string, unknown>;
const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** Section 9: the PostgreSQL capture's writer rate, duration and snapshot size. */
const CAPTURE = {
  ratePerSecond: Number(flag('capture-rate') ?? env('WARDLINE_BENCH_CAPTURE_RATE', 2_000)),
  seconds: Number(flag('capture-seconds') ?? env('WARDLINE_BENCH_CAPTURE_SECONDS', 30)),
  snapshotRows: Number(flag('snapshot-rows') ?? env('WARDLINE_BENCH_SNAPSHOT_ROWS', 200_000)),
};
const ONLY = flag('only');
/**
 * The downlink section: bookings/s of the steady and outage runs, the steady run's
 * and burst's sizes, and how long the line is down (the run is 1800 s:
 * WARDLINE_BENCH_DOWNLINK_OUTAGE_SECONDS=1800).
 */
const DOWNLINK = {
  rate: env('WARDLINE_BENCH_DOWNLINK_RATE', 20),
  steadySeconds: env('WARDLINE_BENCH_DOWNLINK_STEADY_SECONDS', 30),
  burstEvents: env('WARDLINE_BENCH_DOWNLINK_BURST', 5_000),
  outageSeconds: env('WARDLINE_BENCH_DOWNLINK_OUTAGE_SECONDS', 60),
};
/** Section 10: instances in the study (512 KiB of pixels each). */
const IMAGING_INSTANCES = env('WARDLINE_BENCH_IMAGING_INSTANCES', 200);
/** Section 11: events in the exported feed. */
const EXPORT_EVENTS = env('WARDLINE_BENCH_EXPORT_EVENTS', 1_000_000);
/** Section 13: events each feed store (and the bare INSERT) stores, and events per batch. */
const LIVE_TAIL_BATCHES = env('WARDLINE_BENCH_LIVE_TAIL_BATCHES', 1_000);
const RELAY_STORE = { events: env('WARDLINE_BENCH_RELAY_STORE_EVENTS', 100_000), batchEvents: env('WARDLINE_BENCH_RELAY_STORE_BATCH', 500) };

const report = new BenchReport();
const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)}%`;
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** The events of a workload as the journal would hand them to a feed, for the baselines. */
function asJournalEvents(events: readonly EventInput[], firstSeq = 1): JournalEvent[] {
  const tsMs = Date.now();
  return events.map((e, i) => ({ ...e, seq: firstSeq + i, tsMs, source: e.contentType === 'hl7v2' ? 'lis' : 'http' }));
}

/** Mean bytes of one event as a vendor reads it in JSON (one NDJSON line), over a sample. */
function rawJsonBytesPerEvent(events: readonly JournalEvent[]): number {
  let bytes = 0;
  for (const event of events) bytes += Buffer.byteLength(JSON.stringify(toVendorEventJson(event))) + 1;
  return bytes / events.length;
}

/** An evenly spread sample of at most `count` items. */
function sample<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]!);
}


/** The rows of ingest posts, one JSON text each, as a JetStream producer would publish them. */
function rowsOf(posts: readonly JsonPost[]): { subject: string; payload: Buffer }[] {
  return posts.flatMap((post) => (JSON.parse(post.body) as unknown[]).map((row) => ({ subject: post.stream, payload: Buffer.from(JSON.stringify(row)) })));
}

/** The outage's backlog as JetStream would hold it: each HL7 message as sent, then each row; generated as it is read. */
function* backlogOf(messages: readonly CorpusMessage[], posts: readonly JsonPost[]): Generator<{ subject: string; payload: Buffer }> {
  for (const m of messages) yield { subject: m.stream, payload: m.bytes };
  for (const post of posts) for (const row of JSON.parse(post.body) as unknown[]) yield { subject: post.stream, payload: Buffer.from(JSON.stringify(row)) };
}

const allAcked = (status: AgentStatus): boolean => status.feeds.every((f) => f.ackedSeq >= status.journal.headSeq);
const lowestAcked = (status: AgentStatus): number => Math.min(...status.feeds.map((f) => f.ackedSeq));

async function relayEventsStored(relayHttp: string): Promise<number> {
  const status = (await (await fetch(`${relayHttp}/v1/status`, { headers: PAIR_OPERATOR_HEADERS })).json()) as { hospitals: { feeds: { events: number }[] }[] };
  return status.hospitals.flatMap((h) => h.feeds).reduce((n, f) => n + f.events, 0);
}

/** `--only capture`, `imaging`, `export`, `downlink` or `relay-store`: section 9, 10, 11, 12 or 13 alone, written beside the full run's results. */
async function sectionOnly(section: (typeof SECTIONS)[number]): Promise<void> {
  const startedAt = new Date();
  const runStart = performance.now();
  const dir = makeTempDir('wardline-bench-');
  try {
    process.stderr.write(`wardline bench (${section} only) in ${dir.path}\n`);
    if (section === 'capture') await measurePostgresCapture(report, { dir: dir.path, ...CAPTURE });
    else if (section === 'export') await measureExport(report, { dir: dir.path, events: EXPORT_EVENTS });
    else if (section === 'downlink') await measureDownlink(report, { dir: dir.path, ...DOWNLINK });
    else if (section === 'relay-store') {
      await measureRelayStore(report, { dir: dir.path, ...RELAY_STORE });
      await measureCrossProcessLiveTail(report, { batches: LIVE_TAIL_BATCHES });
    } else {
      await measureImagingIngest(report, { dir: dir.path, instances: IMAGING_INSTANCES });
      await measureImagingReplication(report, { dir: dir.path, instances: IMAGING_INSTANCES });
    }
    const seconds = (performance.now() - runStart) / 1000;
    process.stdout.write(report.table());
    const resultsDir = fileURLToPath(new URL(`../../../test/bench/results/${section}/`, import.meta.url));
    report.write(resultsDir, describeMachine(`data on ${dir.path}`), startedAt, seconds);
    process.stdout.write(`\nwritten to ${join(resultsDir, 'latest.json')} and latest.md (${Math.round(seconds)} s)\n`);
  } finally {
    dir.remove();
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const runStart = performance.now();
  const dir = makeTempDir('wardline-bench-');
  let pair: WardlinePair | undefined;
  let proxy: FaultProxy | undefined;
  try {
    process.stderr.write(`wardline bench in ${dir.path}\n`);
    const workload = new BenchWorkload('wardline-bench');
    const ingestMessages = workload.messages(INGEST_MESSAGES);
    const ingestPosts = workload.jsonPosts(INGEST_ROWS);
    const togetherMessages = workload.messages(INGEST_MESSAGES);
    const togetherPosts = workload.jsonPosts(INGEST_ROWS * 3);
    const echoMessages = workload.messages(INGEST_MESSAGES);
    const steadyUp = workload.messages(STEADY_RATE * STEADY_SECONDS);
    const steadyDown = workload.messages(STEADY_RATE * STEADY_SECONDS);
    const outageMessages = workload.messages(OUTAGE_MESSAGES);
    const outagePosts = workload.jsonPosts(OUTAGE_EVENTS - OUTAGE_MESSAGES);
    // A sample of the outage's events in the same proportions, for the baselines and
    // sizes. Never all of them at once: a million event objects in this process
    // would put its garbage collector's pauses into every latency it measures.
    const outageSample = (count: number): EventInput[] => {
      const share = Math.min(1, count / OUTAGE_EVENTS);
      return eventsOf(sample(outageMessages, Math.round(outageMessages.length * share)), sample(outagePosts, Math.max(1, Math.round(outagePosts.length * share))));
    };

    // 1. The ceiling.
    report.begin('1. The ceiling (same disk, same events, agent pragmas)');
    const fsync = measureFsync(dir.path);
    report.record('disk fsync p50', fsync.p50Ms, 'ms', '4 KiB overwrite + fsync, 500 samples');
    report.record('disk fsync p99', fsync.p99Ms, 'ms');
    const ceilingHl7 = report.record('raw inserts, HL7 events', measureRawInserts(dir.path, eventsOf(ingestMessages, [])), 'events/s', '1,000-row transactions, WAL, synchronous=FULL, best of 3');
    const ceilingJson = report.record('raw inserts, JSON rows', measureRawInserts(dir.path, eventsOf([], ingestPosts)), 'events/s');
    const ceilingOutage = report.record('raw inserts, outage mix', measureRawInserts(dir.path, outageSample(200_000)), 'events/s', `${OUTAGE_MESSAGES.toLocaleString('en-US')} HL7 in ${OUTAGE_EVENTS.toLocaleString('en-US')}, 200,000-event sample`);

    // The pair, with the agent's production reconnect backoff and a counting proxy on the line.
    const proxyPort = await freePort();
    pair = await WardlinePair.create(dir.path, {
      hospital: 'bench-hospital',
      logLevel: 'warn',
      relayAddressForAgent: () => `127.0.0.1:${proxyPort}`,
      agentReplication: { ...AGENT_REPLICATION, backoff: { initialMs: DEFAULT_BACKOFF.initialMs, maxMs: DEFAULT_BACKOFF.maxMs } },
      extraFeeds: [{ name: APPS_FEED, streams: ['his.patient', 'appointments'] }],
    });
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: pair.ports.relayGrpc }, listenPort: proxyPort });
    await pair.startRelay();
    await pair.startAgent();
    const status = () => pair!.agentStatus();

    // 2. Durable ingest, link up (replication running alongside).
    report.begin('2. Durable ingest, link up, acknowledged after commit');
    const echo = await MllpEcho.start();
    const echoed = await sendOverMllp(echo.port, echoMessages, MLLP_CONNECTIONS).finally(() => echo.stop());
    report.record('MLLP senders against an endpoint that stores nothing', echoed.perSecond, 'messages/s', `the same ${MLLP_CONNECTIONS} connections answered AA at once: what the closed loop carries at all`);
    // Live, like for like with JetStream (section 5): each run is also timed until the
    // relay has durably acknowledged every event, the far side of the line.
    const reachedRelay = async (start: number, events: number): Promise<number> => {
      await until('the relay to acknowledge every event of the run', status, allAcked, { timeoutMs: 300_000, pollMs: 20 });
      return events / ((performance.now() - start) / 1000);
    };
    const mllpStart = performance.now();
    const mllp = await sendOverMllp(pair.ports.mllp, ingestMessages, MLLP_CONNECTIONS);
    const mllpLive = await reachedRelay(mllpStart, mllp.messages);
    report.record('MLLP ingest', mllp.perSecond, 'events/s', `${MLLP_CONNECTIONS} connections, one message in flight each; ${pct(mllp.perSecond / ceilingHl7)} of the HL7 ceiling, ${pct(mllp.perSecond / echoed.perSecond)} of the closed loop's`);
    report.record('MLLP ingest, reaching the relay', mllpLive, 'events/s', 'the same run, from the first send until the relay acknowledged the last event durably');
    const httpStart = performance.now();
    const http = await postJsonRows(pair.agentHttp, ingestPosts, HTTP_CONCURRENCY);
    const httpLive = await reachedRelay(httpStart, http.rows);
    report.record('HTTP batch ingest', http.perSecond, 'events/s', `${HTTP_CONCURRENCY} concurrent posts of ${ROWS_PER_POST} rows; ${pct(http.perSecond / ceilingJson)} of the JSON ceiling`);
    report.record('HTTP batch ingest, reaching the relay', httpLive, 'events/s', 'the same run, until the relay acknowledged the last row durably');
    // Both sources at once, for as long as the HL7 senders have messages: the posts stop with them.
    let mllpDone = false;
    const togetherStart = performance.now();
    const [mllpTogether, httpTogether] = await Promise.all([
      sendOverMllp(pair.ports.mllp, togetherMessages, MLLP_CONNECTIONS).finally(() => (mllpDone = true)),
      postJsonRows(pair.agentHttp, togetherPosts, HTTP_CONCURRENCY, () => mllpDone),
    ]);
    const togetherRate = (mllpTogether.messages + httpTogether.rows) / ((performance.now() - togetherStart) / 1000);
    // Inserting a mix takes the sum of its parts' times: the ceiling for exactly this mix.
    const ceilingTogether = (mllpTogether.messages + httpTogether.rows) / (mllpTogether.messages / ceilingHl7 + httpTogether.rows / ceilingJson);
    report.record('MLLP + HTTP together', togetherRate, 'events/s', `${mllpTogether.messages.toLocaleString('en-US')} HL7 + ${httpTogether.rows.toLocaleString('en-US')} rows; ${pct(togetherRate / ceilingTogether)} of the ceiling for this mix (${shown(ceilingTogether)} events/s from the two above)`);
    report.check('MLLP durable ingest ≥ 50% of the closed loop of the same connections', '≥ 50%', `${pct(mllp.perSecond / echoed.perSecond)} (${shown(mllp.perSecond)} of ${shown(echoed.perSecond)} messages/s)`, mllp.perSecond / echoed.perSecond >= 0.5);
    report.check('HTTP batch ingest ≥ 50% of raw batched inserts', '≥ 50%', `${pct(http.perSecond / ceilingJson)} (${shown(http.perSecond)} of ${shown(ceilingJson)} rows/s)`, http.perSecond / ceilingJson >= 0.5);
    await until('the relay to catch up after ingest', status, allAcked, { timeoutMs: 300_000 });

    // 3. ACK latency at a steady rate, link up then link down.
    report.begin(`3. HL7 ACK latency at a steady ${STEADY_RATE} messages/s over ${STEADY_CONNECTIONS} connections`);
    const up = await sendOverMllp(pair.ports.mllp, steadyUp, STEADY_CONNECTIONS, STEADY_RATE);
    report.record('ACK p50, link up', percentile(up.latencies, 0.5), 'ms', `${up.messages} messages over ${shown(up.seconds)} s`);
    const upP99 = report.record('ACK p99, link up', percentile(up.latencies, 0.99), 'ms');
    await pair.relay!.kill('SIGKILL');
    await until('the agent to see the link down', status, (s) => s.links[0]!.state !== 'streaming', { timeoutMs: 30_000, pollMs: 50 });
    const down = await sendOverMllp(pair.ports.mllp, steadyDown, STEADY_CONNECTIONS, STEADY_RATE);
    report.record('ACK p50, link down', percentile(down.latencies, 0.5), 'ms');
    const downP99 = report.record('ACK p99, link down', percentile(down.latencies, 0.99), 'ms');
    const ackBudget = 2 * fsync.p99Ms + 2;
    report.check('ACK p99 ≤ 2 × fsync p99 + 2 ms', `≤ ${shown(ackBudget)} ms`, `${shown(upP99)} ms link up, ${shown(downP99)} ms link down`, Math.max(upP99, downP99) <= ackBudget);
    report.check('ACK p99 with the link down ≤ 10% worse than link up', `≤ ${shown(upP99 * 1.1)} ms`, `${shown(downP99)} ms`, downP99 <= upP99 * 1.1);

    // 7. The outage: a million events pile up with the relay down.
    report.begin(`7. Outage: ${OUTAGE_EVENTS.toLocaleString('en-US')} events pile up with the relay down`);
    const agentPid = pair.agent!.child.pid!;
    const watch = new ProcessWatch(agentPid, `${pair.agentHttp}/metrics`);
    await watch.start(WATCH_INTERVAL_MS);
    const before = await status();
    const pileStart = performance.now();
    await Promise.all([sendOverMllp(pair.ports.mllp, outageMessages, MLLP_CONNECTIONS), postJsonRows(pair.agentHttp, outagePosts, HTTP_CONCURRENCY)]);
    const pileSeconds = (performance.now() - pileStart) / 1000;
    const piled = await status();
    const backlog = piled.journal.headSeq - lowestAcked(piled);
    const outage = await watch.stop();
    report.record('events journaled during the outage', piled.journal.headSeq - before.journal.headSeq, 'events', `backlog now ${backlog.toLocaleString('en-US')} events`);
    report.record('ingest rate, relay down', (piled.journal.headSeq - before.journal.headSeq) / pileSeconds, 'events/s', `${pct((piled.journal.headSeq - before.journal.headSeq) / pileSeconds / ceilingOutage)} of the outage-mix ceiling`);
    const rssGrowth = (outage.maxRssBytes - outage.firstRssBytes) / outage.firstRssBytes;
    report.attach('outage', watch.samples.map((sample) => ({ ...sample, rssMiB: Math.round(sample.rssBytes / 2 ** 20) })));
    report.record('agent RSS at the start of the outage', outage.firstRssBytes / 2 ** 20, 'MiB');
    report.record('agent RSS, highest during the outage', outage.maxRssBytes / 2 ** 20, 'MiB', `+${pct(rssGrowth)}; ${outage.samples} samples every ${WATCH_INTERVAL_MS / 1000} s`);
    report.record('event-loop lag p99, worst interval', outage.maxLoopP99Ms, 'ms', `agent's own monitorEventLoopDelay, p99 per ${WATCH_INTERVAL_MS / 1000} s interval; median interval ${shown(outage.medianLoopP99Ms)} ms`);
    report.check('RSS grows ≤ 10% across the outage', '≤ 10%', `${pct(rssGrowth)} (${mb(outage.firstRssBytes)} → ${mb(outage.maxRssBytes)})`, rssGrowth <= 0.1);

    // 8 + 4 + 6. The relay returns: first ack, then the drain, counting bytes on the line.
    report.begin('8. Resume, 4. end-to-end replication and 6. wire bytes: the relay returns');
    const bytesBefore = proxy.stats.bytesToTarget;
    const drainWatch = new ProcessWatch(agentPid, `${pair.agentHttp}/metrics`);
    await drainWatch.start(WATCH_INTERVAL_MS);
    const ackedBefore = lowestAcked(piled);
    const relayStart = performance.now();
    const relayUp = pair.startRelay().then(() => performance.now());
    let firstAckAt = 0;
    await until('the first ack after the relay returned', status, (s) => s.feeds.some((f) => f.ackedSeq > piled.feeds.find((p) => p.feed === f.feed)!.ackedSeq), {
      timeoutMs: 120_000,
      pollMs: 10,
    });
    firstAckAt = performance.now();
    const relayReadyAt = await relayUp;
    await until('the backlog to drain', status, allAcked, { timeoutMs: 1_800_000, pollMs: 250 });
    const drainedAt = performance.now();
    const drainLoop = await drainWatch.stop();
    report.attach('drain', drainWatch.samples.map((sample) => ({ ...sample, rssMiB: Math.round(sample.rssBytes / 2 ** 20) })));
    const drained = piled.journal.headSeq - ackedBefore;
    const firstAckSeconds = (firstAckAt - relayStart) / 1000;
    report.record('relay start to first new ack', firstAckSeconds, 's', `relay process start-up included; ${shown((firstAckAt - relayReadyAt) / 1000)} s after it answered /healthz`);
    const e2eRate = drained / ((drainedAt - firstAckAt) / 1000);
    report.record('backlog drain, journal → relay durable ack', e2eRate, 'events/s', `${drained.toLocaleString('en-US')} events from the first ack; ${pct(e2eRate / ceilingOutage)} of the outage-mix ceiling`);
    report.record('backlog drain including reconnect', drained / ((drainedAt - relayStart) / 1000), 'events/s', 'from the relay process start');
    report.record('event-loop lag p99 while draining, worst interval', drainLoop.maxLoopP99Ms, 'ms', `median interval ${shown(drainLoop.medianLoopP99Ms)} ms`);
    report.check('First ack ≤ 8 s after the relay returns', '≤ 8 s', `${shown(firstAckSeconds)} s`, firstAckSeconds <= 8);
    const worstLoop = Math.max(outage.maxLoopP99Ms, drainLoop.maxLoopP99Ms);
    report.check('Event-loop lag p99 ≤ 50 ms throughout', '≤ 50 ms', `${shown(outage.maxLoopP99Ms)} ms piling up, ${shown(drainLoop.maxLoopP99Ms)} ms draining (worst ${WATCH_INTERVAL_MS / 1000} s interval)`, worstLoop <= 50);
    const stored = await relayEventsStored(pair.relayHttp);
    if (stored !== piled.journal.headSeq) throw new Error(`the relay stores ${stored} events, the agent journaled ${piled.journal.headSeq}`);

    const wireBytes = (proxy.stats.bytesToTarget - bytesBefore) / drained;
    const journalSample = asJournalEvents(outageSample(50_000), piled.journal.headSeq - drained + 1);
    const rawJson = rawJsonBytesPerEvent(journalSample);
    report.record('bytes on the wire per event, agent → relay', wireBytes, 'B', 'TCP payload through a counting proxy: gRPC, HTTP/2 and protobuf framing included');
    report.record('raw JSON per event', rawJson, 'B', 'the same events as vendor NDJSON lines');
    report.check('Bytes on the wire ≤ 35% of raw JSON (the line uncapped here: the capped drain is not measured yet)', '≤ 35%', `${pct(wireBytes / rawJson)} (${shown(wireBytes)} of ${shown(rawJson)} B)`, wireBytes / rawJson <= 0.35);

    // 4 (baselines). The same events, pre-encoded, over a bare grpc-js stream.
    report.begin('4. Replication baselines: bare grpc-js stream and NATS JetStream mirror');
    const baselineEvents = asJournalEvents(outageSample(BASELINE_EVENTS));
    const { batches } = await preEncodeBatches(baselineEvents, { feed: PAIR_FEED });
    const bareRuns = [];
    for (let i = 0; i < 3; i++) bareRuns.push((await measureBareGrpcStream(batches)).eventsPerSecond);
    bareRuns.sort((a, b) => a - b);
    const bareRate = report.record('bare grpc-js stream of pre-encoded batches', bareRuns[1]!, 'events/s', `median of 3, ${batches.length} batches of the agent's size and codec, acked unread`);

    // 5. NATS JetStream doing the same work on the same payloads: live (producers each
    // awaiting their PubAcks, timed until the hub's mirror holds everything) and
    // catch-up (the outage's backlog in the edge stream, a new hub mirror timed until
    // it holds it all). JetStream runs with its default file store sync, as its users
    // run it: its PubAck does not wait for fsync, Wardline's ACK does.
    report.begin('5. Like for like: NATS JetStream, edge stream mirrored to a hub over a leaf node');
    if (!existsSync(NATS_SERVER)) {
      // The peer is an installed program, not a package: say what is missing, measure the rest.
      const missing = `not measured: no nats-server at ${NATS_SERVER} (Debian: apt-get install nats-server; or set WARDLINE_NATS_SERVER)`;
      report.record('JetStream', NaN, 'events/s', missing);
      report.check('Live, like for like: Wardline ≥ 2× JetStream publish-with-ack', '≥ 2×', missing, false);
      report.check('Catch-up, like for like: backlog drain ≥ 1× the JetStream mirror', '≥ 1×', missing, false);
    } else {
      const jetStream = await JetStreamPair.start({ workDir: join(dir.path, 'nats'), syncAlways: false, serverPath: NATS_SERVER, mirrorTimeoutMs: 600_000 });
      try {
        const how = (run: JetStreamLiveResult, what: string): string =>
          `nats-server ${jetStream.serverVersion}, ${run.publishers} publishers ${what}, file storage, ${jetStream.fsyncSetting}; PubAck p50 ${shown(run.ackP50Ms)} ms, p99 ${shown(run.ackP99Ms)} ms`;
        const natsMllp = await jetStream.live({ payloads: ingestMessages.map((m) => m.bytes), subjects: ingestMessages.map((m) => m.stream), publishers: MLLP_CONNECTIONS });
        report.record('JetStream live, one message in flight per publisher, reaching the hub', natsMllp.mirroredPerSecond, 'events/s', how(natsMllp, 'each awaiting its PubAck before the next (as the MLLP senders)'));
        const rows = rowsOf(ingestPosts);
        const natsHttp = await jetStream.live({ payloads: rows.map((r) => r.payload), subjects: rows.map((r) => r.subject), publishers: HTTP_CONCURRENCY, batch: ROWS_PER_POST });
        report.record(`JetStream live, ${ROWS_PER_POST} messages in flight per publisher, reaching the hub`, natsHttp.mirroredPerSecond, 'events/s', how(natsHttp, `each publishing ${ROWS_PER_POST} and awaiting their PubAcks (as the ingest posts)`));
        const natsBacklog = await jetStream.catchUp(backlogOf(outageMessages, outagePosts));
        report.record('JetStream mirror catching up the outage backlog', natsBacklog.catchUpPerSecond, 'events/s', `${natsBacklog.messages.toLocaleString('en-US')} messages (${mb(natsBacklog.payloadBytes)}) already in the edge stream, a new hub mirror until it held them all`);
        const liveMllp = mllpLive / natsMllp.mirroredPerSecond;
        const liveHttp = httpLive / natsHttp.mirroredPerSecond;
        report.check(
          'Live, like for like: Wardline ≥ 2× JetStream publish-with-ack',
          '≥ 2×',
          `MLLP ${shown(liveMllp)}× (${shown(mllpLive)} against ${shown(natsMllp.mirroredPerSecond)} events/s), HTTP ${shown(liveHttp)}× (${shown(httpLive)} against ${shown(natsHttp.mirroredPerSecond)}); Wardline ACKs after fsync, JetStream ${jetStream.fsyncPerMessage ? 'too' : 'before it'}`,
          liveMllp >= 2 && liveHttp >= 2,
        );
        const catchUp = e2eRate / natsBacklog.catchUpPerSecond;
        report.check(
          'Catch-up, like for like: backlog drain ≥ 1× the JetStream mirror',
          '≥ 1×',
          `${shown(catchUp)}× (${shown(e2eRate)} against ${shown(natsBacklog.catchUpPerSecond)} events/s, ${drained.toLocaleString('en-US')} and ${natsBacklog.messages.toLocaleString('en-US')} events)`,
          catchUp >= 1,
        );
      } finally {
        await jetStream.stop();
      }
    }

    // The vendor's side: reading a replicated feed.
    report.begin('Vendor feed read');
    const readStart = performance.now();
    let read = 0;
    for (let cursor = 0; read < VENDOR_READ_EVENTS; ) {
      const response = await fetch(`${pair.relayHttp}/v1/feeds/${APPS_FEED}/events?after=${cursor}&limit=5000`, { headers: { authorization: `Bearer ${PAIR_VENDOR_KEY}` } });
      const lines = (await response.text()).split('\n').filter((l) => l.length > 0);
      if (lines.length === 0) break;
      read += lines.length;
      cursor = (JSON.parse(lines[lines.length - 1]!) as { seq: number }).seq;
    }
    report.record('vendor NDJSON read', read / ((performance.now() - readStart) / 1000), 'events/s', `${read.toLocaleString('en-US')} events, 5,000 per page`);

    await pair.stop();
    pair = undefined;

    // 9. PostgreSQL change capture, with its own agent, relay and server.
    await measurePostgresCapture(report, { dir: dir.path, ...CAPTURE });

    // 10. Imaging, with its own agent.
    await measureImagingIngest(report, { dir: dir.path, instances: IMAGING_INSTANCES });
    await measureImagingReplication(report, { dir: dir.path, instances: IMAGING_INSTANCES });

    // 11. The signed export, on a relay database of its own.
    await measureExport(report, { dir: dir.path, events: EXPORT_EVENTS });

    // 12. The downlink, with its own relay, agent and HIS.
    await measureDownlink(report, { dir: dir.path, ...DOWNLINK });

    // 13. The relay's feed store on PostgreSQL, on a database of its own.
    await measureRelayStore(report, { dir: dir.path, ...RELAY_STORE });
    await measureCrossProcessLiveTail(report, { batches: LIVE_TAIL_BATCHES });

    const seconds = (performance.now() - runStart) / 1000;
    const machine = describeMachine(`data on ${dir.path}`);
    process.stdout.write(report.table());
    const resultsDir = fileURLToPath(new URL('../../../test/bench/results/', import.meta.url));
    report.write(resultsDir, machine, startedAt, seconds);
    process.stdout.write(`\nwritten to ${join(resultsDir, 'latest.json')} and latest.md (${Math.round(seconds)} s)\n`);
  } finally {
    await pair?.stop().catch(() => undefined);
    await proxy?.stop().catch(() => undefined);
    dir.remove();
  }
}

const SECTIONS = ['capture', 'imaging', 'export', 'downlink', 'relay-store'] as const;
const only = SECTIONS.find((section) => section === ONLY);
if (ONLY !== undefined && only === undefined) throw new Error(`--only: expected ${SECTIONS.join(', ')}, got "${ONLY}"`);
await (only !== undefined ? sectionOnly(only) : main());

