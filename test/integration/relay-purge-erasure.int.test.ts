// Revoke, and purge, of feeds of 1,000,000 events on a real relay store (one
// SQLite file in a data dir, WAL mode): afterwards not one of the marker strings
// their bodies carried is found in any file of the data dir (the database, its
// -wal and -shm, the key files), read as raw bytes; a feed kept beside them still
// is (the search does find what is there). The purge receipt verifies with
// Debian's minisign and its roots equal scanFeed's taken before — the function
// the export writes its manifest's roots with.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedPurger, type PurgeReceipt } from '../../cloud-relay/exit/index.js';
import { RELAY_SIGNING_KEY_NAME } from '../../cloud-relay/main.js';
import { relayDatabaseFile, scanFeed, SqliteBlobStore, relayBlobDir, SqliteFeedStore, type FeedScan } from '../../cloud-relay/store/index.js';
import type { JournalEvent } from '../../protocol/index.js';
import { loadOrCreateSigningKey, signingKeyPaths } from '../../runtime/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const EVENTS = 1_000_000;
const BATCH_EVENTS = 50_000;
/** Each body carries one of these per feed, so every page of the feed holds several. */
const MARKERS_PER_FEED = 16;
const marker = (feed: string, k: number) => `ZZMARK-${feed}-${k.toString(36).padStart(2, '0')}-QQ`;

function makeEvent(feed: string, seq: number): JournalEvent {
  const body = Buffer.from(`MSH|^~\\&|HIS|WARD|||20260101||ADT^A01|${seq}|P|2.5\rPID|1||${seq}^^^HOSP||${marker(feed, seq % MARKERS_PER_FEED)}^PATIENT||19700101|F\r`);
  return { seq, stream: 'adt', key: String(seq), op: 'upsert', tsMs: 1_767_225_600_000 + seq, source: 'his', contentType: 'hl7v2', body, headers: {} };
}

async function fill(store: SqliteFeedStore, hospital: string, feed: string, events: number): Promise<void> {
  for (let first = 1; first <= events; first += BATCH_EVENTS) {
    const last = Math.min(events, first + BATCH_EVENTS - 1);
    const batch = [];
    for (let seq = first; seq <= last; seq++) batch.push(makeEvent(feed, seq));
    const stored = await store.storeBatch({ hospital, feed, firstSeq: first, lastSeq: last, events: batch });
    expect(stored.decision.kind).toBe('append');
  }
}

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/** Which of `markers` occur in which file of `dir`, read as raw bytes. */
function markersFound(dir: string, markers: readonly string[]): { file: string; marker: string }[] {
  const found: { file: string; marker: string }[] = [];
  for (const file of filesUnder(dir)) {
    const bytes = readFileSync(file);
    for (const m of markers) if (bytes.includes(Buffer.from(m))) found.push({ file, marker: m });
  }
  return found;
}

const markersOf = (feed: string) => Array.from({ length: MARKERS_PER_FEED }, (_, k) => marker(feed, k));

describe('relay: revoke and purge of 1,000,000-event feeds leave none of their bytes in the data dir', () => {
  const dir = makeTempDir('wardline-purge-');
  const dataDir = join(dir.path, 'data');
  const file = relayDatabaseFile(dataDir);
  let store: SqliteFeedStore;
  let blobs: SqliteBlobStore;
  let purger: FeedPurger;
  let before: FeedScan;
  const figures: string[] = [];

  beforeAll(async () => {
    store = SqliteFeedStore.open({ file });
    blobs = SqliteBlobStore.open({ file, dir: relayBlobDir(dataDir) });
    const { key } = loadOrCreateSigningKey(dataDir, RELAY_SIGNING_KEY_NAME);
    purger = new FeedPurger({ store, blobs, signingKey: key, relayId: 'relay-test', now: Date.now });
    let started = performance.now();
    await fill(store, 'h1', 'revoked', EVENTS);
    await fill(store, 'h1', 'purged', EVENTS);
    await fill(store, 'h1', 'kept', 1_000);
    figures.push(`wrote 2 x ${EVENTS} events in ${((performance.now() - started) / 1000).toFixed(1)} s; database ${(statSync(file).size / 1e6).toFixed(0)} MB`);
    started = performance.now();
    before = await scanFeed(store, 'h1', 'purged');
    figures.push(`scanFeed over ${before.events} events: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // Everything is on disk somewhere before the deletions: the search finds it.
    expect(markersFound(dataDir, [...markersOf('revoked'), ...markersOf('purged')]).length).toBeGreaterThan(0);
  }, 600_000);

  afterAll(async () => {
    console.log(figures.join('\n'));
    await blobs?.close();
    await store?.close();
    dir.remove();
  });

  it('revoke: every event deleted and erased', async () => {
    const started = performance.now();
    const outcome = await store.revokeFeed({ hospital: 'h1', feed: 'revoked', reason: 'test' });
    figures.push(`revoke of ${outcome.eventsDeleted} events: ${((performance.now() - started) / 1000).toFixed(1)} s (${JSON.stringify(outcome.erasure)})`);
    expect(outcome.eventsDeleted).toBe(EVENTS);
    expect(outcome.erasure.walTruncated).toBe(true);
  }, 600_000);

  it('purge: deleted, erased, receipt signed over the roots scanFeed (the export) took before', async () => {
    const started = performance.now();
    const result = await purger.purge({ hospital: 'h1', feed: 'purged', reason: 'hospital request', requestedBy: 'test' });
    const seconds = (performance.now() - started) / 1000;
    const receipt = result.receipt as PurgeReceipt;
    figures.push(`purge of ${receipt.feeds[0]!.eventsDeleted} events (${receipt.feeds[0]!.bytesDeleted} body bytes) with secure_delete, WAL truncate and vacuum: ${seconds.toFixed(1)} s (${JSON.stringify(receipt.erasure)}); database now ${(statSync(file).size / 1e6).toFixed(1)} MB`);
    expect(result.alreadyPurged).toBe(false);
    expect(receipt).toMatchObject({ format: 'wardline-purge-receipt-v1', relayId: 'relay-test', hospital: 'h1', scope: 'feed', requestedBy: 'test', reason: 'hospital request' });
    expect(receipt.feeds).toEqual([
      expect.objectContaining({
        feed: 'purged',
        highWaterSeq: EVENTS,
        visibleSeq: EVENTS,
        events: before.events,
        bodyBytes: before.bodyBytes,
        treeSize: EVENTS,
        merkleRoot: before.root.toString('hex'),
        eventsDeleted: EVENTS,
        bytesDeleted: before.bodyBytes,
        revokedBefore: null,
      }),
    ]);
    expect(receipt.erasure.walTruncated).toBe(true);

    // The stock tool checks it, with the public key from the data dir.
    const receiptFile = join(dir.path, 'receipt.json');
    writeFileSync(receiptFile, result.text);
    writeFileSync(`${receiptFile}.minisig`, result.signature);
    const pub = signingKeyPaths(dataDir, RELAY_SIGNING_KEY_NAME).publicKeyFile;
    const verified = spawnSync('minisign', ['-V', '-m', receiptFile, '-p', pub], { encoding: 'utf8' });
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stdout).toContain('hospital=h1 feeds=purged');
    // One byte changed: the stock tool refuses it.
    writeFileSync(receiptFile, result.text.replace('"events": 1000000', '"events": 1000001'));
    expect(spawnSync('minisign', ['-V', '-m', receiptFile, '-p', pub]).status).not.toBe(0);

    // Asked again: the kept receipt, nothing deleted.
    const again = await purger.purge({ hospital: 'h1', feed: 'purged', reason: 'again', requestedBy: 'test' });
    expect(again).toMatchObject({ alreadyPurged: true, text: result.text, signature: result.signature });
  }, 600_000);

  it('no marker of the revoked or purged feed is in any file of the data dir, WAL and -shm included; the kept feed\'s are', () => {
    const files = filesUnder(dataDir).map((f) => f.slice(dataDir.length + 1));
    expect(files).toEqual(expect.arrayContaining(['relay.db', 'relay.db-wal', 'relay.db-shm']));
    expect(markersFound(dataDir, [...markersOf('revoked'), ...markersOf('purged')])).toEqual([]);
    expect(markersFound(dataDir, markersOf('kept')).length).toBeGreaterThan(0);
  });

  it('a purged feed\'s batches are refused as a revoked feed\'s; unknown hospital and feed are refused, nothing deleted', async () => {
    const stored = await store.storeBatch({ hospital: 'h1', feed: 'purged', firstSeq: EVENTS + 1, lastSeq: EVENTS + 1, events: [makeEvent('purged', EVENTS + 1)] });
    expect(stored.decision.kind).toBe('revoked');
    await expect(purger.purge({ hospital: 'h9', feed: 'adt', reason: '', requestedBy: 'test' })).rejects.toMatchObject({ code: 'WL_PURGE_UNKNOWN_HOSPITAL' });
    await expect(purger.purge({ hospital: 'h1', feed: 'nope', reason: '', requestedBy: 'test' })).rejects.toThrow(/hospital "h1" has no feed "nope" on this relay; nothing was deleted — it holds "kept", "purged", "revoked"/);
    expect((await store.readEvents('h1', 'kept', 0, 10)).events).toHaveLength(10);
  });
});
