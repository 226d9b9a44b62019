// The fault run both example vendor consumers go through (test/integration/
// vendor-*-consumer.int.test.ts): stopped with SIGTERM mid-run and started
// again, SIGKILLed mid-run and started again, then run to the end while the
// relay is SIGKILLed and restarted under it and batches keep arriving. What the
// consumers differ in (their arguments, their cursor file) comes in as options;
// each test then checks the figures against the feed.
import { expect } from 'vitest';
import { processedAtLeast, readProcessed, type ConsumerProcess, type ProcessedEvent } from './vendor-consumer-process.js';
import type { VendorExampleRelay } from './vendor-example-relay.js';

export interface ConsumerFaultRunOptions {
  relay: VendorExampleRelay;
  /** The consumer's output file of processed events. */
  out: string;
  /** Starts the consumer with these extra arguments. */
  start: (extra: string[]) => ConsumerProcess;
  /** The seq of the last event the consumer's cursor file says it processed. */
  savedLastSeq: () => number;
  /** Arguments of the first two runs (stopped mid-run), and of the last (runs until idle). */
  midRunArgs: string[];
  finalArgs: string[];
  /** Events processed before the SIGTERM, and more before the SIGKILL. */
  beforeTerm: number;
  beforeKill: number;
}

export interface ConsumerFaultRun {
  /** What was processed when the consumer was stopped with SIGTERM, and when it was SIGKILLed. */
  afterTerm: ProcessedEvent[];
  afterKill: ProcessedEvent[];
  /** The cursor file's last seq right after the SIGKILL (it may lag the output). */
  cursorAtKill: number;
  /** Events processed when the relay was SIGKILLed, and the feed's length then. */
  beforeRelayKill: number;
  feedAtRelayKill: number;
  /** The last run, exited cleanly once caught up and idle. */
  last: ConsumerProcess;
}

export async function runConsumerThroughFaults(options: ConsumerFaultRunOptions): Promise<ConsumerFaultRun> {
  const { relay, out, start } = options;
  await relay.append(1200);
  const initial = relay.feedSeqs.length;

  // 1. SIGTERM mid-run: the current work is finished and the cursor saved.
  const first = start(options.midRunArgs);
  await processedAtLeast(out, options.beforeTerm, first);
  expect(await first.kill('SIGTERM'), first.output).toEqual({ code: 0, signal: null });
  const afterTerm = readProcessed(out);
  expect(options.savedLastSeq()).toBe(afterTerm[afterTerm.length - 1]!.seq);
  expect(afterTerm.length).toBeLessThan(initial);

  // 2. SIGKILL mid-run: the cursor file may lag the output; the restart takes the output's last seq.
  const second = start(options.midRunArgs);
  await processedAtLeast(out, afterTerm.length + options.beforeKill, second);
  await second.kill('SIGKILL');
  const afterKill = readProcessed(out);
  const cursorAtKill = options.savedLastSeq();
  expect(afterKill.length).toBeLessThan(initial);

  // 3. Runs to the end: the relay is SIGKILLed and restarted under it while batches keep coming.
  const last = start(options.finalArgs);
  await processedAtLeast(out, afterKill.length + 100, last);
  const appendSome = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) {
      await relay.append(60, 20);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await appendSome();
  const beforeRelayKill = readProcessed(out).length;
  const feedAtRelayKill = relay.feedSeqs.length;
  await relay.killAndRestart();
  await appendSome();
  await last.exitsCleanly(30_000);
  return { afterTerm, afterKill, cursorAtKill, beforeRelayKill, feedAtRelayKill, last };
}
