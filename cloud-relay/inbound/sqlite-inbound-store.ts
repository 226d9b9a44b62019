// The relay's inbound events in SQLite: the InboundStore port (inbound-store.ts)
// on better-sqlite3, in the relay's database file (relay migration 8). A write
// resolves only once its transaction is fsynced, so a 202 promises the event
// survives a power cut; every decision (idempotency, numbering, the one final
// receipt) is taken inside a write transaction.
//
// Failure modes handled:
//  1. A vendor retries a write (timeout, cut connection): the retry finds the
//     first write by (hospital, channel, vendor, Idempotency-Key) under the
//     write lock and is answered with it; a different body under the same key
//     is a conflict and nothing is stored. Two concurrent writers of the same
//     key cannot both insert: the unique index decides, the loser reads the winner.
//  2. Power loss right after a 202 or a ReceiptAck: synchronous=FULL in WAL
//     mode fsyncs every commit (NORMAL would not).
//  3. The expiry sweep racing a send: takeToSend marks events sent in the same
//     transaction that reads them, and the sweep only expires rows never sent,
//     so an event on the wire is never also expired at the relay.
//  4. The agent resends a receipt after a cut: (hospital, id, outcome,
//     attempts) is unique, the resend is a duplicate with the first receiptSeq.
//     A second, different final receipt is refused by the partial unique index
//     on final receipts: the first one stands.
//  5. Numbers reused after deletion: event and receipt seqs come from counters
//     in inbound_channels, not MAX(seq), so deleting old finals never renumbers.
//  6. An id collision (90 random bits): the unique (hospital, id) index is
//     checked and a new id drawn.
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { makePrivateDir, preparePrivateSqliteFile } from '../../runtime/index.js';
import { FINAL_OUTCOMES, type InboundChannelDeclaration, type InboundReceipt } from '../../protocol/index.js';
import { migrate } from '../store/index.js';
import { InboundStoreClosedError, InboundUnknownChannelError } from './errors.js';
import type {
  InboundBacklogEntry,
  InboundRecord,
  InboundStore,
  InboundWrite,
  ReceiptResult,
  StoredReceipt,
  WriteResult,
} from './inbound-store.js';
import { receiptRowValues, RECEIPT_COLUMNS, sha256Hex, toRecord, toStoredReceipt, type ChannelRow, type EventRow, type ReceiptRow } from './inbound-rows.js';
import { InboundSubscribers, type InboundListener } from './inbound-subscribers.js';

/** How long a statement waits for another connection's lock before failing, in milliseconds. */
export const DEFAULT_INBOUND_BUSY_TIMEOUT_MS = 5_000;
/** At most this many events are expired per expireUnsent call, so one sweep never holds the write lock long. */
export const EXPIRE_BATCH = 500;
/** The reason of a receipt the relay itself decides at an event's TTL. */
export const RELAY_EXPIRY_REASON = 'not delivered to the hospital before its TTL: it never left the relay';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A new inbound id: "ib" and 18 base32 characters (INBOUND_ID_PATTERN). */
export function newInboundId(): string {
  const bytes = randomBytes(18);
  let id = 'ib';
  // 256 is a multiple of 32, so the low five bits of a random byte are uniform.
  for (const byte of bytes) id += BASE32[byte & 31];
  return id;
}

export interface SqliteInboundStoreOptions {
  /** The SQLite file (`${dataDir}/relay.db`, shared with the feed store); its directory is created if missing. */
  file: string;
  /** Default DEFAULT_INBOUND_BUSY_TIMEOUT_MS. */
  busyTimeoutMs?: number;
  /** Id generator; default newInboundId. Tests pass one to force a collision. */
  newId?: () => string;
}

export class SqliteInboundStore implements InboundStore {
  private closed = false;
  private readonly listeners = new InboundSubscribers();
  private readonly newId: () => string;
  private readonly statements;
  private readonly writeTransaction;
  private readonly declareTransaction;
  private readonly takeTransaction;
  private readonly ackTransaction;
  private readonly receiptTransaction;
  private readonly expireTransaction;
  private readonly deleteTransaction;
  private readonly forgetHospitalTransaction;

  private constructor(
    private readonly db: Database.Database,
    options: SqliteInboundStoreOptions,
  ) {
    this.newId = options.newId ?? newInboundId;
    this.statements = {
      channel: db.prepare<[string, string], ChannelRow>('SELECT * FROM inbound_channels WHERE hospital = ? AND channel = ?'),
      channels: db.prepare<[string], ChannelRow>('SELECT * FROM inbound_channels WHERE hospital = ? ORDER BY channel'),
      upsertChannel: db.prepare(
        `INSERT INTO inbound_channels (hospital, channel, declaration, declared, declared_at_ms)
         VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (hospital, channel) DO UPDATE SET
           declaration = excluded.declaration, declared = 1, declared_at_ms = excluded.declared_at_ms`,
      ),
      undeclareAll: db.prepare('UPDATE inbound_channels SET declared = 0 WHERE hospital = ?'),
      nextEventSeq: db.prepare<[string, string], { event_seq: number }>(
        'UPDATE inbound_channels SET event_seq = event_seq + 1 WHERE hospital = ? AND channel = ? RETURNING event_seq',
      ),
      nextReceiptSeq: db.prepare<[string, string], { receipt_seq: number }>(
        'UPDATE inbound_channels SET receipt_seq = receipt_seq + 1 WHERE hospital = ? AND channel = ? RETURNING receipt_seq',
      ),
      byIdempotencyKey: db.prepare<[string, string, string, string], EventRow>(
        'SELECT * FROM inbound_events WHERE hospital = ? AND channel = ? AND vendor = ? AND idempotency_key = ?',
      ),
      byId: db.prepare<[string, string], EventRow>('SELECT * FROM inbound_events WHERE hospital = ? AND id = ?'),
      idTaken: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM inbound_events WHERE hospital = ? AND id = ?'),
      insertEvent: db.prepare(
        `INSERT INTO inbound_events
           (hospital, channel, channel_seq, id, key, vendor, idempotency_key, content_type, body, body_sha256, received_at_ms, expires_at_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      toSend: db.prepare<[string, string, number, number, number], EventRow>(
        `SELECT * FROM inbound_events
          WHERE hospital = ? AND channel = ? AND channel_seq > ? AND final_outcome IS NULL
            AND (first_sent_at_ms IS NOT NULL OR expires_at_ms > ?)
          ORDER BY channel_seq
          LIMIT ?`,
      ),
      markSent: db.prepare('UPDATE inbound_events SET first_sent_at_ms = ? WHERE hospital = ? AND channel = ? AND channel_seq = ? AND first_sent_at_ms IS NULL'),
      setAcked: db.prepare('UPDATE inbound_channels SET acked_seq = ?, acked_at_ms = ? WHERE hospital = ? AND channel = ?'),
      markAcked: db.prepare(
        `UPDATE inbound_events SET acked_at_ms = ?
          WHERE hospital = ? AND channel = ? AND channel_seq <= ? AND acked_at_ms IS NULL AND first_sent_at_ms IS NOT NULL`,
      ),
      sameReceipt: db.prepare<[string, string, string, number], ReceiptRow>(
        'SELECT * FROM inbound_receipts WHERE hospital = ? AND id = ? AND outcome = ? AND attempts = ?',
      ),
      finalReceipt: db.prepare<[string, string], ReceiptRow>('SELECT * FROM inbound_receipts WHERE hospital = ? AND id = ? AND final = 1'),
      shownReceipt: db.prepare<[string, string], ReceiptRow>(
        'SELECT * FROM inbound_receipts WHERE hospital = ? AND id = ? ORDER BY final DESC, receipt_seq DESC LIMIT 1',
      ),
      insertReceipt: db.prepare(
        `INSERT INTO inbound_receipts (${RECEIPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      setFinal: db.prepare('UPDATE inbound_events SET final_outcome = ?, final_at_ms = ? WHERE hospital = ? AND id = ?'),
      expirable: db.prepare<[number, number], EventRow>(
        `SELECT * FROM inbound_events
          WHERE first_sent_at_ms IS NULL AND final_outcome IS NULL AND expires_at_ms <= ?
          ORDER BY expires_at_ms
          LIMIT ?`,
      ),
      receipts: db.prepare<[string, string, string, number, number], ReceiptRow>(
        `SELECT * FROM inbound_receipts
          WHERE hospital = ? AND channel = ? AND vendor = ? AND receipt_seq > ?
          ORDER BY receipt_seq
          LIMIT ?`,
      ),
      waiting: db.prepare<[string], { channel: string; waiting: number; oldest: number | null }>(
        `SELECT channel, COUNT(*) AS waiting, MIN(received_at_ms) AS oldest
           FROM inbound_events
          WHERE hospital = ? AND acked_at_ms IS NULL AND final_outcome IS NULL
          GROUP BY channel`,
      ),
      endedBefore: db.prepare<[number, number], { hospital: string; id: string }>(
        'SELECT hospital, id FROM inbound_events WHERE final_at_ms IS NOT NULL AND final_at_ms < ? ORDER BY final_at_ms LIMIT ?',
      ),
      deleteReceipts: db.prepare('DELETE FROM inbound_receipts WHERE hospital = ? AND id = ?'),
      deleteEvent: db.prepare('DELETE FROM inbound_events WHERE hospital = ? AND id = ?'),
    };
    this.writeTransaction = db.transaction(this.writeInTransaction.bind(this));
    this.declareTransaction = db.transaction((hospital: string, channels: readonly InboundChannelDeclaration[], atMs: number) => {
      this.statements.undeclareAll.run(hospital);
      for (const channel of channels) this.statements.upsertChannel.run(hospital, channel.name, JSON.stringify(channel), atMs);
    });
    this.takeTransaction = db.transaction(this.takeInTransaction.bind(this));
    this.ackTransaction = db.transaction(this.ackInTransaction.bind(this));
    this.receiptTransaction = db.transaction(this.receiptInTransaction.bind(this));
    this.expireTransaction = db.transaction(this.expireInTransaction.bind(this));
    this.deleteTransaction = db.transaction((cutoffMs: number, limit: number) => {
      const ended = this.statements.endedBefore.all(cutoffMs, limit);
      for (const { hospital, id } of ended) {
        this.statements.deleteReceipts.run(hospital, id);
        this.statements.deleteEvent.run(hospital, id);
      }
      return ended.length;
    });
    const forgetReceipts = db.prepare('DELETE FROM inbound_receipts WHERE hospital = ?');
    const forgetEvents = db.prepare('DELETE FROM inbound_events WHERE hospital = ?');
    const forgetChannels = db.prepare('DELETE FROM inbound_channels WHERE hospital = ?');
    this.forgetHospitalTransaction = db.transaction((hospital: string) => {
      const receipts = forgetReceipts.run(hospital).changes;
      const events = forgetEvents.run(hospital).changes;
      forgetChannels.run(hospital);
      return { events, receipts };
    });
  }

  /** Opens (creating and migrating if needed) the store at `options.file`. */
  static open(options: SqliteInboundStoreOptions): SqliteInboundStore {
    // Vendors' bodies carry patient data: the service account's alone, whatever the umask.
    makePrivateDir(dirname(options.file));
    preparePrivateSqliteFile(options.file);
    const db = new Database(options.file);
    try {
      // The feed store's choices (sqlite-feed-store.ts), for the same reasons:
      // WAL so vendor reads never block writes; FULL because a 202 and a
      // ReceiptAck promise the row is on disk (WAL + NORMAL skips the commit
      // fsync); zeroed deletes because retention deletes bodies with patient data.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_INBOUND_BUSY_TIMEOUT_MS}`);
      db.pragma('secure_delete = ON');
      migrate(db, options.file);
      return new SqliteInboundStore(db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async declareChannels(hospital: string, channels: readonly InboundChannelDeclaration[], atMs: number): Promise<void> {
    this.assertOpen();
    this.declareTransaction.immediate(hospital, channels, atMs);
  }

  async channel(hospital: string, channel: string): Promise<InboundChannelDeclaration | undefined> {
    this.assertOpen();
    const row = this.statements.channel.get(hospital, channel);
    return row ? (JSON.parse(row.declaration) as InboundChannelDeclaration) : undefined;
  }

  async channels(hospital: string): Promise<InboundChannelDeclaration[]> {
    this.assertOpen();
    return this.statements.channels.all(hospital).map((row) => JSON.parse(row.declaration) as InboundChannelDeclaration);
  }

  async write(write: InboundWrite): Promise<WriteResult> {
    this.assertOpen();
    const result = this.writeTransaction.immediate(write, sha256Hex(write.body));
    if (result.kind === 'created') this.notify(write.hospital, 'write', write.channel);
    return result;
  }

  async get(hospital: string, id: string): Promise<InboundRecord | undefined> {
    this.assertOpen();
    const row = this.statements.byId.get(hospital, id);
    return row ? this.record(row) : undefined;
  }

  async takeToSend(hospital: string, channel: string, afterSeq: number, limit: number, maxBytes: number, nowMs: number): Promise<InboundRecord[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    return this.takeTransaction.immediate(hospital, channel, afterSeq, limit, maxBytes, nowMs);
  }

  async ack(hospital: string, channel: string, throughSeq: number, atMs: number): Promise<number> {
    this.assertOpen();
    return this.ackTransaction.immediate(hospital, channel, throughSeq, atMs);
  }

  async ackedSeq(hospital: string, channel: string): Promise<number> {
    this.assertOpen();
    return this.statements.channel.get(hospital, channel)?.acked_seq ?? 0;
  }

  async storeReceipt(hospital: string, receipt: InboundReceipt, atMs: number): Promise<ReceiptResult> {
    this.assertOpen();
    const result = this.receiptTransaction.immediate(hospital, receipt, atMs);
    if (result.kind === 'stored') this.notify(hospital, 'receipt', receipt.channel);
    return result;
  }

  async expireUnsent(nowMs: number): Promise<InboundRecord[]> {
    this.assertOpen();
    const expired = this.expireTransaction.immediate(nowMs);
    for (const record of expired) this.notify(record.hospital, 'receipt', record.channel);
    return expired;
  }

  async deleteFinalBefore(cutoffMs: number, limit: number): Promise<number> {
    this.assertOpen();
    return this.deleteTransaction.immediate(cutoffMs, limit);
  }

  async forgetHospital(hospital: string): Promise<{ events: number; receipts: number }> {
    this.assertOpen();
    return this.forgetHospitalTransaction.immediate(hospital);
  }

  async receipts(hospital: string, channel: string, vendor: string, afterSeq: number, limit: number): Promise<StoredReceipt[]> {
    this.assertOpen();
    if (limit <= 0) return [];
    return this.statements.receipts.all(hospital, channel, vendor, afterSeq, limit).map(toStoredReceipt);
  }

  async backlog(hospital: string): Promise<InboundBacklogEntry[]> {
    this.assertOpen();
    // One read transaction: the channel list and the counts agree.
    return this.db.transaction(() => {
      const waiting = new Map(this.statements.waiting.all(hospital).map((row) => [row.channel, row]));
      return this.statements.channels
        .all(hospital)
        .filter((row) => row.declared === 1 || waiting.has(row.channel))
        .map((row) => ({ channel: row.channel, waiting: waiting.get(row.channel)?.waiting ?? 0, oldestReceivedAtMs: waiting.get(row.channel)?.oldest ?? null }));
    })();
  }

  subscribe(hospital: string, listener: InboundListener): () => void {
    return this.listeners.subscribe(hospital, listener);
  }

  get open(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.db.close();
  }

  private writeInTransaction(write: InboundWrite, bodySha256: string): WriteResult {
    const existing = this.statements.byIdempotencyKey.get(write.hospital, write.channel, write.vendor, write.idempotencyKey);
    if (existing) {
      return existing.body_sha256 === bodySha256 ? { kind: 'replayed', record: this.record(existing) } : { kind: 'conflict', existing: this.record(existing) };
    }
    const seq = this.statements.nextEventSeq.get(write.hospital, write.channel)?.event_seq;
    if (seq === undefined) throw new InboundUnknownChannelError(write.hospital, write.channel);
    let id = this.newId();
    for (let tries = 1; this.statements.idTaken.get(write.hospital, id); tries++) {
      if (tries >= 8) throw new Error(`could not draw an unused inbound id for hospital "${write.hospital}" in ${tries} tries`);
      id = this.newId();
    }
    this.statements.insertEvent.run(
      write.hospital,
      write.channel,
      seq,
      id,
      write.key,
      write.vendor,
      write.idempotencyKey,
      write.contentType,
      write.body,
      bodySha256,
      write.receivedAtMs,
      write.expiresAtMs,
    );
    return { kind: 'created', record: this.record(this.statements.byId.get(write.hospital, id)!) };
  }

  private takeInTransaction(hospital: string, channel: string, afterSeq: number, limit: number, maxBytes: number, nowMs: number): InboundRecord[] {
    const taken: InboundRecord[] = [];
    let bytes = 0;
    for (const row of this.statements.toSend.all(hospital, channel, afterSeq, nowMs, limit)) {
      // At least one event, however large: a window that admits none would stall the channel.
      if (taken.length > 0 && bytes + row.body.length > maxBytes) break;
      bytes += row.body.length;
      if (row.first_sent_at_ms === null) {
        this.statements.markSent.run(nowMs, hospital, channel, row.channel_seq);
        row.first_sent_at_ms = nowMs;
      }
      taken.push(this.record(row));
    }
    return taken;
  }

  private ackInTransaction(hospital: string, channel: string, throughSeq: number, atMs: number): number {
    const row = this.statements.channel.get(hospital, channel);
    if (!row) return 0;
    // Never past what was numbered, never backward (a late, older ack after a newer one).
    const mark = Math.max(row.acked_seq, Math.min(throughSeq, row.event_seq));
    if (mark > row.acked_seq) {
      this.statements.setAcked.run(mark, atMs, hospital, channel);
      this.statements.markAcked.run(atMs, hospital, channel, mark);
    }
    return mark;
  }

  private receiptInTransaction(hospital: string, receipt: InboundReceipt, atMs: number): ReceiptResult {
    const event = this.statements.byId.get(hospital, receipt.id);
    if (!event || event.channel !== receipt.channel) {
      return { kind: 'unknown', reason: `hospital "${hospital}" has no inbound event ${receipt.id} on channel "${receipt.channel}"` };
    }
    if (event.first_sent_at_ms === null) return { kind: 'unknown', reason: `inbound event ${receipt.id} was never sent to the agent` };
    const same = this.statements.sameReceipt.get(hospital, receipt.id, receipt.outcome, receipt.attempts);
    if (same) return { kind: 'duplicate', receiptSeq: same.receipt_seq };
    const final = FINAL_OUTCOMES.has(receipt.outcome);
    const ended = this.statements.finalReceipt.get(hospital, receipt.id);
    if (ended) {
      return {
        kind: 'conflict',
        reason: `inbound event ${receipt.id} already ended ${ended.outcome} (receipt ${ended.receipt_seq}); the ${receipt.outcome} receipt after ${receipt.attempts} attempts is not stored`,
      };
    }
    const receiptSeq = this.insertReceipt(event, { ...receipt, final }, atMs);
    return { kind: 'stored', receiptSeq };
  }

  private expireInTransaction(nowMs: number): InboundRecord[] {
    const expired: InboundRecord[] = [];
    for (const row of this.statements.expirable.all(nowMs, EXPIRE_BATCH)) {
      this.insertReceipt(
        row,
        { id: row.id, channel: row.channel, outcome: 'expired', final: true, code: '', reason: RELAY_EXPIRY_REASON, reference: '', attempts: 0, decidedAtMs: nowMs },
        nowMs,
      );
      expired.push(this.record(this.statements.byId.get(row.hospital, row.id)!));
    }
    return expired;
  }

  /** Numbers and stores a receipt; a final one ends its event in the same transaction. */
  private insertReceipt(event: EventRow, receipt: InboundReceipt, atMs: number): number {
    const receiptSeq = this.statements.nextReceiptSeq.get(event.hospital, event.channel)!.receipt_seq;
    this.statements.insertReceipt.run(...receiptRowValues(event, receiptSeq, receipt, atMs));
    if (receipt.final) this.statements.setFinal.run(receipt.outcome, atMs, event.hospital, event.id);
    return receiptSeq;
  }

  private record(row: EventRow): InboundRecord {
    return toRecord(row, this.statements.shownReceipt.get(row.hospital, row.id));
  }

  private notify(hospital: string, what: 'write' | 'receipt', channel: string): void {
    this.listeners.notify(hospital, what, channel);
  }

  private assertOpen(): void {
    if (this.closed) throw new InboundStoreClosedError();
  }
}
