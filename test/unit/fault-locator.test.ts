// The completeness proof's fault search (agent/proofs/fault-locator.ts) against
// a relay simulated as a plain leaf list: every kind of fault is found at its
// exact seq, and each costs at most ⌈log₂ N⌉ + 1 comparisons (the window's own
// close included).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { locateFaults, rootOfLeaves, type AskRelay, type ProofLeafValue } from '../../agent/replication/fault-locator.js';

const sha = (text: string): Buffer => createHash('sha256').update(text).digest();

function leaves(seqs: number[]): ProofLeafValue[] {
  return seqs.map((seq) => ({ seq, bodySha256: sha(`body ${seq}`) }));
}

/** A relay holding `held`; counts the asks. */
function relay(held: ProofLeafValue[]): { ask: AskRelay; root: (from: number, to: number) => Buffer } {
  const inRange = (from: number, to: number): ProofLeafValue[] => held.filter((l) => l.seq >= from && l.seq <= to);
  return {
    ask: async (from, to, list) => {
      const range = inRange(from, to);
      return { leafCount: range.length, root: rootOfLeaves(range), ...(list ? { leaves: range } : {}) };
    },
    root: (from, to) => rootOfLeaves(inRange(from, to)),
  };
}

async function locate(agent: ProofLeafValue[], held: ProofLeafValue[], from: number, to: number, listLeaves?: number) {
  const r = relay(held);
  return locateFaults({ fromSeq: from, toSeq: to, agentLeaves: agent, relayWindowRoot: r.root(from, to), ask: r.ask, ...(listLeaves ? { listLeaves } : {}) });
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('locateFaults', () => {
  it('finds nothing and asks nothing when the roots agree', async () => {
    const agent = leaves(range(1, 100));
    expect(await locate(agent, agent, 1, 100)).toEqual({ faults: [], comparisons: 0 });
  });

  it('locates one missing, altered or extra event at every position within ⌈log₂ N⌉ + 1 comparisons', async () => {
    for (const n of [1, 2, 3, 7, 64, 100, 1000]) {
      const bound = Math.ceil(Math.log2(Math.max(n, 2))) + 1;
      // Every position for small windows, a spread of them for large ones.
      const positions = n <= 100 ? range(0, n - 1) : [0, 1, Math.floor(n / 3), n - 2, n - 1];
      for (const i of positions) {
        // Agent leaves at even seqs, so an odd seq is one the agent never sent.
        const agent = leaves(range(1, n).map((k) => 2 * k));
        const seq = agent[i]!.seq;
        const missing = agent.filter((l) => l.seq !== seq);
        const altered = agent.map((l) => (l.seq === seq ? { seq, bodySha256: sha('altered') } : l));
        const extra = [...agent, { seq: seq - 1, bodySha256: sha('forged') }].sort((a, b) => a.seq - b.seq);
        for (const [held, kind, at] of [
          [missing, 'missing-at-relay', seq],
          [altered, 'altered', seq],
          [extra, 'extra-at-relay', seq - 1],
        ] as const) {
          const found = await locate(agent, held, 1, 2 * n + 1);
          expect(found.faults.map((f) => [f.seq, f.kind]), `n=${n} i=${i} ${kind}`).toEqual([[at, kind]]);
          // +1: the close_window comparison that found the window unequal.
          expect(found.comparisons + 1, `n=${n} i=${i} ${kind}`).toBeLessThanOrEqual(bound);
        }
      }
    }
  });

  it('locates several faults in one window, each within its own bound', async () => {
    const n = 10_000;
    const agent = leaves(range(1, n).map((k) => 2 * k));
    const held = agent
      .filter((l) => l.seq !== 2 * 1234) // deleted
      .map((l) => (l.seq === 2 * 5000 ? { seq: l.seq, bodySha256: sha('altered') } : l));
    held.push({ seq: 2 * 8000 + 1, bodySha256: sha('forged') }); // duplicated into a seq never sent
    held.sort((a, b) => a.seq - b.seq);
    const found = await locate(agent, held, 1, 2 * n + 1);
    expect(found.faults.map((f) => [f.seq, f.kind])).toEqual([
      [2468, 'missing-at-relay'],
      [10000, 'altered'],
      [16001, 'extra-at-relay'],
    ]);
    expect(found.comparisons + 1).toBeLessThanOrEqual(3 * (Math.ceil(Math.log2(n)) + 1));
  });

  it('lists a window the agent sent nothing in, and extras after the agent\'s last leaf', async () => {
    const quiet = await locate([], leaves([5, 9]), 1, 10);
    expect(quiet.faults.map((f) => [f.seq, f.kind])).toEqual([[5, 'extra-at-relay'], [9, 'extra-at-relay']]);
    expect(quiet.comparisons).toBe(1);
    const agent = leaves(range(1, 50));
    const tail = await locate(agent, [...agent, ...leaves([60])], 1, 60);
    expect(tail.faults.map((f) => [f.seq, f.kind])).toEqual([[60, 'extra-at-relay']]);
  });

  it('names the hashes on both sides', async () => {
    const agent = leaves([1, 2, 3]);
    const found = await locate(agent, [agent[0]!, { seq: 2, bodySha256: sha('x') }, agent[2]!], 1, 3);
    expect(found.faults).toEqual([{ seq: 2, kind: 'altered', agentSha256: sha('body 2').toString('hex'), relaySha256: sha('x').toString('hex') }]);
  });
});
