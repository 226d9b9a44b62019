// The change-capture contract against the polling source, once per tested dialect:
// PostgreSQL (xid8 version column, exact watermark) and MariaDB (TIMESTAMP(6)
// column, lag window), each on a throwaway server of its own.
import { SqlPollSource, type CaptureSourceParts } from '../../agent/sources/index.js';
import { mariadbPollTables, postgresPollTables, type PollTables } from '../integration/sql-poll-tables.js';
import { describeChangeCaptureContract, type CaptureHarness, type ContractRow } from './change-capture.contract.js';

function pollHarness(make: () => Promise<PollTables>): { makeHarness: () => Promise<CaptureHarness>; close: () => Promise<void> } {
  let tables: PollTables | undefined;
  const created: string[] = [];
  return {
    async makeHarness() {
      const db = (tables ??= await make());
      const p = (n: number) => db.param(n);
      return {
        transactional: false,
        async createTable(table) {
          await db.create(table);
          created.push(table);
        },
        async createTableWithoutKey(table) {
          await db.create(table, { withoutKey: true });
          created.push(table);
        },
        insert: (table, rows: readonly ContractRow[]) =>
          db.transaction(rows.map((r) => ({ sql: `INSERT INTO ${table} (id, name, amount) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, params: [r.id, r.name, r.amount] }))),
        update: (table, ids, name) => db.transaction(ids.map((id) => ({ sql: `UPDATE ${table} SET name = ${p(1)}, amount = amount + 1 WHERE id = ${p(2)}`, params: [name, id] }))),
        remove: (table, ids) => db.transaction(ids.map((id) => ({ sql: `DELETE FROM ${table} WHERE id = ${p(1)}`, params: [id] }))),
        source: (name, names, parts: CaptureSourceParts) => new SqlPollSource(db.config(name, names), { ...parts, password: db.password }),
        async reset() {
          for (const table of created.splice(0)) await db.drop(table);
        },
      };
    },
    close: async () => {
      await tables?.destroy();
    },
  };
}

const postgres = pollHarness(postgresPollTables);
describeChangeCaptureContract('sql-poll, postgres dialect (xid8 version, throwaway PostgreSQL)', postgres.makeHarness, postgres.close);

const mariadb = pollHarness(mariadbPollTables);
describeChangeCaptureContract('sql-poll, mysql dialect (TIMESTAMP(6) version, throwaway MariaDB)', mariadb.makeHarness, mariadb.close);
