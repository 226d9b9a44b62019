import { describe, expect, it } from 'vitest';
import { FeedWindow } from '../../agent/replicator/feed-window.js';

const batch = (firstSeq: number, lastSeq: number) => ({ firstSeq, lastSeq, events: lastSeq - firstSeq + 1, bytes: 100, sentAtMs: 0 });

describe('FeedWindow', () => {
  it('starts from the relay high-water mark and sends contiguous ranges', () => {
    const window = new FeedWindow('clinical', 2);
    window.reset(10);
    expect(window.nextAfter).toBe(10);
    window.sent(batch(11, 20));
    expect(() => window.sent(batch(22, 30))).toThrow(/does not follow 20/);
    window.sent(batch(21, 30));
    expect(window.canSend).toBe(false);
    expect(window.onAck(20)).toMatchObject({ kind: 'acked', ackedSeq: 20 });
    expect(window.canSend).toBe(true);
    expect(window.ackedSeq).toBe(20);
  });

  it('on a gap nack resends from the expected seq and ignores the nacks of stale batches', () => {
    const window = new FeedWindow('clinical', 4);
    window.reset(0);
    window.sent(batch(1, 10));
    window.sent(batch(11, 20));
    window.sent(batch(21, 30));
    expect(window.onNack(1)).toEqual({ kind: 'resend-from', expectedSeq: 1 });
    expect(window.nextAfter).toBe(0);
    window.sent(batch(1, 30));
    // The relay still answers the two batches sent before the reset.
    expect(window.onNack(1)).toEqual({ kind: 'ignored-stale' });
    expect(window.onNack(1)).toEqual({ kind: 'ignored-stale' });
    expect(window.onAck(30)).toMatchObject({ kind: 'acked', ackedSeq: 30 });
    expect(window.inFlightCount).toBe(0);
  });

  it('flags a relay that acks beyond what was sent or replies with nothing in flight', () => {
    const window = new FeedWindow('clinical', 4);
    window.reset(5);
    expect(window.onAck(6).kind).toBe('violation');
    window.sent(batch(6, 9));
    expect(window.onAck(12)).toMatchObject({ kind: 'violation', reason: expect.stringMatching(/beyond what was sent \(9\)/) });
  });

  it('reports the send time of the oldest unanswered batch for ack timeouts', () => {
    const window = new FeedWindow('clinical', 4);
    window.reset(0);
    window.sent({ ...batch(1, 2), sentAtMs: 1000 });
    window.sent({ ...batch(3, 4), sentAtMs: 2000 });
    expect(window.oldestSentAtMs).toBe(1000);
    window.onAck(2);
    expect(window.oldestSentAtMs).toBe(2000);
  });
});
