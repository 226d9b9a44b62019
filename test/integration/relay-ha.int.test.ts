// The high-availability proof in the suite (the full size: `npm run chaos:ha`):
// three relay processes on one PostgreSQL database behind a round-robin
// balancer; a real agent replicates 20,000 events into two feeds while it hops
// between them ten times (balancer resets, and one SIGKILL of the process it is
// on, restarted), and a vendor follows both feeds live through a process other
// than the agent's. PostgreSQL ends with exactly N events per feed, seqs 1..N;
// the vendor received each once, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentiles, runRelayHa } from '../chaos/relay-ha.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { makeTempDir } from '../support/temp-dir.js';

const EVENTS = 20_000;
const HOPS = 10;

describe('relay processes on one PostgreSQL behind a balancer', () => {
  let database: RelayTestDatabase;
  const dir = makeTempDir('wardline-relay-ha-');

  beforeAll(async () => {
    database = await createRelayTestDatabase('relay_ha');
  });

  afterAll(async () => {
    await database?.drop();
    dir.remove();
  });

  it(`keeps every event exactly once and in order while the agent hops ${HOPS} times between 3 processes`, async () => {
    const result = await runRelayHa({ dir: dir.path, databaseUrl: database.url, events: EVENTS, hops: HOPS, kills: 1, rowsPerRequest: 250, settleTimeoutMs: 60_000 });
    const resume = percentiles(result.hops.map((h) => h.resumeMs));
    console.log(
      `relay HA: ${EVENTS} events in ${result.seconds.toFixed(1)} s, ${result.hops.length} hops, resume p50 ${resume.p50} ms p99 ${resume.p99} ms, ` +
        `resent ${result.feeds.map((f) => f.eventsResent).join('/')}, connections per process ${result.connectionsPerBackend.join('/')}`,
    );
    expect(result.violations).toEqual([]);
    expect(result.hops).toHaveLength(HOPS);
    expect(result.hops.filter((h) => h.kind === 'kill')).toHaveLength(1);
    // The agent really moved: onto another process at (nearly) every hop, and every process served it.
    expect(result.hops.filter((h) => h.to !== h.from).length).toBeGreaterThanOrEqual(HOPS - 1);
    expect(result.connectionsPerBackend.every((n) => n > 0)).toBe(true);
    for (const feed of result.feeds) {
      expect(feed).toMatchObject({ stored: EVENTS, minSeq: 1, maxSeq: EVENTS, highWaterSeq: EVENTS, vendorReceived: EVENTS, vendorRowsOnce: EVENTS });
    }
  }, 120_000);
});
