// The polling source's watermark under load, on a real server of each dialect: ten
// writers committing single-row inserts, updates and deletes while one transaction
// holds an early version open across the watermark; the source is restarted
// mid-stream and the server is restarted under it. At the end every row's final
// state is in the journal (0 missed), no (key, version) was journaled twice (0
// doubled), and deletes came through the tombstone table.
// SQL_POLL_HOLD_MS sets how long the transaction is held (default 8 s here; the
// issue's figure is 30 s: SQL_POLL_HOLD_MS=30000 npx vitest run <this file>).
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SqlPollSource, type Source } from '../../agent/sources/index.js';
import { Journal, LocalCopy, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { mariadbPollTables, postgresPollTables, type PollTables } from './sql-poll-tables.js';

const HOLD_MS = Number(process.env.SQL_POLL_HOLD_MS ?? 8_000);
const WRITERS = 10;
const WRITER_PAUSE_MS = 15;
const log = pino({ level: process.env.SQL_POLL_LOG ?? 'silent' });

interface JournalRow {
  seq: number;
  key: string;
  op: string;
  body: string;
  headers: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const [label, make] of [
  ['postgres', postgresPollTables],
  ['mysql', mariadbPollTables],
] as const) {
  describe(`sql-poll watermark, ${label} dialect`, () => {
    let tables: PollTables | undefined;
    const dir = makeTempDir('wardline-sql-poll-');
    afterAll(async () => {
      await tables?.destroy();
      dir.remove();
    });

    it(`misses nothing and doubles nothing with ${WRITERS} writers and a transaction held ${HOLD_MS / 1000} s across the watermark, through a source restart and a server restart`, { timeout: HOLD_MS + 80_000 }, async () => {
      tables = await make();
      const db: SqliteDatabase = openAgentDatabase(join(dir.path, `${label}.db`));
      const journal = new Journal(db);
      const localCopy = new LocalCopy(db);
      await tables.create('wm');
      const p = (n: number) => tables!.param(n);
      // Rows that exist before the first start: the snapshot, in chunks of 200.
      await tables.transaction(Array.from({ length: 500 }, (_, i) => ({ sql: `INSERT INTO wm (id, name, amount) VALUES (${p(1)}, ${p(2)}, 1)`, params: [5_000_000 + i, 'before'] })));
      const config = tables.config('poll', ['wm'], { snapshotChunkRows: 200 });
      const build = (): Source => new SqlPollSource(config, { writer: journal, localCopy, log, password: tables!.password });
      let source = build();
      await source.start();
      await until('the snapshot', () => source.status().capture?.snapshot?.tablesDone, (n) => n === 1, { timeoutMs: 30_000 });

      // The held transaction takes its version now, before every writer's row.
      const held = await tables.open();
      await held.run(`INSERT INTO wm (id, name, amount) VALUES (${p(1)}, ${p(2)}, 1)`, [0, 'held']);
      await sleep(50);

      let writing = true;
      let written = 0;
      const writer = async (w: number) => {
        const mine: number[] = [];
        for (let n = 1; writing; n++) {
          const id = w * 100_000 + n;
          await tables!.transaction([{ sql: `INSERT INTO wm (id, name, amount) VALUES (${p(1)}, ${p(2)}, ${p(3)})`, params: [id, `w${w}-${n}`, n] }]);
          mine.push(id);
          written++;
          if (n % 5 === 0) await tables!.transaction([{ sql: `UPDATE wm SET name = ${p(1)} WHERE id = ${p(2)}`, params: [`w${w}-${n}-updated`, mine[mine.length - 3]] }]);
          if (n % 7 === 0) await tables!.transaction([{ sql: `DELETE FROM wm WHERE id = ${p(1)}`, params: [mine.splice(mine.length - 2, 1)[0]] }]);
          await sleep(WRITER_PAUSE_MS);
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w + 1));

      // Mid-hold: the source is restarted (resume from the saved position) and the server is restarted under it.
      await sleep(HOLD_MS / 3);
      await source.stop();
      source = build();
      await source.start();
      await sleep(HOLD_MS / 3);
      // Every writer's row lies above the held version, so none is safe to read until the held transaction ends.
      const journaledWhileHeld = (db.prepare(`SELECT COUNT(*) AS n FROM journal WHERE stream = 'poll.wm' AND json_extract(headers, '$.snapshot') IS NULL`).get() as { n: number }).n;
      await held.commit();
      await sleep(HOLD_MS / 3);
      writing = false;
      await Promise.all(writers);

      await tables.stop();
      await until('retrying while the server is down', () => source.status().state, (s) => s === 'retrying', { timeoutMs: 30_000 });
      await tables.start();
      await tables.transaction([{ sql: `INSERT INTO wm (id, name, amount) VALUES (${p(1)}, ${p(2)}, 1)`, params: [999_999, 'after the restart'] }]);

      const stream = 'poll.wm';
      const expected = await tables.query<{ id: number; name: string }>('SELECT id, name FROM wm');
      const deleted = await tables.query<{ id: number }>('SELECT id FROM wm_deleted');
      const journalRows = () => db.prepare('SELECT seq, key, op, body, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as JournalRow[];
      const missing = () => expected.filter((row) => JSON.parse(localCopy.get(stream, String(row.id))?.body.toString() ?? '{}').name !== row.name);
      await until('every row', missing, (m) => m.length === 0, { timeoutMs: 45_000, describe: (m) => `${m.length} missing, e.g. ${JSON.stringify(m.slice(0, 5))}` });
      await source.stop();

      const got = journalRows();
      const versions = got.map((r) => `${r.op}|${r.key}|${(JSON.parse(r.headers) as Record<string, string>).position}`);
      const doubled = versions.length - new Set(versions).size;
      if (doubled > 0) {
        const firstSeen = new Map<string, number>();
        const examples: string[] = [];
        got.forEach((r, i) => {
          const earlier = firstSeen.get(versions[i]!);
          if (earlier !== undefined && examples.length < 5) examples.push(`${versions[i]} at seq ${got[earlier]!.seq} and ${r.seq}`);
          firstSeen.set(versions[i]!, i);
        });
        console.log(`[${label}] doubled, e.g.:\n${examples.join('\n')}`);
      }
      const last = new Map(got.map((r) => [r.key, r]));
      const deletesMissed = deleted.filter(({ id }) => !expected.some((e) => e.id === id) && last.get(String(id))?.op !== 'delete');
      const heldRow = got.find((r) => r.key === '0');
      console.log(
        `[${label}] written ${written} rows by ${WRITERS} writers, held ${HOLD_MS} ms; journaled ${got.length} events (${got.filter((r) => r.op === 'delete').length} deletes), ` +
          `${journaledWhileHeld} streamed before the held commit; missed ${missing().length}, doubled ${doubled}, deletes missed ${deletesMissed.length}`,
      );
      expect(missing()).toEqual([]);
      expect(journaledWhileHeld).toBe(0);
      expect(doubled).toBe(0);
      expect(deleted.length).toBeGreaterThan(0);
      expect(deletesMissed).toEqual([]);
      expect(JSON.parse(heldRow!.body)).toMatchObject({ id: 0, name: 'held' });
      // The held row's version is below those of rows committed while it was open: it really lay across the watermark.
      const position = (r: JournalRow) => (JSON.parse(r.headers) as Record<string, string>).position!;
      const below = (x: string, y: string) => (label === 'postgres' ? BigInt(x) < BigInt(y) : x < y);
      expect(got.filter((r) => r.key !== '0' && below(position(heldRow!), position(r))).length).toBeGreaterThan(WRITERS);
      db.close();
    });
  });
}
