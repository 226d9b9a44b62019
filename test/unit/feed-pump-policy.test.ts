// The feed pump with a policy: every batch leaves shaped, carries the policy's
// version, and still fits the relay's batch limit when the policy makes events
// larger than they were journaled (encrypted short values).
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Uplink } from '../../agent/bandwidth/index.js';
import { compileFeedPolicy, decryptField } from '../../agent/policy/index.js';
import { FeedPump } from '../../agent/replication/feed-pump.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { decodeEvents, pb } from '../../protocol/index.js';
import { FakeRelay } from '../support/fake-relay-transport.js';
import { makeTempDir } from '../support/temp-dir.js';

const KEYS = { pseudonym: { id: 'p-1', secret: Buffer.alloc(32, 1) }, encryption: { id: 'e-1', secret: Buffer.alloc(32, 2) } };
const MAX_BATCH_BYTES = 8 * 1024;

describe('FeedPump with a policy', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  beforeEach(() => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  it('sends every event shaped, with the policy version, in batches that fit the relay even when the policy makes them larger', async () => {
    const policy = compileFeedPolicy({ name: 'f', streams: ['rows'], policy: { default: 'drop', key: 'hash', scan: false, streams: { rows: { fields: { '$.a': 'encrypt', '$.b': 'encrypt', '$.c': 'encrypt' } } } } }, KEYS)!;
    await journal.append({
      source: 'test',
      events: Array.from({ length: 600 }, (_, i) => ({ stream: 'rows', key: `k${i}`, op: 'upsert' as const, contentType: 'json', body: Buffer.from(JSON.stringify({ key: `k${i}`, a: 1, b: 2, c: i })), headers: {} })),
    });
    const uplink = new Uplink({ classes: ['standard'] });
    const pump = new FeedPump({
      spec: { name: 'f', streams: ['rows'], policyVersion: policy.version, policy },
      journal,
      uplink,
      codec: 'none',
      limits: { maxEvents: 2000, maxBytes: MAX_BATCH_BYTES, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 60_000,
      savedAckedSeq: 0,
      clock: Date.now,
    });
    // The relay's end acknowledges every batch at once and keeps it.
    const session = new FakeRelay({ relayId: 'scripted', maxBatchBytes: MAX_BATCH_BYTES }).session({ onAck: (_feed, seq, duplicate) => pump.onAck(seq, duplicate) });
    const controller = new AbortController();
    pump.reset(0);
    pump.start({ session, signal: controller.signal, maxBatchBytes: MAX_BATCH_BYTES });
    try {
      const deadline = Date.now() + 10_000;
      while (pump.window.ackedSeq < 600 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(pump.window.ackedSeq).toBe(600);
    } finally {
      controller.abort();
      uplink.close();
    }
    expect(session.sent.every((b) => b.policyVersion === policy.version)).toBe(true);
    expect(Math.max(...session.sent.map((b) => b.payload.length))).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    const events = session.sent.flatMap((b) => decodeEvents({ ...b, codec: pb.Codec.CODEC_NONE }));
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    const row = JSON.parse(events[41]!.body.toString('utf8')) as Record<string, string>;
    expect(decryptField(row.c!, () => KEYS.encryption)).toBe('41');
    expect(row.key).toBe(events[41]!.key);
    expect(events[41]!.key).toMatch(/^ps:p-1:/);
    expect(pump.status()).toMatchObject({ policyVersion: policy.version, identifiers: { enabled: false, checkedThroughSeq: 600 } });
  });
});
