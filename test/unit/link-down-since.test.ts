// When a link went down, as the link state machine keeps it across retries: a
// backoff -> connecting -> backoff cycle is the same outage; only streaming ends it.
import { describe, expect, it } from 'vitest';
import { LinkStateMachine } from '../../agent/replication/link-state.js';

const silent = { info: () => {} };

describe('LinkStateMachine.downSinceMs', () => {
  it('keeps the moment streaming ended across hundreds of retries, and clears it when streaming again', () => {
    let now = 1_000;
    const link = new LinkStateMachine('cloud', silent, () => now, 50);
    expect(link.downSinceMs).toBe(1_000); // never streamed yet: down since the link was made
    now = 2_000;
    link.transition('connecting', 'start');
    now = 3_000;
    link.transition('streaming', 'welcome');
    expect(link.downSinceMs).toBeNull();
    now = 10_000;
    link.transition('backoff', 'stream ended', new Error('connection reset'));
    for (let attempt = 0; attempt < 300; attempt++) {
      now += 500;
      link.transition('connecting', `attempt ${attempt}`);
      now += 500;
      link.transition('backoff', 'connection refused');
    }
    expect(link.downSinceMs).toBe(10_000);
    // The kept transitions no longer reach back to the cut; the figure does not depend on them.
    expect(link.history.some((t) => t.from === 'streaming')).toBe(false);
    link.transition('connecting', 'retry');
    now += 1;
    link.transition('streaming', 'welcome');
    expect(link.downSinceMs).toBeNull();
    now += 1_000;
    link.transition('closed', 'stop requested');
    expect(link.downSinceMs).toBe(now);
  });

  it('counts a first connection that never streamed from the start', () => {
    let now = 5;
    const link = new LinkStateMachine('cloud', silent, () => now);
    now = 6;
    link.transition('connecting', 'start');
    now = 7;
    link.transition('backoff', 'refused');
    expect(link.downSinceMs).toBe(5);
  });
});
