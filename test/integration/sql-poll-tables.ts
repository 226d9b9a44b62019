// Tables a polling source can read, on a throwaway server of each dialect, made the
// way the README tells a DBA to: PostgreSQL with an xid8 version column (default
// pg_current_xact_id(), a BEFORE UPDATE trigger) and MariaDB with a TIMESTAMP(6)
// column (DEFAULT / ON UPDATE CURRENT_TIMESTAMP(6)); each with a tombstone table
// `<table>_deleted` (id, version) filled by an AFTER DELETE trigger.
import { SqlPollSourceConfigSchema, type SqlPollSourceConfig } from '../../agent/sources/index.js';
import { MARIADB_TEST_PASSWORD, MARIADB_TEST_USER, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

export type PollDialectName = 'postgres' | 'mysql';

export interface PollTables {
  dialect: PollDialectName;
  /** (id integer primary key, name, amount decimal(10,2), version) and `<table>_deleted`. */
  create(table: string, options?: { withoutKey?: boolean }): Promise<void>;
  drop(table: string): Promise<void>;
  /** Runs statements in one transaction on a connection of its own. */
  transaction(statements: readonly { sql: string; params?: unknown[] }[]): Promise<void>;
  /** A connection held open: begin, run, and commit later (the transaction across the watermark). */
  open(): Promise<{ run(sql: string, params?: unknown[]): Promise<void>; commit(): Promise<void> }>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  /** `$1` (postgres) or `?` (mysql) for the n-th parameter. */
  param(n: number): string;
  /** A source config for these tables (tombstone tables for those made with one). */
  config(name: string, tables: readonly string[], overrides?: Partial<SqlPollSourceConfig>): SqlPollSourceConfig;
  /** The password a source's parts carry (the agent reads it from connection.passwordFile). */
  password?: string;
  destroy(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const POSTGRES_FUNCTIONS = `
CREATE OR REPLACE FUNCTION wl_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.version := pg_current_xact_id(); RETURN NEW; END $$;
CREATE OR REPLACE FUNCTION wl_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN EXECUTE format('INSERT INTO %I (id) VALUES ($1)', TG_TABLE_NAME || '_deleted') USING OLD.id; RETURN OLD; END $$;`;

export async function postgresPollTables(): Promise<PollTables> {
  const server = await ThrowawayPostgres.create();
  await server.query(POSTGRES_FUNCTIONS);
  const withTombstone = new Set<string>();
  return {
    dialect: 'postgres',
    async create(table, options = {}) {
      const key = options.withoutKey ? '' : ' PRIMARY KEY';
      await server.query(`CREATE TABLE ${table} (id integer${key}, name varchar(100), amount decimal(10,2), version xid8 NOT NULL DEFAULT pg_current_xact_id());
        CREATE INDEX ON ${table} (version, id);
        CREATE TRIGGER ${table}_touch BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION wl_touch();`);
      if (options.withoutKey) return;
      await server.query(`CREATE TABLE ${table}_deleted (id integer NOT NULL, version xid8 NOT NULL DEFAULT pg_current_xact_id());
        CREATE TRIGGER ${table}_tomb AFTER DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION wl_tombstone();`);
      withTombstone.add(table);
    },
    async drop(table) {
      await server.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${table}_deleted;`);
      withTombstone.delete(table);
    },
    async transaction(statements) {
      const client = await server.connect();
      try {
        await client.query('BEGIN');
        for (const s of statements) await client.query(s.sql, s.params);
        await client.query('COMMIT');
      } finally {
        await client.end();
      }
    },
    async open() {
      const client = await server.connect();
      await client.query('BEGIN');
      return {
        run: async (sql, params) => void (await client.query(sql, params)),
        commit: async () => {
          await client.query('COMMIT');
          await client.end();
        },
      };
    },
    async query<T>(sql: string, params: unknown[] = []) {
      return (await server.query(sql, params)).rows as T[];
    },
    param: (n) => `$${n}`,
    config(name, tables, overrides = {}) {
      return SqlPollSourceConfigSchema.parse({
        kind: 'sql-poll',
        name,
        dialect: 'postgres',
        connection: { host: server.host, port: server.port, database: 'postgres', user: 'postgres', connectTimeout: 5 },
        tables: tables.map((table) => ({ table, versionColumn: 'version', ...(withTombstone.has(table) ? { tombstoneTable: `${table}_deleted` } : {}) })),
        interval: 100,
        ...overrides,
      });
    },
    destroy: () => server.destroy(),
    stop: () => server.stop(),
    start: () => server.start(),
  };
}

export async function mariadbPollTables(): Promise<PollTables> {
  const server = await ThrowawayMariadb.create();
  const withTombstone = new Set<string>();
  return {
    dialect: 'mysql',
    password: MARIADB_TEST_PASSWORD,
    async create(table, options = {}) {
      const key = options.withoutKey ? '' : ' PRIMARY KEY';
      await server.query(`CREATE TABLE ${table} (id INT${key}, name VARCHAR(100), amount DECIMAL(10,2),
        version TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6), INDEX (version, id))`);
      if (options.withoutKey) return;
      await server.query(`CREATE TABLE ${table}_deleted (id INT NOT NULL, version TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), INDEX (version, id))`);
      await server.query(`CREATE TRIGGER ${table}_tomb AFTER DELETE ON ${table} FOR EACH ROW INSERT INTO ${table}_deleted (id) VALUES (OLD.id)`);
      withTombstone.add(table);
    },
    async drop(table) {
      await server.query(`DROP TABLE IF EXISTS ${table}, ${table}_deleted`);
      withTombstone.delete(table);
    },
    async transaction(statements) {
      const connection = await server.connect();
      try {
        await connection.beginTransaction();
        for (const s of statements) await connection.query(s.sql, s.params);
        await connection.commit();
      } finally {
        await connection.end();
      }
    },
    async open() {
      const connection = await server.connect();
      await connection.beginTransaction();
      return {
        run: async (sql, params) => void (await connection.query(sql, params)),
        commit: async () => {
          await connection.commit();
          await connection.end();
        },
      };
    },
    query: <T>(sql: string, params: unknown[] = []) => server.query<T[]>(sql, params),
    param: () => '?',
    config(name, tables, overrides = {}) {
      return SqlPollSourceConfigSchema.parse({
        kind: 'sql-poll',
        name,
        dialect: 'mysql',
        connection: { host: server.host, port: server.port, database: 'test', user: MARIADB_TEST_USER, connectTimeout: 5 },
        tables: tables.map((table) => ({ table, versionColumn: 'version', ...(withTombstone.has(table) ? { tombstoneTable: `${table}_deleted` } : {}) })),
        interval: 100,
        lagWindow: 300,
        ...overrides,
      });
    },
    destroy: () => server.destroy(),
    stop: () => server.stop(),
    start: () => server.start(),
  };
}
