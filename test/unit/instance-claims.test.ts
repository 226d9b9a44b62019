import { describe, expect, it } from 'vitest';
import { InstanceClaims } from '../../agent/replication/instance-claims.js';

describe('InstanceClaims', () => {
  it('lets one shipper at a time hold an instance; the next gets it once released', async () => {
    const claims = new InstanceClaims();
    const signal = new AbortController().signal;
    const first = await claims.claim('a', signal);
    const other = await claims.claim('b', signal);
    expect(first).toBeDefined();
    expect(other).toBeDefined();
    let second: (() => void) | undefined;
    const waiting = claims.claim('a', signal).then((release) => (second = release));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBeUndefined();
    first!();
    first!(); // idempotent
    await waiting;
    expect(second).toBeDefined();
    second!();
    other!();
    expect(claims.size).toBe(0);
  });

  it('gives up waiting when the stream ends', async () => {
    const claims = new InstanceClaims();
    const held = await claims.claim('a', new AbortController().signal);
    const stream = new AbortController();
    const waiting = claims.claim('a', stream.signal);
    stream.abort();
    expect(await waiting).toBeUndefined();
    held!();
    expect(claims.size).toBe(0);
    expect(await claims.claim('a', stream.signal)).toBeUndefined();
  });
});
