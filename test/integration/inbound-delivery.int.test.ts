// The delivery engine end to end on a real SQLite journal, the real intake and
// receipt outbox, and the real MLLP sink (SRM^S01 built by its mapping) to an HIS
// listening on 127.0.0.1: per-key order with keys in
// parallel, a refusal final and never retried, the HIS down then up, TTL expiry,
// a poison event quarantined within 1 s while other keys flow, its replay after a
// fix delivered once, a crash mid-delivery resumed with the same id, and every
// outcome's receipt in the outbox exactly once. Logs never carry a key or a body.
import { afterEach, describe, expect, it } from 'vitest';
import { Downlink, InboundConfigSchema, SqliteReceiptOutbox, type InboundEventIn } from '../../agent/downlink/index.js';
import { createSink } from '../../agent/downlink/sinks/index.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { receiptStreamName, type InboundReceipt } from '../../protocol/index.js';
import { MllpHisListener } from '../support/mllp-his-listener.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const RELAY = 'cloud';
const CHANNEL = 'bookings';
/** The booking's slot goes to ARQ-1, the patient to PID-3 (what the test HIS reads as the key). */
const MAPPING = { 'ARQ-1': '$.slot', 'PID-3': '$.patient.id' };
/** The mapping after the fix: the slot may be absent. */
const FIXED_MAPPING = { 'ARQ-1': { path: '$.slot', optional: true }, 'PID-3': '$.patient.id' };
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

let counter = 0;
function inboundId(): string {
  let n = ++counter;
  let tail = '';
  for (let i = 0; i < 18; i++) {
    tail = BASE32[n % 32] + tail;
    n = Math.floor(n / 32);
  }
  return `ib${tail}`;
}

let seq = 0;
function event(key: string, fields: object, ttlMs = 3_600_000): InboundEventIn {
  const now = Date.now();
  const body = { ...fields, patient: { id: key } };
  return {
    id: inboundId(),
    channel: CHANNEL,
    channelSeq: ++seq,
    key,
    contentType: 'json',
    body: Buffer.from(JSON.stringify(body)),
    vendor: 'patient-app',
    idempotencyKey: `idem-${seq}`,
    receivedAtMs: now,
    expiresAtMs: now + ttlMs,
  };
}

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

class Rig {
  readonly dir = makeTempDir('wardline-inbound-');
  readonly his = new MllpHisListener();
  readonly logs: LogLine[] = [];
  db!: SqliteDatabase;
  journal!: Journal;
  outbox!: SqliteReceiptOutbox;
  downlink!: Downlink;

  async start(channel: object = {}, port?: number): Promise<void> {
    await this.his.listen(port);
    this.open(channel);
  }

  open(channel: object = {}, mapping: object = MAPPING): void {
    this.db = openAgentDatabase(`${this.dir.path}/agent.db`);
    this.journal = new Journal(this.db);
    this.outbox = new SqliteReceiptOutbox(this.db);
    const log = (level: string) => (fields: object, message: string) => this.logs.push({ level, fields: fields as Record<string, unknown>, message });
    const [config] = InboundConfigSchema.parse([{ channel: CHANNEL, relay: RELAY, concurrency: 4, quarantineAfter: 3, retry: { initialMs: 40, maxMs: 200 }, sink: { kind: 'mllp', address: `127.0.0.1:${this.his.port}`, message: 'SRM^S01', mapping, ackTimeoutMs: 5_000, connectTimeoutMs: 1_000 }, ...channel }]);
    const sinkLog = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    this.downlink = new Downlink({
      channels: [config!],
      db: this.db,
      journal: this.journal,
      outbox: this.outbox,
      createSink: (c) => createSink(c.sink, { hospitalId: 'h-test', log: sinkLog }),
      log: { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') },
    });
    this.downlink.start();
  }

  get engine() {
    return this.downlink.engine(CHANNEL);
  }

  row(id: string) {
    return this.downlink.store.get(id)!;
  }

  async finalState(id: string, state = ['accepted', 'refused', 'expired']): Promise<string> {
    return (await until(`${id} to be ${state.join('/')}`, () => this.row(id).state, (s) => state.includes(s))) as string;
  }

  receipts(): InboundReceipt[] {
    return this.outbox.pending(RELAY).map((p) => p.receipt);
  }

  journaledReceipts(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM journal WHERE stream = ?').get(receiptStreamName(CHANNEL)) as { n: number }).n;
  }

  async close(): Promise<void> {
    await this.downlink?.close();
    if (this.db?.open) this.db.close();
    await this.his.stop();
    this.dir.remove();
  }
}

let rig: Rig;
afterEach(async () => {
  await rig.close();
});

function expectReceiptsOncePerOutcome(r: Rig): void {
  const pairs = r.receipts().map((x) => `${x.id}/${x.outcome}`);
  expect(new Set(pairs).size).toBe(pairs.length);
  const finals = r.receipts().filter((x) => x.final).map((x) => x.id);
  expect(new Set(finals).size).toBe(finals.length);
  expect(r.journaledReceipts()).toBe(pairs.length);
}

function expectNoKeysInLogs(r: Rig, keys: string[]): void {
  const text = JSON.stringify(r.logs);
  for (const key of keys) expect(text).not.toContain(key);
  expect(text).not.toMatch(/"S\d"/);
}

describe('inbound delivery', () => {
  it('delivers each key in order, keys in parallel within the concurrency, one accepted receipt each', async () => {
    rig = new Rig();
    await rig.start();
    rig.his.answer = () => ({ code: 'AA', delayMs: 30 });
    const keys = ['P-1001', 'P-1002', 'P-1003', 'P-1004', 'P-1005', 'P-1006'];
    const events = keys.flatMap((key) => [1, 2, 3].map((n) => event(key, { slot: `S${n}`, patient: { id: key } })));
    await rig.downlink.intake.accept(RELAY, events.slice(0, 9));
    await rig.downlink.intake.accept(RELAY, events.slice(9));
    // A resend after a cut journals nothing new.
    await rig.downlink.intake.accept(RELAY, events.slice(0, 3));
    for (const e of events) await rig.finalState(e.id);
    for (const key of keys) expect(rig.his.idsOf(key)).toEqual(events.filter((e) => e.key === key).map((e) => e.id));
    const most = Math.max(...rig.his.received.map((m) => m.concurrent));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
    expect(rig.his.received).toHaveLength(events.length);
    expect(rig.receipts().filter((r) => r.outcome === 'accepted')).toHaveLength(events.length);
    expectReceiptsOncePerOutcome(rig);
    expect(rig.engine.status()).toMatchObject({ received: 18, accepted: 18, quarantined: 0, sinkState: { state: 'up' } });
    const attempt = rig.logs.find((l) => l.message === 'inbound delivery attempt')!;
    expect(Object.keys(attempt.fields).sort()).toEqual(['attempt', 'channel', 'code', 'decision', 'id', 'ms', 'outcome']);
    expectNoKeysInLogs(rig, keys);
  });

  it('makes a refusal final and never retries it; the key goes on', async () => {
    rig = new Rig();
    await rig.start();
    const taken = event('P-2001', { slot: 'S1' });
    const next = event('P-2001', { slot: 'S2' });
    rig.his.answer = (m) => (m.id === taken.id ? { code: 'AR', text: 'slot already taken' } : { code: 'AA' });
    await rig.downlink.intake.accept(RELAY, [taken, next]);
    expect(await rig.finalState(taken.id)).toBe('refused');
    await rig.finalState(next.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(rig.his.idsOf()).toEqual([taken.id, next.id]);
    expect(rig.receipts().find((r) => r.id === taken.id)).toMatchObject({ outcome: 'refused', final: true, code: 'AR', reason: 'slot already taken', attempts: 1 });
    expectReceiptsOncePerOutcome(rig);
  });

  it('retries while the HIS is down without counting towards quarantine, and delivers once it is up', async () => {
    rig = new Rig();
    await rig.start();
    const port = rig.his.port;
    await rig.his.stop();
    const e = event('P-3001', { slot: 'S1' });
    await rig.downlink.intake.accept(RELAY, [e]);
    await until('a few sink-down attempts', () => rig.row(e.id).attempts, (n) => n >= 5);
    expect(rig.row(e.id)).toMatchObject({ state: expect.stringMatching(/retrying|delivering/), countedFailures: 0 });
    expect(rig.engine.status().sinkState).toMatchObject({ state: 'down' });
    await rig.his.listen(port);
    expect(await rig.finalState(e.id)).toBe('accepted');
    expect(rig.engine.status().sinkState).toMatchObject({ state: 'up' });
    expect(rig.receipts()).toMatchObject([{ id: e.id, outcome: 'accepted', final: true }]);
  });

  it('expires an event the HIS keeps failing past its TTL', async () => {
    rig = new Rig();
    await rig.start({ quarantineAfter: 100 });
    rig.his.answer = () => ({ code: 'AE', text: 'database busy' });
    const e = event('P-4001', { slot: 'S1' }, 500);
    await rig.downlink.intake.accept(RELAY, [e]);
    expect(await rig.finalState(e.id)).toBe('expired');
    const attempts = rig.his.received.length;
    expect(attempts).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(rig.his.received).toHaveLength(attempts);
    expect(rig.receipts()).toMatchObject([{ id: e.id, outcome: 'expired', final: true }]);
  });

  it('quarantines a poison event within 1 s holding its key while other keys flow; replay after the fix delivers it once', async () => {
    rig = new Rig();
    await rig.start();
    const poison = event('P-5001', { note: 'no slot' });
    const behind = event('P-5001', { slot: 'S2' });
    const other = event('P-5002', { slot: 'S3' });
    const t0 = Date.now();
    await rig.downlink.intake.accept(RELAY, [poison, behind, other]);
    await rig.finalState(poison.id, ['quarantined']);
    expect(Date.now() - t0).toBeLessThan(1_000);
    await rig.finalState(other.id);
    await new Promise((r) => setTimeout(r, 200));
    expect(rig.row(behind.id).state).toBe('pending');
    expect(rig.his.idsOf('P-5001')).toEqual([]);
    expect(rig.downlink.status().quarantined).toMatchObject([{ id: poison.id, channel: CHANNEL, reason: expect.stringContaining('$.slot') }]);
    expect(() => rig.engine.replay(other.id)).toThrow(/not quarantined/);
    // The config fix: the mapping no longer needs the slot; the agent restarts with it.
    await rig.downlink.close();
    rig.db.close();
    rig.open({}, FIXED_MAPPING);
    expect(rig.row(poison.id).state).toBe('quarantined');
    rig.engine.replay(poison.id);
    expect(await rig.finalState(poison.id)).toBe('accepted');
    await rig.finalState(behind.id);
    expect(rig.his.idsOf('P-5001')).toEqual([poison.id, behind.id]);
    expect(rig.receipts().filter((r) => r.id === poison.id).map((r) => [r.outcome, r.final])).toEqual([
      ['quarantined', false],
      ['accepted', true],
    ]);
    expectReceiptsOncePerOutcome(rig);
  });

  it('refuses a quarantined event for the operator with a final receipt and the reason', async () => {
    rig = new Rig();
    await rig.start({ quarantineAfter: 2 });
    rig.his.answer = () => ({ code: 'AE', text: 'database busy' });
    const e = event('P-6001', { slot: 'S1' });
    await rig.downlink.intake.accept(RELAY, [e]);
    await rig.finalState(e.id, ['quarantined']);
    expect(rig.row(e.id)).toMatchObject({ attempts: 2, countedFailures: 2 });
    await rig.engine.refuse(e.id, 'patient unknown at this hospital');
    expect(rig.row(e.id).state).toBe('refused');
    expect(rig.receipts().map((r) => [r.outcome, r.final, r.reason])).toEqual([
      ['quarantined', false, expect.stringMatching(/^failed 2 times, last: .*database busy/)],
      ['refused', true, 'refused by the hospital: patient unknown at this hospital'],
    ]);
    await expect(rig.engine.refuse(e.id, 'again')).rejects.toThrow(/refused, not quarantined/);
  });

  it('delivers nothing while paused (events still journaled), across a restart, and again on resume', async () => {
    rig = new Rig();
    await rig.start();
    rig.engine.pause('alice', 'HIS maintenance');
    const e = event('P-7001', { slot: 'S1' });
    await rig.downlink.intake.accept(RELAY, [e]);
    await new Promise((r) => setTimeout(r, 200));
    expect(rig.his.received).toHaveLength(0);
    await rig.downlink.close();
    rig.db.close();
    rig.open();
    expect(rig.engine.status()).toMatchObject({ paused: true, pending: 1, pausedBy: { operator: 'alice', reason: 'HIS maintenance' } });
    rig.engine.resume();
    expect(await rig.finalState(e.id)).toBe('accepted');
  });

  it('after a crash mid-delivery, retries the event with the same id and writes one receipt', async () => {
    rig = new Rig();
    await rig.start();
    rig.his.answer = () => null;
    const e = event('P-8001', { slot: 'S1' });
    await rig.downlink.intake.accept(RELAY, [e]);
    await until('the HIS to receive it', () => rig.his.received.length, (n) => n === 1);
    expect(rig.row(e.id).state).toBe('delivering');
    // The process dies: nothing more reaches agent.db.
    rig.db.close();
    const port = rig.his.port;
    await rig.his.stop();
    await rig.downlink.close();
    rig.his.answer = () => ({ code: 'AA' });
    await rig.his.listen(port);
    rig.open();
    expect(await rig.finalState(e.id)).toBe('accepted');
    expect(rig.his.idsOf()).toEqual([e.id, e.id]);
    expect(rig.row(e.id).attempts).toBe(2);
    expect(rig.receipts()).toMatchObject([{ id: e.id, outcome: 'accepted', attempts: 2 }]);
    expectReceiptsOncePerOutcome(rig);
  });
});
