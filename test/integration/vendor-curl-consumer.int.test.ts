// examples/vendor-curl/consumer.sh (bash, curl, jq) against a real relay
// process: stopped with SIGTERM and with SIGKILL mid-run and started again, the
// relay SIGKILLed and restarted under it while batches keep arriving; at the
// end every event of the feed was processed exactly once, in order, with no gap
// reported. A cursor that does not follow on is a gap (exit 3); a refused
// request shows the relay's WL_ code (exit 2).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VendorConsumerFixture } from '../support/vendor-consumer-fixture.js';
import { EX_FEED, EX_READER_KEY, type VendorExampleRelay } from '../support/vendor-example-relay.js';
import { runConsumerThroughFaults } from '../support/vendor-consumer-faults.js';
import { ConsumerProcess, REPOSITORY_ROOT, missingTools, readProcessed, tally } from '../support/vendor-consumer-process.js';

const CONSUMER = join(REPOSITORY_ROOT, 'examples/vendor-curl/consumer.sh');
const skip = missingTools([
  { command: 'curl', args: ['--version'], what: 'curl' },
  { command: 'jq', args: ['--version'], what: 'jq' },
]);
if (skip) console.warn(`vendor-curl-consumer: skipped: ${skip}`);

describe.skipIf(skip !== undefined)('example vendor consumer in bash with curl and jq (HTTP)', () => {
  const fixture = new VendorConsumerFixture('wardline-vendor-curl-');
  let relay: VendorExampleRelay;

  async function startRelay(options: { tls?: boolean } = {}): Promise<void> {
    relay = await fixture.startRelay(options);
  }

  const files = () => fixture.files();

  function consumer(extra: string[] = [], key = EX_READER_KEY): ConsumerProcess {
    const { cursor, out } = files();
    const started = new ConsumerProcess('bash', [CONSUMER, '--base', relay.httpBase, '--key', key, '--feed', EX_FEED, '--cursor-file', cursor, '--out', out, ...extra]);
    return fixture.track(started);
  }

  const savedCursor = () => JSON.parse(readFileSync(files().cursor, 'utf8')) as { after: number; last_seq: number };

  it('reads every event exactly once across SIGTERM, SIGKILL and a relay killed mid-stream', async () => {
    await startRelay();
    const { afterTerm, afterKill, cursorAtKill, beforeRelayKill, feedAtRelayKill, last: third } = await runConsumerThroughFaults({
      relay,
      out: files().out,
      start: (extra) => consumer(extra),
      savedLastSeq: () => savedCursor().last_seq,
      // Small pages stop it mid-run; pages of 100 at the end. --wait asks for a long poll.
      midRunArgs: ['--limit', '10', '--poll-seconds', '0.2'],
      finalArgs: ['--limit', '100', '--poll-seconds', '0.2', '--wait', '1', '--stop-after-idle-seconds', '2'],
      beforeTerm: 100,
      beforeKill: 150,
    });

    const processed = readProcessed(files().out);
    const figures = tally(processed, relay.feedSeqs);
    const resume = /resume: after=(\d+) last_seq=(\d+) \(cursor file after=(\d+) last_seq=(\d+), out file (\d+)\)/.exec(third.stdout)!;
    const retries = (third.stdout.match(/^retry in/gm) ?? []).length;
    const lastSeq = relay.feedSeqs[relay.feedSeqs.length - 1]!;
    console.log(
      `vendor-curl: ${relay.feedSeqs.length} feed events (journal head ${relay.highWater}), processed ${figures.events}, unique ${figures.unique}, ` +
        `duplicates ${figures.duplicates}, missing ${figures.missing}, out of order ${figures.outOfOrder}, continuity breaks ${figures.broken}; ` +
        `consumer restarts 2 (SIGTERM at ${afterTerm.length}, SIGKILL at ${afterKill.length} with cursor file at last_seq ${cursorAtKill}, ` +
        `resumed after ${resume[1]} from out file ${resume[5]}), relay restarts ${relay.restarts} (SIGKILL at ${beforeRelayKill} of ${feedAtRelayKill} processed), retries ${retries}`,
    );
    expect(figures).toEqual({ events: relay.feedSeqs.length, unique: relay.feedSeqs.length, duplicates: 0, missing: 0, unexpected: 0, outOfOrder: 0, broken: 0 });
    expect(processed.map((event) => event.seq)).toEqual(relay.feedSeqs);
    expect(processed.some((event) => event.prev_seq !== event.seq - 1)).toBe(true);
    expect(Number(resume[2])).toBe(afterKill[afterKill.length - 1]!.seq);
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(third.stderr).not.toMatch(/continuity broken/);
    // The cursor ends at the head: past the last event, over the other feed's seqs after it.
    expect(savedCursor()).toEqual({ after: relay.highWater, last_seq: lastSeq });
  });

  it('reads a relay that serves TLS, trusting the CA given', async () => {
    await startRelay({ tls: true });
    expect(relay.httpBase).toMatch(/^https:/);
    await relay.append(300, 50);
    const secure = consumer(['--cacert', relay.caFile!, '--poll-seconds', '0.2', '--stop-after-idle-seconds', '1']);
    await secure.exitsCleanly();
    expect(tally(readProcessed(files().out), relay.feedSeqs)).toMatchObject({ events: relay.feedSeqs.length, duplicates: 0, missing: 0, outOfOrder: 0, broken: 0 });
  });

  it('resumes after the output file\'s last event when the cursor file lags it, and cuts a torn last line', async () => {
    await startRelay();
    await relay.append(40);
    // As a kill leaves them: events 1, 2 and 5 written out, the cursor saved after 2, half a line of 6.
    const processedBefore = relay.feedSeqs.slice(0, 3).map((seq, i, all) => JSON.stringify({ seq, prev_seq: i === 0 ? 0 : all[i - 1], stream: 'adt', key: `P${1000 + seq}`, op: 'upsert' }));
    writeFileSync(files().out, `${processedBefore.join('\n')}\n{"seq":6,"prev_s`);
    writeFileSync(files().cursor, JSON.stringify({ after: 2, last_seq: 2 }));
    const resumed = consumer([...['--poll-seconds', '0.2'], '--stop-after-idle-seconds', '1']);
    await resumed.exitsCleanly();
    expect(resumed.stdout).toMatch(/cut a torn last line \(\d+ bytes\)/);
    expect(resumed.stdout).toContain('resume: after=5 last_seq=5 (cursor file after=2 last_seq=2, out file 5)');
    const figures = tally(readProcessed(files().out), relay.feedSeqs);
    expect(figures).toMatchObject({ events: relay.feedSeqs.length, duplicates: 0, missing: 0, outOfOrder: 0, broken: 0 });
  });

  it('keeps the events before a gap and exits 3 naming both seqs', async () => {
    await startRelay();
    await relay.append(40);
    // Seq 3 is the other feed's: the event after it follows seq 2, not 3, as a cursor from elsewhere would show.
    expect(relay.feedSeqs.slice(0, 3)).toEqual([1, 2, 5]);
    writeFileSync(files().cursor, JSON.stringify({ after: 3, last_seq: 3 }));
    const gap = consumer();
    expect((await gap.exited).code, gap.output).toBe(3);
    expect(gap.stderr).toContain('continuity broken on feed clinical: event seq 5 has prevSeq 2, but the last event processed was seq 3');
    expect(readProcessed(files().out)).toEqual([]);
  });

  it('exits 2 showing the relay code on a refused key, a bad parameter and a cursor past the head', async () => {
    await startRelay();
    await relay.append(10);
    const refused = consumer([], 'not-a-key-0123456789abcdef');
    expect((await refused.exited).code, refused.output).toBe(2);
    expect(refused.stderr).toMatch(/HTTP 401 WL_\w+: /);
    const tooMany = consumer(['--limit', '10001']);
    expect((await tooMany.exited).code, tooMany.output).toBe(2);
    expect(tooMany.stderr).toMatch(/HTTP 400 WL_\w+: limit: expected an integer from 1 to 10000/);
    writeFileSync(files().cursor, JSON.stringify({ after: 500, last_seq: 500 }));
    const ahead = consumer();
    expect((await ahead.exited).code, ahead.output).toBe(2);
    // The relay refuses it with 409 and the feed's range; the script shows the code and stops.
    expect(ahead.stderr).toMatch(/HTTP 409 WL_CURSOR_AHEAD: /);
  });
});
