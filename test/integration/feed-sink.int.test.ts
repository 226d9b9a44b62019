// FeedSink's reconciliation against a stream that forgets message ids at once
// (as JetStream does once its duplicate window has passed): real feed and
// cursor stores on relay.db in a temp dir, an in-memory stream in place of NATS.
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FeedSink,
  SinkConfigSchema,
  SinkSubjectMovedError,
  SinkUnavailableError,
  SqliteSinkCursorStore,
  type PublishedMessage,
  type SinkMessage,
  type SinkPublisher,
  type SubjectTail,
} from '../../cloud-relay/sinks/index.js';
import { FeedNotifier, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { makeTempDir } from '../support/temp-dir.js';
import { makeEvent } from './relay-harness.js';

/** A stream without a duplicate window: only the expected-last-subject-sequence check guards it. */
class MemoryStream implements SinkPublisher {
  readonly messages: { subject: string; seq: number; id: string | undefined }[] = [];
  connected = true;
  /** Runs before a publish is stored; may throw (the publish fails) or store another message. */
  beforePublish: ((message: SinkMessage) => void) | undefined;
  /** Runs after a publish is stored, before its ack; may throw (the ack is lost). */
  afterStore: ((message: SinkMessage) => void) | undefined;

  async lastOnSubject(subject: string): Promise<SubjectTail | null> {
    const last = this.messages.filter((m) => m.subject === subject).at(-1);
    return last ? { streamSeq: last.seq, messageId: last.id } : null;
  }

  async publish(message: SinkMessage): Promise<PublishedMessage> {
    this.beforePublish?.(message);
    const last = this.messages.filter((m) => m.subject === message.subject).at(-1)?.seq ?? 0;
    if (last !== message.expectLastSubjectSeq) throw new SinkSubjectMovedError(message.subject, new Error(`wrong last sequence: ${last}`));
    const seq = this.messages.length + 1;
    this.messages.push({ subject: message.subject, seq, id: message.messageId });
    this.afterStore?.(message);
    return { streamSeq: seq, duplicate: false };
  }

  /** Another writer's message on the subject. */
  inject(subject: string, id: string | undefined): void {
    this.messages.push({ subject, seq: this.messages.length + 1, id });
  }

  ids(subject: string): (string | undefined)[] {
    return this.messages.filter((m) => m.subject === subject).map((m) => m.id);
  }

  async close(): Promise<void> {}
}

const SUBJECT = 'wardline.h1.adt';
const config = SinkConfigSchema.parse({ kind: 'nats-jetstream', name: 'bus', servers: ['nats://127.0.0.1:1'], stream: 'S', pollMs: 50, leaseTtlMs: 300, maxBackoffMs: 50, pageEvents: 4 });
const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `h1/adt/${from + i}`);

describe('FeedSink', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setUp(events: number) {
    const dir = makeTempDir('wardline-feed-sink-');
    const file = join(dir.path, 'relay.db');
    const notifier = new FeedNotifier();
    const store = SqliteFeedStore.open({ file, onAdvance: notifier.advanced });
    const cursors = SqliteSinkCursorStore.open({ file });
    cleanups.push(async () => {
      await cursors.close();
      await store.close();
      dir.remove();
    });
    if (events > 0) await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 1, lastSeq: events, events: Array.from({ length: events }, (_, i) => makeEvent(i + 1)) });
    const stream = new MemoryStream();
    const make = (holder = 'p1') => {
      const sink = new FeedSink({ config, hospital: 'h1', feed: 'adt', store, notifier, cursors, publisher: stream, holder, logger: pino({ level: 'silent' }), now: Date.now });
      cleanups.push(() => sink.stop());
      return sink;
    };
    return { store, cursors, stream, make };
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('continues after what the stream holds when the cursor lags it (killed between ack and cursor write)', async () => {
    const { cursors, stream, make } = await setUp(10);
    for (const id of ids(1, 7)) stream.inject(SUBJECT, id);
    await cursors.takeLease({ sink: 'bus', hospital: 'h1', feed: 'adt' }, 'old', 1);
    await new Promise((r) => setTimeout(r, 5));
    const sink = make();
    sink.start();
    await until('10 on the subject', () => stream.ids(SUBJECT).length === 10);
    expect(stream.ids(SUBJECT)).toEqual(ids(1, 10));
    await until('the cursor at 10', async () => (await cursors.cursor({ sink: 'bus', hospital: 'h1', feed: 'adt' })).publishedSeq === 10);
    expect(sink.snapshot()).toMatchObject({ publishedSeq: 10, published: 3, reconciles: 1 });
  });

  it('publishes nothing twice when an ack is lost after the message was stored', async () => {
    const { stream, make } = await setUp(12);
    let lose = 2;
    stream.afterStore = (m) => {
      if (m.messageId.endsWith('/6') && lose-- > 0) throw new SinkUnavailableError('bus', new Error('ack lost'));
    };
    const sink = make();
    sink.start();
    await until('12 on the subject', () => stream.ids(SUBJECT).length >= 12);
    await new Promise((r) => setTimeout(r, 100));
    expect(stream.ids(SUBJECT)).toEqual(ids(1, 12));
    expect(sink.snapshot().publishErrors).toBe(1);
  });

  it('finds another publisher\'s message on the subject and goes on after it', async () => {
    const { stream, make } = await setUp(9);
    let injected = false;
    stream.beforePublish = (m) => {
      // A second process, its lease wrongly taken, published 5 just before this one tried.
      if (m.messageId === 'h1/adt/5' && !injected) {
        injected = true;
        stream.inject(SUBJECT, 'h1/adt/5');
      }
    };
    const sink = make();
    sink.start();
    await until('9 on the subject', () => stream.ids(SUBJECT).length >= 9);
    await new Promise((r) => setTimeout(r, 100));
    expect(stream.ids(SUBJECT)).toEqual(ids(1, 9));
    expect(sink.snapshot().reconciles).toBe(2);
  });

  it('trusts the cursor when the stream lost the subject\'s messages, and halts on a foreign message', async () => {
    const { store, cursors, stream, make } = await setUp(5);
    const key = { sink: 'bus', hospital: 'h1', feed: 'adt' };
    await cursors.takeLease(key, 'p1', 10_000);
    await cursors.advance(key, 'p1', 3, 99);
    const sink = make();
    sink.start();
    await until('4 and 5 on the emptied subject', () => stream.ids(SUBJECT).length === 2);
    expect(stream.ids(SUBJECT)).toEqual(ids(4, 5));
    stream.inject(SUBJECT, 'someone-else/1');
    await store.storeBatch({ hospital: 'h1', feed: 'adt', firstSeq: 6, lastSeq: 6, events: [makeEvent(6)] });
    // The next publish finds the subject moved, reconciles, and meets the foreign message.
    await until('halted', () => sink.state === 'halted');
    expect(sink.snapshot().lastError?.code).toBe('WL_SINK_FOREIGN_MESSAGE');
    expect(stream.ids(SUBJECT)).toEqual([...ids(4, 5), 'someone-else/1']);
  });

  it('stands by while another process holds the lease, and takes over when it is let go', async () => {
    const { cursors, stream, make } = await setUp(3);
    const key = { sink: 'bus', hospital: 'h1', feed: 'adt' };
    await cursors.takeLease(key, 'other', 60_000);
    const sink = make();
    sink.start();
    await until('standby', () => sink.state === 'standby');
    expect(stream.messages).toHaveLength(0);
    await cursors.releaseLease(key, 'other');
    await until('3 on the subject', () => stream.ids(SUBJECT).length === 3);
  });
});
