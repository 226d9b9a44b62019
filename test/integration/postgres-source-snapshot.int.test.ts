// The PostgreSQL snapshot: 50,000 rows in primary-key chunks, interrupted twice
// (the source stopped while paused at a chunk) with the database written in the
// finished range, the unfinished range and while the source is down; resumed, it
// copies only the chunks left (each row's snapshot event exactly once), and the
// stream from the slot adds every change once: the local copy equals the table
// and no row version is journaled twice. Then the slot invalidated while the
// source is stopped (max_slot_wal_keep_size): position-lost error, a new slot,
// a new snapshot, and the local copy equal to the table again.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSource, PostgresSourceConfigSchema } from '../../agent/sources/postgres/index.js';
import { Journal, LocalCopy, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import type { AdmissionCheck } from '../../agent/sources/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });
const ROWS = 50_000;
const CHUNK = 2_000;
let server: ThrowawayPostgres;
const dir = makeTempDir('wardline-pg-snapshot-');
let db: SqliteDatabase;
let journal: Journal;
let localCopy: LocalCopy;

beforeAll(async () => {
  server = await ThrowawayPostgres.create({ settings: { max_wal_size: '64MB', min_wal_size: '32MB' } });
  db = openAgentDatabase(join(dir.path, 'agent.db'));
  journal = new Journal(db);
  localCopy = new LocalCopy(db);
  await server.query('CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)');
  await server.query(`INSERT INTO orders SELECT g, 'item-' || g, g % 7 FROM generate_series(1, ${ROWS}) g`);
  await server.query('ANALYZE orders');
  await server.query('CREATE PUBLICATION pub_snap FOR TABLE orders');
});
afterAll(async () => {
  db?.close();
  await server?.destroy();
  dir.remove();
});

function source(admission?: AdmissionCheck): PostgresSource {
  const config = PostgresSourceConfigSchema.parse({
    kind: 'postgres',
    name: 'snap',
    connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres' },
    tables: [{ table: 'orders' }],
    publication: 'pub_snap',
    snapshotChunkRows: CHUNK,
    heartbeatInterval: 500,
  });
  return new PostgresSource(config, { writer: journal, localCopy, log, admission });
}

const STREAM = 'snap.orders';

/** The table as the local copy should hold it: key → body. */
async function tableState(): Promise<Map<string, string>> {
  const rows = (await server.query<{ id: number; item: string; qty: number }>('SELECT id, item, qty FROM orders ORDER BY id')).rows;
  return new Map(rows.map((r) => [String(r.id), JSON.stringify({ id: r.id, item: r.item, qty: r.qty })]));
}

function localState(): Map<string, string> {
  const rows = db.prepare(`SELECT r.key, j.body FROM records r JOIN journal j ON j.seq = r.seq WHERE r.stream = ?`).all(STREAM) as { key: string; body: Buffer }[];
  return new Map(rows.map((r) => [r.key, r.body.toString()]));
}

function differences(expected: Map<string, string>, got: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [key, body] of expected) if (got.get(key) !== body) out.push(`${key}: want ${body}, got ${got.get(key)}`);
  for (const key of got.keys()) if (!expected.has(key)) out.push(`${key}: not in the table`);
  return out;
}

async function converged(): Promise<void> {
  const expected = await tableState();
  await until('the local copy to equal the table', () => differences(expected, localState()), (d) => d.length === 0, {
    timeoutMs: 40_000,
    describe: (d) => `${d.length} differences: ${d.slice(0, 5).join('; ')}`,
  });
}

describe('PostgreSQL source: snapshot', () => {
  it('resumes a snapshot interrupted part-way without re-reading finished chunks, and meets the stream exactly', async () => {
    let copied = 0;
    const first = source(() => (copied >= 20_000 ? 'holding the snapshot part-way for the test' : undefined));
    const watch = setInterval(() => (copied = first.status().capture?.snapshot?.rowsCopied ?? 0), 5);
    await first.start();
    await until('the snapshot held part-way', () => first.status().state, (s) => s === 'paused', { timeoutMs: 30_000 });
    clearInterval(watch);
    const progress = first.status().capture!.snapshot!;
    expect(progress.rowsCopied).toBeGreaterThanOrEqual(20_000);
    expect(progress.rowsCopied).toBeLessThan(ROWS);
    expect(progress.rowsEstimated).toBe(ROWS);
    expect(progress.percent).toBeGreaterThan(0);
    expect(progress.percent).toBeLessThan(100);
    // Changes while the snapshot is half done: in the finished range, in the unfinished one, new rows, deletes.
    await server.query("UPDATE orders SET item = 'during-' || id WHERE id IN (5, 15000, 40000, 49999)");
    await server.query("INSERT INTO orders VALUES (60001, 'new-during', 1)");
    await server.query('DELETE FROM orders WHERE id IN (7, 45000)');
    await first.stop();
    const saved = JSON.parse(journal.savedPosition('snap')!) as { snapshot?: { table: number; after: string[]; rows: number } };
    expect(saved.snapshot).toMatchObject({ table: 0 });
    const copiedBefore = saved.snapshot!.rows;
    // And while it is stopped.
    await server.query("UPDATE orders SET item = 'stopped-' || id WHERE id IN (6, 15001, 40001, 49998, 60001)");
    await server.query("INSERT INTO orders VALUES (60002, 'new-stopped', 2)");
    await server.query('DELETE FROM orders WHERE id IN (8, 45001)');

    // Interrupted a second time: the rest is then copied under a third snapshot.
    let copiedAgain = 0;
    const interrupted = source(() => (copiedAgain >= 36_000 ? 'holding the snapshot again' : undefined));
    const watchAgain = setInterval(() => (copiedAgain = interrupted.status().capture?.snapshot?.rowsCopied ?? 0), 5);
    await interrupted.start();
    await until('the snapshot held again', () => interrupted.status().state, (s) => s === 'paused', { timeoutMs: 30_000 });
    clearInterval(watchAgain);
    await server.query("UPDATE orders SET item = 'second-' || id WHERE id IN (10, 30000, 40003, 49997, 60002)");
    await interrupted.stop();
    const savedAgain = JSON.parse(journal.savedPosition('snap')!) as { snapshot?: { rows: number }; resumes?: unknown[] };
    expect(savedAgain.snapshot!.rows).toBeGreaterThan(copiedBefore);
    expect(savedAgain.resumes).toHaveLength(1);
    await server.query("UPDATE orders SET item = 'second-stopped-' || id WHERE id IN (11, 40004, 49996)");

    const second = source();
    await second.start();
    await until('streaming', () => second.status().state, (s) => s === 'streaming', { timeoutMs: 40_000 });
    await server.query("UPDATE orders SET item = 'after-' || id WHERE id IN (9, 40002, 60002)");
    await converged();
    await second.stop();

    const events = db.prepare('SELECT key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(STREAM) as { key: string; op: string; body: Buffer; headers: string }[];
    const snapshotKeys = events.filter((e) => JSON.parse(e.headers).snapshot === 'true').map((e) => e.key);
    // Every snapshot row once: the chunks finished before the stop were not read again.
    expect(new Set(snapshotKeys).size).toBe(snapshotKeys.length);
    expect(snapshotKeys.slice(0, copiedBefore)).toEqual(Array.from({ length: copiedBefore }, (_, i) => String(i + 1)));
    const finalPosition = JSON.parse(journal.savedPosition('snap')!) as { snapshot?: unknown; resumes?: unknown[] };
    expect(finalPosition.snapshot).toBeUndefined();
    expect(finalPosition.resumes).toBeUndefined(); // the stream is past both resumed snapshots
    // No row version twice: a change the resumed snapshot already holds is not streamed again.
    const versions = events.map((e) => `${e.key}|${e.op}|${e.body.toString()}`);
    const seen = new Set<string>();
    const repeated = versions.filter((v) => seen.size === seen.add(v).size);
    expect(repeated).toEqual([]);
    expect(second.status().capture?.snapshot).toMatchObject({ percent: 100, table: null });
  });

  it('on a slot invalidated while stopped, reports the lost position, recreates the slot and takes a new snapshot', async () => {
    const s = source();
    await s.start();
    await until('streaming', () => s.status().state, (st) => st === 'streaming', { timeoutMs: 30_000 });
    await s.stop();
    await server.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await server.query('SELECT pg_reload_conf()');
    await server.query("UPDATE orders SET item = 'while-lost-' || id WHERE id <= 100");
    await server.query('CREATE TABLE filler (x text)');
    await until(
      'the slot to be lost',
      async () => {
        await server.query("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 5000)");
        await server.query('SELECT pg_switch_wal()');
        await server.query('CHECKPOINT');
        return (await server.query<{ wal_status: string }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'wardline_snap'")).rows[0]?.wal_status;
      },
      (status) => status === 'lost',
      { timeoutMs: 40_000, pollMs: 10 },
    );
    const snapshotEventsBefore = (db.prepare(`SELECT COUNT(*) AS n FROM journal WHERE stream = ? AND headers LIKE '%"snapshot":"true"%'`).get(STREAM) as { n: number }).n;
    const again = source();
    await again.start();
    await until('streaming again', () => again.status().state, (st) => st === 'streaming', { timeoutMs: 40_000 });
    const status = again.status().capture!;
    expect(status.lastError?.message).toContain('wardline_snap was invalidated');
    expect(status.lastError?.message).toContain('new snapshot');
    await converged();
    const snapshotEventsAfter = (db.prepare(`SELECT COUNT(*) AS n FROM journal WHERE stream = ? AND headers LIKE '%"snapshot":"true"%'`).get(STREAM) as { n: number }).n;
    const rowsNow = Number((await server.query<{ n: string }>('SELECT COUNT(*) AS n FROM orders')).rows[0]!.n);
    expect(snapshotEventsAfter - snapshotEventsBefore).toBe(rowsNow);
    const slot = (await server.query<{ wal_status: string }>("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'wardline_snap'")).rows[0];
    expect(slot?.wal_status).not.toBe('lost');
    await again.stop();
  });
});
