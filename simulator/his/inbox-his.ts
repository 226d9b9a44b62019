// A hospital information system that takes the downlink's events from an inbox table in
// its own database (PostgreSQL or MySQL/MariaDB), as many Chinese HIS vendors integrate:
// it polls `wardline_inbox` for rows in status `new`, applies them in insertion order
// and sets each to `applied` (with its reference) or `rejected` (with the reason).
//
// Failure modes handled:
//  1. A row withdrawn by Wardline (status `expired`) between our read and our decision:
//     the decision is written `WHERE status = 'new'`, so it loses; nothing is recorded
//     as applied (counted `withdrawn`).
//  2. The database unreachable or restarting: the poll fails, the connection is dropped
//     and opened again on the next poll; rows wait in the table meanwhile.
//  3. Two bookings of one slot (doctor + slot start in the JSON body): the later row is
//     rejected "slot already taken".
//  4. Played: a seeded refusal fraction, and `pause()` (the HIS stops reading the table).
//
// Insertion order: rows are read by delivered_at, received_at, then id. Wardline
// inserts one row per key at a time (the next only after this one is decided), so per key
// that is the order Wardline wrote them.

import mysql from 'mysql2/promise';
import pg from 'pg';
import { valueAtPath } from '../../protocol/index.js';
import { SeededRandom, type Seed } from '../seeded-random.js';
import { RANDOM_REFUSAL_REASON, SLOT_TAKEN_REASON } from './mllp-his.js';

export type InboxHisDatabase =
  | { kind: 'postgres'; connection: string | pg.ClientConfig }
  | { kind: 'mysql'; connection: string | mysql.ConnectionOptions };

export interface InboxHisOptions {
  database: InboxHisDatabase;
  /** Default wardline_inbox. */
  table?: string;
  /** Pause between polls that found nothing, ms. Default 200. */
  pollMs?: number;
  /** Rows read per poll. Default 100. */
  batchRows?: number;
  /** Share (0..1) of rows rejected with RANDOM_REFUSAL_REASON, drawn from `seed`. Default 0. */
  refuseFraction?: number;
  /** Default 'inbox-his'. */
  seed?: Seed;
  /** JSON paths of a booking's doctor and slot start. Default $.doctor.id and $.slot.start. */
  slotFields?: { doctor: string; start: string };
  /** Prefix of his_reference. Default 'HIS'. */
  referencePrefix?: string;
  /** Create the table (the spec's columns) when missing. Default false: Wardline's sink creates it. */
  createTable?: boolean;
}

/** One row the HIS applied, in the order applied. */
export interface InboxHisApplied {
  id: string;
  channel: string;
  key: string;
  reference: string;
  /** "doctor@start" of a booking, '' otherwise. */
  slot: string;
  appliedAtMs: number;
}

export interface InboxHisDecision {
  id: string;
  channel: string;
  key: string;
  status: 'applied' | 'rejected';
  reason: string;
  decidedAtMs: number;
}

export interface InboxHisStats {
  polls: number;
  applied: number;
  rejected: number;
  /** Rows withdrawn (expired) before our decision was written. */
  withdrawn: number;
  /** Polls that failed (database unreachable, SQL error). */
  errors: number;
  lastError: string | null;
}

export const DEFAULT_INBOX_TABLE = 'wardline_inbox';
export const DEFAULT_INBOX_POLL_MS = 200;

interface InboxRow {
  id: string;
  channel: string;
  event_key: string;
  content_type: string;
  body: string;
}

/** What the HIS needs of either database: rows in, affected row count out. */
interface InboxConnection {
  rows(sql: string, params: unknown[]): Promise<InboxRow[]>;
  execute(sql: string, params: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export class InboxHis {
  private readonly table: string;
  private readonly rng: SeededRandom;
  private readonly slots = new Set<string>();
  private readonly appliedList: InboxHisApplied[] = [];
  private readonly decisionList: InboxHisDecision[] = [];
  private readonly counters: InboxHisStats = { polls: 0, applied: 0, rejected: 0, withdrawn: 0, errors: 0, lastError: null };
  private connection: InboxConnection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private running = false;
  private paused = false;
  private referenceSerial = 0;
  private refuseFraction: number;

  constructor(private readonly options: InboxHisOptions) {
    this.table = options.table ?? DEFAULT_INBOX_TABLE;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.table)) throw new RangeError(`table must be a plain SQL name, got "${this.table}"`);
    this.rng = new SeededRandom(options.seed ?? 'inbox-his');
    this.refuseFraction = options.refuseFraction ?? 0;
  }

  /** Connects (creating the table if asked) and starts polling. */
  async start(): Promise<void> {
    if (this.running) return;
    const connection = await this.connect();
    if (this.options.createTable) await connection.execute(createTableSql(this.options.database.kind, this.table), []);
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
    await this.connection?.close().catch(() => undefined);
    this.connection = undefined;
  }

  /** The HIS stops reading the table (rows stay `new`) until resume(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  setRefuseFraction(fraction: number): void {
    this.refuseFraction = fraction;
  }

  /** Polls once now (tests); resolves with the rows decided. */
  async pollNow(): Promise<number> {
    await this.loop;
    return this.poll();
  }

  applied(): readonly InboxHisApplied[] {
    return this.appliedList;
  }

  decisions(): readonly InboxHisDecision[] {
    return this.decisionList;
  }

  /** Per key, the ids applied, in order. */
  appliedByKey(): Map<string, string[]> {
    const byKey = new Map<string, string[]>();
    for (const a of this.appliedList) byKey.set(a.key, [...(byKey.get(a.key) ?? []), a.id]);
    return byKey;
  }

  stats(): InboxHisStats {
    return { ...this.counters };
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.loop = this.poll().then((decided) => this.schedule(decided > 0 ? 0 : (this.options.pollMs ?? DEFAULT_INBOX_POLL_MS)));
    }, ms);
  }

  /** One poll: read the oldest `new` rows and decide each, in order. Never throws. */
  private async poll(): Promise<number> {
    if (this.paused) return 0;
    this.counters.polls++;
    try {
      const connection = await this.connect();
      const p = this.options.database.kind === 'postgres' ? (n: number) => `$${n}` : () => '?';
      const rows = await connection.rows(
        `SELECT id, channel, event_key, content_type, body FROM ${this.table} WHERE status = 'new' ORDER BY delivered_at, received_at, id LIMIT ${this.options.batchRows ?? 100}`,
        [],
      );
      let decided = 0;
      for (const row of rows) {
        const decision = this.decide(row);
        const reference = decision.status === 'applied' ? `${this.options.referencePrefix ?? 'HIS'}${String(this.referenceSerial + 1).padStart(8, '0')}` : null;
        const changed = await connection.execute(
          `UPDATE ${this.table} SET status = ${p(1)}, status_reason = ${p(2)}, his_reference = ${p(3)}, decided_at = ${p(4)} WHERE id = ${p(5)} AND status = 'new'`,
          [decision.status, decision.reason === '' ? null : decision.reason, reference, new Date(), row.id],
        );
        if (changed === 0) {
          this.counters.withdrawn++;
          continue;
        }
        decided++;
        this.record(row, decision, reference ?? '');
      }
      return decided;
    } catch (error) {
      this.counters.errors++;
      this.counters.lastError = (error as Error).message;
      await this.connection?.close().catch(() => undefined);
      this.connection = undefined;
      return 0;
    }
  }

  private decide(row: InboxRow): { status: 'applied' | 'rejected'; reason: string; slot: string } {
    const slot = this.slotOf(row);
    if (this.refuseFraction > 0 && this.rng.chance(this.refuseFraction)) return { status: 'rejected', reason: RANDOM_REFUSAL_REASON, slot };
    if (slot !== '' && this.slots.has(slot)) return { status: 'rejected', reason: SLOT_TAKEN_REASON, slot };
    return { status: 'applied', reason: '', slot };
  }

  private record(row: InboxRow, decision: { status: 'applied' | 'rejected'; reason: string; slot: string }, reference: string): void {
    const now = Date.now();
    if (decision.status === 'applied') {
      this.referenceSerial++;
      if (decision.slot !== '') this.slots.add(decision.slot);
      this.appliedList.push({ id: row.id, channel: row.channel, key: row.event_key, reference, slot: decision.slot, appliedAtMs: now });
      this.counters.applied++;
    } else this.counters.rejected++;
    this.decisionList.push({ id: row.id, channel: row.channel, key: row.event_key, status: decision.status, reason: decision.reason, decidedAtMs: now });
  }

  private slotOf(row: InboxRow): string {
    if (row.content_type !== 'json') return '';
    let body: unknown;
    try {
      body = JSON.parse(row.body);
    } catch {
      return '';
    }
    const fields = this.options.slotFields ?? { doctor: '$.doctor.id', start: '$.slot.start' };
    const doctor = valueAtPath(body, fields.doctor);
    const start = valueAtPath(body, fields.start);
    return typeof doctor === 'string' && typeof start === 'string' && doctor !== '' && start !== '' ? `${doctor}@${start}` : '';
  }

  private async connect(): Promise<InboxConnection> {
    if (this.connection) return this.connection;
    const db = this.options.database;
    if (db.kind === 'postgres') {
      const client = new pg.Client(typeof db.connection === 'string' ? { connectionString: db.connection } : db.connection);
      // A server that goes away must fail the next query, not crash the process.
      client.on('error', () => undefined);
      await client.connect();
      this.connection = {
        rows: async (sql, params) => (await client.query<InboxRow>(sql, params)).rows,
        execute: async (sql, params) => (await client.query(sql, params)).rowCount ?? 0,
        close: () => client.end(),
      };
    } else {
      const conn = typeof db.connection === 'string' ? await mysql.createConnection(db.connection) : await mysql.createConnection(db.connection);
      conn.on('error', () => undefined);
      this.connection = {
        rows: async (sql, params) => (await conn.query(sql, params))[0] as InboxRow[],
        execute: async (sql, params) => ((await conn.query(sql, params))[0] as mysql.ResultSetHeader).affectedRows ?? 0,
        close: () => conn.end(),
      };
    }
    return this.connection;
  }
}

/** The spec's inbox table, for an HIS started before Wardline's sink made it. */
export function createTableSql(kind: InboxHisDatabase['kind'], table: string): string {
  const ts = kind === 'postgres' ? 'TIMESTAMP' : 'TIMESTAMP(3) NULL DEFAULT NULL';
  const tail = kind === 'postgres' ? '' : ' DEFAULT CHARSET = utf8mb4';
  return (
    `CREATE TABLE IF NOT EXISTS ${table} (id VARCHAR(20) PRIMARY KEY, channel VARCHAR(64) NOT NULL, event_key VARCHAR(128) NOT NULL, ` +
    `vendor VARCHAR(64), content_type VARCHAR(16) NOT NULL, body TEXT NOT NULL, received_at ${ts}, expires_at ${ts}, delivered_at ${ts}, ` +
    `status VARCHAR(16) NOT NULL DEFAULT 'new', status_reason TEXT, his_reference VARCHAR(64), decided_at ${ts})${tail}`
  );
}
