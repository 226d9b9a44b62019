// The PostgreSQL crash suite at the size `npm test` can afford: 5 kill -9 of the
// agent mid-stream and 2 restarts of the server (a clean fast shutdown, then a
// SIGKILL) while a writer commits single-row and multi-row transactions. The full
// 20 kills and 3 restarts: `node scripts/capture-crash-postgres.mjs` (see the
// script's header). The scenario itself is test/bench/postgres-crash.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { runPostgresCrashScenario } from '../bench/postgres-crash.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('postgres capture under kill -9 and server restarts', () => {
  const dir = makeTempDir('wardline-pg-crash-');
  afterAll(() => dir.remove());

  it('loses nothing, doubles nothing, shows no transaction in part, and never confirms past the journal', { timeout: 180_000 }, async () => {
    const result = await runPostgresCrashScenario({ dir: dir.path, kills: 5, serverRestarts: 2, ratePerSecond: 250, keys: 400 });
    const summary = JSON.stringify({ ...result, afterKills: result.afterKills.slice(-3) }, null, 1).slice(0, 4_000);

    // The faults happened, mid-stream.
    expect(result.kills, summary).toBe(6);
    expect(result.serverRestarts, summary).toEqual({ clean: 1, killed: 1 });
    expect(result.journaledBeforeKill.every((n) => n > 0), summary).toBe(true);
    expect(result.writer.committed, summary).toBeGreaterThan(1_000);
    // The slot never held more than the journal, after each kill and while running.
    expect(result.afterKills.length, summary).toBe(6);
    expect(result.runningSamples, summary).toBeGreaterThan(10);
    expect(result.violations, summary).toEqual([]);
    // Every row of the table is in the local copy, as it is in the table.
    expect(result.localCopy, summary).toEqual({ missing: [], extra: [], different: [] });
    expect(result.localCopyDigest, summary).toBe(result.sourceDigest);
    expect(result.sourceRows, summary).toBeGreaterThan(100);
    // Each row's changes once each, in order; each multi-row transaction whole.
    expect(result.audit.duplicates, summary).toEqual([]);
    expect(result.audit.gaps, summary).toEqual([]);
    expect(result.audit.partialTransactions, summary).toEqual([]);
    expect(result.audit.wholeTransactions, summary).toBeGreaterThan(100);
  });
});
