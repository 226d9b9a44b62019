// The short chaos run (the long one: `npm run chaos -- --minutes N`): 50 seeded
// faults during continuous ingest of 200,000 events through MLLP and HTTP.
import { describe, expect, it } from 'vitest';
import { runChaos } from '../chaos/chaos-run.js';
import { makeTempDir } from '../support/temp-dir.js';

const SEED = Number(process.env.WARDLINE_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('chaos', () => {
  it(`keeps every invariant through 50 faults during 200,000 events (seed ${SEED})`, async () => {
    const dir = makeTempDir('wardline-chaos-');
    try {
      const result = await runChaos({ seed: SEED, dir: dir.path, durationMs: 100_000, events: 200_000, faults: 50 });
      const kinds = new Set(result.faults.map((f) => f.kind));
      console.log(
        `chaos seed ${SEED}: ${result.faults.length} faults (${[...kinds].join(', ')}), ${result.report.acknowledged} acknowledged, ` +
          `${result.report.inFeed} in feed, ingest ${result.ingestSeconds.toFixed(0)} s, drain ${result.drainSeconds.toFixed(1)} s`,
      );
      expect(result.report.violations, `replay with WARDLINE_CHAOS_SEED=${SEED}`).toEqual([]);
      expect(result.report.acknowledged).toBe(200_000);
      expect(result.faults.length).toBeGreaterThanOrEqual(50);
    } finally {
      dir.remove();
    }
  }, 300_000);
});
