// How long a clinical message can wait behind bulk when the real line is slower
// than the configured cap (the bound agent.yaml states: about maxInFlightBytes /
// the line's real rate). A relay and an agent as real processes, the agent
// dialling through a throttling FaultProxy: cap 400 kB/s, the default in-flight
// cap (one second of the rate: 400 kB), the line at half the cap (200 kB/s), so
// the bound is 2 s. The feed pump used to hold a feed's new events until its
// previous batch was acked, which on a slow line is one more trip through the
// whole queue (measured before: p50 2.39 s, max 2.92 s).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxiedPair, type ProxiedPair } from '../support/link-proxied-pair.js';
import { PAIR_FEED, PAIR_VENDOR_KEY } from '../support/wardline-pair.js';

const CAP_BYTES_PER_SECOND = 400_000;
const LINE_BYTES_PER_SECOND = CAP_BYTES_PER_SECOND / 2;
/** The default in-flight cap: one second of the rate in force. */
const IN_FLIGHT_BYTES = CAP_BYTES_PER_SECOND;
const BOUND_MS = (IN_FLIGHT_BYTES / LINE_BYTES_PER_SECOND) * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a feed waiting behind bulk on a line slower than the cap', () => {
  let line: ProxiedPair;

  beforeAll(async () => {
    line = await startProxiedPair(
      'hold-bound',
      { extraFeeds: [{ name: 'archive', streams: ['imaging'], class: 'bulk' }], agentSections: { bandwidth: { rate: `${CAP_BYTES_PER_SECOND}B/s` } } },
      (proxy) => proxy.throttle(LINE_BYTES_PER_SECOND),
    );
  });

  afterAll(async () => {
    await line?.stop();
  });

  /** Posts rows with incompressible bodies so payload bytes track body bytes; returns their seqs. */
  async function ingest(stream: string, rows: number, bodyBytes: number, prefix: string): Promise<number[]> {
    const response = await fetch(`${line.pair.agentHttp}/v1/ingest/${stream}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: rows }, (_, i) => ({ key: `${prefix}-${i}`, blob: randomBytes(Math.ceil((bodyBytes * 3) / 4)).toString('base64') }))),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { seqs: number[] }).seqs;
  }

  async function visible(seq: number): Promise<boolean> {
    const response = await fetch(`${line.pair.relayHttp}/v1/feeds/${PAIR_FEED}/events?after=${seq - 1}&limit=1`, { headers: { authorization: `Bearer ${PAIR_VENDOR_KEY}` } });
    const text = await response.text();
    return text.split('\n').some((row) => row.length > 0 && (JSON.parse(row) as { seq: number }).seq === seq);
  }

  it(`keeps a message's wait within about maxInFlightBytes / line rate (${BOUND_MS / 1000} s)`, async () => {
    // ~6 MB of bulk: ~30 s at the line's rate, far more than the measurement takes.
    for (let i = 0; i < 24; i++) await ingest('imaging', 125, 2000, `img-${i}`);
    await sleep(3000);
    // A steady stream (4 a second), so new messages arrive while the feed's previous batch is on its way.
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
    const archive = (await line.pair.agentStatus()).feeds.find((f) => f.feed === 'archive')!;
    console.log(
      `[hold bound] cap ${CAP_BYTES_PER_SECOND} B/s, line ${LINE_BYTES_PER_SECOND} B/s, ${IN_FLIGHT_BYTES} B in flight at most (bound ${BOUND_MS} ms): ` +
        `wait p50 ${p50} ms, max ${max} ms (${latencies.join(', ')}); bulk achieved ${Math.round(archive.rateBytesPerSecond)} B/s, backlog ${archive.backlog.bytes} B`,
    );
    // Bulk still queued at the end: every message had the in-flight cap's worth of bulk ahead of it.
    expect(archive.backlog.bytes).toBeGreaterThan(IN_FLIGHT_BYTES);
    expect(p50).toBeLessThanOrEqual(BOUND_MS * 1.1);
    expect(max).toBeLessThanOrEqual(BOUND_MS * 1.25);
  }, 120_000);
});
