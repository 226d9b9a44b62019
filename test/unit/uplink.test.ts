import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Uplink, type BandwidthPolicy, type Permit } from '../../agent/bandwidth/index.js';

const CLASSES = ['clinical', 'standard', 'bulk'];
const policy = (rate: number | null, blocked: string[] = []): BandwidthPolicy => ({
  rateBytesPerSecond: rate,
  windowsInForce: [],
  blocked: blocked.map((c) => ({ class: c, reason: `may send only during night` })),
  nextChange: null,
});

describe('Uplink', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('grants on time as tokens accrue, higher class first', async () => {
    const uplink = new Uplink({ classes: CLASSES, burstBytes: 10_000, maxInFlightBytes: 1e9, policy: policy(100_000) });
    const start = Date.now();
    const order: string[] = [];
    const track = (feed: string, p: Promise<Permit | undefined>) => p.then((permit) => permit && order.push(`${feed} at ${Date.now() - start} ms`));
    await track('first', uplink.acquire({ feed: 'first', class: 'bulk', bytes: 10_000 }));
    const bulk = track('bulk', uplink.acquire({ feed: 'bulk', class: 'bulk', bytes: 5_000 }));
    const clinical = track('clinical', uplink.acquire({ feed: 'clinical', class: 'clinical', bytes: 5_000 }));
    await vi.advanceTimersByTimeAsync(49);
    expect(order).toEqual(['first at 0 ms']);
    await vi.advanceTimersByTimeAsync(51);
    await Promise.all([bulk, clinical]);
    // 5 kB at 100 kB/s is 50 ms each: the clinical batch that asked second goes first.
    expect(order).toEqual(['first at 0 ms', 'clinical at 50 ms', 'bulk at 100 ms']);
    uplink.close();
  });

  it('holds a blocked class until a policy change allows it, and tells listeners', async () => {
    const uplink = new Uplink({ classes: CLASSES, maxInFlightBytes: 1e9, policy: policy(null, ['bulk']) });
    expect(uplink.blockedReason('bulk')).toBe('may send only during night');
    expect(uplink.status()).toMatchObject({ rateLimitBytesPerSecond: null, blockedClasses: ['bulk'], blockedReasons: { bulk: 'may send only during night' } });
    let granted: Permit | undefined;
    void uplink.acquire({ feed: 'pacs', class: 'bulk', bytes: 100 }).then((p) => (granted = p));
    await vi.advanceTimersByTimeAsync(1000);
    expect(granted).toBeUndefined();
    expect(uplink.status().waitingBatches).toBe(1);
    const seen: BandwidthPolicy[] = [];
    uplink.onPolicyChange((p) => seen.push(p));
    uplink.applyPolicy(policy(200_000));
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toMatchObject({ bytes: 100 });
    expect(seen).toHaveLength(1);
    expect(uplink.status()).toMatchObject({ rateLimitBytesPerSecond: 200_000, burstBytes: 100_000, blockedClasses: [], inFlightBytes: 100, maxInFlightBytes: 1e9 });
    uplink.release(granted!);
    uplink.release(granted!);
    expect(uplink.status().inFlightBytes).toBe(0);
    uplink.close();
  });

  it('defaults the in-flight cap to a second of the rate in force, following timetable changes', () => {
    const uplink = new Uplink({ classes: CLASSES, policy: policy(null) });
    expect(uplink.maxInFlightBytes).toBe(1024 * 1024);
    uplink.applyPolicy(policy(2_500_000));
    expect(uplink.maxInFlightBytes).toBe(2_500_000);
    uplink.applyPolicy(policy(10_000));
    expect(uplink.maxInFlightBytes).toBe(64 * 1024);
    uplink.close();
  });

  it('answers an aborted or closed wait with undefined and lets the next in line go', async () => {
    const uplink = new Uplink({ classes: CLASSES, maxInFlightBytes: 1000, policy: policy(null) });
    const held = await uplink.acquire({ feed: 'a', class: 'clinical', bytes: 1000 });
    const abort = new AbortController();
    const aborted = uplink.acquire({ feed: 'b', class: 'clinical', bytes: 500 }, abort.signal);
    const next = uplink.acquire({ feed: 'c', class: 'bulk', bytes: 500 });
    abort.abort();
    expect(await aborted).toBeUndefined();
    uplink.release(held!);
    expect(await next).toMatchObject({ bytes: 500 });
    const last = uplink.acquire({ feed: 'd', class: 'bulk', bytes: 600 });
    uplink.close();
    expect(await last).toBeUndefined();
    expect(await uplink.acquire({ feed: 'e', class: 'bulk', bytes: 1 })).toBeUndefined();
  });
});
