// kill -9 of the process running a polling source, again and again while writers
// commit and a transaction stays open across the watermark: each restart resumes
// from the position saved with the last page, so nothing is missed and no row
// version is journaled twice. The source runs in a child process on the built
// dist/ (npm test builds first), with its own SQLite journal file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openAgentDatabase, LocalCopy } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { mariadbPollTables, postgresPollTables, type PollTables } from './sql-poll-tables.js';

const KILLS = Number(process.env.SQL_POLL_KILLS ?? 6);
const WRITERS = 5;
const DIST = join(process.cwd(), 'dist');

const CHILD = `
const { SqlPollSource } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'agent/sources/index.js')).href)});
const { Journal, LocalCopy, openAgentDatabase } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'agent/store/index.js')).href)});
const { config, dbPath, password } = JSON.parse(process.env.SQL_POLL_CHILD);
const db = openAgentDatabase(dbPath);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const source = new SqlPollSource(config, { writer: new Journal(db), localCopy: new LocalCopy(db), log: quiet, password });
await source.start();
process.stdout.write('started\\n');
setInterval(() => {}, 60_000);
`;

function runChild(env: object): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SQL_POLL_CHILD: JSON.stringify(env) } });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the polling child exited with ${code} before starting`)));
  });
}

function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const [label, make] of [
  ['postgres', postgresPollTables],
  ['mysql', mariadbPollTables],
] as const) {
  describe(`sql-poll under kill -9, ${label} dialect`, () => {
    let tables: PollTables | undefined;
    const dir = makeTempDir('wardline-sql-poll-crash-');
    afterAll(async () => {
      await tables?.destroy();
      dir.remove();
    });

    it(`misses nothing and doubles nothing across ${KILLS} kills of the polling process`, { timeout: 90_000 }, async () => {
      expect(existsSync(join(DIST, 'agent/sources/sql-poll/sql-poll-source.js')), 'dist/ is built (npm run build)').toBe(true);
      tables = await make();
      await tables.create('crash');
      const p = (n: number) => tables!.param(n);
      await tables.transaction(Array.from({ length: 300 }, (_, i) => ({ sql: `INSERT INTO crash (id, name, amount) VALUES (${p(1)}, ${p(2)}, 1)`, params: [5_000_000 + i, 'before'] })));
      const dbPath = join(dir.path, 'agent.db');
      const env = { config: tables.config('crash', ['crash'], { snapshotChunkRows: 50 }), dbPath, password: tables.password };

      const held = await tables.open();
      await held.run(`INSERT INTO crash (id, name, amount) VALUES (${p(1)}, ${p(2)}, 1)`, [0, 'held']);
      let writing = true;
      const writer = async (w: number) => {
        for (let n = 1; writing; n++) {
          const id = w * 100_000 + n;
          await tables!.transaction([{ sql: `INSERT INTO crash (id, name, amount) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, params: [id, `w${w}-${n}`, n] }]);
          if (n % 4 === 0) await tables!.transaction([{ sql: `UPDATE crash SET name = ${p(1)} WHERE id = ${p(2)}`, params: [`w${w}-${n}-updated`, id - 2] }]);
          if (n % 6 === 0) await tables!.transaction([{ sql: `DELETE FROM crash WHERE id = ${p(1)}`, params: [id - 3] }]);
          await sleep(10);
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w + 1));

      let child = await runChild(env);
      for (let kill = 1; kill <= KILLS; kill++) {
        await sleep(300 + Math.floor(Math.random() * 700));
        await kill9(child);
        if (kill === Math.floor(KILLS / 2)) await held.commit();
        child = await runChild(env);
      }
      writing = false;
      await Promise.all(writers);

      const db = openAgentDatabase(dbPath);
      const localCopy = new LocalCopy(db);
      const stream = 'crash.crash';
      const expected = await tables.query<{ id: number; name: string }>('SELECT id, name FROM crash');
      const deletedIds = (await tables.query<{ id: number }>('SELECT id FROM crash_deleted')).map((r) => r.id).filter((id) => !expected.some((e) => e.id === id));
      const missing = () => [
        ...expected.filter((row) => JSON.parse(localCopy.get(stream, String(row.id))?.body.toString() ?? '{}').name !== row.name),
        ...deletedIds.filter((id) => localCopy.get(stream, String(id)) !== undefined).map((id) => ({ id, name: '(deleted)' })),
      ];
      const deadline = Date.now() + 45_000;
      while (missing().length > 0 && Date.now() < deadline) await sleep(200);
      await kill9(child);
      const events = db.prepare('SELECT key, op, headers FROM journal WHERE stream = ?').all(stream) as { key: string; op: string; headers: string }[];
      const versions = events.map((e) => `${e.op}|${e.key}|${(JSON.parse(e.headers) as Record<string, string>).position}`);
      const doubled = versions.length - new Set(versions).size;
      const missed = missing();
      console.log(`[${label}] ${KILLS} kills; ${expected.length} rows and ${deletedIds.length} deletes in the table; ${events.length} events journaled; missed ${missed.length}, doubled ${doubled}`);
      db.close();
      expect(missed).toEqual([]);
      expect(doubled).toBe(0);
      expect(deletedIds.length).toBeGreaterThan(0);
    });
  });
}
