// The full PostgreSQL crash suite (issue 12, "Done means"): 20 kill -9 of the agent
// mid-stream and 3 restarts of the database server (fast shutdown, SIGKILL, fast
// shutdown) under a writer committing single-row and multi-row transactions; the
// slot's confirmed position checked against the journal after each kill and every
// 200 ms; at the end the table's digest against the local copy and each row's
// change sequence. `npm test` runs the same scenario scaled down
// (test/integration/postgres-crash.int.test.ts).
//
//   npm run build && node scripts/capture-crash-postgres.mjs [--kills 20] [--restarts 3] [--rate 300]
//
// Prints one line per fault and a JSON summary; exits 1 when an invariant failed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(repo, 'dist/test/bench/postgres-crash.js');
if (!existsSync(built)) {
  process.stderr.write('capture-crash-postgres: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const { runPostgresCrashScenario } = await import(built);
const { makeTempDir } = await import(join(repo, 'dist/test/support/temp-dir.js'));
const dir = makeTempDir('wardline-pg-crash-');
process.stderr.write(`agent and logs in ${dir.path}\n`);
const result = await runPostgresCrashScenario({
  dir: dir.path,
  kills: flag('kills', 20),
  serverRestarts: flag('restarts', 3),
  ratePerSecond: flag('rate', 300),
  keys: flag('keys', 1000),
  log: (line) => process.stderr.write(`${line}\n`),
});
const failures = [
  result.violations.length > 0 && `slot confirmed past the journal: ${JSON.stringify(result.violations)}`,
  result.localCopyDigest !== result.sourceDigest && `local copy ≠ source: ${JSON.stringify(result.localCopy).slice(0, 1000)}`,
  result.audit.duplicates.length > 0 && `duplicates: ${result.audit.duplicates.join('; ')}`,
  result.audit.gaps.length > 0 && `gaps: ${result.audit.gaps.join('; ')}`,
  result.audit.partialTransactions.length > 0 && `partial transactions: ${result.audit.partialTransactions.join('; ')}`,
].filter(Boolean);
const summary = {
  kills: result.kills,
  serverRestarts: result.serverRestarts,
  positionChecksAfterKills: result.afterKills.length,
  positionSamplesWhileRunning: result.runningSamples,
  violations: result.violations.length,
  writer: result.writer,
  sourceRows: result.sourceRows,
  localCopyEqualsSource: result.localCopyDigest === result.sourceDigest,
  journalChanges: result.audit.changes,
  duplicates: result.audit.duplicates.length,
  gaps: result.audit.gaps.length,
  partialTransactions: result.audit.partialTransactions.length,
  wholeMultiRowTransactions: result.audit.wholeTransactions,
  seconds: Math.round(result.seconds),
};
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
if (failures.length > 0) {
  process.stderr.write(`FAILED:\n${failures.join('\n')}\n(agent data kept in ${dir.path})\n`);
  process.exit(1);
}
dir.remove();
