// The `lag` rule's re-read on a real MariaDB, pinned to the case that journaled a
// page twice: rows already journaled, then a transaction opens whose start
// INNODB_TRX shows in whole seconds, so the watermark steps back below the reader's
// cursor and the cursor is left below the re-read bound. After the commit the bound
// jumps past those rows while the cursor still has to read through them a page at
// a time; the (key, version) pairs it meets must still be remembered.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { SqlPollSource } from '../../agent/sources/index.js';
import { Journal, LocalCopy, openAgentDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { mariadbPollTables, type PollTables } from './sql-poll-tables.js';

const LAG_WINDOW_MS = 300;
const ROWS = 50;
const PAGE = 10;
const ATTEMPTS = 6;
const log = pino({ level: process.env.SQL_POLL_LOG ?? 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Sleeps until `ms` past the start of a second (the next one when that point has gone). */
const untilIntoSecond = (ms: number) => sleep((ms - (Date.now() % 1_000) + 1_000) % 1_000);

describe('sql-poll re-read, mysql dialect', () => {
  let tables: PollTables | undefined;
  const dir = makeTempDir('wardline-sql-poll-reread-');
  afterAll(async () => {
    await tables?.destroy();
    dir.remove();
  });

  it('journals nothing twice when a watermark step-back leaves the cursor below the re-read bound and the bound then jumps past a page of journaled rows', { timeout: 90_000 }, async () => {
    tables = await mariadbPollTables();
    const db = openAgentDatabase(join(dir.path, 'reread.db'));
    const journal = new Journal(db);
    const localCopy = new LocalCopy(db);
    await tables.create('rr');
    const source = new SqlPollSource(tables.config('poll', ['rr'], { snapshotChunkRows: PAGE, lagWindow: LAG_WINDOW_MS }), { writer: journal, localCopy, log, password: tables.password });
    await source.start();
    await until('the (empty) snapshot', () => source.status().capture?.snapshot?.tablesDone, (n) => n === 1, { timeoutMs: 30_000 });
    const stream = 'poll.rr';
    const journaled = (ids: number[]) => ids.filter((id) => localCopy.get(stream, String(id)) !== undefined).length;
    const rowsCursor = () => (JSON.parse(journal.savedPosition('poll')!) as { tables: Record<string, { rows: { version: string } | null }> }).tables.rr!.rows?.version;

    // The arrangement depends on where in a second things happen; it is checked, and tried again in the next seconds.
    let arranged = false;
    for (let attempt = 0; attempt < ATTEMPTS && !arranged; attempt++) {
      // Several pages of rows early in a second, journaled once the window has passed.
      await untilIntoSecond(150);
      const ids = Array.from({ length: ROWS }, (_, i) => 1_000 * (attempt + 1) + i);
      await tables.transaction(ids.map((id) => ({ sql: 'INSERT INTO rr (id, name, amount) VALUES (?, ?, 1)', params: [id, 'early'] })));
      await until('the rows journaled', () => journaled(ids), (n) => n === ROWS, { timeoutMs: 20_000 });
      const first = (await tables.query<{ first: string }>(`SELECT DATE_FORMAT(MIN(version), '%Y-%m-%dT%H:%i:%s.%f') AS first FROM rr WHERE id >= ?`, [ids[0]]))[0]!.first;
      // Late in that second a transaction opens: INNODB_TRX shows its start as the whole second, so the
      // watermark (that minus the window) falls below the re-read bound, and the cursor goes back to the
      // bound, below the rows just journaled.
      if (Date.now() % 1_000 > 650) continue;
      await untilIntoSecond(700);
      const held = await tables.open();
      await held.run('INSERT INTO rr (id, name, amount) VALUES (?, ?, 1)', [attempt, 'held']);
      await sleep(400);
      arranged = (rowsCursor() ?? '') < first;
      // Committed, the watermark and the bound jump past the rows; the cursor reads through them a page at a time.
      await held.commit();
      await until('the held row', () => journaled([attempt]), (n) => n === 1, { timeoutMs: 20_000 });
    }
    await sleep(500);
    await source.stop();

    const got = db.prepare('SELECT key, headers FROM journal WHERE stream = ? ORDER BY seq').all(stream) as { key: string; headers: string }[];
    const versions = got.map((r) => `${r.key}|${(JSON.parse(r.headers) as Record<string, string>).position}`);
    const doubled = versions.filter((v, i) => versions.indexOf(v) !== i);
    expect(arranged, 'the cursor was left below the re-read bound, under journaled rows').toBe(true);
    expect(doubled).toEqual([]);
    expect(new Set(versions).size).toBe(versions.length);
    db.close();
  });
});
