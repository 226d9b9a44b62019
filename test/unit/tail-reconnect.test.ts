import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { isTailReconnectable, TailReconnect } from '../../cli/tail-reconnect.js';
import { parseTailFlags, TailFlagError } from '../../cli/tail-flags.js';

describe('isTailReconnectable', () => {
  it('reconnects on a relay going away, never on a refusal', () => {
    for (const code of [status.UNAVAILABLE, status.INTERNAL, status.UNKNOWN]) expect(isTailReconnectable(code)).toBe(true);
    for (const code of [status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.NOT_FOUND, status.OUT_OF_RANGE, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION, status.UNIMPLEMENTED]) {
      expect(isTailReconnectable(code)).toBe(false);
    }
  });
});

describe('TailReconnect', () => {
  it('doubles from the initial delay up to the cap, jittered into the upper half, and resets', () => {
    const top = new TailReconnect(250, 10_000, () => 1);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => top.delayMs())).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    const bottom = new TailReconnect(250, 10_000, () => 0);
    expect([bottom.delayMs(), bottom.delayMs()]).toEqual([125, 250]);
    top.reset();
    expect(top.failures).toBe(0);
    expect(top.delayMs()).toBe(250);
  });
});

describe('parseTailFlags', () => {
  const bad = (input: Parameters<typeof parseTailFlags>[0]): string => {
    try {
      parseTailFlags(input);
    } catch (error) {
      expect(error).toBeInstanceOf(TailFlagError);
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('reads the start, the consumer and the filters', () => {
    expect(parseTailFlags({})).toEqual({ commit: false, streams: [], messageTypes: [], format: 'ndjson' });
    expect(parseTailFlags({ after: '12', consumer: 'billing-1', commit: true, streams: 'adt,results', types: 'ADT^A01,ORU', format: 'text' })).toEqual({
      after: 12, consumer: 'billing-1', commit: true, streams: ['adt', 'results'], messageTypes: ['ADT^A01', 'ORU'], format: 'text',
    });
    expect(parseTailFlags({ afterTime: '2024-01-05T08:30:00Z' }).afterTimeMs).toBe(Date.UTC(2024, 0, 5, 8, 30));
    expect(parseTailFlags({ afterTime: '2024-01-05T08:30:00.250+08:00' }).afterTimeMs).toBe(Date.UTC(2024, 0, 5, 0, 30, 0, 250));
  });

  it('names the flag and the value that is wrong', () => {
    expect(bad({ afterTime: 'garbage' })).toBe('--after-time: expected an ISO 8601 time such as 2024-01-05T08:30:00Z, got "garbage"');
    expect(bad({ afterTime: '2024-13-45T00:00:00Z' })).toMatch(/--after-time/);
    expect(bad({ after: '1', afterTime: '2024-01-05T08:30:00Z' })).toMatch(/--after and --after-time/);
    expect(bad({ after: '-1' })).toMatch(/^--after: /);
    expect(bad({ after: '1.5' })).toMatch(/^--after: /);
    expect(bad({ commit: true })).toMatch(/--commit needs --consumer/);
    expect(bad({ consumer: 'has space' })).toMatch(/^--consumer: /);
    expect(bad({ streams: 'adt,,results' })).toMatch(/^--streams: /);
    expect(bad({ format: 'xml' })).toMatch(/--format/);
  });
});
