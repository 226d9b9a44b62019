// The HIS side of a capture fault test or benchmark: connections that keep
// committing single-row and multi-row transactions into one table of a
// ThrowawayPostgres, surviving the server's restarts (a failed transaction is
// counted and the connection made again). Each row carries what lets a test judge
// the capture from the rows alone, whatever was lost in a server crash:
//  - v: the row's version, 1 on insert and +1 on every update, so each key's
//    journal events must read 1, 2, 3… (after a delete, 1 again): no duplicate, no gap;
//  - batch and batch_size: the transaction that wrote the row and how many rows it
//    wrote, so a transaction seen in part (in the journal or a feed) shows at once.
import pg from 'pg';
import type { ThrowawayPostgres } from './throwaway-postgres.js';

export interface HisWriterOptions {
  table: string;
  database?: string;
  /** Keys are drawn from 1..keys; default 1,000. */
  keys?: number;
  /** Concurrent connections; default 2. */
  connections?: number;
  /** Share of transactions that write several rows (2..maxBatchRows); default 0.3. */
  multiRowShare?: number;
  maxBatchRows?: number;
  /** Share of single-row transactions that delete their row; default 0.05. */
  deleteShare?: number;
  /** Transactions per second over all connections; absent = as fast as they go. */
  ratePerSecond?: number;
}

export interface HisWriterStats {
  /** Transactions the server confirmed (a server crash may still lose the last ones: synchronous_commit is off). */
  committed: number;
  /** Transactions that failed (server down or restarting). */
  failed: number;
  /** Rows written by the confirmed transactions. */
  rows: number;
}

/** The table a writer writes, created once before the agent starts. */
export function hisTableSql(table: string): string {
  return `CREATE TABLE ${table} (
    id         integer PRIMARY KEY,
    v          integer NOT NULL,
    batch      bigint  NOT NULL,
    batch_size integer NOT NULL,
    note       text
  )`;
}

export class HisWriter {
  readonly stats: HisWriterStats = { committed: 0, failed: 0, rows: 0 };
  private running = false;
  private loops: Promise<void>[] = [];
  private nextBatch = 1;
  private readonly startedAtMs = Date.now();
  private readonly options: Required<Omit<HisWriterOptions, 'ratePerSecond'>> & { ratePerSecond?: number };

  constructor(
    private readonly server: ThrowawayPostgres,
    options: HisWriterOptions,
  ) {
    this.options = { database: 'postgres', keys: 1_000, connections: 2, multiRowShare: 0.3, maxBatchRows: 20, deleteShare: 0.05, ...options };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.options.connections; i++) this.loops.push(this.loop(i));
  }

  /** Stops after the transactions in flight; resolves with the counts. */
  async stop(): Promise<HisWriterStats> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    return { ...this.stats };
  }

  /** Resolves once `n` more transactions have been confirmed. */
  async waitForCommits(n: number, timeoutMs = 60_000): Promise<void> {
    const target = this.stats.committed + n;
    const deadline = Date.now() + timeoutMs;
    while (this.stats.committed < target) {
      if (Date.now() > deadline) throw new Error(`the writer confirmed ${this.stats.committed} of ${target} transactions in ${timeoutMs} ms (${this.stats.failed} failed)`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async loop(index: number): Promise<void> {
    let client: pg.Client | undefined;
    let done = 0;
    const { connections, ratePerSecond } = this.options;
    while (this.running) {
      try {
        if (!client) {
          client = new pg.Client({ connectionString: this.server.url(this.options.database), connectionTimeoutMillis: 2_000 });
          client.on('error', () => undefined); // a dropped connection surfaces as the next query's error
          await client.connect();
        }
        const rows = await this.transaction(client);
        this.stats.committed += 1;
        this.stats.rows += rows;
        done += 1;
        if (ratePerSecond !== undefined) {
          // Paced from the start so a slow moment is caught up, never more than the rate on average.
          const dueMs = this.startedAtMs + ((done * connections + index) / ratePerSecond) * 1000;
          const waitMs = dueMs - Date.now();
          if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
        }
      } catch {
        this.stats.failed += 1;
        await client?.end().catch(() => undefined);
        client = undefined;
        if (this.running) await new Promise((r) => setTimeout(r, 200));
      }
    }
    await client?.end().catch(() => undefined);
  }

  /** One transaction; returns the rows it wrote. */
  private async transaction(client: pg.Client): Promise<number> {
    const { table, keys, multiRowShare, maxBatchRows, deleteShare } = this.options;
    const batch = this.nextBatch++;
    const upsert = `INSERT INTO ${table} AS t (id, v, batch, batch_size, note) VALUES ($1, 1, $2, $3, $4)
                    ON CONFLICT (id) DO UPDATE SET v = t.v + 1, batch = EXCLUDED.batch, batch_size = EXCLUDED.batch_size, note = EXCLUDED.note`;
    if (Math.random() >= multiRowShare) {
      const id = 1 + Math.floor(Math.random() * keys);
      if (Math.random() < deleteShare) {
        const result = await client.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
        return result.rowCount ?? 0;
      }
      await client.query(upsert, [id, batch, 1, `single ${batch}`]);
      return 1;
    }
    const size = 2 + Math.floor(Math.random() * (maxBatchRows - 1));
    const ids = new Set<number>();
    while (ids.size < size) ids.add(1 + Math.floor(Math.random() * keys));
    // Statement by statement inside BEGIN/COMMIT, so the server decodes several changes into one transaction.
    // Ids in order: two connections' batches never lock each other's rows in opposite orders.
    await client.query('BEGIN');
    try {
      for (const id of [...ids].sort((a, b) => a - b)) await client.query(upsert, [id, batch, size, `batch ${batch}`]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    return size;
  }
}
