// One feed's completeness proofs (agent/replication/feed-prover.ts) with the
// default windows and re-check interval on a manual clock, against a relay
// simulated as a leaf list (the proof channel's contract: roots over ranges,
// leaves on request, repairs filling only what is missing) and a real agent.db.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootOfLeaves, type ProofLeafValue } from '../../agent/replication/fault-locator.js';
import { FeedProofStore } from '../../agent/replication/feed-proof-store.js';
import { FeedProver } from '../../agent/replication/feed-prover.js';
import { ProofConfigSchema } from '../../agent/replication/proof-config.js';
import type { ProofChannel, RelaySession } from '../../agent/replication/relay-transport.js';
import { openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const sha = (text: string): Buffer => createHash('sha256').update(text).digest();
const leaf = (seq: number, body = `body ${seq}`): ProofLeafValue => ({ seq, bodySha256: sha(body) });

/** A relay holding `held` (seq -> leaf); counts the comparisons. */
function simulatedRelay(held: Map<number, ProofLeafValue>) {
  let asks = 0;
  const inRange = (from: number, to: number) => [...held.values()].filter((l) => l.seq >= from && l.seq <= to).sort((a, b) => a.seq - b.seq);
  const proofs: ProofChannel = {
    ask: async (q) => {
      asks += 1;
      const range = inRange(q.fromSeq, q.toSeq);
      return { leafCount: range.length, root: rootOfLeaves(range), ...(q.listLeaves ? { leaves: range } : {}) };
    },
    repair: async (batch) => {
      // The test's repair batch carries its events' seqs in payload order; a repair fills only absent seqs.
      for (const seq of JSON.parse(batch.payload.toString()) as number[]) if (!held.has(seq)) held.set(seq, leaf(seq));
    },
  };
  const session = { welcome: { relayId: 'relay-1', protocolVersion: 1, highWater: new Map(), maxBatchBytes: 1 << 20 }, proofs } as unknown as RelaySession;
  return { session, asks: () => asks, resetAsks: () => (asks = 0) };
}

describe('FeedProver', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let store: FeedProofStore;
  let now: number;

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    store = new FeedProofStore(db);
    now = 1_700_000_000_000;
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  function prover(acked: () => number, incidents: string[] = []) {
    return new FeedProver({
      feed: 'clinical',
      relay: 'cloud',
      config: ProofConfigSchema.parse({}),
      store,
      ackedSeq: acked,
      buildRepair: async (seqs) => ({
        batch: { feed: 'clinical', firstSeq: Math.min(...seqs), lastSeq: Math.max(...seqs), codec: 'none', payload: Buffer.from(JSON.stringify(seqs)), payloadSha256: Buffer.alloc(32), eventCount: seqs.length, uncompressedBytes: 0, policyVersion: 0, repair: true },
        leaves: seqs.map((seq) => leaf(seq)),
      }),
      onIncident: (_feed, fault) => incidents.push(`${fault.seq} ${fault.kind}`),
      clock: () => now,
      log: { info: () => undefined, warn: () => undefined },
    });
  }

  it('verifies each 10,000-seq window, finds a later fault at the next 60 s re-check, repairs it, and raises an incident once', async () => {
    const sent = Array.from({ length: 20_000 }, (_, i) => leaf(i + 1));
    store.recordLeaves('clinical', sent);
    const held = new Map(sent.map((l) => [l.seq, l]));
    const relay = simulatedRelay(held);
    const incidents: string[] = [];
    const p = prover(() => 20_000, incidents);
    await p.tick(relay.session);
    await p.tick(relay.session);
    expect(p.status()).toMatchObject({ state: 'running', verifiedThroughSeq: 20_000, windows: 2, incidents: 0 });
    expect(relay.asks()).toBe(2); // one comparison per window that agrees

    held.delete(4_321);
    held.set(15_000, leaf(15_000, 'altered'));
    relay.resetAsks();
    now += 59_999;
    await p.tick(relay.session);
    expect(relay.asks()).toBe(0); // not yet: the re-check interval is 60 s
    now += 1;
    await p.tick(relay.session);
    const status = p.status();
    expect(status.recentSearches.map((s) => s.faults.map((f) => [f.seq, f.kind]))).toEqual([[[4_321, 'missing-at-relay']], [[15_000, 'altered']]]);
    const bound = Math.ceil(Math.log2(10_000)) + 1;
    for (const search of status.recentSearches) {
      console.log(`feed prover: window [${search.fromSeq}, ${search.toSeq}] of 10,000 leaves: ${search.faults.length} fault(s) located in ${search.comparisons} comparisons (bound ${bound})`);
      expect(search.comparisons).toBeLessThanOrEqual(bound);
    }
    expect(held.get(4_321)).toEqual(leaf(4_321)); // resent
    expect(status).toMatchObject({ verifiedThroughSeq: 10_000, incidents: 1, repaired: 1 });
    expect(incidents).toEqual(['15000 altered']);
    now += 60_000;
    await p.tick(relay.session);
    expect(incidents).toEqual(['15000 altered']); // found again, raised once
  });

  it('starts proving after what the relay acknowledged before this agent kept leaves (an upgraded or restored agent): no false incidents', async () => {
    // The relay holds 1..5,000 from before; this agent recorded leaves only from 5,001 on.
    const before = Array.from({ length: 5_000 }, (_, i) => leaf(i + 1));
    const after = Array.from({ length: 10_000 }, (_, i) => leaf(5_001 + i));
    store.recordLeaves('clinical', after);
    const held = new Map([...before, ...after].map((l) => [l.seq, l]));
    const relay = simulatedRelay(held);
    const incidents: string[] = [];
    let acked = 5_000;
    const p = prover(() => acked, incidents);
    await p.tick(relay.session); // opens the first window at 5,001
    acked = 15_000;
    await p.tick(relay.session);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 15_000, windows: 1, incidents: 0 });
    expect(store.windows('clinical')[0]).toMatchObject({ fromSeq: 5_001, toSeq: 15_000, state: 'verified' });
    expect(incidents).toEqual([]);
  });

  it('drops the leaves of trimmed events and still finds, without locating, a later difference in their window', async () => {
    const sent = Array.from({ length: 10_000 }, (_, i) => leaf(i + 1));
    store.recordLeaves('clinical', sent);
    const held = new Map(sent.map((l) => [l.seq, l]));
    const relay = simulatedRelay(held);
    const incidents: string[] = [];
    const p = new FeedProver({
      feed: 'clinical',
      relay: 'cloud',
      config: ProofConfigSchema.parse({}),
      store,
      ackedSeq: () => 10_000,
      buildRepair: async () => {
        throw new Error('not expected');
      },
      journalTrimmedThrough: () => 10_000,
      onIncident: (_feed, fault) => incidents.push(`${fault.seq} ${fault.kind}`),
      clock: () => now,
      log: { info: () => undefined, warn: () => undefined },
    });
    await p.tick(relay.session); // closes [1, 10000]
    now += 60_000;
    await p.tick(relay.session); // trims its leaves, re-checks it by its root
    expect(store.leaves('clinical', 1, 10_000)).toEqual([]);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 10_000, incidents: 0 });
    held.delete(77);
    now += 60_000;
    await p.tick(relay.session);
    expect(incidents).toEqual(['1 window-differs']);
    expect(p.status().verifiedThroughSeq).toBe(0);
  });

  it('never resends what the hospital had the relay delete (a revoked feed)', async () => {
    store.recordLeaves('clinical', [leaf(1), leaf(2), leaf(3)]);
    const held = new Map([1, 2, 3].map((s) => [s, leaf(s)]));
    const relay = simulatedRelay(held);
    let acked = 3;
    const p = prover(() => acked);
    await p.tick(relay.session);
    now += 60 * 60 * 1000;
    await p.tick(relay.session);
    expect(p.status().verifiedThroughSeq).toBe(3);
    // Revoked: the relay deleted everything through its mark 3; reinstated, the feed goes on from 4.
    held.clear();
    p.forgetThrough(3);
    store.recordLeaves('clinical', [leaf(4)]);
    held.set(4, leaf(4));
    acked = 4;
    now += 2 * 60 * 60 * 1000;
    await p.tick(relay.session);
    await p.tick(relay.session);
    expect(held.has(1)).toBe(false);
    expect(p.status()).toMatchObject({ windows: 1, incidents: 0, repaired: 0, verifiedThroughSeq: 4 });
    expect(p.closedThroughSeq()).toBe(4);
  });

  it('closes a partial window after an hour, and says so when the relay takes no proofs', async () => {
    store.recordLeaves('clinical', [leaf(1), leaf(2), leaf(3)]);
    const relay = simulatedRelay(new Map([1, 2, 3].map((s) => [s, leaf(s)])));
    const p = prover(() => 3);
    await p.tick(relay.session);
    expect(p.status().verifiedThroughSeq).toBe(0);
    now += 60 * 60 * 1000;
    await p.tick(relay.session);
    expect(p.status().verifiedThroughSeq).toBe(3);
    const old = { welcome: { relayId: 'old-relay' } } as unknown as RelaySession;
    await p.tick(old);
    expect(p.status()).toMatchObject({ state: 'unavailable', problem: expect.stringContaining('does not list "proof-v1"') });
    expect(p.closedThroughSeq()).toBeUndefined();
  });
});
