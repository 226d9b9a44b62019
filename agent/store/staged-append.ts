// Staged appends: a source transaction too large to hold in memory (a 1,000,000-row
// UPDATE arriving from a database's change stream) is written to staged_events in
// chunks as it arrives and moved into the journal by one SQL transaction at its
// commit, so the local copy and every feed see the whole transaction or none of it,
// and the agent's memory holds one chunk at a time. The move is INSERT … SELECT and
// set-based updates of the local copy, never a row-by-row loop in JavaScript.
import type { Statement } from 'better-sqlite3';
import type { EventInput, StagedAppend, StagedCommit } from './append-request.js';
import type { SqliteDatabase } from './agent-database.js';

/** What the journal does once a staged transaction is committed (head, tallies, listeners). */
export type StagedCommitted = (commit: StagedCommit, tallies: { stream: string; events: number; bytes: number }[]) => void;

/** The staging table's statements, shared by every staged append of one journal. */
export class StagedAppends {
  private nextStageId = 1;
  private readonly insertStaged: Statement;
  private readonly moveToJournal: Statement;
  private readonly deleteRecordsOfDeletes: Statement;
  private readonly upsertRecordsOfUpserts: Statement;
  private readonly deleteStageChunk: Statement;
  private readonly savePosition: Statement;
  private readonly recordTransaction: Statement;
  private readonly commitStage: (stageId: number, source: string, position: string | undefined, tsMs: number) => StagedCommit;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly clock: () => number,
    private readonly committed: StagedCommitted,
  ) {
    // Left by a crash: the source resumes before that transaction and sends it again.
    db.prepare('DELETE FROM staged_events').run();
    this.insertStaged = db.prepare(
      'INSERT INTO staged_events (stage_id, stream, key, op, content_type, body, headers) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.moveToJournal = db.prepare(
      `INSERT INTO journal (stream, key, op, ts_ms, source, content_type, body, headers)
       SELECT stream, key, op, ?, ?, content_type, body, headers FROM staged_events WHERE stage_id = ? ORDER BY ord`,
    );
    // The local copy takes each key's last version in the range, as Journal.append
    // does per event, without a GROUP BY (whose sort of a 1,000,000-row range held
    // ~180 MB in temp_store=MEMORY): every upsert in seq order, the later
    // overwriting the earlier, then each delete that came after its key's last upsert.
    this.upsertRecordsOfUpserts = db.prepare(
      `INSERT INTO records (stream, key, seq)
       SELECT stream, key, seq FROM journal WHERE seq BETWEEN @first AND @last AND op <> 'delete' ORDER BY seq
       ON CONFLICT (stream, key) DO UPDATE SET seq = excluded.seq, ts_ms = NULL,
         source = NULL, content_type = NULL, body = NULL, headers = NULL`,
    );
    this.deleteRecordsOfDeletes = db.prepare(
      `DELETE FROM records WHERE (stream, key) IN (
         SELECT d.stream, d.key FROM journal d JOIN records r ON r.stream = d.stream AND r.key = d.key
         WHERE d.seq BETWEEN @first AND @last AND d.op = 'delete' AND r.seq < d.seq)`,
    );
    this.deleteStageChunk = db.prepare('DELETE FROM staged_events WHERE ord IN (SELECT ord FROM staged_events WHERE stage_id = ? LIMIT 20000)');
    this.savePosition = db.prepare(
      `INSERT INTO source_positions (source, position, updated_at_ms) VALUES (?, ?, ?)
       ON CONFLICT (source) DO UPDATE SET position = excluded.position, updated_at_ms = excluded.updated_at_ms`,
    );
    // The committed range, as Journal.append records its own (Journal.transactionSpanning).
    this.recordTransaction = db.prepare('INSERT INTO journal_transactions (first_seq, last_seq) VALUES (?, ?)');
    this.commitStage = db.transaction((stageId: number, source: string, position: string | undefined, tsMs: number) => {
      const info = this.moveToJournal.run(tsMs, source, stageId);
      const events = info.changes;
      const lastSeq = events > 0 ? Number(info.lastInsertRowid) : 0;
      const firstSeq = events > 0 ? lastSeq - events + 1 : 0;
      if (events > 0) {
        this.upsertRecordsOfUpserts.run({ first: firstSeq, last: lastSeq });
        this.deleteRecordsOfDeletes.run({ first: firstSeq, last: lastSeq });
      }
      if (events > 1) this.recordTransaction.run(firstSeq, lastSeq);
      if (position !== undefined) this.savePosition.run(source, position, tsMs);
      return { firstSeq, lastSeq, events };
    });
  }

  /**
   * The staged rows of a committed stage are dead weight: deleted after the commit,
   * in chunks between other work, so the commit itself (which blocks the event loop)
   * is not made longer by them; a crash first leaves them to the delete at open.
   */
  private dropStageLater(stageId: number): void {
    const step = (): void => {
      if (!this.db.open) return;
      if (this.deleteStageChunk.run(stageId).changes > 0) setImmediate(step);
    };
    setImmediate(step);
  }

  /** Begins one staged transaction for `source`. */
  begin(source: string): StagedAppend {
    const stageId = this.nextStageId++;
    let ord = 0;
    let open = true;
    // Counted as added, so the commit need not scan the range again for them.
    const tallies = new Map<string, { stream: string; events: number; bytes: number }>();
    const insertChunk = this.db.transaction((events: readonly EventInput[]) => {
      for (const event of events) {
        ord++;
        let tally = tallies.get(event.stream);
        if (!tally) tallies.set(event.stream, (tally = { stream: event.stream, events: 0, bytes: 0 }));
        tally.events++;
        tally.bytes += event.body.length;
        this.insertStaged.run(stageId, event.stream, event.key, event.op, event.contentType, event.body, JSON.stringify(event.headers));
      }
    });
    const closed = (what: string): Error => new Error(`staged append ${stageId} of ${source} is already ${what}`);
    let state = 'open';
    return {
      get events() {
        return ord;
      },
      add: (events) => {
        if (!open) throw closed(state);
        insertChunk(events);
      },
      commit: async (position) => {
        if (!open) throw closed(state);
        open = false;
        state = 'committed';
        const commit = this.commitStage(stageId, source, position, this.clock());
        this.dropStageLater(stageId);
        this.committed(commit, [...tallies.values()]);
        return commit;
      },
      discard: () => {
        if (!open) return;
        open = false;
        state = 'discarded';
        this.dropStageLater(stageId);
      },
    };
  }
}
