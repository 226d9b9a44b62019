// The messages sources answered AE or AR, and why: the list an operator reads
// when a sender says "your side refused it", not only the last refusal.
//
// Why buffered, not written with the answer: a refusal appends nothing, so there
// is no journal transaction to share, and a row of its own committed with the
// journal's synchronous=FULL costs an fsync per refusal on the thread that
// writes every ACK, which a sender flooding bad frames would turn into slower
// AAs for everyone. Refusals are kept in memory (at most maxBuffered, the oldest
// dropped and counted) and written in one transaction every flushIntervalMs; a
// crash loses at most that interval's rows, which the log lines also carry.
//
// Bounded twice: rows older than retentionMs and beyond maxRows are deleted at
// each flush.
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

/** One refused message. */
export interface Rejection {
  /** ms since the epoch. */
  atMs: number;
  source: string;
  /** `address:port` of the sender, when the source knows it. */
  peer?: string;
  /** MSH-10 when the message's header could be read. */
  controlId?: string;
  ackCode: 'AE' | 'AR';
  reason: string;
}

export interface RejectionLogOptions {
  clock?: () => number;
  /** Rejections waiting for the next flush at most. Default DEFAULT_REJECTIONS_BUFFERED. */
  maxBuffered?: number;
  /** Rows kept at most. Default DEFAULT_REJECTIONS_KEPT. */
  maxRows?: number;
  /** Rows older than this are deleted, in ms. Default DEFAULT_REJECTION_RETENTION_MS. */
  retentionMs?: number;
  /** How often buffered rejections are written, in ms. Default DEFAULT_REJECTION_FLUSH_INTERVAL_MS. */
  flushIntervalMs?: number;
}

export const DEFAULT_REJECTIONS_BUFFERED = 1_000;
export const DEFAULT_REJECTIONS_KEPT = 10_000;
/** A week: long enough to answer a sender's Monday question about Friday night. */
export const DEFAULT_REJECTION_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
export const DEFAULT_REJECTION_FLUSH_INTERVAL_MS = 1_000;
/** Longest reason kept, in characters: ERR texts are short; a runaway one is cut. */
const MAX_REASON_CHARS = 500;

interface RejectionRow {
  at_ms: number;
  source: string;
  peer: string | null;
  control_id: string | null;
  ack_code: 'AE' | 'AR';
  reason: string;
}

export class RejectionLog {
  private buffered: Rejection[] = [];
  /** Rejections dropped from a full buffer since start. */
  dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;
  private readonly maxBuffered: number;
  private readonly maxRows: number;
  private readonly retentionMs: number;
  private readonly flushIntervalMs: number;
  private readonly insert: Statement;
  private readonly trimByAge: Statement;
  private readonly trimByCount: Statement;
  private readonly selectNewest: Statement;
  private readonly writeAll: (rows: readonly Rejection[]) => void;

  constructor(db: SqliteDatabase, options: RejectionLogOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.maxBuffered = options.maxBuffered ?? DEFAULT_REJECTIONS_BUFFERED;
    this.maxRows = options.maxRows ?? DEFAULT_REJECTIONS_KEPT;
    this.retentionMs = options.retentionMs ?? DEFAULT_REJECTION_RETENTION_MS;
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_REJECTION_FLUSH_INTERVAL_MS;
    this.insert = db.prepare('INSERT INTO rejected_messages (at_ms, source, peer, control_id, ack_code, reason) VALUES (?, ?, ?, ?, ?, ?)');
    this.trimByAge = db.prepare('DELETE FROM rejected_messages WHERE at_ms < ?');
    this.trimByCount = db.prepare('DELETE FROM rejected_messages WHERE id <= (SELECT id FROM rejected_messages ORDER BY id DESC LIMIT 1 OFFSET ?)');
    this.selectNewest = db.prepare('SELECT at_ms, source, peer, control_id, ack_code, reason FROM rejected_messages ORDER BY id DESC LIMIT ?');
    this.writeAll = db.transaction((rows: readonly Rejection[]) => {
      for (const r of rows) this.insert.run(r.atMs, r.source, r.peer ?? null, r.controlId ?? null, r.ackCode, r.reason.slice(0, MAX_REASON_CHARS));
      this.trimByAge.run(this.clock() - this.retentionMs);
      this.trimByCount.run(this.maxRows);
    });
  }

  /** Notes a refusal; costs an array push (written at the next flush). */
  note(rejection: Rejection): void {
    if (this.buffered.length >= this.maxBuffered) {
      this.buffered.shift();
      this.dropped++;
    }
    this.buffered.push(rejection);
  }

  /** Writes what is buffered, in one transaction, and trims. */
  flush(): void {
    if (this.buffered.length === 0) return;
    const rows = this.buffered;
    this.buffered = [];
    this.writeAll(rows);
  }

  /** The newest `limit` refusals, written or still buffered, newest first. */
  newest(limit: number): Rejection[] {
    const pending = this.buffered.slice(-limit).reverse();
    const stored = (this.selectNewest.all(Math.max(0, limit - pending.length)) as RejectionRow[]).map((r) => ({
      atMs: r.at_ms,
      source: r.source,
      ...(r.peer !== null ? { peer: r.peer } : {}),
      ...(r.control_id !== null ? { controlId: r.control_id } : {}),
      ackCode: r.ack_code,
      reason: r.reason,
    }));
    return [...pending, ...stored];
  }

  start(): void {
    this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left (before the database closes). */
  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
