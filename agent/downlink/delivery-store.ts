// The delivery state of every inbound event (agent migration 15): one row per
// event, inserted inside the event's journal append and updated inside each
// receipt's, plus the channels an operator paused. Prepared statements only;
// every method is synchronous (better-sqlite3), so the intake and the engine can
// call them from AppendRequest.alsoInTransaction.
import type { SqliteDatabase } from '../store/index.js';

/** Where an event is in its delivery; the last three are final. */
export const DELIVERY_STATES = ['pending', 'delivering', 'retrying', 'awaiting', 'quarantined', 'accepted', 'refused', 'expired'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/** States an event is still open in (it holds its key, the TTL still applies). */
export const OPEN_STATES: readonly DeliveryState[] = ['pending', 'delivering', 'retrying', 'awaiting', 'quarantined'];

export interface DeliveryRow {
  id: string;
  /** The event's journal seq (its body and headers). */
  seq: number;
  relay: string;
  channel: string;
  key: string;
  state: DeliveryState;
  attempts: number;
  /** Failures that count towards quarantine (sinkDown ones do not). */
  countedFailures: number;
  nextAttemptMs: number;
  receivedAtMs: number;
  expiresAtMs: number;
  lastCode: string;
  lastReason: string;
  createdAtMs: number;
  updatedAtMs: number;
  decidedAtMs: number | null;
}

/** A new event's row, in its append transaction. */
export interface NewDelivery {
  id: string;
  seq: number;
  relay: string;
  channel: string;
  key: string;
  receivedAtMs: number;
  expiresAtMs: number;
}

/** A state change of one row. */
export interface DeliveryUpdate {
  state: DeliveryState;
  countedFailures?: number;
  nextAttemptMs?: number;
  code?: string;
  reason?: string;
  decidedAtMs?: number;
}

/** The event as journaled: what the sink is handed. */
export interface JournaledEvent {
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** Per-state counts of one channel, and its oldest open event. */
export interface ChannelDeliveryCounts {
  byState: Record<DeliveryState, number>;
  /** received_at of the oldest event not yet final, or null. */
  oldestOpenReceivedAtMs: number | null;
}

export interface ChannelPause {
  channel: string;
  pausedAtMs: number;
  operator: string;
  reason: string;
}

interface RawRow {
  id: string;
  seq: number;
  relay: string;
  channel: string;
  event_key: string;
  state: string;
  attempts: number;
  counted_failures: number;
  next_attempt_ms: number;
  received_at_ms: number;
  expires_at_ms: number;
  last_code: string;
  last_reason: string;
  created_at_ms: number;
  updated_at_ms: number;
  decided_at_ms: number | null;
}

const COLUMNS = `id, seq, relay, channel, event_key, state, attempts, counted_failures, next_attempt_ms, received_at_ms,
  expires_at_ms, last_code, last_reason, created_at_ms, updated_at_ms, decided_at_ms`;
const OPEN_LIST = OPEN_STATES.map((s) => `'${s}'`).join(', ');

function rowOf(raw: RawRow): DeliveryRow {
  return {
    id: raw.id,
    seq: raw.seq,
    relay: raw.relay,
    channel: raw.channel,
    key: raw.event_key,
    state: raw.state as DeliveryState,
    attempts: raw.attempts,
    countedFailures: raw.counted_failures,
    nextAttemptMs: raw.next_attempt_ms,
    receivedAtMs: raw.received_at_ms,
    expiresAtMs: raw.expires_at_ms,
    lastCode: raw.last_code,
    lastReason: raw.last_reason,
    createdAtMs: raw.created_at_ms,
    updatedAtMs: raw.updated_at_ms,
    decidedAtMs: raw.decided_at_ms,
  };
}

export class DeliveryStore {
  private readonly insertRow;
  private readonly selectRow;
  private readonly selectOpen;
  private readonly selectQuarantined;
  private readonly markAttempt;
  private readonly updateRow;
  private readonly selectEvent;
  private readonly countByState;
  private readonly selectOldestOpen;
  private readonly selectLowestOpenSeq;
  private readonly insertPause;
  private readonly deletePause;
  private readonly selectPauses;

  constructor(
    db: SqliteDatabase,
    private readonly clock: () => number = Date.now,
  ) {
    // A resend of an event already held is deduplicated by the journal first; the
    // DO NOTHING is for an id journaled under two relays' scopes (a moved channel).
    this.insertRow = db.prepare(
      `INSERT INTO inbound_deliveries (id, seq, relay, channel, event_key, state, next_attempt_ms, received_at_ms, expires_at_ms, created_at_ms, updated_at_ms)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    this.selectRow = db.prepare(`SELECT ${COLUMNS} FROM inbound_deliveries WHERE id = ?`);
    this.selectOpen = db.prepare(`SELECT ${COLUMNS} FROM inbound_deliveries WHERE channel = ? AND state IN (${OPEN_LIST}) ORDER BY seq`);
    this.selectQuarantined = db.prepare(`SELECT ${COLUMNS} FROM inbound_deliveries WHERE state = 'quarantined' ORDER BY seq LIMIT ?`);
    this.markAttempt = db.prepare(`UPDATE inbound_deliveries SET state = 'delivering', attempts = attempts + 1, updated_at_ms = ? WHERE id = ? RETURNING attempts`);
    this.updateRow = db.prepare(
      `UPDATE inbound_deliveries SET state = ?, counted_failures = coalesce(?, counted_failures), next_attempt_ms = coalesce(?, next_attempt_ms),
         last_code = coalesce(?, last_code), last_reason = coalesce(?, last_reason), decided_at_ms = coalesce(?, decided_at_ms), updated_at_ms = ?
       WHERE id = ?`,
    );
    this.selectEvent = db.prepare('SELECT content_type, body, headers FROM journal WHERE seq = ?');
    this.countByState = db.prepare('SELECT state, count(*) AS n FROM inbound_deliveries WHERE channel = ? GROUP BY state');
    this.selectLowestOpenSeq = db.prepare(`SELECT min(seq) AS seq FROM inbound_deliveries WHERE state IN (${OPEN_LIST})`);
    this.selectOldestOpen = db.prepare(`SELECT min(received_at_ms) AS oldest FROM inbound_deliveries WHERE channel = ? AND state IN (${OPEN_LIST})`);
    this.insertPause = db.prepare(
      `INSERT INTO inbound_channel_pauses (channel, paused_at_ms, operator, reason) VALUES (?, ?, ?, ?)
       ON CONFLICT (channel) DO UPDATE SET operator = excluded.operator, reason = excluded.reason`,
    );
    this.deletePause = db.prepare('DELETE FROM inbound_channel_pauses WHERE channel = ?');
    this.selectPauses = db.prepare('SELECT channel, paused_at_ms, operator, reason FROM inbound_channel_pauses');
  }

  /** Records a new event as pending (inside its journal append). */
  insert(row: NewDelivery): void {
    const now = this.clock();
    this.insertRow.run(row.id, row.seq, row.relay, row.channel, row.key, now, row.receivedAtMs, row.expiresAtMs, now, now);
  }

  get(id: string): DeliveryRow | undefined {
    const raw = this.selectRow.get(id) as RawRow | undefined;
    return raw && rowOf(raw);
  }

  /** A channel's events not yet final, in journal order. */
  open(channel: string): DeliveryRow[] {
    return (this.selectOpen.all(channel) as RawRow[]).map(rowOf);
  }

  /** Quarantined events of every channel, oldest first. */
  quarantined(limit = 1000): DeliveryRow[] {
    return (this.selectQuarantined.all(limit) as RawRow[]).map(rowOf);
  }

  /** Marks an attempt begun (state delivering, attempts + 1) before the sink sees it; returns the attempt's number. */
  beginAttempt(id: string): number {
    const row = this.markAttempt.get(this.clock(), id) as { attempts: number } | undefined;
    return row?.attempts ?? 0;
  }

  update(id: string, change: DeliveryUpdate): void {
    this.updateRow.run(
      change.state,
      change.countedFailures ?? null,
      change.nextAttemptMs ?? null,
      change.code ?? null,
      change.reason ?? null,
      change.decidedAtMs ?? null,
      this.clock(),
      id,
    );
  }

  /** The journaled event at seq; undefined when the journal no longer holds it. */
  event(seq: number): JournaledEvent | undefined {
    const raw = this.selectEvent.get(seq) as { content_type: string; body: Buffer; headers: string } | undefined;
    return raw && { contentType: raw.content_type, body: raw.body, headers: JSON.parse(raw.headers) as Record<string, string> };
  }

  /** The journal seq of the oldest event of any channel not yet final; undefined with none (the journal trimmer keeps it and all after it). */
  lowestOpenSeq(): number | undefined {
    return (this.selectLowestOpenSeq.get() as { seq: number | null }).seq ?? undefined;
  }

  counts(channel: string): ChannelDeliveryCounts {
    const byState = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>;
    for (const { state, n } of this.countByState.all(channel) as { state: DeliveryState; n: number }[]) byState[state] = n;
    const oldest = (this.selectOldestOpen.get(channel) as { oldest: number | null }).oldest;
    return { byState, oldestOpenReceivedAtMs: oldest };
  }

  pause(channel: string, operator: string, reason: string): void {
    this.insertPause.run(channel, this.clock(), operator, reason);
  }

  resume(channel: string): void {
    this.deletePause.run(channel);
  }

  pauses(): Map<string, ChannelPause> {
    const rows = this.selectPauses.all() as { channel: string; paused_at_ms: number; operator: string; reason: string }[];
    return new Map(rows.map((r) => [r.channel, { channel: r.channel, pausedAtMs: r.paused_at_ms, operator: r.operator, reason: r.reason }]));
  }
}
