// The full-size imaging fault run (issue "Done means"): a 2 GB study sent by
// storescu into a real agent while the line is down, then replicated to a real
// relay through the fault proxy with the line cut at about 30% (reset), 60%
// (blackhole) and 90% (reset) of the study's bytes and the agent SIGKILLed once
// (45%); then the study sent again and into a second feed. `npm test` runs the
// same scenario at ~75 MB (test/integration/imaging-replication.int.test.ts).
//
//   npm run build && node scripts/imaging-cut-kill.mjs [--mb 2048] [--two-feeds] [--keep]
//
// --two-feeds: the second imaging feed ships beside the first from the start and
// storescu sends while the line is up (instead of the second feed resumed once
// the first is done, and the study sent while the line is down).
//
// Needs dcmtk (storescu) and about 3 × the study's size free on the temp disk
// (the files, the agent's archive, the relay's chunks). A fifth of the bytes go
// in single-frame instances (0.5 MiB), the rest in 20-frame ones (10 MiB, three
// 4 MiB chunks). Prints a JSON summary; exits 1 when an invariant failed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(repo, 'dist/test/support/imaging-cut-kill.js');
if (!existsSync(built)) {
  process.stderr.write('imaging-cut-kill: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const keep = process.argv.includes('--keep');
const twoFeeds = process.argv.includes('--two-feeds');
const megabytes = flag('mb', 2048);
const study = { singleFrame: Math.max(1, Math.round((megabytes * 0.2) / 0.5)), multiFrame: Math.max(1, Math.round((megabytes * 0.8) / 10)), frames: 20 };
/** As in the test: offers, part headers, framing and the blob-ref event per instance; Hello, positions and pings per connection. */
const OVERHEAD_PER_INSTANCE_BYTES = 4 * 1024;
const OVERHEAD_FIXED_BYTES = 256 * 1024;

const { runImagingCutKill } = await import(built);
const { makeTempDir } = await import(join(repo, 'dist/test/support/temp-dir.js'));
const dir = makeTempDir('wardline-imaging-cut-kill-');
process.stderr.write(`study, agent, relay and logs in ${dir.path}\n`);
const started = Date.now();
let failed = true;
try {
  const result = await runImagingCutKill({ dir: dir.path, study, secondFeedFromStart: twoFeeds, storeWhileLineUp: twoFeeds, timeoutMs: 3 * 3600_000, log: (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`) });
  const ratio = result.wireBytes / result.studyBytes;
  process.stdout.write(`${JSON.stringify({ ...result, ratio: Number(ratio.toFixed(4)), totalSeconds: Math.round((Date.now() - started) / 1000) }, null, 2)}\n`);
  const failures = [
    result.wireBytes > 1.05 * result.studyBytes + OVERHEAD_FIXED_BYTES + OVERHEAD_PER_INSTANCE_BYTES * result.instances && `${result.wireBytes} bytes on the wire for a study of ${result.studyBytes} (${ratio.toFixed(4)} ×)`,
    result.verified !== result.instances && `${result.verified} of ${result.instances} instances verified at the relay: ${result.mismatches.slice(0, 5).join('; ')}`,
    result.visibleBeforeComplete.length > 0 && `visible before complete: ${result.visibleBeforeComplete.slice(0, 5).join('; ')}`,
    result.resend.newEvents !== 0 && `the re-sent study journaled ${result.resend.newEvents} new events`,
    (result.resend.relayPartBytes !== 0 || result.resend.agentChunkBytes !== 0) && `the re-sent study carried chunk bytes (${result.resend.agentChunkBytes} sent, ${result.resend.relayPartBytes} at the relay)`,
    result.secondFeed.events !== result.instances && `the second feed lists ${result.secondFeed.events} of ${result.instances} instances`,
    (result.secondFeed.relayPartBytes !== 0 || result.secondFeed.agentChunkBytes !== 0) && `the second feed carried chunk bytes (${result.secondFeed.agentChunkBytes} sent, ${result.secondFeed.relayPartBytes} at the relay)`,
  ].filter(Boolean);
  for (const failure of failures) process.stderr.write(`FAILED: ${failure}\n`);
  failed = failures.length > 0;
  process.exitCode = failed ? 1 : 0;
} finally {
  if (keep || failed) process.stderr.write(`kept ${dir.path}\n`);
  else dir.remove();
}
