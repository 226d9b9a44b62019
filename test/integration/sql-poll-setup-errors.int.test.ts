// What a DBA gets wrong, on a real server of each dialect: a missing table, a missing
// version column, a view without `key:`, a wrong password, a user without the
// SELECT privilege. Each stops only that source with a reason naming the source,
// the table or column, and the fix; start() never rejects. An unreachable server is
// `retrying`, not stopped. A view with `key:` is polled like a table.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlPollSource, type SqlPollSourceConfig } from '../../agent/sources/index.js';
import { Journal, LocalCopy, openAgentDatabase } from '../../agent/store/index.js';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { mariadbPollTables, postgresPollTables, type PollTables } from './sql-poll-tables.js';

const log = pino({ level: 'silent' });
const dir = makeTempDir('wardline-sql-poll-setup-');
const db = openAgentDatabase(join(dir.path, 'agent.db'));
const journal = new Journal(db);
const localCopy = new LocalCopy(db);
afterAll(() => {
  db.close();
  dir.remove();
});

async function stoppedReason(config: SqlPollSourceConfig, password?: string): Promise<string> {
  const source = new SqlPollSource(config, { writer: journal, localCopy, log, password });
  try {
    await source.start();
    const status = await until(`${config.name} stopped`, () => source.status(), (s) => s.state === 'stopped', { timeoutMs: 20_000 });
    return status.capture!.reason!;
  } finally {
    await source.stop();
  }
}

for (const [label, make] of [
  ['postgres', postgresPollTables],
  ['mysql', mariadbPollTables],
] as const) {
  describe(`sql-poll set-up problems, ${label} dialect`, () => {
    let tables: PollTables;
    beforeAll(async () => {
      tables = await make();
      await tables.create('patients');
      await tables.query(`CREATE VIEW patients_view AS SELECT id, name, version FROM patients`);
    });
    afterAll(() => tables.destroy());

    it('stops on a missing table, naming the source, the table and the fix', async () => {
      const reason = await stoppedReason(tables.config(`${label}-a`, ['no_such_table']), tables.password);
      expect(reason).toContain(`source ${label}-a`);
      expect(reason).toContain('no_such_table');
      expect(reason).toMatch(/does not exist.*GRANT SELECT/);
    });

    it('stops on a missing version column, naming it', async () => {
      const config = tables.config(`${label}-b`, ['patients']);
      config.tables[0]!.versionColumn = 'updated_seq';
      const reason = await stoppedReason(config, tables.password);
      expect(reason).toContain('updated_seq');
      expect(reason).toContain('versionColumn');
    });

    it('stops on a view without key, and polls it with key', async () => {
      const reason = await stoppedReason(tables.config(`${label}-c`, ['patients_view']), tables.password);
      expect(reason).toMatch(/patients_view has no primary key.*tables\[0\]\.key/);

      const config = tables.config(`${label}-d`, ['patients_view']);
      config.tables[0]!.key = ['id'];
      await tables.transaction([{ sql: `INSERT INTO patients (id, name, amount) VALUES (7, 'through the view', 1)` }]);
      const source = new SqlPollSource(config, { writer: journal, localCopy, log, password: tables.password });
      await source.start();
      try {
        await until('the row through the view', () => localCopy.get(`${label}-d.patients_view`, '7'), (r) => r !== undefined, { timeoutMs: 20_000 });
        expect(JSON.parse(localCopy.get(`${label}-d.patients_view`, '7')!.body.toString())).toMatchObject({ id: 7, name: 'through the view' });
      } finally {
        await source.stop();
      }
    });

    it('is retrying, not stopped, while the server cannot be reached; start() resolves', async () => {
      const config = tables.config(`${label}-e`, ['patients']);
      config.connection.port = await freePort();
      const source = new SqlPollSource(config, { writer: journal, localCopy, log, password: tables.password });
      await source.start();
      try {
        const status = await until('retrying', () => source.status(), (s) => s.state === 'retrying', { timeoutMs: 20_000 });
        expect(status.capture?.reason).toContain(String(config.connection.port));
        expect(status.capture?.lastError).not.toBeNull();
      } finally {
        await source.stop();
      }
    });
  });
}

describe('sql-poll credentials and privileges, postgres dialect', () => {
  let tables: PollTables;
  beforeAll(async () => {
    tables = await postgresPollTables();
    await tables.create('charges');
    await tables.query(`CREATE ROLE reader LOGIN PASSWORD 'right'`);
    await tables.query(`CREATE ROLE nobody LOGIN`);
    const hba = (await tables.query<{ file: string }>(`SELECT setting AS file FROM pg_settings WHERE name = 'hba_file'`))[0]!.file;
    writeFileSync(hba, `host all reader 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await tables.query('SELECT pg_reload_conf()');
  });
  afterAll(() => tables.destroy());

  it('stops on a wrong password, saying which setting to check', async () => {
    const config = tables.config('pg-pw', ['charges']);
    config.connection.user = 'reader';
    const reason = await stoppedReason(config, 'wrong');
    expect(reason).toContain('source pg-pw');
    expect(reason).toMatch(/password was refused.*passwordFile/);
  });

  it('stops on a missing SELECT privilege, naming the table and the GRANT', async () => {
    const config = tables.config('pg-priv', ['charges']);
    config.connection.user = 'nobody';
    const reason = await stoppedReason(config);
    expect(reason).toMatch(/GRANT SELECT/);
    expect(reason).toContain('charges');
  });
});

describe('sql-poll credentials and privileges, mysql dialect', () => {
  let tables: PollTables;
  beforeAll(async () => {
    tables = await mariadbPollTables();
    await tables.create('charges');
    await tables.query(`CREATE USER 'nobody'@'%' IDENTIFIED BY 'nobody-pw'`);
    await tables.query(`GRANT SELECT ON test.charges_deleted TO 'nobody'@'%'`);
  });
  afterAll(() => tables.destroy());

  it('stops on a wrong password, saying which setting to check', async () => {
    const reason = await stoppedReason(tables.config('my-pw', ['charges']), 'wrong');
    expect(reason).toContain('source my-pw');
    expect(reason).toMatch(/password was refused.*passwordFile/);
  });

  it('stops on a missing SELECT privilege, naming the table and the GRANT', async () => {
    const config = tables.config('my-priv', ['charges']);
    config.connection.user = 'nobody';
    const reason = await stoppedReason(config, 'nobody-pw');
    expect(reason).toMatch(/GRANT SELECT/);
    expect(reason).toContain('charges');
  });
});
