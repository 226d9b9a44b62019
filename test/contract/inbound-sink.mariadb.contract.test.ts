// The InboundSink contract against the inbox sink on a MariaDB server of the
// test's own, through mysql2 (INSERT IGNORE, DATETIME(3) in UTC).
import { afterAll, describe, expect, it } from 'vitest';
import { createSink, InboxSinkConfigSchema, type InboundSink } from '../../agent/downlink/sinks/index.js';
import { freePort } from '../support/free-port.js';
import { MARIADB_TEST_PASSWORD, MARIADB_TEST_USER, ThrowawayMariadb } from '../support/throwaway-mariadb.js';
import { delivery, describeInboundSinkContract, type InboundSinkHarness } from './inbound-sink.contract.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
let server: ThrowawayMariadb | undefined;

function inboxSink(port: number, extra: Record<string, unknown> = {}): InboundSink {
  const config = InboxSinkConfigSchema.parse({
    kind: 'inbox',
    dialect: 'mysql',
    connection: { host: '127.0.0.1', port, database: 'test', user: MARIADB_TEST_USER, connectTimeout: 2 },
    createTable: true,
    ...extra,
  });
  return createSink(config, { hospitalId: 'h-zj-002', log: silent, secrets: { databasePassword: MARIADB_TEST_PASSWORD } });
}

describeInboundSinkContract('inbox table in MariaDB', async (): Promise<InboundSinkHarness> => {
  server = await ThrowawayMariadb.create();
  const db = server;
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
        await db.query(`UPDATE wardline_inbox SET status = 'applied', his_reference = ?, decided_at = UTC_TIMESTAMP(3) WHERE id = ? AND status = 'new'`, [answer.reference ?? null, id]);
      } else if (answer.kind === 'refuse') {
        await db.query(`UPDATE wardline_inbox SET status = 'rejected', status_reason = ?, decided_at = UTC_TIMESTAMP(3) WHERE id = ? AND status = 'new'`, [answer.reason, id]);
      }
    },
    async applied(id) {
      const rows = await db.query<{ n: number }[]>('SELECT count(*) AS n FROM wardline_inbox WHERE id = ?', [id]);
      return Number(rows[0]!.n);
    },
    async status(id) {
      const rows = await db.query<{ status: string }[]>('SELECT status FROM wardline_inbox WHERE id = ?', [id]);
      return rows[0]?.status;
    },
    async misconfiguredSink() {
      return inboxSink(db.port, { table: 'no_such_inbox', createTable: false });
    },
    async close() {
      await db.destroy();
    },
  };
});

describe('inbox in MariaDB: the row as the HIS reads it', () => {
  let db: ThrowawayMariadb;
  afterAll(async () => {
    await db?.destroy();
  });

  it('holds the event whole with UTC times and Chinese text intact', async () => {
    db = await ThrowawayMariadb.create();
    const sink = inboxSink(db.port, { table: 'his_inbox' });
    try {
      const body = Buffer.from(JSON.stringify({ patient: { id: 'P-1', name: '张三' } }));
      const d = delivery({ body, receivedAtMs: Date.UTC(2026, 11, 3, 9, 30, 0, 123) });
      expect(await sink.deliver(d)).toEqual({ kind: 'awaiting', code: 'new' });
      const rows = await db.query<Record<string, unknown>[]>(`SELECT id, event_key, body, DATE_FORMAT(received_at, '%Y-%m-%d %H:%i:%s.%f') AS received, status FROM his_inbox`);
      expect(rows).toEqual([{ id: d.id, event_key: 'P-1001', body: body.toString('utf8'), received: '2026-12-03 09:30:00.123000', status: 'new' }]);
    } finally {
      await sink.close();
    }
  });
});
