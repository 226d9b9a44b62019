// A page streamed in chunks must be the page one read would give: pageExtent
// (seqs and body sizes only) ends where readEvents ends, for every cursor, limit
// and byte bound; readEvents with untilSeq reads no further.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { nextCursor } from '../../cloud-relay/feeds/feed-cursor.js';
import { makeTempDir } from '../support/temp-dir.js';
import { makeEvent } from './relay-harness.js';

describe('SqliteFeedStore.pageExtent', () => {
  const dir = makeTempDir('wardline-page-extent-');
  const store = SqliteFeedStore.open({ file: join(dir.path, 'relay.db') });
  // Seqs 1..40 with gaps (policy-filtered seqs) and bodies of 10..400 bytes; the mark runs past the last event.
  const events = Array.from({ length: 40 }, (_, i) => i + 1)
    .filter((seq) => seq % 7 !== 0)
    .map((seq) => makeEvent(seq, { body: Buffer.alloc(10 + ((seq * 37) % 391), 0x61) }));
  beforeAll(() => store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: 45, events }));
  afterAll(async () => {
    await store.close();
    dir.remove();
  });

  it('ends where readEvents ends, with the same next cursor, for every cursor, limit and byte bound', async () => {
    for (const after of [0, 6, 7, 20, 39, 40, 45]) {
      for (const limit of [1, 3, 10, 100]) {
        for (const maxBytes of [1, 250, 1_000, 1_000_000]) {
          const page = await store.readEvents('h1', 'adt', after, limit, maxBytes);
          const extent = await store.pageExtent('h1', 'adt', after, limit, maxBytes);
          const label = JSON.stringify({ after, limit, maxBytes });
          expect(extent, label).toEqual({
            highWater: 45,
            lastSeq: page.events.at(-1)?.seq,
            events: page.events.length,
            complete: page.complete,
            prevSeq: page.prevSeq,
            retentionFloorSeq: page.retentionFloorSeq,
          });
          expect(nextCursor(after, extent), label).toBe(nextCursor(after, page));
        }
      }
    }
  });

  it('reads no further than untilSeq, and says complete once it got there', async () => {
    const chunk = await store.readEvents('h1', 'adt', 0, 100, 1_000_000, 10);
    expect(chunk.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10]);
    expect(chunk.complete).toBe(true);
    expect(chunk.highWater).toBe(45);
  });
});
