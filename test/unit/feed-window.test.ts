import { describe, expect, it } from 'vitest';
import { FeedWindow } from '../../agent/replication/feed-window.js';

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

  describe('a relay mark beyond the journal head', () => {
    const MAX = Number.MAX_SAFE_INTEGER;

    it('is an integrity incident: acks stay where they were and nothing may be sent', () => {
      const window = new FeedWindow('clinical', 4);
      expect(window.reset(40, 100)).toBeNull();
      window.sent(batch(41, 60));
      window.onAck(60);
      const incident = window.reset(MAX, 100);
      expect(incident).toMatchObject({ relayMarkSeq: MAX, journalHeadSeq: 100, ackedSeq: 60 });
      expect(incident!.reason).toContain('beyond this agent\'s journal head 100');
      expect(window.incident).toBe(incident);
      expect(window.ackedSeq).toBe(60);
      expect(window.nextAfter).toBe(60);
      expect(window.canSend).toBe(false);
    });

    it('never keeps an acked seq past the head (a mark accepted by an older agent and saved)', () => {
      const window = new FeedWindow('clinical', 4);
      window.reset(MAX);
      expect(window.reset(MAX, 100)).not.toBeNull();
      expect(window.ackedSeq).toBe(100);
    });

    it('a mark at the head is fine', () => {
      const window = new FeedWindow('clinical', 4);
      expect(window.reset(100, 100)).toBeNull();
      expect(window.canSend).toBe(true);
    });

    it('is sticky: a mark the journal has since grown up to is still refused; one back at the old head is believed', () => {
      const window = new FeedWindow('clinical', 4);
      window.reset(50, 100);
      expect(window.reset(150, 100)).not.toBeNull();
      // The journal grew to 200 meanwhile; the relay still claims 150, which it cannot hold (nothing was sent).
      expect(window.reset(150, 200)).toMatchObject({ relayMarkSeq: 150, journalHeadSeq: 100, ackedSeq: 50 });
      expect(window.canSend).toBe(false);
      // The relay's position was corrected.
      expect(window.reset(80, 200)).toBeNull();
      expect(window.incident).toBeNull();
      expect(window.ackedSeq).toBe(80);
      expect(window.canSend).toBe(true);
    });

    it('without a head to check against (default) trusts the relay as before', () => {
      const window = new FeedWindow('clinical', 4);
      expect(window.reset(MAX)).toBeNull();
      expect(window.ackedSeq).toBe(MAX);
    });
  });
});
