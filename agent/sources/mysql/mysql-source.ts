// MySQL/MariaDB change capture: the row binlog read as a replica (zongji), each
// source transaction journaled as one append with its GTID position, resumed by
// GTID after any crash. The source runs one loop (pump) over what the binlog
// reader hands it, so appends happen in commit order and one at a time, and the
// snapshot's chunks are read and journaled between transactions of that same loop
// (see snapshotStep for why that makes snapshot and stream meet exactly).
//
// Exactly once: the position saved with a transaction's events is the GTID
// position including that transaction; a restart asks the server for what follows
// it (@slave_connect_state on MariaDB, COM_BINLOG_DUMP_GTID on MySQL) and also
// skips any transaction the saved position already covers.
import type mysql from 'mysql2/promise';
import type { Source, SourceAddress, SourceStatus } from '../source.js';
import {
  CaptureMeter,
  captureKey,
  CapturePositionLostError,
  CaptureSetupError,
  captureSourceStatus,
  rowEvent,
  TransactionBuffer,
  ADMISSION_RETRY_MS,
  CaptureBackoff,
  type CaptureSourceParts,
  type CaptureState,
  type CaptureStatus,
  type CaptureValue,
  type RetainedLog,
  type SnapshotProgress,
} from '../database/index.js';
import type { EventInput } from '../../store/index.js';
import type { MysqlSourceConfig } from './mysql-source-config.js';
import { BinlogReader, type BinlogRecord } from './mysql-binlog-reader.js';
import { mysqlConnectionOptions, openQueryConnection, type MysqlConnectionOptions } from './mysql-connection.js';
import { mysqlErrorKind, SCHEMA_DRIFT } from './mysql-error-kind.js';
import { formatPosition, gtidCovered, parsePosition, positionReached, withGtid, type MysqlPosition } from './mysql-position.js';
import { preflight } from './mysql-preflight.js';
import { purgedAfter } from './mysql-purged-check.js';
import { estimateRows, readSnapshotChunk, type SnapshotChunk } from './mysql-snapshot-chunk.js';
import { compareKeys, keyOf, kindOfColumnType, rowOf, type CapturedTable, type TableColumn } from './mysql-table.js';
import { retainedBinlog } from './mysql-retained-binlog.js';
import { HeldKeys } from './mysql-held-keys.js';

/** Records queued beyond this pause reading the binlog socket; below LOW it reads again. */
const QUEUE_HIGH = 64;
const QUEUE_LOW = 16;
/** A transaction with nothing captured saves the position at most this often (idle tables still advance it). */
const EMPTY_SAVE_INTERVAL_MS = 1_000;
const RETAINED_INTERVAL_MS = 5_000;

interface OpenTransaction {
  gtid: string | undefined;
  timestampMs: number;
  /** Already journaled before a restart (covered by the position the stream resumed from). */
  skip: boolean;
  buffer: TransactionBuffer;
}

interface PendingChunk {
  chunk: SnapshotChunk;
  table: string;
}

export class MysqlSource implements Source {
  readonly kind = 'mysql' as const;
  readonly name: string;
  private readonly clock: () => number;
  private readonly meter: CaptureMeter;
  private readonly connection: MysqlConnectionOptions;

  private state: CaptureState = 'starting';
  private reason: string | null = null;
  private lastError: { atMs: number; message: string; code?: string } | null = null;
  private received = 0;
  private acknowledged = 0;
  private lastMessageAtMs: number | null = null;

  private tables: CapturedTable[] = [];
  private isMariaDb = true;
  private query: mysql.Connection | undefined;
  private reader: BinlogReader | undefined;
  private readerPaused = false;
  private queue: BinlogRecord[] = [];
  private pumping: Promise<void> | undefined;
  /** Bumped on every (re)connect and teardown: work of an older connection stops. */
  private generation = 0;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retainedTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new CaptureBackoff();

  /** Where the stream is (everything processed); saved with each append. */
  private position: MysqlPosition = { gtid: '', file: null, pos: null, captured: [], snapshot: null, schemas: {} };
  /** The position the current stream started from: transactions it covers are skipped. */
  private resumedFrom = '';
  private unsaved = false;
  private savedAtMs = 0;
  private tx: OpenTransaction | undefined;
  private pendingChunk: PendingChunk | undefined;
  /** The local copy's keys of the table being snapshotted (rows deleted while the binlog was lost). */
  private heldKeys: { table: string; keys: HeldKeys } | undefined;
  private snapshot: SnapshotProgress | null = null;
  private retained: RetainedLog | null = null;

  constructor(
    readonly config: MysqlSourceConfig,
    readonly parts: CaptureSourceParts,
  ) {
    this.name = config.name;
    this.clock = parts.clock ?? Date.now;
    this.meter = new CaptureMeter(this.clock);
    this.connection = mysqlConnectionOptions(config.connection, parts.password);
  }

  /** Resolves after the first attempt to connect and check the server; never rejects for a database problem. */
  async start(): Promise<SourceAddress | null> {
    this.stopping = false;
    this.stopped = undefined;
    await this.connect();
    this.retainedTimer ??= setInterval(() => void this.refreshRetained(), RETAINED_INTERVAL_MS);
    this.retainedTimer.unref();
    return null;
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.retainedTimer);
    this.retainedTimer = undefined;
    await this.teardown();
    // Transactions with nothing captured advanced the position without saving it each time.
    if (this.unsaved) await this.savePosition().catch((error: unknown) => this.parts.log.warn({ source: this.name, err: error }, 'could not save the position at stop'));
    this.transition('stopped', 'the agent is stopping');
  }

  status(): SourceStatus {
    const capture: CaptureStatus = {
      state: this.state,
      reason: this.reason,
      position: this.position.gtid === '' && this.position.file === null ? null : this.position.gtid,
      schemaVersion: Math.max(0, ...Object.values(this.position.schemas).map(([v]) => v)) || null,
      snapshot: this.snapshot,
      lagMs: this.meter.lagMs(),
      rowsPerSecond: this.meter.rowsPerSecond(),
      transactions: this.meter.transactions,
      retained: this.retained,
      lastError: this.lastError,
    };
    return captureSourceStatus(this.name, this.kind, { received: this.received, acknowledged: this.acknowledged, rejected: 0, lastMessageAtMs: this.lastMessageAtMs }, capture);
  }

  private transition(to: CaptureState, reason: string | null = null): void {
    if (this.state !== to) this.parts.log.info({ source: this.name, from: this.state, to, reason }, `capture ${this.state} -> ${to}`);
    this.state = to;
    this.reason = reason;
  }

  private streamingState(): CaptureState {
    if (this.position.snapshot) return 'snapshotting';
    const lag = this.meter.lagMs();
    return lag !== null && lag > this.config.lagThreshold ? 'lagging' : 'streaming';
  }

  // ---- connecting, failing, retrying ----

  private async connect(): Promise<void> {
    if (this.stopping) return;
    const generation = ++this.generation;
    this.transition('starting', this.reason);
    try {
      const query = await openQueryConnection(this.connection);
      this.query = query;
      if (generation !== this.generation) return void (await query.end().catch(() => {}));
      const checked = await preflight(this.name, query, this.config.connection.database, this.config.tables);
      this.tables = checked.tables;
      this.isMariaDb = checked.isMariaDb;
      if (checked.rowMetadata !== null && checked.rowMetadata.toUpperCase() !== 'FULL') {
        this.parts.log.warn(
          { source: this.name, binlog_row_metadata: checked.rowMetadata },
          `binlog_row_metadata is ${checked.rowMetadata}: the binlog does not name columns, so an ALTER TABLE is decoded with the columns information_schema has when the agent reads it; set binlog_row_metadata = FULL (SET GLOBAL and my.cnf) so each change is decoded with its own columns`,
        );
      }
      const saved = parsePosition(this.parts.writer.savedPosition(this.name));
      const purged = saved ? await purgedAfter(query, saved.gtid, this.isMariaDb) : undefined;
      if (saved && purged !== undefined) {
        this.position = saved;
        throw new CapturePositionLostError(this.name, purged);
      }
      this.position = this.withConfiguredTables(saved ?? (await this.freshPosition(query, this.config.snapshot === 'initial', {})));
      this.unsaved = false;
      if (this.position.snapshot) await this.startSnapshotProgress(query);
      // Stopped (or failed) while checking: the teardown has closed what was opened.
      if (generation !== this.generation) return;
      this.startReader(generation);
      this.transition(this.streamingState());
      this.backoff.reset();
      void this.refreshRetained();
      this.kick();
    } catch (error) {
      await this.fail(error, generation);
    }
  }

  private startReader(generation: number): void {
    const tables: Record<string, string[]> = {};
    for (const table of this.tables) (tables[table.database] ??= []).push(table.table);
    this.resumedFrom = this.position.gtid;
    this.queue = [];
    this.readerPaused = false;
    const reader = new BinlogReader({
      connection: this.connection,
      serverId: this.config.serverId,
      gtid: this.position.gtid,
      tables,
      onRecord: (record) => {
        if (generation === this.generation) this.enqueue(record);
      },
      onError: (error) => void this.fail(error, generation),
    });
    this.reader = reader;
    reader.start();
  }

  /** Stops reading, lets the record in progress finish, drops what was not committed, closes the connections. */
  private async teardown(): Promise<void> {
    this.generation++;
    const reader = this.reader;
    this.reader = undefined;
    this.queue = [];
    await reader?.stop();
    // The query connection ends after what it is running (a snapshot chunk), so the loop can finish.
    const query = this.query;
    this.query = undefined;
    const ended = query?.end().catch(() => query.destroy());
    await this.pumping;
    this.tx?.buffer.discard();
    this.tx = undefined;
    this.pendingChunk = undefined;
    this.heldKeys = undefined;
    await ended;
  }

  private async fail(error: unknown, generation: number): Promise<void> {
    if (generation !== this.generation || this.stopping) return;
    const kind = error instanceof CaptureSetupError ? 'setup' : error instanceof CapturePositionLostError ? 'position-lost' : mysqlErrorKind(error);
    await this.teardown();
    if (this.stopping) return;
    const message = (error as Error).message ?? String(error);
    if (kind === 'setup') {
      const setup = error instanceof CaptureSetupError ? error : this.setupError(error);
      this.lastError = { atMs: this.clock(), message: setup.message, code: setup.code };
      this.parts.log.error({ source: this.name, err: setup, code: setup.code }, setup.message);
      this.transition('stopped', setup.message);
      return;
    }
    if (kind === 'position-lost') {
      await this.positionLost(error);
      return;
    }
    this.lastError = { atMs: this.clock(), message };
    this.parts.log.warn({ source: this.name, err: error, retryInMs: this.backoff.delayMs }, `capture from ${this.config.connection.host}:${this.config.connection.port} failed, retrying: ${message}`);
    this.transition('retrying', `the server cannot be read (${message}); retrying in ${Math.round(this.backoff.delayMs / 1000)} s`);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = this.backoff.next();
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  /** A server error that no retry cures, as the message the DBA reads. */
  private setupError(error: unknown): CaptureSetupError {
    const errno = (error as { errno?: number }).errno;
    const { user, database, host, port } = this.config.connection;
    const text = (error as Error).message;
    if (SCHEMA_DRIFT.test(text)) {
      return new CaptureSetupError(
        this.name,
        `${text}. The binlog names no columns unless binlog_row_metadata = FULL, so these rows cannot be decoded safely: add the column back until the agent has read past the ALTER TABLE, then drop it again; and run SET GLOBAL binlog_row_metadata = FULL (and binlog_row_metadata = FULL in my.cnf) so it cannot happen again`,
        { cause: error },
      );
    }
    switch (errno) {
      case 1045:
      case 1698:
        return new CaptureSetupError(this.name, `the server ${host}:${port} refused user ${user} (${text}): check connection.user and the password in connection.passwordFile`, { cause: error });
      case 1049:
        return new CaptureSetupError(this.name, `database ${database} does not exist on ${host}:${port}: correct connection.database`, { cause: error });
      case 1227:
        return new CaptureSetupError(this.name, `user ${user} may not read the binlog (${text}): run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'%'`, { cause: error });
      default:
        return new CaptureSetupError(this.name, `${text}: grant user ${user} SELECT on the captured tables and REPLICATION SLAVE, REPLICATION CLIENT ON *.*`, { cause: error });
    }
  }

  /**
   * The server no longer has the binlog after the saved position: say so (lastError,
   * logged at error level) and take a new snapshot of every table from the server's
   * position now, saved at once so a restart continues the new snapshot rather than
   * failing on the old position again. Never a silent resume over the gap.
   */
  private async positionLost(cause: unknown): Promise<void> {
    const lost = new CapturePositionLostError(
      this.name,
      `the server no longer has the binlog after the saved position ${this.position.gtid || '(none)'} (${(cause as Error).message}); taking a new snapshot of ${this.config.tables.map((t) => t.table).join(', ')}. Keep binlogs longer (binlog_expire_logs_seconds) than the agent may be down`,
      { cause },
    );
    this.lastError = { atMs: this.clock(), message: lost.message, code: lost.code };
    this.parts.log.error({ source: this.name, err: lost, code: lost.code }, lost.message);
    const generation = this.generation;
    try {
      const query = await openQueryConnection(this.connection);
      try {
        this.position = await this.freshPosition(query, true, this.position.schemas);
      } finally {
        await query.end().catch(() => {});
      }
      await this.parts.writer.append({ source: this.name, events: [], position: formatPosition(this.position) });
    } catch (error) {
      await this.fail(error, generation);
      return;
    }
    await this.connect();
  }

  /**
   * Tables in the config the journal does not follow yet (added since) are
   * snapshotted after those in progress, or, with snapshot: never, followed from here.
   */
  private withConfiguredTables(position: MysqlPosition): MysqlPosition {
    const pending = position.snapshot?.tables ?? [];
    const added = this.tables.map((t) => t.qualified).filter((name) => !position.captured.includes(name) && !pending.includes(name));
    if (added.length === 0) return position;
    this.parts.log.info({ source: this.name, tables: added }, `tables added to the source: ${added.join(', ')}`);
    if (this.config.snapshot === 'never') return { ...position, captured: [...position.captured, ...added] };
    return { ...position, snapshot: { tables: [...pending, ...added], after: position.snapshot?.after ?? null, rowsCopied: position.snapshot?.rowsCopied ?? 0 } };
  }

  /** Where a source with no usable saved position starts: the server's position now. */
  private async freshPosition(query: mysql.Connection, snapshot: boolean, schemas: MysqlPosition['schemas']): Promise<MysqlPosition> {
    const [gtidRows] = await query.query(this.isMariaDb ? 'SELECT @@GLOBAL.gtid_binlog_pos AS g' : 'SELECT @@GLOBAL.gtid_executed AS g');
    const gtid = String((gtidRows as { g: string | null }[])[0]!.g ?? '').replace(/\s/g, '');
    const [statusRows] = await query.query('SHOW MASTER STATUS');
    const status = (statusRows as { File?: string; Position?: number }[])[0];
    const names = this.tables.map((t) => t.qualified);
    return {
      gtid,
      file: status?.File ?? null,
      pos: status?.Position !== undefined ? Number(status.Position) : null,
      captured: snapshot ? [] : names,
      snapshot: snapshot ? { tables: names, after: null, rowsCopied: 0 } : null,
      schemas,
    };
  }

  // ---- the loop ----

  private enqueue(record: BinlogRecord): void {
    this.queue.push(record);
    if (this.queue.length >= QUEUE_HIGH) {
      // Also after zongji resumed the socket itself (it does after fetching a table's columns).
      this.readerPaused = true;
      this.reader?.pause();
    }
    this.kick();
  }

  private kick(): void {
    if (this.pumping) return;
    const generation = this.generation;
    // fail() awaits the loop's end, so it must not be part of it.
    this.pumping = this.pump()
      .catch((error: unknown) => void this.fail(error, generation))
      .finally(() => {
        this.pumping = undefined;
      });
  }

  private async pump(): Promise<void> {
    const generation = this.generation;
    const live = (): boolean => generation === this.generation && !this.stopping;
    while (live()) {
      if (this.position.snapshot && !this.tx && (await this.snapshotStep(generation))) continue;
      const record = this.queue.shift();
      if (!record) break;
      if (this.readerPaused && this.queue.length <= QUEUE_LOW) {
        this.readerPaused = false;
        this.reader?.resume();
      }
      await this.process(record, generation);
    }
  }

  private async process(record: BinlogRecord, generation: number): Promise<void> {
    switch (record.type) {
      case 'begin':
        this.tx?.buffer.discard();
        this.tx = this.openTransaction(record.gtid, record.timestampMs);
        return;
      case 'rows': {
        this.tx ??= this.openTransaction(record.gtid, this.clock());
        if (this.tx.skip) return;
        const index = this.tables.findIndex((t) => t.database === record.database && t.table === record.table);
        if (index < 0) return;
        this.received += record.rows.length;
        this.lastMessageAtMs = this.clock();
        for (const event of this.rowEvents(index, record)) this.tx.buffer.add(event);
        return;
      }
      case 'ddl':
        this.tx?.buffer.discard();
        this.tx = undefined;
        if (record.gtid !== undefined && !gtidCovered(this.resumedFrom, record.gtid)) this.advance(record.gtidSet, record.gtid, record.file, record.pos);
        return;
      case 'commit':
        await this.commit(record, generation);
        return;
    }
  }

  private openTransaction(gtid: string | undefined, timestampMs: number): OpenTransaction {
    return { gtid, timestampMs, skip: gtidCovered(this.resumedFrom, gtid), buffer: new TransactionBuffer(this.parts.writer, this.name, this.config.maxTransactionRowsInMemory) };
  }

  private advance(gtidSet: string | undefined, gtid: string | undefined, file: string | null, pos: number | null): void {
    const next = gtidSet ?? (gtid !== undefined ? withGtid(this.position.gtid, gtid) : this.position.gtid);
    this.position = { ...this.position, gtid: next, file: file ?? this.position.file, pos: pos ?? this.position.pos };
    this.unsaved = true;
  }

  private async commit(record: Extract<BinlogRecord, { type: 'commit' }>, generation: number): Promise<void> {
    const tx = this.tx ?? this.openTransaction(record.gtid, record.timestampMs);
    this.tx = undefined;
    if (tx.skip) {
      tx.buffer.discard();
      return;
    }
    const before = this.position;
    this.advance(record.gtidSet, record.gtid, record.file, record.pos);
    if (tx.buffer.events === 0) {
      tx.buffer.discard();
      if (this.clock() - this.savedAtMs >= EMPTY_SAVE_INTERVAL_MS) await this.savePosition();
      return;
    }
    if (!(await this.admitted(generation))) {
      this.position = before;
      tx.buffer.discard();
      return;
    }
    const committed = await tx.buffer.commit(formatPosition(this.position));
    this.unsaved = false;
    this.savedAtMs = this.clock();
    this.acknowledged += committed.events;
    this.meter.journaled(committed.events, tx.timestampMs);
    if (this.state !== 'paused') this.transition(this.streamingState());
  }

  private async savePosition(): Promise<void> {
    await this.parts.writer.append({ source: this.name, events: [], position: formatPosition(this.position) });
    this.unsaved = false;
    this.savedAtMs = this.clock();
  }

  /** Waits while the admission check refuses (state paused, retried every second); false when the source stopped meanwhile. */
  private async admitted(generation: number): Promise<boolean> {
    for (;;) {
      const refusal = this.parts.admission?.(this.name);
      if (refusal === undefined) {
        if (this.state === 'paused') this.transition(this.streamingState());
        return true;
      }
      this.transition('paused', refusal);
      await new Promise((resolve) => setTimeout(resolve, ADMISSION_RETRY_MS));
      if (generation !== this.generation || this.stopping) return false;
    }
  }

  // ---- row changes ----

  private *rowEvents(index: number, record: Extract<BinlogRecord, { type: 'rows' }>): Generator<EventInput> {
    const table = this.tables[index]!;
    const schemaVersion = this.schemaVersion(table, record.signature);
    const columns: TableColumn[] = record.columns.map((c) => {
      const known = table.columns.find((k) => k.name === c.name);
      return { name: c.name, type: c.type, kind: kindOfColumnType(c.type, known?.kind === 'json') ?? known?.kind ?? 'text' };
    });
    const headers = { table: table.qualified, position: this.tx?.gtid ?? '', txid: this.tx?.gtid, commitTime: new Date(this.tx?.timestampMs ?? this.clock()).toISOString(), schemaVersion };
    const event = (op: 'upsert' | 'delete', raw: Record<string, unknown>): EventInput | undefined => {
      const key = keyOf(table, raw);
      if (!this.copied(index, key)) return undefined;
      return rowEvent({ stream: table.stream, op, key, row: rowOf(table, raw, columns), headers });
    };
    for (const row of record.rows) {
      let out: (EventInput | undefined)[];
      if (record.op === 'update') {
        const { before, after } = row as { before: Record<string, unknown>; after: Record<string, unknown> };
        // A changed key is the old row gone and a new one.
        const keyChanged = compareKeys(table, keyOf(table, before), keyOf(table, after)) !== 0;
        out = keyChanged ? [event('delete', before), event('upsert', after)] : [event('upsert', after)];
      } else {
        out = [event(record.op === 'insert' ? 'upsert' : 'delete', row as Record<string, unknown>)];
      }
      for (const e of out) if (e) yield e;
    }
  }

  /** The table's schema version for rows decoded with `signature` (column types and names); a new signature is the next version. */
  private schemaVersion(table: CapturedTable, signature: string): number {
    const known = this.position.schemas[table.qualified];
    if (known && known[1] === signature) return known[0];
    // The first signature seen is version 1 unless the snapshot already gave it one.
    const version = known ? (known[1] === '' ? known[0] : known[0] + 1) : 1;
    this.position = { ...this.position, schemas: { ...this.position.schemas, [table.qualified]: [version, signature] } };
    if (known && known[1] !== '') this.parts.log.info({ source: this.name, table: table.qualified, schemaVersion: version }, `table ${table.qualified} changed its columns: schema version ${version}`);
    return version;
  }

  // ---- snapshot ----

  /**
   * Whether a change to `key` of table `index` belongs in the journal now. While
   * the snapshot runs, a row not yet copied is left to the chunk that will copy it:
   * that chunk is read later, at a binlog position past this change, so its rows
   * already include it.
   */
  private copied(index: number, key: readonly CaptureValue[]): boolean {
    const cursor = this.position.snapshot;
    const table = this.tables[index]!;
    if (!cursor || !cursor.tables.includes(table.qualified)) return true;
    if (cursor.tables[0] !== table.qualified) return false;
    return cursor.after !== null && compareKeys(table, key, cursor.after) <= 0;
  }

  /**
   * One step of the snapshot, run by the loop only between transactions: read the
   * next chunk (the loop processes no binlog record meanwhile, so the stream is at
   * or before the chunk's position), or journal the chunk read once the stream has
   * reached its position. Exact, because every change before the chunk's position
   * to a row of the chunk was left out (copied() was false), and every change after
   * it comes after the chunk in the journal. The cursor saved with the chunk makes
   * a killed snapshot resume at the next chunk. True when it did something.
   */
  private async snapshotStep(generation: number): Promise<boolean> {
    const cursor = this.position.snapshot!;
    const table = this.tables.find((t) => t.qualified === cursor.tables[0]);
    if (!table) {
      // Removed from the config since: nothing to copy; the next append saves the shorter list.
      const tables = cursor.tables.slice(1);
      this.position = { ...this.position, snapshot: tables.length > 0 ? { tables, after: null, rowsCopied: cursor.rowsCopied } : null };
      return true;
    }
    if (!this.pendingChunk) {
      const chunk = await readSnapshotChunk(this.query!, table, cursor.after, this.config.snapshotChunkRows, this.isMariaDb);
      if (generation !== this.generation) return false;
      this.pendingChunk = { chunk, table: table.qualified };
    }
    const { chunk } = this.pendingChunk;
    if (!positionReached(this.position.gtid, chunk.gtid)) return false;
    if (!(await this.admitted(generation))) return false;
    const schemaVersion = this.position.schemas[table.qualified]?.[0] ?? 1;
    if (!this.position.schemas[table.qualified]) this.position.schemas = { ...this.position.schemas, [table.qualified]: [1, ''] };
    const headers = { table: table.qualified, position: chunk.gtid, schemaVersion, snapshot: 'true' as const };
    const events = chunk.rows.map((raw) => rowEvent({ stream: table.stream, op: 'upsert', key: keyOf(table, raw), row: rowOf(table, raw), headers }));
    if (this.heldKeys?.table !== table.qualified) this.heldKeys = { table: table.qualified, keys: new HeldKeys(table, this.parts.localCopy.keys(table.stream), cursor.after) };
    const gone = this.heldKeys.keys.gone(chunk.last ? null : chunk.lastKey, new Set(events.map((e) => e.key)), captureKey);
    for (const key of gone) {
      events.push(rowEvent({ stream: table.stream, op: 'delete', key, row: Object.fromEntries(table.key.map((name, i) => [name, key[i] ?? null])), headers }));
    }
    const rowsCopied = cursor.rowsCopied + chunk.rows.length;
    const rest = cursor.tables.slice(1);
    const next = chunk.last ? (rest.length > 0 ? { tables: rest, after: null, rowsCopied } : null) : { tables: cursor.tables, after: chunk.lastKey, rowsCopied };
    const captured = chunk.last ? [...this.position.captured, table.qualified] : this.position.captured;
    const position: MysqlPosition = { ...this.position, captured, snapshot: next };
    await this.parts.writer.append({ source: this.name, events, position: formatPosition(position) });
    this.position = position;
    this.pendingChunk = undefined;
    this.unsaved = false;
    this.savedAtMs = this.clock();
    this.received += events.length;
    this.acknowledged += events.length;
    if (events.length > 0) this.meter.journaled(events.length, null);
    this.updateSnapshotProgress(next, rowsCopied);
    if (!next) {
      this.parts.log.info({ source: this.name, rows: rowsCopied }, 'snapshot done, streaming');
      if (this.state === 'snapshotting') this.transition(this.streamingState());
    }
    return true;
  }

  private async startSnapshotProgress(query: mysql.Connection): Promise<void> {
    let estimate: number | null = 0;
    for (const table of this.tables.filter((t) => this.position.snapshot?.tables.includes(t.qualified))) {
      const rows = await estimateRows(query, table).catch(() => null);
      estimate = estimate === null || rows === null ? null : estimate + rows;
    }
    // The tables of this snapshot: those still to copy and those it copied before a restart.
    const total = this.tables.filter((t) => !this.position.captured.includes(t.qualified) || this.position.snapshot?.tables.includes(t.qualified)).length;
    this.snapshot = { table: null, rowsCopied: 0, rowsEstimated: estimate, percent: null, tablesDone: 0, tablesTotal: total };
    this.updateSnapshotProgress(this.position.snapshot, this.position.snapshot?.rowsCopied ?? 0);
  }

  private updateSnapshotProgress(cursor: MysqlPosition['snapshot'], rowsCopied: number): void {
    if (!this.snapshot) return;
    const estimated = this.snapshot.rowsEstimated;
    const done = this.snapshot.tablesTotal - (cursor?.tables.length ?? 0);
    this.snapshot = {
      ...this.snapshot,
      table: cursor?.tables[0] ?? null,
      rowsCopied,
      tablesDone: done,
      percent: !cursor ? 100 : estimated ? Math.min(99, Math.floor((rowsCopied / estimated) * 100)) : null,
    };
  }

  // ---- retained binlog ----

  private async refreshRetained(): Promise<void> {
    const query = this.query;
    if (!query || this.stopping) return;
    try {
      const [rows] = await query.query('SHOW BINARY LOGS');
      this.retained = retainedBinlog(rows as { Log_name: string; File_size: number | string }[], this.position.file, this.position.pos);
      // The lag is the last transaction's; once nothing is left to read, the source has caught up.
      if (this.retained?.bytes === 0 && this.state === 'lagging' && this.queue.length === 0 && !this.tx) this.transition('streaming');
    } catch {
      // A dropped connection is the loop's to report; the figure stays as it was.
    }
  }
}
