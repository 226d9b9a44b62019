import { describe, expect, it } from 'vitest';
import { IllegalLinkTransitionError } from '../../agent/replication/errors.js';
import { LinkStateMachine } from '../../agent/replication/link-state.js';

const silent = { info: () => {} };

describe('LinkStateMachine', () => {
  it('follows the allowed transitions, logging each and keeping the last error', () => {
    const lines: string[] = [];
    const link = new LinkStateMachine('cloud', { info: (_f, m) => lines.push(m) }, () => 42);
    link.transition('connecting', 'start');
    link.transition('backoff', 'refused', new Error('connection refused'));
    link.transition('connecting', 'retry');
    link.transition('streaming', 'welcome');
    expect(link.state).toBe('streaming');
    expect(link.lastError).toBe('connection refused');
    expect(lines).toEqual(['link offline -> connecting', 'link connecting -> backoff', 'link backoff -> connecting', 'link connecting -> streaming']);
  });

  it('refuses an illegal move', () => {
    const link = new LinkStateMachine('cloud', silent);
    expect(() => link.transition('streaming', 'skip the handshake')).toThrow(IllegalLinkTransitionError);
    link.transition('closed', 'stop');
    expect(() => link.transition('connecting', 'revive')).toThrow(/closed -> connecting/);
  });

  it('publishes transitions as an async iterable that ends when the link closes', async () => {
    const link = new LinkStateMachine('cloud', silent);
    const seen: string[] = [];
    const consumer = (async () => {
      for await (const t of link.transitions()) seen.push(`${t.from}->${t.to}`);
    })();
    await Promise.resolve();
    link.transition('connecting', 'start');
    link.transition('streaming', 'welcome');
    link.transition('closed', 'stop');
    await consumer;
    expect(seen).toEqual(['offline->connecting', 'connecting->streaming', 'streaming->closed']);
  });
});
