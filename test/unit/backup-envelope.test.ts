// The backup feed's envelope and sealer: a journal event and what restore needs
// around it survive the round trip exactly, the relay sees only a token, and
// the wrong keys or a moved event are refused by name. The sealer runs over a
// real journal in a real SQLite file; the config rules through the agent schema.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../agent/config.js';
import { JournalBackupSealer, openBackupEvent, RestoreExportUnusableError, RestoreWrongKeysError, sealBackupRecord, BACKUP_CONTENT_TYPE } from '../../agent/exit/index.js';
import { BacklogCounter, Journal, openAgentDatabase } from '../../agent/store/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const key = { id: 'e-20261203-aaaa', secret: randomBytes(32) };
const lookup = (id: string) => (id === key.id ? key : undefined);

const event: JournalEvent = {
  seq: 42,
  stream: 'adt',
  key: 'MRN-0001',
  op: 'upsert',
  tsMs: 1_764_000_000_123,
  source: 'lis-mllp',
  contentType: 'hl7v2',
  body: Buffer.from('MSH|^~\\&|LIS|H1|||20261203||ORU^R01|C1|P|2.5\rPID|1||MRN-0001||张^三\r', 'utf8'),
  headers: { controlId: 'C1', messageType: 'ORU^R01' },
};

describe('backup envelope', () => {
  it('round-trips the whole row with its dedupe key, positions and append range, and leaves only a token', () => {
    const record = {
      event,
      dedupe: { scope: 'LIS|H1', id: 'C1', digest: 'abc', eventCount: 3, receivedAtMs: 1_764_000_000_100 },
      positions: [{ source: 'lis-mllp', position: 'p-7', updatedAtMs: 1_764_000_000_123 }],
      transaction: { firstSeq: 42, lastSeq: 44 },
    };
    const sealed = sealBackupRecord(record, key);
    expect(sealed).toMatchObject({ seq: 42, stream: 'backup', key: '42', op: 'upsert', tsMs: event.tsMs, source: 'backup', contentType: BACKUP_CONTENT_TYPE, headers: {} });
    expect(sealed.body.toString('utf8')).toMatch(/^enc:v1:e-20261203-aaaa:[A-Za-z0-9_-]+$/);
    expect(sealed.body.toString('utf8')).not.toContain('MRN-0001');
    expect(openBackupEvent(sealed, lookup)).toEqual(record);
    const bare = sealBackupRecord({ event: { ...event, op: 'delete', body: Buffer.alloc(0), headers: {} } }, key);
    expect(openBackupEvent(bare, lookup)).toEqual({ event: { ...event, op: 'delete', body: Buffer.alloc(0), headers: {} } });
  });

  it('refuses a keyring without the key, and a key of the same id that is not the hospital one, naming the key id', () => {
    const sealed = sealBackupRecord({ event }, key);
    expect(() => openBackupEvent(sealed, () => undefined)).toThrow(RestoreWrongKeysError);
    expect(() => openBackupEvent(sealed, () => undefined)).toThrow(/encrypted with key e-20261203-aaaa, which the keyring in keys.dir does not hold/);
    const impostor = { id: key.id, secret: randomBytes(32) };
    expect(() => openBackupEvent(sealed, () => impostor)).toThrow(/key e-20261203-aaaa, which does not decrypt with the key of that id/);
    try {
      openBackupEvent(sealed, () => impostor);
    } catch (error) {
      expect((error as RestoreWrongKeysError).code).toBe('WL_A037');
      expect((error as RestoreWrongKeysError).keyId).toBe(key.id);
    }
  });

  it('refuses an event moved to another seq, a body that is no token, and another content type', () => {
    const sealed = sealBackupRecord({ event }, key);
    expect(() => openBackupEvent({ ...sealed, seq: 43 }, lookup)).toThrow(/event 43 holds the event of seq 42: it was moved/);
    expect(() => openBackupEvent({ ...sealed, body: Buffer.from('plain text') }, lookup)).toThrow(RestoreExportUnusableError);
    expect(() => openBackupEvent({ ...sealed, contentType: 'json' }, lookup)).toThrow(/content type "json"/);
  });
});

describe('backup sealer over the journal', () => {
  const dir = makeTempDir('wardline-backup-sealer-');
  afterAll(() => dir.remove());

  it('carries each dedupe key on the first event of its append, each position on the last event of its append, each append range on its first event', async () => {
    const db = openAgentDatabase(join(dir.path, 'agent.db'));
    const journal = new Journal(db, { clock: () => 1_764_000_000_000 });
    const row = (key: string) => ({ stream: 'his.patient', key, op: 'upsert' as const, contentType: 'json', body: Buffer.from(`{"id":"${key}"}`), headers: {} });
    await journal.append({ source: 'cdc', events: [row('a'), row('b'), row('c')], dedupe: { scope: 'cdc', id: 'tx1' }, position: 'lsn/1' });
    await journal.append({ source: 'mllp', events: [row('d')], dedupe: { scope: 'LIS', id: 'C9', digest: 'd9' } });
    const sealer = new JournalBackupSealer(db, key);
    const first = journal.readRange([], 0, { maxEvents: 2, maxBytes: 1 << 20, maxScan: 100 })!;
    expect(first.events.map((e) => e.seq)).toEqual([1, 2]);
    const opened = sealer.seal(first).map((e) => openBackupEvent(e, lookup));
    expect(opened[0]).toMatchObject({ dedupe: { scope: 'cdc', id: 'tx1', digest: '', eventCount: 3 }, transaction: { firstSeq: 1, lastSeq: 3 } });
    expect(opened[0]!.positions).toBeUndefined();
    expect(opened[1]).toEqual({ event: first.events[1] });
    // The position saved with the first append belongs to its last event (seq 3), in the next range.
    await journal.append({ source: 'cdc', events: [row('e')], position: 'lsn/2' });
    const rest = journal.readRange([], 2, { maxEvents: 100, maxBytes: 1 << 20, maxScan: 100 })!;
    const later = sealer.seal(rest).map((e) => openBackupEvent(e, lookup));
    expect(later.map((r) => r.event.seq)).toEqual([3, 4, 5]);
    // lsn/1 moved on to lsn/2 before this read: it travels with seq 5 only, never ahead of its events.
    expect(later[0]!.positions).toBeUndefined();
    expect(later[1]).toMatchObject({ dedupe: { scope: 'LIS', id: 'C9', digest: 'd9', eventCount: 1 } });
    expect(later[2]!.positions).toEqual([{ source: 'cdc', position: 'lsn/2', updatedAtMs: 1_764_000_000_000 }]);
    // A local-only stream never leaves, not even sealed; the range still covers its seq.
    await journal.append({ source: 'http', events: [{ ...row('x'), stream: 'lab.local' }] });
    const localOnly = new JournalBackupSealer(db, key, new Set(['lab.local']));
    const tail = journal.readRange([], 5, { maxEvents: 100, maxBytes: 1 << 20, maxScan: 100 })!;
    expect(tail.events.map((e) => e.stream)).toEqual(['lab.local']);
    expect(localOnly.seal(tail)).toEqual([]);
    // Status counts a backup feed's backlog over every stream, as it sends.
    expect(new BacklogCounter(db, journal).backlog('backup', [], 2)).toMatchObject({ events: 4, oldestTsMs: 1_764_000_000_000 });
    db.close();
  });
});

describe('backup feed config', () => {
  const base = {
    hospital: { id: 'h1' },
    dataDir: './data',
    relays: [{ name: 'r', address: '127.0.0.1:1', secret: 's', allowPlaintext: true }],
  };
  const problems = (feeds: unknown[], keys: unknown = { dir: './keys' }) => {
    const result = AgentConfigSchema.safeParse({ ...base, feeds, ...(keys ? { keys } : {}) });
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('takes a backup feed without streams or policy, with keys', () => {
    expect(problems([{ name: 'backup', relay: 'r', backup: true }])).toEqual([]);
  });

  it('refuses streams or a policy on a backup feed, a backup feed without keys, and an ordinary feed without streams', () => {
    expect(problems([{ name: 'backup', relay: 'r', backup: true, streams: ['adt'] }])).toEqual(['feeds.0.streams: remove it: a backup feed carries every stream']);
    expect(problems([{ name: 'backup', relay: 'r', backup: true, policy: { default: 'keep' } }])[0]).toMatch(/^feeds.0.policy: remove it: a backup feed sends every event whole/);
    expect(problems([{ name: 'backup', relay: 'r', backup: true }], null)[0]).toMatch(/^feeds.0.backup: a backup feed needs keys.dir with an encryption key/);
    expect(problems([{ name: 'clinical', relay: 'r' }])).toEqual(['feeds.0.streams: expected at least one stream (only a feed with backup: true carries every stream)']);
  });
});
