// The rows of sink_cursors and sink_leases as both SinkCursorStore backends read
// them (relay.db and PostgreSQL share the columns), and their one mapping to the port's types.
import type { SinkCursor, SinkLease } from './sink-cursor-store.js';

export interface CursorRow {
  sink: string;
  hospital: string;
  feed: string;
  published_seq: number;
  subject_seq: number;
  updated_at_ms: number;
}

export interface LeaseRow {
  sink: string;
  hospital: string;
  feed: string;
  holder: string;
  expires_at_ms: number;
}

export function cursorOf(row: CursorRow): SinkCursor {
  return { sink: row.sink, hospital: row.hospital, feed: row.feed, publishedSeq: row.published_seq, subjectSeq: row.subject_seq, updatedAtMs: row.updated_at_ms };
}

export function leaseOf(row: LeaseRow): SinkLease {
  return { sink: row.sink, hospital: row.hospital, feed: row.feed, holder: row.holder, expiresAtMs: row.expires_at_ms };
}
