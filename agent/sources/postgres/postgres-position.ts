// What a PostgreSQL source saves with each append (the journal's source position,
// in the same SQLite transaction as the events): the LSN up to which every
// commit is in the journal, each table's schema version, and the snapshot's
// progress while one is being taken. Kept as one JSON text so no migration is
// needed; `lsn` alone is what status and event headers show.
import { formatLsn, parseLsn } from './postgres-lsn.js';
import type { ResumedRange } from './postgres-resume-filter.js';

/** Where a snapshot stands: tables before `table` are copied, and `table` up to `after` (its key values as text). */
export interface SnapshotCursor {
  /** Index in the config's tables list. */
  table: number;
  /** The last copied key of `table` (the key columns' texts), null = none of it yet. */
  after: string[] | null;
  /** Rows copied so far (all tables). */
  rows: number;
}

export interface PostgresPosition {
  /** Every transaction whose commit LSN is ≤ this is in the journal (the slot is confirmed to lsn + 1). */
  lsn: bigint;
  /** "schema.table" → [version, signature of the captured columns]. */
  schemas: Record<string, [number, string]>;
  /** Present while the snapshot is unfinished. */
  snapshot?: SnapshotCursor;
  /** Ranges copied under a snapshot taken after a kill, until the stream is past them (postgres-resume-filter.ts). */
  resumes?: ResumedRange[];
}

interface PositionJson {
  lsn: string;
  schemas?: Record<string, [number, string]>;
  snapshot?: SnapshotCursor;
  resumes?: ResumedRange[];
}

export function encodePosition(position: PostgresPosition): string {
  const json: PositionJson = { lsn: formatLsn(position.lsn), schemas: position.schemas };
  if (position.snapshot) json.snapshot = position.snapshot;
  if (position.resumes && position.resumes.length > 0) json.resumes = position.resumes;
  return JSON.stringify(json);
}

/** The saved text back; a bare LSN ("0/16B3748") is accepted too. Undefined = nothing saved. */
export function decodePosition(text: string | undefined): PostgresPosition | undefined {
  if (text === undefined || text === '') return undefined;
  if (!text.startsWith('{')) return { lsn: parseLsn(text), schemas: {} };
  const json = JSON.parse(text) as PositionJson;
  const position: PostgresPosition = { lsn: parseLsn(json.lsn), schemas: json.schemas ?? {} };
  if (json.snapshot) position.snapshot = json.snapshot;
  if (json.resumes) position.resumes = json.resumes;
  return position;
}
