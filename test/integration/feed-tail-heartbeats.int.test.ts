// `feed tail` against a scripted gRPC Feeds server speaking the proto (heartbeats,
// Commit, GetConsumer, a refusal), until the relay's parts D/E serve them: pins what
// the tail prints for heartbeats, what it commits, and that refusals are not retried.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { feedTailCommand, type FeedTailOptions } from '../../cli/feed-tail-command.js';
import { FeedsService, pb, type CommitRequest, type FeedEvent, type SubscribeRequest } from '../../protocol/index.js';

interface Script {
  subscribe: (call: grpc.ServerWritableStream<SubscribeRequest, FeedEvent>) => void;
}

const heartbeat = (cursor: number, caughtUp = true) =>
  pb.FeedEvent.create({ hospitalId: 'h1', feed: 'clinical', heartbeat: pb.FeedHeartbeat.create({ highWater: cursor, cursor, caughtUp, sentAtMs: Date.now() }) });
const event = (seq: number, prevSeq: number) =>
  pb.FeedEvent.create({
    hospitalId: 'h1', feed: 'clinical', prevSeq,
    event: pb.Event.create({ seq, stream: 'adt', key: `K-${seq}`, op: pb.Op.OP_UPSERT, tsMs: 1_700_000_000_000 + seq, source: 'lis', contentType: 'json', body: Buffer.from(`{"n":${seq}}`), headers: {} }),
  });

describe('feed tail against a scripted Feeds server', () => {
  let server: grpc.Server | undefined;
  const subscribes: SubscribeRequest[] = [];
  const commits: CommitRequest[] = [];

  afterEach(() => {
    server?.forceShutdown();
    subscribes.length = 0;
    commits.length = 0;
  });

  const serve = async (script: Script): Promise<number> => {
    server = new grpc.Server();
    server.addService(FeedsService as unknown as grpc.ServiceDefinition, {
      subscribe: (call: grpc.ServerWritableStream<SubscribeRequest, FeedEvent>) => (subscribes.push(call.request), script.subscribe(call)),
      commit: (call: grpc.ServerUnaryCall<CommitRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        commits.push(call.request);
        cb(null, pb.ConsumerPosition.create({ consumer: call.request.consumer, cursor: call.request.cursor }));
      },
      getConsumer: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, pb.ConsumerPosition.create({ consumer: 'c', cursor: 42 })),
    });
    return new Promise((resolve, reject) => server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
  };

  const tail = (port: number, options: Partial<FeedTailOptions>) => {
    const out: string[] = [];
    const err: string[] = [];
    const abort = new AbortController();
    const done = feedTailCommand(
      { relay: `127.0.0.1:${port}`, key: 'k', feed: 'clinical', follow: true, format: 'ndjson', plaintext: true, out: (l) => out.push(l), err: (l) => err.push(l), ...options },
      abort.signal,
    );
    return { out, err, done, stop: () => abort.abort() };
  };

  const untilLines = async (lines: string[], n: number) => {
    const deadline = Date.now() + 5000;
    while (lines.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${lines.length} lines: ${lines.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const replayThenIdle: Script = {
    subscribe: (call) => {
      call.write(heartbeat(0));
      call.write(event(1, 0));
      call.write(event(2, 1));
      call.write(heartbeat(5));
    },
  };

  it('shows heartbeats in text with --verbose, resumes after the heartbeat cursor, and commits it at exit', async () => {
    const port = await serve(replayThenIdle);
    const t = tail(port, { format: 'text', verbose: true, consumer: 'billing', commit: true });
    await untilLines(t.out, 4);
    t.stop();
    expect(await t.done).toBe(0);
    expect(t.out[0]).toBe('idle, caught up at 0\n');
    expect(t.out[1]).toMatch(/^1\t/);
    expect(t.out[3]).toBe('idle, caught up at 5\n');
    expect(t.err.at(-1)).toBe('stopped after 2 events; resume with --after 5');
    expect(commits.map((c) => [c.consumer, Number(c.cursor)])).toEqual([['billing', 5]]);
    // --consumer without --after: the relay starts from the committed cursor.
    expect(subscribes[0]!.consumer).toBe('billing');
    expect(Object.prototype.hasOwnProperty.call(subscribes[0]!, 'after') && subscribes[0]!.after != null).toBe(false);
  });

  it('never prints heartbeats in NDJSON; lines carry hospital, feed and prevSeq', async () => {
    const port = await serve(replayThenIdle);
    const t = tail(port, { after: 0, streams: ['adt'], messageTypes: ['ADT^A01'] });
    await untilLines(t.out, 2);
    await new Promise((r) => setTimeout(r, 100));
    t.stop();
    expect(await t.done).toBe(0);
    expect(t.out.map((l) => JSON.parse(l) as Record<string, unknown>).map((e) => [e.hospital, e.feed, e.seq, e.prevSeq])).toEqual([['h1', 'clinical', 1, 0], ['h1', 'clinical', 2, 1]]);
    expect(subscribes[0]).toMatchObject({ streams: ['adt'], messageTypes: ['ADT^A01'] });
  });

  it('does not retry OUT_OF_RANGE, and names the committed cursor when it read nothing', async () => {
    const port = await serve({ subscribe: (call) => call.emit('error', { code: grpc.status.OUT_OF_RANGE, details: 'WL_CURSOR_AHEAD: cursor 99 is past the high-water mark 5' }) });
    const t = tail(port, { consumer: 'billing' });
    expect(await t.done).toBe(1);
    expect(subscribes).toHaveLength(1);
    expect(t.err.at(-1)).toBe('feed tail failed: OUT_OF_RANGE: WL_CURSOR_AHEAD: cursor 99 is past the high-water mark 5; resume with --after 42');
  });

  it('with --no-reconnect exits on a stream the relay ends under --follow', async () => {
    const port = await serve({ subscribe: (call) => (call.write(event(1, 0)), call.end()) });
    const t = tail(port, { after: 0, reconnect: false });
    expect(await t.done).toBe(1);
    expect(t.err.at(-1)).toBe('feed tail: the relay ended the stream after 1 events; resume with --after 1');
  });

  it('reconnects by default on a stream the relay ends under --follow, after the last seq printed', async () => {
    let n = 0;
    const port = await serve({ subscribe: (call) => (++n === 1 ? (call.write(event(1, 0)), call.end()) : (call.write(event(1, 0)), call.write(event(2, 1)))) });
    const t = tail(port, { after: 0 });
    await untilLines(t.out, 2);
    t.stop();
    expect(await t.done).toBe(0);
    expect(t.out.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2]);
    expect(Number(subscribes[1]!.after)).toBe(1);
  });

  it('with --commit commits every 1000 events and at exit', async () => {
    const port = await serve({ subscribe: (call) => { for (let seq = 1; seq <= 1001; seq++) call.write(event(seq, seq - 1)); } });
    const t = tail(port, { consumer: 'billing', commit: true, limit: 1001 });
    expect(await t.done).toBe(0);
    expect(commits.map((c) => Number(c.cursor))).toEqual([1000, 1001]);
    expect(t.err.at(-1)).toBe('stopped after 1001 events (--limit); resume with --after 1001');
  });
});
