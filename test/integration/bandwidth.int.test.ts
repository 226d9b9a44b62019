// Bandwidth control on the uplink, end to end: a real relay and a real agent in
// this process (real gRPC on 127.0.0.1:0, real SQLite files in a temp dir), fed
// through the agent's ingest API and read through the relay's vendor API.
//
//  (a) under a 200 kB/s cap with a large backlog, the achieved rate of payload
//      bytes is within 10% of the cap;
//  (b) a clinical feed pre-empts a bulk feed that saturates the cap: clinical
//      messages reach the vendor in well under a second while bulk has many
//      seconds of backlog, and a clinical burst drains while bulk gets next to
//      nothing;
//  (c) a class outside its timetable window sends nothing (node-cron, in real
//      time, with a window that opens a few seconds after the agent starts), and
//      drains once the window opens;
//  (d) with no cap and the line itself slow (a throttling TCP proxy), the cap on
//      unacknowledged bytes keeps clinical latency bounded behind a bulk backlog.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus, FeedStatus } from '../../agent/operations/agent-status.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const SECRET = 'bandwidth-hospital-secret-01';
const VENDOR_KEY = 'bandwidth-vendor-key-000001';
const HOSPITALS = ['bw-rate', 'bw-priority', 'bw-timetable', 'bw-line'];
const FEEDS = ['archive', 'clinical', 'appointments'];
const CAP_BYTES_PER_SECOND = 200_000;
const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bandwidth control on the uplink', () => {
  const dir = makeTempDir('wardline-bandwidth-');
  let relay: RelayHandle;
  let relayHttp: string;
  const agents: RunningAgent[] = [];
  const proxies: FaultProxy[] = [];

  beforeAll(async () => {
    writeFileSync(
      join(dir.path, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [${HOSPITALS.map((id) => `{ id: ${id}, secret: "${SECRET}" }`).join(', ')}]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [${HOSPITALS.map((id) => `{ hospital: ${id}, feeds: [${FEEDS.join(', ')}] }`).join(', ')}] }]
log: { level: silent }
`,
    );
    relay = await startRelay(join(dir.path, 'relay.yaml'), { logger: quiet });
    relayHttp = `http://127.0.0.1:${relay.httpPort}`;
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(proxies.map((p) => p.stop()));
    await relay?.stop();
    dir.remove();
  });

  /** An agent of its own hospital (so the relay's high-water marks start at 0), from a YAML file. */
  async function agentFor(hospital: string, feeds: string, bandwidth: string, relayAddress = `127.0.0.1:${relay.grpcPort}`): Promise<{ agent: RunningAgent; http: string }> {
    const file = join(dir.path, `${hospital}.yaml`);
    writeFileSync(
      file,
      `hospital: { id: ${hospital} }
dataDir: ./${hospital}-data
http: { listen: "127.0.0.1:0" }
relays: [{ name: cloud, address: "${relayAddress}", secret: "${SECRET}", allowPlaintext: true }]
feeds:
${feeds}
bandwidth:
${bandwidth}
replication: { backoff: { initialMs: 100, maxMs: 500 } }
log: { level: silent }
`,
    );
    const agent = await startAgent(file, { logger: quiet });
    agents.push(agent);
    return { agent, http: `http://127.0.0.1:${agent.httpPort}` };
  }

  /** Posts rows with incompressible bodies (random base64) so payload bytes track body bytes. */
  async function ingest(http: string, stream: string, rows: number, bodyBytes: number, prefix: string): Promise<number[]> {
    const response = await fetch(`${http}/v1/ingest/${stream}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: rows }, (_, i) => ({ key: `${prefix}-${i}`, blob: randomBytes(Math.ceil((bodyBytes * 3) / 4)).toString('base64') }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  }

  const feedOf = (status: AgentStatus, name: string): FeedStatus => status.feeds.find((f) => f.feed === name)!;

  /** Whether the vendor can read the event with this seq from the feed of a hospital. */
  async function visible(hospital: string, feed: string, seq: number): Promise<boolean> {
    const response = await fetch(`${relayHttp}/v1/feeds/${feed}/events?after=${seq - 1}&limit=1&hospital=${hospital}`, {
      headers: { authorization: `Bearer ${VENDOR_KEY}` },
    });
    const text = await response.text();
    // Seqs are the journal's, shared with other feeds: seq - 1 may still be past this feed's head.
    if (response.status === 409 && (JSON.parse(text) as { error: { code: string } }).error.code === 'WL_CURSOR_AHEAD') return false;
    if (!response.ok) throw new Error(`feed read failed: HTTP ${response.status} ${text}`);
    return text.split('\n').some((line) => line.length > 0 && (JSON.parse(line) as { seq: number }).seq === seq);
  }

  /** Ingests `count` small clinical messages, one every `gapMs`; returns each one's ingest-to-vendor latency, in ms. */
  async function clinicalLatencies(hospital: string, http: string, count: number, gapMs: number): Promise<number[]> {
    const latencies: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = Date.now();
      const [seq] = await ingest(http, 'adt', 1, 300, `adt-${i}`);
      while (!(await visible(hospital, 'clinical', seq!))) await sleep(5);
      latencies.push(Date.now() - started);
      await sleep(gapMs);
    }
    return latencies;
  }

  const describeLatencies = (latencies: number[]) => {
    const sorted = [...latencies].sort((x, y) => x - y);
    return { median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]!, text: `median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms (${latencies.join(', ')} ms)` };
  };

  it('holds the achieved rate within 10% of a 200 kB/s cap while a large backlog drains', async () => {
    const { agent, http } = await agentFor('bw-rate', '  - { name: archive, relay: cloud, streams: [imaging], class: bulk }', `  rate: 200kB/s`);
    // ~4 MB of incompressible rows: far more than the measurement can drain.
    for (let i = 0; i < 4; i++) await ingest(http, 'imaging', 500, 2000, `img-${i}`);
    await sleep(1500);

    const samples: { atMs: number; bytes: number }[] = [];
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      samples.push({ atMs: Date.now(), bytes: feedOf(agent.status(), 'archive').bytesSent });
      await sleep(50);
    }
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    const achieved = ((last.bytes - first.bytes) * 1000) / (last.atMs - first.atMs);
    const status = agent.status();
    const archive = feedOf(status, 'archive');
    console.log(
      `[bandwidth] cap ${CAP_BYTES_PER_SECOND} B/s: achieved ${Math.round(achieved)} B/s (${((achieved / CAP_BYTES_PER_SECOND) * 100).toFixed(1)}%) over ${((last.atMs - first.atMs) / 1000).toFixed(1)} s;` +
        ` status rate ${Math.round(archive.rateBytesPerSecond)} B/s, eta ${archive.etaSeconds?.toFixed(1)} s, backlog ${archive.backlog.events} events`,
    );
    expect(achieved).toBeGreaterThanOrEqual(0.9 * CAP_BYTES_PER_SECOND);
    expect(achieved).toBeLessThanOrEqual(1.1 * CAP_BYTES_PER_SECOND);
    expect(status.bandwidth).toMatchObject({ rateLimitBytesPerSecond: CAP_BYTES_PER_SECOND, windowsInForce: [], blockedClasses: [], nextChange: null });
    expect(archive.class).toBe('bulk');
    expect(archive.rateBytesPerSecond).toBeGreaterThan(0.8 * CAP_BYTES_PER_SECOND);
    expect(archive.rateBytesPerSecond).toBeLessThan(1.2 * CAP_BYTES_PER_SECOND);
    expect(archive.backlog.events).toBeGreaterThan(0);
    expect(archive.etaSeconds).toBeGreaterThan(0);
    // The limit is scraped as a gauge too.
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toMatch(/^wardline_agent_bandwidth_limit_bytes_per_second 200000$/m);
  });

  it('lets clinical messages pre-empt a bulk feed that saturates the cap', async () => {
    const { agent, http } = await agentFor(
      'bw-priority',
      `  - { name: archive, relay: cloud, streams: [imaging], class: bulk }
  - { name: clinical, relay: cloud, streams: [adt], class: clinical }`,
      `  rate: 200kB/s`,
    );
    for (let i = 0; i < 4; i++) await ingest(http, 'imaging', 500, 2000, `img-${i}`);
    // The precondition: the bulk feed fills the cap (on a loaded machine it takes longer to get there).
    await until('the bulk feed to saturate the cap', () => feedOf(agent.status(), 'archive').rateBytesPerSecond, (rate) => rate > 0.7 * CAP_BYTES_PER_SECOND, { timeoutMs: 10_000, pollMs: 250 });
    const bulkBefore = feedOf(agent.status(), 'archive');
    const bulkDrainSeconds = bulkBefore.backlog.bytes / CAP_BYTES_PER_SECOND;
    expect(bulkBefore.rateBytesPerSecond).toBeGreaterThan(0.7 * CAP_BYTES_PER_SECOND);

    // 1. Single clinical messages, one every 300 ms: time from ingest to readable by the vendor.
    const latencies = describeLatencies(await clinicalLatencies('bw-priority', http, 10, 300));
    console.log(
      `[bandwidth] clinical end-to-end latency while bulk saturates ${CAP_BYTES_PER_SECOND} B/s (bulk backlog ≈ ${bulkDrainSeconds.toFixed(0)} s at the cap): ${latencies.text}`,
    );
    // Pre-empted: without priority a clinical message would wait behind the whole
    // bulk backlog. The bound is relative to that wait, not a wall-clock limit, so a
    // loaded CI machine cannot fail it by being slow.
    expect(bulkDrainSeconds).toBeGreaterThan(10);
    expect(latencies.max).toBeLessThan((bulkDrainSeconds * 1000) / 5);

    // 2. A clinical burst of ~1.5 s at the cap: it drains first, bulk waits.
    const startStatus = agent.status();
    const burstStarted = Date.now();
    const seqs = await ingest(http, 'adt', 150, 2000, 'adt-burst');
    const lastSeq = seqs[seqs.length - 1]!;
    let status = agent.status();
    while (feedOf(status, 'clinical').ackedSeq < lastSeq && Date.now() - burstStarted < 15_000) {
      await sleep(20);
      status = agent.status();
    }
    const burstSeconds = (Date.now() - burstStarted) / 1000;
    const clinicalBytes = feedOf(status, 'clinical').bytesSent - feedOf(startStatus, 'clinical').bytesSent;
    const bulkBytes = feedOf(status, 'archive').bytesSent - feedOf(startStatus, 'archive').bytesSent;
    console.log(
      `[bandwidth] clinical burst of ${clinicalBytes} payload bytes drained in ${burstSeconds.toFixed(2)} s ` +
        `(${Math.round(clinicalBytes / burstSeconds)} B/s); bulk sent ${bulkBytes} bytes meanwhile (${((bulkBytes / (clinicalBytes + bulkBytes)) * 100).toFixed(1)}% of the line)`,
    );
    expect(feedOf(status, 'clinical').ackedSeq).toBeGreaterThanOrEqual(lastSeq);
    // Pre-empted: bulk has far more ready to send, so without priority it would take
    // at least half the line. On an idle machine it gets ~0%; the bound leaves room
    // for a CPU-starved clinical pump on a loaded CI machine, not for lost priority.
    expect(bulkBytes / (clinicalBytes + bulkBytes)).toBeLessThan(0.35);
    expect(clinicalBytes / burstSeconds).toBeGreaterThan(0.5 * CAP_BYTES_PER_SECOND);
    expect(feedOf(status, 'archive').backlog.events).toBeGreaterThan(0);
  });

  it('sends nothing of a class outside its timetable window, then drains it once the window opens', async () => {
    // A window opening 4 s from now, in UTC, lasting an hour (it may cross midnight: that works too).
    const opensAtMs = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const hms = (ms: number) => new Date(ms).toISOString().slice(11, 19);
    const { agent, http } = await agentFor(
      'bw-timetable',
      `  - { name: archive, relay: cloud, streams: [imaging], class: bulk }
  - { name: appointments, relay: cloud, streams: [appointments] }`,
      `  rate: 2MB/s
  timezone: UTC
  timetable:
    - { name: night, classes: [bulk], allow: true, from: "${hms(opensAtMs)}", to: "${hms(opensAtMs + 3_600_000)}" }`,
    );
    const bulkSeqs = await ingest(http, 'imaging', 200, 500, 'img');
    const standardSeqs = await ingest(http, 'appointments', 10, 200, 'apt');

    // The standard feed is not held back.
    const deadline = Date.now() + 3000;
    while (!(await visible('bw-timetable', 'appointments', standardSeqs[9]!)) && Date.now() < deadline) await sleep(20);
    expect(await visible('bw-timetable', 'appointments', standardSeqs[9]!)).toBe(true);

    const before = agent.status();
    expect(before.bandwidth).toMatchObject({
      windowsInForce: [],
      blockedClasses: ['bulk'],
      blockedReasons: { bulk: 'may send only during night' },
      nextChange: { atMs: opensAtMs, description: 'night begins' },
      timezone: 'UTC',
    });
    expect(feedOf(before, 'archive')).toMatchObject({ blocked: 'may send only during night', etaSeconds: null, eventsSent: 0, ackedSeq: 0 });
    // Until the window opens, not one bulk event reaches the relay.
    while (Date.now() < opensAtMs - 300) {
      expect(await visible('bw-timetable', 'archive', bulkSeqs[0]!)).toBe(false);
      await sleep(100);
    }

    // node-cron re-evaluates at the boundary; the backlog drains.
    let firstVisibleAtMs: number | undefined;
    while (Date.now() < opensAtMs + 10_000) {
      if (firstVisibleAtMs === undefined && (await visible('bw-timetable', 'archive', bulkSeqs[0]!))) firstVisibleAtMs = Date.now();
      if (feedOf(agent.status(), 'archive').ackedSeq >= bulkSeqs[199]!) break;
      await sleep(20);
    }
    const after = agent.status();
    console.log(`[bandwidth] window opened at ${new Date(opensAtMs).toISOString()}; first bulk event visible ${firstVisibleAtMs! - opensAtMs} ms later`);
    expect(firstVisibleAtMs).toBeGreaterThanOrEqual(opensAtMs);
    expect(feedOf(after, 'archive').blocked).toBeNull();
    expect(feedOf(after, 'archive').ackedSeq).toBeGreaterThanOrEqual(bulkSeqs[199]!);
    expect(after.bandwidth).toMatchObject({ windowsInForce: ['night'], blockedClasses: [], nextChange: { atMs: opensAtMs + 3_600_000, description: 'night ends' } });
  });

  it('keeps clinical latency bounded by the in-flight cap when the line itself, not the cap, is the bottleneck', async () => {
    const LINE_BYTES_PER_SECOND = 200_000;
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: relay.grpcPort } });
    proxies.push(proxy);
    proxy.throttle(LINE_BYTES_PER_SECOND);
    const { agent, http } = await agentFor(
      'bw-line',
      `  - { name: archive, relay: cloud, streams: [imaging], class: bulk }
  - { name: clinical, relay: cloud, streams: [adt], class: clinical }`,
      `  rate: unlimited
  maxInFlightBytes: 64KiB`,
      proxy.address,
    );
    for (let i = 0; i < 3; i++) await ingest(http, 'imaging', 500, 2000, `img-${i}`);
    await sleep(2000);
    const bulk = feedOf(agent.status(), 'archive');
    const bulkDrainSeconds = bulk.backlog.bytes / LINE_BYTES_PER_SECOND;
    const latencies = describeLatencies(await clinicalLatencies('bw-line', http, 6, 300));
    const status = agent.status();
    console.log(
      `[bandwidth] line throttled to ${LINE_BYTES_PER_SECOND} B/s, no cap, 64 KiB in flight at most: bulk achieved ${Math.round(feedOf(status, 'archive').rateBytesPerSecond)} B/s ` +
        `(backlog ≈ ${bulkDrainSeconds.toFixed(0)} s); clinical latency ${latencies.text}`,
    );
    expect(bulkDrainSeconds).toBeGreaterThan(10);
    // 64 KiB ahead of it at 200 kB/s is about a third of a second; the bound is a
    // fraction of the bulk backlog's wait, so only a lost pre-emption fails it.
    expect(latencies.max).toBeLessThan((bulkDrainSeconds * 1000) / 5);
    expect(status.bandwidth).toMatchObject({ rateLimitBytesPerSecond: null, maxInFlightBytes: 64 * 1024 });
    expect(feedOf(status, 'archive').rateBytesPerSecond).toBeGreaterThan(0.6 * LINE_BYTES_PER_SECOND);
  });
});
