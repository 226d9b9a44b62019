// What each test of an example vendor consumer (test/integration/vendor-*-
// consumer.int.test.ts) stands on: a fresh temporary directory, the relays it
// starts there and the consumer processes it runs, all taken down after the
// test (consumers SIGKILLed first, so none outlives its relay). Construct it
// inside the describe block: it registers that block's beforeEach and afterEach.
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { makeTempDir } from './temp-dir.js';
import type { ConsumerProcess } from './vendor-consumer-process.js';
import { VendorExampleRelay } from './vendor-example-relay.js';

export class VendorConsumerFixture {
  private current: ReturnType<typeof makeTempDir> | undefined;
  private readonly relays: VendorExampleRelay[] = [];
  private readonly running: ConsumerProcess[] = [];

  constructor(prefix: string) {
    beforeEach(() => {
      this.current = makeTempDir(prefix);
    });
    afterEach(async () => {
      for (const consumer of this.running.splice(0)) consumer.child.kill('SIGKILL');
      for (const relay of this.relays.splice(0)) await relay.stop();
      this.current?.remove();
      this.current = undefined;
    });
  }

  /** This test's directory. */
  get dir(): string {
    if (!this.current) throw new Error('VendorConsumerFixture: no test is running');
    return this.current.path;
  }

  /** The consumer's cursor file and output file in this test's directory. */
  files(): { cursor: string; out: string } {
    return { cursor: join(this.dir, 'cursor.json'), out: join(this.dir, 'events.ndjson') };
  }

  async startRelay(options: { tls?: boolean } = {}): Promise<VendorExampleRelay> {
    const relay = await VendorExampleRelay.start(this.dir, options);
    this.relays.push(relay);
    return relay;
  }

  /** Runs `consumer` until the test ends, at the latest. */
  track(consumer: ConsumerProcess): ConsumerProcess {
    this.running.push(consumer);
    return consumer;
  }
}
