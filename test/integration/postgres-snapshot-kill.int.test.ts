// A snapshot killed with SIGKILL at about half its rows while the HIS writes on:
// after the restart it resumes at its chunk (every row's snapshot event journaled
// exactly once, so no finished chunk was read again) and converges with the stream
// (the local copy equals the table). The 1,000,000-row run is
// scripts/capture-snapshot-kill-postgres.mjs.
import { expect, it } from 'vitest';
import { runSnapshotKill } from '../bench/postgres-snapshot-kill.js';
import { makeTempDir } from '../support/temp-dir.js';

it('a snapshot killed at half resumes without reading finished chunks again and converges with the stream', { timeout: 150_000 }, async () => {
  const dir = makeTempDir('wardline-pg-snapshot-kill-');
  try {
    const result = await runSnapshotKill({ dir: dir.path, rows: 60_000, chunkRows: 2_000 });
    expect(result.percentAtKill).toBeGreaterThanOrEqual(50);
    expect(result.percentAtKill).toBeLessThan(100);
    expect(result.copiedBeforeKill).toBeGreaterThan(0);
    expect(result.copiedBeforeKill).toBeLessThan(result.rows);
    // Each row copied once: a chunk read again would journal its rows twice.
    expect(result.snapshotEvents).toBe(result.rows);
    expect(result.snapshotKeys).toBe(result.rows);
    expect(result.changesDuring).toBeGreaterThan(0);
    expect(result.localCopyDigest).toBe(result.sourceDigest);
  } finally {
    dir.remove();
  }
});
