// What the slot retains, through the agent process: the server's WAL piles up while
// the slot cannot advance (the agent away, or a transaction held open so the slot's
// restart_lsn stays put while the agent runs); /v1/status shows the retained bytes,
// the budget (max_slot_wal_keep_size), wal_status and the seconds until the budget
// is used up; past the budget and a CHECKPOINT the server invalidates the slot, and
// the agent says so (WL_A025) and takes a new snapshot instead of resuming with a
// silent gap. WAL is made in whole segments with pg_switch_wal() so the sizes are
// exact and the test quick.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { readSlotHealth } from '../../agent/sources/postgres/postgres-slot-health.js';
import { CaptureAgent, CAPTURE_SLOT, captureStreamOf, journalChanges } from '../support/capture-agent.js';
import { compareDigests, digestRows, digestSourceTable } from '../support/his-table-audit.js';
import { hisTableSql } from '../support/his-writer.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

const MB = 1024 * 1024;
const BUDGET = 160 * MB; // ten 16 MB segments
const TABLE = 'ward_moves';
const STREAM = captureStreamOf(TABLE);

describe('postgres WAL budget through the agent', () => {
  const dir = makeTempDir('wardline-pg-wal-');
  let server: ThrowawayPostgres;
  let capture: CaptureAgent;
  let nextId = 1;

  /** A committed row (id, v 1) the capture must end up with, then the rest of the segment skipped. */
  async function rowAndSegment(): Promise<void> {
    const id = nextId++;
    await server.query(`INSERT INTO ${TABLE} (id, v, batch, batch_size, note) VALUES ($1::int, 1, $1::bigint, 1, 'moved')`, [id]);
    await server.query('SELECT pg_switch_wal()');
  }

  async function slotBytes(): Promise<{ bytes: number | null; walStatus: string | null }> {
    const client = await server.connect();
    try {
      return await readSlotHealth(client, CAPTURE_SLOT);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    // max_wal_size at its smallest so the slot is "extended" soon; the budget is set
    // with ALTER SYSTEM (a -c option would win over it).
    server = await ThrowawayPostgres.create({ settings: { max_wal_size: '32MB', min_wal_size: '32MB', checkpoint_timeout: '1h', wal_keep_size: 0 } });
    await server.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '${BUDGET / MB}MB'`);
    await server.query('SELECT pg_reload_conf()');
    await server.query(hisTableSql(TABLE));
    await server.query(`CREATE PUBLICATION ${CAPTURE_SLOT} FOR TABLE ${TABLE}`);
    capture = await CaptureAgent.create(dir.path, { server, tables: [TABLE], source: { heartbeatInterval: 1_000 } });
    await capture.start();
    await capture.waitForCapture('the source to stream', (c) => c.state === 'streaming', 60_000);
  });

  afterAll(async () => {
    await capture?.stop();
    await server?.destroy();
    dir.remove();
  });

  it('while the slot cannot advance, the status shows the retained WAL, the budget and a sensible ETA', { timeout: 90_000 }, async () => {
    // A transaction left open holds the slot's restart_lsn where it began; the agent
    // streams every other commit, but the server must keep the WAL from there on.
    const holder: pg.Client = await server.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`INSERT INTO ${TABLE} (id, v, batch, batch_size, note) VALUES (1000000, 1, 0, 1, 'held open')`);
      const seen: { atMs: number; bytes: number | null; status: string | null; secondsToBudget: number | null }[] = [];
      const startedMs = Date.now();
      // 16 MB every 2 s: 8 MB/s; the source reads its slot every 5 s.
      let withEta: (typeof seen)[number] | undefined;
      while (!withEta) {
        await rowAndSegment();
        await new Promise((r) => setTimeout(r, 2_000));
        const retained = (await capture.capture()).retained;
        seen.push({ atMs: Date.now() - startedMs, bytes: retained?.bytes ?? null, status: retained?.status ?? null, secondsToBudget: retained?.secondsToBudget ?? null });
        const server = await slotBytes();
        if (server.bytes !== null && server.bytes > 0.85 * BUDGET) throw new Error(`no ETA in /v1/status before the slot reached 85% of its budget: ${JSON.stringify(seen)}`);
        withEta = seen.find((s) => s.secondsToBudget !== null && s.bytes !== null && s.bytes >= BUDGET / 2);
      }
      const status = (await capture.capture()).retained!;
      if (process.env.WARDLINE_SHOW_FIGURES) console.log(JSON.stringify({ budget: BUDGET, seen }));
      expect(status.budgetBytes).toBe(BUDGET);
      expect(['reserved', 'extended']).toContain(status.status);
      // The ETA is what is left of the budget at the rate WAL was written (8 MB/s), within the
      // reading interval's slack; never more than the whole budget at that rate.
      const ideal = (BUDGET - withEta.bytes!) / (8 * MB);
      expect(withEta.secondsToBudget!, JSON.stringify(seen)).toBeGreaterThan(ideal * 0.4);
      expect(withEta.secondsToBudget!, JSON.stringify(seen)).toBeLessThan(ideal * 2.5 + 2);
      // The agent streamed the other commits all the while.
      const db = capture.openDb();
      try {
        await until('the rows committed meanwhile in the journal', () => db.journalCount(STREAM), (n) => n >= nextId - 1, { timeoutMs: 15_000 });
      } finally {
        db.close();
      }
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  });

  it('on restart after the agent was away, the status shows the WAL the slot retained', { timeout: 60_000 }, async () => {
    await capture.stopAgent();
    // The HIS writes on; the slot's restart_lsn may have moved since, so write until half the budget is held.
    let held = await slotBytes();
    for (let i = 0; i < 12 && (held.bytes ?? 0) < 0.55 * BUDGET; i++) {
      await rowAndSegment();
      held = await slotBytes();
    }
    expect(held.bytes).toBeGreaterThanOrEqual(BUDGET / 2);
    expect(held.bytes).toBeLessThan(BUDGET);
    await capture.startAgent();
    const status = await capture.waitForCapture('the retained WAL on /v1/status', (c) => c.retained !== null && c.retained.bytes !== null, 30_000);
    expect(status.retained!.bytes).toBeGreaterThanOrEqual(BUDGET / 2);
    expect(status.retained!.budgetBytes).toBe(BUDGET);
    expect(status.retained!.status).toBe('extended');
    // Half the budget is held: the agent raises capture-wal-budget, naming the share and the time left.
    const raised = await until(
      'the capture-wal-budget alert',
      async () => (await capture.status()).alerts?.active.find((a) => a.rule === 'capture-wal-budget'),
      (alert) => alert !== undefined,
      { timeoutMs: 30_000 },
    );
    expect(raised!.value).toBeGreaterThanOrEqual(50);
    expect(raised!.message).toMatch(/%/);
    await capture.waitForCapture('the source to stream', (c) => c.state === 'streaming', 30_000);
  });

  it('a slot invalidated while the agent was away: WL_A025, a new snapshot, and the local copy equal to the table', { timeout: 90_000 }, async () => {
    await capture.stopAgent();
    const db = capture.openDb();
    const headBefore = db.headSeq();
    db.close();
    for (let i = 0; i < 12 && (await slotBytes()).walStatus !== 'lost'; i++) {
      await rowAndSegment();
      await server.query('CHECKPOINT');
    }
    expect((await slotBytes()).walStatus).toBe('lost');
    // Rows whose WAL is gone: only a new snapshot can bring them.
    const lostRows = nextId - 1;
    await capture.startAgent();
    const status = await capture.waitForCapture('the lost slot reported', (c) => c.lastError !== null && /invalidated|lost/.test(c.lastError.message), 30_000);
    expect(status.lastError!.message).toMatch(new RegExp(CAPTURE_SLOT));
    expect(status.lastError!.code).toBe('WL_A025');
    await until(
      'the capture-position-lost alert',
      async () => (await capture.status()).alerts?.recent.find((a) => a.rule === 'capture-position-lost' && a.level > 0),
      (alert) => alert !== undefined,
      { timeoutMs: 30_000 },
    );
    await until('the WL_A025 error in the agent log', () => capture.log(), (log) => log.includes('WL_A025'), { timeoutMs: 10_000 });
    await capture.waitForCapture('the source to stream after the new snapshot', (c) => c.state === 'streaming' && c.snapshot?.percent === 100, 60_000);
    const source = await digestSourceTable(server, TABLE);
    expect(source.rows).toBe(lostRows);
    const reader = capture.openDb();
    try {
      const copy = await until('the local copy to equal the table', () => digestRows(reader.localCopy(STREAM)), (d) => d.digest === source.digest, {
        timeoutMs: 20_000,
        describe: (d) => JSON.stringify(compareDigests(source, d)),
      });
      expect(copy.rows).toBe(lostRows);
      const snapshotRows = journalChanges(reader, STREAM).filter((c) => c.seq > headBefore && c.headers.snapshot === 'true');
      expect(snapshotRows.length).toBe(lostRows);
    } finally {
      reader.close();
    }
    // The new slot is healthy and streams again.
    await rowAndSegment();
    expect((await slotBytes()).walStatus).not.toBe('lost');
  });
});
