// Alerts kept in agent.db (table `alerts`, see agent/store/migrations.ts), so
// they outlive a restart: the dashboard shows what happened while nobody looked,
// and the evaluator resumes from the levels last reported instead of repeating
// them.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../store/index.js';
import { alertKey, type AlertRecord, type AlertRule } from './alert.js';

interface AlertRow {
  id: number;
  at_ms: number;
  rule: string;
  subject: string;
  level: number;
  previous_level: number;
  severity: string;
  message: string;
  value: number | null;
  threshold: number | null;
  details: string;
}

export class AlertStore {
  private readonly insertStatement: Statement;
  private readonly recentStatement: Statement;
  private readonly latestStatement: Statement;
  private readonly pruneStatement: Statement;

  constructor(db: SqliteDatabase) {
    this.insertStatement = db.prepare(
      `INSERT INTO alerts (at_ms, rule, subject, level, previous_level, severity, message, value, threshold, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.recentStatement = db.prepare('SELECT * FROM alerts ORDER BY id DESC LIMIT ?');
    this.latestStatement = db.prepare('SELECT * FROM alerts WHERE id IN (SELECT MAX(id) FROM alerts GROUP BY rule, subject) ORDER BY id');
    // The newest record of each condition stays whatever its age: it is what tells
    // a restarted agent that an alert is still firing.
    this.pruneStatement = db.prepare('DELETE FROM alerts WHERE at_ms < ? AND id NOT IN (SELECT MAX(id) FROM alerts GROUP BY rule, subject)');
  }

  /** Stores the alert; returns it with its id. */
  insert(alert: AlertRecord): AlertRecord {
    const result = this.insertStatement.run(
      alert.atMs,
      alert.rule,
      alert.subject,
      alert.level,
      alert.previousLevel,
      alert.severity,
      alert.message,
      alert.value,
      alert.threshold,
      JSON.stringify(alert.details),
    );
    return { ...alert, id: Number(result.lastInsertRowid) };
  }

  /** The newest alerts first; at most `limit`. */
  recent(limit: number): AlertRecord[] {
    return (this.recentStatement.all(limit) as AlertRow[]).map(fromRow);
  }

  /** The newest record of every condition ever alerted on, oldest first. */
  latestPerCondition(): AlertRecord[] {
    return (this.latestStatement.all() as AlertRow[]).map(fromRow);
  }

  /** The level last reported per condition, keyed by alertKey. */
  lastLevels(): Map<string, number> {
    return new Map(this.latestPerCondition().map((a) => [alertKey(a.rule, a.subject), a.level]));
  }

  /** Deletes alerts older than `beforeMs` (ms since the epoch), except each condition's newest; returns how many. */
  prune(beforeMs: number): number {
    return this.pruneStatement.run(beforeMs).changes;
  }
}

function fromRow(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    atMs: row.at_ms,
    rule: row.rule as AlertRule,
    subject: row.subject,
    level: row.level,
    previousLevel: row.previous_level,
    state: row.level === 0 ? 'resolved' : 'firing',
    severity: row.severity as AlertRecord['severity'],
    message: row.message,
    value: row.value,
    threshold: row.threshold,
    details: JSON.parse(row.details) as AlertRecord['details'],
  };
}
