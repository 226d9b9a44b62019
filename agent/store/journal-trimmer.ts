// Trims the journal so a long outage's backlog, once delivered, does not hold the
// disk forever. A journal row is deleted only when BOTH hold:
//   - every configured feed has it acknowledged by its relay (seq ≤ the lowest
//     acked seq over the feeds; a feed the relay has never acknowledged holds
//     everything), and
//   - it is older than the retention, so a relay restored from a backup, or a
//     vendor re-reading, can still be served from the agent for that long.
// The local copy (records) is never trimmed; it is the hospital's current state,
// and a record's current version is its journal row, so those rows are kept.
// journal_trim_floor says how far trimming has got: a feed asking for positions
// at or below it can no longer be served (Journal.readRange). A row kept below
// the floor as a current version goes once its record is updated or deleted:
// triggers list it in journal_superseded (migration 7) and each pass deletes what
// is listed, so nothing below the floor outlives the record that pointed at it.
// Dedupe keys older than their own retention go too: a sender does not retransmit
// a message after a week.
//
// Failure modes handled:
//  1. Ingest latency: rows go in chunks of chunkRows, one short transaction each,
//     and the event loop is yielded between chunks so group commits interleave.
//  2. A clock stepped backwards (rows with ts_ms out of order): only the oldest
//     rows past the floor are ever considered, stopping at the first row too
//     young to go, so everything after the floor is still in the journal.
//  3. Seq reuse: the journal is AUTOINCREMENT, so even trimming every row never
//     lets a seq be handed out again (sqlite_sequence keeps the high-water mark).
//  4. A trim pass still running when the next is due, or asked for twice: the
//     passes are serialised; a second request joins the running one.
//  5. A current version kept below the floor, then superseded (the record updated
//     or deleted after the floor went past it): listed by the records triggers in
//     the superseding transaction and deleted by the next pass, in chunks like the
//     rest; a database that leaked such rows before migration 7 had them listed
//     by the migration. No feed can be sent a row below the floor, and it was past
//     the retention when the floor went past it, so it is owed to no one.
//  6. Space actually returned: deleted pages go to agent.db's freelist and new
//     events reuse them before the file grows, so the file stops growing; the WAL,
//     which the trim itself fills, is checkpointed with TRUNCATE after a pass that
//     deleted anything. No VACUUM: see the README ("Disk budget").
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';
import type { FeedAcks } from './feed-acks.js';

/** Default: journal rows are kept 7 days after their commit, even once acknowledged. */
export const DEFAULT_JOURNAL_RETENTION_MS = 7 * 86_400_000;
/** Default: dedupe keys are kept 7 days. */
export const DEFAULT_DEDUPE_RETENTION_MS = 7 * 86_400_000;
/** Default: a trim pass every minute. */
export const DEFAULT_TRIM_INTERVAL_MS = 60_000;
/**
 * Default: rows deleted per transaction. Measured with 1 KB events on a
 * development VM (virtio disk, ext4): 1 000 rows take ~5–7 ms (p99 ~25 ms with an autocheckpoint),
 * which is what an ACK waits at most while a trim runs; 5 000 rows took ~37 ms
 * (max ~67 ms) for no faster trim overall (fsyncs are not the cost; pages are).
 */
export const DEFAULT_TRIM_CHUNK_ROWS = 1_000;

export interface JournalTrimmerLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface JournalTrimmerOptions {
  db: SqliteDatabase;
  feedAcks: FeedAcks;
  /**
   * The names of the feeds the journal is owed to (a function: read at every
   * pass, so a revoked feed stops holding events back). With none, only the
   * retention applies.
   */
  feeds: readonly string[] | (() => readonly string[]);
  /**
   * Per feed, the last seq of the feed's closed completeness-proof windows
   * (replication/feed-prover.ts): a window not yet compared with the relay may
   * need a resend, so its events stay. A feed absent from the map is held by its
   * acknowledgement alone (proofs off, or a relay without them). Read at every pass.
   */
  proofHolds?: () => ReadonlyMap<string, number>;
  /**
   * The lowest seq a part still reads from the journal (the downlink: the oldest
   * inbound event not yet delivered, whose body is there and only there): nothing
   * from it on is trimmed, whatever the feeds acknowledged or the retention says.
   * undefined = no hold. Read at every pass.
   */
  heldFromSeq?: () => number | undefined;
  /** Journal rows younger than this many ms are kept. Default 7 days. */
  retentionMs?: number;
  /** Dedupe keys younger than this many ms are kept. Default 7 days. */
  dedupeRetentionMs?: number;
  /** Rows deleted per transaction. Default 1 000. */
  chunkRows?: number;
  /** Milliseconds since the epoch; injected for tests. */
  clock?: () => number;
  /** How the event loop is given back between chunks; default setImmediate. */
  yieldBetweenChunks?: () => Promise<void>;
  log?: JournalTrimmerLogger;
}

/** One trim pass. */
export interface TrimResult {
  /** When the pass ran, ms since the epoch. */
  atMs: number;
  /** Journal rows deleted. */
  events: number;
  /** Dedupe keys deleted. */
  dedupeKeys: number;
  /** The highest seq deleted in this pass; null when none. */
  upToSeq: number | null;
  /** The highest seq every feed has acknowledged (the head when there are no feeds). */
  ackedBoundSeq: number;
  /** Transactions used. */
  chunks: number;
  durationMs: number;
}

/** Running totals, for metrics. */
export interface TrimTotals {
  events: number;
  dedupeKeys: number;
  passes: number;
}

/**
 * The highest seq that every feed has acknowledged: the lowest acked seq over the
 * configured feeds, a feed absent from `acked` counting as 0 (it holds everything).
 * With no feeds, `headSeq`: nothing is owed to anyone.
 */
export function trimBoundSeq(feeds: readonly string[], acked: ReadonlyMap<string, number>, headSeq: number): number {
  if (feeds.length === 0) return headSeq;
  let bound = headSeq;
  for (const feed of feeds) bound = Math.min(bound, acked.get(feed) ?? 0);
  return Math.max(0, bound);
}

interface ChunkOutcome {
  deleted: number;
  lastSeq: number | null;
  /** True when the chunk was full and the next may find more. */
  more: boolean;
}

export class JournalTrimmer {
  private readonly clock: () => number;
  private readonly retentionMs: number;
  private readonly dedupeRetentionMs: number;
  private readonly chunkRows: number;
  private readonly yieldBetweenChunks: () => Promise<void>;
  private readonly selectFloor: Statement;
  private readonly selectOldest: Statement;
  private readonly deleteUnreferenced: Statement;
  private readonly raiseFloor: Statement;
  private readonly deleteSupersededRows: Statement;
  private readonly forgetSuperseded: Statement;
  private readonly lowerKeptRows: Statement;
  private readonly trimSupersededChunk: () => ChunkOutcome;
  private readonly deleteOldDedupeKeys: Statement;
  private readonly selectHead: Statement;
  private readonly deleteTransactionsBelow: Statement;
  private readonly trimEventsChunk: (boundSeq: number, cutoffMs: number) => ChunkOutcome;
  private running: Promise<TrimResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private last: TrimResult | null = null;
  readonly totals: TrimTotals = { events: 0, dedupeKeys: 0, passes: 0 };

  constructor(private readonly options: JournalTrimmerOptions) {
    const { db } = options;
    this.clock = options.clock ?? Date.now;
    this.retentionMs = options.retentionMs ?? DEFAULT_JOURNAL_RETENTION_MS;
    this.dedupeRetentionMs = options.dedupeRetentionMs ?? DEFAULT_DEDUPE_RETENTION_MS;
    this.chunkRows = options.chunkRows ?? DEFAULT_TRIM_CHUNK_ROWS;
    this.yieldBetweenChunks = options.yieldBetweenChunks ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.selectFloor = db.prepare('SELECT trimmed_through FROM journal_trim_floor');
    this.selectOldest = db.prepare('SELECT seq, ts_ms FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?');
    // Keeps the rows that are a record's current version: the local copy reads them.
    this.deleteUnreferenced = db.prepare(
      `DELETE FROM journal WHERE seq > ? AND seq <= ?
         AND NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = journal.stream AND r.key = journal.key AND r.seq = journal.seq)`,
    );
    this.raiseFloor = db.prepare('UPDATE journal_trim_floor SET trimmed_through = ?, kept_rows = kept_rows + ?');
    // A listed row is deleted only if still no record's version (a record never
    // points back at an older seq, so this is a guard, not a case).
    this.deleteSupersededRows = db.prepare(
      `DELETE FROM journal WHERE seq IN (SELECT seq FROM journal_superseded ORDER BY seq LIMIT ?)
         AND NOT EXISTS (SELECT 1 FROM records r WHERE r.stream = journal.stream AND r.key = journal.key AND r.seq = journal.seq)`,
    );
    this.forgetSuperseded = db.prepare('DELETE FROM journal_superseded WHERE seq IN (SELECT seq FROM journal_superseded ORDER BY seq LIMIT ?)');
    this.lowerKeptRows = db.prepare('UPDATE journal_trim_floor SET kept_rows = MAX(0, kept_rows - ?)');
    this.deleteOldDedupeKeys = db.prepare(
      `DELETE FROM dedupe_keys WHERE (scope, id, digest) IN
         (SELECT scope, id, digest FROM dedupe_keys WHERE received_at_ms < ? ORDER BY received_at_ms LIMIT ?)`,
    );
    this.selectHead = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'journal'");
    // A transaction wholly below the floor can be cut by no batch any more. The
    // first_seq bound keeps the delete on the primary key: ranges do not overlap,
    // so every row past it ends past the floor too.
    this.deleteTransactionsBelow = db.prepare('DELETE FROM journal_transactions WHERE first_seq <= @floor AND last_seq <= @floor');
    this.trimEventsChunk = db.transaction((boundSeq: number, cutoffMs: number): ChunkOutcome => {
      const floor = (this.selectFloor.get() as { trimmed_through: number }).trimmed_through;
      let lastSeq: number | null = null;
      let deletable = 0;
      // iterate() reads only as far as needed: a pass with nothing old enough reads one row.
      for (const row of this.selectOldest.iterate(floor, boundSeq, this.chunkRows) as IterableIterator<{ seq: number; ts_ms: number }>) {
        if (row.ts_ms >= cutoffMs) break;
        lastSeq = row.seq;
        deletable++;
      }
      if (lastSeq === null) return { deleted: 0, lastSeq, more: false };
      const deleted = this.deleteUnreferenced.run(floor, lastSeq).changes;
      // What the floor goes past and is not deleted is some record's current version.
      this.raiseFloor.run(lastSeq, deletable - deleted);
      this.deleteTransactionsBelow.run({ floor: lastSeq });
      return { deleted, lastSeq, more: deletable === this.chunkRows };
    });
    this.trimSupersededChunk = db.transaction((): ChunkOutcome => {
      const deleted = this.deleteSupersededRows.run(this.chunkRows).changes;
      const listed = this.forgetSuperseded.run(this.chunkRows).changes;
      if (deleted > 0) this.lowerKeptRows.run(deleted);
      return { deleted, lastSeq: null, more: listed === this.chunkRows };
    });
  }

  /** The last pass (also when it found nothing to delete); null before the first. */
  get lastTrim(): TrimResult | null {
    return this.last;
  }

  /** Runs one trim pass now, or joins the one under way. After stop(), does nothing (the database may be closed). */
  trim(): Promise<TrimResult> {
    if (this.stopping) {
      const atMs = this.clock();
      return Promise.resolve({ atMs, events: 0, dedupeKeys: 0, upToSeq: null, ackedBoundSeq: 0, chunks: 0, durationMs: 0 });
    }
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Trims every intervalMs until stop(). */
  start(intervalMs: number = DEFAULT_TRIM_INTERVAL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.trim().catch((error: unknown) => this.options.log?.warn({ err: error }, 'journal trim failed; retrying at the next interval'));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the schedule and waits for a pass under way (it stops at its next chunk boundary). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopping = true;
    await this.running?.catch(() => undefined);
  }

  private async pass(): Promise<TrimResult> {
    const startedMs = this.clock();
    const head = (this.selectHead.get() as { seq: number } | undefined)?.seq ?? 0;
    const feeds = typeof this.options.feeds === 'function' ? this.options.feeds() : this.options.feeds;
    const acked = new Map(this.options.feedAcks.all());
    for (const [feed, closedThrough] of this.options.proofHolds?.() ?? []) acked.set(feed, Math.min(acked.get(feed) ?? 0, closedThrough));
    const held = this.options.heldFromSeq?.();
    const ackedBoundSeq = held === undefined ? trimBoundSeq(feeds, acked, head) : Math.min(trimBoundSeq(feeds, acked, head), held - 1);
    const cutoffMs = startedMs - this.retentionMs;
    const result: TrimResult = { atMs: startedMs, events: 0, dedupeKeys: 0, upToSeq: null, ackedBoundSeq, chunks: 0, durationMs: 0 };

    for (let more = ackedBoundSeq > 0; more && !this.stopping; ) {
      const outcome = this.trimEventsChunk(ackedBoundSeq, cutoffMs);
      result.chunks++;
      result.events += outcome.deleted;
      if (outcome.lastSeq !== null) result.upToSeq = outcome.lastSeq;
      more = outcome.more;
      if (more) await this.yieldBetweenChunks();
    }
    for (let more = true; more && !this.stopping; ) {
      const outcome = this.trimSupersededChunk();
      if (outcome.deleted > 0 || outcome.more) result.chunks++;
      result.events += outcome.deleted;
      more = outcome.more;
      if (more) await this.yieldBetweenChunks();
    }
    const dedupeCutoffMs = startedMs - this.dedupeRetentionMs;
    for (let more = true; more && !this.stopping; ) {
      const deleted = this.deleteOldDedupeKeys.run(dedupeCutoffMs, this.chunkRows).changes;
      result.chunks++;
      result.dedupeKeys += deleted;
      more = deleted === this.chunkRows;
      if (more) await this.yieldBetweenChunks();
    }
    if (result.events + result.dedupeKeys > 0) this.checkpoint();
    result.durationMs = this.clock() - startedMs;
    this.totals.passes++;
    this.totals.events += result.events;
    this.totals.dedupeKeys += result.dedupeKeys;
    this.last = result;
    if (result.events + result.dedupeKeys > 0) {
      this.options.log?.info({ ...result }, `journal trimmed: ${result.events} events up to seq ${result.upToSeq ?? '-'}, ${result.dedupeKeys} dedupe keys`);
    }
    return result;
  }

  /**
   * The deletes went through the WAL; hand its space back rather than keep a WAL
   * the size of the largest trim on disk. Without waiting: if another connection
   * (an operator's sqlite3) is reading, busy_timeout would stall the event loop,
   * so the checkpoint is skipped and the next pass tries again.
   */
  private checkpoint(): void {
    const { db } = this.options;
    const busyTimeoutMs = db.pragma('busy_timeout', { simple: true }) as number;
    db.pragma('busy_timeout = 0');
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (error) {
      this.options.log?.warn({ err: error }, 'WAL checkpoint after trim failed; the next pass tries again');
    } finally {
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }
}
