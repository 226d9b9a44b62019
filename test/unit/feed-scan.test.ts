// scanFeed over a real SqliteFeedStore: every event through the visible seq, in
// order, across pages, hashed into the same root the RFC 9162 tree gives for
// those events — and nothing of a transaction vendors cannot see yet.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { feedLeafHash, merkleRoot, EMPTY_TREE_ROOT } from '../../protocol/index.js';
import { scanFeed, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { makeEvents } from '../integration/relay-harness.js';
import { makeTempDir } from '../support/temp-dir.js';

const dir = makeTempDir('wardline-feed-scan-');
let store: SqliteFeedStore | undefined;
afterEach(async () => {
  await store?.close();
});

describe('scanFeed', () => {
  it('visits every visible event in seq order over several pages and gives their RFC 9162 root', async () => {
    store = SqliteFeedStore.open({ file: join(dir.path, 'pages', 'relay.db') });
    const events = makeEvents(1, 4_500).filter((e) => e.seq % 7 !== 0);
    await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: 4_500, events, journalHeadSeq: 4_500 });
    const seen: number[] = [];
    const scan = await scanFeed(store, 'h1', 'adt', (event) => {
      seen.push(event.seq);
    });
    expect(seen).toEqual(events.map((e) => e.seq));
    expect(scan.throughSeq).toBe(4_500);
    expect(scan.events).toBe(events.length);
    expect(scan.bodyBytes).toBe(events.reduce((sum, e) => sum + e.body.length, 0));
    expect(scan.root.equals(merkleRoot(events.map((e) => feedLeafHash(e.seq, e.body))))).toBe(true);
  });

  it('stops at the visible seq, and gives the empty tree for a feed never written', async () => {
    store = SqliteFeedStore.open({ file: join(dir.path, 'visible', 'relay.db') });
    await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: 6, events: makeEvents(1, 6), journalHeadSeq: 6, completeThroughSeq: 4 });
    const scan = await scanFeed(store, 'h1', 'adt');
    expect(scan.throughSeq).toBe(4);
    expect(scan.events).toBe(4);
    const empty = await scanFeed(store, 'h1', 'never');
    expect(empty.events).toBe(0);
    expect(empty.root.equals(EMPTY_TREE_ROOT)).toBe(true);
  });
});
