// The slot's health as a real server reports it while nobody consumes the slot:
// retained WAL grows, wal_status walks reserved → extended → (unreserved) → lost
// as segments pile up past max_wal_size and max_slot_wal_keep_size and checkpoints
// remove them; and the forecast of when the budget is used up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetShare, readSlotHealth, WAL_STATUS_ORDER, WalBudgetForecast } from '../../agent/sources/postgres/postgres-slot-health.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';

const MB = 1024 * 1024;
const SEGMENT = 16 * MB; // initdb's default wal_segment_size

describe('WalBudgetForecast', () => {
  it('forecasts from a steady growth, exactly for a straight line', () => {
    const forecast = new WalBudgetForecast();
    for (let s = 0; s <= 60; s++) forecast.observe(s * 1000, 10 * MB + s * MB);
    // 70 MB retained, 1 MB/s, a 100 MB budget: 30 s left.
    expect(forecast.bytesPerSecond()).toBeCloseTo(MB, 0);
    expect(forecast.secondsToBudget(100 * MB)).toBeCloseTo(30, 5);
  });

  it('gives nothing without a budget, before two readings, or while not growing', () => {
    const forecast = new WalBudgetForecast();
    expect(forecast.secondsToBudget(100 * MB)).toBeNull();
    forecast.observe(0, 10 * MB);
    expect(forecast.secondsToBudget(100 * MB)).toBeNull();
    forecast.observe(1_000, 10 * MB);
    expect(forecast.secondsToBudget(100 * MB)).toBeNull(); // flat
    forecast.observe(2_000, 5 * MB);
    expect(forecast.secondsToBudget(100 * MB)).toBeNull(); // shrinking: the agent is catching up
    forecast.observe(3_000, 50 * MB);
    expect(forecast.secondsToBudget(null)).toBeNull(); // max_slot_wal_keep_size = -1
  });

  it('says 0 once the budget is reached, and forgets readings older than its window', () => {
    const forecast = new WalBudgetForecast(10_000);
    forecast.observe(0, 0);
    forecast.observe(1_000, 200 * MB);
    expect(forecast.secondsToBudget(100 * MB)).toBe(0);
    // A burst long ago, then a slow steady growth: only the window counts.
    forecast.reset();
    forecast.observe(0, 0);
    forecast.observe(1_000, 50 * MB);
    for (let s = 100; s <= 120; s++) forecast.observe(s * 1000, 50 * MB + (s - 100) * 100_000);
    expect(forecast.bytesPerSecond()).toBeCloseTo(100_000, -2);
  });

  it('starts over when the clock steps back', () => {
    const forecast = new WalBudgetForecast();
    forecast.observe(10_000, 0);
    forecast.observe(11_000, 10 * MB);
    forecast.observe(5_000, 10 * MB);
    expect(forecast.bytesPerSecond()).toBeNull();
  });
});

describe('budgetShare', () => {
  it('is the retained share of the budget, null without one', () => {
    expect(budgetShare({ bytes: 32 * MB, budgetBytes: 64 * MB })).toBe(0.5);
    expect(budgetShare({ bytes: 32 * MB, budgetBytes: null })).toBeNull();
    expect(budgetShare({ bytes: null, budgetBytes: 64 * MB })).toBeNull();
    expect(budgetShare({ bytes: 0, budgetBytes: 0 })).toBe(0);
  });
});

describe('readSlotHealth against a real server', () => {
  let server: ThrowawayPostgres;

  beforeAll(async () => {
    // max_wal_size is the smallest allowed (2 segments) so "extended" comes soon; the slot's
    // budget is 4 segments above it. checkpoint_timeout is long: only WAL volume and the
    // test's CHECKPOINTs remove segments. The budget is set with ALTER SYSTEM, not on the
    // command line (which would win over it), so a test can lift it.
    server = await ThrowawayPostgres.create({ settings: { max_wal_size: '32MB', min_wal_size: '32MB', checkpoint_timeout: '1h', wal_keep_size: 0 } });
    await server.query("ALTER SYSTEM SET max_slot_wal_keep_size = '96MB'");
    await server.query('SELECT pg_reload_conf()');
    await server.query('CREATE TABLE ward (id serial PRIMARY KEY, note text)');
  });

  afterAll(async () => {
    await server?.destroy();
  });

  /** One segment more of WAL: a row (pg_switch_wal does nothing after a switch with no WAL since), then a switch. */
  async function fillSegment(): Promise<void> {
    await server.query("INSERT INTO ward (note) VALUES ('x')");
    await server.query('SELECT pg_switch_wal()');
  }

  it('says so when the slot does not exist', async () => {
    const client = await server.connect();
    try {
      const health = await readSlotHealth(client, 'no_such_slot');
      expect(health).toMatchObject({ exists: false, bytes: null, walStatus: null });
    } finally {
      await client.end();
    }
  });

  it('retained bytes grow while nobody consumes; wal_status goes reserved → extended → lost; the forecast sees the budget coming', async () => {
    await server.query("SELECT pg_create_logical_replication_slot('idle_slot', 'pgoutput')");
    const client = await server.connect();
    try {
      const first = await readSlotHealth(client, 'idle_slot');
      expect(first).toMatchObject({ exists: true, active: false, walStatus: 'reserved', status: 'reserved', budgetBytes: 96 * MB });
      expect(first.confirmedFlushLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      expect(first.bytes).toBeGreaterThanOrEqual(0);
      expect(first.bytes).toBeLessThan(SEGMENT);
      expect(first.safeWalBytes).toBeGreaterThan(0);

      const forecast = new WalBudgetForecast();
      const seen: { bytes: number | null; status: string | null; secondsToBudget: number | null; safe: number | null }[] = [];
      let clock = 0;
      // One segment each simulated second, until the slot is lost or well past its budget.
      for (let i = 0; i < 12; i++) {
        await fillSegment();
        clock += 1_000;
        const health = await readSlotHealth(client, 'idle_slot', { forecast, nowMs: clock });
        seen.push({ bytes: health.bytes, status: health.walStatus, secondsToBudget: health.secondsToBudget, safe: health.safeWalBytes });
        if (health.walStatus === 'lost') break;
      }
      // Whatever the automatic checkpoints did, the last CHECKPOINT removes what the slot held past its budget.
      await server.query('CHECKPOINT');
      const end = await readSlotHealth(client, 'idle_slot');
      seen.push({ bytes: end.bytes, status: end.walStatus, secondsToBudget: end.secondsToBudget, safe: end.safeWalBytes });
      const describe = JSON.stringify(seen);
      if (process.env.SHOW_SLOT) console.log(describe);

      // Retained bytes only grow while the slot holds its WAL.
      const held = seen.filter((s) => s.bytes !== null).map((s) => s.bytes!);
      expect(held.length, describe).toBeGreaterThanOrEqual(5);
      for (let i = 1; i < held.length; i++) expect(held[i], describe).toBeGreaterThan(held[i - 1]!);
      // The status never improves without a consumer, passes through extended, and ends lost.
      const ranks = seen.map((s) => WAL_STATUS_ORDER.indexOf(s.status!));
      expect(ranks.every((r) => r >= 0), describe).toBe(true);
      for (let i = 1; i < ranks.length; i++) expect(ranks[i], describe).toBeGreaterThanOrEqual(ranks[i - 1]!);
      expect(seen.map((s) => s.status), describe).toContain('extended');
      expect(end).toMatchObject({ exists: true, walStatus: 'lost', bytes: null, safeWalBytes: null, secondsToBudget: null });
      // While reserved or extended, 1 segment a second: the forecast is (budget − retained) / 16 MB·s⁻¹.
      const whileHeld = seen.filter((s) => (s.status === 'extended' || s.status === 'reserved') && s.secondsToBudget !== null);
      expect(whileHeld.length, describe).toBeGreaterThan(0);
      for (const s of whileHeld) {
        const ideal = (96 * MB - s.bytes!) / SEGMENT;
        expect(s.secondsToBudget!, describe).toBeGreaterThan(ideal * 0.7);
        expect(s.secondsToBudget!, describe).toBeLessThan(ideal * 1.3 + 0.5);
        // At or past half the budget the ops alert fires with this ETA; it is never more than the budget allows.
        expect(s.secondsToBudget!, describe).toBeLessThanOrEqual(96 / 16);
      }
      // safe_wal_size shrinks as the slot fills, and is spent once the slot is past its budget.
      const safes = seen.filter((s) => s.safe !== null).map((s) => s.safe!);
      for (let i = 1; i < safes.length; i++) expect(safes[i], describe).toBeLessThan(safes[i - 1]!);
    } finally {
      await client.end();
    }
  });

  it('reads no budget when max_slot_wal_keep_size is unlimited, and no forecast then', async () => {
    await server.query("ALTER SYSTEM SET max_slot_wal_keep_size = '-1'");
    await server.query('SELECT pg_reload_conf()');
    await server.query("SELECT pg_create_logical_replication_slot('unlimited_slot', 'pgoutput')");
    const client = await server.connect();
    try {
      const forecast = new WalBudgetForecast();
      await readSlotHealth(client, 'unlimited_slot', { forecast, nowMs: 0 });
      await fillSegment();
      const health = await readSlotHealth(client, 'unlimited_slot', { forecast, nowMs: 1_000 });
      expect(health).toMatchObject({ exists: true, budgetBytes: null, secondsToBudget: null, safeWalBytes: null });
      expect(health.bytes).toBeGreaterThan(0);
      expect(budgetShare(health)).toBeNull();
    } finally {
      await client.end();
    }
  });
});
