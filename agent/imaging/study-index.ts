// The index of archived instances by study (agent.db imaging_instances,
// migration 12): a follower of the journal's blob-ref events. The journal and
// the local copy already hold every instance's event, but finding a study's
// instances there means parsing every blob-ref body; this table answers "the
// instances of study X" and "the oldest instances" from an index.
//
// Failure modes handled:
//  1. Falling behind: catchUp() reads the journal after its saved cursor in
//     bounded seq ranges, one short transaction each, yielding between them, so
//     a first run over 100,000 instances does not stall ingest. The study routes
//     catch up before answering, and a timer keeps it close otherwise.
//  2. The journal trimmed past the cursor (the agent was down for longer than the
//     journal's retention, or the index is new on an old agent.db): the rows it
//     missed are gone, but every instance's current version is kept for the local
//     copy, so the index is refilled from records and the cursor moves to the floor.
//  3. A body that does not parse (written by a broken build): logged and
//     skipped; the follower goes on.
//  4. An instance sent again with new bytes: the newer event replaces the row.
//     An instance retention removed stays as a tombstone (removed_at_ms), so the
//     refill of failure mode 2 does not bring it back.
import type { Statement } from 'better-sqlite3';
import { BLOB_REF_CONTENT_TYPE, parseImagingInstanceBody, type ImagingInstanceBody } from '../../protocol/index.js';
import type { SqliteDatabase } from '../store/index.js';

/** Default: journal positions read per transaction. */
export const DEFAULT_INDEX_SCAN_SEQS = 5_000;
/** Default: the follower catches up every 5 s besides before each study request. */
export const DEFAULT_INDEX_INTERVAL_MS = 5_000;

export interface StudyIndexLogger {
  warn(fields: object, message: string): void;
}

export interface StudyIndexOptions {
  db: SqliteDatabase;
  /** Journal positions read per transaction. Default 5 000. */
  scanSeqs?: number;
  yieldBetweenSteps?: () => Promise<void>;
  log?: StudyIndexLogger;
}

/** One archived instance as the index holds it. */
export interface IndexedInstance {
  stream: string;
  /** The journal seq of the instance's blob-ref event. */
  seq: number;
  /** When the event was committed (the instance taken), ms since the epoch. */
  receivedAtMs: number;
  body: ImagingInstanceBody;
}

interface IndexRow {
  stream: string;
  seq: number;
  received_at_ms: number;
  body: string;
}

interface JournalRow {
  seq: number;
  stream: string;
  key: string;
  ts_ms: number;
  body: Buffer;
}

export class StudyIndex {
  private readonly scanSeqs: number;
  private readonly yieldBetweenSteps: () => Promise<void>;
  private readonly selectCursor: Statement;
  private readonly selectFloor: Statement;
  private readonly selectHead: Statement;
  private readonly selectBlobRefs: Statement;
  private readonly selectCurrentBlobRefs: Statement;
  private readonly upsert: Statement;
  private readonly saveCursor: Statement;
  private readonly selectStudy: Statement;
  private readonly selectInstance: Statement;
  private readonly selectExpired: Statement;
  private readonly markRemovedRow: Statement;
  private readonly selectOtherHolder: Statement;
  private readonly step: (afterSeq: number, upTo: number) => void;
  private readonly refill: (floor: number) => void;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: StudyIndexOptions) {
    const { db } = options;
    this.scanSeqs = options.scanSeqs ?? DEFAULT_INDEX_SCAN_SEQS;
    this.yieldBetweenSteps = options.yieldBetweenSteps ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.selectCursor = db.prepare('SELECT after_seq FROM imaging_index_cursor').pluck();
    this.selectFloor = db.prepare('SELECT trimmed_through FROM journal_trim_floor').pluck();
    this.selectHead = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'journal'").pluck();
    this.selectBlobRefs = db.prepare(
      `SELECT seq, stream, key, ts_ms, body FROM journal
       WHERE seq > ? AND seq <= ? AND content_type = '${BLOB_REF_CONTENT_TYPE}' AND op = 'upsert' ORDER BY seq`,
    );
    this.selectCurrentBlobRefs = db.prepare(
      `SELECT j.seq, j.stream, j.key, j.ts_ms, j.body FROM records r JOIN journal j ON j.seq = r.seq
       WHERE j.content_type = '${BLOB_REF_CONTENT_TYPE}' ORDER BY j.seq`,
    );
    this.upsert = db.prepare(
      `INSERT INTO imaging_instances (stream, sop_instance_uid, study_uid, series_uid, seq, received_at_ms, sha256, size, body)
       VALUES (@stream, @sop, @study, @series, @seq, @at, @sha256, @size, @body)
       ON CONFLICT (stream, sop_instance_uid) DO UPDATE SET study_uid = excluded.study_uid, series_uid = excluded.series_uid,
         seq = excluded.seq, received_at_ms = excluded.received_at_ms, sha256 = excluded.sha256, size = excluded.size,
         body = excluded.body, removed_at_ms = NULL
       WHERE excluded.seq > imaging_instances.seq`,
    );
    this.saveCursor = db.prepare('UPDATE imaging_index_cursor SET after_seq = ?');
    this.selectStudy = db.prepare(
      `SELECT stream, seq, received_at_ms, body FROM imaging_instances
       WHERE study_uid = ? AND removed_at_ms IS NULL ORDER BY series_uid, sop_instance_uid`,
    );
    this.selectInstance = db.prepare(
      `SELECT stream, seq, received_at_ms, body FROM imaging_instances
       WHERE study_uid = ? AND series_uid = ? AND sop_instance_uid = ? AND removed_at_ms IS NULL ORDER BY seq DESC LIMIT 1`,
    );
    this.selectExpired = db.prepare(
      `SELECT stream, seq, received_at_ms, body FROM imaging_instances
       WHERE received_at_ms < @cutoff AND removed_at_ms IS NULL
         AND (received_at_ms > @afterAt OR (received_at_ms = @afterAt AND seq > @afterSeq))
       ORDER BY received_at_ms, seq LIMIT @limit`,
    );
    this.markRemovedRow = db.prepare('UPDATE imaging_instances SET removed_at_ms = ? WHERE stream = ? AND sop_instance_uid = ? AND seq = ?');
    this.selectOtherHolder = db.prepare(
      'SELECT 1 FROM imaging_instances WHERE sha256 = ? AND removed_at_ms IS NULL AND NOT (stream = ? AND sop_instance_uid = ?) LIMIT 1',
    );
    this.step = db.transaction((afterSeq: number, upTo: number) => {
      // all(), not iterate(): better-sqlite3 refuses a write while a read is open on the connection; a step is bounded by scanSeqs.
      for (const row of this.selectBlobRefs.all(afterSeq, upTo) as JournalRow[]) this.index(row);
      this.saveCursor.run(upTo);
    });
    this.refill = db.transaction((floor: number) => {
      for (const row of this.selectCurrentBlobRefs.all() as JournalRow[]) this.index(row);
      this.saveCursor.run(floor);
    });
  }

  /** Reads the journal's new blob-ref events into the index (or joins the catch-up under way). */
  catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.follow().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Catches up every intervalMs until stop(). */
  start(intervalMs: number = DEFAULT_INDEX_INTERVAL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.catchUp().catch((error: unknown) => this.options.log?.warn({ err: error }, 'imaging index catch-up failed; retrying at the next interval'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** The study's instances held in the archive, by series then SOP Instance UID; empty when none. */
  study(studyUid: string): IndexedInstance[] {
    return (this.selectStudy.all(studyUid) as IndexRow[]).map(instanceOf);
  }

  /** One instance held, or undefined. */
  instance(studyUid: string, seriesUid: string, sopInstanceUid: string): IndexedInstance | undefined {
    const row = this.selectInstance.get(studyUid, seriesUid, sopInstanceUid) as IndexRow | undefined;
    return row && instanceOf(row);
  }

  /**
   * Held instances taken before cutoffMs, oldest first, at most limit, after the
   * instance `after` in that order (a page: one still owed does not stop the walk).
   */
  olderThan(cutoffMs: number, limit: number, after?: IndexedInstance): IndexedInstance[] {
    const page = { cutoff: cutoffMs, limit, afterAt: after?.receivedAtMs ?? -1, afterSeq: after?.seq ?? 0 };
    return (this.selectExpired.all(page) as IndexRow[]).map(instanceOf);
  }

  /** Whether another held instance row (another stream's copy of the same bytes) uses these bytes. */
  bytesUsedElsewhere(instance: IndexedInstance): boolean {
    return this.selectOtherHolder.get(instance.body.sha256, instance.stream, instance.body.sopInstanceUid) !== undefined;
  }

  /** Notes that retention removed the instance's bytes (a tombstone: a newer event for the key clears it). */
  markRemoved(instance: IndexedInstance, atMs: number): void {
    this.markRemovedRow.run(atMs, instance.stream, instance.body.sopInstanceUid, instance.seq);
  }

  private async follow(): Promise<void> {
    let cursor = this.selectCursor.get() as number;
    const floor = this.selectFloor.get() as number;
    if (cursor < floor) {
      this.refill(floor);
      cursor = floor;
    }
    const head = (this.selectHead.get() as number | undefined) ?? 0;
    while (cursor < head && !this.stopped) {
      const upTo = Math.min(head, cursor + this.scanSeqs);
      this.step(cursor, upTo);
      cursor = upTo;
      if (cursor < head) await this.yieldBetweenSteps();
    }
  }

  private index(row: JournalRow): void {
    let body: ImagingInstanceBody;
    try {
      body = parseImagingInstanceBody(row.body);
    } catch (error) {
      this.options.log?.warn({ err: error, seq: row.seq, stream: row.stream }, `blob-ref event at seq ${row.seq} does not parse; it is left out of the study index`);
      return;
    }
    this.upsert.run({
      stream: row.stream,
      sop: body.sopInstanceUid,
      study: body.studyUid,
      series: body.seriesUid,
      seq: row.seq,
      at: row.ts_ms,
      sha256: body.sha256,
      size: body.size,
      body: JSON.stringify(body),
    });
  }
}

function instanceOf(row: IndexRow): IndexedInstance {
  return { stream: row.stream, seq: row.seq, receivedAtMs: row.received_at_ms, body: JSON.parse(row.body) as ImagingInstanceBody };
}
