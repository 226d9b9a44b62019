// One poll of a table with a tombstone table: two pages read up to the same
// watermark, merged into the order their versions say. Where a page came back full,
// rows beyond its last version are not known yet, so nothing past that version is
// taken from either page this time (it is read again, after the cursors, next
// time). At one version deletes go before upserts: a key deleted and inserted again
// in one transaction exists, one inserted and deleted has only its tombstone. Pure.
import type { PolledRow, PollCursor, VersionKind } from './poll-dialect.js';
import { compareVersionTexts } from './poll-dialect.js';

export interface ReaderPage {
  rows: PolledRow[];
  /** The page held as many rows as asked: more may follow at or after its last version. */
  full: boolean;
  /** Where this read started (the cursor, or the re-read bound of the `lag` rule). */
  from: PollCursor | null;
}

export interface MergedRow {
  reader: 'rows' | 'tombstones';
  row: PolledRow;
}

export interface MergedPages {
  /** In version order, deletes before upserts at one version. */
  merged: MergedRow[];
  rows: PollCursor | null;
  tombstones: PollCursor | null;
}

/** Where a reader goes on from: the watermark when its page was all taken and short, else its last row taken. */
function nextCursor(kind: VersionKind, page: ReaderPage, taken: number, watermark: string): PollCursor | null {
  if (taken === page.rows.length && !page.full) {
    // A watermark behind where the read began (an older transaction came into view) moves nothing back.
    if (page.from && compareVersionTexts(kind, watermark, page.from.version) < 0) return page.from;
    return { version: watermark, key: null };
  }
  if (taken === 0) return page.from;
  const last = page.rows[taken - 1]!;
  return { version: last.version, key: last.key };
}

export function mergePages(kind: VersionKind, watermark: string, rows: ReaderPage, tombstones: ReaderPage | null): MergedPages {
  const compare = (a: string, b: string) => compareVersionTexts(kind, a, b);
  let bound = watermark;
  for (const page of [rows, tombstones]) {
    if (page?.full && page.rows.length > 0) {
      const last = page.rows[page.rows.length - 1]!.version;
      if (compare(last, bound) < 0) bound = last;
    }
  }
  const taken = (page: ReaderPage) => {
    let n = 0;
    while (n < page.rows.length && compare(page.rows[n]!.version, bound) <= 0) n++;
    return n;
  };
  const rowsTaken = taken(rows);
  const tombstonesTaken = tombstones ? taken(tombstones) : 0;
  const merged: MergedRow[] = [
    ...(tombstones?.rows.slice(0, tombstonesTaken).map((row) => ({ reader: 'tombstones' as const, row })) ?? []),
    ...rows.rows.slice(0, rowsTaken).map((row) => ({ reader: 'rows' as const, row })),
  ];
  // Stable: within a reader the server's (version, key) order stays; at one version tombstones (listed first) stay first.
  merged.sort((a, b) => compare(a.row.version, b.row.version));
  return {
    merged,
    rows: nextCursor(kind, rows, rowsTaken, watermark),
    tombstones: tombstones ? nextCursor(kind, tombstones, tombstonesTaken, watermark) : null,
  };
}
