// `npm run chaos:ha -- [--events N] [--hops H] [--kills K] [--relays R] [--keep-dir]`:
// the full-size high-availability proof (relay-ha.ts): by default 1,000,000
// events and 100 hops of a real agent between three relay processes on one
// PostgreSQL database (a fresh database on the machine's server, dropped at the
// end), a few of them SIGKILLs of the agent's process. Prints the figures;
// exits 1 on any violation, keeping the logs.
import { parseArgs } from 'node:util';
import { createRelayTestDatabase } from '../support/relay-test-database.js';
import { makeTempDir } from '../support/temp-dir.js';
import { percentiles, runRelayHa } from './relay-ha.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    hops: { type: 'string', default: '100' },
    kills: { type: 'string', default: '5' },
    relays: { type: 'string', default: '3' },
    'rows-per-request': { type: 'string', default: '1000' },
    'keep-dir': { type: 'boolean', default: false },
  },
});
const [events, hops, kills, relays, rowsPerRequest] = [values.events, values.hops, values.kills, values.relays, values['rows-per-request']].map(Number) as [number, number, number, number, number];
if (!(events > 0) || !(hops >= 0) || !(kills >= 0) || !(relays >= 2) || !(rowsPerRequest > 0)) {
  process.stderr.write('usage: npm run chaos:ha -- [--events N] [--hops H] [--kills K] [--relays R ≥ 2] [--rows-per-request N] [--keep-dir]\n');
  process.exit(2);
}
const dir = makeTempDir('wardline-relay-ha-');
const database = await createRelayTestDatabase('relay_ha');
process.stdout.write(`relay HA: ${events} events, ${hops} hops (${kills} SIGKILL), ${relays} relay processes on ${database.name}, dir ${dir.path}\n`);
const result = await runRelayHa({
  dir: dir.path,
  databaseUrl: database.url,
  events,
  hops,
  kills,
  relays,
  rowsPerRequest,
  settleTimeoutMs: 600_000,
  log: (line) => process.stdout.write(`${line}\n`),
}).finally(() => database.drop());

const resets = result.hops.filter((h) => h.kind === 'reset');
const killed = result.hops.filter((h) => h.kind === 'kill');
const line = (label: string, list: typeof result.hops): string => {
  if (list.length === 0) return `  ${label}: none`;
  const welcome = percentiles(list.map((h) => h.welcomeMs));
  const resume = percentiles(list.map((h) => h.resumeMs));
  return `  ${label} (${list.length}): to Welcome p50 ${welcome.p50} ms, p99 ${welcome.p99} ms; to first ack p50 ${resume.p50} ms, p99 ${resume.p99} ms, max ${resume.max} ms`;
};
const moved = result.hops.filter((h) => h.from !== undefined && h.to !== h.from).length;
process.stdout.write(
  `\nrelay HA result: ${result.events} events in ${result.seconds.toFixed(1)} s = ${Math.round(result.eventsPerSecond)} events/s per feed ` +
    `(${result.feeds.length} feeds; ingest ${result.ingestSeconds.toFixed(1)} s)\n` +
    `hops: ${result.hops.length} (${moved} onto another process), connections per process ${result.connectionsPerBackend.join('/')}\n` +
    `${line('all hops', result.hops)}\n${line('balancer resets', resets)}\n${line('SIGKILL of the agent\'s process', killed)}\n` +
    result.feeds
      .map(
        (f) =>
          `feed ${f.feed}: PostgreSQL ${f.stored} events, seqs ${f.minSeq}..${f.maxSeq}, mark ${f.highWaterSeq}; vendor received ${f.vendorReceived}, ${f.vendorRowsOnce} rows exactly once; ` +
          `agent resent ${f.eventsResent} events, ${f.duplicateAcks} duplicate acks, ${f.nacks} nacks`,
      )
      .join('\n') +
    `\nvendor reconnects ${result.vendorReconnects}; relay batches (processes alive at the end) ${JSON.stringify(result.relayBatches)}\n`,
);
if (result.violations.length > 0) {
  process.stdout.write(`VIOLATIONS:\n  ${result.violations.join('\n  ')}\nlogs kept in ${dir.path}\n`);
  process.exit(1);
}
process.stdout.write('all guarantees held\n');
if (!values['keep-dir']) dir.remove();
