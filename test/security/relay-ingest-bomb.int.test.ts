// A decompression bomb on the relay's Replication port: a few hundred bytes of
// brotli that inflate to a 200 MB EventList of one valid event. The relay must
// refuse it (RESOURCE_EXHAUSTED, WL_BATCH_INFLATION) before inflating it whole,
// store nothing of it, and keep answering another hospital's batches without
// a stall while it does.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { status as Status, type StatusObject } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, pb, sha256 } from '../../protocol/index.js';
import { ERROR_CODE_TRAILER, RELAY_DB_FILE } from '../../cloud-relay/index.js';
import { TestRelay, VENDOR_KEYS, connectAgent, makeBatch } from '../integration/relay-harness.js';
import { brotliBomb } from '../support/relay-ingest-bomb.js';

/** What the issue measured: a 376-byte batch that inflated to 200 MB. */
const BOMB_BODY_BYTES = 200 * 1024 * 1024;

describe('relay ingest: decompression bomb', () => {
  let relay: TestRelay;
  let bomb: Buffer;

  beforeEach(async () => {
    bomb ??= await brotliBomb(BOMB_BODY_BYTES);
    relay = new TestRelay();
    await relay.start();
  });
  afterEach(async () => {
    await relay.close();
  });

  /** Another hospital acks batch after batch while `during` runs; returns its ack latencies and the event loop's worst stall. */
  async function whileOtherHospitalReplicates(during: () => Promise<void>): Promise<{ ackMs: number[]; stallMs: number }> {
    const { stream } = await connectAgent(relay, 'h2', ['results']);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const ackMs: number[] = [];
    let done = false;
    const other = (async () => {
      for (let seq = 1; !done; seq++) {
        const sentAt = performance.now();
        stream.sendBatch(makeBatch('results', seq, seq));
        const answer = await stream.next(30_000);
        expect(answer.body).toBe('ack');
        ackMs.push(performance.now() - sentAt);
      }
    })();
    try {
      await during();
    } finally {
      done = true;
      await other;
      loop.disable();
      stream.end();
    }
    return { ackMs, stallMs: loop.max / 1e6 };
  }

  for (const declared of [0, BOMB_BODY_BYTES]) {
    it(`refuses a few-hundred-byte batch that inflates to 200 MB (uncompressed_bytes ${declared}), stores nothing, keeps serving`, async () => {
      const { stream } = await connectAgent(relay, 'h1', ['adt']);
      let outcome: { status: StatusObject } | { answer: string } | undefined;
      const figures = await whileOtherHospitalReplicates(async () => {
        stream.sendBatch({
          feed: 'adt',
          firstSeq: 1,
          lastSeq: 1,
          codec: pb.Codec.CODEC_BROTLI,
          payload: bomb,
          payloadSha256: sha256(bomb),
          eventCount: 1,
          uncompressedBytes: declared,
          policyVersion: 0,
        });
        // Whichever comes first: the stream's end, or an answer (an ack is what the bomb got before the fix).
        outcome = await Promise.race([stream.status.then((status) => ({ status })), stream.next(30_000).then((message) => ({ answer: message.body ?? '' }))]);
      });
      console.info(
        `bomb of ${bomb.length} bytes (declared ${declared}): ${JSON.stringify(outcome && 'answer' in outcome ? outcome : { code: outcome?.status.code })}; ` +
          `other hospital's acks max ${Math.max(...figures.ackMs).toFixed(1)} ms over ${figures.ackMs.length}, event-loop stall max ${figures.stallMs.toFixed(1)} ms`,
      );
      expect(outcome).toHaveProperty('status');
      const { status } = outcome as { status: StatusObject };
      expect(status.code).toBe(Status.RESOURCE_EXHAUSTED);
      expect(status.metadata.get(ERROR_CODE_TRAILER)).toEqual([ErrorCode.BATCH_INFLATION]);
      expect(status.details).toMatch(/feed "adt" rejected: .*inflate/);
      expect(figures.stallMs).toBeLessThan(500);
      expect(Math.max(...figures.ackMs)).toBeLessThan(1_000);

      // Nothing of it was stored: no event to read, the feed's mark did not move, the file did not grow.
      const page = await fetch(`${relay.httpBase}/v1/feeds/adt/events?after=0&hospital=h1`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
      expect(await page.text()).toBe('');
      const { stream: again, welcome } = await connectAgent(relay, 'h1', ['adt']);
      expect(welcome.positions).toEqual([expect.objectContaining({ feed: 'adt', highWaterSeq: 0 })]);
      // The session goes on for honest batches afterwards.
      expect((await again.exchange(makeBatch('adt', 1, 3))).body).toBe('ack');
      again.end();
      for (const file of [RELAY_DB_FILE, `${RELAY_DB_FILE}-wal`]) {
        expect(statSync(join(relay.dataDir, file), { throwIfNoEntry: false })?.size ?? 0).toBeLessThan(16 * 1024 * 1024);
      }
    }, 60_000);
  }
});
