// What a backup feed sends (`backup: true`): every journal event of a batch
// sealed into its backup envelope (backup-envelope.ts), with the store's side
// rows that belong to it, read in three index range queries per batch: the dedupe
// keys whose first seq is in the batch, the source positions saved with one of
// its events (source_positions.through_seq, migration 14) and the multi-event
// appends that begin in it.
//
// Failure modes handled:
//  1. A position moved on past the batch before it was read: it is carried with the
//     later event it now belongs to, never with an earlier one, so a restore never
//     holds a position ahead of its journal.
//  2. An event of a local-only stream: not sent (the range still covers its seq),
//     as for every feed; a restore lacks it, and says how many seqs it lacks.
//  3. A position saved by an append without events (through_seq is an event already
//     sent): not carried until that source saves again with events; a restore then
//     resumes the source from its previous position, and the source's own dedupe
//     (CDC position, HL7 control ids) absorbs the repeat.
import type { Statement } from 'better-sqlite3';
import type { HospitalKey } from '../policy/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import type { BackupSealer } from '../replication/index.js';
import type { JournalRange, SqliteDatabase } from '../store/index.js';
import { sealBackupRecord, type BackupPosition, type BackupRecord } from './backup-envelope.js';

export class JournalBackupSealer implements BackupSealer {
  private readonly selectDedupe: Statement;
  private readonly selectPositions: Statement;
  private readonly selectTransactions: Statement;

  /**
   * @param localOnlyStreams `localOnly.streams`: never leave, whatever a feed says, so not even sealed;
   *   a restore rebuilds everything else and these stay with the hospital's own backups.
   */
  constructor(
    db: SqliteDatabase,
    private readonly key: HospitalKey,
    private readonly localOnlyStreams: ReadonlySet<string> = new Set(),
  ) {
    this.selectDedupe = db.prepare(
      'SELECT scope, id, digest, first_seq, event_count, received_at_ms FROM dedupe_keys WHERE first_seq >= ? AND first_seq <= ? AND event_count > 0',
    );
    this.selectPositions = db.prepare('SELECT source, position, updated_at_ms, through_seq FROM source_positions WHERE through_seq >= ? AND through_seq <= ?');
    this.selectTransactions = db.prepare('SELECT first_seq, last_seq FROM journal_transactions WHERE first_seq >= ? AND first_seq <= ?');
  }

  /** The key envelopes are sealed with (its id is in every token). */
  get keyId(): string {
    return this.key.id;
  }

  seal(range: JournalRange): JournalEvent[] {
    const records = new Map<number, BackupRecord>(range.events.map((event) => [event.seq, { event }]));
    const from = range.firstSeq;
    const to = range.lastSeq;
    for (const row of this.selectDedupe.iterate(from, to) as Iterable<{ scope: string; id: string; digest: string; first_seq: number; event_count: number; received_at_ms: number }>) {
      const record = records.get(row.first_seq);
      if (record) record.dedupe = { scope: row.scope, id: row.id, digest: row.digest, eventCount: row.event_count, receivedAtMs: row.received_at_ms };
    }
    for (const row of this.selectPositions.iterate(from, to) as Iterable<{ source: string; position: string; updated_at_ms: number; through_seq: number }>) {
      const record = records.get(row.through_seq);
      const position: BackupPosition = { source: row.source, position: row.position, updatedAtMs: row.updated_at_ms };
      if (record) (record.positions ??= []).push(position);
    }
    for (const row of this.selectTransactions.iterate(from, to) as Iterable<{ first_seq: number; last_seq: number }>) {
      const record = records.get(row.first_seq);
      if (record) record.transaction = { firstSeq: row.first_seq, lastSeq: row.last_seq };
    }
    const leaving = this.localOnlyStreams.size === 0 ? range.events : range.events.filter((event) => !this.localOnlyStreams.has(event.stream));
    return leaving.map((event) => sealBackupRecord(records.get(event.seq)!, this.key));
  }
}
