// The PostgreSQL feed store's cache of marks (what position() answers) and its
// batch plan: marks arriving out of order never move a feed back, listeners
// hear only of forward moves and of a revoke, and the plan decides as
// protocol/batch-decision.ts does.
import { describe, expect, it } from 'vitest';
import { planBatch } from '../../cloud-relay/store/postgres/pg-feed-batches.js';
import { PgFeedMarks } from '../../cloud-relay/store/postgres/pg-feed-marks.js';
import { makeEvents } from '../integration/relay-harness.js';

const mark = (highWaterSeq: number, visibleSeq: number, revoked = false) => ({ hospital: 'h1', feed: 'adt', highWaterSeq, visibleSeq, revoked });

describe('PgFeedMarks', () => {
  it('moves only forward, and tells the listeners of a visible seq moved forward or a revoke', () => {
    const told: string[] = [];
    const marks = new PgFeedMarks({ onAdvance: (h, f, seq) => told.push(`advance ${h}/${f} ${seq}`), onRevoke: (h, f) => told.push(`revoke ${h}/${f}`) });
    expect(marks.position('h1', 'adt')).toEqual({ highWaterSeq: 0, revoked: false });
    marks.apply(mark(10, 8));
    marks.apply(mark(5, 5)); // a poll that read before the commit it arrives after
    expect(marks.position('h1', 'adt')).toEqual({ highWaterSeq: 10, revoked: false });
    marks.apply(mark(12, 8)); // stored, not yet visible: no tail to wake
    marks.apply(mark(12, 12));
    marks.apply(mark(12, 12, true));
    marks.apply(mark(12, 12, true));
    marks.apply(mark(12, 12)); // reinstated
    marks.apply(mark(20, 20), false); // this process's own commit: the store tells the listeners itself
    expect(told).toEqual(['advance h1/adt 8', 'advance h1/adt 12', 'revoke h1/adt']);
    expect(marks.get('h1', 'adt')).toEqual(mark(20, 20));
  });
});

describe('planBatch', () => {
  const batch = (firstSeq: number, lastSeq: number, extra: object = {}) => ({ hospital: 'h1', feed: 'adt', firstSeq, lastSeq, events: makeEvents(firstSeq, lastSeq), ...extra });

  it('writes only the events past the mark and moves the visible seq never backward', () => {
    const plan = planBatch(batch(4, 8, { completeThroughSeq: 6 }), { highWater: 5, visible: 5 });
    expect(plan).toMatchObject({ decision: { kind: 'overlap' }, lastSeq: 8, visible: 6 });
    expect('events' in plan && plan.events.map((e) => e.seq)).toEqual([6, 7, 8]);
    expect(planBatch(batch(6, 8, { completeThroughSeq: 2 }), { highWater: 5, visible: 5 })).toMatchObject({ visible: 5 });
  });

  it('answers a resend, a gap, a range past the head and a batch without its events without writing', () => {
    expect(planBatch(batch(1, 5), { highWater: 5, visible: 5 })).toEqual({ stored: { decision: { kind: 'duplicate' }, highWater: 5, storedEvents: 0 }, countBatch: true });
    expect(planBatch(batch(9, 9), { highWater: 5, visible: 5 })).toMatchObject({ stored: { decision: { kind: 'gap', expectedSeq: 6 } }, countBatch: true });
    expect(planBatch({ ...batch(6, 7), lastSeq: Number.MAX_SAFE_INTEGER }, { highWater: 5, visible: 5 })).toMatchObject({ stored: { decision: { kind: 'beyond-head' } }, countBatch: false });
    expect(planBatch({ hospital: 'h1', feed: 'adt', firstSeq: 6, lastSeq: 7 }, { highWater: 5, visible: 5 })).toMatchObject({ stored: { decision: { kind: 'needs-events' } }, countBatch: false });
    expect(() => planBatch({ ...batch(6, 7), events: makeEvents(6, 8) }, { highWater: 5, visible: 5 })).toThrow(RangeError);
  });
});
