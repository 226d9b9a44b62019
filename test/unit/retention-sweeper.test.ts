// The retention sweeper on a real relay.db (SqliteFeedStore): first sweep soon
// after start, then every sweepIntervalMs; one log line per feed that lost
// events; never two sweeps at once; a store fault is logged and retried at the
// next interval; stop() waits for the sweep in progress. The status document
// and the Prometheus exposition show the rule, floor and removed counts.
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetentionConfig, retentionLimitsFor, RetentionSweeper } from '../../cloud-relay/retention/index.js';
import { buildRelayStatus, registerRelayStatusMetrics, renderRelayStatusPage } from '../../cloud-relay/status/index.js';
import { SqliteFeedStore, type FeedStore } from '../../cloud-relay/store/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';

const MINUTE = 60_000;

function event(seq: number, bytes = 100): JournalEvent {
  return { seq, stream: 'adt', key: `P${seq}`, op: 'upsert', tsMs: 1_000 + seq, source: 'test', contentType: 'hl7v2', body: Buffer.alloc(bytes, 0x61), headers: {} };
}

async function store(s: FeedStore, hospital: string, feed: string, firstSeq: number, lastSeq: number, bytes = 100): Promise<void> {
  const events = [];
  for (let seq = firstSeq; seq <= lastSeq; seq++) events.push(event(seq, bytes));
  await s.storeBatch({ hospital, feed, firstSeq, lastSeq, events });
}

interface Logged {
  level: number;
  msg: string;
  [key: string]: unknown;
}

describe('retention sweeper', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let timers: ManualTimers;
  let feeds: SqliteFeedStore;
  let logs: Logged[];
  const logger = () => pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Logged) });

  beforeEach(() => {
    dir = makeTempDir('wardline-retention-');
    timers = new ManualTimers();
    feeds = SqliteFeedStore.open({ file: join(dir.path, 'relay.db'), now: timers.clock });
    logs = [];
  });
  afterEach(async () => {
    await feeds.close();
    dir.remove();
  });

  it('sweeps soon after start and then every interval, by age and by size, logging one line per feed that lost events', async () => {
    // h1/adt: 10 events received at t0, 10 more 30 minutes later; h1/lab: 20 events of 100 bytes.
    await store(feeds, 'h1', 'adt', 1, 10);
    await store(feeds, 'h1', 'lab', 1, 20);
    await store(feeds, 'h2', 'adt', 1, 5);
    timers.advance(30 * MINUTE);
    await store(feeds, 'h1', 'adt', 11, 20);
    const config = RetentionConfig.parse({
      sweepIntervalMs: '10m',
      feeds: [
        { hospital: 'h1', feed: 'adt', maxAge: '20m' },
        { feed: 'lab', maxBytes: 1_000 },
      ],
    });
    const sweeper = new RetentionSweeper({ store: feeds, config, logger: logger(), now: timers.clock, timers });
    sweeper.start();
    await timers.whenArmed();
    timers.advance(5_000);
    await until(() => sweeper.status().lastSweepAtMs !== null);

    expect(await feeds.feedRange('h1', 'adt')).toMatchObject({ retentionFloorSeq: 10, oldestSeq: 11, highWater: 20 });
    expect(await feeds.feedRange('h1', 'lab')).toMatchObject({ retentionFloorSeq: 10, oldestSeq: 11 });
    // No rule for h2/adt (the adt rule names h1): kept whole.
    expect(await feeds.feedRange('h2', 'adt')).toMatchObject({ retentionFloorSeq: 0, oldestSeq: 1 });
    const removed = logs.filter((l) => l.msg.startsWith('retention removed'));
    expect(removed.map((l) => [l.hospital, l.feed, l.removedEvents, l.removedBytes, l.retentionFloorSeq])).toEqual([
      ['h1', 'adt', 10, 1_000, 10],
      ['h1', 'lab', 10, 1_000, 10],
    ]);

    // The next sweep, 10 minutes later: the second half of h1/adt is 10 minutes old, kept, and nothing is logged.
    await timers.whenArmed();
    const first = sweeper.status().lastSweepAtMs;
    timers.advance(10 * MINUTE);
    await until(() => sweeper.status().lastSweepAtMs !== first);
    expect(await feeds.feedRange('h1', 'adt')).toMatchObject({ retentionFloorSeq: 10 });
    expect(logs.filter((l) => l.msg.startsWith('retention removed'))).toHaveLength(2);
    // The one after: 20 minutes and 5 seconds old, removed.
    await timers.whenArmed();
    timers.advance(10 * MINUTE);
    await until(() => logs.filter((l) => l.msg.startsWith('retention removed')).length === 3);
    expect(await feeds.feedRange('h1', 'adt')).toMatchObject({ retentionFloorSeq: 20, oldestSeq: undefined });
    const status = sweeper.status();
    expect(status.feeds.find((f) => f.feed === 'adt' && f.hospital === 'h1')).toMatchObject({ removedEvents: 20, removedBytes: 2_000, retentionFloorSeq: 20, lastError: null });
    expect(status.feeds.find((f) => f.hospital === 'h2')).toBeUndefined();
    await sweeper.stop();
  });

  it('never runs two sweeps at once, survives a store error and tries again at the next interval', async () => {
    await store(feeds, 'h1', 'lab', 1, 20);
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let failNext = true;
    let release: (() => void) | undefined;
    const flaky: Pick<FeedStore, 'feedSizes' | 'applyRetention'> = {
      feedSizes: () => feeds.feedSizes(),
      applyRetention: async (hospital, feed, rule) => {
        calls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          if (failNext) {
            failNext = false;
            throw new Error('disk I/O error');
          }
          await new Promise<void>((resolve) => (release = resolve));
          return await feeds.applyRetention(hospital, feed, rule);
        } finally {
          inFlight--;
        }
      },
    };
    const config = RetentionConfig.parse({ sweepIntervalMs: '1s', default: { maxBytes: 500 } });
    const sweeper = new RetentionSweeper({ store: flaky, config, logger: logger(), now: timers.clock, timers, firstSweepDelayMs: 100 });
    sweeper.start();
    await timers.whenArmed();
    timers.advance(100);
    await until(() => logs.some((l) => l.msg.startsWith('retention sweep of the feed failed')));
    expect(sweeper.status().feeds[0]).toMatchObject({ feed: 'lab', lastError: 'disk I/O error', removedEvents: 0 });
    expect(await feeds.feedRange('h1', 'lab')).toMatchObject({ retentionFloorSeq: 0 });

    // The next interval's sweep hangs in the store; a sweep() asked meanwhile joins it, and no timer is armed.
    await timers.whenArmed();
    timers.advance(1_000);
    await until(() => release !== undefined);
    const joined = sweeper.sweep();
    expect(timers.armed).toBe(0);
    release!();
    expect(await joined).toMatchObject({ feeds: 1, swept: 1, removedEvents: 15, removedBytes: 1_500, failed: 0 });
    expect(calls).toBe(2);
    expect(maxInFlight).toBe(1);
    expect(sweeper.status().feeds[0]).toMatchObject({ lastError: null, removedEvents: 15, retentionFloorSeq: 15 });
    // After it ends, the next one is scheduled an interval later.
    await timers.whenArmed();
    await sweeper.stop();
    expect(timers.armed).toBe(0);
  });

  it('a store that cannot list its feeds: logged, shown in the status, tried again at the next interval', async () => {
    await store(feeds, 'h1', 'lab', 1, 20);
    let down = true;
    const flaky: Pick<FeedStore, 'feedSizes' | 'applyRetention'> = {
      feedSizes: async () => {
        if (down) throw new Error('the database 127.0.0.1:5432/relay is unreachable');
        return feeds.feedSizes();
      },
      applyRetention: (hospital, feed, rule) => feeds.applyRetention(hospital, feed, rule),
    };
    const sweeper = new RetentionSweeper({ store: flaky, config: RetentionConfig.parse({ sweepIntervalMs: '1s', default: { maxBytes: 1_000 } }), logger: logger(), now: timers.clock, timers });
    sweeper.start();
    await timers.whenArmed();
    timers.advance(1_000);
    await until(() => logs.some((l) => l.msg.startsWith('retention sweep failed')));
    expect(sweeper.status()).toMatchObject({ lastSweepAtMs: null, lastError: 'listing the feeds failed: the database 127.0.0.1:5432/relay is unreachable' });
    down = false;
    await timers.whenArmed();
    timers.advance(1_000);
    await until(() => sweeper.status().lastSweepAtMs !== null);
    expect(sweeper.status()).toMatchObject({ lastError: null, feeds: [{ feed: 'lab', removedEvents: 10, retentionFloorSeq: 10 }] });
    await sweeper.stop();
  });

  it('stop() waits for the feed being swept, then starts no other', async () => {
    await store(feeds, 'h1', 'a', 1, 10);
    await store(feeds, 'h1', 'b', 1, 10);
    let release: (() => void) | undefined;
    const swept: string[] = [];
    const slow: Pick<FeedStore, 'feedSizes' | 'applyRetention'> = {
      feedSizes: () => feeds.feedSizes(),
      applyRetention: async (hospital, feed, rule) => {
        swept.push(feed);
        await new Promise<void>((resolve) => (release = resolve));
        return feeds.applyRetention(hospital, feed, rule);
      },
    };
    const sweeper = new RetentionSweeper({ store: slow, config: RetentionConfig.parse({ default: { maxBytes: 0 } }), logger: logger(), now: timers.clock, timers });
    const sweep = sweeper.sweep();
    await until(() => release !== undefined);
    let stopped = false;
    const stopping = sweeper.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(stopped).toBe(false);
    release!();
    await stopping;
    expect((await sweep).removedEvents).toBe(10);
    expect(swept).toEqual(['a']);
    expect(await feeds.feedRange('h1', 'b')).toMatchObject({ retentionFloorSeq: 0 });
  });

  it('the status shows each feed\'s rule, floor, oldest event and last sweep; metrics the floor and removed events', async () => {
    await store(feeds, 'h1', 'lab', 1, 20);
    await store(feeds, 'h1', 'adt', 1, 3);
    const config = RetentionConfig.parse({ feeds: [{ feed: 'lab', maxBytes: '1KB', maxAge: '7d' }] });
    const sweeper = new RetentionSweeper({ store: feeds, config, logger: logger(), now: timers.clock, timers });
    await sweeper.sweep();
    const status = async () =>
      buildRelayStatus({
        relayId: 'r',
        startedAtMs: 0,
        nowMs: timers.clock(),
        hospitals: [{ id: 'h1' }],
        agents: [],
        feeds: await feeds.feedSizes(),
        retention: { limits: (hospital, feed) => retentionLimitsFor(config, hospital, feed), sweep: sweeper.status() },
      });
    const s = await status();
    const lab = s.hospitals[0]!.feeds.find((f) => f.feed === 'lab')!;
    expect(lab.retention).toEqual({
      maxAgeMs: 7 * 24 * 60 * MINUTE,
      maxBytes: 1_000,
      floorSeq: 10,
      oldestSeq: 11,
      lastSweepAt: new Date(timers.clock()).toISOString(),
      removedEvents: 10,
      removedBytes: 1_000,
      lastError: null,
    });
    expect(s.hospitals[0]!.feeds.find((f) => f.feed === 'adt')!.retention).toMatchObject({ maxAgeMs: null, maxBytes: null, floorSeq: 0, oldestSeq: 1, lastSweepAt: null, removedEvents: 0 });
    expect(s.retention).toMatchObject({ sweepIntervalMs: 10 * MINUTE, lastSweepAt: new Date(timers.clock()).toISOString(), lastError: null });

    const page = renderRelayStatusPage(s, timers.clock());
    expect(page).toContain('<span data-figure="retention-floor">10</span>');
    expect(page).toContain('<span data-figure="oldest-seq">11</span>');
    expect(page).toContain('kept forever');

    const registry = new Registry();
    registerRelayStatusMetrics(registry, status);
    const text = await registry.metrics();
    expect(text).toContain('wardline_relay_feed_retention_floor_seq{hospital="h1",feed="lab"} 10');
    expect(text).toContain('wardline_relay_feed_retention_floor_seq{hospital="h1",feed="adt"} 0');
    expect(text).toContain('wardline_relay_retention_removed_events_total{hospital="h1",feed="lab"} 10');
    expect(text).toContain('wardline_relay_retention_removed_bytes_total{hospital="h1",feed="lab"} 1000');
    // A second scrape reports the same totals (the counters are rebuilt from the status, not added twice).
    expect(await registry.metrics()).toContain('wardline_relay_retention_removed_events_total{hospital="h1",feed="lab"} 10');
  });
});

async function until(what: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
