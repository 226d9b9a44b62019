// The replication links' state changes, kept in agent.db (table `link_history`)
// so the dashboard's 24-hour timeline survives a restart of the agent.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../store/index.js';

/** One state change of one relay's link. */
export interface LinkHistoryEntry {
  relay: string;
  /** ms since the epoch. */
  atMs: number;
  /** The state entered: streaming, connecting, backoff, offline, paused, closed. */
  state: string;
  reason: string;
}

/** Reasons are error texts; anything longer is cut, since they are shown on one line. */
const MAX_REASON_CHARS = 300;

export class LinkHistory {
  private readonly insertStatement: Statement;
  private readonly sinceStatement: Statement;
  private readonly beforeStatement: Statement;
  private readonly pruneStatement: Statement;

  constructor(db: SqliteDatabase) {
    this.insertStatement = db.prepare('INSERT INTO link_history (relay, at_ms, state, reason) VALUES (?, ?, ?, ?)');
    this.sinceStatement = db.prepare('SELECT relay, at_ms AS atMs, state, reason FROM link_history WHERE relay = ? AND at_ms >= ? ORDER BY at_ms, rowid');
    this.beforeStatement = db.prepare('SELECT relay, at_ms AS atMs, state, reason FROM link_history WHERE relay = ? AND at_ms < ? ORDER BY at_ms DESC, rowid DESC LIMIT 1');
    // Each relay's last change before the cut stays: it is the state the window opens in.
    this.pruneStatement = db.prepare(
      'DELETE FROM link_history WHERE at_ms < @before AND rowid NOT IN (SELECT MAX(rowid) FROM link_history WHERE at_ms < @before GROUP BY relay)',
    );
  }

  record(entry: LinkHistoryEntry): void {
    this.insertStatement.run(entry.relay, entry.atMs, entry.state, entry.reason.slice(0, MAX_REASON_CHARS));
  }

  /**
   * The relay's changes from `fromMs` on, oldest first, preceded by the last
   * change before it (the state the window opens in), when there is one.
   */
  since(relay: string, fromMs: number): LinkHistoryEntry[] {
    const before = this.beforeStatement.get(relay, fromMs) as LinkHistoryEntry | undefined;
    const after = this.sinceStatement.all(relay, fromMs) as LinkHistoryEntry[];
    return before ? [before, ...after] : after;
  }

  /** Deletes changes before `beforeMs` (ms since the epoch) but each relay's last one; returns how many. */
  prune(beforeMs: number): number {
    return this.pruneStatement.run({ before: beforeMs }).changes;
  }
}
