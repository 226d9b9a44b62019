// The PostgreSQL source against a throwaway server: values that survive the trip
// (int8/numeric as strings, bytea base64, timestamptz ISO with microseconds,
// json parsed), a 100 KB TOASTed value kept across an update of another column
// (pgoutput leaves it out; the source fills it from the local copy), and schema
// versions: ADD COLUMN while streaming, DROP COLUMN while the source is stopped.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSource, PostgresSourceConfigSchema } from '../../agent/sources/postgres/index.js';
import { Journal, LocalCopy, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });
let server: ThrowawayPostgres;
const dir = makeTempDir('wardline-pg-schema-');
let db: SqliteDatabase;
let journal: Journal;
let localCopy: LocalCopy;

beforeAll(async () => {
  server = await ThrowawayPostgres.create();
  db = openAgentDatabase(join(dir.path, 'agent.db'));
  journal = new Journal(db);
  localCopy = new LocalCopy(db);
});
afterAll(async () => {
  db?.close();
  await server?.destroy();
  dir.remove();
});

function source(name: string, table: string): PostgresSource {
  const config = PostgresSourceConfigSchema.parse({
    kind: 'postgres',
    name,
    connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres' },
    tables: [{ table }],
    publication: `pub_${name}`,
    heartbeatInterval: 500,
  });
  return new PostgresSource(config, { writer: journal, localCopy, log });
}

const rows = (stream: string): { key: string; op: string; body: Record<string, unknown>; headers: Record<string, string> }[] =>
  (db.prepare('SELECT key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as { key: string; op: string; body: Buffer; headers: string }[]).map((r) => ({
    key: r.key,
    op: r.op,
    body: JSON.parse(r.body.toString()) as Record<string, unknown>,
    headers: JSON.parse(r.headers) as Record<string, string>,
  }));

describe('PostgreSQL source: values, TOAST and schema versions', () => {
  it('maps column types the same in the snapshot and the stream', async () => {
    await server.query(`CREATE TABLE typed (id bigint PRIMARY KEY, n numeric(20,6), i int4, f float8, b boolean, data bytea, at timestamptz, local timestamp, doc jsonb, d date, u uuid)`);
    await server.query(`INSERT INTO typed VALUES (9007199254740993, 12345678901234.123456, 42, 1.5, true, '\\x00ff10', '2024-03-01 10:00:00.123456+02', '2024-03-01 10:00:00.5', '{"a":[1,2]}', '2024-03-01', '6f1c2d8e-8a4b-4a63-9a52-1c4c2f3b0a11')`);
    await server.query('CREATE PUBLICATION pub_typed FOR TABLE typed');
    const s = source('typed', 'typed');
    await s.start();
    await until('the snapshot row', () => rows('typed.typed').length, (n) => n >= 1, { timeoutMs: 20_000 });
    await server.query(`INSERT INTO typed SELECT id + 1, n, i, f, b, data, at, local, doc, d, u FROM typed`);
    await until('the streamed row', () => rows('typed.typed').length, (n) => n >= 2, { timeoutMs: 20_000 });
    await s.stop();
    const [snapshot, streamed] = rows('typed.typed');
    const expected = {
      n: '12345678901234.123456',
      i: 42,
      f: 1.5,
      b: true,
      data: Buffer.from([0x00, 0xff, 0x10]).toString('base64'),
      at: '2024-03-01T08:00:00.123456Z',
      local: '2024-03-01T10:00:00.5',
      doc: { a: [1, 2] },
      d: '2024-03-01',
      u: '6f1c2d8e-8a4b-4a63-9a52-1c4c2f3b0a11',
    };
    expect(snapshot!.key).toBe('9007199254740993');
    expect(snapshot!.body).toEqual({ id: '9007199254740993', ...expected });
    expect(snapshot!.headers).toMatchObject({ snapshot: 'true', table: 'public.typed', schemaVersion: '1' });
    expect(streamed!.body).toEqual({ id: '9007199254740994', ...expected });
    expect(streamed!.headers).toMatchObject({ table: 'public.typed', schemaVersion: '1' });
    expect(streamed!.headers.txid).toMatch(/^\d+$/);
    expect(streamed!.headers.commitTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(streamed!.headers.snapshot).toBeUndefined();
  });

  it('keeps a 100 KB TOASTed value when another column of the row is updated', async () => {
    await server.query('CREATE TABLE notes (id int PRIMARY KEY, status text, body text)');
    await server.query('CREATE PUBLICATION pub_notes FOR TABLE notes');
    const s = source('notes', 'notes');
    await s.start();
    await until('streaming', () => s.status().state, (st) => st === 'streaming', { timeoutMs: 20_000 });
    // Random text does not compress below the TOAST threshold: stored out of line.
    const big = (await server.query<{ v: string }>("SELECT string_agg(md5(random()::text), '') AS v FROM generate_series(1, 3200)")).rows[0]!.v;
    expect(big.length).toBeGreaterThan(100_000);
    await server.query('INSERT INTO notes VALUES (1, $1, $2)', ['new', big]);
    await server.query("UPDATE notes SET status = 'seen' WHERE id = 1");
    await until('the update', () => rows('notes.notes').length, (n) => n >= 2, { timeoutMs: 20_000 });
    const [, updated] = rows('notes.notes');
    expect(updated!.body.status).toBe('seen');
    expect(updated!.body.body).toBe(big);
    expect(JSON.parse(localCopy.get('notes.notes', '1')!.body.toString()).body).toBe(big);
    await s.stop();
  });

  it('stops with a reason naming REPLICA IDENTITY FULL when a TOASTed value is left out and the local copy lacks the row', async () => {
    await server.query('CREATE TABLE letters (id int PRIMARY KEY, status text, body text)');
    const big = (await server.query<{ v: string }>("SELECT string_agg(md5(random()::text), '') AS v FROM generate_series(1, 3200)")).rows[0]!.v;
    await server.query('INSERT INTO letters VALUES (1, $1, $2)', ['new', big]);
    await server.query('CREATE PUBLICATION pub_letters FOR TABLE letters');
    const config = PostgresSourceConfigSchema.parse({
      kind: 'postgres',
      name: 'letters',
      connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres' },
      tables: [{ table: 'letters' }],
      publication: 'pub_letters',
      snapshot: 'never',
    });
    const s = new PostgresSource(config, { writer: journal, localCopy, log });
    await s.start();
    await until('streaming', () => s.status().state, (st) => st === 'streaming', { timeoutMs: 20_000 });
    await server.query("UPDATE letters SET status = 'seen' WHERE id = 1");
    const status = await until('stopped', () => s.status(), (st) => st.state === 'stopped', { timeoutMs: 20_000 });
    expect(status.capture?.reason).toContain('REPLICA IDENTITY FULL');
    expect(status.capture?.reason).toContain('public.letters');
    expect(rows('letters.letters')).toHaveLength(0);
    await s.stop();
  });

  it('records a new schema version for ADD COLUMN mid-stream and for DROP COLUMN while stopped', async () => {
    await server.query('CREATE TABLE wards (id int PRIMARY KEY, name text)');
    await server.query("INSERT INTO wards VALUES (1, 'east')");
    await server.query('CREATE PUBLICATION pub_wards FOR TABLE wards');
    const first = source('wards', 'wards');
    await first.start();
    await until('the snapshot', () => rows('wards.wards').length, (n) => n >= 1, { timeoutMs: 20_000 });
    await server.query("INSERT INTO wards VALUES (2, 'west')");
    await server.query('ALTER TABLE wards ADD COLUMN beds int');
    await server.query("INSERT INTO wards VALUES (3, 'north', 12)");
    await until('three rows', () => rows('wards.wards').length, (n) => n >= 3, { timeoutMs: 20_000 });
    expect(first.status().capture?.schemaVersion).toBe(2);
    await first.stop();

    await server.query('ALTER TABLE wards DROP COLUMN name');
    await server.query('INSERT INTO wards VALUES (4, 20)');
    const second = source('wards', 'wards');
    await second.start();
    await until('four rows', () => rows('wards.wards').length, (n) => n >= 4, { timeoutMs: 20_000 });
    await second.stop();
    const got = rows('wards.wards');
    expect(got.map((r) => [r.key, r.headers.schemaVersion, r.body])).toEqual([
      ['1', '1', { id: 1, name: 'east' }],
      ['2', '1', { id: 2, name: 'west' }],
      ['3', '2', { id: 3, name: 'north', beds: 12 }],
      ['4', '3', { id: 4, beds: 20 }],
    ]);
  });
});
