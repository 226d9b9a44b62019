// The single-process registry of a SQLite relay and the newest-holder rule a
// hop relies on (two rows for one hospital while the old process has not beaten yet).
import { describe, expect, it } from 'vitest';
import { newestHolders, processIdentity, SingleProcessRegistry } from '../../cloud-relay/store/index.js';

describe('process registry', () => {
  it('shows the newer holder of a hospital whose agent hopped', () => {
    expect(
      newestHolders([
        { hospital: 'h2', processId: 'a', heldSinceMs: 5 },
        { hospital: 'h1', processId: 'a', heldSinceMs: 10 },
        { hospital: 'h1', processId: 'b', heldSinceMs: 20 },
      ]),
    ).toEqual([
      { hospital: 'h1', processId: 'b', heldSinceMs: 20 },
      { hospital: 'h2', processId: 'a', heldSinceMs: 5 },
    ]);
  });

  it('a SQLite relay is one process, alive, holding the streams its agents have open since it first saw them', async () => {
    let nowMs = 1_000;
    const identity = processIdentity({ relayId: 'r', version: '1.0.0', grpcListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', startedAtMs: 500 });
    expect(identity.processId).toMatch(/^.+:\d+:[0-9a-f]{6}$/);
    const registry = new SingleProcessRegistry(identity, () => nowMs);
    let held = ['h1'];
    await registry.register(() => held, { grpc: '127.0.0.1:7443', http: '127.0.0.1:7480' });
    expect(await registry.processes()).toEqual([expect.objectContaining({ processId: identity.processId, grpcListen: '127.0.0.1:7443', heartbeatAtMs: 1_000, alive: true, pid: process.pid })]);
    expect(await registry.streamHolders()).toEqual([{ hospital: 'h1', processId: identity.processId, heldSinceMs: 1_000 }]);
    nowMs = 2_000;
    held = ['h1', 'h2'];
    expect(await registry.streamHolders()).toEqual([
      { hospital: 'h1', processId: identity.processId, heldSinceMs: 1_000 },
      { hospital: 'h2', processId: identity.processId, heldSinceMs: 2_000 },
    ]);
    held = [];
    expect(await registry.streamHolders()).toEqual([]);
  });
});
