// What a database must provide for Wardline to poll it (kind: sql-poll): quoting,
// a watermark no in-flight transaction can still land below, the keyed range read,
// the tombstone read, key discovery and the type mapping. postgres and mysql
// (MySQL/MariaDB) are implemented and tested; SQL Server and Oracle are described
// here so a dialect for them is a file that fills in this interface.
//
// SQL Server (not implemented):
//  - Version column: `rowversion` (8-byte, database-wide, bumped by every INSERT and
//    UPDATE, read as a binary(8) and compared as a big-endian unsigned integer; render
//    it as decimal text with CAST(v AS bigint)). Views over base tables carry the base
//    table's rowversion through; intermediate tables (中间表) add a rowversion column.
//  - Watermark: `SELECT CAST(MIN_ACTIVE_ROWVERSION() AS bigint) - 1`. Every rowversion
//    below MIN_ACTIVE_ROWVERSION() belongs to a committed (or rolled back) transaction,
//    so this is exact ('xmin' rule below), like PostgreSQL's xid8 column.
//  - Range read: `SELECT TOP (@n) *, CAST(v AS bigint) AS __wl_version FROM t WHERE
//    (v > @after OR (v = @after AND key > @afterKey)) AND v <= @wm ORDER BY v, key`
//    (row-value comparison is not in T-SQL: expand it as an OR), with READ COMMITTED
//    (not SNAPSHOT, whose reads would be of an older version than the watermark).
//  - Tombstones: a table (key columns + a rowversion column) filled by an AFTER DELETE
//    trigger, read like the table. Change Tracking (CHANGETABLE) is an alternative
//    source of deletes where the DBA has it on.
//  - Keys: sys.indexes is_primary_key joined to sys.index_columns; views need `key:`.
//  - Types: decimal/numeric/money/bigint as strings, datetime2 as ISO without zone,
//    datetimeoffset as ISO with its offset, varbinary/image as base64, uniqueidentifier as text.
//  - Errors: login failed 18456 (wrong password) and 229/230 (permission denied) are
//    setup errors; 208 (invalid object name) and 207 (invalid column name) too.
// Oracle (not implemented):
//  - Version column: an update-sequence column maintained by a BEFORE INSERT OR UPDATE
//    trigger from a sequence (`:NEW.upd_seq := seq.NEXTVAL`), or ORA_ROWSCN (the SCN
//    of the block's last commit; only row-precise with ROWDEPENDENCIES on the table,
//    and ORA_ROWSCN of a row is its commit SCN, so it needs no safe bound beyond the
//    current SCN: read up to `SELECT current_scn FROM v$database`).
//  - Watermark for the sequence column: a sequence value is taken before commit, so
//    the bound is the oldest active transaction: `SELECT MIN(start_scn) FROM
//    v$transaction`; rows whose sequence value was drawn after that SCN may still be
//    uncommitted. Map the SCN to the sequence by sampling (SCN, seq.CURRVAL) each poll
//    and using the sequence value sampled at or before the oldest start SCN, or fall
//    back to the 'lag' rule. Needs SELECT on V_$TRANSACTION and V_$DATABASE.
//  - Range read: `... ORDER BY v, key FETCH FIRST :n ROWS ONLY` (12c+), the row-value
//    comparison expanded as an OR as for SQL Server.
//  - Tombstones: a table filled by an AFTER DELETE trigger with the same sequence.
//  - Keys: ALL_CONSTRAINTS constraint_type 'P' joined to ALL_CONS_COLUMNS (by position).
//  - Types: NUMBER as strings (always: NUMBER without scale can exceed 2^53), DATE and
//    TIMESTAMP as ISO without zone, TIMESTAMP WITH TIME ZONE with it, RAW/BLOB base64.
//  - Errors: ORA-01017 (wrong password), ORA-00942 (no table or no privilege: say
//    both), ORA-00904 (no such column), ORA-01031 (insufficient privileges).
import type { CaptureValue } from '../database/index.js';

/** How the version column orders rows: a number (sequence, xid8, rowversion) or a point in time. */
export type VersionKind = 'number' | 'timestamp';

/**
 * How the watermark is made safe:
 * - `xmin`: exact. Every version at or below it belongs to a transaction that has
 *   ended (PostgreSQL xid8 column and pg_snapshot_xmin; SQL Server rowversion and
 *   MIN_ACTIVE_ROWVERSION()). Windows never overlap.
 * - `lag`: the version is drawn before its transaction commits (an update sequence,
 *   a timestamp), so a transaction may commit rows below a watermark already read.
 *   The watermark stays `lagWindow` behind now (timestamps: also behind the oldest
 *   active transaction's start where the server shows it; sequences: the highest
 *   version seen `lagWindow` ago), and each read goes back over the previous window
 *   again, skipping (key, version) pairs already journaled. A transaction that takes
 *   longer than the window to commit, and that the server does not show as active,
 *   can still be missed: that is the documented caveat of polling a sequence or
 *   timestamp column.
 */
export type WatermarkRule = 'xmin' | 'lag';

/** One column of a polled table as the server describes it. */
export interface PollColumn {
  name: string;
  /** The server's type name, lower case (e.g. "bigint", "xid8", "timestamp with time zone", "datetime"). */
  type: string;
}

/** What discovery found for a table or view. */
export interface PollTableShape {
  /** The qualified name as the server spells it ("public.patients", "his.patients"). */
  table: string;
  columns: PollColumn[];
  /** The primary key columns in key order; empty when there is none (a view). */
  primaryKey: string[];
}

/** Where a reader starts: after this (version, key); key null = after every row of that version. */
export interface PollCursor {
  version: string;
  key: CaptureValue[] | null;
}

/** One row read: its version as text, its key values and the row (canonical values) as the body. */
export interface PolledRow {
  version: string;
  key: CaptureValue[];
  row: Record<string, CaptureValue>;
}

/** A range read: rows with (version, key) > after, version <= watermark, ordered by version then key, at most `limit`. */
export interface RangeRead {
  table: string;
  /** The columns to select (the body); absent = every column. */
  columns?: string[];
  versionColumn: string;
  versionType: string;
  keyColumns: string[];
  /** Null = from the start (the snapshot). */
  after: PollCursor | null;
  watermark: string;
  limit: number;
  /** A row filter in the server's SQL. */
  filter?: string;
}

/** The result of a range read, with the column names the server returned (for the schema version). */
export interface RangePage {
  rows: PolledRow[];
  columns: string[];
}

export interface WatermarkQuery {
  table: string;
  versionColumn: string;
  versionType: string;
  kind: VersionKind;
  rule: WatermarkRule;
  lagWindowMs: number;
  /** A tombstone table whose versions count too (sequence columns). */
  tombstoneTable?: string;
}

export interface Watermark {
  /** Read up to and including this version; null = nothing is safe to read yet. */
  upTo: string | null;
  /** `lag` with timestamps: re-read from here (upTo minus another window) and skip what was journaled. */
  overlapFrom: string | null;
  /** The newest version now, safe or not (the current time, the highest version): where the snapshot ends. */
  head: string | null;
}

/** A connection to the polled database, opened by its dialect. */
export interface PollConnection {
  describe(table: string): Promise<PollTableShape | null>;
  /** Throws a setup error (PollSetupProblem) when the user may not read the table. */
  checkReadable(table: string, columns: readonly string[]): Promise<void>;
  watermark(query: WatermarkQuery): Promise<Watermark>;
  read(range: RangeRead): Promise<RangePage>;
  /** The server's estimate of the table's rows (planner statistics), null when unknown. */
  estimateRows(table: string): Promise<number | null>;
  close(): Promise<void>;
}

export interface PollConnectOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  connectTimeoutMs: number;
}

export interface PollDialect {
  readonly name: 'postgres' | 'mysql';
  /** A quoted identifier ("a"."b" / `a`.`b`), from a name already checked by the config schema. */
  quote(identifier: string): string;
  connect(options: PollConnectOptions): Promise<PollConnection>;
  /** The version column's type as number or timestamp; undefined = not usable as a version column. */
  versionKind(type: string): VersionKind | undefined;
  /** The watermark rule this server and column type allow. */
  watermarkRule(type: string): WatermarkRule;
  /** Orders two version texts of one column (as the server would). */
  compareVersions(kind: VersionKind, a: string, b: string): number;
  /** The server's error as a setup problem (the fix the DBA applies), or undefined when it is transient (retry). */
  setupProblem(error: unknown): string | undefined;
}

/** A problem only the DBA can fix; the source stops with it. */
export class PollSetupProblem extends Error {
  override readonly name = 'PollSetupProblem';
}

/** Versions as numbers compare as big integers; timestamps rendered fixed-width compare as text. */
export function compareVersionTexts(kind: VersionKind, a: string, b: string): number {
  if (kind === 'number') {
    const x = BigInt(a.split('.')[0]!);
    const y = BigInt(b.split('.')[0]!);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
