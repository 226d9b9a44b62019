// A 100,000-row UPDATE in one MariaDB transaction through a real agent: it reaches
// the journal as one append (one run of seqs, one txid) with the agent's memory
// bounded (the reader pauses the socket while the journal is behind, and the
// transaction is staged on disk past maxTransactionRowsInMemory). The agent's RSS
// is sampled from /proc while it works. MYSQL_LARGE_ROWS sets the size (the issue's
// full size is 1,000,000).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { makeTempDir } from '../support/temp-dir.js';
import { MARIADB_TEST_PASSWORD, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { until } from '../support/until.js';
import { WardlineProcess, waitForHttp } from '../support/wardline-process.js';

const ROWS = Number(process.env.MYSQL_LARGE_ROWS ?? 100_000);
// The bound for 1,000,000 rows; 100,000 rows peak near 210 MB, 1,000,000 near 400 MB here.
const RSS_LIMIT_MB = 512;
const STREAM = 'his.orders';

let server: ThrowawayMariadb;
const dir = makeTempDir('wardline-mysql-large-');
let agent: WardlineProcess | undefined;
let httpPort = 0;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

beforeAll(async () => {
  server = await ThrowawayMariadb.create({ settings: { 'innodb-buffer-pool-size': '256M', 'max-binlog-size': '256M' } });
  await server.query('CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(20), note VARCHAR(200))');
  for (let from = 0; from < ROWS; from += 10_000) {
    const values = Array.from({ length: Math.min(10_000, ROWS - from) }, (_, i) => `(${from + i + 1}, 'placed', '${'x'.repeat(100)}')`).join(',');
    await server.query(`INSERT INTO orders VALUES ${values}`);
  }
  httpPort = await freePort();
  writeFileSync(join(dir.path, 'mariadb.password'), `${MARIADB_TEST_PASSWORD}\n`, { mode: 0o600 });
  const source = {
    kind: 'mysql',
    name: 'his',
    connection: { host: server.host, port: server.port, database: 'test', user: 'wardline', passwordFile: 'mariadb.password' },
    tables: [{ table: 'orders' }],
    serverId: 88,
    snapshotChunkRows: 10_000,
    maxTransactionRowsInMemory: 5_000,
  };
  writeFileSync(join(dir.path, 'agent.yaml'), `hospital: { id: large-hospital }\ndataDir: ./data\nhttp: { listen: "127.0.0.1:${httpPort}" }\nsources: [${JSON.stringify(source)}]\nlog: { level: info }\n`);
}, Math.max(120_000, ROWS / 2));

afterAll(async () => {
  await agent?.kill('SIGTERM');
  await server.destroy();
  dir.remove();
});

describe('mysql source: one very large transaction', () => {
  it(`journals a ${ROWS.toLocaleString('en')}-row UPDATE as one append with bounded memory`, async () => {
    agent = new WardlineProcess(['agent', 'start', '--config', join(dir.path, 'agent.yaml')], join(dir.path, 'agent.log'));
    await waitForHttp(`http://127.0.0.1:${httpPort}/healthz`, agent);
    const pid = agent.child.pid!;
    const db = new Database(join(dir.path, 'data', 'agent.db'), { readonly: true });
    try {
      const count = (): number => (db.prepare('SELECT COUNT(*) AS n FROM journal WHERE stream = ?').get(STREAM) as { n: number }).n;
      const snapshotStarted = Date.now();
      await until('the snapshot', count, (n) => n >= ROWS, { timeoutMs: Math.max(60_000, ROWS / 5), pollMs: 200 });
      const snapshotMs = Date.now() - snapshotStarted;

      const before = rssMb(pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
      const updateStarted = Date.now();
      await server.query("UPDATE orders SET status = 'shipped'");
      const committedMs = Date.now() - updateStarted;
      await until('the update journaled', count, (n) => n >= 2 * ROWS, { timeoutMs: Math.max(80_000, ROWS / 3), pollMs: 200 });
      const journaledMs = Date.now() - updateStarted;
      clearInterval(sampler);

      const update = db.prepare("SELECT MIN(seq) AS first, MAX(seq) AS last, COUNT(*) AS n, COUNT(DISTINCT json_extract(headers, '$.txid')) AS txids FROM journal WHERE stream = ? AND json_extract(headers, '$.snapshot') IS NULL").get(STREAM) as {
        first: number;
        last: number;
        n: number;
        txids: number;
      };
      expect(update.n).toBe(ROWS);
      expect(update.txids).toBe(1);
      expect(update.last - update.first + 1).toBe(ROWS);
      const shipped = (db.prepare(`SELECT COUNT(*) AS n FROM records WHERE stream = ? AND json_extract(COALESCE(body, (SELECT body FROM journal WHERE seq = records.seq)), '$.status') = 'shipped'`).get(STREAM) as { n: number }).n;
      expect(shipped).toBe(ROWS);
      console.log(
        `mysql large transaction: snapshot ${ROWS} rows in ${snapshotMs} ms (${Math.round(ROWS / (snapshotMs / 1000))} rows/s); UPDATE committed in ${committedMs} ms, journaled ${journaledMs} ms after it began (${Math.round(ROWS / (journaledMs / 1000))} rows/s); agent RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB`,
      );
      expect(peak).toBeLessThan(RSS_LIMIT_MB);
    } finally {
      db.close();
    }
  }, Math.max(150_000, ROWS));
});
