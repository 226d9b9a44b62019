// A 100,000-row UPDATE in one PostgreSQL transaction reaches the journal as one
// staged commit (contiguous seqs, one position) with memory bounded by the
// in-memory limit, and a journal that holds a transaction back (admission
// refusing for longer than the server's wal_sender_timeout) does not make the
// walsender drop the connection: the source keeps answering with the old
// committed LSN. Heap and RSS growth are printed.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSource, PostgresSourceConfigSchema } from '../../agent/sources/postgres/index.js';
import { Journal, LocalCopy, openAgentDatabase, type AppendRequest, type AppendResult, type CaptureWriter, type SqliteDatabase, type StagedAppend } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });
const ROWS = 100_000;
let server: ThrowawayPostgres;
const dir = makeTempDir('wardline-pg-large-');
let db: SqliteDatabase;
let journal: Journal;
let localCopy: LocalCopy;

class CountingWriter implements CaptureWriter {
  stages = 0;
  appendsWithEvents = 0;
  constructor(private readonly inner: Journal) {}
  append(request: AppendRequest): Promise<AppendResult> {
    if (request.events.length > 0) this.appendsWithEvents++;
    return this.inner.append(request);
  }
  savedPosition(source: string): string | undefined {
    return this.inner.savedPosition(source);
  }
  stage(source: string): StagedAppend {
    this.stages++;
    return this.inner.stage(source);
  }
}

beforeAll(async () => {
  server = await ThrowawayPostgres.create({ settings: { wal_sender_timeout: '4s' } });
  db = openAgentDatabase(join(dir.path, 'agent.db'));
  journal = new Journal(db);
  localCopy = new LocalCopy(db);
  await server.query('CREATE TABLE beds (id int PRIMARY KEY, ward text, status text)');
  await server.query(`INSERT INTO beds SELECT g, 'ward-' || (g % 40), 'free' FROM generate_series(1, ${ROWS}) g`);
  await server.query('CREATE PUBLICATION pub_beds FOR TABLE beds');
});
afterAll(async () => {
  db?.close();
  await server?.destroy();
  dir.remove();
});

describe('PostgreSQL source: a large transaction', () => {
  it('journals a 100,000-row UPDATE as one staged commit with bounded memory, through a stall longer than wal_sender_timeout', async () => {
    const writer = new CountingWriter(journal);
    let refusal: string | undefined;
    const config = PostgresSourceConfigSchema.parse({
      kind: 'postgres',
      name: 'beds',
      connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres' },
      tables: [{ table: 'beds' }],
      publication: 'pub_beds',
      snapshot: 'never',
      maxTransactionRowsInMemory: 5_000,
    });
    const source = new PostgresSource(config, { writer, localCopy, log, admission: () => refusal });
    await source.start();
    await until('streaming', () => source.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });

    global.gc?.();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed);
      peakRss = Math.max(peakRss, now.rss);
    }, 20);
    try {
      refusal = 'holding the commit back longer than wal_sender_timeout';
      await server.query("UPDATE beds SET status = 'cleaning'");
      await until('held at the commit', () => source.status().state, (s) => s === 'paused', { timeoutMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 10_000)); // 2.5 × wal_sender_timeout
      const walsender = (await server.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_replication WHERE application_name = 'wardline'")).rows[0]!.n;
      expect(Number(walsender)).toBe(1);
      const seqBefore = (db.prepare("SELECT COUNT(*) AS n FROM journal WHERE stream = 'beds.beds'").get() as { n: number }).n;
      expect(seqBefore).toBe(0); // nothing of it is visible before its commit
      refusal = undefined;
      await until('the transaction', () => (db.prepare("SELECT COUNT(*) AS n FROM journal WHERE stream = 'beds.beds'").get() as { n: number }).n, (n) => n >= ROWS, { timeoutMs: 60_000 });
    } finally {
      clearInterval(sampler);
    }
    const range = db.prepare("SELECT MIN(seq) AS first, MAX(seq) AS last, COUNT(*) AS n, COUNT(DISTINCT json_extract(headers, '$.position')) AS positions FROM journal WHERE stream = 'beds.beds'").get() as {
      first: number;
      last: number;
      n: number;
      positions: number;
    };
    expect(range.n).toBe(ROWS);
    expect(range.last - range.first + 1).toBe(ROWS);
    expect(range.positions).toBe(1);
    expect(writer.stages).toBe(1);
    expect(writer.appendsWithEvents).toBe(0);
    const status = source.status();
    expect(status.capture?.lastError).toBeNull();
    expect(status.capture?.transactions).toBe(1);
    const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
    console.log(`100,000-row UPDATE: heap growth ${mb(peakHeap - before.heapUsed)} MB, RSS growth ${mb(peakRss - before.rss)} MB (peak RSS ${mb(peakRss)} MB)`);
    expect(peakHeap - before.heapUsed).toBeLessThan(150 * 1024 * 1024);
    const confirmed = (await server.query<{ lsn: string }>("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'wardline_beds'")).rows[0]!.lsn;
    const saved = JSON.parse(journal.savedPosition('beds')!) as { lsn: string };
    await source.stop();
    const parse = (lsn: string): bigint => {
      const [hi, lo] = lsn.split('/');
      return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
    };
    expect(parse(confirmed)).toBeLessThanOrEqual(parse(saved.lsn) + 1n);
  }, 90_000);
});
