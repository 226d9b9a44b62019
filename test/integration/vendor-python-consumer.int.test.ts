// examples/vendor-python/consumer.py against a real relay process: stopped with
// SIGTERM and with SIGKILL mid-run and started again, the relay SIGKILLed and
// restarted under it while batches keep arriving; at the end every event of the
// feed was processed exactly once, in order, with no gap reported, heartbeats
// were seen while idle, and the relay holds the consumer's committed cursor.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VendorConsumerFixture } from '../support/vendor-consumer-fixture.js';
import { EX_FEED, EX_READER_KEY, type VendorExampleRelay } from '../support/vendor-example-relay.js';
import { runConsumerThroughFaults } from '../support/vendor-consumer-faults.js';
import { ConsumerProcess, DEBIAN_PYTHON, REPOSITORY_ROOT, missingTools, readProcessed, tally } from '../support/vendor-consumer-process.js';

const CONSUMER = join(REPOSITORY_ROOT, 'examples/vendor-python/consumer.py');
const skip = missingTools([{ command: DEBIAN_PYTHON, args: ['-c', 'import grpc, grpc_tools'], what: 'Python 3 with grpcio and grpcio-tools' }]);
if (skip) console.warn(`vendor-python-consumer: skipped: ${skip}`);

describe.skipIf(skip !== undefined)('example vendor consumer in Python (gRPC)', () => {
  const fixture = new VendorConsumerFixture('wardline-vendor-python-');
  let relay: VendorExampleRelay;

  async function startRelay(options: { tls?: boolean } = {}): Promise<void> {
    relay = await fixture.startRelay(options);
  }

  const files = () => fixture.files();

  function consumer(extra: string[] = [], key = EX_READER_KEY): ConsumerProcess {
    const { cursor, out } = files();
    const args = [CONSUMER, '--target', relay.grpcTarget, '--key', key, '--feed', EX_FEED, '--cursor-file', cursor, '--out', out];
    const started = new ConsumerProcess(DEBIAN_PYTHON, [...args, '--stubs-dir', join(fixture.dir, 'stubs'), ...extra]);
    return fixture.track(started);
  }

  const savedCursor = () => (JSON.parse(readFileSync(files().cursor, 'utf8')) as { seq: number }).seq;

  it('reads every event exactly once across SIGTERM, SIGKILL and a relay killed mid-stream, and reports heartbeats while idle', async () => {
    await startRelay();
    const { afterTerm, afterKill, cursorAtKill, beforeRelayKill, feedAtRelayKill, last: third } = await runConsumerThroughFaults({
      relay,
      out: files().out,
      start: (extra) => consumer(extra),
      savedLastSeq: savedCursor,
      midRunArgs: ['--consumer', 'example-etl', '--heartbeat-ms', '300', '--pause-ms', '2'],
      // Slower at the end (4 ms an event), so the relay dies with events still to send.
      finalArgs: ['--consumer', 'example-etl', '--heartbeat-ms', '300', '--pause-ms', '4', '--stop-after-idle-seconds', '2'],
      beforeTerm: 150,
      beforeKill: 200,
    });

    const processed = readProcessed(files().out);
    const figures = tally(processed, relay.feedSeqs);
    const lines = third.logLines();
    const resume = lines.find((line) => 'resume' in line)!.resume as { cursor_file: number; out_file: number; after: number };
    const reconnects = lines.filter((line) => 'reconnect' in line).length;
    const lastSeq = relay.feedSeqs[relay.feedSeqs.length - 1]!;
    const idleBeats = lines.filter((line) => {
      const beat = line.heartbeat as { caught_up: boolean; high_water: number; last_seq: number } | undefined;
      return beat?.caught_up === true && beat.high_water === relay.highWater && beat.last_seq === lastSeq;
    }).length;
    console.log(
      `vendor-python: ${relay.feedSeqs.length} feed events (journal head ${relay.highWater}), processed ${figures.events}, unique ${figures.unique}, ` +
        `duplicates ${figures.duplicates}, missing ${figures.missing}, out of order ${figures.outOfOrder}, continuity breaks ${figures.broken}; ` +
        `consumer restarts 2 (SIGTERM at ${afterTerm.length}, SIGKILL at ${afterKill.length} with cursor file at seq ${cursorAtKill}, ` +
        `resumed after ${resume.after} from out file ${resume.out_file}), relay restarts ${relay.restarts} (SIGKILL at ${beforeRelayKill} of ${feedAtRelayKill} processed), reconnects ${reconnects}, idle heartbeats ${idleBeats}`,
    );
    expect(figures).toEqual({ events: relay.feedSeqs.length, unique: relay.feedSeqs.length, duplicates: 0, missing: 0, unexpected: 0, outOfOrder: 0, broken: 0 });
    expect(processed.map((event) => event.seq)).toEqual(relay.feedSeqs);
    // The seqs skip (the other feed's events are between them), so prev_seq is not seq - 1.
    expect(processed.some((event) => event.prev_seq !== event.seq - 1)).toBe(true);
    expect(resume.after).toBe(afterKill[afterKill.length - 1]!.seq);
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(beforeRelayKill).toBeLessThan(feedAtRelayKill);
    expect(idleBeats).toBeGreaterThanOrEqual(2);
    expect(third.stderr).not.toMatch(/continuity broken/);
    expect(savedCursor()).toBe(lastSeq);
    expect(Number((await relay.consumerPosition('example-etl')).cursor)).toBe(lastSeq);
  });

  it('reads a relay that serves TLS, trusting the CA given', async () => {
    await startRelay({ tls: true });
    expect(relay.httpBase).toMatch(/^https:/);
    await relay.append(300, 50);
    const secure = consumer(['--ca', relay.caFile!, '--stop-after-idle-seconds', '1']);
    await secure.exitsCleanly();
    expect(tally(readProcessed(files().out), relay.feedSeqs)).toMatchObject({ events: relay.feedSeqs.length, duplicates: 0, missing: 0, outOfOrder: 0, broken: 0 });
  });

  it('resumes after the output file\'s last event when the cursor file lags it, and cuts a torn last line', async () => {
    await startRelay();
    await relay.append(40);
    // As a kill leaves them: events 1, 2 and 5 written out, the cursor saved after 2, half a line of 6.
    const processedBefore = relay.feedSeqs.slice(0, 3).map((seq, i, all) => JSON.stringify({ seq, prev_seq: i === 0 ? 0 : all[i - 1], stream: 'adt', key: `P${1000 + seq}`, op: 'upsert' }));
    writeFileSync(files().out, `${processedBefore.join('\n')}\n{"seq":6,"prev_s`);
    writeFileSync(files().cursor, JSON.stringify({ seq: 2 }));
    const resumed = consumer([...[], '--stop-after-idle-seconds', '1']);
    await resumed.exitsCleanly();
    const lines = resumed.logLines();
    expect(lines.find((line) => 'torn_line_cut' in line)).toBeDefined();
    expect(lines.find((line) => 'resume' in line)!.resume).toEqual({ cursor_file: 2, out_file: 5, after: 5 });
    const figures = tally(readProcessed(files().out), relay.feedSeqs);
    expect(figures).toMatchObject({ events: relay.feedSeqs.length, duplicates: 0, missing: 0, outOfOrder: 0, broken: 0 });
  });

  it('stops with exit code 3 naming both seqs when an event does not follow the last one processed', async () => {
    await startRelay();
    await relay.append(40);
    // Seq 3 is the other feed's: the event after it follows seq 2, not 3, as a cursor from elsewhere would show.
    expect(relay.feedSeqs.slice(0, 3)).toEqual([1, 2, 5]);
    writeFileSync(files().cursor, JSON.stringify({ seq: 3 }));
    const gap = consumer();
    expect((await gap.exited).code, gap.output).toBe(3);
    expect(gap.stderr).toContain('continuity broken on feed clinical: event seq 5 has prev_seq 2, but the last event processed was seq 3');
    expect(readProcessed(files().out)).toEqual([]);
  });

  it('stops with exit code 2 and the relay code on a key the relay refuses and on a cursor past the head', async () => {
    await startRelay();
    await relay.append(10);
    const refused = consumer([], 'not-a-key-0123456789abcdef');
    expect((await refused.exited).code, refused.output).toBe(2);
    expect(refused.stderr).toMatch(/UNAUTHENTICATED WL_\w+/);
    // A cursor past the feed's head (one from another relay, say): refused with the feed's range.
    writeFileSync(files().cursor, JSON.stringify({ seq: 500 }));
    const ahead = consumer();
    expect((await ahead.exited).code, ahead.output).toBe(2);
    expect(ahead.stderr).toMatch(new RegExp(`OUT_OF_RANGE WL_CURSOR_AHEAD: .*\\(feed high-water ${relay.highWater}, retention floor 0\\)`));
  });
});
