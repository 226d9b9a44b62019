// How MariaDB rows become events: the same body whether the snapshot's SELECT or
// the binlog read the row (BIGINT and DECIMAL as strings, BLOB base64, DATE,
// DATETIME and TIMESTAMP in UTC, JSON as JSON), the column list applied before
// journaling, headers (table, GTID position and txid, commit time, schema
// version), ALTER TABLE mid-stream recorded as a new schema version, and the
// status figures (position, lag, rows/s, retained binlog).
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlSource, MysqlSourceConfigSchema } from '../../agent/sources/mysql/index.js';
import { Journal, LocalCopy, openAgentDatabase } from '../../agent/store/index.js';
import { MARIADB_TEST_PASSWORD, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });
let server: ThrowawayMariadb;
const dir = makeTempDir('wardline-mysql-mapping-');
const db = openAgentDatabase(join(dir.path, 'agent.db'));
const journal = new Journal(db);
const localCopy = new LocalCopy(db);
const running: MysqlSource[] = [];
let serverId = 400;

interface Row {
  seq: number;
  key: string;
  op: string;
  body: string;
  headers: string;
}
const rows = (stream: string): Row[] => db.prepare('SELECT seq, key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as Row[];

beforeAll(async () => {
  server = await ThrowawayMariadb.create();
});
afterAll(async () => {
  for (const source of running) await source.stop();
  db.close();
  await server.destroy();
  dir.remove();
});

function source(name: string, tables: unknown[], extra: Record<string, unknown> = {}): MysqlSource {
  const built = new MysqlSource(
    MysqlSourceConfigSchema.parse({ kind: 'mysql', name, connection: { host: server.host, port: server.port, database: 'test', user: 'wardline' }, tables, serverId: serverId++, ...extra }),
    { writer: journal, localCopy, log, password: MARIADB_TEST_PASSWORD },
  );
  running.push(built);
  return built;
}

const TYPED_ROW = `(1, 9007199254740993, 12345678901234.56789, X'00ff10', 'text é', '2024-02-29', '2024-02-29 13:45:01.250', '2024-02-29 13:45:01.500000', '{"a": [1, "x"], "b": null}', 3.5, 'secret')`;

describe('mysql source: row mapping', () => {
  it('gives a row the same body from the snapshot and from the binlog, in portable types', async () => {
    await server.query(`CREATE TABLE typed (id INT PRIMARY KEY, big BIGINT, dec1 DECIMAL(20,5), bin VARBINARY(10), txt VARCHAR(20), d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, doc JSON, f DOUBLE, hidden VARCHAR(10))`);
    await server.query(`INSERT INTO typed VALUES ${TYPED_ROW}`);
    const typed = source('map', [{ table: 'typed', columns: ['id', 'big', 'dec1', 'bin', 'txt', 'd', 'dt', 'ts', 'doc', 'f'] }]);
    await typed.start();
    await until('the snapshot row', () => rows('map.typed').length, (n) => n >= 1, { timeoutMs: 20_000 });
    await server.query(`INSERT INTO typed VALUES ${TYPED_ROW.replace('(1,', '(2,')}`);
    await until('the streamed row', () => rows('map.typed').length, (n) => n >= 2, { timeoutMs: 20_000 });
    const [snapshot, streamed] = rows('map.typed');
    const expected = {
      id: 1,
      big: '9007199254740993',
      dec1: '12345678901234.56789',
      bin: Buffer.from([0x00, 0xff, 0x10]).toString('base64'),
      txt: 'text é',
      d: '2024-02-29',
      dt: '2024-02-29T13:45:01.250Z',
      ts: '2024-02-29T13:45:01.500Z',
      doc: { a: [1, 'x'], b: null },
      f: 3.5,
    };
    expect(JSON.parse(snapshot!.body)).toEqual(expected);
    expect(JSON.parse(streamed!.body)).toEqual({ ...expected, id: 2 });
    // The column left out by `columns` never reached the journal.
    expect(streamed!.body).not.toContain('secret');
    const headers = JSON.parse(streamed!.headers) as Record<string, string>;
    expect(headers).toMatchObject({ table: 'test.typed', schemaVersion: '1' });
    expect(headers.position).toMatch(/^0-1-\d+$/);
    expect(headers.txid).toBe(headers.position);
    expect(Date.parse(headers.commitTime!)).toBeGreaterThan(Date.now() - 60_000);
    expect(JSON.parse(snapshot!.headers)).toMatchObject({ snapshot: 'true', table: 'test.typed' });
  });

  it('keys a composite primary key as a JSON array, and an update of the key as a delete and an upsert', async () => {
    await server.query('CREATE TABLE visits (patient INT, visit VARCHAR(10), ward VARCHAR(10), PRIMARY KEY (patient, visit))');
    const visits = source('visits', [{ table: 'visits' }], { snapshot: 'never' });
    await visits.start();
    await until('streaming', () => visits.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    await server.query("INSERT INTO visits VALUES (1, 'a|b', 'w1')");
    await server.query("UPDATE visits SET visit = 'c' WHERE patient = 1");
    await until('three events', () => rows('visits.visits').length, (n) => n >= 3, { timeoutMs: 20_000 });
    expect(rows('visits.visits').map((r) => `${r.op} ${r.key}`)).toEqual(['upsert ["1","a|b"]', 'delete ["1","a|b"]', 'upsert ["1","c"]']);
  });

  it('records ALTER TABLE … ADD COLUMN mid-stream as the next schema version with the new column', async () => {
    await server.query('CREATE TABLE wards (id INT PRIMARY KEY, name VARCHAR(20))');
    const wards = source('wards', [{ table: 'wards' }], { snapshot: 'never' });
    await wards.start();
    await until('streaming', () => wards.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    await server.query("INSERT INTO wards VALUES (1, 'north')");
    await until('the first row', () => rows('wards.wards').length, (n) => n >= 1, { timeoutMs: 20_000 });
    await server.query('ALTER TABLE wards ADD COLUMN beds INT');
    await server.query("INSERT INTO wards VALUES (2, 'south', 12)");
    await until('the row after ALTER', () => rows('wards.wards').length, (n) => n >= 2, { timeoutMs: 20_000 });
    const [before, after] = rows('wards.wards');
    expect(JSON.parse(before!.headers).schemaVersion).toBe('1');
    expect(JSON.parse(after!.headers).schemaVersion).toBe('2');
    expect(JSON.parse(after!.body)).toEqual({ id: 2, name: 'south', beds: 12 });
    expect(wards.status().capture?.schemaVersion).toBe(2);
  });

  it('decodes rows written before a DROP COLUMN made while the agent was down (binlog_row_metadata = FULL)', async () => {
    await server.query('SET GLOBAL binlog_row_metadata = FULL');
    try {
      await server.query('CREATE TABLE beds (id INT PRIMARY KEY, ward VARCHAR(20), legacy VARCHAR(20))');
      const first = source('beds', [{ table: 'beds' }], { snapshot: 'never' });
      await first.start();
      await until('streaming', () => first.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
      await server.query("INSERT INTO beds VALUES (1, 'north', 'old')");
      await until('the first row', () => rows('beds.beds').length, (n) => n >= 1, { timeoutMs: 20_000 });
      await first.stop();
      await server.query("INSERT INTO beds VALUES (2, 'south', 'old')");
      await server.query('ALTER TABLE beds DROP COLUMN legacy');
      await server.query("INSERT INTO beds VALUES (3, 'east')");
      const second = source('beds', [{ table: 'beds' }], { snapshot: 'never' });
      await second.start();
      await until('the rows from before and after the DROP', () => rows('beds.beds').length, (n) => n >= 3, { timeoutMs: 20_000 });
      const got = rows('beds.beds');
      expect(JSON.parse(got[1]!.body)).toEqual({ id: 2, ward: 'south', legacy: 'old' });
      expect(JSON.parse(got[2]!.body)).toEqual({ id: 3, ward: 'east' });
      expect(JSON.parse(got[1]!.headers).schemaVersion).toBe('1');
      expect(JSON.parse(got[2]!.headers).schemaVersion).toBe('2');
    } finally {
      await server.query('SET GLOBAL binlog_row_metadata = NO_LOG');
    }
  });

  it('without binlog_row_metadata = FULL, stops at rows written before a DROP COLUMN rather than guess their columns', async () => {
    await server.query('CREATE TABLE cots (id INT PRIMARY KEY, ward VARCHAR(20), legacy VARCHAR(20))');
    const first = source('cots', [{ table: 'cots' }], { snapshot: 'never' });
    await first.start();
    await until('streaming', () => first.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    await server.query("INSERT INTO cots VALUES (1, 'north', 'old')");
    await until('the first row', () => rows('cots.cots').length, (n) => n >= 1, { timeoutMs: 20_000 });
    await first.stop();
    await server.query("INSERT INTO cots VALUES (2, 'south', 'old')");
    await server.query('ALTER TABLE cots DROP COLUMN legacy');
    const second = source('cots', [{ table: 'cots' }], { snapshot: 'never' });
    await second.start();
    const status = await until('stopped', () => second.status(), (s) => s.state === 'stopped', { timeoutMs: 20_000 });
    expect(status.capture?.reason).toContain('the event has 3 columns, fetched metadata has 2');
    expect(status.capture?.reason).toContain('SET GLOBAL binlog_row_metadata = FULL');
    expect(rows('cots.cots')).toHaveLength(1);
    // The fix it names works: with the column back, the rows decode and capture goes on.
    await second.stop();
    await server.query('ALTER TABLE cots ADD COLUMN legacy VARCHAR(20)');
    const third = source('cots', [{ table: 'cots' }], { snapshot: 'never' });
    await third.start();
    await until('the row from before the DROP', () => rows('cots.cots').length, (n) => n >= 2, { timeoutMs: 20_000 });
    expect(JSON.parse(rows('cots.cots')[1]!.body)).toEqual({ id: 2, ward: 'south', legacy: 'old' });
  });

  it('reports position, lag, rows per second and the retained binlog', async () => {
    await server.query('CREATE TABLE beats (id INT PRIMARY KEY, n INT)');
    const beats = source('beats', [{ table: 'beats' }], { snapshot: 'never' });
    await beats.start();
    await until('streaming', () => beats.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    const started = Date.now();
    const connection = await server.connect();
    const count = 2_000;
    const committedAt: number[] = [];
    for (let i = 0; i < count; i++) {
      await connection.query('INSERT INTO beats VALUES (?, ?)', [i, i]);
      committedAt.push(Date.now());
    }
    await connection.end();
    const writeMs = Date.now() - started;
    await until('every row', () => rows('beats.beats').length, (n) => n >= count, { timeoutMs: 60_000 });
    const captureMs = Date.now() - started;
    const status = await until('the retained binlog figure', () => beats.status(), (s) => s.capture?.retained !== null, { timeoutMs: 10_000 });
    const capture = status.capture!;
    expect(capture.position).toMatch(/^0-1-\d+$/);
    expect(capture.transactions).toBeGreaterThanOrEqual(count);
    expect(capture.rowsPerSecond).toBeGreaterThan(0);
    expect(capture.lagMs).not.toBeNull();
    expect(capture.retained?.status).toMatch(/^binlog\.\d+$/);
    expect(capture.retained?.bytes).toBeGreaterThanOrEqual(0);
    // Commit (the writer's COMMIT returned) to commit in the journal (its ts_ms), per row.
    const journaledAt = new Map((db.prepare('SELECT key, ts_ms FROM journal WHERE stream = ?').all('beats.beats') as { key: string; ts_ms: number }[]).map((r) => [Number(r.key), r.ts_ms]));
    const lags = committedAt.map((at, i) => journaledAt.get(i)! - at).sort((a, b) => a - b);
    const p50 = lags[Math.floor(lags.length * 0.5)]!;
    const p99 = lags[Math.floor(lags.length * 0.99)]!;
    expect(p99).toBeLessThan(5_000);
    console.log(`mysql capture lag (writer commit -> journal commit): p50 ${p50} ms, p99 ${p99} ms, max ${lags.at(-1)} ms`);
    console.log(`mysql capture: ${count} single-row transactions written in ${writeMs} ms, all journaled after ${captureMs} ms (${Math.round((count / captureMs) * 1000)} rows/s), last lag ${capture.lagMs} ms, rowsPerSecond ${capture.rowsPerSecond.toFixed(0)}, retained ${capture.retained?.bytes} bytes`);
  });
});
