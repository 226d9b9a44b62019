// `wardline agent status` as a monitoring check: when it fails and why.
import { describe, expect, it } from 'vitest';
import { statusProblems } from '../../cli/agent-status-check.js';

const link = (state: string) => ({ relay: 'cloud', state, sinceMs: 0, lastError: state === 'streaming' ? null : 'connect ECONNREFUSED', relayId: null, reconnects: 0, nextAttemptAtMs: null, transitions: [] });
const feed = (lagSeconds: number, extra: Record<string, unknown> = {}) => ({ feed: 'clinical', lagSeconds, lagThresholdSeconds: 300, blocked: null, paused: false, ...extra });
type CheckInput = Parameters<typeof statusProblems>[0];

describe('statusProblems', () => {
  it('passes when every link streams and every feed is within its threshold', () => {
    expect(statusProblems({ links: [link('streaming')], feeds: [feed(12)] } as unknown as CheckInput)).toEqual([]);
  });

  it('fails on a link that is not streaming, saying why', () => {
    expect(statusProblems({ links: [link('backoff')], feeds: [feed(12)] } as unknown as CheckInput)).toEqual([
      { kind: 'link', subject: 'cloud', message: 'link to cloud is backoff (connect ECONNREFUSED)' },
    ]);
  });

  it('fails on a feed lagging past its threshold, unless paused, held back, or without a threshold', () => {
    expect(statusProblems({ links: [link('streaming')], feeds: [feed(301)] } as unknown as CheckInput).map((p) => p.message)).toEqual([
      'feed clinical lags 301.0 s, above its threshold of 300 s',
    ]);
    expect(statusProblems({ links: [link('streaming')], feeds: [feed(9999, { paused: true })] } as unknown as CheckInput)).toEqual([]);
    expect(statusProblems({ links: [link('streaming')], feeds: [feed(9999, { blocked: 'bulk only at night' })] } as unknown as CheckInput)).toEqual([]);
    expect(statusProblems({ links: [link('streaming')], feeds: [feed(9999, { lagThresholdSeconds: undefined })] } as unknown as CheckInput)).toEqual([]);
  });
});
