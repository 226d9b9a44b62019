// Finds journaled messages for the message browser: by MSH-10 (control id), key,
// stream or time, newest first, each a handful of index reads however large the
// journal is (migration 9: journal_by_control_id, journal_by_key; 6:
// journal_by_stream; a time range becomes a seq range, seq-for-time.ts).
// Bodies are read one at a time, only when asked for.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';
import { firstSeqAtOrAfter } from './seq-for-time.js';
import { eventFromRow, type EventOp } from '../../protocol/index.js';

/** What to look for; every field given must match. */
export interface MessageQuery {
  /** MSH-10 as the sender wrote it (HL7 rows only). */
  controlId?: string;
  key?: string;
  stream?: string;
  /** Committed at or after, ms since the epoch. */
  fromMs?: number;
  /** Committed at or before, ms since the epoch. */
  toMs?: number;
  /** Most rows returned, newest first. */
  limit: number;
}

/** A journaled message without its body. */
export interface MessageSummary {
  seq: number;
  stream: string;
  key: string;
  op: string;
  /** When it was committed (and so acknowledged), ms since the epoch. */
  tsMs: number;
  source: string;
  contentType: string;
  headers: Record<string, string>;
  bodyBytes: number;
}

interface SummaryRow {
  seq: number;
  stream: string;
  key: string;
  op: EventOp;
  ts_ms: number;
  source: string;
  content_type: string;
  headers: string;
  body_bytes: number;
}

const SUMMARY_COLUMNS = 'seq, stream, key, op, ts_ms, source, content_type, headers, length(body) AS body_bytes';

export class MessageSearch {
  private readonly rowAtOrAfter: Statement;
  private readonly head: Statement;
  private readonly bodyOf: Statement;
  private readonly bySeq: Statement;
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: SqliteDatabase) {
    this.rowAtOrAfter = db.prepare('SELECT seq, ts_ms AS tsMs FROM journal WHERE seq >= ? ORDER BY seq LIMIT 1');
    this.head = db.prepare('SELECT COALESCE(MAX(seq), 0) AS head FROM journal');
    this.bodyOf = db.prepare('SELECT body FROM journal WHERE seq = ?');
    this.bySeq = db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM journal WHERE seq = ?`);
  }

  /** Matching messages, newest first, at most query.limit. */
  search(query: MessageQuery): MessageSummary[] {
    const head = (this.head.get() as { head: number }).head;
    let lo = 1;
    let hi = head;
    const lookup = (seq: number) => this.rowAtOrAfter.get(seq) as { seq: number; tsMs: number } | undefined;
    if (query.fromMs !== undefined) lo = firstSeqAtOrAfter(lookup, lo, hi, query.fromMs);
    if (query.toMs !== undefined) hi = firstSeqAtOrAfter(lookup, lo, hi, query.toMs + 1) - 1;
    if (lo > hi) return [];
    const where = ['seq >= ?', 'seq <= ?'];
    const params: unknown[] = [lo, hi];
    // The most selective filter leads, so the planner takes its index.
    if (query.controlId !== undefined) {
      where.push("json_extract(headers, '$.controlId') = ?", "content_type = 'hl7v2'");
      params.push(query.controlId);
    }
    if (query.key !== undefined) {
      where.push('key = ?');
      params.push(query.key);
    }
    if (query.stream !== undefined) {
      where.push('stream = ?');
      params.push(query.stream);
    }
    // The time filter again on the rows: the seq bounds assume a clock that never stepped back.
    if (query.fromMs !== undefined) {
      where.push('ts_ms >= ?');
      params.push(query.fromMs);
    }
    if (query.toMs !== undefined) {
      where.push('ts_ms <= ?');
      params.push(query.toMs);
    }
    const sql = `SELECT ${SUMMARY_COLUMNS} FROM journal WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`;
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return (statement.all(...params, query.limit) as SummaryRow[]).map(summaryOf);
  }

  /** One message by its journal seq, or undefined when it is not (or no longer) held. */
  get(seq: number): MessageSummary | undefined {
    const row = this.bySeq.get(seq) as SummaryRow | undefined;
    return row && summaryOf(row);
  }

  /** The stored body (HL7 as UTF-8), or undefined when the row is gone. */
  body(seq: number): Buffer | undefined {
    return (this.bodyOf.get(seq) as { body: Buffer } | undefined)?.body;
  }
}

/** A summary row read with the journal's own row mapping (protocol/event.ts), its body's size in place of the body. */
function summaryOf(row: SummaryRow): MessageSummary {
  const { body: _noBody, ...event } = eventFromRow({ ...row, body: NO_BODY });
  return { ...event, bodyBytes: row.body_bytes };
}

const NO_BODY = Buffer.alloc(0);
