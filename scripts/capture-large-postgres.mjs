// The full large-transaction run (issue 12, "Done means"): a 1,000,000-row UPDATE in
// one transaction through the agent process. Prints the agent's peak memory, the
// walsender pids that held the slot (one = never cut), and every count of the
// transaction's events the journal showed while the agent committed it (0 and all,
// never a part). `npm test` runs the same at 100,000 rows
// (test/integration/postgres-large-transaction.int.test.ts).
//
//   npm run build && node scripts/capture-large-postgres.mjs [--rows 1000000] [--wal-sender-timeout 60s]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(repo, 'dist/test/bench/postgres-large-transaction.js');
if (!existsSync(built)) {
  process.stderr.write('capture-large-postgres: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const { runLargeTransaction } = await import(built);
const { makeTempDir } = await import(join(repo, 'dist/test/support/temp-dir.js'));
const dir = makeTempDir('wardline-pg-large-');
const rows = Number(arg('rows', 1_000_000));
const result = await runLargeTransaction({ dir: dir.path, rows, walSenderTimeout: arg('wal-sender-timeout', '60s'), log: (line) => process.stderr.write(`${line}\n`) });
const mib = (bytes) => Math.round(bytes / 2 ** 20);
process.stdout.write(
  `${JSON.stringify({ ...result, hwmBeforeMiB: mib(result.hwmBeforeBytes), hwmAfterMiB: mib(result.hwmAfterBytes), troubleInLog: result.troubleInLog.slice(0, 5) }, null, 2)}\n`,
);
const whole = result.countsSeen.every((n) => n === 0 || n === rows) && result.countsSeen.includes(rows);
const failures = [
  !whole && `the journal showed part of the transaction: ${result.countsSeen.join(', ')}`,
  result.hwmAfterBytes >= 512 * 2 ** 20 && `agent peak RSS ${mib(result.hwmAfterBytes)} MiB ≥ 512 MiB`,
  result.walsenderPids.length !== 1 && `the walsender changed: pids ${result.walsenderPids.join(', ')}`,
  result.troubleInLog.length > 0 && `the agent logged trouble: ${result.troubleInLog[0]}`,
].filter(Boolean);
if (failures.length > 0) {
  process.stderr.write(`FAILED:\n${failures.join('\n')}\n(agent data kept in ${dir.path})\n`);
  process.exit(1);
}
dir.remove();
