// ConsumerPositions on real relay.db files: a commit is range-checked against
// the feed (past the head, below the retention floor: CursorOutOfRangeError),
// get() of a name never committed is ConsumerNotFoundError, startCursor() is the
// committed cursor or 0, remove() forgets the consumer; bad names and cursors
// are refused naming the parameter.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError, ConsumerNotFoundError, CursorOutOfRangeError, RelayErrorCode } from '../../cloud-relay/errors.js';
import { ConsumerPositions, VendorCursorSync, VendorReads } from '../../cloud-relay/feeds/index.js';
import { SqliteFeedStore, SqliteVendorCursorStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { makeEvents } from './relay-harness.js';

const access = { vendor: 'platform', hospital: 'h1', feed: 'adt' };

describe('ConsumerPositions (relay.db)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let feeds: SqliteFeedStore;
  let cursors: SqliteVendorCursorStore;
  let sync: VendorCursorSync;
  let consumers: ConsumerPositions;
  let nowMs = 1_000;

  beforeEach(async () => {
    dir = makeTempDir('wardline-consumers-');
    const file = join(dir.path, 'relay.db');
    feeds = SqliteFeedStore.open({ file });
    cursors = SqliteVendorCursorStore.open({ file });
    sync = new VendorCursorSync({ reads: new VendorReads(() => nowMs), store: cursors });
    consumers = new ConsumerPositions({ store: feeds, cursors, reads: sync, clock: () => nowMs });
    await feeds.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: 10, events: makeEvents(1, 10) });
  });

  afterEach(async () => {
    cursors.close();
    await feeds.close();
    dir.remove();
  });

  it('commits within the feed, answers get and startCursor with it, and keeps it across a reopen', async () => {
    expect(await consumers.startCursor(access, 'billing')).toBe(0);
    await expect(consumers.get(access, 'billing')).rejects.toBeInstanceOf(ConsumerNotFoundError);
    expect(await consumers.commit(access, 'billing', 7)).toEqual({ hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 7, committedAtMs: 1_000, highWater: 10, retentionFloorSeq: 0 });
    // The head itself and 0 (from the start) are in range; a rewind is a commit like any other.
    nowMs = 2_000;
    expect((await consumers.commit(access, 'billing', 10)).cursor).toBe(10);
    expect((await consumers.commit(access, 'billing', 0)).cursor).toBe(0);
    await consumers.commit(access, 'billing', 4);
    expect(sync.committed().map((c) => [c.consumer, c.cursor])).toEqual([['billing', 4]]);
    cursors.close();
    cursors = SqliteVendorCursorStore.open({ file: join(dir.path, 'relay.db') });
    const reopened = new ConsumerPositions({ store: feeds, cursors });
    expect(await reopened.get(access, 'billing')).toEqual({ hospital: 'h1', feed: 'adt', consumer: 'billing', cursor: 4, committedAtMs: 2_000, highWater: 10, retentionFloorSeq: 0 });
    expect(await reopened.startCursor(access, 'billing')).toBe(4);
    // Another key's consumer of that name is another consumer.
    expect(await reopened.startCursor({ ...access, vendor: 'app' }, 'billing')).toBe(0);
  });

  it('refuses a cursor past the head (WL_CURSOR_AHEAD) or below the retention floor (WL_CURSOR_BELOW_RETENTION), storing nothing', async () => {
    const ahead = await consumers.commit(access, 'billing', 11).catch((e: unknown) => e);
    expect(ahead).toBeInstanceOf(CursorOutOfRangeError);
    expect(ahead).toMatchObject({ code: RelayErrorCode.CURSOR_AHEAD, parameter: 'cursor', cursor: 11, range: { highWater: 10, retentionFloorSeq: 0, oldestSeq: 1 } });
    expect((ahead as Error).message).toMatch(/^cursor: 11 is past the feed's high-water mark 10/);
    await consumers.commit(access, 'billing', 2);
    // Retention removes events 1..(floor): a commit below the floor is refused; at the floor it is fine.
    const outcome = await feeds.applyRetention('h1', 'adt', { maxBytes: 1 });
    expect(outcome.retentionFloorSeq).toBeGreaterThan(2);
    const below = await consumers.commit(access, 'billing', 1).catch((e: unknown) => e);
    expect(below).toMatchObject({ code: RelayErrorCode.CURSOR_BELOW_RETENTION, parameter: 'cursor', cursor: 1 });
    expect((await consumers.commit(access, 'billing', outcome.retentionFloorSeq)).retentionFloorSeq).toBe(outcome.retentionFloorSeq);
    // Unknown feed at this relay: its head is 0, so only 0 commits.
    await expect(consumers.commit({ ...access, feed: 'results' }, 'billing', 1)).rejects.toMatchObject({ code: RelayErrorCode.CURSOR_AHEAD });
  });

  it('refuses bad names and cursors naming the parameter', async () => {
    for (const name of ['', '-x', 'a b', 'x'.repeat(65), 'ü']) {
      const error = await consumers.commit(access, name, 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).parameter).toBe('consumer');
    }
    for (const cursor of [-1, 1.5, Number.NaN, 2 ** 60]) {
      await expect(consumers.commit(access, 'billing', cursor)).rejects.toMatchObject({ code: RelayErrorCode.BAD_REQUEST, parameter: 'cursor' });
    }
    await expect(consumers.get(access, 'no/slash')).rejects.toBeInstanceOf(BadRequestError);
    expect(await cursors.committedConsumers()).toEqual([]);
  });

  it('removes a consumer: its commit, its stored and in-memory reads; false for one unknown', async () => {
    await consumers.commit(access, 'billing', 5);
    const reads = new VendorReads(() => nowMs);
    const withReads = new VendorCursorSync({ reads, store: cursors });
    const positions = new ConsumerPositions({ store: feeds, cursors, reads: withReads });
    reads.record('platform', 'h1', 'adt', 6, 'http', 'billing');
    reads.record('platform', 'h1', 'adt', 3, 'http');
    await withReads.flush();
    expect(await positions.remove(access, 'billing')).toBe(true);
    expect(await positions.remove(access, 'billing')).toBe(false);
    await withReads.flush();
    expect(withReads.all().map((r) => r.consumer)).toEqual(['']);
    expect((await cursors.all()).map((r) => r.consumer)).toEqual(['']);
    await expect(positions.get(access, 'billing')).rejects.toBeInstanceOf(ConsumerNotFoundError);
    // A consumer only this process has read as (not flushed yet) is removed too.
    reads.record('platform', 'h1', 'adt', 6, 'grpc', 'fresh');
    expect(await positions.remove(access, 'fresh')).toBe(true);
  });
});
