// The change-capture contract against a MariaDB server of the test's own (row
// binlog, GTIDs), through the real binlog protocol.
import { MysqlSource, MysqlSourceConfigSchema } from '../../agent/sources/mysql/index.js';
import { MARIADB_TEST_PASSWORD, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { describeChangeCaptureContract, type CaptureHarness } from './change-capture.contract.js';

let server: ThrowawayMariadb | undefined;
let serverId = 100;

async function harness(): Promise<CaptureHarness> {
  server ??= await ThrowawayMariadb.create();
  const db = server;
  const created: string[] = [];
  return {
    transactional: true,
    async createTable(table) {
      await db.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, name VARCHAR(100), amount DECIMAL(10,2))`);
      created.push(table);
    },
    async createTableWithoutKey(table) {
      await db.query(`CREATE TABLE ${table} (id INT, name VARCHAR(100))`);
      created.push(table);
    },
    async insert(table, rows) {
      const placeholders = rows.map(() => '(?, ?, ?)').join(', ');
      await db.query(`INSERT INTO ${table} (id, name, amount) VALUES ${placeholders}`, rows.flatMap((r) => [r.id, r.name, r.amount]));
    },
    async update(table, ids, name) {
      await db.query(`UPDATE ${table} SET name = ?, amount = amount + 1 WHERE id IN (?)`, [name, ids]);
    },
    async remove(table, ids) {
      await db.query(`DELETE FROM ${table} WHERE id IN (?)`, [ids]);
    },
    source(name, tables, parts) {
      const config = MysqlSourceConfigSchema.parse({
        kind: 'mysql',
        name,
        connection: { host: db.host, port: db.port, database: 'test', user: 'wardline' },
        tables: tables.map((table) => ({ table })),
        serverId: serverId++,
      });
      return new MysqlSource(config, { ...parts, password: MARIADB_TEST_PASSWORD });
    },
    async reset() {
      for (const table of created.splice(0)) await db.query(`DROP TABLE IF EXISTS ${table}`);
    },
  };
}

describeChangeCaptureContract('mysql (MariaDB 10.11, row binlog by GTID)', harness, async () => {
  await server?.destroy();
});
