// The binlog the agent needs was purged while it was down: the source says so
// (lastError WL_A025, logged at error level), takes a new snapshot of its tables
// and streams on from there; it never resumes over the gap silently. A snapshot
// killed half way resumes at its next chunk without copying a finished one again.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlSource, MysqlSourceConfigSchema } from '../../agent/sources/mysql/index.js';
import { Journal, LocalCopy, openAgentDatabase } from '../../agent/store/index.js';
import { MARIADB_TEST_PASSWORD, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

let server: ThrowawayMariadb;
const dir = makeTempDir('wardline-mysql-purged-');
const db = openAgentDatabase(join(dir.path, 'agent.db'));
const journal = new Journal(db);
const localCopy = new LocalCopy(db);
let serverId = 500;

interface Row {
  key: string;
  op: string;
  body: string;
  headers: string;
}
const rows = (stream: string): Row[] => db.prepare('SELECT key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as Row[];

beforeAll(async () => {
  server = await ThrowawayMariadb.create();
});
afterAll(async () => {
  db.close();
  await server.destroy();
  dir.remove();
});

function source(name: string, logged: { level: string; msg: string }[], extra: Record<string, unknown> = {}): MysqlSource {
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: string; msg: string }) });
  return new MysqlSource(
    MysqlSourceConfigSchema.parse({ kind: 'mysql', name, connection: { host: server.host, port: server.port, database: 'test', user: 'wardline' }, tables: [{ table: 'admissions' }], serverId: serverId++, ...extra }),
    { writer: journal, localCopy, log: logger, password: MARIADB_TEST_PASSWORD },
  );
}

/** Rows of the killed snapshot: enough chunks that it is still copying when the test stops it at 1,000, even on a loaded machine. */
const SNAPSHOT_ROWS = 10_000;

describe('mysql source: a purged binlog', () => {
  it('alerts with WL_A025, re-snapshots and streams on', async () => {
    await server.query('CREATE TABLE admissions (id INT PRIMARY KEY, ward VARCHAR(10))');
    await server.query("INSERT INTO admissions VALUES (1, 'a'), (2, 'b')");
    const logged: { level: string; msg: string }[] = [];
    const first = source('adm', logged);
    await first.start();
    await until('the snapshot', () => rows('adm.admissions').length, (n) => n >= 2, { timeoutMs: 20_000 });
    await first.stop();

    // Written while the agent was down, then purged before it came back.
    await server.query("INSERT INTO admissions VALUES (3, 'c')");
    await server.query("UPDATE admissions SET ward = 'z' WHERE id = 1");
    await server.query('DELETE FROM admissions WHERE id = 2');
    await server.purgeBinlogs();

    const second = source('adm', logged);
    await second.start();
    const status = await until('the position-lost error', () => second.status(), (s) => s.capture?.lastError !== null, { timeoutMs: 20_000 });
    expect(status.capture!.lastError!.message).toContain('no longer has the binlog after the saved position');
    expect(logged.some((l) => Number(l.level) >= 50 && (l as { code?: string }).code === 'WL_A025')).toBe(true);
    await until('the re-snapshot', () => localCopy.get('adm.admissions', '3'), (r) => r !== undefined, { timeoutMs: 20_000 });
    const resnapshot = rows('adm.admissions').slice(2);
    // The rows as they are now, and the one deleted while its binlog was lost.
    expect(resnapshot.map((r) => `${r.op} ${r.key}`)).toEqual(['upsert 1', 'upsert 3', 'delete 2']);
    expect(resnapshot.every((r) => JSON.parse(r.headers).snapshot === 'true')).toBe(true);
    expect(JSON.parse(localCopy.get('adm.admissions', '1')!.body.toString())).toEqual({ id: 1, ward: 'z' });
    expect(localCopy.get('adm.admissions', '2')).toBeUndefined();
    await until('streaming', () => second.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    await server.query("INSERT INTO admissions VALUES (4, 'd')");
    await until('a streamed row after the re-snapshot', () => localCopy.get('adm.admissions', '4'), (r) => r !== undefined, { timeoutMs: 20_000 });
    await second.stop();
  });

  it('snapshots a table added to the config while the others stream on from their saved position', async () => {
    await server.query('CREATE TABLE beds (id INT PRIMARY KEY, ward VARCHAR(10))');
    await server.query('CREATE TABLE cots (id INT PRIMARY KEY, ward VARCHAR(10))');
    await server.query("INSERT INTO beds VALUES (1, 'a')");
    await server.query("INSERT INTO cots VALUES (1, 'c'), (2, 'd')");
    const config = (tables: string[]) =>
      MysqlSourceConfigSchema.parse({ kind: 'mysql', name: 'grow', connection: { host: server.host, port: server.port, database: 'test', user: 'wardline' }, tables: tables.map((table) => ({ table })), serverId: serverId++ });
    const first = new MysqlSource(config(['beds']), { writer: journal, localCopy, log: pino({ level: 'silent' }), password: MARIADB_TEST_PASSWORD });
    await first.start();
    await until('beds copied', () => rows('grow.beds').length, (n) => n >= 1, { timeoutMs: 20_000 });
    await first.stop();
    await server.query("INSERT INTO beds VALUES (2, 'b')");
    await server.query("UPDATE cots SET ward = 'e' WHERE id = 2");
    const second = new MysqlSource(config(['beds', 'cots']), { writer: journal, localCopy, log: pino({ level: 'silent' }), password: MARIADB_TEST_PASSWORD });
    await second.start();
    await until('cots copied', () => rows('grow.cots').length, (n) => n >= 2, { timeoutMs: 20_000 });
    await until('the bed written while stopped', () => localCopy.get('grow.beds', '2'), (r) => r !== undefined, { timeoutMs: 20_000 });
    // beds streamed on (no second copy of it); cots copied once, as it is now.
    expect(rows('grow.beds').map((r) => `${r.key}${JSON.parse(r.headers).snapshot ? ' snapshot' : ''}`)).toEqual(['1 snapshot', '2']);
    expect(rows('grow.cots').map((r) => `${r.key} ${JSON.parse(r.body).ward}`)).toEqual(['1 c', '2 e']);
    await until('streaming', () => second.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    await server.query("UPDATE cots SET ward = 'f' WHERE id = 1");
    await until('a streamed cot', () => rows('grow.cots').length, (n) => n >= 3, { timeoutMs: 20_000 });
    await second.stop();
  });

  it('resumes a killed snapshot at its next chunk, copying no finished chunk twice, and meets the stream', async () => {
    await server.query('CREATE TABLE big (id INT PRIMARY KEY, n INT)');
    const values = Array.from({ length: SNAPSHOT_ROWS }, (_, i) => `(${i + 1}, 0)`).join(',');
    await server.query(`INSERT INTO big VALUES ${values}`);
    const config = (name: string) =>
      MysqlSourceConfigSchema.parse({ kind: 'mysql', name, connection: { host: server.host, port: server.port, database: 'test', user: 'wardline' }, tables: [{ table: 'big' }], serverId: serverId++, snapshotChunkRows: 100 });
    const first = new MysqlSource(config('bigsnap'), { writer: journal, localCopy, log: pino({ level: 'silent' }), password: MARIADB_TEST_PASSWORD });
    await first.start();
    // Writes while the snapshot runs land before and after the chunk being copied.
    const writer = (async () => {
      for (let i = 0; i < 40; i++) await server.query('UPDATE big SET n = n + 1 WHERE id IN (?)', [[1 + i * 50, 1999 - i * 50]]);
    })();
    await until('half the snapshot', () => first.status().capture?.snapshot?.rowsCopied ?? 0, (n) => n >= 1_000, { timeoutMs: 30_000 });
    await first.stop(); // as good as a kill here: the saved cursor is what a kill leaves
    const copiedBefore = rows('bigsnap.big').filter((r) => JSON.parse(r.headers).snapshot === 'true').length;
    expect(copiedBefore).toBeLessThan(SNAPSHOT_ROWS);
    const second = new MysqlSource(config('bigsnap'), { writer: journal, localCopy, log: pino({ level: 'silent' }), password: MARIADB_TEST_PASSWORD });
    await second.start();
    await writer;
    await until('the snapshot done', () => second.status().capture?.snapshot?.percent, (p) => p === 100, { timeoutMs: 30_000 });
    await until('streaming', () => second.status().state, (s) => s === 'streaming', { timeoutMs: 20_000 });
    const all = rows('bigsnap.big');
    const snapshotKeys = all.filter((r) => JSON.parse(r.headers).snapshot === 'true').map((r) => r.key);
    expect(snapshotKeys).toHaveLength(SNAPSHOT_ROWS);
    expect(new Set(snapshotKeys).size).toBe(SNAPSHOT_ROWS);
    // Snapshot and stream meet: the local copy is the table.
    const table = await server.query<{ id: number; n: number }[]>('SELECT id, n FROM big ORDER BY id');
    await until(
      'the local copy equal to the table',
      () => table.filter((r) => JSON.parse(localCopy.get('bigsnap.big', String(r.id))?.body.toString() ?? '{}').n !== r.n).length,
      (n) => n === 0,
      { timeoutMs: 20_000 },
    );
    // And no version of a row arrived twice: each row's n only ever goes up by one.
    const versions = new Map<string, number[]>();
    for (const r of all) versions.set(r.key, [...(versions.get(r.key) ?? []), JSON.parse(r.body).n as number]);
    for (const [key, ns] of versions) for (let i = 1; i < ns.length; i++) expect(ns[i], `row ${key}: ${ns.join(',')}`).toBe(ns[i - 1]! + 1);
    await second.stop();
  });
});
