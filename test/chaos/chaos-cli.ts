// `npm run chaos -- --minutes N [--seed S] [--events-per-second R]`: the long form
// of the chaos test. Prints the fault schedule as it goes and the invariant
// report at the end; exits 1 on any violation, printing the seed to replay it.
import { parseArgs } from 'node:util';
import { makeTempDir } from '../support/temp-dir.js';
import { runChaos } from './chaos-run.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seed: { type: 'string' },
    'events-per-second': { type: 'string', default: '1500' },
    'keep-dir': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values['events-per-second']);
if (!(minutes > 0) || !(rate > 0)) {
  process.stderr.write('usage: npm run chaos -- --minutes N [--seed S] [--events-per-second R] [--keep-dir]\n');
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const durationMs = minutes * 60_000;
const faults = Math.max(50, Math.round(minutes * 25));
const dir = makeTempDir('wardline-chaos-');
process.stdout.write(`chaos: seed ${seed}, ${minutes} min, ${Math.round((rate * durationMs) / 1000)} events, ${faults} faults, dir ${dir.path}\n`);
const result = await runChaos({ seed, dir: dir.path, durationMs, events: Math.round((rate * durationMs) / 1000), faults, log: (line) => process.stdout.write(`${line}\n`) });
const counts = new Map<string, number>();
for (const f of result.faults) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
process.stdout.write(
  `\nchaos result: seed ${seed}; ${result.faults.length} faults (${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
    `${result.report.acknowledged} acknowledged, ${result.report.journaled} journaled, ${result.report.inFeed} in the vendor feed; ` +
    `ingest ${result.ingestSeconds.toFixed(0)} s, drain ${result.drainSeconds.toFixed(1)} s; digest ${result.report.feedDigest.slice(0, 16)}\n`,
);
if (result.report.violations.length > 0) {
  process.stdout.write(`VIOLATIONS (replay with --seed ${seed}):\n  ${result.report.violations.join('\n  ')}\n`);
  process.stdout.write(`logs kept in ${dir.path}\n`);
  process.exit(1);
}
process.stdout.write('all invariants held\n');
if (!values['keep-dir']) dir.remove();
