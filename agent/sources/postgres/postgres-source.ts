// PostgreSQL change capture (kind: postgres): logical replication with pgoutput
// through a persistent slot and the DBA's publication. One session = preflight
// on an ordinary connection, the slot (created, with its exported snapshot, when
// there is no saved position), the snapshot when one is due, then the stream
// from the saved LSN. Every source transaction becomes one journal append (or one
// staged commit) with the position saved in it; only that saved LSN is ever
// confirmed to the server. A setup problem stops this source with the fix as its
// reason; an outage retries with backoff from the saved position.
import pg from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import type { Source, SourceAddress, SourceStatus } from '../source.js';
import {
  CaptureMeter,
  CapturePositionLostError,
  CaptureSetupError,
  captureKey,
  captureSourceStatus,
  initialCaptureStatus,
  rowEvent,
  TransactionBuffer,
  ADMISSION_RETRY_MS,
  CaptureBackoff,
  type CaptureRow,
  type CaptureSourceParts,
  type CaptureState,
  type CaptureStatus,
  type CaptureValue,
} from '../database/index.js';
import type { PostgresSourceConfig } from './postgres-source-config.js';
import { postgresSlotNames } from './postgres-source-config.js';
import { clientConfig, connectClient, setupErrorOf } from './postgres-connection.js';
import { preflight, type CapturedTable } from './postgres-preflight.js';
import { decodePosition, encodePosition, type PostgresPosition, type SnapshotCursor } from './postgres-position.js';
import { formatLsn, parseLsn } from './postgres-lsn.js';
import { SchemaVersions } from './postgres-schema-versions.js';
import { readSlotHealth, WalBudgetForecast, type SlotHealth } from './postgres-slot-health.js';
import { copyTables, type SnapshotChunk } from './postgres-snapshot.js';
import { ChangeStream, type StreamItem } from './postgres-change-stream.js';
import { ResumeFilter } from './postgres-resume-filter.js';
import { mapValue, valueMapping, type ValueMapping } from './postgres-value.js';

/** Appends handed to the journal and not yet durable, at most (then the stream waits). */
const MAX_PENDING_APPENDS = 1_000;
const SLOT_HEALTH_INTERVAL_MS = 5_000;
/** Rows of the current transaction remembered for TOAST fills of a key changed twice in it. */
const TOAST_MEMORY_ROWS = 10_000;

/** Thrown inside a session when stop() was called; not an error. */
class Stopping extends Error {}

/** A relation (table) as the stream describes it, with Wardline's mapping of its columns. */
interface StreamRelation {
  table: CapturedTable;
  columns: { name: string; mapping: ValueMapping }[];
  version: number;
}

interface OpenTransaction {
  commitLsn: bigint;
  xid: number;
  commitTimeMs: number;
  /** Resent after a crash: already journaled. */
  skip: boolean;
  buffer: TransactionBuffer;
  rows: number;
  /** stream\0key → the row as this transaction left it (for TOAST fills). */
  recent: Map<string, CaptureRow>;
}

export class PostgresSource implements Source {
  readonly kind = 'postgres' as const;
  readonly name: string;
  private readonly slot: string;
  private readonly publication: string;
  private readonly clock: () => number;
  private readonly meter: CaptureMeter;
  private capture: CaptureStatus = initialCaptureStatus();
  private readonly counts = { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null as number | null };
  private running: Promise<void> | undefined;
  private stopping = false;
  private wakeFromBackoff: (() => void) | undefined;
  private stream: ChangeStream | undefined;
  private readonly openClients = new Set<pg.Client>();
  private rowsEstimated: number | null = null;
  /** The appends being written, so stop() lets them finish. */
  private inflight: Promise<unknown> = Promise.resolve();
  /** The last append submitted (the journal resolves them in order). */
  private tail: Promise<void> = Promise.resolve();
  private pendingAppends = 0;

  // Per session:
  private position: PostgresPosition | undefined;
  private schemas = new SchemaVersions({});
  private relations = new Map<number, StreamRelation | null>();
  private tx: OpenTransaction | undefined;
  private resumeFilter = new ResumeFilter([]);
  private lastHeartbeatSaveMs = 0;
  private lastJournaledAtMs = 0;
  private sessionFailure: ((error: Error) => void) | undefined;
  private readonly typeCache = new Map<number, ValueMapping | null>();
  private readonly walForecast = new WalBudgetForecast();

  constructor(
    readonly config: PostgresSourceConfig,
    readonly parts: CaptureSourceParts,
  ) {
    this.name = config.name;
    ({ slot: this.slot, publication: this.publication } = postgresSlotNames(config));
    this.clock = parts.clock ?? Date.now;
    this.meter = new CaptureMeter(this.clock);
  }

  /** Resolves once the first attempt has connected and checked the server (or failed to); never rejects for a database problem. */
  async start(): Promise<SourceAddress | null> {
    if (this.running) return null;
    this.stopping = false;
    this.capture = { ...initialCaptureStatus(), retained: this.capture.retained, lastError: this.capture.lastError };
    let checked!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (checked = resolve));
    this.running = this.run(checked).finally(() => checked());
    await firstAttempt;
    return null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.wakeFromBackoff?.();
    await this.stream?.stop();
    this.sessionFailure?.(new Stopping());
    await this.running;
    await this.inflight.catch(() => {});
    this.running = undefined;
    for (const client of this.openClients) await client.end().catch(() => {});
    if (this.capture.state !== 'stopped') this.transition('stopped', 'the agent stopped this source');
  }

  status(): SourceStatus {
    const capture: CaptureStatus = {
      ...this.capture,
      rowsPerSecond: this.meter.rowsPerSecond(),
      transactions: this.meter.transactions,
      lagMs: this.meter.lagMs(),
    };
    return captureSourceStatus(this.name, this.kind, this.counts, capture);
  }

  // ---- the session loop -------------------------------------------------------

  private async run(checked: () => void): Promise<void> {
    const backoff = new CaptureBackoff();
    while (!this.stopping) {
      let reachedStream = false;
      try {
        await this.session(checked, () => (reachedStream = true));
        if (this.stopping) return;
        throw new Error('the replication stream ended');
      } catch (error) {
        checked();
        if (this.stopping || error instanceof Stopping) return;
        this.tx?.buffer.discard();
        this.tx = undefined;
        const setup = error instanceof CaptureSetupError ? error : setupErrorOf(this.name, this.config.connection, error);
        if (setup) {
          this.recordError(setup.message, setup.code);
          this.parts.log.error({ source: this.name, err: setup }, setup.message);
          this.transition('stopped', setup.message);
          return;
        }
        if (error instanceof CapturePositionLostError) {
          // Recorded when raised; the next session takes a new snapshot at once.
          continue;
        }
        const message = `source ${this.name}: ${(error as Error).message}`;
        this.recordError(message);
        if (reachedStream) backoff.reset();
        const backoffMs = backoff.next();
        this.parts.log.warn({ source: this.name, err: error, retryInMs: backoffMs }, `${message}; retrying in ${backoffMs} ms from ${this.capture.position ?? 'the start'}`);
        this.transition('retrying', `${(error as Error).message}; retrying in ${Math.round(backoffMs / 1000)} s`);
        await this.sleep(backoffMs);
      }
    }
  }

  private async session(checked: () => void, streaming: () => void): Promise<void> {
    const connection = this.config.connection;
    const client = await connectClient(this.name, connection, this.parts.password);
    this.openClients.add(client);
    let healthTimer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_, reject) => (this.sessionFailure = reject));
    failed.catch(() => {});
    try {
      const tables = await this.raceFailure(
        preflight(client, { name: this.name, tables: this.config.tables, publication: this.publication, user: connection.user }, this.parts.log),
        failed,
      );
      this.rowsEstimated = tables.every((t) => t.estimatedRows !== null) ? tables.reduce((sum, t) => sum + t.estimatedRows!, 0) : null;
      checked();
      await this.tail; // the last session's appends, before reading where they left the position
      let position = decodePosition(this.parts.writer.savedPosition(this.name));
      const health = await readSlotHealth(client, this.slot);
      this.retained(health);
      let resnapshot = false;
      if (position && (!health.exists || health.walStatus === 'lost')) {
        const lost = new CapturePositionLostError(
          this.name,
          `replication slot ${this.slot} ${health.exists ? 'was invalidated (wal_status lost: the server removed WAL the agent had not read, see max_slot_wal_keep_size)' : 'no longer exists on the server'}; the changes after ${formatLsn(position.lsn)} cannot be streamed: dropping and recreating the slot and taking a new snapshot of every table`,
        );
        this.recordError(lost.message, lost.code);
        this.parts.log.error({ source: this.name, err: lost }, lost.message);
        this.schemas = new SchemaVersions(position.schemas);
        position = undefined;
        resnapshot = true;
      }
      if (!position) {
        if (health.exists) await this.dropSlot(client);
        if (!resnapshot) this.schemas = new SchemaVersions({});
        position = this.config.snapshot === 'initial' || resnapshot ? await this.exportedSnapshot(client, tables, failed) : await this.createSlotWithoutSnapshot(client);
      } else {
        this.schemas = new SchemaVersions(position.schemas);
        if (position.snapshot) position = await this.resumedSnapshot(client, tables, position, failed);
      }
      this.position = position;
      this.resumeFilter = new ResumeFilter(position.resumes ?? []);
      this.capture.position = formatLsn(position.lsn);
      healthTimer = setInterval(() => void this.watchSlot(client), SLOT_HEALTH_INTERVAL_MS);
      await this.streamChanges(client, tables, streaming, failed);
    } finally {
      clearInterval(healthTimer);
      this.sessionFailure = undefined;
      this.openClients.delete(client);
      await client.end().catch(() => {});
    }
  }

  private async raceFailure<T>(work: Promise<T>, failed: Promise<never>): Promise<T> {
    return Promise.race([work, failed]);
  }

  // ---- slot and snapshots -------------------------------------------------------

  private async dropSlot(client: pg.Client): Promise<void> {
    await client.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL', [this.slot]);
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [this.slot]);
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250)); // the terminated walsender is still releasing it
      }
    }
  }

  private async replicationClient(): Promise<pg.Client> {
    const client = new pg.Client({ ...clientConfig(this.config.connection, this.parts.password), replication: 'database' } as pg.ClientConfig);
    client.on('error', () => {});
    await client.connect();
    this.openClients.add(client);
    return client;
  }

  private async createSlotWithoutSnapshot(client: pg.Client): Promise<PostgresPosition> {
    const replication = await this.replicationClient();
    try {
      const created = await replication.query<{ consistent_point: string }>(`CREATE_REPLICATION_SLOT "${this.slot}" LOGICAL pgoutput (SNAPSHOT 'nothing')`);
      const position: PostgresPosition = { lsn: parseLsn(created.rows[0]!.consistent_point) - 1n, schemas: this.schemas.toJSON() };
      void client;
      await this.parts.writer.append({ source: this.name, events: [], position: encodePosition(position) });
      this.parts.log.info({ source: this.name, slot: this.slot }, `source ${this.name}: created replication slot ${this.slot} at ${formatLsn(position.lsn + 1n)} (snapshot: never)`);
      return position;
    } finally {
      this.openClients.delete(replication);
      await replication.end().catch(() => {});
    }
  }

  /**
   * Creates the slot with an exported snapshot and copies every table inside
   * it, while the creating connection stays open (the snapshot lives as long as
   * it does). The snapshot shows exactly the commits before the slot's
   * consistent point and the slot streams exactly those after it.
   */
  private async exportedSnapshot(client: pg.Client, tables: readonly CapturedTable[], failed: Promise<never>): Promise<PostgresPosition> {
    const replication = await this.replicationClient();
    try {
      const created = await replication.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT "${this.slot}" LOGICAL pgoutput (SNAPSHOT 'export')`);
      const { consistent_point, snapshot_name } = created.rows[0]!;
      this.parts.log.info({ source: this.name, slot: this.slot }, `source ${this.name}: created replication slot ${this.slot} at ${consistent_point}; copying ${tables.length} table(s)`);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET TRANSACTION SNAPSHOT '${snapshot_name.replace(/'/g, "''")}'`);
      const position: PostgresPosition = { lsn: parseLsn(consistent_point) - 1n, schemas: this.schemas.toJSON(), snapshot: { table: 0, after: null, rows: 0 } };
      const done = await this.raceFailure(this.copy(client, tables, position), failed);
      await client.query('COMMIT');
      return done;
    } finally {
      this.openClients.delete(replication);
      await replication.end().catch(() => {});
    }
  }

  /** A snapshot killed part-way: the rest is read in a new snapshot whose commits the stream then skips for those rows (postgres-resume-filter.ts). */
  private async resumedSnapshot(client: pg.Client, tables: readonly CapturedTable[], position: PostgresPosition, failed: Promise<never>): Promise<PostgresPosition> {
    const cursor = position.snapshot!;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const taken = await client.query<{ snapshot: string; until: string }>('SELECT pg_current_snapshot()::text AS snapshot, pg_current_wal_insert_lsn()::text AS until');
    const { snapshot, until } = taken.rows[0]!;
    const resumes = [...(position.resumes ?? []), { table: cursor.table, after: cursor.after, snapshot, until }];
    this.parts.log.info({ source: this.name, cursor }, `source ${this.name}: resuming the snapshot at table ${tables[cursor.table]?.qualified ?? '(end)'} after ${cursor.rows} rows`);
    const done = await this.raceFailure(this.copy(client, tables, { ...position, resumes }), failed);
    await client.query('COMMIT');
    return done;
  }

  private async copy(client: pg.Client, tables: readonly CapturedTable[], start: PostgresPosition): Promise<PostgresPosition> {
    let position = start;
    const from: SnapshotCursor = start.snapshot!;
    this.transition('snapshotting', null);
    this.progress(tables, from);
    await copyTables(client, tables, from, this.config.snapshotChunkRows, async (chunk: SnapshotChunk) => {
      if (this.stopping) throw new Stopping();
      const version = this.schemas.observe(chunk.table.qualified, chunk.table.columns);
      const lsnText = formatLsn(position.lsn + 1n);
      const events = chunk.rows.map(({ row, key }) =>
        rowEvent({
          stream: chunk.table.stream,
          op: 'upsert',
          key: chunk.table.key.map((k) => row[k] ?? key[chunk.table.key.indexOf(k)]!),
          row,
          headers: { table: chunk.table.qualified, position: lsnText, schemaVersion: version, snapshot: 'true' },
        }),
      );
      const next: PostgresPosition = { lsn: position.lsn, schemas: this.schemas.toJSON(), resumes: position.resumes };
      if (chunk.next.table < tables.length) next.snapshot = chunk.next;
      await this.admitted();
      await this.journal(this.parts.writer.append({ source: this.name, events, position: encodePosition(next) }));
      position = next;
      this.counts.received += events.length;
      this.counts.acknowledged += events.length;
      if (events.length > 0) this.counts.lastMessageAtMs = this.clock();
      this.capture.schemaVersion = version;
      this.progress(tables, chunk.next);
    });
    this.capture.snapshot = { ...this.capture.snapshot!, table: null, percent: 100, tablesDone: tables.length };
    this.parts.log.info({ source: this.name, rows: this.capture.snapshot.rowsCopied }, `source ${this.name}: snapshot done (${this.capture.snapshot.rowsCopied} rows)`);
    return position;
  }

  private progress(tables: readonly CapturedTable[], cursor: SnapshotCursor): void {
    const estimated = this.rowsEstimated;
    this.capture.snapshot = {
      table: tables[cursor.table]?.qualified ?? null,
      rowsCopied: cursor.rows,
      rowsEstimated: estimated,
      percent: cursor.table >= tables.length ? 100 : estimated && estimated > 0 ? Math.min(99, Math.floor((cursor.rows / estimated) * 100)) : null,
      tablesDone: Math.min(cursor.table, tables.length),
      tablesTotal: tables.length,
    };
  }

  // ---- the stream --------------------------------------------------------------

  private async streamChanges(client: pg.Client, tables: readonly CapturedTable[], streaming: () => void, failed: Promise<never>): Promise<void> {
    this.relations = new Map();
    this.tx = undefined;
    const byName = new Map(tables.map((t) => [t.qualified, t]));
    const stream = new ChangeStream(clientConfig(this.config.connection, this.parts.password), this.slot, this.publication, this.position!.lsn, (item) =>
      this.handle(client, byName, item, streaming),
      () => {
        if (this.capture.state !== 'paused') this.transition('streaming', null);
      },
    );
    this.stream = stream;
    if (this.stopping) return;
    try {
      await this.raceFailure(stream.run(), failed);
    } finally {
      await stream.stop();
      this.stream = undefined;
      (this.tx as OpenTransaction | undefined)?.buffer.discard();
      this.tx = undefined;
    }
  }

  private async handle(client: pg.Client, tables: Map<string, CapturedTable>, item: StreamItem, streaming: () => void): Promise<void> {
    if (item.kind === 'keepalive') return this.keepalive(parseLsn(item.lsn), streaming);
    const message = item.message;
    switch (message.tag) {
      case 'begin': {
        if (this.tx) this.tx.buffer.discard();
        const commitLsn = parseLsn(message.commitLsn!);
        this.tx = {
          commitLsn,
          xid: message.xid,
          commitTimeMs: Number(BigInt(message.commitTime as bigint) / 1000n),
          skip: commitLsn <= this.position!.lsn,
          buffer: new TransactionBuffer(this.parts.writer, this.name, this.config.maxTransactionRowsInMemory),
          rows: 0,
          recent: new Map(),
        };
        return;
      }
      case 'relation':
        return this.relation(client, tables, message);
      case 'insert':
      case 'update':
      case 'delete':
        return this.change(client, message);
      case 'truncate': {
        const names = message.relations.map((r) => `${r.schema}.${r.name}`).join(', ');
        const text = `source ${this.name}: TRUNCATE of ${names} is not captured (no row events): the local copy keeps the old rows until a new snapshot (drop the slot, or remove the source's position)`;
        this.recordError(text);
        this.parts.log.error({ source: this.name }, text);
        return;
      }
      case 'commit':
        return this.commit(streaming);
      default:
        return;
    }
  }

  private async relation(client: pg.Client, tables: Map<string, CapturedTable>, message: Pgoutput.MessageRelation): Promise<void> {
    const table = tables.get(`${message.schema}.${message.name}`);
    if (!table) {
      this.relations.set(message.relationOid, null);
      return;
    }
    const columns: StreamRelation['columns'] = [];
    const versioned: { name: string; typeOid: number }[] = [];
    for (const column of message.columns) {
      if (table.config.columns && !table.config.columns.includes(column.name)) continue;
      const mapping = await this.mappingOf(client, column.typeOid);
      if (!mapping) {
        throw new CaptureSetupError(
          this.name,
          `column ${table.qualified}.${column.name} (type oid ${column.typeOid}) has a type Wardline does not map to JSON: leave it out with tables[${table.index}].columns and the publication's column list`,
        );
      }
      columns.push({ name: column.name, mapping });
      versioned.push({ name: column.name, typeOid: column.typeOid });
    }
    const version = this.schemas.observe(table.qualified, versioned);
    this.relations.set(message.relationOid, { table, columns, version });
  }

  private async mappingOf(client: pg.Client, typeOid: number): Promise<ValueMapping | undefined> {
    const builtin = valueMapping(typeOid);
    if (builtin) return builtin;
    if (!this.typeCache.has(typeOid)) {
      const row = (
        await client.query<{ base: number; typtype: string }>(
          `SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END::int AS base,
                  (CASE WHEN t.typtype = 'd' THEN bt.typtype ELSE t.typtype END)::text AS typtype
             FROM pg_type t LEFT JOIN pg_type bt ON bt.oid = t.typbasetype WHERE t.oid = $1`,
          [typeOid],
        )
      ).rows[0];
      this.typeCache.set(typeOid, row ? (valueMapping(Number(row.base), row.typtype) ?? null) : null);
    }
    return this.typeCache.get(typeOid) ?? undefined;
  }

  private async change(client: pg.Client, message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete): Promise<void> {
    const tx = this.tx;
    if (!tx || tx.skip) return;
    const relation = this.relations.get(message.relation.relationOid);
    if (!relation) return;
    const { table } = relation;
    const headers = {
      table: table.qualified,
      position: formatLsn(tx.commitLsn),
      txid: String(tx.xid),
      commitTime: new Date(tx.commitTimeMs).toISOString(),
      schemaVersion: relation.version,
    };
    const rawKey = (tuple: Record<string, unknown>): string[] => table.key.map((k) => String(tuple[k] ?? ''));
    const add = async (op: 'upsert' | 'delete', row: CaptureRow, keyTexts: string[]): Promise<void> => {
      if (!this.resumeFilter.empty && (await this.resumeFilter.covers(client, table, keyTexts, tx.xid))) return;
      const key: CaptureValue[] = table.key.map((k) => row[k] ?? null);
      tx.buffer.add(rowEvent({ stream: table.stream, op, key, row, headers }));
      tx.rows++;
      const memo = `${table.stream}\u0000${captureKey(key)}`;
      if (op === 'delete') tx.recent.delete(memo);
      else if (tx.recent.size < TOAST_MEMORY_ROWS || tx.recent.has(memo)) tx.recent.set(memo, row);
    };
    if (message.tag === 'delete') {
      const tuple = (message.key ?? message.old ?? {}) as Record<string, string | null | undefined>;
      const row: CaptureRow = {};
      for (const column of relation.columns) {
        const raw = tuple[column.name];
        if (raw !== undefined) row[column.name] = mapValue(raw, column.mapping);
      }
      return add('delete', row, rawKey(tuple));
    }
    const tuple = message.new as Record<string, string | null | undefined>;
    const row: CaptureRow = {};
    let unchangedToast: string[] = [];
    for (const column of relation.columns) {
      const raw = tuple[column.name];
      if (raw === undefined) unchangedToast.push(column.name);
      else row[column.name] = mapValue(raw, column.mapping);
    }
    const keyTexts = rawKey(tuple);
    if (unchangedToast.length > 0) {
      const key = captureKey(table.key.map((k) => row[k] ?? null));
      let previous = tx.recent.get(`${table.stream}\u0000${key}`);
      if (!previous) {
        await this.tail; // the earlier transactions' appends reach the local copy first
        previous = this.localRow(table.stream, key);
      }
      for (const name of unchangedToast) {
        if (previous && name in previous) row[name] = previous[name]!;
      }
      unchangedToast = unchangedToast.filter((name) => !(name in row));
      if (unchangedToast.length > 0) {
        throw new CaptureSetupError(
          this.name,
          `an update of ${table.qualified} key ${key} left column ${unchangedToast.join(', ')} out (an unchanged TOASTed value) and the local copy has no earlier version to take it from: run ALTER TABLE ${table.schema}.${table.name} REPLICA IDENTITY FULL; so the server sends the whole row, then restart the source`,
        );
      }
    }
    if (message.tag === 'update') {
      const old = (message.key ?? message.old) as Record<string, string | null | undefined> | null;
      if (old && table.key.some((k) => old[k] !== undefined && old[k] !== tuple[k])) {
        // The primary key changed: the row under the old key is gone.
        const oldRow: CaptureRow = {};
        for (const column of relation.columns) {
          const raw = old[column.name];
          if (raw !== undefined) oldRow[column.name] = mapValue(raw, column.mapping);
        }
        await add('delete', oldRow, rawKey(old));
      }
    }
    return add('upsert', row, keyTexts);
  }

  private localRow(stream: string, key: string): CaptureRow | undefined {
    const record = this.parts.localCopy.get(stream, key);
    if (!record) return undefined;
    try {
      return JSON.parse(record.body.toString()) as CaptureRow;
    } catch {
      return undefined;
    }
  }

  private async commit(streaming: () => void): Promise<void> {
    const tx = this.tx;
    if (!tx) return;
    if (tx.skip) {
      this.tx = undefined;
      return;
    }
    await this.admitted();
    const filter = this.resumeFilter.after((until) => parseLsn(until) <= tx.commitLsn);
    const position: PostgresPosition = { lsn: tx.commitLsn, schemas: this.schemas.toJSON(), resumes: [...filter.ranges] };
    this.tx = undefined;
    this.position = position;
    this.resumeFilter = filter;
    const last = [...this.relations.values()].at(-1);
    // A staged commit moves its rows in one SQL transaction of its own: the appends before it go first.
    if (tx.buffer.isStaged) await this.tail;
    await this.submit(tx.buffer.commit(encodePosition(position)), () => {
      this.counts.received += tx.rows;
      this.counts.acknowledged += tx.rows;
      if (tx.rows > 0) this.counts.lastMessageAtMs = this.clock();
      this.meter.journaled(tx.rows, tx.commitTimeMs);
      this.lastJournaledAtMs = this.clock();
      this.capture.position = formatLsn(tx.commitLsn);
      if (last) this.capture.schemaVersion = last.version;
      this.stream?.confirm(tx.commitLsn);
      streaming();
      this.streamingState();
    });
  }

  /**
   * Hands an append to the journal without waiting for its fsync, so the
   * transactions that follow share it (the journal's group commit keeps their
   * order and resolves them in it); `journaled` runs once it is durable, and
   * only then is its LSN confirmed. Beyond MAX_PENDING_APPENDS this waits, which
   * holds the stream back (flow control).
   */
  private async submit(append: Promise<unknown>, journaled: () => void): Promise<void> {
    this.pendingAppends++;
    const done = append.then(
      () => {
        this.pendingAppends--;
        journaled();
      },
      (error: unknown) => {
        this.pendingAppends--;
        this.sessionFailure?.(error as Error);
        throw error;
      },
    );
    this.tail = done.catch(() => {});
    this.inflight = this.tail;
    if (this.pendingAppends >= MAX_PENDING_APPENDS) await done;
  }

  /**
   * Everything the server sent before this keepalive has been handled: with no
   * transaction open, every commit before `lsn` is journaled (or was not ours),
   * so the position may move there and the slot advance even when the captured
   * tables are idle. Saved at most once per heartbeatInterval.
   */
  private async keepalive(lsn: bigint, streaming: () => void): Promise<void> {
    streaming();
    if (this.tx) return;
    const position = this.position!;
    const reached = lsn - 1n;
    if (reached > position.lsn && this.clock() - this.lastHeartbeatSaveMs >= this.config.heartbeatInterval) {
      this.lastHeartbeatSaveMs = this.clock();
      const filter = this.resumeFilter.after((until) => parseLsn(until) <= reached);
      const next: PostgresPosition = { lsn: reached, schemas: this.schemas.toJSON(), resumes: [...filter.ranges] };
      this.position = next;
      this.resumeFilter = filter;
      await this.submit(this.parts.writer.append({ source: this.name, events: [], position: encodePosition(next) }), () => {
        this.capture.position = formatLsn(reached);
        this.stream?.confirm(reached);
      });
    }
    if (this.capture.state === 'paused') return;
    // Idle for longer than the threshold since the last commit: caught up. Otherwise the last commit's lag decides (no flapping under load).
    if (this.clock() - this.lastJournaledAtMs > this.config.lagThreshold) this.transition('streaming', null);
    else this.streamingState();
  }

  private streamingState(): void {
    const lag = this.meter.lagMs();
    this.transition(lag !== null && lag > this.config.lagThreshold ? 'lagging' : 'streaming', null);
  }

  /** Waits while the admission check refuses (state paused; the server keeps the changes). */
  private async admitted(): Promise<void> {
    for (;;) {
      if (this.stopping) throw new Stopping();
      const refusal = this.parts.admission?.(this.name);
      if (refusal === undefined) {
        if (this.capture.state === 'paused') this.transition(this.capture.snapshot && this.capture.snapshot.percent !== 100 ? 'snapshotting' : 'streaming', null);
        return;
      }
      if (this.capture.state !== 'paused') this.parts.log.warn({ source: this.name, reason: refusal }, `source ${this.name}: paused: ${refusal}`);
      this.transition('paused', refusal);
      await this.sleep(ADMISSION_RETRY_MS);
    }
  }

  private async watchSlot(client: pg.Client): Promise<void> {
    try {
      const health = await readSlotHealth(client, this.slot);
      this.retained(health);
      if (!health.exists || health.walStatus === 'lost') {
        const lost = new CapturePositionLostError(
          this.name,
          `replication slot ${this.slot} ${health.exists ? 'was invalidated (wal_status lost)' : 'was dropped'} while streaming; taking a new snapshot of every table`,
        );
        this.recordError(lost.message, lost.code);
        this.parts.log.error({ source: this.name, err: lost }, lost.message);
        this.sessionFailure?.(lost);
      }
    } catch {
      // The session notices a broken connection on its own.
    }
  }

  /** status.capture.retained from a slot reading, with the forecast of when the WAL budget is used up. */
  private retained(health: SlotHealth): void {
    if (health.bytes !== null) this.walForecast.observe(this.clock(), health.bytes);
    const secondsToBudget = health.secondsToBudget ?? this.walForecast.secondsToBudget(health.budgetBytes);
    this.capture.retained = { bytes: health.bytes, budgetBytes: health.budgetBytes, status: health.status, secondsToBudget };
  }

  // ---- state -----------------------------------------------------------------

  private journal<T>(append: Promise<T>): Promise<T> {
    this.inflight = append;
    return append;
  }

  private transition(to: CaptureState, reason: string | null): void {
    const from = this.capture.state;
    if (from === to && this.capture.reason === reason) return;
    if (from !== to) this.parts.log.info({ source: this.name, from, to, reason }, `source ${this.name}: ${from} -> ${to}${reason ? ` (${reason})` : ''}`);
    this.capture.state = to;
    this.capture.reason = reason;
  }

  /** The last error, with its stable code when it has one (the position-lost alert keys on WL_A025). */
  private recordError(message: string, code?: string): void {
    this.capture.lastError = code === undefined ? { atMs: this.clock(), message } : { atMs: this.clock(), message, code };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeFromBackoff = done;
    });
  }
}
