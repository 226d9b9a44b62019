// Where a polling source is, per table, saved as JSON with every append (so a crash
// resumes exactly there): each reader's cursor (the table's and its tombstone
// table's), the (key, version) pairs journaled inside the re-read window of the
// `lag` rule (so an overlapping read journals nothing twice), whether the initial
// snapshot is still running, and the table's schema version.
import type { PollCursor, VersionKind } from './poll-dialect.js';
import { compareVersionTexts } from './poll-dialect.js';

/** At most this many (key, version) pairs are remembered per table; past it the oldest go (and the log says so). */
export const MAX_SEEN_PER_TABLE = 50_000;

export interface TablePosition {
  /** After this (version, key) in the table; null = not begun (the snapshot starts from the first row). */
  rows: PollCursor | null;
  /** The same for the tombstone table. */
  tombstones: PollCursor | null;
  /**
   * `lag` rule: the lowest version a re-read goes back to. Never lowered: the server's
   * bound can step back (MariaDB shows transaction starts in whole seconds), and the
   * pairs below it are forgotten; the cursors, not the re-read, are what miss nothing.
   */
  reReadFrom?: string | null;
  /** `lag` rule: "r:<key>" / "d:<key>" with the version, journaled where a later read can still meet it (above reReadFrom or the reader's cursor). */
  seen: [string, string][];
  /** True while the first read from the beginning (the snapshot) has not caught up with the watermark. */
  snapshotting: boolean;
  /** The newest version when the snapshot began: it is over once read up to here. */
  snapshotUntil: string | null;
  rowsCopied: number;
  /** Bumped when the column list the server returns changes. */
  schemaVersion: number;
  columns: string[];
}

export interface PollPosition {
  tables: Record<string, TablePosition>;
}

export function emptyTablePosition(snapshotting: boolean): TablePosition {
  return { rows: null, tombstones: null, seen: [], snapshotting, snapshotUntil: null, rowsCopied: 0, schemaVersion: 0, columns: [] };
}

/** The saved position, or an empty one; a position that is not ours is an error, never a silent restart. */
export function parsePollPosition(text: string | undefined): PollPosition {
  if (text === undefined) return { tables: {} };
  const parsed = JSON.parse(text) as PollPosition;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.tables !== 'object') throw new Error(`not a sql-poll position: ${text.slice(0, 200)}`);
  return parsed;
}

export function serializePollPosition(position: PollPosition): string {
  return JSON.stringify(position);
}

/**
 * Whether a read can still meet a pair at `version` of the reader whose cursor this
 * is. Reads go back to the re-read bound `from` (never lowered), but a cursor can
 * lie below it (a full page of a re-read, or a watermark that stepped back, leaves
 * it there), and a read from the cursor meets every version above it, and the rest
 * of the cursor's own version when it stopped at a key. Forgetting those pairs
 * while the cursor has still to pass them journals them again.
 */
function stillMet(kind: VersionKind, version: string, cursor: PollCursor | null, from: string | null): boolean {
  // No bound yet: a later bound may go back anywhere. No cursor: the read starts from the first row.
  if (from === null || cursor === null) return true;
  if (compareVersionTexts(kind, version, from) > 0) return true;
  const order = compareVersionTexts(kind, version, cursor.version);
  return cursor.key === null ? order > 0 : order >= 0;
}

/**
 * Drops the pairs no later read can meet (at or below the re-read bound `from` and
 * behind the reader's cursor in `position`), then the oldest beyond
 * MAX_SEEN_PER_TABLE. Returns how many went for the cap (a window with more rows
 * than that could journal one of them again).
 */
export function pruneSeen(position: TablePosition, kind: VersionKind, from: string | null, max = MAX_SEEN_PER_TABLE): number {
  position.seen = position.seen.filter(([tag, version]) => stillMet(kind, version, tag.startsWith('d:') ? position.tombstones : position.rows, from));
  if (position.seen.length <= max) return 0;
  position.seen.sort((a, b) => compareVersionTexts(kind, a[1], b[1]));
  const dropped = position.seen.length - max;
  position.seen = position.seen.slice(dropped);
  return dropped;
}

/** A short text of where each table is, for status (the version each reader is after). */
export function describePollPosition(position: PollPosition): string {
  return Object.entries(position.tables)
    .map(([table, p]) => `${table}@${p.rows?.version ?? '-'}${p.tombstones ? `/${p.tombstones.version}` : ''}`)
    .join(' ');
}
