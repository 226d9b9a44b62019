// Where a MySQL/MariaDB source is, as saved with each append (the journal's
// source position) and shown in status: the GTID position of the last journaled
// transaction, the binlog file and offset it ended at (for status and retained
// bytes), the snapshot's cursor while one is running, and each table's schema
// version. Saved as JSON; the GTID alone goes into each event's `position` header.
//
// GTIDs come in two flavours and both are kept as the server writes them:
// - MariaDB: a position, one `domain-server-seq` per replication domain, e.g.
//   "0-1-1234,1-2-17" (the form of @@gtid_binlog_pos and @@gtid_current_pos).
// - MySQL: a GTID set, `uuid:interval[:interval]` per source, e.g.
//   "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-27" (the form of @@gtid_executed;
//   requires gtid_mode=ON).
// zongji's GtidSet / MariadbGtidPosition parse both and answer "is this GTID
// already covered", which is what resume and the snapshot need.
import { GtidSet, MariadbGtidPosition } from '@vlasky/zongji';
import type { CaptureValue } from '../database/index.js';

export interface SnapshotCursor {
  /** The tables ("db.table") still to copy, in order; the first is being copied now. */
  tables: string[];
  /** The key of the last row journaled from the first table; null before its first chunk. */
  after: CaptureValue[] | null;
  /** Rows copied so far, over every table (for the progress figure). */
  rowsCopied: number;
}

export interface MysqlPosition {
  /** The GTID position (MariaDB) or set (MySQL) of everything journaled; '' = the whole binlog. */
  gtid: string;
  /** The binlog file and offset after the last journaled transaction, when known. */
  file: string | null;
  pos: number | null;
  /**
   * The tables ("db.table") whose rows the journal follows: copied by a snapshot, or
   * streamed from the start (snapshot: never). A table added to the config later
   * is not among them, and is snapshotted while the others stream on.
   */
  captured: string[];
  /** Present while a snapshot (initial, of an added table, or after a purge) is running. */
  snapshot: SnapshotCursor | null;
  /** "db.table" -> [schema version, signature of the column types it was given for]. */
  schemas: Record<string, [number, string]>;
}

export function formatPosition(position: MysqlPosition): string {
  return JSON.stringify(position);
}

/** The saved position, or undefined when there is none or it is not one of ours (then the source starts afresh). */
export function parsePosition(text: string | undefined): MysqlPosition | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<MysqlPosition>;
    if (typeof value.gtid !== 'string') return undefined;
    const snapshot = value.snapshot && Array.isArray(value.snapshot.tables) ? value.snapshot : null;
    return { gtid: value.gtid, file: value.file ?? null, pos: value.pos ?? null, captured: value.captured ?? [], snapshot, schemas: value.schemas ?? {} };
  } catch {
    return undefined;
  }
}

/** True for a MySQL GTID set (it always has a ':'), false for a MariaDB position. */
export function isMysqlGtidSet(gtid: string): boolean {
  return gtid.includes(':');
}

/** Whether the transaction `gtid` is already within `position` (journaled before, or part of a snapshot taken at it). */
export function gtidCovered(position: string, gtid: string | undefined): boolean {
  if (gtid === undefined || position === '') return false;
  if (isMysqlGtidSet(position)) return GtidSet.parse(position).contains(gtid);
  return MariadbGtidPosition.parse(position).covers(gtid);
}

/**
 * Whether the stream, having journaled up to `stream`, has passed every
 * transaction of `target` (a snapshot's position): MariaDB per domain by sequence
 * number, MySQL by set inclusion. A domain the stream has not seen is not reached.
 */
export function positionReached(stream: string, target: string): boolean {
  if (target === '') return true;
  if (isMysqlGtidSet(target)) {
    if (!isMysqlGtidSet(stream)) return false;
    const have = GtidSet.parse(stream);
    // Every GTID of the target set is in the stream's set: test each interval's ends
    // and rely on the sets being gap-free per source in practice (a replica's
    // executed set is contiguous); the target is a server's @@gtid_executed.
    return target.split(',').every((section) => {
      const [uuid, ...intervals] = section.trim().split(':');
      return intervals.every((interval) => {
        const [from, to] = interval.split('-');
        return [from, to ?? from].every((gno) => have.contains(`${uuid}:${gno}`));
      });
    });
  }
  if (stream === '' || isMysqlGtidSet(stream)) return false;
  const have = new Map(stream.split(',').map((entry) => {
    const [domain, , seq] = entry.trim().split('-');
    return [domain!, BigInt(seq!)] as const;
  }));
  return target.split(',').every((entry) => {
    const [domain, , seq] = entry.trim().split('-');
    const reached = have.get(domain!);
    return reached !== undefined && reached >= BigInt(seq!);
  });
}

/** `position` with the transaction `gtid` added (a DDL, which has no commit event of its own). */
export function withGtid(position: string, gtid: string): string {
  if (isMysqlGtidSet(gtid)) {
    const set = GtidSet.parse(isMysqlGtidSet(position) ? position : '');
    set.add(gtid);
    return set.toString();
  }
  const at = MariadbGtidPosition.parse(isMysqlGtidSet(position) ? '' : position);
  const [domainId, serverId, seqNo] = gtid.split('-');
  at.add({ domainId: Number(domainId), serverId: Number(serverId), seqNo: seqNo! });
  return at.toString();
}
