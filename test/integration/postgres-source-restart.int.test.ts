// The PostgreSQL source across server restarts and idle tables: a fast shutdown
// and a SIGKILL of the server put the source in `retrying`, it resumes from the
// saved LSN once the server is back, missing and doubling nothing, and the
// slot's confirmed position never passes what the journal holds. With only
// other tables written, keepalives move the saved position and the slot on.
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
const dir = makeTempDir('wardline-pg-restart-');
let db: SqliteDatabase;
let journal: Journal;
let localCopy: LocalCopy;

beforeAll(async () => {
  server = await ThrowawayPostgres.create();
  db = openAgentDatabase(join(dir.path, 'agent.db'));
  journal = new Journal(db);
  localCopy = new LocalCopy(db);
  await server.query('CREATE TABLE admissions (id int PRIMARY KEY, note text)');
  await server.query('CREATE TABLE audit (id serial PRIMARY KEY, note text)');
  await server.query('CREATE PUBLICATION pub_adm FOR TABLE admissions');
});
afterAll(async () => {
  db?.close();
  await server?.destroy();
  dir.remove();
});

const lsn = (text: string): bigint => {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

function source(name: string): PostgresSource {
  const config = PostgresSourceConfigSchema.parse({
    kind: 'postgres',
    name,
    connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres', connectTimeout: 2 },
    tables: [{ table: 'admissions' }],
    publication: 'pub_adm',
    heartbeatInterval: 300,
  });
  return new PostgresSource(config, { writer: journal, localCopy, log });
}

async function confirmedWithinJournal(name: string): Promise<void> {
  const row = (await server.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [`wardline_${name}`])).rows[0];
  const saved = JSON.parse(journal.savedPosition(name)!) as { lsn: string };
  expect(lsn(row!.lsn!)).toBeLessThanOrEqual(lsn(saved.lsn) + 1n);
}

const keys = (): string[] => (db.prepare("SELECT key FROM journal WHERE stream = 'adm.admissions' ORDER BY seq").all() as { key: string }[]).map((r) => r.key);

describe('PostgreSQL source: restarts and idle tables', () => {
  it('retries through a fast shutdown and a SIGKILL of the server and resumes from the saved LSN', async () => {
    const s = source('adm');
    await s.start();
    await until('streaming', () => s.status().state, (st) => st === 'streaming', { timeoutMs: 20_000 });
    await server.query("INSERT INTO admissions VALUES (1, 'before')");
    await until('row 1', () => keys().length, (n) => n >= 1);

    await server.stop();
    await until('retrying', () => s.status().state, (st) => st === 'retrying', { timeoutMs: 20_000 });
    expect(s.status().capture?.lastError).not.toBeNull();
    await server.start();
    await server.query("INSERT INTO admissions VALUES (2, 'after restart')");
    await until('row 2', () => keys().length, (n) => n >= 2, { timeoutMs: 40_000 });
    await confirmedWithinJournal('adm');

    // A transaction the server has committed and sent, then the server dies.
    await server.query("INSERT INTO admissions VALUES (3, 'before kill'), (4, 'before kill')");
    await until('rows 3 and 4', () => keys().length, (n) => n >= 4, { timeoutMs: 20_000 });
    await server.kill();
    await until('retrying after the kill', () => s.status().state, (st) => st === 'retrying', { timeoutMs: 20_000 });
    await server.start();
    await server.query("INSERT INTO admissions VALUES (5, 'after kill')");
    await until('row 5', () => keys().length, (n) => n >= 5, { timeoutMs: 40_000 });
    await until('streaming again', () => s.status().state, (st) => st === 'streaming', { timeoutMs: 20_000 });
    await s.stop();
    expect(keys()).toEqual(['1', '2', '3', '4', '5']);
    await confirmedWithinJournal('adm');
  }, 90_000);

  it('advances the saved position and the slot while only tables it does not capture are written', async () => {
    const s = source('idle');
    await s.start();
    await until('streaming', () => s.status().state, (st) => st === 'streaming', { timeoutMs: 20_000 });
    const start = lsn((JSON.parse(journal.savedPosition('idle')!) as { lsn: string }).lsn);
    for (let i = 0; i < 20; i++) {
      await server.query("INSERT INTO audit (note) SELECT 'busy elsewhere' FROM generate_series(1, 100)");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await until(
      'the saved position to move on',
      () => lsn((JSON.parse(journal.savedPosition('idle')!) as { lsn: string }).lsn),
      (now) => now > start,
      { timeoutMs: 20_000 },
    );
    const current = lsn((await server.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
    await until(
      'the slot to follow',
      async () => lsn((await server.query<{ lsn: string }>("SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'wardline_idle'")).rows[0]!.lsn),
      (confirmed) => confirmed > start + 1n && confirmed <= current + 1n,
      { timeoutMs: 20_000 },
    );
    await confirmedWithinJournal('idle');
    await s.stop();
    expect(s.status().capture?.position).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });
});
