// How a snapshot resumed after a kill meets the stream exactly, without
// re-reading the chunks copied before the kill.
//
// The chunks copied before the kill were read in the snapshot the slot exported
// when it was created (consistent point C): streaming from C adds every later
// commit, so for them nothing is missed or doubled. The exported snapshot dies
// with its connection, so the remaining chunks are read in a new REPEATABLE READ
// snapshot S, taken later, and the stream from C replays commits that S already
// shows. For a key in the range copied under S, a streamed transaction is
// applied only when S does not see it: S's own visibility rule (xid < xmin, or
// xid < xmax and not in xip — the fields of pg_current_snapshot()) decides it,
// the same rule the server applied when it read the chunk, so each change is in
// exactly one of the chunk and the stream. Every transaction S sees committed
// before S was taken, so its commit record lies before the WAL insert position
// read right after S (`until`): past it the filter has nothing left to skip and
// is dropped. A second kill adds a second range with its own snapshot; a key
// belongs to the last range that starts before it.
import type pg from 'pg';
import type { CapturedTable } from './postgres-preflight.js';

/** A range of rows copied under one snapshot: from (table, after) on, to the next range's start. */
export interface ResumedRange {
  /** Index of the table the range starts in. */
  table: number;
  /** The range starts after this key of `table` (its texts); null = at the table's first row. */
  after: string[] | null;
  /** pg_current_snapshot() as text, "xmin:xmax:xip,…". */
  snapshot: string;
  /** The WAL insert LSN read after the snapshot was taken ("X/Y"). */
  until: string;
}

interface ParsedSnapshot {
  xmin: bigint;
  xmax: bigint;
  running: Set<bigint>;
}

function parseSnapshot(text: string): ParsedSnapshot {
  const [xmin, xmax, xip] = text.split(':');
  return { xmin: BigInt(xmin!), xmax: BigInt(xmax!), running: new Set((xip ?? '').split(',').filter(Boolean).map((x) => BigInt(x))) };
}

/** Would snapshot `s` see the (32-bit, as pgoutput sends it) transaction id `xid`'s commit? */
export function snapshotSees(s: ParsedSnapshot, xid: number): boolean {
  // Widen the 32-bit xid to the snapshot's epoch (xid8): the nearest value at or below xmax + 2^31.
  const epoch = s.xmax & ~0xffffffffn;
  let wide = epoch | BigInt(xid >>> 0);
  if (wide > s.xmax + 0x80000000n) wide -= 0x100000000n;
  if (wide < s.xmin) return true;
  return wide < s.xmax && !s.running.has(wide);
}

export class ResumeFilter {
  private readonly parsed: { range: ResumedRange; snapshot: ParsedSnapshot }[];

  constructor(readonly ranges: readonly ResumedRange[]) {
    this.parsed = ranges.map((range) => ({ range, snapshot: parseSnapshot(range.snapshot) }));
  }

  get empty(): boolean {
    return this.ranges.length === 0;
  }

  /** The ranges still needed once every commit up to `lsn` is journaled (those whose `until` is later). */
  after(lsnPassed: (until: string) => boolean): ResumeFilter {
    return new ResumeFilter(this.ranges.filter((r) => !lsnPassed(r.until)));
  }

  /**
   * True when the change of `key` (its texts) in `table`, made by transaction
   * `xid`, is already in a chunk copied under a resumed snapshot.
   */
  async covers(client: Pick<pg.Client, 'query'>, table: CapturedTable, key: readonly string[], xid: number): Promise<boolean> {
    for (let i = this.parsed.length - 1; i >= 0; i--) {
      const { range, snapshot } = this.parsed[i]!;
      if (!(await startsBefore(client, range, table, key))) continue;
      return snapshotSees(snapshot, xid);
    }
    return false;
  }
}

/** Does `range` start before (table, key)? Keys compare in the server's own order (collations, types). */
async function startsBefore(client: Pick<pg.Client, 'query'>, range: ResumedRange, table: CapturedTable, key: readonly string[]): Promise<boolean> {
  if (table.index !== range.table) return table.index > range.table;
  if (range.after === null) return true;
  const types = table.key.map((k) => table.columns.find((c) => c.name === k)!.typeName);
  const left = types.map((t, i) => `$${i + 1}::${t}`).join(', ');
  const right = types.map((t, i) => `$${i + 1 + types.length}::${t}`).join(', ');
  const result = await client.query<{ after: boolean | string }>(`SELECT ROW(${left}) > ROW(${right}) AS after`, [...key, ...range.after]);
  const after = result.rows[0]!.after;
  return after === true || after === 't';
}
