// The InboundStore contract against PostgresInboundStore on a database of its own on
// the machine's PostgreSQL, plus what only several relay processes on one database
// can show: concurrent writers of one channel, and the doorbell other processes hear.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { INBOUND_DOORBELL_CHANNEL, PostgresInboundStore } from '../../cloud-relay/inbound/index.js';
import { migratePostgres, PG_MIGRATIONS, RelayDatabase } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { declaration, describeInboundStoreContract } from './inbound-store.contract.js';

async function connect(url: string): Promise<RelayDatabase> {
  return RelayDatabase.connect({ url, poolMax: 4, connectTimeoutMs: 5_000, applicationName: 'wardline-test' });
}

describeInboundStoreContract('PostgresInboundStore', async () => {
  const db = await createRelayTestDatabase('inbound');
  const database = await connect(db.url);
  await migratePostgres(database, PG_MIGRATIONS);
  let current = await PostgresInboundStore.open({ database });
  return {
    store: current,
    reopen: async () => (current = await PostgresInboundStore.open({ database })),
    cleanup: async () => {
      await current.close();
      await database.close();
      await db.drop();
    },
  };
});

describe('PostgresInboundStore on PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function twoProcesses(): Promise<{ a: PostgresInboundStore; b: PostgresInboundStore; url: string; databases: RelayDatabase[] }> {
    const db = await createRelayTestDatabase('inbound_two');
    cleanups.push(() => db.drop());
    const databases = [await connect(db.url), await connect(db.url)];
    cleanups.push(async () => void (await Promise.all(databases.map((d) => d.close()))));
    await migratePostgres(databases[0]!, PG_MIGRATIONS);
    const [a, b] = await Promise.all(databases.map((database) => PostgresInboundStore.open({ database })));
    return { a: a!, b: b!, url: db.url, databases };
  }

  const base = { hospital: 'h', channel: 'bookings', vendor: 'v', contentType: 'json', key: 'p', receivedAtMs: 1, expiresAtMs: 1_000_000 };

  it('two processes writing one channel at once: every event numbered once, contiguous; a retry at the other process finds the first write', async () => {
    const { a, b } = await twoProcesses();
    await a.declareChannels('h', [declaration('bookings')], 1);
    const writes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).write({ ...base, idempotencyKey: `k-${i}`, body: Buffer.from(`{"n":${i}}`) }));
    const results = await Promise.all(writes);
    expect(results.every((r) => r.kind === 'created')).toBe(true);
    const seqs = results.map((r) => (r.kind === 'created' ? r.record.channelSeq : 0)).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // The same key at both processes at once: one creates, the other replays it.
    const [x, y] = await Promise.all([a.write({ ...base, idempotencyKey: 'same', body: Buffer.from('{}') }), b.write({ ...base, idempotencyKey: 'same', body: Buffer.from('{}') })]);
    expect([x.kind, y.kind].sort()).toEqual(['created', 'replayed']);
    expect(x.kind !== 'conflict' && y.kind !== 'conflict' && x.record.id === y.record.id).toBe(true);
  });

  it('two final receipts for one event from two processes at once: exactly one is stored', async () => {
    const { a, b } = await twoProcesses();
    await a.declareChannels('h', [declaration('bookings')], 1);
    const written = await a.write({ ...base, idempotencyKey: 'k', body: Buffer.from('{}') });
    const id = written.kind === 'created' ? written.record.id : '';
    await a.takeToSend('h', 'bookings', 0, 10, 1 << 20, 2);
    const receipt = { id, channel: 'bookings', final: true, code: '', reason: '', reference: '', decidedAtMs: 3 };
    const results = await Promise.all([
      a.storeReceipt('h', { ...receipt, outcome: 'accepted', attempts: 1 }, 4),
      b.storeReceipt('h', { ...receipt, outcome: 'refused', attempts: 2 }, 4),
    ]);
    expect(results.map((r) => r.kind).sort()).toEqual(['conflict', 'stored']);
    expect((await b.receipts('h', 'bookings', 'v', 0, 10)).length).toBe(1);
  });

  it('a sweep racing a send never expires what went on the wire', async () => {
    const { a, b } = await twoProcesses();
    await a.declareChannels('h', [declaration('bookings')], 1);
    for (let i = 0; i < 30; i++) await a.write({ ...base, idempotencyKey: `k-${i}`, body: Buffer.from('{}'), expiresAtMs: 100 });
    const [sent, expired] = await Promise.all([a.takeToSend('h', 'bookings', 0, 30, 1 << 20, 99), b.expireUnsent(100)]);
    const sentIds = new Set(sent.map((r) => r.id));
    expect(expired.some((r) => sentIds.has(r.id))).toBe(false);
    expect(sent.length + expired.length).toBeLessThanOrEqual(30);
    for (const record of sent) expect((await b.get('h', record.id))!.state).toBe('sent');
  });

  it('rings the doorbell on commit; another process observing it tells its subscribers, its own are ignored', async () => {
    const { a, b, url } = await twoProcesses();
    await a.declareChannels('h', [declaration('bookings')], 1);
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    cleanups.push(() => listener.end());
    const heard: string[] = [];
    listener.on('notification', (n) => {
      heard.push(n.payload ?? '');
      b.observe(n.payload ?? '');
      a.observe(n.payload ?? '');
    });
    await listener.query(`LISTEN ${INBOUND_DOORBELL_CHANNEL}`);
    const toldB: string[] = [];
    const toldA: string[] = [];
    b.subscribe('h', (what, channel) => toldB.push(`${what}:${channel}`));
    a.subscribe('h', (what, channel) => toldA.push(`${what}:${channel}`));
    await a.write({ ...base, idempotencyKey: 'k', body: Buffer.from('{}') });
    await expect.poll(() => toldB).toEqual(['write:bookings']);
    expect(toldA).toEqual(['write:bookings']);
    expect(heard).toHaveLength(1);
    // A write refused (unknown channel) rolls back: no doorbell.
    await expect(a.write({ ...base, channel: 'nope', idempotencyKey: 'k2', body: Buffer.from('{}') })).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(heard).toHaveLength(1);
  });

  it('enforces one final receipt per event in SQL, as relay.db does', async () => {
    const { a, databases } = await twoProcesses();
    await a.declareChannels('h', [declaration('bookings')], 1);
    const written = await a.write({ ...base, idempotencyKey: 'k', body: Buffer.from('{}') });
    const id = written.kind === 'created' ? written.record.id : '';
    const insert = (seq: number, outcome: string, attempts: number) =>
      databases[0]!.query(
        `INSERT INTO inbound_receipts (hospital, channel, receipt_seq, id, vendor, key, outcome, final, code, reason, reference, attempts, decided_at_ms, stored_at_ms)
         VALUES ('h', 'bookings', $1, $2, 'v', 'p', $3, 1, '', '', '', $4, 1, 1)`,
        [seq, id, outcome, attempts],
      );
    await insert(1, 'accepted', 1);
    await expect(insert(2, 'refused', 2)).rejects.toThrow(/inbound_receipts_one_final/);
  });
});
