// A PostgreSQL server or config that is not set up for capture stops that source
// (state stopped, start() resolving, never rejecting) with a reason naming the
// source, the table or setting, and the fix; an unreachable server is retried.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSource, PostgresSourceConfigSchema } from '../../agent/sources/postgres/index.js';
import { Journal, LocalCopy, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

const log = pino({ level: 'silent' });
let server: ThrowawayPostgres;
const dir = makeTempDir('wardline-pg-bad-');
let db: SqliteDatabase;
let journal: Journal;
let localCopy: LocalCopy;

beforeAll(async () => {
  server = await ThrowawayPostgres.create();
  db = openAgentDatabase(join(dir.path, 'agent.db'));
  journal = new Journal(db);
  localCopy = new LocalCopy(db);
  await server.query('CREATE TABLE patients (id int PRIMARY KEY, name text, ssn text)');
  await server.query('CREATE TABLE visits (id int, ward text)');
  await server.query('CREATE TABLE shapes (id int PRIMARY KEY, at point)');
  await server.query('CREATE PUBLICATION pub_ok FOR TABLE patients, visits, shapes');
});
afterAll(async () => {
  db?.close();
  await server?.destroy();
  dir.remove();
});

interface Overrides {
  tables?: unknown[];
  publication?: string;
  user?: string;
  port?: number;
  password?: string;
  on?: ThrowawayPostgres;
}

async function stoppedReason(name: string, overrides: Overrides): Promise<string> {
  const on = overrides.on ?? server;
  const config = PostgresSourceConfigSchema.parse({
    kind: 'postgres',
    name,
    connection: { host: on.host, port: overrides.port ?? on.port, database: 'postgres', user: overrides.user ?? 'postgres' },
    tables: overrides.tables ?? [{ table: 'patients' }],
    publication: overrides.publication ?? 'pub_ok',
  });
  const source = new PostgresSource(config, { writer: journal, localCopy, log, password: overrides.password });
  await expect(source.start()).resolves.toBeNull();
  try {
    const status = await until('stopped', () => source.status(), (s) => s.state === 'stopped', { timeoutMs: 15_000 });
    expect(status.capture?.reason).toContain(`source ${name}:`);
    expect(status.capture?.lastError?.message).toBe(status.capture?.reason);
    return status.capture!.reason!;
  } finally {
    await source.stop();
  }
}

describe('PostgreSQL source: bad input', () => {
  it('a table without a primary key names the table and both fixes', async () => {
    const reason = await stoppedReason('nokey', { tables: [{ table: 'visits' }] });
    expect(reason).toContain('public.visits has no primary key');
    expect(reason).toContain('ADD PRIMARY KEY');
    expect(reason).toContain('REPLICA IDENTITY FULL');
  });

  it('a configured key on a table without REPLICA IDENTITY FULL says so', async () => {
    const reason = await stoppedReason('keyed', { tables: [{ table: 'visits', key: ['id'] }] });
    expect(reason).toContain('ALTER TABLE "public"."visits" REPLICA IDENTITY FULL');
  });

  it('a missing publication gives the CREATE PUBLICATION to run, with the column list and filter from the config', async () => {
    const reason = await stoppedReason('nopub', { publication: 'pub_missing', tables: [{ table: 'patients', columns: ['id', 'name'], filter: 'id > 0' }] });
    expect(reason).toContain('publication pub_missing does not exist');
    expect(reason).toContain('CREATE PUBLICATION "pub_missing" FOR TABLE patients ("id", "name") WHERE (id > 0);');
  });

  it('a table missing from the publication gives the ALTER PUBLICATION to run', async () => {
    await server.query('CREATE PUBLICATION pub_partial FOR TABLE visits');
    const reason = await stoppedReason('partial', { publication: 'pub_partial' });
    expect(reason).toContain('ALTER PUBLICATION "pub_partial" ADD TABLE patients;');
  });

  it('a publication that sends a column the config leaves out is refused (the column must not leave the database)', async () => {
    const reason = await stoppedReason('leaky', { tables: [{ table: 'patients', columns: ['id', 'name'] }] });
    expect(reason).toContain('sends column ssn of public.patients');
  });

  it('an unsupported column type names the column and how to leave it out', async () => {
    const reason = await stoppedReason('shapes', { tables: [{ table: 'shapes' }] });
    expect(reason).toContain('column public.shapes.at has type point');
    expect(reason).toContain('tables[0].columns');
  });

  it('a role without REPLICATION gets the ALTER ROLE to run', async () => {
    await server.query('CREATE ROLE clerk LOGIN');
    await server.query('GRANT SELECT ON patients TO clerk');
    const reason = await stoppedReason('clerk', { user: 'clerk' });
    expect(reason).toContain('ALTER ROLE "clerk" REPLICATION');
  });

  it('a wrong password says which login failed and where the password comes from', async () => {
    await server.query("CREATE ROLE capture LOGIN REPLICATION PASSWORD 'right-password'");
    const hba = join(server.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all capture 127.0.0.1/32 scram-sha-256\nhost replication capture 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await server.query('SELECT pg_reload_conf()');
    const reason = await stoppedReason('badpass', { user: 'capture', password: 'wrong-password' });
    expect(reason).toContain('password authentication failed for capture@');
    expect(reason).toContain('connection.passwordFile');
  });

  it('a server with wal_level = replica gets ALTER SYSTEM SET wal_level = logical', async () => {
    const replica = await ThrowawayPostgres.create({ settings: { wal_level: 'replica', max_wal_senders: 10 } });
    try {
      await replica.query('CREATE TABLE patients (id int PRIMARY KEY)');
      const reason = await stoppedReason('replica', { on: replica });
      expect(reason).toContain("wal_level is replica");
      expect(reason).toContain('ALTER SYSTEM SET wal_level = logical');
    } finally {
      await replica.destroy();
    }
  });

  it('an unreachable server is retried with backoff, not stopped', async () => {
    const port = await freePort();
    const config = PostgresSourceConfigSchema.parse({
      kind: 'postgres',
      name: 'away',
      connection: { host: '127.0.0.1', port, database: 'postgres', user: 'postgres', connectTimeout: 1 },
      tables: [{ table: 'patients' }],
    });
    const source = new PostgresSource(config, { writer: journal, localCopy, log });
    await source.start();
    const status = await until('retrying', () => source.status(), (s) => s.state === 'retrying', { timeoutMs: 10_000 });
    expect(status.capture?.reason).toMatch(/ECONNREFUSED|connect/);
    expect(status.capture?.lastError?.message).toContain('source away:');
    await source.stop();
    expect(source.status().state).toBe('stopped');
  });
});
