// A single-transaction UPDATE of 100,000 rows through the agent process (the
// 1,000,000-row run: `node scripts/capture-large-postgres.mjs`): staged on disk
// past maxTransactionRowsInMemory, the agent's peak memory stays far under 512 MB,
// the walsender is never cut (a 30 s wal_sender_timeout, half the default: the
// agent's event loop is blocked for seconds while the staged transaction is
// committed, see longestStatusWaitMs), and the journal, polled from outside every
// 10 ms while the agent commits, holds none of the transaction or all of it.
import { afterAll, describe, expect, it } from 'vitest';
import { runLargeTransaction } from '../bench/postgres-large-transaction.js';
import { makeTempDir } from '../support/temp-dir.js';

const MB = 1024 * 1024;

describe('postgres capture of one large transaction', () => {
  const dir = makeTempDir('wardline-pg-large-');
  afterAll(() => dir.remove());

  it('journals a 100,000-row UPDATE whole or not at all, in bounded memory, without a walsender timeout', { timeout: 120_000 }, async () => {
    const rows = 100_000;
    const result = await runLargeTransaction({ dir: dir.path, rows, walSenderTimeout: '30s' });
    const summary = JSON.stringify(result);
    if (process.env.WARDLINE_SHOW_FIGURES) console.log(summary);
    expect(result.countsSeen, summary).toEqual([0, rows]);
    expect(result.polls, summary).toBeGreaterThan(20);
    expect(result.hwmAfterBytes, summary).toBeLessThan(512 * MB);
    expect(result.walsenderPids, summary).toHaveLength(1);
    expect(result.statesSeen, summary).not.toContain('retrying');
    expect(result.troubleInLog, summary).toEqual([]);
  });
});
