// What the completeness proofs keep in agent.db (migration 13): the leaves as
// sent, the closed windows with the agent's own root and the relay's verdict,
// the window each feed is filling, and the integrity incidents found.
//
// Failure modes handled:
//  1. A seq resent (the relay lost it, or a repair): the leaf is replaced, since
//     an encrypted field's random IV gives the resend another body.
//  2. An incident found again at every re-check: kept once per (feed, seq,
//     kind) with when it was first found; `recordIncident` says whether it is new,
//     so the alert and the ledger record are raised once.
//  3. Recording a batch's leaves blocks the event loop (synchronous, before the
//     hand-over): they go in statements of LEAVES_PER_INSERT rows, then 10, then
//     1, rather than one statement per leaf.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../store/index.js';
import type { FaultKind, LeafFault, ProofLeafValue } from './fault-locator.js';

export type WindowState = 'verified' | 'incident';

/** A closed window of a feed. */
export interface ProofWindow {
  feed: string;
  fromSeq: number;
  toSeq: number;
  leafCount: number;
  root: Buffer;
  state: WindowState;
  /** When the relay last compared it, ms since the epoch. */
  checkedAtMs: number;
  /** The relay's signed tree head text and signature; null until the relay signed one. */
  signedText: string | null;
  signature: string | null;
}

/** An integrity incident as kept. */
export interface IntegrityIncident {
  feed: string;
  seq: number;
  kind: FaultKind;
  agentSha256: string | null;
  relaySha256: string | null;
  foundAtMs: number;
}

/**
 * Leaves per multi-row INSERT. Measured, 1,000-leaf batches: one statement per
 * leaf took ~2x the time of 100-row statements; 100 is near the flat part of
 * the curve and 300 bound parameters is far below SQLite's limit.
 */
const LEAVES_PER_INSERT = 100;

export class FeedProofStore {
  private readonly statements: Record<string, Statement>;
  /** INSERT OR REPLACE of LEAVES_PER_INSERT, 10 and 1 leaves, largest first. */
  private readonly putLeafChunks: readonly { size: number; statement: Statement }[];
  private readonly recordLeavesTransaction: (feed: string, leaves: readonly ProofLeafValue[]) => void;
  private readonly forgetTransaction: (feed: string, seq: number) => void;

  constructor(db: SqliteDatabase) {
    this.putLeafChunks = [LEAVES_PER_INSERT, 10, 1].map((size) => ({
      size,
      statement: db.prepare(`INSERT OR REPLACE INTO feed_leaves (feed, seq, body_sha256) VALUES ${Array.from({ length: size }, () => '(?, ?, ?)').join(', ')}`),
    }));
    this.statements = {
      leaves: db.prepare('SELECT seq, body_sha256 FROM feed_leaves WHERE feed = ? AND seq >= ? AND seq <= ? ORDER BY seq'),
      putWindow: db.prepare(
        `INSERT OR REPLACE INTO feed_proof_windows (feed, from_seq, to_seq, leaf_count, root, state, checked_at_ms, signed_text, signature)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      windows: db.prepare('SELECT * FROM feed_proof_windows WHERE feed = ? ORDER BY from_seq'),
      openWindow: db.prepare('SELECT from_seq, opened_at_ms FROM feed_proof_open_windows WHERE feed = ?'),
      putOpenWindow: db.prepare('INSERT OR REPLACE INTO feed_proof_open_windows (feed, from_seq, opened_at_ms) VALUES (?, ?, ?)'),
      putIncident: db.prepare(
        'INSERT OR IGNORE INTO feed_integrity_incidents (feed, seq, kind, agent_sha256, relay_sha256, found_at_ms) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      incidents: db.prepare('SELECT * FROM feed_integrity_incidents WHERE feed = ? ORDER BY seq, kind'),
      firstLeaf: db.prepare('SELECT MIN(seq) AS seq FROM feed_leaves WHERE feed = ?'),
      forgetLeaves: db.prepare('DELETE FROM feed_leaves WHERE feed = ? AND seq <= ?'),
      trimLeaves: db.prepare('DELETE FROM feed_leaves WHERE feed = ? AND seq <= ?'),
      forgetWindows: db.prepare('DELETE FROM feed_proof_windows WHERE feed = ? AND from_seq <= ?'),
    };
    this.forgetTransaction = db.transaction((feed: string, seq: number) => {
      this.statements.forgetLeaves!.run(feed, seq);
      this.statements.forgetWindows!.run(feed, seq);
    });
    this.recordLeavesTransaction = db.transaction((feed: string, leaves: readonly ProofLeafValue[]) => {
      // Rows of one statement go in order, so a seq listed twice keeps its last leaf, as one by one.
      let at = 0;
      for (const { size, statement } of this.putLeafChunks) {
        if (leaves.length - at < size) continue;
        const values: unknown[] = new Array(size * 3);
        for (; leaves.length - at >= size; at += size) {
          for (let i = 0; i < size; i++) {
            const leaf = leaves[at + i]!;
            values[i * 3] = feed;
            values[i * 3 + 1] = leaf.seq;
            values[i * 3 + 2] = leaf.bodySha256;
          }
          statement.run(values);
        }
      }
    });
  }

  /** Keeps the leaves of a batch about to be sent (failure mode 1). */
  recordLeaves(feed: string, leaves: readonly ProofLeafValue[]): void {
    if (leaves.length > 0) this.recordLeavesTransaction(feed, leaves);
  }

  /** The feed's leaves with fromSeq <= seq <= toSeq, in seq order. */
  leaves(feed: string, fromSeq: number, toSeq: number): ProofLeafValue[] {
    return (this.statements.leaves!.all(feed, fromSeq, toSeq) as { seq: number; body_sha256: Buffer }[]).map((row) => ({ seq: row.seq, bodySha256: row.body_sha256 }));
  }

  saveWindow(window: ProofWindow): void {
    this.statements.putWindow!.run(window.feed, window.fromSeq, window.toSeq, window.leafCount, window.root, window.state, window.checkedAtMs, window.signedText, window.signature);
  }

  /** The feed's closed windows, oldest first. */
  windows(feed: string): ProofWindow[] {
    return (this.statements.windows!.all(feed) as Record<string, unknown>[]).map((row) => ({
      feed: row.feed as string,
      fromSeq: row.from_seq as number,
      toSeq: row.to_seq as number,
      leafCount: row.leaf_count as number,
      root: row.root as Buffer,
      state: row.state as WindowState,
      checkedAtMs: row.checked_at_ms as number,
      signedText: (row.signed_text as string | null) ?? null,
      signature: (row.signature as string | null) ?? null,
    }));
  }

  /**
   * The window the feed is filling. The first time it is asked, it is opened at
   * `nowMs` from the first seq this agent can prove: the feed's first recorded
   * leaf, or `ackedSeq` + 1 when that is lower or there is none. An agent
   * upgraded to proofs, or restored from a backup feed, holds no leaves of what
   * the relay acknowledged before; a window over those seqs would report every
   * event the relay holds as one this agent never sent.
   */
  openWindow(feed: string, nowMs: number, ackedSeq: number): { fromSeq: number; openedAtMs: number } {
    const row = this.statements.openWindow!.get(feed) as { from_seq: number; opened_at_ms: number } | undefined;
    if (row) return { fromSeq: row.from_seq, openedAtMs: row.opened_at_ms };
    const firstLeaf = (this.statements.firstLeaf!.get(feed) as { seq: number | null }).seq;
    const fromSeq = Math.min(firstLeaf ?? Number.POSITIVE_INFINITY, ackedSeq + 1);
    this.statements.putOpenWindow!.run(feed, fromSeq, nowMs);
    return { fromSeq, openedAtMs: nowMs };
  }

  /** Opens the feed's next window at fromSeq. */
  startWindow(feed: string, fromSeq: number, nowMs: number): void {
    this.statements.putOpenWindow!.run(feed, fromSeq, nowMs);
  }

  /**
   * Drops the feed's leaves through `seq` (the journal trimmed those events, so
   * they can no longer be resent); the windows keep their count and root, so a
   * re-check still finds a difference, without locating it.
   */
  trimLeavesThrough(feed: string, seq: number): number {
    return this.statements.trimLeaves!.run(feed, seq).changes;
  }

  /** Drops the feed's leaves and windows through `seq` (the feed was revoked: the relay deleted them). Incidents stay: they are evidence. */
  forgetThrough(feed: string, seq: number): void {
    this.forgetTransaction(feed, seq);
  }

  /** Keeps an incident; true when it was not known before (failure mode 2). */
  recordIncident(feed: string, fault: LeafFault, nowMs: number): boolean {
    return this.statements.putIncident!.run(feed, fault.seq, fault.kind, fault.agentSha256 ?? null, fault.relaySha256 ?? null, nowMs).changes === 1;
  }

  incidents(feed: string): IntegrityIncident[] {
    return (this.statements.incidents!.all(feed) as Record<string, unknown>[]).map((row) => ({
      feed: row.feed as string,
      seq: row.seq as number,
      kind: row.kind as FaultKind,
      agentSha256: (row.agent_sha256 as string | null) ?? null,
      relaySha256: (row.relay_sha256 as string | null) ?? null,
      foundAtMs: row.found_at_ms as number,
    }));
  }
}
