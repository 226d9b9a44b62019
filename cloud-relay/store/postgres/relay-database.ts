// The relay's connection to PostgreSQL: one pool per process, shared by every
// store kept there (feeds, inbound events, blobs, enrolment tokens, sink
// cursors, process heartbeats), plus what the rest of the relay must know of
// the connection — whether the database is reachable now (readiness).
//
// Failure modes handled:
//  1. An idle pooled connection is cut (the server restarted, a failover, a
//     firewall's idle timeout): pg emits 'error' on the pool; unhandled, that
//     would crash the process. It is logged, the pool drops the client, and
//     the next query opens a new one.
//  2. A query or a transaction fails mid-way because the connection broke:
//     transaction() rolls back when it still can, destroys the client (never
//     returns a broken one to the pool) and rejects, so the caller answers
//     nothing as committed. Nothing is retried here: a batch is resent by its
//     agent, a vendor read is retried by its vendor.
//  3. The database is down for a while: every failure marks it unreachable,
//     and a probe (SELECT 1) at most every probeIntervalMs marks it reachable
//     again, so readiness is false while it is down and true soon after.
//  4. BIGINT columns: pg returns int8 as text by default (it may pass 2^53);
//     seqs and millisecond times stay far below, so they are parsed as numbers.
import pg from 'pg';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../../errors.js';

/** How often a down database is probed again, in milliseconds. */
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;

const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: string) => (oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

export interface RelayDatabaseOptions {
  /** postgres://… */
  url: string;
  /** Connections in the pool. */
  poolMax: number;
  connectTimeoutMs: number;
  /** Shown in pg_stat_activity (e.g. "wardline-relay"), so a DBA sees whose connections these are. */
  applicationName: string;
  logger?: Logger;
  probeIntervalMs?: number;
}

/** A query's client inside transaction(). */
export type DatabaseClient = pg.PoolClient;

export class RelayDatabase {
  readonly pool: pg.Pool;
  private down: { since: number; error: string } | null = null;
  private probing: Promise<void> | null = null;
  private lastProbeAt = 0;
  private closed = false;

  private constructor(
    private readonly options: RelayDatabaseOptions,
  ) {
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: options.applicationName,
      keepAlive: true,
      types,
    });
    // Failure mode 1.
    this.pool.on('error', (error) => {
      this.markDown(error);
      options.logger?.warn({ err: error.message, database: this.description }, 'an idle PostgreSQL connection failed; it is replaced at the next query');
    });
  }

  /** Connects (one round trip, so a wrong URL or a down server fails the start with a clear error). */
  static async connect(options: RelayDatabaseOptions): Promise<RelayDatabase> {
    const database = new RelayDatabase(options);
    try {
      await database.query('SELECT 1');
    } catch (error) {
      await database.pool.end().catch(() => undefined);
      throw new StoreUnavailableError(database.description, error);
    }
    return database;
  }

  /** The URL without its password, for messages and the status page. */
  get description(): string {
    return redactUrl(this.options.url);
  }

  /** Builds a client outside the pool with the same settings (a LISTEN connection lives as long as it is needed). */
  newClient(): pg.Client {
    return new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: this.options.connectTimeoutMs, application_name: this.options.applicationName, keepAlive: true, types });
  }

  /** Whether the last query succeeded (or a probe since); false while the database is down. Starts a probe when it is down. */
  get reachable(): boolean {
    if (this.down) this.probeSoon();
    return this.down === null;
  }

  /** Since when (ms) and why the database is unreachable; null while reachable. */
  get unreachable(): { since: number; error: string } | null {
    return this.down;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>> {
    try {
      const result = await this.pool.query<R>(text, values as unknown[]);
      this.down = null;
      return result;
    } catch (error) {
      if (isConnectionError(error)) this.markDown(error);
      throw error;
    }
  }

  /**
   * Runs `fn` in one transaction (BEGIN … COMMIT) on one pooled client; resolves
   * only after COMMIT returned. A rejection of `fn` rolls back. Failure mode 2.
   */
  async transaction<T>(fn: (client: DatabaseClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.markDown(error);
      throw error;
    }
    let broken = false;
    try {
      await client.query(begin);
      const result = await fn(client);
      await client.query('COMMIT');
      this.down = null;
      return result;
    } catch (error) {
      broken = isConnectionError(error);
      if (broken) this.markDown(error);
      else await client.query('ROLLBACK').catch(() => (broken = true));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private markDown(error: unknown): void {
    if (!this.down) this.down = { since: Date.now(), error: error instanceof Error ? error.message : String(error) };
  }

  // Failure mode 3.
  private probeSoon(): void {
    if (this.probing || this.closed) return;
    const now = Date.now();
    if (now - this.lastProbeAt < (this.options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS)) return;
    this.lastProbeAt = now;
    this.probing = this.query('SELECT 1')
      .then(() => undefined, () => undefined)
      .finally(() => (this.probing = null));
  }
}

/** True for an error that says the connection (not the statement) failed: the database may be down. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code;
  // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now).
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')) return true;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(error.message);
}

/** postgres://user:secret@host/db → postgres://user:***@host/db. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable PostgreSQL URL)';
  }
}
