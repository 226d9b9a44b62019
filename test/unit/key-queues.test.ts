// Per-key order of the delivery engine: only a key's head may go, the head
// holds its key until removed, heads go oldest first within the concurrency.
import { describe, expect, it } from 'vitest';
import { headsToStart, KeyQueues, type QueuedEvent } from '../../agent/downlink/index.js';
import { forAll } from '../support/property.js';

const ev = (id: string, key: string, seq: number): QueuedEvent => ({ id, key, seq });

describe('KeyQueues', () => {
  it('gives one head per key, oldest first, and the next of a key once the head is removed', () => {
    const q = new KeyQueues<QueuedEvent>();
    q.add(ev('a1', 'A', 1));
    q.add(ev('b1', 'B', 2));
    q.add(ev('a2', 'A', 3));
    expect(q.heads().map((e) => e.id)).toEqual(['a1', 'b1']);
    q.remove('a1');
    expect(q.heads().map((e) => e.id)).toEqual(['b1', 'a2']);
  });

  it('ignores an event added twice and keeps seq order when one is added late', () => {
    const q = new KeyQueues<QueuedEvent>();
    q.add(ev('a3', 'A', 3));
    q.add(ev('a1', 'A', 1));
    q.add(ev('a1', 'A', 1));
    expect(q.size).toBe(2);
    expect(q.heads()[0]!.id).toBe('a1');
    expect(q.waitingBehind('a1')).toBe(1);
  });

  it('takes an event out from behind its head without disturbing the rest', () => {
    const q = new KeyQueues<QueuedEvent>();
    ['a1', 'a2', 'a3'].forEach((id, i) => q.add(ev(id, 'A', i + 1)));
    q.remove('a2');
    expect(q.remove('nope')).toBeUndefined();
    q.remove('a1');
    expect(q.heads().map((e) => e.id)).toEqual(['a3']);
  });

  it('property: draining by heads delivers every key in seq order, never two of a key at once', () => {
    forAll(
      'key-queues-drain',
      (rng) => Array.from({ length: rng.int(1, 60) }, (_, i) => ev(`e${i}`, `k${rng.int(0, 5)}`, i + 1)),
      (events, rng) => {
        const q = new KeyQueues<QueuedEvent>();
        for (const e of [...events].sort(() => rng.next() - 0.5)) q.add(e);
        const inFlight = new Set<string>();
        const delivered: QueuedEvent[] = [];
        const concurrency = rng.int(1, 4);
        while (q.size > 0) {
          for (const e of headsToStart(q.heads(), inFlight, concurrency, () => true)) inFlight.add(e.id);
          expect(inFlight.size).toBeLessThanOrEqual(concurrency);
          const keys = [...inFlight].map((id) => q.get(id)!.key);
          expect(new Set(keys).size).toBe(keys.length);
          const done = rng.pick([...inFlight]);
          inFlight.delete(done);
          delivered.push(q.remove(done)!);
        }
        for (const key of new Set(events.map((e) => e.key))) {
          const seqs = delivered.filter((e) => e.key === key).map((e) => e.seq);
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        }
        expect(delivered).toHaveLength(events.length);
      },
    );
  });
});

describe('headsToStart', () => {
  it('starts nothing when the concurrency is used up, skips heads in flight or not due', () => {
    const heads = [ev('a', 'A', 1), ev('b', 'B', 2), ev('c', 'C', 3)];
    expect(headsToStart(heads, new Set(['x', 'y']), 2, () => true)).toEqual([]);
    expect(headsToStart(heads, new Set(['a']), 3, (e) => e.id !== 'b').map((e) => e.id)).toEqual(['c']);
  });
});
