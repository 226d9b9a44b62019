// Completeness proofs against a relay whose retention removed the feed's oldest
// events (agent/replication/feed-prover.ts, failure mode 8): a window starting at
// or below the relay's retention floor is retired — no incident, no resend, not
// compared again — while a window above it is checked as before, so a fault
// there is still an incident. The relay is simulated as a leaf list that
// honours the proof channel's contract (its answers carry the floor; a repair
// below the floor is refused, as storeRepair refuses it) and agent.db is real.
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
const leaves = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => leaf(from + i));

/** A relay holding `held`, with a retention floor: removeThrough(n) drops every seq <= n, as a sweep does. */
function relayWithRetention(held: Map<number, ProofLeafValue>) {
  let floor = 0;
  const asked: string[] = [];
  let repairs = 0;
  const inRange = (from: number, to: number) => [...held.values()].filter((l) => l.seq >= from && l.seq <= to).sort((a, b) => a.seq - b.seq);
  const proofs: ProofChannel = {
    ask: async (q) => {
      asked.push(`${q.fromSeq}-${q.toSeq}${q.listLeaves ? ' list' : ''}`);
      const range = inRange(q.fromSeq, q.toSeq);
      const root = rootOfLeaves(range);
      // A closed window whose roots match gets a tree head (its text stands in for the signed one).
      const signed = q.closeWindow && q.closeWindow.leafCount === range.length && q.closeWindow.root.equals(root);
      const treeHead = signed ? { fromSeq: q.fromSeq, toSeq: q.toSeq, treeSize: range.length, root, signedAtMs: 0, signedText: `tree head ${q.fromSeq}-${q.toSeq}`, signature: 'signature' } : undefined;
      return { leafCount: range.length, root, retentionFloorSeq: floor, ...(q.listLeaves ? { leaves: range } : {}), ...(treeHead ? { treeHead } : {}) };
    },
    repair: async (batch) => {
      repairs += 1;
      for (const seq of JSON.parse(batch.payload.toString()) as number[]) {
        if (seq <= floor) throw new Error(`seq ${seq} is at or below the retention floor ${floor}`);
        if (!held.has(seq)) held.set(seq, leaf(seq));
      }
    },
  };
  const session = { welcome: { relayId: 'relay-1', protocolVersion: 1, highWater: new Map(), maxBatchBytes: 1 << 20 }, proofs } as unknown as RelaySession;
  return {
    session,
    asked,
    repairs: () => repairs,
    removeThrough(seq: number) {
      for (const s of [...held.keys()]) if (s <= seq) held.delete(s);
      floor = Math.max(floor, seq);
    },
  };
}

describe('FeedProver and the relay\'s retention', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let store: FeedProofStore;
  let now: number;
  let logs: string[];

  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    store = new FeedProofStore(db);
    now = 1_700_000_000_000;
    logs = [];
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  function prover(acked: () => number, incidents: string[]) {
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
      log: { info: (_fields, message) => logs.push(message), warn: (_fields, message) => logs.push(message) },
    });
  }

  it('retires verified windows the relay\'s retention cut into, and still finds a fault above the floor', async () => {
    const sent = leaves(1, 30_000);
    store.recordLeaves('clinical', sent);
    const held = new Map(sent.map((l) => [l.seq, l]));
    const relay = relayWithRetention(held);
    const incidents: string[] = [];
    const p = prover(() => 30_000, incidents);
    for (let i = 0; i < 3; i++) await p.tick(relay.session);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 30_000, windows: 3, incidents: 0, relayRetentionFloorSeq: 0, retiredWindows: 0 });
    const headsBefore = store.windows('clinical').map((w) => w.signedText);
    expect(headsBefore).toEqual(['tree head 1-10000', 'tree head 10001-20000', 'tree head 20001-30000']);

    // The relay's retention removes 1..12,000: the first window entirely, the second in part.
    relay.removeThrough(12_000);
    relay.asked.length = 0;
    now += 60_000;
    await p.tick(relay.session); // re-checks up to 4 windows: each of the 3 once
    expect(incidents).toEqual([]);
    expect(relay.repairs()).toBe(0);
    // One comparison per window, no bisection (no "list" asks, no sub-ranges).
    expect(relay.asked.sort()).toEqual(['1-10000', '10001-20000', '20001-30000']);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 30_000, incidents: 0, repaired: 0, relayRetentionFloorSeq: 12_000, retiredWindows: 2, recentSearches: [] });
    expect(logs.filter((m) => m.includes("removed by the relay's retention"))).toHaveLength(2);
    // The retired windows keep their verdict and signed tree head.
    expect(store.windows('clinical').map((w) => [w.state, w.signedText])).toEqual(headsBefore.map((head) => ['verified', head]));

    // The next re-checks compare only the window above the floor…
    relay.asked.length = 0;
    now += 60_000;
    await p.tick(relay.session);
    expect(relay.asked).toEqual(['20001-30000']);

    // …where a body altered at the relay is still an incident.
    held.set(25_000, leaf(25_000, 'altered'));
    now += 60_000;
    await p.tick(relay.session);
    expect(incidents).toEqual(['25000 altered']);
    expect(p.status()).toMatchObject({ incidents: 1, verifiedThroughSeq: 20_000 });
  });

  it('a window the floor cuts as it closes is compared above the floor; a missing event there is still resent', async () => {
    const sent = leaves(1, 10_000);
    store.recordLeaves('clinical', sent);
    const held = new Map(sent.map((l) => [l.seq, l]));
    const relay = relayWithRetention(held);
    const incidents: string[] = [];
    let acked = 0;
    const p = prover(() => acked, incidents);
    await p.tick(relay.session); // opens the window at 1
    acked = 10_000;
    // Before the window closes, the relay removes 1..4,000 by retention and loses 7,777.
    relay.removeThrough(4_000);
    held.delete(7_777);
    await p.tick(relay.session);
    expect(incidents).toEqual([]);
    expect(held.get(7_777)).toEqual(leaf(7_777)); // resent: above the floor, a missing event is a repair as before
    expect(store.windows('clinical').map((w) => [w.fromSeq, w.toSeq, w.state, w.signedText])).toEqual([[4_001, 10_000, 'verified', 'tree head 4001-10000']]);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 10_000, repaired: 1, relayRetentionFloorSeq: 4_000, retiredWindows: 0 });

    // The next window verifies on from there.
    store.recordLeaves('clinical', leaves(10_001, 20_000));
    for (const l of leaves(10_001, 20_000)) held.set(l.seq, l);
    acked = 20_000;
    await p.tick(relay.session);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 20_000, windows: 2, incidents: 0 });
  });

  it('a whole window removed before it closed is retired: the next window starts after it and verified-through runs past it', async () => {
    store.recordLeaves('clinical', leaves(1, 20_000));
    const held = new Map(leaves(1, 20_000).map((l) => [l.seq, l]));
    const relay = relayWithRetention(held);
    const incidents: string[] = [];
    let acked = 0;
    const p = prover(() => acked, incidents);
    await p.tick(relay.session);
    acked = 20_000;
    relay.removeThrough(10_000);
    await p.tick(relay.session); // closes [1, 10000]: entirely removed
    await p.tick(relay.session); // closes [10001, 20000]
    expect(incidents).toEqual([]);
    expect(relay.repairs()).toBe(0);
    expect(store.windows('clinical').map((w) => [w.fromSeq, w.toSeq, w.state])).toEqual([[10_001, 20_000, 'verified']]);
    expect(p.status()).toMatchObject({ verifiedThroughSeq: 20_000, relayRetentionFloorSeq: 10_000 });
  });

  it('without a floor (a relay from before retention), a window whose events are missing is resent as before', async () => {
    const sent = leaves(1, 10_000);
    store.recordLeaves('clinical', sent);
    const held = new Map(sent.map((l) => [l.seq, l]));
    const relay = relayWithRetention(held);
    const incidents: string[] = [];
    const p = prover(() => 10_000, incidents);
    await p.tick(relay.session);
    held.delete(1);
    held.delete(2);
    now += 60_000;
    await p.tick(relay.session);
    expect(relay.repairs()).toBe(1);
    expect(held.has(1) && held.has(2)).toBe(true);
    expect(p.status()).toMatchObject({ repaired: 2, incidents: 0, relayRetentionFloorSeq: 0, retiredWindows: 0 });
  });
});
