// The egress ledger in a real agent.db (SQLite in a temp dir): durable appends
// that share fsyncs, appends from a second process, tampering with the rows by
// SQL (what someone with the file could do) and the auditors' export.
import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EgressLedger, exportLedger, openLedgerForAudit, recordAdminAction, verifyLedgerFile, type LedgerRecord } from '../../agent/audit/index.js';
import { openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('EgressLedger', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  let db: SqliteDatabase;
  let ledger: EgressLedger;

  beforeEach(() => {
    dir = makeTempDir();
    file = join(dir.path, 'agent.db');
    db = openAgentDatabase(file);
    ledger = new EgressLedger(db);
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  const batch = (feed: string, firstSeq: number) => ({
    relay: 'cloud',
    feed,
    firstSeq,
    lastSeq: firstSeq + 9,
    events: 10,
    bytes: 1234,
    uncompressedBytes: 4567,
    payloadSha256: Buffer.alloc(32, 7),
    policyVersion: 2,
    codec: 'brotli',
  });

  async function fill(count: number): Promise<LedgerRecord[]> {
    for (let i = 0; i < count; i++) await ledger.recordBatch(batch(i % 3 === 0 ? 'billing' : 'clinical', i * 10 + 1));
    return [...ledger.records()] as LedgerRecord[];
  }

  it('records a batch with every field an auditor asks for, and returns the head it becomes', async () => {
    const head = await ledger.recordBatch(batch('clinical', 1));
    expect(head).toEqual({ index: 1, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const [record] = [...ledger.records()] as LedgerRecord[];
    expect(record).toMatchObject({
      index: 1,
      type: 'batch',
      feed: 'clinical',
      details: { relay: 'cloud', firstSeq: 1, lastSeq: 10, events: 10, bytes: 1234, uncompressedBytes: 4567, payloadSha256: '07'.repeat(32), policyVersion: 2, codec: 'brotli' },
      hash: head.hash,
    });
    expect(ledger.status()).toMatchObject({ head: { index: 1, hash: head.hash }, records: 1, retentionDays: 180, recent: [record] });
  });

  it('shares one transaction (one fsync) among appends made together, and keeps them chained', async () => {
    const count = 2000;
    const started = performance.now();
    const heads = await Promise.all(Array.from({ length: count }, (_, i) => ledger.recordBatch(batch('clinical', i * 10 + 1))));
    const tookMs = performance.now() - started;
    const { groups, records } = ledger.commitStats;
    console.log(`egress ledger: ${count} concurrent appends in ${tookMs.toFixed(0)} ms (${((count / tookMs) * 1000).toFixed(0)} records/s), ${groups} transactions`);
    expect(records).toBe(count);
    expect(groups).toBeLessThan(10);
    expect(heads.map((h) => h.index)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(ledger.verify()).toMatchObject({ ok: true, records: count });

    const sequential = 200;
    const t = performance.now();
    for (let i = 0; i < sequential; i++) await ledger.recordBatch(batch('clinical', 1));
    const each = (performance.now() - t) / sequential;
    console.log(`egress ledger: one append at a time (each its own fsync): ${each.toFixed(2)} ms per record`);
  });

  it('survives a reopen and continues the same chain', async () => {
    await fill(5);
    db.close();
    db = openAgentDatabase(file);
    ledger = new EgressLedger(db);
    expect(ledger.head()?.index).toBe(5);
    await ledger.recordAdmin('pause', { reason: 'test' }, 'clinical');
    expect(ledger.verify()).toMatchObject({ ok: true, records: 6 });
  });

  it('never forks when another process appends meanwhile (the head is read under the write lock)', async () => {
    await fill(3);
    const record = await recordAdminAction(file, 'key-rotation', { kind: 'pseudonym', keyId: 'p-1' });
    expect(record.index).toBe(4);
    await ledger.recordBatch(batch('clinical', 100));
    const verification = ledger.verify();
    expect(verification).toMatchObject({ ok: true, records: 5 });
    expect(([...ledger.records()] as LedgerRecord[]).map((r) => r.type)).toEqual(['batch', 'batch', 'batch', 'key-rotation', 'batch']);
    expect(() => ledger.recordAdmin('Key Rotation!', {})).toThrow(/lowercase letters/);
  });

  it('commits a state change with its record, or neither', async () => {
    db.exec('CREATE TABLE side (v TEXT)');
    await ledger.append({ type: 'pause', feed: 'clinical', details: {} }, () => db.prepare("INSERT INTO side VALUES ('paused')").run());
    await expect(
      ledger.append({ type: 'resume', feed: 'clinical', details: {} }, () => {
        throw new Error('state write failed');
      }),
    ).rejects.toThrow('state write failed');
    expect(ledger.head()?.index).toBe(1);
    expect(db.prepare('SELECT v FROM side').all()).toEqual([{ v: 'paused' }]);
  });

  describe('tampering with agent.db', () => {
    it('names a record whose field was changed', async () => {
      await fill(10);
      db.prepare(`UPDATE egress_ledger SET details = json_set(details, '$.events', 3) WHERE idx = 5`).run();
      expect(ledger.verify().problems).toEqual([{ index: 5, kind: 'modified', message: expect.stringContaining('record 5 (batch of feed clinical) was modified') }]);
    });

    it('names a deleted record', async () => {
      await fill(10);
      db.prepare('DELETE FROM egress_ledger WHERE idx = 7').run();
      expect(ledger.verify().problems).toEqual([{ index: 7, kind: 'missing', message: 'record 7 is missing (deleted): record 6 is followed by record 8' }]);
    });

    it('names two reordered records', async () => {
      await fill(10);
      db.transaction(() => {
        db.prepare('UPDATE egress_ledger SET idx = -1 WHERE idx = 3').run();
        db.prepare('UPDATE egress_ledger SET idx = 3 WHERE idx = 4').run();
        db.prepare('UPDATE egress_ledger SET idx = 4 WHERE idx = -1').run();
      })();
      expect(ledger.verify().problems).toEqual([
        { index: 3, kind: 'out-of-order', message: 'record 3 holds what was written as record 4: records were reordered' },
        { index: 4, kind: 'out-of-order', message: 'record 4 holds what was written as record 3: records were reordered' },
      ]);
    });

    it('names a cut-off tail against the head the relay received', async () => {
      const records = await fill(20);
      db.prepare('DELETE FROM egress_ledger WHERE idx > 17').run();
      expect(ledger.verify().ok).toBe(true);
      const last = records[19]!;
      const verification = ledger.verify({ relayHeads: [{ relay: 'cloud', feed: last.feed!, index: last.index, hash: last.hash, receivedAtMs: last.atMs }] });
      expect(verification.problems).toEqual([{ index: 20, kind: 'truncated', message: expect.stringContaining('but the local ledger ends at record 17: its tail was cut off') }]);
    });

    it('names a row whose details are not JSON', async () => {
      await fill(4);
      db.prepare(`UPDATE egress_ledger SET details = '{broken' WHERE idx = 2`).run();
      expect(ledger.verify().problems).toEqual([{ index: 2, kind: 'malformed', message: expect.stringContaining('record 2 cannot be read: details are not JSON') }]);
    });
  });

  describe('export for auditors', () => {
    it('writes JSON lines that re-verify, whole or in part, and names a line changed in the file', async () => {
      const records = await fill(12);
      const out = join(dir.path, 'ledger.jsonl');
      expect(await exportLedger(ledger.records(), out)).toMatchObject({ records: 12, firstIndex: 1, lastIndex: 12, unreadable: [] });
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(12);
      expect(JSON.parse(lines[0]!)).toMatchObject({ v: 1, index: 1, prevHash: '0'.repeat(64), hash: records[0]!.hash, type: 'batch' });
      expect(await verifyLedgerFile(out)).toMatchObject({ ok: true, records: 12 });

      const part = join(dir.path, 'part.jsonl');
      await exportLedger(ledger.records(5, 8), part, { fromIndex: 5, toIndex: 8 });
      expect(await verifyLedgerFile(part, { partial: true })).toMatchObject({ ok: true, records: 4, firstIndex: 5 });
      // Read as a whole ledger, the part lacks its first four records.
      expect((await verifyLedgerFile(part)).problems).toEqual([{ index: 1, kind: 'missing', message: 'records 1..4 are missing (deleted): the ledger starts at record 5' }]);

      const tampered = [...lines];
      tampered[6] = tampered[6]!.replace('"events":10', '"events":11');
      writeFileSync(out, `${tampered.join('\n')}\n`);
      expect((await verifyLedgerFile(out)).problems).toEqual([{ index: 7, kind: 'modified', message: expect.stringContaining('record 7') }]);
      const swapped = [...lines];
      [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
      writeFileSync(out, `${swapped.join('\n')}\n`);
      expect((await verifyLedgerFile(out)).problems).toEqual([{ index: 4, kind: 'out-of-order', message: 'record 4 appears after record 5: records were reordered' }]);
      writeFileSync(out, `${lines.filter((_, i) => i !== 9).join('\n')}\n`);
      expect((await verifyLedgerFile(out)).problems).toEqual([{ index: 10, kind: 'missing', message: 'record 10 is missing (deleted): record 9 is followed by record 11' }]);
      writeFileSync(out, `${lines.slice(0, 2).join('\n')}\nnot json\n`);
      expect((await verifyLedgerFile(out)).problems).toEqual([{ index: 3, kind: 'malformed', message: expect.stringContaining('line 3 is not JSON') }]);
    });

    it('is read by the audit commands read-only, while the agent holds the database', async () => {
      await fill(3);
      const audit = openLedgerForAudit(file);
      try {
        expect(audit.ledger.verify()).toMatchObject({ ok: true, records: 3 });
        await ledger.recordBatch(batch('clinical', 500));
        expect(audit.ledger.verify()).toMatchObject({ ok: true, records: 4 });
        await expect(audit.ledger.recordAdmin('tamper', {})).rejects.toThrow(/readonly/);
      } finally {
        audit.close();
      }
      expect(() => openLedgerForAudit(join(dir.path, 'nothing.db'))).toThrow(/does not exist/);
      const old = new Database(join(dir.path, 'old.db'));
      old.exec('CREATE TABLE journal (seq INTEGER)');
      old.close();
      expect(() => openLedgerForAudit(join(dir.path, 'old.db'))).toThrow(/has no egress ledger/);
    });
  });
});
