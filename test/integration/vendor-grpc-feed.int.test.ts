// The gRPC vendor API of the vendor contract against a real relay, with raw
// grpc-js clients: Feeds.Subscribe's heartbeats, caught-up marks, cursor range
// checks with their trailers, filters, after_time_ms and named consumers;
// Feeds.Commit and Feeds.GetConsumer; bad request fields named.
import * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, FeedsService, pb, type CommitRequest, type ConsumerPosition, type ConsumerRequest, type FeedEvent } from '../../protocol/index.js';
import { RelayErrorCode } from '../../cloud-relay/index.js';
import { ERROR_CODE_TRAILER, HIGH_WATER_TRAILER, OLDEST_SEQ_TRAILER, RETENTION_FLOOR_TRAILER } from '../../cloud-relay/grpc/index.js';
import { TestRelay, VENDOR_KEYS, connectAgent, makeBatch, makeEvent, makeEvents, type AgentStream, type Subscription } from './relay-harness.js';

type FeedsStub = grpc.Client & {
  commit(r: CommitRequest, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v?: ConsumerPosition) => void): void;
  getConsumer(r: ConsumerRequest, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, v?: ConsumerPosition) => void): void;
};

/** A unary answer: the position, or the error's status with its trailers. */
type Unary = { position: ConsumerPosition; error?: undefined } | { position?: undefined; error: grpc.ServiceError };

const seqOf = (message: FeedEvent) => Number(message.event!.seq);
const prevOf = (message: FeedEvent) => Number(message.prevSeq);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('gRPC vendor feed (Feeds.Subscribe, Commit, GetConsumer)', () => {
  let relay: TestRelay;
  let agent: AgentStream;
  let client: FeedsStub;

  beforeEach(async () => {
    relay = new TestRelay();
    await relay.start();
    ({ stream: agent } = await connectAgent(relay, 'h1', ['adt', 'results']));
    client = new (grpc.makeGenericClientConstructor(FeedsService, 'Feeds'))(relay.grpcAddress, grpc.credentials.createInsecure()) as unknown as FeedsStub;
  });

  afterEach(async () => {
    client.close();
    await relay.close();
  });

  async function store(feed: string, firstSeq: number, lastSeq: number, events = makeEvents(firstSeq, lastSeq)): Promise<void> {
    expect((await agent.exchange(makeBatch(feed, firstSeq, lastSeq, events))).body).toBe('ack');
  }

  function unary(method: 'commit' | 'getConsumer', fields: { feed: string; consumer: string; cursor?: number; hospitalId?: string }, key: string = VENDOR_KEYS.platform): Promise<Unary> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    return new Promise((resolve) => {
      const done = (error: grpc.ServiceError | null, position?: ConsumerPosition) => resolve(error ? { error } : { position: position! });
      if (method === 'commit') client.commit(pb.CommitRequest.create(fields), metadata, done);
      else client.getConsumer(pb.ConsumerRequest.create(fields), metadata, done);
    });
  }

  /** Every message until the stream ends (a subscription without follow). */
  async function drain(subscription: Subscription): Promise<FeedEvent[]> {
    const messages: FeedEvent[] = [];
    subscription.call.on('data', (message: FeedEvent) => messages.push(message));
    const status = await subscription.status;
    expect(status.code, status.details).toBe(Status.OK);
    return messages;
  }

  /** The messages the subscription receives from now on. */
  function record(subscription: Subscription): FeedEvent[] {
    const messages: FeedEvent[] = [];
    subscription.call.on('data', (message: FeedEvent) => messages.push(message));
    return messages;
  }

  function trailer(status: grpc.StatusObject, name: string): string | undefined {
    const value = status.metadata.get(name)[0];
    return value === undefined ? undefined : value.toString();
  }

  it('sends prevSeq on every event, one caught-up heartbeat after the replay and after each catch-up, and heartbeats while idle', async () => {
    await store('adt', 1, 3);
    const heartbeatMs = 300;
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 0, follow: true, heartbeatMs });
    const replay = [await subscription.nextMessage(), await subscription.nextMessage(), await subscription.nextMessage()];
    expect(replay.map(seqOf)).toEqual([1, 2, 3]);
    expect(replay.map(prevOf)).toEqual([0, 1, 2]);

    const caughtUp = await subscription.nextMessage();
    expect(caughtUp.event).toBeNull();
    expect(caughtUp.hospitalId).toBe('h1');
    expect(caughtUp.feed).toBe('adt');
    expect(caughtUp.prevSeq).toBe(0);
    expect(caughtUp.heartbeat).toMatchObject({ highWater: 3, cursor: 3, caughtUp: true, retentionFloorSeq: 0 });
    expect(Math.abs(Number(caughtUp.heartbeat!.sentAtMs) - Date.now())).toBeLessThan(5_000);

    // Idle for three intervals: heartbeats at about the asked interval, each saying where the stream stands.
    const idleFrom = Date.now();
    const idle = record(subscription);
    await sleep(3 * heartbeatMs);
    expect(idle.length).toBeGreaterThanOrEqual(2);
    expect(idle.length).toBeLessThanOrEqual(4);
    for (const beat of idle) {
      expect(beat.event).toBeNull();
      expect(beat.heartbeat).toMatchObject({ highWater: 3, cursor: 3, caughtUp: true });
      expect(Number(beat.heartbeat!.sentAtMs)).toBeGreaterThanOrEqual(idleFrom);
    }
    for (let i = 0; i < idle.length; i++) await subscription.nextMessage(); // the same idle beats, in order

    // New events: each with its prevSeq (an idle heartbeat may come first), then one caught-up heartbeat at the new head.
    await store('adt', 4, 5);
    const live = [await subscription.next(), await subscription.nextMessage()];
    expect(live.map(seqOf)).toEqual([4, 5]);
    expect(live.map(prevOf)).toEqual([3, 4]);
    const again = await subscription.nextMessage();
    expect(again.heartbeat).toMatchObject({ highWater: 5, cursor: 5, caughtUp: true });

    // A range with no events for this feed moves the head: the next idle heartbeat says so, and no caught-up one is owed.
    await store('adt', 6, 8, []);
    let moved = await subscription.nextMessage(2_000);
    if (Number(moved.heartbeat?.cursor) === 5) moved = await subscription.nextMessage(2_000); // sent before the store
    expect(moved.event).toBeNull();
    expect(moved.heartbeat).toMatchObject({ highWater: 8, cursor: 8, caughtUp: true });

    subscription.call.cancel();
    expect((await subscription.status).code).toBe(Status.CANCELLED);
  });

  it('sends the caught-up heartbeat right after an initial replay that sent nothing, and only once', async () => {
    await store('adt', 1, 3);
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 3, follow: true, heartbeatMs: 60_000 });
    const first = await subscription.nextMessage();
    expect(first.heartbeat).toMatchObject({ highWater: 3, cursor: 3, caughtUp: true });
    const later = record(subscription);
    await sleep(500);
    expect(later).toEqual([]);
    subscription.call.cancel();
  });

  it('ends a Subscribe without follow after the replay with events only, and sends no heartbeat', async () => {
    await store('adt', 1, 3);
    const messages = await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt' }));
    expect(messages.map((m) => [seqOf(m), prevOf(m)])).toEqual([
      [1, 0],
      [2, 1],
      [3, 2],
    ]);
    expect(await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 3 }))).toEqual([]);
  });

  it('refuses a cursor past the head with OUT_OF_RANGE, WL_CURSOR_AHEAD and the feed range in trailers, with and without follow', async () => {
    await store('adt', 1, 3);
    for (const follow of [false, true]) {
      const status = await relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 4, follow }).status;
      expect(status.code).toBe(Status.OUT_OF_RANGE);
      expect(status.details).toMatch(/^WL_CURSOR_AHEAD: after: 4 is past the feed's high-water mark 3/);
      expect(trailer(status, ERROR_CODE_TRAILER)).toBe(RelayErrorCode.CURSOR_AHEAD);
      expect(trailer(status, HIGH_WATER_TRAILER)).toBe('3');
      expect(trailer(status, RETENTION_FLOOR_TRAILER)).toBe('0');
      expect(trailer(status, OLDEST_SEQ_TRAILER)).toBe('1');
    }
    // A feed never written: its head is 0.
    const empty = await relay.subscribe(VENDOR_KEYS.platform, { feed: 'results', hospitalId: 'h1', after: 1 }).status;
    expect(empty.code).toBe(Status.OUT_OF_RANGE);
    expect(trailer(empty, HIGH_WATER_TRAILER)).toBe('0');
  });

  it('filters by stream and by HL7 message type, with prevSeq chained over the events that pass', async () => {
    const events = [
      makeEvent(1, { stream: 'adt', headers: { controlId: 'M1', messageType: 'ADT^A01' } }),
      makeEvent(2, { stream: 'results', headers: { controlId: 'M2', messageType: 'ORU^R01' } }),
      makeEvent(3, { stream: 'adt', headers: { controlId: 'M3', messageType: 'ADT^A08' } }),
      makeEvent(4, { stream: 'results', headers: { controlId: 'M4', messageType: 'ORU^R01' } }),
      makeEvent(5, { stream: 'his.patient', contentType: 'json', body: Buffer.from('{"id":5}'), headers: {} }),
      makeEvent(6, { stream: 'adt', headers: { controlId: 'M6', messageType: 'ADT^A01' } }),
    ];
    await store('adt', 1, 6, events);
    const read = async (fields: { streams?: string[]; messageTypes?: string[]; after?: number }) =>
      (await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', ...fields }))).map((m) => [seqOf(m), prevOf(m)]);

    expect(await read({ streams: ['results'] })).toEqual([
      [2, 0],
      [4, 2],
    ]);
    expect(await read({ streams: ['results', 'his.patient'], after: 2 })).toEqual([
      [4, 2],
      [5, 4],
    ]);
    expect(await read({ messageTypes: ['ADT^A01'] })).toEqual([
      [1, 0],
      [6, 1],
    ]);
    expect(await read({ messageTypes: ['ADT'], after: 1 })).toEqual([
      [3, 1],
      [6, 3],
    ]);
    // A JSON row has no message type: it never passes a message-type filter.
    expect(await read({ streams: ['his.patient'], messageTypes: ['ORU'] })).toEqual([]);

    // Following with a filter: only passing events arrive, and the heartbeat's cursor is the feed's head.
    const subscription = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 0, follow: true, streams: ['results'], heartbeatMs: 200 });
    expect([seqOf(await subscription.nextMessage()), seqOf(await subscription.nextMessage())]).toEqual([2, 4]);
    expect((await subscription.nextMessage()).heartbeat).toMatchObject({ cursor: 6, highWater: 6, caughtUp: true });
    await store('adt', 7, 8, [makeEvent(7, { stream: 'adt' }), makeEvent(8, { stream: 'results' })]);
    const next = await subscription.nextMessage();
    expect([seqOf(next), prevOf(next)]).toEqual([8, 4]);
    subscription.call.cancel();
  });

  it('starts at after_time_ms, and refuses it beside after', async () => {
    await store('adt', 1, 5); // makeEvent: tsMs = 2024-01-01T08:00:00Z + seq s
    const base = Date.UTC(2024, 0, 1, 8, 0, 0);
    const fromTime = async (afterTimeMs: number) => (await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', afterTimeMs }))).map((m) => [seqOf(m), prevOf(m)]);
    expect(await fromTime(base + 3_000)).toEqual([
      [3, 2],
      [4, 3],
      [5, 4],
    ]);
    expect(await fromTime(base + 2_500)).toEqual([
      [3, 2],
      [4, 3],
      [5, 4],
    ]);
    expect(await fromTime(base + 60_000)).toEqual([]);
    expect((await fromTime(1)).map(([seq]) => seq)).toEqual([1, 2, 3, 4, 5]);

    // Later than every event, following: caught up at the head at once.
    const live = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', afterTimeMs: base + 60_000, follow: true });
    expect((await live.nextMessage()).heartbeat).toMatchObject({ cursor: 5, highWater: 5, caughtUp: true });
    live.call.cancel();

    const both = await relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', after: 2, afterTimeMs: base }).status;
    expect(both.code).toBe(Status.INVALID_ARGUMENT);
    expect(both.details).toContain('after, after_time_ms: give one of them');
    expect(trailer(both, ERROR_CODE_TRAILER)).toBe(RelayErrorCode.BAD_REQUEST);
  });

  it('commits and reads back a named consumer, refuses unknown names and cursors past the head, and resumes a Subscribe from the committed cursor', async () => {
    await store('adt', 1, 5);
    const unknown = await unary('getConsumer', { feed: 'adt', consumer: 'billing-etl' });
    expect(unknown.error?.code).toBe(Status.NOT_FOUND);
    expect(unknown.error?.details).toMatch(/^WL_CONSUMER_NOT_FOUND: consumer "billing-etl"/);
    expect(unknown.error?.metadata.get(ERROR_CODE_TRAILER)).toEqual([RelayErrorCode.CONSUMER_NOT_FOUND]);

    const committed = await unary('commit', { feed: 'adt', consumer: 'billing-etl', cursor: 2 });
    expect(committed.error).toBeUndefined();
    expect(committed.position).toMatchObject({ hospitalId: 'h1', feed: 'adt', consumer: 'billing-etl', cursor: 2, highWater: 5, retentionFloorSeq: 0 });
    expect(Math.abs(Number(committed.position!.committedAtMs) - Date.now())).toBeLessThan(5_000);
    expect((await unary('getConsumer', { feed: 'adt', consumer: 'billing-etl', hospitalId: 'h1' })).position).toEqual(committed.position);

    const ahead = await unary('commit', { feed: 'adt', consumer: 'billing-etl', cursor: 6 });
    expect(ahead.error?.code).toBe(Status.OUT_OF_RANGE);
    expect(ahead.error?.metadata.get(ERROR_CODE_TRAILER)).toEqual([RelayErrorCode.CURSOR_AHEAD]);
    expect(ahead.error?.metadata.get(HIGH_WATER_TRAILER)).toEqual(['5']);
    expect((await unary('getConsumer', { feed: 'adt', consumer: 'billing-etl' })).position?.cursor).toBe(2);

    // No after: the consumer's committed cursor; an explicit after wins; a consumer never committed starts at 0.
    const resumed = await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', consumer: 'billing-etl' }));
    expect(resumed.map((m) => [seqOf(m), prevOf(m)])).toEqual([
      [3, 2],
      [4, 3],
      [5, 4],
    ]);
    expect((await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', consumer: 'billing-etl', after: 4 }))).map(seqOf)).toEqual([5]);
    expect((await drain(relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', consumer: 'fresh' }))).map(seqOf)).toEqual([1, 2, 3, 4, 5]);

    // Commit moves it (backwards too); a follow subscription naming it starts there.
    expect((await unary('commit', { feed: 'adt', consumer: 'billing-etl', cursor: 4 })).position?.cursor).toBe(4);
    const follow = relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', consumer: 'billing-etl', follow: true });
    expect(seqOf(await follow.nextMessage())).toBe(5);
    expect((await follow.nextMessage()).heartbeat).toMatchObject({ cursor: 5, caughtUp: true });
    follow.call.cancel();
  });

  it('checks the vendor key and grant on Commit and GetConsumer as on Subscribe, and names bad fields', async () => {
    await store('adt', 1, 3);
    const noKey = await unary('commit', { feed: 'adt', consumer: 'etl', cursor: 1 }, 'not-a-key-anyone-was-given');
    expect(noKey.error?.code).toBe(Status.UNAUTHENTICATED);
    expect(noKey.error?.details).toContain(ErrorCode.BAD_VENDOR_KEY);
    const notGranted = await unary('getConsumer', { feed: 'adt', consumer: 'etl' }, VENDOR_KEYS.app);
    expect(notGranted.error?.code).toBe(Status.PERMISSION_DENIED);

    for (const [fields, field] of [
      [{ feed: 'adt', consumer: '' }, 'consumer'],
      [{ feed: 'adt', consumer: 'a b' }, 'consumer'],
      [{ feed: 'a/b', consumer: 'etl' }, 'feed'],
      [{ feed: 'adt', consumer: 'etl', hospitalId: 'h 1' }, 'hospital_id'],
    ] as const) {
      for (const method of ['commit', 'getConsumer'] as const) {
        const answer = await unary(method, { ...fields, cursor: 1 });
        expect(answer.error?.code, `${method} ${JSON.stringify(fields)}`).toBe(Status.INVALID_ARGUMENT);
        expect(answer.error?.details).toMatch(new RegExp(`^WL_BAD_REQUEST: ${field}: `));
      }
    }
  });

  it.each([
    [{ heartbeatMs: 99 }, 'heartbeat_ms'],
    [{ heartbeatMs: 60_001 }, 'heartbeat_ms'],
    [{ streams: ['adt', 'no spaces'] }, 'streams[1]'],
    [{ messageTypes: ['ADT A01'] }, 'message_types[0]'],
    [{ consumer: '-billing' }, 'consumer'],
    [{ hospitalId: 'h/1' }, 'hospital_id'],
    [{ afterTimeMs: -5 }, 'after_time_ms'],
    [{ feed: '' }, 'feed'],
  ])('refuses a Subscribe with %j as INVALID_ARGUMENT naming %s', async (fields, field) => {
    const status = await relay.subscribe(VENDOR_KEYS.platform, { feed: 'adt', follow: true, ...fields }).status;
    expect(status.code).toBe(Status.INVALID_ARGUMENT);
    expect(status.details.startsWith(`WL_BAD_REQUEST: ${field}: `), status.details).toBe(true);
  });
});
