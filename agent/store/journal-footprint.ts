// What the journal holds and what the store costs on disk, cheaply enough to read
// on every status request and every disk sample: no COUNT(*), no dbstat scan.
import { statSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './agent-database.js';

export interface JournalFootprintFigures {
  /** Events held in the journal past its trim floor (a feed can still be sent these). */
  rows: number;
  /**
   * Rows held at or below the trim floor: records' current versions (the local copy
   * reads them), and versions superseded since that the next trim pass deletes.
   * Not counted in `rows`; rows + keptRows is everything the journal holds.
   */
  keptRows: number;
  /** The oldest seq a feed can still be sent; null when there is none (everything trimmed, or nothing yet). */
  oldestSeq: number | null;
  /** The last seq ever assigned (0 when none); trimming never lowers it. */
  headSeq: number;
  /** Bytes of agent.db, its WAL and shared-memory file on disk: the journal, the local copy and their indexes. */
  fileBytes: number;
  /** Bytes of free pages inside agent.db: room new events take before the file grows again. */
  reusableBytes: number;
}

export class JournalFootprint {
  private readonly selectTrimFloor: Statement;
  private readonly selectHead: Statement;

  /** @param file the path of agent.db. */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly file: string,
  ) {
    this.selectTrimFloor = db.prepare('SELECT trimmed_through, kept_rows FROM journal_trim_floor');
    // sqlite_sequence keeps the highest seq ever used, also after the rows are trimmed.
    this.selectHead = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'journal'");
  }

  read(): JournalFootprintFigures {
    const floor = this.selectTrimFloor.get() as { trimmed_through: number; kept_rows: number };
    const trimmedThrough = floor.trimmed_through;
    const headSeq = (this.selectHead.get() as { seq: number } | undefined)?.seq ?? 0;
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const freePages = this.db.pragma('freelist_count', { simple: true }) as number;
    return {
      // Seqs are gapless (one writer; a rolled-back insert gives its seq back) and the
      // trimmer only removes rows up to its floor, so the journal holds floor+1..head
      // (plus, below the floor, keptRows, which the trimmer keeps count of).
      rows: headSeq - trimmedThrough,
      keptRows: floor.kept_rows,
      oldestSeq: headSeq > trimmedThrough ? trimmedThrough + 1 : null,
      headSeq,
      fileBytes: this.fileBytes(),
      reusableBytes: pageSize * freePages,
    };
  }

  /** Bytes of agent.db and its -wal and -shm files on disk. */
  fileBytes(): number {
    let total = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        total += statSync(this.file + suffix).size;
      } catch {
        // No WAL or shm right now (checkpointed and closed): nothing on disk.
      }
    }
    return total;
  }
}
