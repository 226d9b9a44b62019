// A MySQL/MariaDB server that is not set up for capture: each case stops that
// source (start() resolves, state `stopped`) with a reason naming the source, the
// setting or table, and the fix; another source on the same agent goes on.
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
let serverId = 300;
const dir = makeTempDir('wardline-mysql-setup-');
const db = openAgentDatabase(join(dir.path, 'agent.db'));
const journal = new Journal(db);
const localCopy = new LocalCopy(db);
const running: MysqlSource[] = [];

beforeAll(async () => {
  server = await ThrowawayMariadb.create();
  await server.query('CREATE TABLE patients (id INT PRIMARY KEY, name VARCHAR(100))');
  await server.query('CREATE TABLE nokey (id INT, name VARCHAR(100))');
  await server.query('CREATE TABLE places (id INT PRIMARY KEY, name VARCHAR(100), spot POINT)');
  await server.query("INSERT INTO places VALUES (1, 'ward a', POINT(1, 2))");
  await server.query("INSERT INTO nokey VALUES (1, 'one')");
});

afterAll(async () => {
  for (const source of running) await source.stop();
  db.close();
  await server.destroy();
  dir.remove();
});

function source(overrides: Record<string, unknown> = {}, password: string | undefined = MARIADB_TEST_PASSWORD): MysqlSource {
  const config = MysqlSourceConfigSchema.parse({
    kind: 'mysql',
    name: `his-${serverId}`,
    connection: { host: server.host, port: server.port, database: 'test', user: 'wardline' },
    tables: [{ table: 'patients' }],
    serverId: serverId++,
    ...overrides,
  });
  const built = new MysqlSource(config, { writer: journal, localCopy, log, password });
  running.push(built);
  return built;
}

async function stoppedReason(built: MysqlSource): Promise<string> {
  await built.start();
  const status = await until('stopped', () => built.status(), (s) => s.state === 'stopped', { timeoutMs: 20_000 });
  expect(status.capture?.lastError?.message).toBe(status.capture?.reason);
  return status.capture!.reason!;
}

describe('mysql source: bad input stops only that source, with the fix', () => {
  it('a wrong password names the user and the password file', async () => {
    const reason = await stoppedReason(source({}, 'not-the-password'));
    expect(reason).toMatch(/^source his-\d+: the server 127\.0\.0\.1:\d+ refused user wardline/);
    expect(reason).toContain('connection.passwordFile');
  });

  it('a table without a primary key names the table and ALTER TABLE … ADD PRIMARY KEY, and `key:` is the way round it', async () => {
    expect(await stoppedReason(source({ tables: [{ table: 'nokey' }] }))).toContain('table test.nokey has no primary key');
    const keyed = source({ tables: [{ table: 'nokey', key: ['id'] }] });
    await keyed.start();
    await until('the keyed snapshot', () => localCopy.get(`${keyed.name}.nokey`, '1'), (r) => r !== undefined, { timeoutMs: 20_000 });
  });

  it('an unsupported column type names the column, its type and tables[].columns; leaving it out works', async () => {
    const reason = await stoppedReason(source({ tables: [{ table: 'places' }] }));
    expect(reason).toContain('column test.places.spot has type point');
    expect(reason).toContain('tables[].columns');
    const narrowed = source({ tables: [{ table: 'places', columns: ['id', 'name'] }] });
    await narrowed.start();
    const row = await until('the narrowed snapshot', () => localCopy.get(`${narrowed.name}.places`, '1'), (r) => r !== undefined, { timeoutMs: 20_000 });
    expect(JSON.parse(row!.body.toString())).toEqual({ id: 1, name: 'ward a' });
  });

  it('a missing table names it', async () => {
    expect(await stoppedReason(source({ tables: [{ table: 'no_such_table' }] }))).toContain('table test.no_such_table does not exist');
  });

  it('binlog_format other than ROW names SET GLOBAL binlog_format and the my.cnf line', async () => {
    await server.query("SET GLOBAL binlog_format = 'STATEMENT'");
    try {
      const reason = await stoppedReason(source());
      expect(reason).toContain("binlog_format is STATEMENT");
      expect(reason).toContain("SET GLOBAL binlog_format = 'ROW'");
      expect(reason).toContain('binlog_format = ROW');
    } finally {
      await server.query("SET GLOBAL binlog_format = 'ROW'");
    }
  });

  it('binlog_row_image other than FULL names SET GLOBAL binlog_row_image', async () => {
    await server.query("SET GLOBAL binlog_row_image = 'MINIMAL'");
    try {
      expect(await stoppedReason(source())).toContain("SET GLOBAL binlog_row_image = 'FULL'");
    } finally {
      await server.query("SET GLOBAL binlog_row_image = 'FULL'");
    }
  });

  it('a user without REPLICATION SLAVE is told the GRANT; without SELECT on a table, that GRANT', async () => {
    await server.query("CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-pw'");
    await server.query("GRANT SELECT ON test.* TO 'reader'@'%'");
    const config = (name: string) =>
      MysqlSourceConfigSchema.parse({ kind: 'mysql', name, connection: { host: server.host, port: server.port, database: 'test', user: 'reader' }, tables: [{ table: 'patients' }], serverId: serverId++ });
    const noReplication = new MysqlSource(config('his-reader'), { writer: journal, localCopy, log, password: 'reader-pw' });
    running.push(noReplication);
    const reason = await stoppedReason(noReplication);
    expect(reason).toContain('the user lacks REPLICATION SLAVE and BINLOG MONITOR');
    expect(reason).toContain("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'reader'@'%'");

    await server.query("CREATE USER 'replicator'@'%' IDENTIFIED BY 'replicator-pw'");
    await server.query("GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'replicator'@'%'");
    await server.query("GRANT SELECT ON test.places TO 'replicator'@'%'");
    const noSelect = new MysqlSource(
      MysqlSourceConfigSchema.parse({ kind: 'mysql', name: 'his-replicator', connection: { host: server.host, port: server.port, database: 'test', user: 'replicator' }, tables: [{ table: 'patients' }], serverId: serverId++ }),
      { writer: journal, localCopy, log, password: 'replicator-pw' },
    );
    running.push(noSelect);
    // Without any privilege on it, information_schema does not show the table either.
    expect(await stoppedReason(noSelect)).toMatch(/GRANT SELECT ON test\.patients/);
  });

  it('the binary log off names log_bin and the my.cnf lines', async () => {
    const plain = await ThrowawayMariadb.create({ settings: { 'log-bin': 'OFF', 'skip-log-bin': 1 } }).catch(() => undefined);
    if (!plain) return expect.fail('a server without the binlog could not be started');
    try {
      await plain.query('CREATE TABLE patients (id INT PRIMARY KEY)');
      const off = new MysqlSource(
        MysqlSourceConfigSchema.parse({ kind: 'mysql', name: 'his-nobinlog', connection: { host: plain.host, port: plain.port, database: 'test', user: 'wardline' }, tables: [{ table: 'patients' }], serverId: serverId++ }),
        { writer: journal, localCopy, log, password: MARIADB_TEST_PASSWORD },
      );
      running.push(off);
      const reason = await stoppedReason(off);
      expect(reason).toContain("the server's binary log is off");
      expect(reason).toContain('log_bin = binlog, binlog_format = ROW, binlog_row_image = FULL');
    } finally {
      await plain.destroy();
    }
  });

  it('a good source next to the stopped ones captures', async () => {
    const good = source();
    await good.start();
    await until('streaming', () => good.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    await server.query("INSERT INTO patients VALUES (7, 'seven')");
    await until('the row', () => localCopy.get(`${good.name}.patients`, '7'), (r) => r !== undefined, { timeoutMs: 20_000 });
  });

  it('a row filter is refused in the config, saying why', () => {
    const parsed = MysqlSourceConfigSchema.safeParse({
      kind: 'mysql',
      name: 'his-filter',
      connection: { host: '127.0.0.1', port: 3306, database: 'test', user: 'wardline' },
      tables: [{ table: 'patients', filter: 'ward = 3' }],
      serverId: 9,
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.path).toEqual(['tables', 0, 'filter']);
    expect(parsed.error!.issues[0]!.message).toContain('cannot be filtered at the server');
  });
});
