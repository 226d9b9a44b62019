// A revoke must leave nothing of the feed readable on the relay's disk: the
// events of a feed carrying unique marker strings (an MRN and a resident ID in
// PID segments) are replicated, the feed is revoked, the relay stops cleanly,
// and every file in its data directory is scanned for the markers.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { pb } from '../../protocol/index.js';
import { RelayErrorCode } from '../../cloud-relay/index.js';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent } from '../integration/relay-harness.js';

const EVENTS = 2_512;
const BATCH = 200;
/** Unique per run and per event, and unlike anything else in the file. */
const RUN = `ZQ${Date.now().toString(36).toUpperCase()}`;
const mrn = (seq: number) => `MRN${RUN}X${String(seq).padStart(5, '0')}`;

function pidEvent(seq: number) {
  const body = `MSH|^~\\&|HIS|H1|||20240101080000||ADT^A08|MSG${seq}|P|2.5\rPID|1||${mrn(seq)}^^^H1^MR~11010519491231002X^^^CHN^NNCHN||王^小明||19491231|M|||北京市朝阳区${RUN}路${seq}号`;
  return makeEvent(seq, { key: mrn(seq), body: Buffer.from(body, 'utf8') });
}

/** How many of the markers appear, in clear, in each file under `dir` (the blob store's folders too). */
function markersOnDisk(dir: string): Record<string, number> {
  const found: Record<string, number> = {};
  const pattern = new RegExp(`MRN${RUN}X\\d{5}`, 'g');
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const text = readFileSync(path).toString('latin1');
    found[path.slice(dir.length + 1)] = new Set(text.match(pattern) ?? []).size;
  }
  return found;
}

describe('relay ingest: revoke erases the feed from disk', () => {
  const relay = new TestRelay();
  afterAll(() => relay.close());

  it(`leaves none of ${EVENTS} identifiers of a revoked feed in any file of the data dir, and says only what is true`, async () => {
    await relay.start();
    const { stream } = await connectAgent(relay, 'h1', ['adt', 'results']);
    for (let first = 1; first <= EVENTS; first += BATCH) {
      const last = Math.min(EVENTS, first + BATCH - 1);
      const events = Array.from({ length: last - first + 1 }, (_, i) => pidEvent(first + i));
      expect((await stream.exchange(makeBatch('adt', first, last, events))).body).toBe('ack');
    }
    // Another feed of the same hospital, interleaved in the same pages, stays.
    expect((await stream.exchange(makeBatch('results', 1, 50))).body).toBe('ack');
    const before = markersOnDisk(relay.dataDir);
    expect(Object.values(before).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    stream.call.write(pb.AgentMessage.create({ revoke: { feed: 'adt', reason: 'contract ended' } }));
    const answer = await stream.next(30_000);
    expect(answer.revoked).toMatchObject({ feed: 'adt', eventsDeleted: EVENTS });
    // Already before the stop: a relay killed right after answering leaves nothing either.
    const answered = markersOnDisk(relay.dataDir);
    expect(Object.values(answered).reduce((a, b) => a + b, 0)).toBe(0);

    // What a vendor is told: revoked and not served; nothing about copies it cannot speak for.
    const gone = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0&hospital=h1`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect(gone.status).toBe(410);
    const { error } = (await gone.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe(RelayErrorCode.FEED_REVOKED);
    expect(error.message).toMatch(/erased from this relay's database/);

    stream.end();
    await relay.relay!.stop();
    const after = markersOnDisk(relay.dataDir);
    console.info(`marker identifiers on disk: before revoke ${JSON.stringify(before)}, once answered ${JSON.stringify(answered)}, after a clean stop ${JSON.stringify(after)}`);
    expect(after).toEqual(Object.fromEntries(Object.keys(after).map((name) => [name, 0])));

    // The other feed is intact.
    await relay.start();
    const kept = await fetch(`${relay.httpBase}/v1/feeds/results/events?after=0&hospital=h1`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
    expect((await kept.text()).trim().split('\n')).toHaveLength(50);
  }, 60_000);

  it('erases a revoked feed from a database made before auto_vacuum with one VACUUM, which converts it', async () => {
    const dir = makeTempDir('wardline-legacy-');
    try {
      const file = join(dir.path, 'relay.db');
      // What an older relay made: no auto_vacuum, and deletions that left their bytes in free pages.
      const legacy = new Database(file);
      legacy.pragma('page_size = 16384');
      legacy.pragma('journal_mode = WAL');
      legacy.exec('CREATE TABLE scratch (body TEXT)');
      legacy.close();
      const store = SqliteFeedStore.open({ file });
      const events = Array.from({ length: 300 }, (_, i) => pidEvent(i + 1));
      await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: 300, events });
      const outcome = await store.revokeFeed({ hospital: 'h1', feed: 'adt', reason: 'test' });
      expect(outcome.erasure).toMatchObject({ walTruncated: true, vacuum: 'full' });
      await store.close();
      expect(Object.values(markersOnDisk(dir.path)).reduce((a, b) => a + b, 0)).toBe(0);
      const after = new Database(file, { readonly: true });
      expect(after.pragma('auto_vacuum', { simple: true })).toBe(2);
      after.close();
    } finally {
      dir.remove();
    }
  });
});
