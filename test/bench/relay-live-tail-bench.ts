// Section 13b: the live tail across relays sharing one PostgreSQL database.
// Two relays, A and B, each with its own connections, notifier and doorbell
// listener (in this one Node process, so one clock times both): an agent's
// stream on B stores one-event batches; a vendor following the feed receives
// each, once through B itself (the baseline: B's own notifier, the same work in
// the same run) and once through A, which hears of B's commit only through
// PostgreSQL (the NOTIFY) and reads the event from the database. Timed from B's
// ack (its commit) to the delivery. test/chaos/relay-ha.ts does the same across
// real processes, under hops and kills.
import { performance } from 'node:perf_hooks';
import type { RelayConfigInput } from '../../cloud-relay/config.js';
import { DEFAULT_LIVE_TAIL_POLL_MS } from '../../cloud-relay/store/index.js';
import { connectAgent, makeBatch, shareSigningKey, TestRelay, VENDOR_KEYS } from '../integration/relay-harness.js';
import { createRelayTestDatabase } from '../support/relay-test-database.js';
import { shown, type BenchReport } from './bench-report.js';

export interface LiveTailBenchOptions {
  /** One-event batches timed per path. */
  batches: number;
}

/** The goal the issue sets for a commit on one process to reach a vendor on another. */
const CROSS_PROCESS_P99_GOAL_MS = 250;

export async function measureCrossProcessLiveTail(report: BenchReport, options: LiveTailBenchOptions): Promise<void> {
  report.begin(`13b. Live tail across relays on one PostgreSQL: ${options.batches.toLocaleString('en')} one-event batches stored at B, followed at B (baseline) and at A`);
  const db = await createRelayTestDatabase('bench_tail');
  const onPostgres = (config: RelayConfigInput): RelayConfigInput => ({ ...config, store: { kind: 'postgres', url: db.url } });
  const a = new TestRelay(onPostgres);
  const b = new TestRelay(onPostgres);
  shareSigningKey(a, b);
  try {
    await Promise.all([a.start(), b.start()]);
    const agent = await connectAgent(b, 'h1', ['adt']);
    let seq = 0;
    const timeFollow = async (at: TestRelay): Promise<number[]> => {
      const follow = at.subscribe(VENDOR_KEYS.platform, { feed: 'adt', hospitalId: 'h1', after: seq, follow: true });
      const next = async (): Promise<number> => {
        for (;;) {
          const message = await follow.next(10_000);
          if (message.event) return Number(message.event.seq);
        }
      };
      const samples: number[] = [];
      try {
        for (let i = 0; i < options.batches; i += 1) {
          seq += 1;
          const answer = await agent.stream.exchange(makeBatch('adt', seq, seq));
          const acked = performance.now();
          if (Number(answer.ack?.highWaterSeq) !== seq) throw new Error(`batch ${seq} was not acked as stored`);
          const got = await next();
          if (got !== seq) throw new Error(`the follow at ${at === a ? 'A' : 'B'} delivered ${got}, expected ${seq}`);
          samples.push(performance.now() - acked);
        }
      } finally {
        follow.call.cancel();
      }
      return samples.sort((x, y) => x - y);
    };
    const same = await timeFollow(b);
    const across = await timeFollow(a);
    agent.stream.end();
    const p = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))]!;
    report.record('commit at B → delivery at B, p50 (baseline)', p(same, 50), 'ms', 'the in-process notifier wakes the follow; the event read from PostgreSQL');
    report.record('commit at B → delivery at B, p99 (baseline)', p(same, 99), 'ms', '');
    report.record('commit at B → delivery at A, p50', p(across, 50), 'ms', "A hears of B's commit by the NOTIFY sent in the batch's transaction, then reads it");
    report.record('commit at B → delivery at A, p99', p(across, 99), 'ms', `polling fallback every ${DEFAULT_LIVE_TAIL_POLL_MS} ms (liveTailPollMs) for a lost notification`);
    report.check(`a commit at one relay process reaches a vendor following at another within ${CROSS_PROCESS_P99_GOAL_MS} ms (p99)`, `< ${CROSS_PROCESS_P99_GOAL_MS} ms`, `${shown(p(across, 99))} ms`, p(across, 99) < CROSS_PROCESS_P99_GOAL_MS);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await db.drop();
  }
}
