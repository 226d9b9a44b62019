// The full-size snapshot kill (issue 12, "Done means"): a 1,000,000-row initial
// snapshot, the agent killed with SIGKILL at about 50%, the HIS writing on; after
// the restart every row's snapshot event is journaled once (no finished chunk read
// again) and the local copy equals the table. `npm test` runs the same scenario
// with 60,000 rows (test/integration/postgres-snapshot-kill.int.test.ts).
//
//   npm run build && node scripts/capture-snapshot-kill-postgres.mjs [--rows 1000000] [--chunk 10000]
//
// Prints a JSON summary; exits 1 when an invariant failed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(repo, 'dist/test/bench/postgres-snapshot-kill.js');
if (!existsSync(built)) {
  process.stderr.write('capture-snapshot-kill-postgres: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const { runSnapshotKill } = await import(built);
const { makeTempDir } = await import(join(repo, 'dist/test/support/temp-dir.js'));
const dir = makeTempDir('wardline-pg-snapshot-kill-');
process.stderr.write(`agent and logs in ${dir.path}\n`);
try {
  const result = await runSnapshotKill({ dir: dir.path, rows: flag('rows', 1_000_000), chunkRows: flag('chunk', 10_000), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  const failures = [
    result.snapshotEvents !== result.rows && `snapshot events ${result.snapshotEvents} for ${result.rows} rows`,
    result.snapshotKeys !== result.rows && `snapshot covered ${result.snapshotKeys} keys of ${result.rows}`,
    result.localCopyDigest !== result.sourceDigest && 'local copy differs from the table',
  ].filter(Boolean);
  for (const failure of failures) process.stderr.write(`FAILED: ${failure}\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
} finally {
  dir.remove();
}
