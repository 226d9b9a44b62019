// The receipt outbox on a real agent.db: a row exists exactly when its
// enqueuing transaction committed, a replayed enqueue adds nothing, the first
// ledger record a row left under is kept, and an ack removes the oldest row of
// its id and outcome.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundReceipt } from '../../protocol/index.js';
import { SqliteReceiptOutbox } from '../../agent/downlink/index.js';
import { openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const opened: { db: SqliteDatabase; remove(): void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) {
    o.db.close();
    o.remove();
  }
});

function outbox(): { db: SqliteDatabase; outbox: SqliteReceiptOutbox; file: string } {
  const dir = makeTempDir('wardline-outbox-');
  const file = join(dir.path, 'agent.db');
  const db = openAgentDatabase(file);
  opened.push({ db, remove: () => dir.remove() });
  return { db, outbox: new SqliteReceiptOutbox(db, () => 42), file };
}

const receipt = (id: string, outcome: InboundReceipt['outcome'], attempts: number): InboundReceipt => ({
  id,
  channel: 'bookings',
  outcome,
  final: outcome !== 'quarantined',
  code: outcome === 'quarantined' ? '' : 'AA',
  reason: outcome === 'quarantined' ? 'no PID-3 in the mapping' : '',
  reference: '',
  attempts,
  decidedAtMs: 1_700_000_000_000,
});

describe('SqliteReceiptOutbox', () => {
  it('keeps a row only when the enqueuing transaction commits, once per (id, outcome, attempts), per relay in enqueue order', () => {
    const { db, outbox: box } = outbox();
    expect(() =>
      db.transaction(() => {
        box.enqueue('cloud', receipt('ib1', 'accepted', 1));
        throw new Error('the journal append failed');
      })(),
    ).toThrow('the journal append failed');
    expect(box.count('cloud')).toBe(0);
    db.transaction(() => {
      box.enqueue('cloud', receipt('ib1', 'quarantined', 10));
      box.enqueue('cloud', receipt('ib1', 'quarantined', 10));
      box.enqueue('other', receipt('ib2', 'accepted', 1));
      box.enqueue('cloud', receipt('ib1', 'accepted', 11));
    })();
    expect(box.pending('cloud').map((p) => [p.receipt.outcome, p.receipt.attempts, p.enqueuedAtMs, p.ledger])).toEqual([
      ['quarantined', 10, 42, undefined],
      ['accepted', 11, 42, undefined],
    ]);
    expect(box.pending('cloud')[0]!.receipt).toEqual(receipt('ib1', 'quarantined', 10));
    expect(box.count('other')).toBe(1);
    const [first, second] = box.pending('cloud');
    expect(box.pending('cloud', first!.rowId).map((p) => p.rowId)).toEqual([second!.rowId]);
  });

  it('keeps the first ledger record a row left under, and removes the oldest row of an acked id and outcome', () => {
    const { outbox: box } = outbox();
    box.enqueue('cloud', receipt('ib1', 'quarantined', 10));
    box.enqueue('cloud', receipt('ib1', 'quarantined', 20));
    const [first] = box.pending('cloud');
    box.markLedger(first!.rowId, { index: 7, head: Buffer.alloc(32, 1) });
    box.markLedger(first!.rowId, { index: 8, head: Buffer.alloc(32, 2) });
    expect(box.pending('cloud')[0]!.ledger).toEqual({ index: 7, head: Buffer.alloc(32, 1) });
    expect(box.remove('cloud', 'ib1', 'quarantined')).toBe(true);
    expect(box.pending('cloud').map((p) => p.receipt.attempts)).toEqual([20]);
    expect(box.remove('cloud', 'ib1', 'accepted')).toBe(false);
    expect(box.remove('other', 'ib1', 'quarantined')).toBe(false);
  });

  it('tells listeners after the commit, once per turn, naming the relay; the rows are in the file', async () => {
    const { db, outbox: box, file } = outbox();
    const heard: string[] = [];
    const stop = box.onEnqueue((relay) => heard.push(relay));
    db.transaction(() => {
      box.enqueue('cloud', receipt('ib1', 'accepted', 1));
      box.enqueue('cloud', receipt('ib2', 'accepted', 1));
      expect(heard).toEqual([]);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual(['cloud']);
    stop();
    // A second connection, as after a restart: the rows are in the file.
    const again = openAgentDatabase(file);
    opened.push({ db: again, remove: () => {} });
    expect(new SqliteReceiptOutbox(again).count('cloud')).toBe(2);
  });
});
