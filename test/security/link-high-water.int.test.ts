// The relay's high-water mark pushed far beyond the agent's journal, with real
// processes. Once the relay holds a feed up to 2^53 - 1 it acks every later
// batch as a duplicate and drops it; an agent that took the mark at its word
// showed "caught up" while nothing arrived. Two defences, each tested alone:
//  1. The relay refuses a batch whose range runs past its events and the
//     agent's announced journal head (WL_BATCH_BEYOND_HEAD), so one empty batch
//     sent with the hospital's own credentials moves nothing.
//  2. An agent whose relay already holds such a mark (a tampered relay
//     database, an older relay) stops that feed with an integrity incident and
//     an alert, and never moves its acks past its own journal head.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { encodeEvents } from '../../protocol/index.js';
import { SimulatedHospital, type CorpusMessage } from '../../simulator/index.js';
import { rawAgentHello } from '../support/link-raw-agent.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { PAIR_FEED, PAIR_SECRET, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';

const MAX_SEQ = Number.MAX_SAFE_INTEGER; // 2^53 - 1

describe('an inflated relay high-water mark', () => {
  let dir: ReturnType<typeof makeTempDir> | undefined;
  let pair: WardlinePair | undefined;

  afterEach(async () => {
    await pair?.stop();
    dir?.remove();
    pair = undefined;
    dir = undefined;
  });

  /** Sends `count` HL7 messages through MLLP and returns those acknowledged AA. */
  async function sendMessages(seed: string, count: number): Promise<CorpusMessage[]> {
    const acked: CorpusMessage[] = [];
    const hospital = new SimulatedHospital({
      mllp: { host: '127.0.0.1', port: pair!.ports.mllp },
      ratePerSecond: 50,
      connections: 1,
      seed,
      onAck: (message, ack) => {
        if (ack.code === 'AA') acked.push(message);
      },
    });
    hospital.start();
    await until(`${count} HL7 messages acknowledged`, () => acked.length, (n) => n >= count, { timeoutMs: 20_000 });
    await hospital.stop();
    return acked;
  }

  const feedOf = (s: AgentStatus) => s.feeds.find((f) => f.feed === PAIR_FEED)!;

  it('is refused by the relay when one empty batch claims lastSeq 2^53 - 1, and the feed goes on arriving', async () => {
    dir = makeTempDir('wardline-link-hw-');
    pair = await WardlinePair.create(dir.path, { hospital: 'hw-hospital', agentReplication: { emptyBatchIntervalMs: 500 } });
    await pair.startRelay();
    await pair.startAgent();
    const before = await sendMessages('link-hw-before', 20);
    const drained = await pair.waitForDrain(30_000);
    const mark = feedOf(drained).ackedSeq;

    // Someone holding the hospital's own secret opens a second stream and claims the feed up to 2^53 - 1.
    const raw = await rawAgentHello(`127.0.0.1:${pair.ports.relayGrpc}`, { hospitalId: 'hw-hospital', secret: PAIR_SECRET, feeds: [PAIR_FEED] });
    try {
      const hw = Number(raw.welcome.positions?.[0]?.highWaterSeq ?? 0);
      expect(hw).toBe(mark);
      const empty = encodeEvents([], 'none');
      raw.stream.sendBatch({
        feed: PAIR_FEED,
        firstSeq: hw + 1,
        lastSeq: MAX_SEQ,
        codec: empty.codec,
        payload: empty.payload,
        payloadSha256: empty.payloadSha256,
        eventCount: 0,
        uncompressedBytes: empty.uncompressedBytes,
        policyVersion: 0,
      });
      const answer = await Promise.race([raw.stream.next(5_000).then((m) => ({ message: m })), raw.stream.status.then((s) => ({ status: s }))]);
      expect(answer).not.toHaveProperty('message');
      const status = (answer as { status: grpc.StatusObject }).status;
      expect(grpc.status[status.code]).toBe('FAILED_PRECONDITION');
      expect(status.details).toContain('WL_BATCH_BEYOND_HEAD');
    } finally {
      raw.close();
    }

    // The relay's mark did not move: the agent's later events arrive, and "caught up" means it.
    const after = await sendMessages('link-hw-after', 20);
    const status = await pair.waitForDrain(30_000);
    expect(feedOf(status).ackedSeq).toBe(status.journal.headSeq);
    expect(feedOf(status).ackedSeq).toBeLessThan(MAX_SEQ);
    const inFeed = new Set((await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY)).map((e) => e.headers.controlId));
    const missing = [...before, ...after].filter((m) => !inFeed.has(m.controlId)).length;
    expect(missing).toBe(0);
  }, 90_000);

  it('already held by the relay (a tampered relay database) stops the feed with an integrity alert; acks stay at the journal', async () => {
    dir = makeTempDir('wardline-link-hw-held-');
    pair = await WardlinePair.create(dir.path, { hospital: 'hw-held-hospital' });
    await pair.startRelay();
    await pair.startAgent();
    await sendMessages('link-hw-held', 15);
    const drained = await pair.waitForDrain(30_000);
    const ackedBefore = feedOf(drained).ackedSeq;
    expect(ackedBefore).toBe(drained.journal.headSeq);
    await pair.stop();

    // The relay's database now says it holds the feed up to 2^53 - 1.
    const db = new Database(join(dir.path, 'relay-data', 'relay.db'));
    const changed = db.prepare('UPDATE feed_positions SET high_water_seq = ? WHERE hospital = ? AND feed = ?').run(MAX_SEQ, 'hw-held-hospital', PAIR_FEED).changes;
    db.close();
    expect(changed).toBe(1);

    await pair.startRelay();
    await pair.startAgent();
    const stopped = await until(
      'a feed-integrity incident and its alert',
      () => pair!.agentStatus(),
      (s) => feedOf(s).integrity !== null && (s.alerts?.active.some((a) => a.rule === 'feed-integrity' && a.subject === PAIR_FEED) ?? false),
      { timeoutMs: 20_000, describe: (s) => JSON.stringify({ feed: feedOf(s), alerts: s.alerts?.active }).slice(0, 800) },
    );
    const feed = feedOf(stopped);
    expect(feed.integrity).toMatchObject({ relayMarkSeq: MAX_SEQ, journalHeadSeq: stopped.journal.headSeq, ackedSeq: ackedBefore });
    expect(feed.blocked).toContain('beyond this agent\'s journal head');
    const alert = stopped.alerts!.active.find((a) => a.rule === 'feed-integrity')!;
    expect(alert.severity).toBe('critical');

    // New events are kept, not "caught up": the acked seq never passes the journal head.
    await sendMessages('link-hw-held-more', 10);
    const later = await pair.agentStatus();
    expect(feedOf(later).ackedSeq).toBe(ackedBefore);
    expect(feedOf(later).backlog.events).toBeGreaterThanOrEqual(10);
    expect(later.links[0]!.state).toBe('streaming');
  }, 90_000);
});
