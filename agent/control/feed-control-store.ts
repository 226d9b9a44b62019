// The operator's control state per feed and the policy last recorded in the
// ledger, in agent.db (table feed_controls). Every write here runs inside the
// transaction of the ledger record that justifies it (EgressLedger.append's
// effect), so the state and its record are committed together or not at all.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../store/index.js';
import { UnknownFeedControlStateError } from './errors.js';
import { FEED_CONTROL_STATES, parseFeedControlState, type FeedControlState } from './feed-control-state.js';

export interface FeedControlRow {
  feed: string;
  state: FeedControlState;
  /** The operator's reason for the state; null when none was given. */
  reason: string | null;
  /** The policy last recorded in the ledger; null before the first record. */
  policyVersion: number | null;
  policyDigest: string | null;
  /** Milliseconds since the epoch. */
  updatedAtMs: number;
}

export class FeedControlStore {
  private readonly selectAll: Statement;
  private readonly upsertState: Statement;
  private readonly upsertPolicy: Statement;
  private readonly lastRemoval: Statement;

  constructor(db: SqliteDatabase) {
    this.selectAll = db.prepare('SELECT feed, state, reason, policy_version, policy_digest, updated_at_ms FROM feed_controls');
    this.upsertState = db.prepare(
      `INSERT INTO feed_controls (feed, state, reason, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (feed) DO UPDATE SET state = excluded.state, reason = excluded.reason, updated_at_ms = excluded.updated_at_ms`,
    );
    this.upsertPolicy = db.prepare(
      `INSERT INTO feed_controls (feed, policy_version, policy_digest, updated_at_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (feed) DO UPDATE SET policy_version = excluded.policy_version, policy_digest = excluded.policy_digest,
         updated_at_ms = excluded.updated_at_ms`,
    );
    // "type <> 'batch'" lets it use the ledger's index of administrative records.
    this.lastRemoval = db.prepare(
      `SELECT type FROM egress_ledger WHERE type <> 'batch' AND type IN ('revoke', 'purge') AND feed = ? ORDER BY idx DESC LIMIT 1`,
    );
  }

  /** Whether the feed's last removal request in the egress ledger was a revoke or a purge (what a restart in 'revoking' sends again). */
  lastRemovalRequest(feed: string): 'revoke' | 'purge' | undefined {
    return (this.lastRemoval.get(feed) as { type: 'revoke' | 'purge' } | undefined)?.type;
  }

  /**
   * Every feed ever controlled or recorded, by name. A feed with no row is active.
   * Throws UnknownFeedControlStateError for a state this agent does not know.
   */
  all(): Map<string, FeedControlRow> {
    const rows = this.selectAll.all() as { feed: string; state: string; reason: string | null; policy_version: number | null; policy_digest: string | null; updated_at_ms: number }[];
    return new Map(
      rows.map((r) => [
        r.feed,
        {
          feed: r.feed,
          state: stateOf(r.feed, r.state),
          reason: r.reason,
          policyVersion: r.policy_version,
          policyDigest: r.policy_digest,
          updatedAtMs: r.updated_at_ms,
        },
      ]),
    );
  }

  setState(feed: string, state: FeedControlState, reason: string | null, atMs: number): void {
    this.upsertState.run(feed, state, reason, atMs);
  }

  setPolicy(feed: string, version: number, digest: string | null, atMs: number): void {
    this.upsertPolicy.run(feed, version, digest, atMs);
  }
}

/** A stored word as a state; a word this agent does not know stops it loudly rather than guess. */
function stateOf(feed: string, word: string): FeedControlState {
  const state = parseFeedControlState(word);
  if (state === undefined) throw new UnknownFeedControlStateError(feed, word, FEED_CONTROL_STATES);
  return state;
}
