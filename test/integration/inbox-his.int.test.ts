// The inbox-table HIS on a throwaway PostgreSQL and a throwaway MariaDB: rows Wardline
// inserted (status new) are applied in insertion order per key or rejected with the
// reason, a row Wardline withdrew is left alone, and a database restart only delays it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTableSql, InboxHis, type InboxHisDatabase, SLOT_TAKEN_REASON, RANDOM_REFUSAL_REASON } from '../../simulator/his/index.js';
import { ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { until } from '../support/until.js';

interface Peer {
  database: InboxHisDatabase;
  /** Runs SQL with `?` placeholders. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function postgresPeer(): Promise<Peer> {
  const server = await ThrowawayPostgres.create();
  return {
    database: { kind: 'postgres', connection: server.url() },
    sql: async <T,>(text: string, params: unknown[] = []) => {
      let n = 0;
      return (await server.query(text.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
    },
    stop: () => server.stop(),
    start: () => server.start(),
    destroy: () => server.destroy(),
  };
}

async function mariadbPeer(): Promise<Peer> {
  const server = await ThrowawayMariadb.create();
  return {
    database: { kind: 'mysql', connection: server.connectionOptions() },
    sql: async <T,>(text: string, params: unknown[] = []) => {
      const rows = await server.query<unknown>(text, params);
      return (Array.isArray(rows) ? rows : []) as T[];
    },
    stop: () => server.stop(),
    start: () => server.start(),
    destroy: () => server.destroy(),
  };
}

let serial = 0;
const nextId = (): string => `ib${String(++serial).padStart(18, 'a')}`;
let clock = Date.parse('2026-12-03T02:00:00Z');

function booking(patient: string, doctor: string, start: string): string {
  return JSON.stringify({ type: 'booking', bookingId: `YY${serial}`, patient: { id: patient, name: '张伟' }, doctor: { id: doctor }, slot: { start, end: start } });
}

describe.each([
  ['PostgreSQL', postgresPeer],
  ['MariaDB', mariadbPeer],
] as const)('InboxHis on %s', (kind, makePeer) => {
  let peer: Peer;
  const table = 'wardline_inbox';

  /** Inserts a row as Wardline's inbox sink does; rows inserted later have a later delivered_at. */
  async function insert(key: string, body: string, channel = 'bookings'): Promise<string> {
    const id = nextId();
    const at = new Date((clock += 1_000));
    await peer.sql(`INSERT INTO ${table} (id, channel, event_key, vendor, content_type, body, received_at, expires_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
      id, channel, key, 'patient-app', 'json', body, at, new Date(at.getTime() + 3_600_000), at,
    ]);
    return id;
  }

  const row = async (id: string): Promise<Record<string, unknown>> => (await peer.sql(`SELECT status, status_reason, his_reference, decided_at FROM ${table} WHERE id = ?`, [id]))[0]!;

  beforeAll(async () => {
    peer = await makePeer();
    await peer.sql(createTableSql(peer.database.kind, table));
  }, 180_000);
  afterAll(async () => {
    await peer?.destroy();
  }, 60_000);

  it('applies new rows in insertion order per key and rejects a booking of a taken slot', async () => {
    const a1 = await insert('P001', booking('P001', 'D030101', '2026-12-04T08:30:00+08:00'));
    const b1 = await insert('P002', booking('P002', 'D030101', '2026-12-04T08:30:00+08:00'));
    const a2 = await insert('P001', JSON.stringify({ type: 'payment', patient: { id: 'P001' }, amount: 50 }), 'payments');
    const b2 = await insert('P002', booking('P002', 'D030101', '2026-12-04T08:45:00+08:00'));
    const his = new InboxHis({ database: peer.database, pollMs: 50 });
    await his.start();
    try {
      await until('the HIS to decide four rows', async () => his.stats().applied + his.stats().rejected, (n) => n === 4, { timeoutMs: 10_000 });
      expect(his.appliedByKey()).toEqual(new Map([['P001', [a1, a2]], ['P002', [b2]]]));
      expect(his.decisions().map((d) => [d.id, d.status])).toEqual([[a1, 'applied'], [b1, 'rejected'], [a2, 'applied'], [b2, 'applied']]);
      const refused = await row(b1);
      expect(refused).toMatchObject({ status: 'rejected', status_reason: SLOT_TAKEN_REASON, his_reference: null });
      expect(refused.decided_at).not.toBeNull();
      const applied = await row(a1);
      expect(applied).toMatchObject({ status: 'applied', status_reason: null, his_reference: his.applied()[0]!.reference });
      expect(String(applied.his_reference)).toMatch(/^HIS\d{8}$/);
    } finally {
      await his.stop();
    }
  });

  it('leaves a row Wardline withdrew (expired) alone', async () => {
    const id = await insert('P003', booking('P003', 'D030201', '2026-12-04T09:00:00+08:00'));
    await peer.sql(`UPDATE ${table} SET status = 'expired' WHERE id = ? AND status = 'new'`, [id]);
    const his = new InboxHis({ database: peer.database });
    try {
      expect(await his.pollNow()).toBe(0);
      expect(await row(id)).toMatchObject({ status: 'expired', his_reference: null });
      expect(his.applied()).toHaveLength(0);
    } finally {
      await his.stop();
    }
  });

  it('rejects the configured fraction with its reason', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await insert(`R${i}`, JSON.stringify({ type: 'registration', patient: { id: `R${i}` } }), 'registrations'));
    const his = new InboxHis({ database: peer.database, refuseFraction: 0.5, seed: 3 });
    try {
      expect(await his.pollNow()).toBe(10);
      const rows = await Promise.all(ids.map(row));
      const rejected = rows.filter((r) => r.status === 'rejected');
      expect(rejected.length).toBe(his.stats().rejected);
      expect(rejected.length).toBeGreaterThan(0);
      expect(rejected.length).toBeLessThan(10);
      for (const r of rejected) expect(r.status_reason).toBe(RANDOM_REFUSAL_REASON);
    } finally {
      await his.stop();
    }
  });

  it(`carries on after ${kind} restarts: rows wait, then are applied`, async () => {
    const his = new InboxHis({ database: peer.database, pollMs: 50 });
    await his.start();
    try {
      await peer.stop();
      await until('a failed poll', async () => his.stats().errors, (n) => n > 0, { timeoutMs: 10_000 });
      await peer.start();
      const id = await insert('P004', booking('P004', 'D030301', '2026-12-04T10:00:00+08:00'));
      await until('the row applied', async () => (await row(id)).status, (s) => s === 'applied', { timeoutMs: 15_000 });
      expect(his.applied().map((a) => a.id)).toEqual([id]);
    } finally {
      await his.stop();
    }
  }, 60_000);
});
