// The polling source's mapping and its other paths, on real servers: types that
// survive (numerics as strings, binary as base64, timestamps ISO 8601), a column
// list and a row filter applied at the server, a deleted-marker column, the schema
// version bumped by ADD COLUMN, a snapshot stopped midway that resumes without
// re-reading its finished chunks, and the `lag` rule with a PostgreSQL timestamptz
// column and a MariaDB update-sequence column.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlPollSource, SqlPollSourceConfigSchema, type SqlPollSourceConfig } from '../../agent/sources/index.js';
import { Journal, LocalCopy, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { MARIADB_TEST_PASSWORD, MARIADB_TEST_USER, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });

interface JournalRow {
  seq: number;
  key: string;
  op: string;
  body: string;
  headers: string;
}

function journalOf(name: string): { db: SqliteDatabase; journal: Journal; localCopy: LocalCopy; rows(stream: string): JournalRow[]; close(): void } {
  const dir = makeTempDir(`wardline-sql-poll-${name}-`);
  const db = openAgentDatabase(join(dir.path, 'agent.db'));
  return {
    db,
    journal: new Journal(db),
    localCopy: new LocalCopy(db),
    rows: (stream) => db.prepare('SELECT seq, key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as JournalRow[],
    close() {
      db.close();
      dir.remove();
    },
  };
}

describe('sql-poll capture paths, postgres dialect', () => {
  let server: ThrowawayPostgres;
  const config = (name: string, tables: unknown[], extra: Record<string, unknown> = {}): SqlPollSourceConfig =>
    SqlPollSourceConfigSchema.parse({
      kind: 'sql-poll',
      name,
      dialect: 'postgres',
      connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres' },
      tables,
      interval: 100,
      lagWindow: 200,
      ...extra,
    });
  beforeAll(async () => {
    server = await ThrowawayPostgres.create();
    await server.query(`CREATE OR REPLACE FUNCTION wl_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.version := pg_current_xact_id(); RETURN NEW; END $$`);
  });
  afterAll(() => server.destroy());

  it('maps types, applies the column list and filter, deletes by a marked column, and bumps the schema version on ADD COLUMN', async () => {
    const j = journalOf('pg-map');
    await server.query(`CREATE TABLE orders (id bigint PRIMARY KEY, ward text, price numeric(12,4), scan bytea, taken timestamptz, secret text, cancelled boolean NOT NULL DEFAULT false,
      version xid8 NOT NULL DEFAULT pg_current_xact_id());
      CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION wl_touch();
      INSERT INTO orders (id, ward, price, scan, taken, secret) VALUES (9007199254740993, 'A', 12.3400, '\\x00ff', '2024-01-05 08:30:00.123456+01', 'never leaves'), (2, 'B', 1, NULL, NULL, 'x')`);
    const source = new SqlPollSource(
      config('pg-map', [{ table: 'orders', versionColumn: 'version', columns: ['id', 'ward', 'price', 'scan', 'taken'], filter: `ward <> 'B'`, deletedColumn: 'cancelled' }]),
      { writer: j.journal, localCopy: j.localCopy, log },
    );
    await source.start();
    try {
      const stream = 'pg-map.orders';
      await until('the snapshot row', () => j.rows(stream).length, (n) => n >= 1, { timeoutMs: 20_000 });
      const [first] = j.rows(stream);
      expect(first!.key).toBe('9007199254740993');
      const body = JSON.parse(first!.body) as Record<string, unknown>;
      expect(body).toMatchObject({ id: '9007199254740993', ward: 'A', price: '12.3400', scan: 'AP8=', taken: '2024-01-05T07:30:00.123456Z' });
      expect(body).not.toHaveProperty('secret');
      expect(j.localCopy.get(stream, '2')).toBeUndefined(); // the filter
      expect(JSON.parse(first!.headers)).toMatchObject({ table: 'public.orders', schemaVersion: '1', snapshot: 'true' });

      await server.query(`UPDATE orders SET cancelled = true WHERE id = 9007199254740993`);
      await until('the delete', () => j.rows(stream).at(-1)?.op, (op) => op === 'delete', { timeoutMs: 20_000 });

      // Every column (no list): ADD COLUMN changes what the server returns.
      const all = new SqlPollSource(config('pg-all', [{ table: 'orders', versionColumn: 'version' }]), { writer: j.journal, localCopy: j.localCopy, log });
      await all.start();
      try {
        await until('the rows', () => j.rows('pg-all.orders').length, (n) => n >= 2, { timeoutMs: 20_000 });
        await server.query(`ALTER TABLE orders ADD COLUMN bed text; INSERT INTO orders (id, ward, bed) VALUES (3, 'C', '12A')`);
        await until('the row with the new column', () => j.rows('pg-all.orders').at(-1)?.key, (k) => k === '3', { timeoutMs: 20_000 });
        const last = j.rows('pg-all.orders').at(-1)!;
        expect(JSON.parse(last.headers).schemaVersion).toBe('2');
        expect(JSON.parse(last.body)).toMatchObject({ bed: '12A' });
        expect(all.status().capture?.schemaVersion).toBe(2);
      } finally {
        await all.stop();
      }
    } finally {
      await source.stop();
      j.close();
    }
  });

  it('resumes a snapshot stopped midway without re-reading its finished chunks, and reports progress', async () => {
    const j = journalOf('pg-snap');
    // Large enough that the rest of the snapshot cannot finish between the poll that sees a
    // third copied and the stop (3,000 rows once did, on a quiet machine).
    const ROWS = 20_000;
    await server.query(`CREATE TABLE beds (id integer PRIMARY KEY, label text, version xid8 NOT NULL DEFAULT pg_current_xact_id());
      INSERT INTO beds (id, label) SELECT g, 'bed ' || g FROM generate_series(1, ${ROWS}) g; ANALYZE beds`);
    const cfg = config('pg-snap', [{ table: 'beds', versionColumn: 'version' }], { snapshotChunkRows: 100 });
    const stream = 'pg-snap.beds';
    const first = new SqlPollSource(cfg, { writer: j.journal, localCopy: j.localCopy, log });
    await first.start();
    const progress = await until('a third of the snapshot', () => first.status().capture?.snapshot, (s) => (s?.rowsCopied ?? 0) >= ROWS / 3, { timeoutMs: 20_000 });
    await first.stop();
    expect(progress).toMatchObject({ table: 'public.beds', rowsEstimated: ROWS, tablesTotal: 1 });
    expect(progress!.percent).toBeGreaterThanOrEqual(33);
    const copiedBefore = j.rows(stream).length;
    expect(copiedBefore).toBeLessThan(ROWS);

    const second = new SqlPollSource(cfg, { writer: j.journal, localCopy: j.localCopy, log });
    await second.start();
    try {
      await until('the whole snapshot', () => second.status().capture?.snapshot?.percent, (p) => p === 100, { timeoutMs: 30_000 });
      const got = j.rows(stream);
      expect(got).toHaveLength(ROWS);
      expect(new Set(got.map((r) => r.key)).size).toBe(ROWS);
      expect(got.every((r) => JSON.parse(r.headers).snapshot === 'true')).toBe(true);
      await server.query(`INSERT INTO beds (id, label) VALUES (${ROWS + 1}, 'new')`);
      await until('the streamed row', () => j.rows(stream).at(-1)?.key, (k) => k === String(ROWS + 1), { timeoutMs: 20_000 });
      expect(JSON.parse(j.rows(stream).at(-1)!.headers).snapshot).toBeUndefined();
      expect(second.status().state).toBe('streaming');
    } finally {
      await second.stop();
      j.close();
    }
  });

  it('polls a timestamptz column (the common HIS case) by the lag rule, bounded by the oldest open transaction', async () => {
    const j = journalOf('pg-ts');
    await server.query(`CREATE TABLE visits (id integer PRIMARY KEY, note text, changed_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    const source = new SqlPollSource(config('pg-ts', [{ table: 'visits', versionColumn: 'changed_at' }]), { writer: j.journal, localCopy: j.localCopy, log });
    await source.start();
    try {
      const held = await server.connect();
      await held.query(`BEGIN; INSERT INTO visits (id, note) VALUES (1, 'held')`);
      for (let id = 2; id <= 20; id++) await server.query(`INSERT INTO visits (id, note) VALUES ($1, 'quick')`, [id]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(j.rows('pg-ts.visits')).toHaveLength(0); // held back by the open transaction, not only by the 200 ms window
      await held.query('COMMIT');
      await held.end();
      await until('every visit', () => j.rows('pg-ts.visits').length, (n) => n >= 20, { timeoutMs: 20_000 });
      expect(new Set(j.rows('pg-ts.visits').map((r) => r.key)).size).toBe(20);
      expect(source.status().capture?.lagMs).not.toBeNull();
    } finally {
      await source.stop();
      j.close();
    }
  });
});

describe('sql-poll capture paths, mysql dialect', () => {
  let server: ThrowawayMariadb;
  beforeAll(async () => {
    server = await ThrowawayMariadb.create();
  });
  afterAll(() => server.destroy());

  it('polls an update-sequence column by the lag rule and maps DECIMAL, BIGINT, BLOB and TIMESTAMP', async () => {
    const j = journalOf('my-seq');
    await server.query(`CREATE TABLE labs (id BIGINT PRIMARY KEY, result DECIMAL(10,3), raw BLOB, taken TIMESTAMP(6) NULL, upd_seq BIGINT NOT NULL, INDEX (upd_seq, id))`);
    await server.query(`INSERT INTO labs VALUES (9007199254740993, 5.125, x'00ff', '2024-01-05 07:30:00.123456', 1)`);
    const cfg = SqlPollSourceConfigSchema.parse({
      kind: 'sql-poll',
      name: 'my-seq',
      dialect: 'mysql',
      connection: { host: server.host, port: server.port, database: 'test', user: MARIADB_TEST_USER },
      tables: [{ table: 'labs', versionColumn: 'upd_seq' }],
      interval: 100,
      lagWindow: 300,
    });
    const source = new SqlPollSource(cfg, { writer: j.journal, localCopy: j.localCopy, log, password: MARIADB_TEST_PASSWORD });
    await source.start();
    try {
      await until('the snapshot row', () => j.rows('my-seq.labs').length, (n) => n >= 1, { timeoutMs: 20_000 });
      expect(JSON.parse(j.rows('my-seq.labs')[0]!.body)).toMatchObject({ id: '9007199254740993', result: '5.125', raw: 'AP8=', upd_seq: '1' });
      expect(JSON.parse(j.rows('my-seq.labs')[0]!.body).taken).toMatch(/^2024-01-05T\d\d:30:00\.123456Z$/);
      // A sequence value drawn (2) before one committed earlier (3): the window and its re-read still catch it.
      const slow = await server.connect();
      await slow.beginTransaction();
      await slow.query(`INSERT INTO labs VALUES (2, 1, NULL, NULL, 2)`);
      await server.query(`INSERT INTO labs VALUES (3, 1, NULL, NULL, 3)`);
      await new Promise((resolve) => setTimeout(resolve, 350));
      await slow.commit();
      await slow.end();
      await until('both rows', () => j.rows('my-seq.labs').map((r) => r.key).sort(), (k) => k.includes('2') && k.includes('3'), { timeoutMs: 20_000 });
      const keys = j.rows('my-seq.labs').map((r) => r.key);
      expect(keys.length).toBe(new Set(keys).size);
    } finally {
      await source.stop();
      j.close();
    }
  });
  it('without the PROCESS privilege bounds a timestamp watermark by the window alone, and says so', async () => {
    const j = journalOf('my-noprocess');
    await server.query(`CREATE TABLE notes (id INT PRIMARY KEY, note TEXT, changed TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))`);
    await server.query(`CREATE USER 'plain'@'%' IDENTIFIED BY 'plain-pw'`);
    await server.query(`GRANT SELECT ON test.* TO 'plain'@'%'`);
    const warnings: string[] = [];
    const capturing = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const cfg = SqlPollSourceConfigSchema.parse({
      kind: 'sql-poll',
      name: 'my-noprocess',
      dialect: 'mysql',
      connection: { host: server.host, port: server.port, database: 'test', user: 'plain' },
      tables: [{ table: 'notes', versionColumn: 'changed' }],
      interval: 100,
      lagWindow: 300,
    });
    const source = new SqlPollSource(cfg, { writer: j.journal, localCopy: j.localCopy, log: capturing, password: 'plain-pw' });
    await source.start();
    try {
      await server.query(`INSERT INTO notes (id, note) VALUES (1, 'one')`);
      await until('the row', () => j.rows('my-noprocess.notes').length, (n) => n >= 1, { timeoutMs: 20_000 });
      expect(source.status().state).toBe('streaming');
      expect(warnings.some((w) => w.includes('GRANT PROCESS'))).toBe(true);
    } finally {
      await source.stop();
      j.close();
    }
  });
});
