// Memory and event-loop exhaustion at the relay by one vendor key, against a real
// relay process: full feed pages asked for and never read (each used to be held
// whole in relay memory, with no timeout), and thousands of follow subscriptions
// on one key (each a store read on every batch). Figures are printed: relay RSS
// from /proc/<pid>/status, and GET /healthz latency.
import { spawn, type ChildProcess } from 'node:child_process';
import { status as Status } from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeBatch, makeEvents, type Subscription } from '../integration/relay-harness.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { RH_FEED, RH_NEIGHBOUR_KEY, RH_READER_KEY, SeededRelay, healthzMs, jsonEvent, relayDir } from '../support/seeded-relay.js';

const MB = 1024 * 1024;
/** 10,000 rows of ~1 KiB: a page with limit=10000 is cut at the relay's 8 MiB page size, a "full page". */
const FULL_FEED = Array.from({ length: 10_000 }, (_, i) => jsonEvent(i + 1, 1024));
const FULL_PAGE = `/v1/feeds/${RH_FEED}/events?after=0&limit=10000`;

describe('relay HTTP/feeds: one key cannot exhaust the relay', () => {
  const dir = makeTempDir('wardline-relay-exhaust-');
  afterAll(() => dir.remove());
  let relay: SeededRelay | undefined;

  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
  });

  it('holds 40 unread full pages in bounded memory: the key gets its bound of reads, the rest 429 with Retry-After', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'pages'), { events: FULL_FEED });
    const { before, peak, answers } = await unreadFullPages(relay, 40);
    const served = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    console.log(`relay RSS: ${(before / MB).toFixed(0)} MB before 40 unread full pages, ${(peak / MB).toFixed(0)} MB peak with them open (+${((peak - before) / MB).toFixed(0)} MB); ${served} served, ${refused.length} refused with 429`);

    expect(served).toBe(8); // feedLimits.concurrentReadsPerKey default
    expect(refused).toHaveLength(32);
    expect(refused[0]!.head).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(peak - before).toBeLessThan(120 * MB);

    // Another vendor is not held up by the reader's bound.
    const neighbour = await fetch(`${relay.httpBase}${FULL_PAGE}`, { headers: { authorization: `Bearer ${RH_NEIGHBOUR_KEY}` } });
    expect(neighbour.status).toBe(200);
    expect((await neighbour.text()).split('\n').length).toBeGreaterThan(7000);
  });

  it('streams each page: with the bound raised to 40, all 40 unread full pages are served and relay memory stays bounded', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'streamed'), { events: FULL_FEED, config: { feedLimits: { concurrentReadsPerKey: 40 } } });
    const { before, peak, answers } = await unreadFullPages(relay, 40);
    console.log(`relay RSS, 40 unread full pages all served: ${(before / MB).toFixed(0)} MB before, ${(peak / MB).toFixed(0)} MB peak (+${((peak - before) / MB).toFixed(0)} MB)`);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(peak - before).toBeLessThan(120 * MB);
  });

  it('cuts a response its client stops reading after stalledResponseMs, and frees the key\'s read for the next request', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'stall'), {
      events: FULL_FEED,
      config: { feedLimits: { concurrentReadsPerKey: 1, stalledResponseMs: 1_000 } },
    });
    const stalled = await relay.unreadRequest(FULL_PAGE, RH_READER_KEY);
    expect(stalled.status).toBe(200);
    // While it is held, the key's one read is taken: a JSON 429 naming the bound.
    const second = await fetch(`${relay.httpBase}${FULL_PAGE}`, { headers: { authorization: `Bearer ${RH_READER_KEY}` } });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(((await second.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: 'WL_TOO_MANY_REQUESTS',
      message: expect.stringContaining('feedLimits.concurrentReadsPerKey'),
    });
    // The relay cuts the stalled response; the client sees the page truncated.
    const received = await new Promise<number>((resolve) => {
      let bytes = 0;
      setTimeout(() => {
        stalled.socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
        stalled.socket.once('close', () => resolve(bytes));
        stalled.socket.resume();
      }, 2_500);
    });
    expect(received).toBeLessThan(7 * MB);
    const after = await fetch(`${relay.httpBase}${FULL_PAGE}`, { headers: { authorization: `Bearer ${RH_READER_KEY}` } });
    expect(after.status).toBe(200);
    expect((await after.text()).length).toBeGreaterThan(7 * MB);
  });

  it('ends a gRPC replay its vendor stops reading with UNAVAILABLE (WL_STALLED_RESPONSE), freeing the key\'s read', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'grpc-stall'), {
      events: FULL_FEED,
      config: { feedLimits: { concurrentReadsPerKey: 1, stalledResponseMs: 1_000 } },
    });
    const client = relay.feedsClient();
    const stalled = relay.subscribe(client, RH_READER_KEY, { feed: RH_FEED });
    await stalled.next(10_000);
    stalled.call.pause();
    const second = await relay.subscribe(client, RH_READER_KEY, { feed: RH_FEED }).status;
    expect(second.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(second.details).toMatch(/^WL_TOO_MANY_REQUESTS: .*feedLimits\.concurrentReadsPerKey/);

    await new Promise((r) => setTimeout(r, 2_500));
    let received = 1 + stalled.pending;
    stalled.call.on('data', () => (received += 1));
    stalled.call.resume();
    const status = await stalled.status;
    expect(status.code).toBe(Status.UNAVAILABLE);
    expect(status.details).toMatch(/^WL_STALLED_RESPONSE: /);
    expect(received).toBeLessThan(FULL_FEED.length);
    const after = relay.subscribe(client, RH_READER_KEY, { feed: RH_FEED, after: 9_999 });
    expect(Number((await after.next(10_000)).event!.seq)).toBe(10_000);
    expect((await after.status).code).toBe(Status.OK);
  });

  it('refuses follow subscriptions past the key\'s bound with RESOURCE_EXHAUSTED; /healthz stays fast while they open and batches land', async () => {
    relay = await SeededRelay.start(relayDir(dir.path, 'follow'), { events: makeEvents(1, 1) });
    const idle = await healthzMs(relay.httpBase);
    const sampler = new HealthSampler(relay.httpBase);
    await sampler.ready;

    const client = relay.feedsClient();
    const subscriptions: Subscription[] = Array.from({ length: 2_000 }, () => relay!.subscribe(client, RH_READER_KEY, { feed: RH_FEED, follow: true }));
    let refused = 0;
    let following = 0;
    for (const s of subscriptions) {
      s.status.then((status) => {
        if (status.code === Status.RESOURCE_EXHAUSTED && status.details.startsWith('WL_TOO_MANY_REQUESTS')) refused += 1;
      }, () => {});
      s.next(60_000).then(() => void (following += 1), () => {});
    }
    await until('every subscription answered', () => refused + following, (n) => n === 2_000, { timeoutMs: 60_000 });
    const opening = sampler.phase();

    // Batches land while the subscriptions are open: each wakes every live tail.
    const agent = await relay.agent();
    const acks: number[] = [];
    for (let seq = 2; seq <= 501; seq += 10) {
      const sent = performance.now();
      agent.sendBatch(makeBatch(RH_FEED, seq, seq + 9));
      expect((await agent.next(60_000)).body).toBe('ack');
      acks.push(performance.now() - sent);
    }
    const landing = sampler.phase();
    acks.sort((a, b) => a - b);
    sampler.stop();
    console.log(
      `follow subscriptions on one key: ${following} open, ${refused} refused; /healthz ${idle.toFixed(1)} ms idle; ` +
        `while 2,000 opened: ${opening.describe}; while 50 batches landed: ${landing.describe}; ` +
        `batch ACK median ${acks[25]!.toFixed(1)} ms, worst ${acks[49]!.toFixed(1)} ms`,
    );

    expect(following).toBe(64); // feedLimits.followSubscriptionsPerKey default
    expect(refused).toBe(2_000 - 64);
    expect(Math.max(opening.worst, landing.worst)).toBeLessThan(1_000);
    // Another vendor still subscribes.
    const neighbour = relay.subscribe(relay.feedsClient(), RH_NEIGHBOUR_KEY, { feed: RH_FEED, follow: true });
    expect((await neighbour.next(10_000)).event?.seq).toBeDefined();
    for (const s of subscriptions) s.call.cancel();
    neighbour.call.cancel();
  }, 120_000);
});

/**
 * Reads one full page to the end (so code loading is not measured), then asks
 * for `count` full pages with the reader key and never reads them; the relay's
 * RSS before, and its peak over the next 3 s.
 */
async function unreadFullPages(relay: SeededRelay, count: number) {
  const warm = await fetch(`${relay.httpBase}${FULL_PAGE}`, { headers: { authorization: `Bearer ${RH_NEIGHBOUR_KEY}` } });
  expect((await warm.text()).length).toBeGreaterThan(7 * MB);
  await new Promise((r) => setTimeout(r, 500));
  const before = relay.rssBytes();
  const answers = await Promise.all(Array.from({ length: count }, () => relay.unreadRequest(FULL_PAGE, RH_READER_KEY)));
  let peak = relay.rssBytes();
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 300));
    peak = Math.max(peak, relay.rssBytes());
  }
  return { before, peak, answers };
}

/**
 * GET /healthz one after another from a child process (this process is busy
 * driving 2,000 gRPC calls, which would show in its own timings); phase() takes
 * the latencies since the last phase.
 */
class HealthSampler {
  private latencies: number[] = [];
  private readonly child: ChildProcess;
  private buffered = '';

  constructor(httpBase: string) {
    // The first fetch of a fresh process loads undici (hundreds of ms on a busy machine): not timed.
    const script = `(async () => { const url = ${JSON.stringify(`${httpBase}/healthz`)}; await (await fetch(url)).text(); console.log('ready'); for (;;) { const t = performance.now(); try { await (await fetch(url)).text(); } catch { process.exit(0); } console.log(performance.now() - t); } })()`;
    this.child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (this.buffered + chunk.toString()).split('\n');
      this.buffered = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') this.onReady();
        else this.latencies.push(Number(line));
      }
    });
    this.ready = new Promise((resolve) => (this.onReady = resolve));
  }

  /** Resolves once the child's first (untimed) check is done. */
  readonly ready: Promise<void>;
  private onReady: () => void = () => {};

  phase(): { median: number; p90: number; worst: number; describe: string } {
    const sorted = this.latencies.sort((a, b) => a - b);
    this.latencies = [];
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    const result = { median: at(0.5), p90: at(0.9), worst: sorted[sorted.length - 1] ?? 0 };
    return { ...result, describe: `median ${result.median.toFixed(1)} ms, p90 ${result.p90.toFixed(1)} ms, worst ${result.worst.toFixed(1)} ms (${sorted.length} checks)` };
  }

  stop(): void {
    this.child.kill('SIGTERM');
  }
}
