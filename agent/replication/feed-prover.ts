// One feed's completeness proofs against one relay: closes windows of the
// feed's acknowledged seqs (every windowSeqs seqs or windowMs, whichever first),
// compares the agent's RFC 9162 root with the relay's, locates any difference
// (fault-locator.ts), resends what the relay lacks and records what it holds
// differently as an integrity incident; verified windows are compared again
// round-robin, so a fault made at the relay later is found too.
//
// Failure modes handled:
//  1. A relay without "proof-v1": nothing is sent; the status says which relay
//     upgrade is missing, once; replication goes on.
//  2. The stream ends mid-proof: the request rejects, the window stays open or
//     unverified, and the next stream's tick starts it again (nothing is
//     recorded from half a comparison).
//  3. An event missing at the relay: resent as a repair batch (the relay fills
//     only absent events below its mark); the window is compared again and,
//     when it now agrees, verified with a signed tree head.
//  4. An event altered at the relay, or one the relay holds that the agent never
//     sent: an integrity incident, kept once (feed-proof-store.ts), raised once
//     (onIncident: ledger record and alert); nothing is overwritten, and the
//     window stays `incident`, so "verified complete through" stops before it.
//  6. The hospital revoked the feed (the relay deleted it): the windows, leaves
//     and open window through the revocation mark are forgotten
//     (forgetThrough), so a re-check never resends what the hospital had
//     deleted; a revoked feed is not proved at all.
//  7. Leaves of events the journal trimmed are dropped (they could not serve a
//     resend); such a window is still compared by the count and root it kept,
//     and a difference is an incident (window-differs) found, not located.
//  5. A window the journal no longer holds for a repair: the fault stays an
//     incident (kind missing-at-relay) naming why it could not be resent.
//  8. The relay's retention removed the feed's oldest events (every answer
//     carries its retention floor): a window starting at or below the floor,
//     whose roots differ, is retired as removed by the relay's retention — not
//     located, not resent, no incident — and never compared again; a stored
//     window keeps its verdict and signed tree head. A window being closed that
//     the floor cuts is compared over the seqs above the floor. Windows above
//     the floor are checked as before, so a fault there is still found.
//     (A repair below the floor would be refused: the relay never takes back
//     what its retention removed.)
import type { LeafFault, ProofLeafValue } from './fault-locator.js';
import { locateFaults, rootOfLeaves } from './fault-locator.js';
import type { FeedProofStore, ProofWindow } from './feed-proof-store.js';
import type { ProofConfig } from './proof-config.js';
import type { OutboundBatch, ProofChannel, ProofReply, RelaySession } from './relay-transport.js';
import { PROOF_FEATURE } from '../../protocol/index.js';
import { IntegrityIncidentError } from './errors.js';

/** What the status, dashboard and metrics show of a feed's proofs. */
export interface FeedProofStatus {
  /** off: disabled in config; unavailable: the relay takes no proofs (see problem); running otherwise. */
  state: 'off' | 'unavailable' | 'running';
  /** Every seq through this one is verified complete at the relay (0: none yet). */
  verifiedThroughSeq: number;
  /** When the relay last answered a proof of this feed, ms since the epoch; null before. */
  lastProofAtMs: number | null;
  windows: number;
  /** Integrity incidents found (altered, extra, or missing and not resendable). */
  incidents: number;
  /** Events the relay lacked and that were resent. */
  repaired: number;
  /** The relay's retention floor as its last answer gave it: it holds no event at or below this seq (0: none removed, or not yet answered). */
  relayRetentionFloorSeq: number;
  /** Closed windows starting at or below that floor: removed by the relay's retention, no longer compared. */
  retiredWindows: number;
  /** The newest located fault searches (at most RECENT_SEARCHES): each window, its faults and the comparisons it took (the close included). */
  recentSearches: FaultSearch[];
  problem: string | null;
}

/** One located fault search. */
export interface FaultSearch {
  fromSeq: number;
  toSeq: number;
  faults: LeafFault[];
  /** Comparisons with the relay, the window's own close included. */
  comparisons: number;
  /** When it was done, ms since the epoch. */
  atMs: number;
}

/** Fault searches kept for the status. */
export const RECENT_SEARCHES = 10;

export interface FeedProverOptions {
  feed: string;
  relay: string;
  config: ProofConfig;
  store: FeedProofStore;
  /** The feed's acknowledged seq (the relay's high-water mark as last acked). */
  ackedSeq: () => number;
  /** The events at seqs shaped and encoded again as a repair batch, with their new leaves. */
  buildRepair: (seqs: readonly number[]) => Promise<{ batch: OutboundBatch; leaves: ProofLeafValue[] }>;
  /** The last seq the journal has trimmed; leaves of closed windows through it are dropped. Absent = leaves are kept. */
  journalTrimmedThrough?: () => number;
  /** Told each new integrity incident once (the ledger record and the alert). */
  onIncident?: (feed: string, fault: LeafFault, problem: string) => void;
  clock: () => number;
  log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
}

export class FeedProver {
  private busy = false;
  private lastProofAtMs: number | null = null;
  private lastRecheckAtMs: number;
  private recheckCursor = 0;
  private repaired = 0;
  private readonly searches: FaultSearch[] = [];
  private problem: string | null = null;
  private unavailable = false;
  /** Failure mode 8: the relay's retention floor as last answered (it only rises). */
  private relayFloorSeq = 0;

  constructor(private readonly options: FeedProverOptions) {
    this.lastRecheckAtMs = options.clock();
  }

  /** Called on every replicator tick while a stream is open; starts at most one proof step at a time. Resolves when it is done. */
  async tick(session: RelaySession | undefined): Promise<void> {
    if (!this.options.config.enabled || !session || this.busy) return;
    const proofs = session.proofs;
    if (!proofs) {
      if (!this.unavailable) {
        this.unavailable = true;
        this.problem = `relay ${this.options.relay} (relay id ${session.welcome.relayId}) does not list "${PROOF_FEATURE}" in its Welcome: upgrade the relay to a release with completeness proofs; replication goes on unproved (WL_A029)`;
        this.options.log.warn({ feed: this.options.feed, relay: this.options.relay }, this.problem);
      }
      return;
    }
    if (this.unavailable) {
      this.unavailable = false;
      this.problem = null;
    }
    this.busy = true;
    try {
      await this.step(proofs);
    } catch (error) {
      // Failure mode 2: nothing half-done was recorded; the next tick tries again.
      this.problem = `completeness proof of feed ${this.options.feed} interrupted: ${(error as Error).message}`;
    } finally {
      this.busy = false;
    }
  }

  /** Failure mode 6: the relay deleted the feed through `seq` at the hospital's request. */
  forgetThrough(seq: number): void {
    const { store, feed, clock } = this.options;
    store.forgetThrough(feed, seq);
    if (store.openWindow(feed, clock(), this.options.ackedSeq()).fromSeq <= seq) store.startWindow(feed, seq + 1, clock());
    this.options.log.info({ feed, throughSeq: seq }, 'completeness proofs: the feed was revoked at the relay; its windows through the revocation are forgotten');
  }

  /** The last seq of the feed's closed windows while proofs run against this relay; undefined otherwise (the journal trimmer holds the rest). */
  closedThroughSeq(): number | undefined {
    if (!this.options.config.enabled || this.unavailable) return undefined;
    return this.options.store.openWindow(this.options.feed, this.options.clock(), this.options.ackedSeq()).fromSeq - 1;
  }

  status(): FeedProofStatus {
    const { store, feed, config } = this.options;
    const windows = store.windows(feed);
    return {
      state: !config.enabled ? 'off' : this.unavailable ? 'unavailable' : 'running',
      verifiedThroughSeq: verifiedThrough(windows, this.relayFloorSeq),
      lastProofAtMs: this.lastProofAtMs,
      windows: windows.length,
      relayRetentionFloorSeq: this.relayFloorSeq,
      retiredWindows: windows.filter((w) => w.fromSeq <= this.relayFloorSeq).length,
      incidents: store.incidents(feed).length,
      repaired: this.repaired,
      recentSearches: [...this.searches],
      problem: this.problem,
    };
  }

  private async step(proofs: ProofChannel): Promise<void> {
    const { store, feed, config, clock } = this.options;
    const now = clock();
    const open = store.openWindow(feed, now, this.options.ackedSeq());
    const acked = this.options.ackedSeq();
    const fullAt = open.fromSeq + config.windowSeqs - 1;
    const toSeq = acked >= fullAt ? fullAt : acked >= open.fromSeq && now - open.openedAtMs >= config.windowMs ? acked : undefined;
    if (toSeq !== undefined) {
      await this.check(proofs, open.fromSeq, toSeq, true);
      store.startWindow(feed, toSeq + 1, clock());
      return;
    }
    // Failure mode 7: leaves of events the journal trimmed cannot serve a resend; only closed windows lose theirs.
    const trimmed = this.options.journalTrimmedThrough?.();
    if (trimmed !== undefined && trimmed > 0) store.trimLeavesThrough(feed, Math.min(trimmed, open.fromSeq - 1));
    if (now - this.lastRecheckAtMs < config.recheckIntervalMs) return;
    this.lastRecheckAtMs = now;
    // Failure mode 8: retired windows are not compared again.
    const windows = store.windows(feed).filter((w) => w.fromSeq > this.relayFloorSeq);
    for (let i = 0; i < Math.min(config.recheckWindows, windows.length); i++) {
      const window = windows[this.recheckCursor++ % windows.length]!;
      await this.check(proofs, window.fromSeq, window.toSeq, window.state !== 'verified' || window.signedText === null, window);
    }
  }

  /** Compares [fromSeq, toSeq] with the relay; locates, repairs and records what differs. */
  private async check(proofs: ProofChannel, fromSeq: number, toSeq: number, close: boolean, previous?: ProofWindow): Promise<void> {
    const { store, feed, log } = this.options;
    let leaves = store.leaves(feed, fromSeq, toSeq);
    if (previous && leaves.length !== previous.leafCount) return this.checkByRoot(proofs, previous);
    // One root per set of leaves: a window's root is thousands of hashes, and it was
    // once computed four times per check, a tenth of the agent's loop during a drain.
    let root = rootOfLeaves(leaves);
    let reply = await this.compare(proofs, fromSeq, toSeq, leaves.length, root, close);
    let incident = false;
    const differs = !reply.root.equals(root) || reply.leafCount !== leaves.length;
    if (differs && this.relayFloorSeq >= fromSeq) return this.retire(proofs, fromSeq, toSeq, previous);
    if (differs) {
      const located = await locateFaults({
        fromSeq,
        toSeq,
        agentLeaves: leaves,
        relayWindowRoot: reply.root,
        ask: async (from, to, listLeaves) => {
          const answer = await proofs.ask({ feed, fromSeq: from, toSeq: to, listLeaves });
          this.answered(answer);
          return answer;
        },
      });
      // +1: the comparison of the whole window that found it unequal.
      this.searches.push({ fromSeq, toSeq, faults: located.faults, comparisons: located.comparisons + 1, atMs: this.options.clock() });
      if (this.searches.length > RECENT_SEARCHES) this.searches.shift();
      log.warn({ feed, fromSeq, toSeq, faults: located.faults, comparisons: located.comparisons + 1 }, 'completeness proof: the relay holds the window differently; located');
      const missing = located.faults.filter((f) => f.kind === 'missing-at-relay');
      for (const fault of located.faults.filter((f) => f.kind !== 'missing-at-relay')) {
        incident = true;
        this.raise(fault, fault.kind === 'altered' ? `the relay holds seq ${fault.seq} of feed ${feed} with another body (sent ${fault.agentSha256}, held ${fault.relaySha256})` : `the relay holds seq ${fault.seq} of feed ${feed}, which the agent never sent (held ${fault.relaySha256})`);
      }
      if (missing.length > 0) {
        try {
          const repair = await this.options.buildRepair(missing.map((f) => f.seq));
          await proofs.repair(repair.batch);
          store.recordLeaves(feed, repair.leaves);
          this.repaired += repair.leaves.length;
          log.info({ feed, seqs: missing.map((f) => f.seq) }, 'completeness proof: resent the events the relay lacked');
        } catch (error) {
          if ((error as { retryable?: boolean }).retryable !== undefined) throw error; // the link ended: failure mode 2
          incident = true;
          for (const fault of missing) this.raise(fault, `seq ${fault.seq} of feed ${feed} is missing at the relay and could not be resent: ${(error as Error).message}`);
        }
        leaves = store.leaves(feed, fromSeq, toSeq);
        root = rootOfLeaves(leaves);
        reply = await this.compare(proofs, fromSeq, toSeq, leaves.length, root, true);
      }
    }
    const agrees = reply.root.equals(root) && reply.leafCount === leaves.length;
    const head = reply.treeHead;
    store.saveWindow({
      feed,
      fromSeq,
      toSeq,
      leafCount: leaves.length,
      root,
      state: agrees && !incident ? 'verified' : 'incident',
      checkedAtMs: this.options.clock(),
      signedText: head?.signedText ?? previous?.signedText ?? null,
      signature: head?.signature ?? previous?.signature ?? null,
    });
    if (agrees && !incident && this.problem?.startsWith('completeness proof')) this.problem = null;
  }

  /**
   * Failure mode 8: [fromSeq, toSeq] starts at or below the relay's retention floor and its
   * roots differ. A stored window keeps its row (verdict, signed tree head) and is not compared
   * again; a window being closed is compared over what lies above the floor, if anything.
   */
  private async retire(proofs: ProofChannel, fromSeq: number, toSeq: number, previous: ProofWindow | undefined): Promise<void> {
    const floor = this.relayFloorSeq;
    this.options.log.info(
      { feed: this.options.feed, fromSeq, toSeq, retentionFloorSeq: floor },
      "completeness proof: the window's oldest events were removed by the relay's retention; retired (not compared again, nothing resent, no incident)",
    );
    if (previous || floor >= toSeq) return;
    await this.check(proofs, floor + 1, toSeq, true);
  }

  /** Failure mode 7: a window whose leaves were trimmed, compared by its kept count and root. */
  private async checkByRoot(proofs: ProofChannel, window: ProofWindow): Promise<void> {
    const reply = await proofs.ask({ feed: this.options.feed, fromSeq: window.fromSeq, toSeq: window.toSeq });
    this.answered(reply);
    const agrees = reply.root.equals(window.root) && reply.leafCount === window.leafCount;
    if (!agrees && this.relayFloorSeq >= window.fromSeq) return this.retire(proofs, window.fromSeq, window.toSeq, window);
    if (!agrees) {
      this.raise(
        { seq: window.fromSeq, kind: 'window-differs', agentSha256: window.root.toString('hex'), relaySha256: reply.root.toString('hex') },
        `window [${window.fromSeq}, ${window.toSeq}] of feed ${this.options.feed} no longer matches its root at the relay (${reply.leafCount} events held, ${window.leafCount} sent); its events are trimmed from the journal, so the difference cannot be located or resent`,
      );
    }
    this.options.store.saveWindow({ ...window, state: agrees && window.state === 'verified' ? 'verified' : 'incident', checkedAtMs: this.options.clock() });
  }

  private async compare(proofs: ProofChannel, fromSeq: number, toSeq: number, leafCount: number, root: Buffer, close: boolean): Promise<ProofReply> {
    const reply = await proofs.ask({
      feed: this.options.feed,
      fromSeq,
      toSeq,
      ...(close ? { closeWindow: { leafCount, root } } : {}),
    });
    this.answered(reply);
    return reply;
  }

  /** Every answer: when it came, and the relay's retention floor it carries (failure mode 8). */
  private answered(reply: ProofReply): void {
    this.lastProofAtMs = this.options.clock();
    this.relayFloorSeq = Math.max(this.relayFloorSeq, reply.retentionFloorSeq ?? 0);
  }

  private raise(fault: LeafFault, problem: string): void {
    if (!this.options.store.recordIncident(this.options.feed, fault, this.options.clock())) return;
    const incident = new IntegrityIncidentError(this.options.feed, fault.seq, fault.kind, problem);
    this.options.log.warn({ feed: this.options.feed, seq: fault.seq, kind: fault.kind, code: incident.code }, incident.message);
    this.options.onIncident?.(this.options.feed, fault, problem);
  }
}

/**
 * The end of the run of verified windows from the first one kept (seq 1, or
 * after a revocation the seq after its mark: what was deleted is not owed); 0
 * when the first is not verified. Seqs at or below the relay's retention floor
 * between two windows (a window retired as it closed) are not owed either.
 */
export function verifiedThrough(windows: readonly ProofWindow[], retentionFloorSeq = 0): number {
  let through = (windows[0]?.fromSeq ?? 1) - 1;
  if (windows[0]?.state !== 'verified') return 0;
  for (const window of windows) {
    const contiguous = window.fromSeq === through + 1 || (window.fromSeq > through && window.fromSeq - 1 <= retentionFloorSeq);
    if (!contiguous || window.state !== 'verified') break;
    through = window.toSeq;
  }
  return through;
}
