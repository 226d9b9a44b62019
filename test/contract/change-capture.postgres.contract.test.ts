// The change-capture contract against a throwaway PostgreSQL 15 (wal_level=logical):
// the PostgreSQL source through its persistent slot and publication.
import { describeChangeCaptureContract, type CaptureHarness } from './change-capture.contract.js';
import { PostgresSource, PostgresSourceConfigSchema } from '../../agent/sources/postgres/index.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

let server: ThrowawayPostgres | undefined;
const created: string[] = [];
const sources: string[] = [];

async function harness(): Promise<CaptureHarness> {
  server ??= await ThrowawayPostgres.create();
  const pg = server;
  const values = (rows: readonly { id: number; name: string; amount: string }[]): { sql: string; params: unknown[] } => ({
    sql: rows.map((_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`).join(', '),
    params: rows.flatMap((r) => [r.id, r.name, r.amount]),
  });
  return {
    transactional: true,
    async createTable(table) {
      await pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name varchar(100), amount decimal(10,2))`);
      created.push(table);
    },
    async createTableWithoutKey(table) {
      await pg.query(`CREATE TABLE ${table} (id integer, name varchar(100))`);
      created.push(table);
    },
    async insert(table, rows) {
      const { sql, params } = values(rows);
      await pg.query(`INSERT INTO ${table} (id, name, amount) VALUES ${sql}`, params);
    },
    async update(table, ids, name) {
      await pg.query(`UPDATE ${table} SET name = $1, amount = amount + 1 WHERE id = ANY($2::int[])`, [name, ids]);
    },
    async remove(table, ids) {
      await pg.query(`DELETE FROM ${table} WHERE id = ANY($1::int[])`, [ids]);
    },
    source(name, tables, parts) {
      const publication = `pub_${name}`;
      sources.push(name);
      const config = PostgresSourceConfigSchema.parse({
        kind: 'postgres',
        name,
        connection: { host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' },
        tables: tables.map((table) => ({ table })),
        publication,
        heartbeatInterval: 1_000,
      });
      const source = new PostgresSource(config, parts);
      // The DBA's part, done before the source starts (README "Database sources").
      const start = source.start.bind(source);
      source.start = async () => {
        await pg.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = '${publication}') THEN CREATE PUBLICATION ${publication} FOR TABLE ${tables.join(', ')}; END IF; END $$`);
        return start();
      };
      return source;
    },
    async reset() {
      for (const table of created.splice(0)) await pg.query(`DROP TABLE IF EXISTS ${table} CASCADE`);
      for (const name of sources.splice(0)) {
        await pg.query(`DROP PUBLICATION IF EXISTS pub_${name}`);
        await pg.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, [`wardline_${name}`]);
      }
    },
  };
}

describeChangeCaptureContract('postgres', harness, async () => {
  await server?.destroy();
});
