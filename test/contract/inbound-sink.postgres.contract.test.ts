// The InboundSink contract against the inbox sink on a PostgreSQL server of the
// test's own: the "HIS" is SQL run on the table as an HIS would (UPDATE … SET
// status = 'applied' | 'rejected'), and the sink is reached through the real pg
// driver.
import { afterAll, describe, expect, it } from 'vitest';
import { createSink, InboxSinkConfigSchema, type InboundSink } from '../../agent/downlink/sinks/index.js';
import { freePort } from '../support/free-port.js';
import { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { delivery, describeInboundSinkContract, type InboundSinkHarness } from './inbound-sink.contract.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
let server: ThrowawayPostgres | undefined;

function inboxSink(port: number, extra: Record<string, unknown> = {}): InboundSink {
  const config = InboxSinkConfigSchema.parse({
    kind: 'inbox',
    dialect: 'postgres',
    connection: { host: '127.0.0.1', port, database: 'his', user: 'postgres', connectTimeout: 2 },
    table: 'wardline_inbox',
    createTable: true,
    ...extra,
  });
  return createSink(config, { hospitalId: 'h-zj-002', log: silent });
}

describeInboundSinkContract('inbox table in PostgreSQL', async (): Promise<InboundSinkHarness> => {
  server = await ThrowawayPostgres.create({ settings: { wal_level: 'replica' } });
  await server.query('CREATE DATABASE his');
  const db = server;
  const query = (sql: string, params: unknown[] = []) => db.query(sql, params, 'his');
  return {
    decidesLater: true,
    answers: new Set(['accept', 'refuse']),
    async sink() {
      return inboxSink(db.port);
    },
    async sinkToNowhere() {
      return inboxSink(await freePort());
    },
    async answer(id, answer) {
      if (answer.kind === 'accept') {
        await query(`UPDATE wardline_inbox SET status = 'applied', his_reference = $2, decided_at = now() WHERE id = $1 AND status = 'new'`, [id, answer.reference ?? null]);
      } else if (answer.kind === 'refuse') {
        await query(`UPDATE wardline_inbox SET status = 'rejected', status_reason = $2, decided_at = now() WHERE id = $1 AND status = 'new'`, [id, answer.reason]);
      }
    },
    async applied(id) {
      return Number((await query('SELECT count(*) AS n FROM wardline_inbox WHERE id = $1', [id])).rows[0]!.n);
    },
    async status(id) {
      return (await query('SELECT status FROM wardline_inbox WHERE id = $1', [id])).rows[0]?.status as string | undefined;
    },
    async misconfiguredSink() {
      return inboxSink(db.port, { table: 'no_such_inbox', createTable: false });
    },
    async close() {
      await db.destroy();
    },
  };
});

describe('inbox in PostgreSQL: the row as the HIS reads it', () => {
  let db: ThrowawayPostgres;
  afterAll(async () => {
    await db?.destroy();
  });

  it('holds the event whole, times in UTC, with configured table and column names', async () => {
    db = await ThrowawayPostgres.create({ settings: { wal_level: 'replica' } });
    await db.query('CREATE DATABASE his');
    await db.query('CREATE SCHEMA hisq', [], 'his');
    const sink = inboxSink(db.port, { table: 'hisq.inbound_events', columns: { id: 'event_id', status: 'state' } });
    try {
      const d = delivery({ receivedAtMs: Date.UTC(2026, 11, 3, 9, 30, 0, 123) });
      expect(await sink.deliver(d)).toEqual({ kind: 'awaiting', code: 'new' });
      const row = (await db.query(`SELECT event_id, channel, event_key, vendor, content_type, body, to_char(received_at, 'YYYY-MM-DD HH24:MI:SS.MS') AS received, state, delivered_at IS NOT NULL AS delivered FROM hisq.inbound_events`, [], 'his')).rows[0]!;
      expect(row).toEqual({
        event_id: d.id,
        channel: 'bookings',
        event_key: 'P-1001',
        vendor: 'patient-app',
        content_type: 'json',
        body: d.body.toString('utf8'),
        received: '2026-12-03 09:30:00.123',
        state: 'new',
        delivered: true,
      });
      // A rejected row without a reason still says why it was refused.
      await db.query(`UPDATE hisq.inbound_events SET state = 'rejected' WHERE event_id = $1`, [d.id], 'his');
      expect((await sink.settle!([d.id])).get(d.id)).toEqual({ kind: 'refused', code: 'rejected', reason: 'rejected by the HIS without a reason' });
    } finally {
      await sink.close();
    }
  });

  it('settle and withdraw reject with WL_A048 while the database is down; deliver answers sinkDown', async () => {
    const sink = inboxSink(db.port);
    try {
      const d = delivery();
      expect(await sink.deliver(d)).toMatchObject({ kind: 'awaiting' });
      await db.stop();
      expect(await sink.deliver(delivery())).toMatchObject({ kind: 'retryable', sinkDown: true });
      await expect(sink.settle!([d.id])).rejects.toMatchObject({ name: 'SinkUnavailableError', code: 'WL_A048' });
      await expect(sink.withdraw!(d.id)).rejects.toMatchObject({ code: 'WL_A048' });
      await db.start();
      expect(await sink.withdraw!(d.id)).toBe(true);
    } finally {
      await sink.close();
    }
  });
});
