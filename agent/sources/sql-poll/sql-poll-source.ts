// Polling capture (kind: sql-poll): each table is read by its version column up to a
// watermark no in-flight transaction can still land below (poll-dialect.ts), in
// pages ordered by (version, key), each page one append carrying the new position,
// so a crash resumes after the last page committed and no row version is journaled
// twice. The first read from version zero is the snapshot. Deletes come from a
// tombstone table or a deleted-marker column. Polling cannot see transactions: a
// page is the unit of append, and a row changed twice between polls is seen once,
// in its latest version.
import type { Source, SourceAddress, SourceStatus } from '../source.js';
import {
  CaptureMeter,
  ADMISSION_RETRY_MS,
  CaptureBackoff,
  CaptureSetupError,
  captureSourceStatus,
  initialCaptureStatus,
  rowEvent,
  type CaptureSourceParts,
  type CaptureStatus,
} from '../database/index.js';
import type { EventInput } from '../../store/index.js';
import type { PollConnection, PollCursor, PollDialect, RangePage, Watermark } from './poll-dialect.js';
import { compareVersionTexts } from './poll-dialect.js';
import { mergePages, type ReaderPage } from './poll-merge.js';
import { emptyTablePosition, describePollPosition, parsePollPosition, pruneSeen, serializePollPosition, type PollPosition, type TablePosition } from './poll-position.js';
import { planTable, type PollTablePlan } from './poll-table-plan.js';
import { SequenceWatermark } from './sequence-watermark.js';
import { postgresPollDialect } from './postgres-poll-dialect.js';
import { mysqlPollDialect } from './mysql-poll-dialect.js';
import type { SqlPollSourceConfig } from './sql-poll-source-config.js';


/** A deleted-marker value that means "deleted": true, a non-zero number, a non-empty text other than 0/false/n/no. */
function isDeletedMark(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return !['', '0', 'false', 'f', 'n', 'no'].includes(value.toLowerCase());
  return true;
}

export class SqlPollSource implements Source {
  readonly kind = 'sql-poll' as const;
  readonly name: string;
  private readonly dialect: PollDialect;
  private readonly clock: () => number;
  private readonly meter: CaptureMeter;
  private capture: CaptureStatus = initialCaptureStatus();
  private counts = { received: 0, acknowledged: 0, rejected: 0, lastMessageAtMs: null as number | null };
  private connection: PollConnection | undefined;
  private plans: PollTablePlan[] = [];
  private position: PollPosition = { tables: {} };
  private readonly sequences = new Map<string, SequenceWatermark>();
  private estimates = new Map<string, number | null>();
  private stopping = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly config: SqlPollSourceConfig,
    readonly parts: CaptureSourceParts,
  ) {
    this.name = config.name;
    this.clock = parts.clock ?? Date.now;
    this.meter = new CaptureMeter(this.clock);
    this.dialect = config.dialect === 'postgres' ? postgresPollDialect : mysqlPollDialect((message) => parts.log.warn({ source: this.name }, message));
  }

  async start(): Promise<SourceAddress | null> {
    if (this.running) return null;
    this.stopping = false;
    let firstAttempt!: () => void;
    const attempted = new Promise<void>((resolve) => (firstAttempt = resolve));
    this.running = this.run(firstAttempt);
    await attempted;
    return null;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.running;
    this.running = undefined;
    if (this.capture.state !== 'stopped') this.setState('stopped', 'the source was stopped');
  }

  status(): SourceStatus {
    const capture: CaptureStatus = { ...this.capture, rowsPerSecond: this.meter.rowsPerSecond(), transactions: this.meter.transactions, lagMs: this.meter.lagMs() };
    return captureSourceStatus(this.name, this.kind, this.counts, capture);
  }

  private setState(state: CaptureStatus['state'], reason: string | null = null): void {
    if (this.capture.state !== state) this.parts.log.info({ source: this.name, from: this.capture.state, to: state, reason }, `source ${this.name}: ${this.capture.state} -> ${state}`);
    this.capture = { ...this.capture, state, reason };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Connect, check, poll until stopped; a setup problem stops, anything else retries with backoff. */
  private async run(firstAttempt: () => void): Promise<void> {
    const backoff = new CaptureBackoff();
    while (!this.stopping) {
      try {
        await this.connect();
        firstAttempt();
        backoff.reset();
        await this.pollUntilStopped();
      } catch (error) {
        await this.disconnect();
        const setup = this.dialect.setupProblem(error);
        const message = (error as Error).message;
        this.capture = { ...this.capture, lastError: { atMs: this.clock(), message } };
        if (setup !== undefined) {
          const failure = new CaptureSetupError(this.name, setup, { cause: error });
          this.capture = { ...this.capture, lastError: { atMs: this.clock(), message, code: failure.code } };
          this.parts.log.error({ source: this.name, err: failure }, failure.message);
          this.setState('stopped', failure.message);
          firstAttempt();
          return;
        }
        const backoffMs = backoff.next();
        this.parts.log.warn({ source: this.name, err: error, retryInMs: backoffMs }, `source ${this.name}: ${message}; retrying`);
        this.setState('retrying', `cannot poll ${this.config.connection.host}:${this.config.connection.port}: ${message}; retrying in ${backoffMs / 1000} s`);
        firstAttempt();
        await this.sleep(backoffMs);
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<void> {
    const c = this.config.connection;
    this.connection = await this.dialect.connect({ host: c.host, port: c.port, database: c.database, user: c.user, password: this.parts.password, connectTimeoutMs: c.connectTimeout * 1000 });
    this.plans = [];
    for (const [i, table] of this.config.tables.entries()) this.plans.push(await planTable(this.config, i, table, this.connection, this.dialect));
    // Resume from the journal's copy of the position, never from memory.
    this.position = parsePollPosition(this.parts.writer.savedPosition(this.name));
    for (const plan of this.plans) {
      if (!this.position.tables[plan.name]) {
        const fresh = emptyTablePosition(this.config.snapshot === 'initial');
        if (this.config.snapshot === 'never') {
          const start = (await this.watermarkFor(plan)).head;
          fresh.rows = start === null ? null : { version: start, key: null };
          if (plan.tombstone) fresh.tombstones = fresh.rows;
        }
        this.position.tables[plan.name] = fresh;
      }
      if (this.position.tables[plan.name]!.snapshotting) this.estimates.set(plan.name, await this.connection.estimateRows(plan.table));
    }
    this.updateSnapshotProgress();
  }

  private async disconnect(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close();
  }

  private async pollUntilStopped(): Promise<void> {
    while (!this.stopping) {
      let behind = false;
      for (const plan of this.plans) {
        if (this.stopping) break;
        behind = (await this.pollTable(plan)) || behind;
      }
      if (this.stopping) break;
      if (this.capture.state !== 'paused') this.setState(this.plans.some((p) => this.position.tables[p.name]!.snapshotting) ? 'snapshotting' : 'streaming');
      // A full page means more is waiting: read on at once; otherwise wait the interval.
      if (!behind) await this.sleep(this.config.interval);
    }
  }

  private async watermarkFor(plan: PollTablePlan): Promise<Watermark> {
    const mark = await this.connection!.watermark({
      table: plan.table,
      versionColumn: plan.versionColumn,
      versionType: plan.versionType,
      kind: plan.kind,
      rule: plan.rule,
      lagWindowMs: this.config.lagWindow,
      tombstoneTable: plan.tombstone?.table,
    });
    if (plan.rule === 'lag' && plan.kind === 'number') {
      let sampler = this.sequences.get(plan.name);
      if (!sampler) this.sequences.set(plan.name, (sampler = new SequenceWatermark(this.config.lagWindow)));
      return sampler.sample(this.clock(), mark.upTo);
    }
    return mark;
  }

  /** Where a reader's read begins: its cursor, or under the `lag` rule, back to the re-read bound when that is lower. */
  private readFrom(plan: PollTablePlan, cursor: PollCursor | null, overlapFrom: string | null): PollCursor | null {
    if (cursor === null || cursor.key !== null || overlapFrom === null) return cursor;
    return compareVersionTexts(plan.kind, overlapFrom, cursor.version) < 0 ? { version: overlapFrom, key: null } : cursor;
  }

  /** One page of a table (and its tombstones) into the journal; true when a page was full (more waits). */
  private async pollTable(plan: PollTablePlan): Promise<boolean> {
    const connection = this.connection!;
    const at = this.position.tables[plan.name]!;
    const mark = await this.watermarkFor(plan);
    const { upTo, head } = mark;
    if (upTo === null) return false;
    const stored = at.reReadFrom ?? null;
    const overlapFrom = mark.overlapFrom === null || (stored !== null && compareVersionTexts(plan.kind, mark.overlapFrom, stored) < 0) ? stored : mark.overlapFrom;
    const snapshotUntil = at.snapshotting ? (at.snapshotUntil ?? head) : null;
    const limit = this.config.snapshotChunkRows;
    const rowsFrom = this.readFrom(plan, at.rows, overlapFrom);
    const rowsPage: RangePage = await connection.read({
      table: plan.table,
      columns: plan.selectColumns,
      versionColumn: plan.versionColumn,
      versionType: plan.versionType,
      keyColumns: plan.keyColumns,
      after: rowsFrom,
      watermark: upTo,
      limit,
      filter: plan.filter,
    });
    let tombPage: ReaderPage | null = null;
    if (plan.tombstone) {
      const tombFrom = this.readFrom(plan, at.tombstones, overlapFrom);
      const page = await connection.read({
        table: plan.tombstone.table,
        columns: [...plan.keyColumns, plan.versionColumn],
        versionColumn: plan.versionColumn,
        versionType: plan.tombstone.versionType,
        keyColumns: plan.keyColumns,
        after: tombFrom,
        watermark: upTo,
        limit,
      });
      tombPage = { rows: page.rows, full: page.rows.length >= limit, from: tombFrom };
    }
    const rowsFull = rowsPage.rows.length >= limit;
    const merged = mergePages(plan.kind, upTo, { rows: rowsPage.rows, full: rowsFull, from: rowsFrom }, tombPage);

    const next: TablePosition = {
      ...at,
      seen: [...at.seen],
      // A re-read may move a cursor back, even below reReadFrom (a full page of a re-read, or a watermark
      // that stepped back to an older transaction): `seen` keeps the pairs above it until it has passed them.
      rows: merged.rows,
      tombstones: merged.tombstones,
      snapshotUntil,
      reReadFrom: overlapFrom,
    };
    if (rowsPage.columns.join(',') !== at.columns.join(',')) {
      next.schemaVersion = at.schemaVersion + 1;
      next.columns = rowsPage.columns;
      if (at.schemaVersion > 0) this.parts.log.info({ source: this.name, table: plan.table, columns: rowsPage.columns, schemaVersion: next.schemaVersion }, `source ${this.name}: the columns of ${plan.table} changed`);
    }
    const seen = new Set(at.seen.map(([key, version]) => `${key}\u0000${version}`));
    const events: EventInput[] = [];
    let newest: string | null = null;
    for (const { reader, row } of merged.merged) {
      const deleted = reader === 'tombstones' || (plan.deletedColumn !== undefined && isDeletedMark(row.row[plan.deletedColumn]));
      const tag = `${reader === 'tombstones' ? 'd' : 'r'}:${JSON.stringify(row.key)}`;
      if (plan.rule === 'lag') {
        if (seen.has(`${tag}\u0000${row.version}`)) continue;
        next.seen.push([tag, row.version]);
      }
      newest = row.version;
      events.push(
        rowEvent({
          stream: plan.stream,
          op: deleted ? 'delete' : 'upsert',
          key: row.key,
          row: row.row,
          headers: { table: plan.table, position: row.version, schemaVersion: next.schemaVersion, snapshot: at.snapshotting ? 'true' : undefined },
        }),
      );
    }
    if (at.snapshotting) {
      next.rowsCopied = at.rowsCopied + events.length;
      // Read up to what was the newest version when it began: the snapshot is over, what follows is the stream.
      if (!rowsFull && (snapshotUntil === null || compareVersionTexts(plan.kind, upTo, snapshotUntil) >= 0)) next.snapshotting = false;
    }
    if (plan.rule === 'lag') {
      const dropped = pruneSeen(next, plan.kind, overlapFrom);
      if (dropped > 0) this.parts.log.warn({ source: this.name, table: plan.table, dropped }, `source ${this.name}: more rows in one lag window of ${plan.table} than it remembers; a re-read may journal some again`);
    }
    const moved = JSON.stringify([next.rows, next.tombstones, next.snapshotting, next.snapshotUntil, next.schemaVersion]) !== JSON.stringify([at.rows, at.tombstones, at.snapshotting, at.snapshotUntil, at.schemaVersion]);
    if (events.length === 0 && !moved) return false;

    await this.admitted();
    if (this.stopping) return false;
    const position: PollPosition = { tables: { ...this.position.tables, [plan.name]: next } };
    this.counts.received += events.length;
    await this.parts.writer.append({ source: this.name, events, position: serializePollPosition(position) });
    this.position = position;
    if (events.length > 0) {
      this.counts.acknowledged += events.length;
      this.counts.lastMessageAtMs = this.clock();
      this.meter.journaled(events.length, this.versionTime(plan, newest));
    }
    this.capture = { ...this.capture, position: describePollPosition(position), schemaVersion: next.schemaVersion };
    this.updateSnapshotProgress();
    return rowsFull || (tombPage?.full ?? false);
  }

  /** Waits while the admission check refuses (state paused, retried every second); nothing is read or appended meanwhile. */
  private async admitted(): Promise<void> {
    for (;;) {
      const refusal = this.parts.admission?.(this.name);
      if (refusal === undefined) {
        if (this.capture.state === 'paused') this.setState('streaming');
        return;
      }
      if (this.capture.state !== 'paused') this.parts.log.warn({ source: this.name, reason: refusal }, `source ${this.name}: paused: ${refusal}`);
      this.setState('paused', refusal);
      await this.sleep(ADMISSION_RETRY_MS);
      if (this.stopping) return;
    }
  }

  /** When the newest version was written, for the lag: only a zoned timestamp column says (timestamptz, MySQL TIMESTAMP: rendered in UTC). */
  private versionTime(plan: PollTablePlan, version: string | null): number | null {
    if (version === null || plan.kind !== 'timestamp') return null;
    if (plan.versionType !== 'timestamp with time zone' && plan.versionType !== 'timestamp') return null;
    const ms = Date.parse(`${version}Z`);
    return Number.isNaN(ms) ? null : ms;
  }

  private updateSnapshotProgress(): void {
    const snapshotting = this.plans.filter((p) => this.position.tables[p.name]?.snapshotting);
    if (this.config.snapshot === 'never') return;
    const tables = this.plans.map((p) => this.position.tables[p.name]).filter((t) => t !== undefined);
    const rowsCopied = tables.reduce((n, t) => n + t.rowsCopied, 0);
    const estimates = this.plans.map((p) => this.estimates.get(p.name));
    const rowsEstimated = estimates.every((e) => typeof e === 'number') ? estimates.reduce((n: number, e) => n + (e as number), 0) : null;
    const done = snapshotting.length === 0;
    this.capture = {
      ...this.capture,
      snapshot: {
        table: snapshotting[0]?.table ?? null,
        rowsCopied,
        rowsEstimated,
        percent: done ? 100 : rowsEstimated ? Math.min(99, Math.floor((100 * rowsCopied) / rowsEstimated)) : null,
        tablesDone: this.plans.length - snapshotting.length,
        tablesTotal: this.plans.length,
      },
    };
  }
}
