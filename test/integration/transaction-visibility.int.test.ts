// One source transaction larger than a replication batch, replicated by a real
// agent journal and replicator over gRPC to a real relay while a vendor polls the
// relay's HTTP feed: the relay stores the transaction batch by batch, and no page
// the vendor reads ever holds part of it.
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Uplink } from '../../agent/bandwidth/index.js';
import { GrpcRelayTransport, Replicator } from '../../agent/replication/index.js';
import { FeedAcks, Journal, openAgentDatabase, type EventInput, type SqliteDatabase } from '../../agent/store/index.js';
import { HIGH_WATER_HEADER } from '../../cloud-relay/index.js';
import { SECRETS, TestRelay, VENDOR_KEYS } from './relay-harness.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const FEED = 'adt';
const BEFORE = 5;
/** Bigger than a batch (BATCH_EVENTS), yet within one vendor page (10,000 events), so a page can hold it whole. */
const TRANSACTION = 8_000;
const AFTER = 5;
const TOTAL = BEFORE + TRANSACTION + AFTER;
const BATCH_EVENTS = 500;

const row = (key: string): EventInput => ({ stream: FEED, key, op: 'upsert', contentType: 'json', body: Buffer.from(JSON.stringify({ key, pad: 'x'.repeat(180) })), headers: {} });

describe('a source transaction larger than a batch, read by a vendor while it replicates', () => {
  const relay = new TestRelay();
  const dir = makeTempDir('wardline-txvis-');
  let db: SqliteDatabase;
  let journal: Journal;
  let replicator: Replicator;

  beforeAll(async () => {
    await relay.start();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
    replicator = new Replicator({
      relayName: 'cloud',
      transport: new GrpcRelayTransport({
        address: relay.grpcAddress,
        connectTimeoutMs: 3_000,
        handshakeTimeoutMs: 3_000,
        keepaliveTimeMs: 10_000,
        keepaliveTimeoutMs: 5_000,
        maxSendBytes: 4 << 20,
        tls: undefined,
      }),
      journal,
      feedAcks: new FeedAcks(db),
      feeds: [{ name: FEED, streams: [FEED], policyVersion: 0, class: 'standard' }],
      hello: { hospitalId: 'h1', agentId: 'txvis-agent', agentVersion: '0.0.0-test', secret: SECRETS.h1 },
      codec: 'none',
      limits: { maxEvents: BATCH_EVENTS, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      ackTimeoutMs: 10_000,
      emptyBatchIntervalMs: 1_000,
      ackPersistIntervalMs: 1_000,
      backoff: { initialMs: 100, maxMs: 500, multiplier: 2, jitter: 0 },
      log: pino({ level: 'silent' }),
      // About 1 MB/s, so the transaction's batches reach the relay over a second or
      // two and the vendor reads many times while the relay holds only part of it.
      uplink: new Uplink({ classes: ['standard'], policy: { rateBytesPerSecond: 1_000_000, windowsInForce: [], blocked: [], nextChange: null } }),
    });
    replicator.start();
  });

  afterAll(async () => {
    await replicator?.stop();
    db?.close();
    await relay.close();
    dir.remove();
  });

  /** One page from the start of the feed: its seqs and the relay's visible mark. */
  const readPage = async (): Promise<{ seqs: number[]; highWater: number }> => {
    const response = await fetch(`${relay.httpBase}/v1/feeds/${FEED}/events?after=0&limit=10000`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect(response.status).toBe(200);
    const lines = (await response.text()).split('\n').filter((line) => line.length > 0);
    return { seqs: lines.map((line) => (JSON.parse(line) as { seq: number }).seq), highWater: Number(response.headers.get(HIGH_WATER_HEADER)) };
  };

  it('shows every page either none or all of the transaction, and the events before it', { timeout: 60_000 }, async () => {
    for (let i = 0; i < BEFORE; i++) await journal.append({ source: 'his', events: [row(`before-${i}`)] });
    await until('the events before the transaction at the vendor', () => readPage(), (page) => page.seqs.length === BEFORE, { timeoutMs: 10_000, pollMs: 20 });

    const appended = journal.append({ source: 'his', events: Array.from({ length: TRANSACTION }, (_, i) => row(`tx-${i}`)) });
    expect((await appended).seqs).toEqual(Array.from({ length: TRANSACTION }, (_, i) => BEFORE + 1 + i));
    for (let i = 0; i < AFTER; i++) await journal.append({ source: 'his', events: [row(`after-${i}`)] });

    let pages = 0;
    let heldBack = 0;
    const deadline = Date.now() + 45_000;
    for (;;) {
      // Acked means stored at the relay: read before the page, so the page comes after it.
      const acked = replicator.feedStatus(FEED)!.ackedSeq;
      const page = await readPage();
      pages++;
      // Every page is the feed from its start: contiguous seqs 1..n.
      expect(page.seqs).toEqual(Array.from({ length: page.seqs.length }, (_, i) => i + 1));
      const ofTransaction = page.seqs.filter((seq) => seq > BEFORE && seq <= BEFORE + TRANSACTION).length;
      expect([0, TRANSACTION]).toContain(ofTransaction);
      expect(page.highWater < BEFORE + 1 || page.highWater >= BEFORE + TRANSACTION).toBe(true);
      if (acked > BEFORE && acked < BEFORE + TRANSACTION && ofTransaction === 0) heldBack++;
      if (page.seqs.length === TOTAL) break;
      if (Date.now() > deadline) throw new Error(`the vendor saw ${page.seqs.length} of ${TOTAL} events after ${pages} pages`);
    }
    // The relay held part of the transaction while the vendor read, and did not show it.
    expect(heldBack).toBeGreaterThan(0);
    // The transaction crossed the wire in several batches, not one.
    expect(replicator.feedStatus(FEED)!.batchesAcked).toBeGreaterThan(TRANSACTION / BATCH_EVENTS);
  });
});
