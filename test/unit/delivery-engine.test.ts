// The delivery engine on a real agent.db with manual timers: the retry schedule
// (1 s doubling to the cap), sink-down attempts not counted, and the `awaiting`
// path of an inbox-like system (settled later; at its TTL withdrawn, or, when the
// system already took it, decided by settle). The sink here stands for the
// hospital system's answers over time, which a test must choose; every other part is real.
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryEngine, DeliveryStore, JournalInboundIntake, SqliteReceiptOutbox, type InboundSink, type SinkDelivery, type SinkOutcome } from '../../agent/downlink/index.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { ManualTimers } from '../support/manual-timers.js';
import { makeTempDir } from '../support/temp-dir.js';

class ScriptedSystem implements InboundSink {
  readonly kind = 'inbox' as const;
  readonly attempts: { id: string; atMs: number; attempt: number }[] = [];
  next: (d: SinkDelivery) => SinkOutcome = () => ({ kind: 'accepted', code: 'applied' });
  decided = new Map<string, SinkOutcome>();
  withdrawable = true;
  withdrawn: string[] = [];
  /** What the system decided just before the withdrawal reached it (it took the row first). */
  takenFirst: SinkOutcome | null = null;
  constructor(private readonly clock: () => number) {}
  async deliver(d: SinkDelivery): Promise<SinkOutcome> {
    this.attempts.push({ id: d.id, atMs: this.clock(), attempt: d.attempt });
    return this.next(d);
  }
  async settle(ids: readonly string[]): Promise<Map<string, SinkOutcome>> {
    return new Map(ids.filter((id) => this.decided.has(id)).map((id) => [id, this.decided.get(id)!]));
  }
  async withdraw(id: string): Promise<boolean> {
    this.withdrawn.push(id);
    if (this.takenFirst) this.decided.set(id, this.takenFirst);
    return this.withdrawable;
  }
  async close(): Promise<void> {}
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

let dir: ReturnType<typeof makeTempDir>;
let db: SqliteDatabase;
afterEach(() => {
  db?.close();
  dir?.remove();
});

async function setup(quarantineAfter = 10) {
  dir = makeTempDir('wardline-engine-');
  db = openAgentDatabase(`${dir.path}/agent.db`);
  const timers = new ManualTimers();
  const journal = new Journal(db, { clock: timers.clock });
  const store = new DeliveryStore(db, timers.clock);
  const outbox = new SqliteReceiptOutbox(db, timers.clock);
  const system = new ScriptedSystem(timers.clock);
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const engine = new DeliveryEngine({
    channel: 'bookings',
    relay: 'cloud',
    sink: system,
    store,
    journal,
    outbox,
    policy: { concurrency: 4, quarantineAfter, retryInitialMs: 1_000, retryMaxMs: 60_000, settleIntervalMs: 2_000 },
    log: quiet,
    clock: timers.clock,
    timers,
    random: () => 0,
  });
  const intake = new JournalInboundIntake({ journal, store, wake: (_channel, ids) => engine.wake(ids) });
  engine.start();
  const accept = async (id: string, ttlMs = 3_600_000) => {
    await intake.accept('cloud', [{ id, channel: 'bookings', channelSeq: 1, key: 'P-1', contentType: 'json', body: Buffer.from('{"a":1}'), vendor: 'v', idempotencyKey: id, receivedAtMs: timers.clock(), expiresAtMs: timers.clock() + ttlMs }]);
    await flush();
  };
  const receipts = () => outbox.pending('cloud').map((p) => `${p.receipt.outcome}/${p.receipt.attempts}`);
  return { timers, store, system, engine, accept, receipts };
}

describe('DeliveryEngine', () => {
  it('retries at 1, 2, 4, 8 … s up to the 60 s cap, and quarantines at quarantineAfter counted failures', async () => {
    const { timers, system, accept, store, receipts } = await setup(9);
    system.next = () => ({ kind: 'retryable', code: 'AE', reason: 'busy', sinkDown: false });
    const t0 = timers.clock();
    await accept('ib1');
    // One second at a time: each retry is decided at the time its attempt was made.
    for (let i = 0; i < 200; i++) {
      timers.advance(1_000);
      await flush();
    }
    const gaps = system.attempts.map((a, i) => (i === 0 ? a.atMs - t0 : a.atMs - system.attempts[i - 1]!.atMs));
    expect(gaps).toEqual([0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    expect(store.get('ib1')).toMatchObject({ state: 'quarantined', countedFailures: 9, attempts: 9 });
    expect(receipts()).toEqual(['quarantined/9']);
  });

  it('does not count sink-down attempts and shows the sink down since the first', async () => {
    const { timers, system, accept, store, engine } = await setup(2);
    system.next = () => ({ kind: 'retryable', code: 'ECONNREFUSED', reason: 'connection refused', sinkDown: true });
    const downAt = timers.clock();
    await accept('ib2');
    for (let i = 0; i < 6; i++) {
      timers.advance(60_000);
      await flush();
    }
    expect(system.attempts.length).toBeGreaterThanOrEqual(6);
    expect(store.get('ib2')).toMatchObject({ state: 'retrying', countedFailures: 0 });
    expect(engine.status().sinkState).toEqual({ state: 'down', sinceMs: downAt, reason: 'connection refused' });
    system.next = () => ({ kind: 'accepted', code: 'applied' });
    timers.advance(60_000);
    await flush();
    expect(store.get('ib2')!.state).toBe('accepted');
    expect(engine.status().sinkState.state).toBe('up');
  });

  it('settles an awaiting event when the system decides', async () => {
    const { timers, system, accept, store, receipts } = await setup();
    system.next = () => ({ kind: 'awaiting', code: 'new' });
    await accept('ib3');
    expect(store.get('ib3')!.state).toBe('awaiting');
    timers.advance(2_000);
    await flush();
    expect(store.get('ib3')!.state).toBe('awaiting');
    system.decided.set('ib3', { kind: 'refused', code: 'rejected', reason: 'slot already taken' });
    timers.advance(2_000);
    await flush();
    expect(store.get('ib3')).toMatchObject({ state: 'refused', lastReason: 'slot already taken' });
    expect(receipts()).toEqual(['refused/1']);
    expect(timers.armed).toBe(0);
  });

  it('withdraws an awaiting event at its TTL and expires it; when the system already took it, settle decides', async () => {
    const { timers, system, accept, store, receipts } = await setup();
    system.next = () => ({ kind: 'awaiting', code: 'new' });
    await accept('ib4', 10_000);
    timers.advance(10_000);
    await flush();
    expect(system.withdrawn).toEqual(['ib4']);
    expect(store.get('ib4')!.state).toBe('expired');

    system.withdrawable = false;
    system.takenFirst = { kind: 'accepted', code: 'applied', reference: 'APPT-9' };
    await accept('ib5', 10_000);
    timers.advance(10_000);
    await flush();
    expect(system.withdrawn).toEqual(['ib4', 'ib5']);
    expect(store.get('ib5')!.state).toBe('accepted');
    expect(receipts()).toEqual(['expired/1', 'accepted/1']);
  });
});
