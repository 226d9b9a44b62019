// Pause, resume and revoke with real processes: a relay and an agent as child
// processes, rows ingested all along, the relay's status polled to see what
// arrives. Measured: after `wardline agent pause` returns, the relay receives no
// batch of the paused feed (its batch count, ledger head and high-water mark do
// not move) while ingest and the other feed go on. Then: the pause survives a
// restart, resume drains, revoke deletes at the relay (vendors get 410), and the
// ledger verifies — and fails, naming the records, once tampered with.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import type { FeedControlResult } from '../../agent/control/index.js';
import type { RelayStatus } from '../../cloud-relay/index.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';
import { PAIR_FEED, PAIR_OPERATOR_HEADERS, PAIR_OPERATOR_TOKEN_FILE, PAIR_VENDOR_KEY, WardlinePair } from '../support/wardline-pair.js';
import { WardlineProcess } from '../support/wardline-process.js';

const HOSPITAL = 'control-hospital';
const OTHER_FEED = 'billing';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rows posted to the agent all along, to the paused feed's stream and the other feed's. */
class IngestLoad {
  rows = { adt: 0, billing: 0 };
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly agentHttp: string) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      let n = 0;
      while (this.running) {
        for (const stream of ['adt', 'billing'] as const) {
          const rows = Array.from({ length: 3 }, () => ({ key: `${stream}-${++n}`, value: n }));
          const response = await fetch(`${this.agentHttp}/v1/ingest/${stream}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rows) }).catch(() => undefined);
          if (response?.ok) this.rows[stream] += rows.length;
        }
        await sleep(15);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

interface RelayFeedView {
  batches: number;
  ledgerIndex: number;
  highWater: number;
  lastBatchAtMs: number | null;
}

async function relayView(pair: WardlinePair): Promise<Record<string, RelayFeedView>> {
  const status = (await (await fetch(`${pair.relayHttp}/v1/status`, { headers: PAIR_OPERATOR_HEADERS })).json()) as RelayStatus;
  const hospital = status.hospitals.find((h) => h.id === HOSPITAL);
  const view: Record<string, RelayFeedView> = {};
  for (const feed of [PAIR_FEED, OTHER_FEED]) {
    const head = hospital?.ledgerHeads.find((h) => h.feed === feed);
    view[feed] = {
      batches: head?.batches ?? 0,
      ledgerIndex: head?.index ?? 0,
      highWater: hospital?.feeds.find((f) => f.feed === feed)?.highWaterSeq ?? 0,
      lastBatchAtMs: head?.lastBatchAt ? Date.parse(head.lastBatchAt) : null,
    };
  }
  return view;
}

async function cli(args: string[]): Promise<{ code: number | null; output: string }> {
  const process = new WardlineProcess(args);
  const { code } = await process.exited;
  return { code, output: process.recentOutput };
}

function feedOf(status: AgentStatus, feed: string): AgentStatus['feeds'][number] {
  return status.feeds.find((f) => f.feed === feed)!;
}

describe('pause, resume and revoke (real relay and agent)', () => {
  const dir = makeTempDir('wardline-control-');
  let pair: WardlinePair;
  let load: IngestLoad;
  /** Events of the paused feed the vendor read once it had drained. */
  let drainedEvents = 0;

  beforeAll(async () => {
    pair = await WardlinePair.create(dir.path, {
      hospital: HOSPITAL,
      logLevel: 'warn',
      extraFeeds: [{ name: OTHER_FEED, streams: ['billing'] }],
      // Small batches, so a feed hands batches over all the time.
      agentReplication: { batchMaxEvents: 10, emptyBatchIntervalMs: 200 },
    });
    await pair.startRelay();
    await pair.startAgent();
    load = new IngestLoad(pair.agentHttp);
    load.start();
  });

  afterAll(async () => {
    await load?.stop();
    await pair?.stop();
    dir.remove();
  });

  it('stops all egress of the feed before the command returns; ingest and the other feed go on', async () => {
    while ((await relayView(pair))[PAIR_FEED]!.batches < 10) await sleep(50);

    const started = Date.now();
    const { code, output } = await cli(['agent', 'pause', '--feed', PAIR_FEED, '--url', pair.agentHttp, '--reason', 'integration test', '--json']);
    const returnedAt = Date.now();
    expect(code, output).toBe(0);
    const result = JSON.parse(output.slice(output.indexOf('{'))) as FeedControlResult;
    expect(result).toMatchObject({ feed: PAIR_FEED, state: 'paused', changed: true, inFlight: 0 });

    const atReturn = await relayView(pair);
    const headAtReturn = (await pair.agentStatus()).journal.headSeq;
    const watchMs = 4_000;
    let polls = 0;
    while (Date.now() - returnedAt < watchMs) {
      const now = await relayView(pair);
      polls++;
      expect(now[PAIR_FEED]).toEqual(atReturn[PAIR_FEED]);
      await sleep(20);
    }
    const after = await relayView(pair);
    const status = await pair.agentStatus();
    const lastBeforeReturnMs = returnedAt - atReturn[PAIR_FEED]!.lastBatchAtMs!;
    console.log(
      `pause: command took ${returnedAt - started} ms (agent: ${result.tookMs} ms to stop and settle); ` +
        `last ${PAIR_FEED} batch reached the relay ${lastBeforeReturnMs} ms before the command returned; ` +
        `in the ${watchMs} ms after: 0 ${PAIR_FEED} batches (${polls} relay polls), ` +
        `${after[OTHER_FEED]!.batches - atReturn[OTHER_FEED]!.batches} ${OTHER_FEED} batches, ${status.journal.headSeq - headAtReturn} events ingested`,
    );
    expect(atReturn[PAIR_FEED]!.lastBatchAtMs).toBeLessThanOrEqual(returnedAt);
    expect(returnedAt - started).toBeLessThan(5_000);
    expect(result.tookMs).toBeLessThan(1_000);
    // Everything handed over before the pause was acknowledged: the relay's mark is what the agent sent.
    expect(atReturn[PAIR_FEED]!.highWater).toBe(result.ackedSeq);
    expect(after[OTHER_FEED]!.highWater).toBeGreaterThan(atReturn[OTHER_FEED]!.highWater);
    expect(status.journal.headSeq).toBeGreaterThan(headAtReturn);
    expect(feedOf(status, PAIR_FEED)).toMatchObject({ paused: true, control: { state: 'paused', reason: 'integration test' }, blocked: 'paused by the operator' });
    expect(feedOf(status, OTHER_FEED)).toMatchObject({ paused: false, control: { state: 'active' } });
    // A per-feed pause leaves the link alone.
    expect(status.links[0]!.state).toBe('streaming');
    expect(status.ledger!.recentActions.find((r) => r.type === 'pause')).toMatchObject({ feed: PAIR_FEED, details: { reason: 'integration test', sentSeq: result.sentSeq, origin: expect.stringMatching(/^http /) } });
  });

  it('stays paused across a restart', async () => {
    await pair.agent!.kill('SIGTERM');
    const before = await relayView(pair);
    await pair.startAgent();
    await sleep(2_000);
    const status = await pair.agentStatus();
    expect(status.links[0]!.state).toBe('streaming');
    expect(feedOf(status, PAIR_FEED)).toMatchObject({ paused: true, control: { state: 'paused' } });
    expect((await relayView(pair))[PAIR_FEED]).toEqual(before[PAIR_FEED]);
    expect((await relayView(pair))[OTHER_FEED]!.highWater).toBeGreaterThan(before[OTHER_FEED]!.highWater);
  });

  it('resumes from the relay\'s high-water mark and drains the backlog, exactly once', async () => {
    const before = await relayView(pair);
    const backlog = feedOf(await pair.agentStatus(), PAIR_FEED).backlog.events;
    expect(backlog).toBeGreaterThan(0);
    const { code, output } = await cli(['agent', 'resume', '--feed', PAIR_FEED, '--url', pair.agentHttp]);
    expect(code, output).toBe(0);
    expect(output).toContain(`feed ${PAIR_FEED} resumed from seq ${before[PAIR_FEED]!.highWater + 1}`);
    await load.stop();
    const drained = await pair.waitForDrain(60_000);
    expect(feedOf(drained, PAIR_FEED)).toMatchObject({ paused: false, ackedSeq: drained.journal.headSeq });
    const events = await readWholeFeed(pair.relayHttp, PAIR_FEED, PAIR_VENDOR_KEY);
    expect(events).toHaveLength(load.rows.adt);
    expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
    drainedEvents = events.length;
    console.log(`resume: a backlog of ${backlog} events drained; the vendor reads ${events.length} events, each once`);
  });

  it('records a reconnect', async () => {
    const { code } = await cli(['agent', 'reconnect', '--url', pair.agentHttp]);
    expect(code).toBe(0);
    await sleep(300);
    expect((await pair.agentStatus()).ledger!.recentActions[0]).toMatchObject({ type: 'reconnect', feed: null, details: { relays: ['cloud'] } });
  });

  it('revokes: the relay deletes the feed and says so, vendors get 410, the answer is in the ledger, and it holds across a restart', async () => {
    load.start();
    await sleep(500);
    const { code, output } = await cli(['agent', 'revoke', '--feed', PAIR_FEED, '--url', pair.agentHttp, '--reason', 'contract ended', '--json']);
    expect(code, output).toBe(0);
    const result = JSON.parse(output.slice(output.indexOf('{'))) as FeedControlResult;
    const held = (await relayView(pair))[PAIR_FEED]!;
    expect(result).toMatchObject({ state: 'revoked', relayAnswer: { details: { relay: 'cloud', eventsDeleted: expect.any(Number), alreadyRevoked: false } } });
    const deleted = result.relayAnswer!.details.eventsDeleted as number;
    expect(deleted).toBeGreaterThan(drainedEvents);
    console.log(`revoke: the relay deleted ${deleted} events (${String(result.relayAnswer!.details.bytesDeleted)} bytes) in a ${result.tookMs} ms round trip`);

    const gone = await fetch(`${pair.relayHttp}/v1/feeds/${PAIR_FEED}/events?after=0`, { headers: { authorization: `Bearer ${PAIR_VENDOR_KEY}` } });
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('WL_FEED_REVOKED');
    const relayStatus = (await (await fetch(`${pair.relayHttp}/v1/status`, { headers: PAIR_OPERATOR_HEADERS })).json()) as RelayStatus;
    expect(relayStatus.hospitals.find((h) => h.id === HOSPITAL)!.revokedFeeds).toEqual([expect.objectContaining({ feed: PAIR_FEED, eventsDeleted: deleted, reason: 'contract ended' })]);

    const status = await pair.agentStatus();
    expect(feedOf(status, PAIR_FEED)).toMatchObject({ paused: true, control: { state: 'revoked' } });
    expect(status.ledger!.recentActions.find((r) => r.type === 'revoked')).toMatchObject({ index: result.relayAnswer!.ledgerIndex, feed: PAIR_FEED, details: { eventsDeleted: deleted } });
    const resume = await cli(['agent', 'resume', '--feed', PAIR_FEED, '--url', pair.agentHttp]);
    expect(resume.code).toBe(2);
    expect(resume.output).toContain('is revoked');

    await pair.agent!.kill('SIGTERM');
    await pair.startAgent();
    await sleep(1_500);
    expect(feedOf(await pair.agentStatus(), PAIR_FEED)).toMatchObject({ paused: true, control: { state: 'revoked' } });
    expect((await relayView(pair))[PAIR_FEED]).toMatchObject({ batches: held.batches, highWater: 0 });
    await load.stop();
  });

  it('verifies the ledger against the relay, exports it, and names what was cut or changed', async () => {
    await pair.agent!.kill('SIGTERM');
    const config = join(dir.path, 'agent.yaml');
    const ok = await cli(['audit', 'verify', '--config', config, '--relay-http', pair.relayHttp, '--relay-token-file', join(dir.path, PAIR_OPERATOR_TOKEN_FILE)]);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toMatch(/ledger OK: .*agent\.db: \d+ records, 1\.\.\d+, head [0-9a-f]{64}; 2 relay head\(s\) compared/);

    const out = join(dir.path, 'ledger.jsonl');
    const exported = await cli(['audit', 'export', '--config', config, '--out', out]);
    expect(exported.code, exported.output).toBe(0);
    expect((await cli(['audit', 'verify', '--file', out])).output).toContain('ledger OK');

    const relayHeads = (await (await fetch(`${pair.relayHttp}/v1/status`, { headers: PAIR_OPERATOR_HEADERS })).json()) as RelayStatus;
    const newest = Math.max(...relayHeads.hospitals.find((h) => h.id === HOSPITAL)!.ledgerHeads.map((h) => h.index));
    const db = new Database(join(dir.path, 'agent-data', 'agent.db'));
    try {
      const types = db.prepare('SELECT type FROM egress_ledger ORDER BY idx LIMIT 2').all() as { type: string }[];
      expect(types.map((t) => t.type)).toEqual(['policy-change', 'policy-change']);
      // Cut the tail from two records before the newest head the relay holds.
      db.prepare('DELETE FROM egress_ledger WHERE idx >= ?').run(newest - 2);
    } finally {
      db.close();
    }
    const alone = await cli(['audit', 'verify', '--config', config]);
    expect(alone.code, alone.output).toBe(0);
    const against = await cli(['audit', 'verify', '--config', config, '--relay-http', pair.relayHttp, '--relay-token-file', join(dir.path, PAIR_OPERATOR_TOKEN_FILE)]);
    expect(against.code).toBe(1);
    expect(against.output).toContain(`record ${newest} is missing: relay`);
    expect(against.output).toContain(`the local ledger ends at record ${newest - 3}: its tail was cut off`);

    const db2 = new Database(join(dir.path, 'agent-data', 'agent.db'));
    try {
      // Add one byte to what the first batch record says left: always a change,
      // whatever the record held (an empty batch's payload may already be 1 byte).
      db2
        .prepare(
          `UPDATE egress_ledger SET details = json_set(details, '$.bytes', json_extract(details, '$.bytes') + 1) WHERE idx = (SELECT MIN(idx) FROM egress_ledger WHERE type = 'batch')`,
        )
        .run();
    } finally {
      db2.close();
    }
    const changed = await cli(['audit', 'verify', '--config', config, '--json']);
    expect(changed.code).toBe(1);
    const verification = JSON.parse(changed.output) as { problems: { index: number; kind: string }[] };
    expect(verification.problems).toEqual([expect.objectContaining({ kind: 'modified' })]);
    await pair.startAgent();
  });
});
