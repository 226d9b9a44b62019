// The cross-process live tail's listener on the machine's PostgreSQL: a writer
// commits feed marks with the doorbell NOTIFY inside each transaction, as the
// PostgreSQL feed store does, and the listener (another "process": its own
// RelayDatabase) hands every mark to its sink. Its LISTEN connection is killed
// over and over (pg_terminate_backend of its backend pid) while commits keep
// coming: every feed ends at its last committed mark, and a commit made while
// nobody listened is caught by the poll right after the reconnect — with the
// periodic poll switched off, so only the reconnect poll can have caught it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEED_DOORBELL_CHANNEL, FeedDoorbellListener, feedDoorbellPayload, RelayDatabase, type FeedMark, type FeedMarkSink } from '../../cloud-relay/store/postgres/index.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';

const FEEDS = ['adt', 'lab', 'rad'];

describe('feed doorbell listener', () => {
  let db: RelayTestDatabase;
  let writer: RelayDatabase;
  let reader: RelayDatabase;
  let admin: RelayDatabase;

  beforeAll(async () => {
    db = await createRelayTestDatabase('doorbell');
    const connect = (name: string) => RelayDatabase.connect({ url: db.url, poolMax: 4, connectTimeoutMs: 5000, applicationName: name });
    [writer, reader, admin] = await Promise.all([connect('wardline-test-writer'), connect('wardline-test-reader'), connect('wardline-test-admin')]);
    // What the feed store keeps of a feed's marks, reduced to what the listener needs.
    await writer.query('CREATE TABLE marks (hospital TEXT NOT NULL, feed TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (hospital, feed))');
  });
  afterAll(async () => {
    await Promise.all([writer?.close(), reader?.close(), admin?.close()]);
    await db?.drop();
  });

  /** Commits (h1, feed) at seq with the doorbell in the same transaction. */
  const commit = (feed: string, seq: number) =>
    writer.transaction(async (client) => {
      await client.query('INSERT INTO marks VALUES ($1, $2, $3) ON CONFLICT (hospital, feed) DO UPDATE SET seq = EXCLUDED.seq', ['h1', feed, seq]);
      await client.query('SELECT pg_notify($1, $2)', [FEED_DOORBELL_CHANNEL, feedDoorbellPayload({ hospital: 'h1', feed, highWaterSeq: seq, visibleSeq: seq, revoked: false })]);
    });

  /** A sink that keeps the highest seq seen per feed, as the feed store's cache does. */
  const sink = () => {
    const seen = new Map<string, number>();
    const store: FeedMarkSink = {
      readMarks: async () =>
        (await reader.query<{ hospital: string; feed: string; seq: number }>('SELECT hospital, feed, seq FROM marks')).rows.map((r) => ({ hospital: r.hospital, feed: r.feed, highWaterSeq: r.seq, visibleSeq: r.seq, revoked: false })),
      observe: (mark: FeedMark) => {
        if (mark.visibleSeq > (seen.get(mark.feed) ?? 0)) seen.set(mark.feed, mark.visibleSeq);
      },
    };
    return { store, seen };
  };

  const until = async (what: () => boolean, timeoutMs: number, label: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!what()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const kill = async (pid: number) => {
    const { rows } = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(rows[0]!.ok).toBe(true);
  };

  it('misses nothing while its LISTEN connection is killed 30 times under a stream of commits', async () => {
    const { store, seen } = sink();
    const listener = new FeedDoorbellListener({ database: reader, store, pollMs: 500 });
    await listener.start();
    expect(listener.figures.state).toBe('listening');
    const committed = new Map<string, number>();
    let writing = true;
    const writes = (async () => {
      for (let seq = 1; writing; seq += 1) {
        for (const feed of FEEDS) {
          await commit(feed, seq);
          committed.set(feed, seq);
        }
      }
    })();
    for (let kills = 0; kills < 30; kills += 1) {
      await until(() => listener.figures.state === 'listening', 10_000, 'the listener to reconnect');
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 60));
      await kill(listener.figures.listenerPid!);
      await until(() => listener.figures.state !== 'listening', 5_000, 'the listener to see the cut');
    }
    writing = false;
    await writes;
    await until(() => FEEDS.every((f) => seen.get(f) === committed.get(f)), 5_000, 'every feed at its last commit');
    await until(() => listener.figures.state === 'listening', 10_000, 'the listener to reconnect after the last kill');
    const figures = listener.figures;
    await listener.close();
    console.log(`doorbell under 30 kills: ${committed.get('adt')} commits per feed, ${figures.notifications} notifications, ${figures.polls} polls, ${figures.connects} connects, ${figures.disconnects} disconnects`);
    expect(figures.disconnects).toBe(30);
    expect(figures.connects).toBe(31);
    expect(figures.notifications).toBeGreaterThan(0);
  }, 60_000);

  it('catches a commit made while nobody listened with the poll after the reconnect (no periodic poll)', async () => {
    const { store, seen } = sink();
    const listener = new FeedDoorbellListener({ database: reader, store, pollMs: 3_600_000 });
    await listener.start();
    const base = 1_000_000;
    for (let round = 1; round <= 20; round += 1) {
      await until(() => listener.figures.state === 'listening', 10_000, 'the listener to reconnect');
      await kill(listener.figures.listenerPid!);
      await until(() => listener.figures.state !== 'listening', 5_000, 'the listener to see the cut');
      // Committed while no connection listens: its notification goes to nobody.
      await commit('adt', base + round);
      await until(() => seen.get('adt') === base + round, 10_000, `round ${round}'s commit`);
    }
    const figures = listener.figures;
    await listener.close();
    expect(figures.disconnects).toBe(20);
    // Only the reconnect polls ran (one per connect).
    expect(figures.polls).toBe(figures.connects);
  }, 60_000);

  it('ignores a foreign payload on the channel and keeps listening', async () => {
    const { store, seen } = sink();
    const listener = new FeedDoorbellListener({ database: reader, store, pollMs: 3_600_000 });
    await listener.start();
    await writer.query('SELECT pg_notify($1, $2)', [FEED_DOORBELL_CHANNEL, 'not a mark']);
    await commit('lab', 2_000_000);
    await until(() => seen.get('lab') === 2_000_000, 5_000, 'the mark after the foreign payload');
    expect(listener.figures.notifications).toBe(1);
    await listener.close();
    expect(listener.figures.state).toBe('closed');
  });
});
