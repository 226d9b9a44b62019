// The relay's inbound events in PostgreSQL: the InboundStore port
// (inbound-store.ts) on the relay's shared connection pool (schema v2, the same
// tables as relay.db's migration 8). A write resolves only after COMMIT, which
// PostgreSQL makes durable (synchronous_commit on, the server's default), so a
// 202 promises the event survives the loss of this process and of the server.
// Several relay processes share these rows: every decision is taken under a
// row lock or a unique index, never by reading and then writing.
//
// Failure modes handled:
//  1. A vendor's retry reaches another relay process than its first write:
//     writes of one (hospital, channel) take the channel's row FOR UPDATE
//     before looking the Idempotency-Key up, so the second writer sees the
//     first's committed row and answers with it (or a conflict).
//  2. Two processes numbering one channel at once: event_seq and receipt_seq
//     are incremented under that same row lock, so no number is handed out
//     twice, and deleting old finals never reuses one (counters, not MAX).
//  3. The expiry sweep (any process) racing a send (the process holding the
//     agent's stream): takeToSend locks the rows it marks sent and the sweep
//     re-checks first_sent_at_ms IS NULL after waiting for that lock
//     (READ COMMITTED re-evaluates the WHERE on the newest row), so an event
//     on the wire is never also expired. Sweeps of several processes take one
//     advisory lock; the one that does not get it sweeps nothing this time.
//  4. Two final receipts for one event at once (a resend racing the first):
//     receipts of an event are decided under its row lock, and the partial
//     unique index on final receipts stands behind that.
//  5. Deadlocks: every transaction that locks both takes the channel row
//     before event rows (the sweep locks its channels in sorted order first).
//  6. Listeners in other processes: each write and stored receipt sends a
//     NOTIFY on INBOUND_DOORBELL_CHANNEL inside its transaction (delivered on
//     commit only); a process that LISTENs hands the payload to observe(),
//     which tells this process's subscribers. Own notifications are ignored
//     (the local subscribers were told at commit already).
//  7. The connection breaks mid-transaction: RelayDatabase rolls back and the
//     call rejects, so nothing is answered as stored that was not committed.
import { randomBytes } from 'node:crypto';
import { FINAL_OUTCOMES, type InboundChannelDeclaration, type InboundReceipt } from '../../protocol/index.js';
import type { DatabaseClient, RelayDatabase } from '../store/postgres/index.js';
import { InboundStoreClosedError, InboundUnknownChannelError } from './errors.js';
import { receiptRowValues, RECEIPT_COLUMNS, sha256Hex, toRecord, toStoredReceipt, type ChannelRow, type EventRow, type ReceiptRow } from './inbound-rows.js';
import type { InboundBacklogEntry, InboundRecord, InboundStore, InboundWrite, ReceiptResult, StoredReceipt, WriteResult } from './inbound-store.js';
import { EXPIRE_BATCH, newInboundId, RELAY_EXPIRY_REASON } from './sqlite-inbound-store.js';
import { InboundSubscribers, type InboundListener } from './inbound-subscribers.js';

/** The NOTIFY channel of inbound writes and receipts, for processes other than the writer's. */
export const INBOUND_DOORBELL_CHANNEL = 'wardline_inbound';
/** The advisory lock the expiry sweep takes, so one process sweeps at a time ("wlib" in ASCII). */
export const INBOUND_EXPIRY_LOCK_KEY = 0x776c_6962;

export interface PostgresInboundStoreOptions {
  /** The relay's pool; migratePostgres has run. Not closed by close(): other stores share it. */
  database: RelayDatabase;
  /** Id generator; default newInboundId. Tests pass one to force a collision. */
  newId?: () => string;
}

/** What an inbound doorbell says: which hospital's channel had a write or a receipt, and from which process. */
export interface InboundDoorbell {
  origin: string;
  hospital: string;
  channel: string;
  what: 'write' | 'receipt';
}

/** An event row with its shown receipt's columns (prefixed r_), from one query. */
type JoinedRow = EventRow & { [K in keyof ReceiptRow as `r_${K}`]: ReceiptRow[K] | null };

// The event and the receipt shown with it (the final one, else the latest quarantine notice), in one round trip.
const EVENT_WITH_RECEIPT = `
  SELECT e.*, r.hospital AS r_hospital, r.channel AS r_channel, r.receipt_seq AS r_receipt_seq, r.id AS r_id, r.vendor AS r_vendor,
         r.key AS r_key, r.outcome AS r_outcome, r.final AS r_final, r.code AS r_code, r.reason AS r_reason, r.reference AS r_reference,
         r.attempts AS r_attempts, r.decided_at_ms AS r_decided_at_ms, r.stored_at_ms AS r_stored_at_ms
    FROM inbound_events e
    LEFT JOIN LATERAL (
      SELECT * FROM inbound_receipts r WHERE r.hospital = e.hospital AND r.id = e.id ORDER BY r.final DESC, r.receipt_seq DESC LIMIT 1
    ) r ON true`;

function joinedRecord(row: JoinedRow): InboundRecord {
  const receipt: ReceiptRow | undefined =
    row.r_id === null
      ? undefined
      : {
          hospital: row.r_hospital!,
          channel: row.r_channel!,
          receipt_seq: row.r_receipt_seq!,
          id: row.r_id,
          vendor: row.r_vendor!,
          key: row.r_key!,
          outcome: row.r_outcome!,
          final: row.r_final!,
          code: row.r_code!,
          reason: row.r_reason!,
          reference: row.r_reference!,
          attempts: row.r_attempts!,
          decided_at_ms: row.r_decided_at_ms!,
          stored_at_ms: row.r_stored_at_ms!,
        };
  return toRecord(row, receipt);
}

export class PostgresInboundStore implements InboundStore {
  /** Names this store in its doorbells, so it ignores its own. */
  readonly origin = randomBytes(8).toString('hex');
  private closed = false;
  private readonly listeners = new InboundSubscribers();
  private readonly database: RelayDatabase;
  private readonly newId: () => string;

  private constructor(options: PostgresInboundStoreOptions) {
    this.database = options.database;
    this.newId = options.newId ?? newInboundId;
  }

  /** The store on `options.database` (schema v2 applied by migratePostgres). */
  static async open(options: PostgresInboundStoreOptions): Promise<PostgresInboundStore> {
    return new PostgresInboundStore(options);
  }

  async declareChannels(hospital: string, channels: readonly InboundChannelDeclaration[], atMs: number): Promise<void> {
    this.assertOpen();
    await this.database.transaction(async (client) => {
      await client.query('UPDATE inbound_channels SET declared = 0 WHERE hospital = $1', [hospital]);
      if (channels.length === 0) return;
      await client.query(
        `INSERT INTO inbound_channels (hospital, channel, declaration, declared, declared_at_ms)
         SELECT $1, name, declaration, 1, $4 FROM unnest($2::text[], $3::text[]) AS d(name, declaration)
         ON CONFLICT (hospital, channel) DO UPDATE SET
           declaration = excluded.declaration, declared = 1, declared_at_ms = excluded.declared_at_ms`,
        [hospital, channels.map((c) => c.name), channels.map((c) => JSON.stringify(c)), atMs],
      );
    });
  }

  async channel(hospital: string, channel: string): Promise<InboundChannelDeclaration | undefined> {
    this.assertOpen();
    const row = (await this.database.query<ChannelRow>('SELECT * FROM inbound_channels WHERE hospital = $1 AND channel = $2', [hospital, channel])).rows[0];
    return row ? (JSON.parse(row.declaration) as InboundChannelDeclaration) : undefined;
  }

  async channels(hospital: string): Promise<InboundChannelDeclaration[]> {
    this.assertOpen();
    const rows = (await this.database.query<ChannelRow>('SELECT * FROM inbound_channels WHERE hospital = $1 ORDER BY channel', [hospital])).rows;
    return rows.map((row) => JSON.parse(row.declaration) as InboundChannelDeclaration);
  }

  async write(write: InboundWrite): Promise<WriteResult> {
    this.assertOpen();
    const bodySha256 = sha256Hex(write.body);
    const result = await this.database.transaction(async (client): Promise<WriteResult> => {
      // Failure modes 1 and 2: the channel's row lock orders every writer of the channel.
      const channel = await client.query<{ event_seq: number }>('SELECT event_seq FROM inbound_channels WHERE hospital = $1 AND channel = $2 FOR UPDATE', [
        write.hospital,
        write.channel,
      ]);
      if (channel.rowCount === 0) throw new InboundUnknownChannelError(write.hospital, write.channel);
      const existing = (
        await client.query<JoinedRow>(`${EVENT_WITH_RECEIPT} WHERE e.hospital = $1 AND e.channel = $2 AND e.vendor = $3 AND e.idempotency_key = $4`, [
          write.hospital,
          write.channel,
          write.vendor,
          write.idempotencyKey,
        ])
      ).rows[0];
      if (existing) {
        return existing.body_sha256 === bodySha256 ? { kind: 'replayed', record: joinedRecord(existing) } : { kind: 'conflict', existing: joinedRecord(existing) };
      }
      const seq = (
        await client.query<{ event_seq: number }>('UPDATE inbound_channels SET event_seq = event_seq + 1 WHERE hospital = $1 AND channel = $2 RETURNING event_seq', [
          write.hospital,
          write.channel,
        ])
      ).rows[0]!.event_seq;
      let id = this.newId();
      for (let tries = 1; (await client.query('SELECT 1 FROM inbound_events WHERE hospital = $1 AND id = $2', [write.hospital, id])).rowCount! > 0; tries++) {
        if (tries >= 8) throw new Error(`could not draw an unused inbound id for hospital "${write.hospital}" in ${tries} tries`);
        id = this.newId();
      }
      const inserted = await client.query<EventRow>(
        `INSERT INTO inbound_events
           (hospital, channel, channel_seq, id, key, vendor, idempotency_key, content_type, body, body_sha256, received_at_ms, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING *`,
        [write.hospital, write.channel, seq, id, write.key, write.vendor, write.idempotencyKey, write.contentType, write.body, bodySha256, write.receivedAtMs, write.expiresAtMs],
      );
      await this.ring(client, write.hospital, write.channel, 'write');
      return { kind: 'created', record: toRecord(inserted.rows[0]!, undefined) };
    });
    if (result.kind === 'created') this.notify(write.hospital, 'write', write.channel);
    return result;
  }

  async get(hospital: string, id: string): Promise<InboundRecord | undefined> {
    this.assertOpen();
    const row = (await this.database.query<JoinedRow>(`${EVENT_WITH_RECEIPT} WHERE e.hospital = $1 AND e.id = $2`, [hospital, id])).rows[0];
    return row ? joinedRecord(row) : undefined;
  }

  async takeToSend(hospital: string, channel: string, afterSeq: number, limit: number, maxBytes: number, nowMs: number): Promise<InboundRecord[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    return this.database.transaction(async (client) => {
      // Failure mode 3: the rows are locked, then marked sent, in this transaction.
      const rows = (
        await client.query<JoinedRow>(
          `${EVENT_WITH_RECEIPT}
            WHERE e.hospital = $1 AND e.channel = $2 AND e.channel_seq > $3 AND e.final_outcome IS NULL
              AND (e.first_sent_at_ms IS NOT NULL OR e.expires_at_ms > $4)
            ORDER BY e.channel_seq
            LIMIT $5
            FOR UPDATE OF e`,
          [hospital, channel, afterSeq, nowMs, limit],
        )
      ).rows;
      const taken: JoinedRow[] = [];
      let bytes = 0;
      for (const row of rows) {
        // At least one event, however large: a window that admits none would stall the channel.
        if (taken.length > 0 && bytes + row.body.length > maxBytes) break;
        bytes += row.body.length;
        taken.push(row);
      }
      const unsent = taken.filter((row) => row.first_sent_at_ms === null).map((row) => row.channel_seq);
      if (unsent.length > 0) {
        await client.query('UPDATE inbound_events SET first_sent_at_ms = $4 WHERE hospital = $1 AND channel = $2 AND channel_seq = ANY($3::bigint[]) AND first_sent_at_ms IS NULL', [
          hospital,
          channel,
          unsent,
          nowMs,
        ]);
        for (const row of taken) if (row.first_sent_at_ms === null) row.first_sent_at_ms = nowMs;
      }
      return taken.map(joinedRecord);
    });
  }

  async ack(hospital: string, channel: string, throughSeq: number, atMs: number): Promise<number> {
    this.assertOpen();
    return this.database.transaction(async (client) => {
      const row = (await client.query<ChannelRow>('SELECT * FROM inbound_channels WHERE hospital = $1 AND channel = $2 FOR UPDATE', [hospital, channel])).rows[0];
      if (!row) return 0;
      // Never past what was numbered, never backward (a late, older ack after a newer one).
      const mark = Math.max(row.acked_seq, Math.min(throughSeq, row.event_seq));
      if (mark > row.acked_seq) {
        await client.query('UPDATE inbound_channels SET acked_seq = $3, acked_at_ms = $4 WHERE hospital = $1 AND channel = $2', [hospital, channel, mark, atMs]);
        await client.query(
          `UPDATE inbound_events SET acked_at_ms = $4
            WHERE hospital = $1 AND channel = $2 AND channel_seq <= $3 AND acked_at_ms IS NULL AND first_sent_at_ms IS NOT NULL`,
          [hospital, channel, mark, atMs],
        );
      }
      return mark;
    });
  }

  async ackedSeq(hospital: string, channel: string): Promise<number> {
    this.assertOpen();
    const row = (await this.database.query<{ acked_seq: number }>('SELECT acked_seq FROM inbound_channels WHERE hospital = $1 AND channel = $2', [hospital, channel])).rows[0];
    return row?.acked_seq ?? 0;
  }

  async storeReceipt(hospital: string, receipt: InboundReceipt, atMs: number): Promise<ReceiptResult> {
    this.assertOpen();
    const result = await this.database.transaction(async (client): Promise<ReceiptResult> => {
      // Failure mode 5: the channel first, then the event (failure mode 4).
      await client.query('SELECT 1 FROM inbound_channels WHERE hospital = $1 AND channel = $2 FOR UPDATE', [hospital, receipt.channel]);
      const event = (await client.query<EventRow>('SELECT * FROM inbound_events WHERE hospital = $1 AND id = $2 FOR UPDATE', [hospital, receipt.id])).rows[0];
      if (!event || event.channel !== receipt.channel) {
        return { kind: 'unknown', reason: `hospital "${hospital}" has no inbound event ${receipt.id} on channel "${receipt.channel}"` };
      }
      if (event.first_sent_at_ms === null) return { kind: 'unknown', reason: `inbound event ${receipt.id} was never sent to the agent` };
      const same = (
        await client.query<ReceiptRow>('SELECT * FROM inbound_receipts WHERE hospital = $1 AND id = $2 AND outcome = $3 AND attempts = $4', [
          hospital,
          receipt.id,
          receipt.outcome,
          receipt.attempts,
        ])
      ).rows[0];
      if (same) return { kind: 'duplicate', receiptSeq: same.receipt_seq };
      const ended = (await client.query<ReceiptRow>('SELECT * FROM inbound_receipts WHERE hospital = $1 AND id = $2 AND final = 1', [hospital, receipt.id])).rows[0];
      if (ended) {
        return {
          kind: 'conflict',
          reason: `inbound event ${receipt.id} already ended ${ended.outcome} (receipt ${ended.receipt_seq}); the ${receipt.outcome} receipt after ${receipt.attempts} attempts is not stored`,
        };
      }
      const receiptSeq = await this.insertReceipt(client, event, { ...receipt, final: FINAL_OUTCOMES.has(receipt.outcome) }, atMs);
      await this.ring(client, hospital, receipt.channel, 'receipt');
      return { kind: 'stored', receiptSeq };
    });
    if (result.kind === 'stored') this.notify(hospital, 'receipt', receipt.channel);
    return result;
  }

  async expireUnsent(nowMs: number): Promise<InboundRecord[]> {
    this.assertOpen();
    const expired = await this.database.transaction(async (client) => {
      // Failure mode 3: one sweeper at a time across processes.
      const locked = (await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [INBOUND_EXPIRY_LOCK_KEY])).rows[0]!.ok;
      if (!locked) return [];
      const candidates = (
        await client.query<{ hospital: string; channel: string }>(
          `SELECT DISTINCT hospital, channel FROM (
             SELECT hospital, channel FROM inbound_events
              WHERE first_sent_at_ms IS NULL AND final_outcome IS NULL AND expires_at_ms <= $1
              ORDER BY expires_at_ms LIMIT $2) c
           ORDER BY hospital, channel`,
          [nowMs, EXPIRE_BATCH],
        )
      ).rows;
      if (candidates.length === 0) return [];
      // Failure mode 5: the channels in sorted order before any event row.
      for (const { hospital, channel } of candidates) {
        await client.query('SELECT 1 FROM inbound_channels WHERE hospital = $1 AND channel = $2 FOR UPDATE', [hospital, channel]);
      }
      const rows = (
        await client.query<EventRow>(
          `SELECT * FROM inbound_events
            WHERE first_sent_at_ms IS NULL AND final_outcome IS NULL AND expires_at_ms <= $1
            ORDER BY expires_at_ms
            LIMIT $2
            FOR UPDATE`,
          [nowMs, EXPIRE_BATCH],
        )
      ).rows;
      const ended: InboundRecord[] = [];
      for (const row of rows) {
        // A channel not locked above (an event that became expirable since): left for the next sweep.
        if (!candidates.some((c) => c.hospital === row.hospital && c.channel === row.channel)) continue;
        const receipt = { id: row.id, channel: row.channel, outcome: 'expired' as const, final: true, code: '', reason: RELAY_EXPIRY_REASON, reference: '', attempts: 0, decidedAtMs: nowMs };
        const receiptSeq = await this.insertReceipt(client, row, receipt, nowMs);
        await this.ring(client, row.hospital, row.channel, 'receipt');
        const receiptRow: ReceiptRow = {
          hospital: row.hospital,
          channel: row.channel,
          receipt_seq: receiptSeq,
          id: row.id,
          vendor: row.vendor,
          key: row.key,
          outcome: 'expired',
          final: 1,
          code: '',
          reason: RELAY_EXPIRY_REASON,
          reference: '',
          attempts: 0,
          decided_at_ms: nowMs,
          stored_at_ms: nowMs,
        };
        ended.push(toRecord({ ...row, final_outcome: 'expired', final_at_ms: nowMs }, receiptRow));
      }
      return ended;
    });
    for (const record of expired) this.notify(record.hospital, 'receipt', record.channel);
    return expired;
  }

  async deleteFinalBefore(cutoffMs: number, limit: number): Promise<number> {
    this.assertOpen();
    if (limit <= 0) return 0;
    // One statement: the ended events (rows another sweep holds are skipped, not waited for), their receipts, then them.
    const result = await this.database.query(
      `WITH ended AS (
         SELECT hospital, id FROM inbound_events
          WHERE final_at_ms IS NOT NULL AND final_at_ms < $1
          ORDER BY final_at_ms LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), receipts AS (
         DELETE FROM inbound_receipts r USING ended WHERE r.hospital = ended.hospital AND r.id = ended.id
       )
       DELETE FROM inbound_events e USING ended WHERE e.hospital = ended.hospital AND e.id = ended.id`,
      [cutoffMs, limit],
    );
    return result.rowCount ?? 0;
  }

  async forgetHospital(hospital: string): Promise<{ events: number; receipts: number }> {
    this.assertOpen();
    // Deleted rows: their bytes stay in the table files until VACUUM reuses the
    // space, and in the WAL and base backups until those are recycled — the
    // PostgreSQL operator's retention, said in the README.
    return this.database.transaction(async (client) => {
      const receipts = (await client.query('DELETE FROM inbound_receipts WHERE hospital = $1', [hospital])).rowCount ?? 0;
      const events = (await client.query('DELETE FROM inbound_events WHERE hospital = $1', [hospital])).rowCount ?? 0;
      await client.query('DELETE FROM inbound_channels WHERE hospital = $1', [hospital]);
      return { events, receipts };
    });
  }

  async receipts(hospital: string, channel: string, vendor: string, afterSeq: number, limit: number): Promise<StoredReceipt[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    const rows = (
      await this.database.query<ReceiptRow>(
        `SELECT * FROM inbound_receipts
          WHERE hospital = $1 AND channel = $2 AND vendor = $3 AND receipt_seq > $4
          ORDER BY receipt_seq
          LIMIT $5`,
        [hospital, channel, vendor, afterSeq, limit],
      )
    ).rows;
    return rows.map(toStoredReceipt);
  }

  async backlog(hospital: string): Promise<InboundBacklogEntry[]> {
    this.assertOpen();
    // One statement: the channel list and the counts agree.
    const rows = (
      await this.database.query<{ channel: string; declared: number; waiting: number | null; oldest: number | null }>(
        `SELECT c.channel, c.declared, w.waiting, w.oldest
           FROM inbound_channels c
           LEFT JOIN (
             SELECT channel, COUNT(*)::bigint AS waiting, MIN(received_at_ms) AS oldest
               FROM inbound_events
              WHERE hospital = $1 AND acked_at_ms IS NULL AND final_outcome IS NULL
              GROUP BY channel
           ) w ON w.channel = c.channel
          WHERE c.hospital = $1 AND (c.declared = 1 OR w.waiting IS NOT NULL)
          ORDER BY c.channel`,
        [hospital],
      )
    ).rows;
    return rows.map((row) => ({ channel: row.channel, waiting: row.waiting ?? 0, oldestReceivedAtMs: row.oldest ?? null }));
  }

  subscribe(hospital: string, listener: InboundListener): () => void {
    return this.listeners.subscribe(hospital, listener);
  }

  /**
   * A doorbell another process rang (the payload of a NOTIFY on
   * INBOUND_DOORBELL_CHANNEL): tells this process's subscribers. Failure mode 6.
   * A payload that does not parse, or this store's own, is ignored.
   */
  observe(payload: string): void {
    let doorbell: InboundDoorbell;
    try {
      doorbell = JSON.parse(payload) as InboundDoorbell;
    } catch {
      return;
    }
    if (doorbell.origin === this.origin || typeof doorbell.hospital !== 'string' || typeof doorbell.channel !== 'string') return;
    if (doorbell.what !== 'write' && doorbell.what !== 'receipt') return;
    this.notify(doorbell.hospital, doorbell.what, doorbell.channel);
  }

  get open(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  /** Numbers and stores a receipt (the caller holds the channel's row); a final one ends its event in the same transaction. */
  private async insertReceipt(client: DatabaseClient, event: EventRow, receipt: InboundReceipt, atMs: number): Promise<number> {
    const receiptSeq = (
      await client.query<{ receipt_seq: number }>('UPDATE inbound_channels SET receipt_seq = receipt_seq + 1 WHERE hospital = $1 AND channel = $2 RETURNING receipt_seq', [
        event.hospital,
        event.channel,
      ])
    ).rows[0]!.receipt_seq;
    await client.query(
      `INSERT INTO inbound_receipts (${RECEIPT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      receiptRowValues(event, receiptSeq, receipt, atMs),
    );
    if (receipt.final) await client.query('UPDATE inbound_events SET final_outcome = $3, final_at_ms = $4 WHERE hospital = $1 AND id = $2', [event.hospital, event.id, receipt.outcome, atMs]);
    return receiptSeq;
  }

  /** Failure mode 6: delivered to listening processes on COMMIT only. */
  private async ring(client: DatabaseClient, hospital: string, channel: string, what: 'write' | 'receipt'): Promise<void> {
    const doorbell: InboundDoorbell = { origin: this.origin, hospital, channel, what };
    await client.query('SELECT pg_notify($1, $2)', [INBOUND_DOORBELL_CHANNEL, JSON.stringify(doorbell)]);
  }

  private notify(hospital: string, what: 'write' | 'receipt', channel: string): void {
    this.listeners.notify(hospital, what, channel);
  }

  private assertOpen(): void {
    if (this.closed) throw new InboundStoreClosedError();
  }
}
