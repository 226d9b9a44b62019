import { describe, expect, it } from 'vitest';
import { PriorityGate, TokenBucket } from '../../agent/bandwidth/index.js';

const CLASSES = ['clinical', 'standard', 'bulk'];

function setup(options: { rate: number | null; burst?: number; maxInFlight?: number }) {
  let now = 0;
  const bucket = new TokenBucket({ rateBytesPerSecond: options.rate, burstBytes: options.burst ?? 1000, clock: () => now });
  const gate = new PriorityGate({ classes: CLASSES, bucket, maxInFlightBytes: options.maxInFlight ?? 1e12 });
  return { gate, bucket, advance: (ms: number) => (now += ms) };
}

const feeds = (grants: { feed: string }[]) => grants.map((g) => g.feed);

describe('PriorityGate', () => {
  it('grants by class first, then in arrival order within a class', () => {
    const { gate, advance } = setup({ rate: 1000, burst: 100 });
    gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 100 });
    gate.enqueue({ feed: 'appointments', class: 'standard', bytes: 100 });
    gate.enqueue({ feed: 'lab', class: 'clinical', bytes: 100 });
    gate.enqueue({ feed: 'adt', class: 'clinical', bytes: 100 });
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      order.push(...feeds(gate.grant().granted));
      advance(100);
    }
    expect(order).toEqual(['lab', 'adt', 'appointments', 'archive']);
  });

  it('lets a clinical batch that arrives later go before bulk batches that waited longer', () => {
    const { gate, advance } = setup({ rate: 1000, burst: 1000 });
    gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 1000 });
    expect(feeds(gate.grant().granted)).toEqual(['archive']);
    gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 1000 });
    expect(gate.grant()).toMatchObject({ granted: [], wait: { kind: 'tokens', retryInMs: 1000 } });
    advance(100);
    gate.enqueue({ feed: 'adt', class: 'clinical', bytes: 200 });
    // The clinical batch waits only for its own 200 bytes, not behind the bulk batch's 1000.
    expect(gate.grant()).toMatchObject({ granted: [], wait: { kind: 'tokens', retryInMs: 100 } });
    advance(100);
    expect(feeds(gate.grant().granted)).toEqual(['adt']);
    expect(gate.grant().wait).toMatchObject({ kind: 'tokens', retryInMs: 1000 });
  });

  it('never lets a smaller lower-class batch slip past a higher-class head that waits', () => {
    const { gate, advance } = setup({ rate: 1000, burst: 1000 });
    gate.enqueue({ feed: 'sink', class: 'bulk', bytes: 1000 });
    gate.grant();
    gate.enqueue({ feed: 'adt', class: 'clinical', bytes: 800 });
    gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 10 });
    advance(500);
    // 500 tokens would pay for the bulk batch, but the clinical head gets them first.
    expect(gate.grant().granted).toEqual([]);
    advance(300);
    expect(feeds(gate.grant().granted)).toEqual(['adt']);
  });

  it('caps unacknowledged bytes across feeds and gives the room an ack frees to the highest class waiting', () => {
    const { gate } = setup({ rate: null, maxInFlight: 1000 });
    const a = gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 600 });
    expect(feeds(gate.grant().granted)).toEqual(['archive']);
    const b = gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 600 });
    expect(gate.grant()).toEqual({ granted: [], wait: { kind: 'in-flight', ticket: b } });
    gate.enqueue({ feed: 'adt', class: 'clinical', bytes: 300 });
    // Clinical now heads the line; 600 + 300 fits under the cap.
    expect(feeds(gate.grant().granted)).toEqual(['adt']);
    expect(gate.inFlightBytes).toBe(900);
    gate.release(a);
    expect(feeds(gate.grant().granted)).toEqual(['archive']);
    expect(gate.inFlightBytes).toBe(900);
  });

  it('lets a batch larger than the in-flight cap go once nothing is in flight', () => {
    const { gate } = setup({ rate: null, maxInFlight: 1000 });
    const first = gate.enqueue({ feed: 'pacs', class: 'bulk', bytes: 400 });
    gate.grant();
    gate.enqueue({ feed: 'pacs', class: 'bulk', bytes: 5000 });
    expect(gate.grant().granted).toEqual([]);
    gate.release(first);
    expect(feeds(gate.grant().granted)).toEqual(['pacs']);
    expect(gate.inFlightBytes).toBe(5000);
  });

  it('passes over a blocked class without letting it hold up others, and grants it once allowed', () => {
    const { gate } = setup({ rate: null });
    gate.setBlocked(['bulk']);
    gate.enqueue({ feed: 'archive', class: 'bulk', bytes: 100 });
    gate.enqueue({ feed: 'appointments', class: 'standard', bytes: 100 });
    expect(gate.grant()).toEqual({ granted: [expect.objectContaining({ feed: 'appointments' })], wait: { kind: 'blocked' } });
    expect(gate.grant().granted).toEqual([]);
    gate.setBlocked([]);
    expect(gate.grant()).toEqual({ granted: [expect.objectContaining({ feed: 'archive' })], wait: { kind: 'idle' } });
  });

  it('withdraws a waiting request, ignores a second release, and refuses an unknown class', () => {
    const { gate } = setup({ rate: null, maxInFlight: 100 });
    const granted = gate.enqueue({ feed: 'a', class: 'standard', bytes: 100 });
    gate.grant();
    const waiting = gate.enqueue({ feed: 'b', class: 'standard', bytes: 100 });
    expect(gate.queue.map((r) => r.ticket)).toEqual([waiting]);
    expect(gate.cancel(waiting)).toBe(true);
    expect(gate.cancel(waiting)).toBe(false);
    expect(gate.cancel(granted)).toBe(false);
    gate.release(granted);
    gate.release(granted);
    expect(gate.inFlightBytes).toBe(0);
    expect(() => gate.enqueue({ feed: 'c', class: 'urgent', bytes: 1 })).toThrow(/unknown bandwidth class urgent/);
  });
});
