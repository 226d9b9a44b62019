import { pb } from './messages.js';

export type EventOp = 'upsert' | 'delete';

/** One change from a source, as journaled by the agent and stored by the relay. */
export interface JournalEvent {
  /** Journal sequence number, strictly increasing, assigned at commit. */
  seq: number;
  stream: string;
  key: string;
  op: EventOp;
  /** Commit time, milliseconds since the Unix epoch. */
  tsMs: number;
  source: string;
  /** "hl7v2", "json" or "blob-ref". */
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

export function eventToProto(event: JournalEvent): InstanceType<typeof pb.Event> {
  return pb.Event.create({
    seq: event.seq,
    stream: event.stream,
    key: event.key,
    op: event.op === 'delete' ? pb.Op.OP_DELETE : pb.Op.OP_UPSERT,
    tsMs: event.tsMs,
    source: event.source,
    contentType: event.contentType,
    body: event.body,
    headers: event.headers,
  });
}

export function eventFromProto(message: InstanceType<typeof pb.Event>): JournalEvent {
  return {
    seq: Number(message.seq),
    stream: message.stream,
    key: message.key,
    op: message.op === pb.Op.OP_DELETE ? 'delete' : 'upsert',
    tsMs: Number(message.tsMs),
    source: message.source,
    contentType: message.contentType,
    body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    headers: { ...message.headers },
  };
}

/**
 * An event as both the agent's journal and the relay's feed store keep it in
 * SQLite: the same column names on both sides, headers as a JSON object.
 */
export interface EventRow {
  seq: number;
  stream: string;
  key: string;
  op: EventOp;
  ts_ms: number;
  source: string;
  content_type: string;
  body: Buffer;
  headers: string;
}

export function eventFromRow(row: EventRow): JournalEvent {
  return {
    seq: row.seq,
    stream: row.stream,
    key: row.key,
    op: row.op,
    tsMs: row.ts_ms,
    source: row.source,
    contentType: row.content_type,
    body: row.body,
    // Most events carry no headers: skip the parse for them (a backlog read is millions of rows).
    headers: row.headers === '{}' ? {} : (JSON.parse(row.headers) as Record<string, string>),
  };
}
