// GET /v1/feeds/{feed}/events?wait= waits on the feed notifier, not on the store:
// the relay's HTTP handler on a real socket over a real relay.db, with the store's
// reads counted as they pass (the store itself is the real one), while waiting
// requests sit at the head, while events their filter leaves out arrive, and when
// one they want does.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VendorAuth, VendorSlots } from '../../cloud-relay/feeds/index.js';
import { createFeedHttpHandler } from '../../cloud-relay/http/index.js';
import { OperatorAuth, RelayMetrics } from '../../cloud-relay/status/index.js';
import { FeedNotifier, SqliteFeedStore, type FeedStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { makeEvent } from './relay-harness.js';

const KEY = 'platform-key-0123456789abcdef';
const WAITERS = 6;

describe('HTTP long-polls and the store', () => {
  const dir = makeTempDir('wardline-long-poll-');
  const notifier = new FeedNotifier();
  const store = SqliteFeedStore.open({ file: join(dir.path, 'relay.db'), onAdvance: notifier.advanced });
  const reads = { pageExtent: 0, readEvents: 0 };
  // The real store, its page reads counted.
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if ((property === 'pageExtent' || property === 'readEvents') && typeof value === 'function') {
        return (...args: unknown[]) => {
          reads[property]++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as FeedStore;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: 2, events: [makeEvent(1), makeEvent(2, { stream: 'lab' })] });
    const handler = createFeedHttpHandler({
      store: counted,
      notifier,
      maxWaitMs: 60_000,
      vendors: new VendorAuth([{ name: 'platform', key: KEY, grants: [{ hospital: 'h1', feeds: ['adt'] }] }]),
      metrics: new RelayMetrics(),
      status: () => Promise.reject(new Error('not served here')),
      vendorStatus: () => Promise.reject(new Error('not served here')),
      operators: new OperatorAuth(undefined),
      slots: new VendorSlots({ reads: WAITERS, follows: 1, retryAfterSeconds: 1 }),
      logger: pino({ level: 'silent' }),
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    dir.remove();
  });

  const poll = (query: string) =>
    fetch(`${base}/v1/feeds/adt/events?${query}`, { headers: { authorization: `Bearer ${KEY}` } }).then(async (r) => ({ status: r.status, seqs: (await r.text()).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { seq: number }).seq) }));
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('reads the store once per request while waiting, once per wake-up, and answers each with the first event it wants', async () => {
    const waiting = Array.from({ length: WAITERS }, () => poll('after=2&streams=lab&wait=30000'));
    await sleep(300);
    while (notifier.waiting < WAITERS) await sleep(20);
    // One page read each to find the head: nothing since, however long they wait.
    expect(reads).toEqual({ pageExtent: WAITERS, readEvents: 0 });
    await sleep(700);
    expect(reads).toEqual({ pageExtent: WAITERS, readEvents: 0 });
    // An event their filter leaves out wakes each once; each reads, finds nothing, and waits again.
    await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 3, lastSeq: 3, events: [makeEvent(3)] });
    await sleep(300);
    expect(reads).toEqual({ pageExtent: 2 * WAITERS, readEvents: 0 });
    expect(notifier.waiting).toBe(WAITERS);
    await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 4, lastSeq: 4, events: [makeEvent(4, { stream: 'lab' })] });
    const pages = await Promise.all(waiting);
    expect(pages).toEqual(Array.from({ length: WAITERS }, () => ({ status: 200, seqs: [4] })));
    expect(reads).toEqual({ pageExtent: 3 * WAITERS, readEvents: WAITERS });
    expect(notifier.waiting).toBe(0);
  });
});
