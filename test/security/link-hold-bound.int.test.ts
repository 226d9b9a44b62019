// How long a clinical message can wait behind bulk when the real line is slower
// than the configured cap (the README's bound: about maxInFlightBytes / the line's
// real rate). A real relay and agent (in process), the agent dialling through a
// throttling FaultProxy: cap 400 kB/s, the default in-flight cap (one second of
// the rate: 400 kB), the line at half the cap (200 kB/s), so the bound is 2 s.
// The feed pump used to hold a clinical feed's new events until its previous
// batch was acked, which on a slow line costs one more trip through the queue
// (measured p50 2.35 s, max 3.0 s before).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/agent-status.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { makeTempDir } from '../support/temp-dir.js';

const SECRET = 'hold-bound-hospital-secret-01';
const VENDOR_KEY = 'hold-bound-vendor-key-000001';
const CAP_BYTES_PER_SECOND = 400_000;
const LINE_BYTES_PER_SECOND = CAP_BYTES_PER_SECOND / 2;
/** The default in-flight cap: one second of the rate in force. */
const IN_FLIGHT_BYTES = CAP_BYTES_PER_SECOND;
const BOUND_MS = (IN_FLIGHT_BYTES / LINE_BYTES_PER_SECOND) * 1000;
const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('clinical wait behind bulk on a line slower than the cap', () => {
  const dir = makeTempDir('wardline-hold-bound-');
  let relay: RelayHandle;
  let agent: RunningAgent;
  let proxy: FaultProxy;
  let http: string;

  beforeAll(async () => {
    writeFileSync(
      join(dir.path, 'relay.yaml'),
      `dataDir: ./relay-data
grpc: { listen: "127.0.0.1:0" }
http: { listen: "127.0.0.1:0" }
allowPlaintext: true
hospitals: [{ id: hold-bound, secret: "${SECRET}" }]
vendors: [{ name: vendor, key: "${VENDOR_KEY}", grants: [{ hospital: hold-bound, feeds: [archive, clinical] }] }]
log: { level: silent }
`,
    );
    relay = await startRelay(join(dir.path, 'relay.yaml'), { logger: quiet });
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: relay.grpcPort } });
    proxy.throttle(LINE_BYTES_PER_SECOND);
    writeFileSync(
      join(dir.path, 'agent.yaml'),
      `hospital: { id: hold-bound }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
relays: [{ name: cloud, address: "${proxy.address}", secret: "${SECRET}", allowPlaintext: true }]
feeds:
  - { name: archive, relay: cloud, streams: [imaging], class: bulk }
  - { name: clinical, relay: cloud, streams: [adt], class: clinical }
bandwidth:
  rate: ${CAP_BYTES_PER_SECOND}B/s
replication: { backoff: { initialMs: 100, maxMs: 500 } }
log: { level: silent }
`,
    );
    agent = await startAgent(join(dir.path, 'agent.yaml'), { logger: quiet });
    http = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    await proxy?.stop();
    await relay?.stop();
    dir.remove();
  });

  /** Posts rows with incompressible bodies so payload bytes track body bytes; returns their seqs. */
  async function ingest(stream: string, rows: number, bodyBytes: number, prefix: string): Promise<number[]> {
    const response = await fetch(`${http}/v1/ingest/${stream}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: rows }, (_, i) => ({ key: `${prefix}-${i}`, blob: randomBytes(Math.ceil((bodyBytes * 3) / 4)).toString('base64') }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  }

  async function visible(seq: number): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${relay.httpPort}/v1/feeds/clinical/events?after=${seq - 1}&limit=1`, { headers: { authorization: `Bearer ${VENDOR_KEY}` } });
    const text = await response.text();
    return text.split('\n').some((line) => line.length > 0 && (JSON.parse(line) as { seq: number }).seq === seq);
  }

  it(`keeps a clinical message's wait within about maxInFlightBytes / line rate (${BOUND_MS / 1000} s)`, async () => {
    // ~6 MB of bulk: ~30 s at the line's rate, far more than the measurement takes.
    for (let i = 0; i < 6; i++) await ingest('imaging', 500, 2000, `img-${i}`);
    await sleep(3000);
    // A steady clinical stream (4 a second), so new messages arrive while the feed's previous batch is on its way.
    const pending: Promise<number>[] = [];
    for (let i = 0; i < 16; i++) {
      const started = Date.now();
      const [seq] = await ingest('adt', 1, 300, `adt-${i}`);
      pending.push(
        (async () => {
          while (!(await visible(seq!))) await sleep(10);
          return Date.now() - started;
        })(),
      );
      await sleep(Math.max(0, started + 250 - Date.now()));
    }
    const latencies = await Promise.all(pending);
    const sorted = [...latencies].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)]!;
    const max = sorted.at(-1)!;
    const status = agent.status() as AgentStatus;
    const archive = status.feeds.find((f) => f.feed === 'archive')!;
    console.log(
      `[hold bound] cap ${CAP_BYTES_PER_SECOND} B/s, line ${LINE_BYTES_PER_SECOND} B/s, ${IN_FLIGHT_BYTES} B in flight at most (bound ${BOUND_MS} ms): ` +
        `clinical wait p50 ${p50} ms, max ${max} ms (${latencies.join(', ')}); bulk achieved ${Math.round(archive.rateBytesPerSecond)} B/s, backlog ${archive.backlog.bytes} B`,
    );
    // Bulk still queued at the end: every clinical message had the in-flight cap's worth of bulk ahead of it.
    expect(archive.backlog.bytes).toBeGreaterThan(IN_FLIGHT_BYTES);
    expect(p50).toBeLessThanOrEqual(BOUND_MS * 1.1);
    expect(max).toBeLessThanOrEqual(BOUND_MS * 1.25);
  }, 120_000);
});
