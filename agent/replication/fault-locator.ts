// Locates every difference between the agent's leaves of a closed window and
// the relay's, asking the relay only for roots of prefixes of the window and,
// at the end of each search, for the few leaves of one short range. Pure: the
// relay is a function handed in; no sockets, no SQLite, no timers.
//
// Why prefixes, not halves: a prefix [from, s] is equal on both sides exactly
// when no fault lies at or before s, a monotone predicate, so a binary search
// over the agent's leaf boundaries finds the first fault in ⌈log₂(N/T)⌉ asks;
// listing the last T-leaf interval classifies it (+1). The window's own
// comparison (the close) is the first fault's extra one, so a fault is found in
// at most ⌈log₂ N⌉ + 1 comparisons for T >= 2. Once the relay's leaves are known
// through a point, whether anything after it differs is computed locally from
// the window root the relay already gave (known prefix ++ agent's rest): a
// further search is started only when there is a further fault, and each costs
// at most ⌈log₂ N⌉ + 1 asks of its own.
//
// Failure modes handled:
//  1. Several faults in one window: found one search (or one listing) at a time.
//  2. An event the relay holds at a seq the agent never sent (a filtered
//     position, or after the agent's last leaf): the boundaries cover every seq
//     of the window, so it falls in some listed interval.
//  3. A window the agent sent no event in (a quiet feed) with relay extras: the
//     whole window is listed at once.
import { feedLeafData, leafHash, merkleRoot } from '../../protocol/index.js';

/** One leaf: an event's seq and the SHA-256 of its body as sent (agent) or as stored (relay). */
export interface ProofLeafValue {
  seq: number;
  bodySha256: Buffer;
}

/** The relay's answer about [fromSeq, toSeq]: its root, and its leaves when they were listed. */
export interface RelayRangeAnswer {
  leafCount: number;
  root: Buffer;
  leaves?: ProofLeafValue[];
}

/** Asks the relay about a range (one comparison). */
export type AskRelay = (fromSeq: number, toSeq: number, listLeaves: boolean) => Promise<RelayRangeAnswer>;

/**
 * missing-at-relay: the agent sent it, the relay does not hold it (repair: resend).
 * altered: both hold the seq, the bodies' hashes differ (integrity incident).
 * extra-at-relay: the relay holds a seq the agent never sent (integrity incident).
 * window-differs: a window whose events the journal trimmed (and its leaves with
 * them) no longer matches its root: found, but not located (integrity incident;
 * `seq` is the window's first).
 */
export type FaultKind = 'missing-at-relay' | 'altered' | 'extra-at-relay' | 'window-differs';

export interface LeafFault {
  seq: number;
  kind: FaultKind;
  /** The agent's leaf hash (hex) where it has one. */
  agentSha256?: string;
  /** The relay's leaf hash (hex) where it has one. */
  relaySha256?: string;
}

export interface LocatedFaults {
  faults: LeafFault[];
  /** Asks made (comparisons), the window's own comparison not included. */
  comparisons: number;
}

/** Leaves listed at once when a search has narrowed to this many agent leaves; at least 2 (see the header). */
export const DEFAULT_LIST_LEAVES = 8;

/** The RFC 9162 root over leaves (seq, bodySha256). */
export function rootOfLeaves(leaves: readonly ProofLeafValue[]): Buffer {
  return merkleRoot(leaves.map((leaf) => leafHash(feedLeafData(leaf.seq, leaf.bodySha256))));
}

/**
 * Every fault of window [fromSeq, toSeq], given the agent's leaves (seq order)
 * and the relay's root over the window (from the close that found them unequal).
 */
export async function locateFaults(options: {
  fromSeq: number;
  toSeq: number;
  agentLeaves: readonly ProofLeafValue[];
  relayWindowRoot: Buffer;
  ask: AskRelay;
  listLeaves?: number;
}): Promise<LocatedFaults> {
  const { fromSeq, toSeq, ask } = options;
  const listAt = Math.max(2, options.listLeaves ?? DEFAULT_LIST_LEAVES);
  const faults: LeafFault[] = [];
  let comparisons = 0;
  /** The relay's leaves of [fromSeq, knownThrough], exactly. */
  const known: ProofLeafValue[] = [];
  let knownThrough = fromSeq - 1;
  let rest = options.agentLeaves.filter((leaf) => leaf.seq >= fromSeq && leaf.seq <= toSeq);

  while (!rootOfLeaves([...known, ...rest]).equals(options.relayWindowRoot)) {
    // Boundary of candidate i: the seq of rest[i], the window's end for the last (extras after it).
    const boundary = (i: number): number => (i === rest.length - 1 ? toSeq : rest[i]!.seq);
    let lo = 0;
    let hi = rest.length - 1;
    while (hi - lo + 1 > listAt) {
      const mid = Math.floor((lo + hi) / 2);
      comparisons += 1;
      const answer = await ask(fromSeq, boundary(mid), false);
      const expected = rootOfLeaves([...known, ...rest.slice(0, mid + 1)]);
      if (answer.root.equals(expected)) lo = mid + 1;
      else hi = mid;
    }
    // Through boundary(lo - 1) the relay holds exactly the agent's leaves.
    const listFrom = lo === 0 ? knownThrough + 1 : boundary(lo - 1) + 1;
    known.push(...rest.slice(0, lo));
    const listTo = rest.length === 0 ? toSeq : boundary(hi);
    comparisons += 1;
    const listed = (await ask(listFrom, listTo, true)).leaves ?? [];
    faults.push(...compareLeaves(rest.slice(lo, hi + 1), listed));
    known.push(...listed);
    knownThrough = listTo;
    rest = rest.slice(hi + 1);
    // Listed through the window's end: every leaf of the relay's is known (a relay
    // that changed meanwhile would otherwise keep the loop going).
    if (knownThrough >= toSeq) break;
  }
  return { faults, comparisons };
}

/** Leaf-by-leaf differences of one range (both lists in seq order). */
export function compareLeaves(agent: readonly ProofLeafValue[], relay: readonly ProofLeafValue[]): LeafFault[] {
  const faults: LeafFault[] = [];
  const relayBySeq = new Map(relay.map((leaf) => [leaf.seq, leaf]));
  const agentSeqs = new Set(agent.map((leaf) => leaf.seq));
  for (const leaf of agent) {
    const theirs = relayBySeq.get(leaf.seq);
    if (!theirs) faults.push({ seq: leaf.seq, kind: 'missing-at-relay', agentSha256: leaf.bodySha256.toString('hex') });
    else if (!theirs.bodySha256.equals(leaf.bodySha256)) {
      faults.push({ seq: leaf.seq, kind: 'altered', agentSha256: leaf.bodySha256.toString('hex'), relaySha256: theirs.bodySha256.toString('hex') });
    }
  }
  for (const leaf of relay) if (!agentSeqs.has(leaf.seq)) faults.push({ seq: leaf.seq, kind: 'extra-at-relay', relaySha256: leaf.bodySha256.toString('hex') });
  return faults.sort((a, b) => a.seq - b.seq);
}
