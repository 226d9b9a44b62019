// Imaging end to end, through real agent and relay processes: a study of a few
// dozen instances (some of several 4 MiB chunks) sent by storescu, replicated
// while the line is cut three times and the agent SIGKILLed once
// (test/support/imaging-cut-kill.ts, the same scenario scripts/imaging-cut-kill.mjs
// runs at 2 GB); then sent again, and into a second feed, without chunk bytes.
// A second run ships a study into two feeds at once while storescu still sends,
// through a cut and a relay SIGKILL: each chunk crosses once between the feeds.
import { afterAll, describe, expect, it } from 'vitest';
import { runImagingCutKill, type ImagingCutKillResult } from '../support/imaging-cut-kill.js';
import { makeTempDir } from '../support/temp-dir.js';

/**
 * What crosses the line besides chunk bytes, per instance: the BlobOffer (a 32-byte
 * hash and size per 4 MiB chunk), the BlobParts' headers (feed, chunk hash, offsets:
 * ~60 bytes per 64 KiB part plus gRPC and HTTP/2 framing), and the instance's
 * blob-ref event in a batch (its JSON body with the chunk list, ~1 KiB) — a few KiB
 * at most; and once per connection the Hello, feed positions and keepalive pings.
 * Measured: a second feed's batches cost ~210 B an instance (7.9 kB for 36, 206 kB
 * for 983), so these are generous; what a cut costs (parts in flight lost, at most
 * the uplink's in-flight cap per cut) is inside the 5%.
 */
const OVERHEAD_PER_INSTANCE_BYTES = 4 * 1024;
const OVERHEAD_FIXED_BYTES = 256 * 1024;

describe('imaging replication through cuts and a SIGKILL', () => {
  const dir = makeTempDir('wardline-imaging-e2e-');
  afterAll(() => dir.remove());

  it('carries a study once, complete and verified, and a re-send or a second feed carries no chunk bytes', async () => {
    const result: ImagingCutKillResult = await runImagingCutKill({
      dir: dir.path,
      // 30 × 0.5 MiB + 6 × 10 MiB (3 chunks each) ≈ 75 MB.
      study: { singleFrame: 30, multiFrame: 6, frames: 20 },
      timeoutMs: 240_000,
    });
    console.log(`[imaging] ${JSON.stringify({ ...result, ratio: (result.wireBytes / result.studyBytes).toFixed(4) })}`);

    expect(result.faults.map((f) => f.kind)).toEqual(['refuse', 'sigkill', 'blackhole', 'refuse']);
    // 1. Carried once: the line holds the study's bytes plus what a few cut parts and the protocol cost.
    expect(result.wireBytes).toBeLessThanOrEqual(1.05 * result.studyBytes + OVERHEAD_FIXED_BYTES + OVERHEAD_PER_INSTANCE_BYTES * result.instances);
    // 2. Every instance complete at the relay, its bytes hashing to what the agent archived.
    expect(result.mismatches).toEqual([]);
    expect(result.verified).toBe(36);
    // 3. No vendor ever read a blob-ref event whose instance was incomplete.
    expect(result.visibilityPolls).toBeGreaterThan(5);
    expect(result.visibleBeforeComplete).toEqual([]);
    // 4. Sent again by the PACS: deduplicated at the agent, nothing journaled, no chunk bytes.
    expect(result.resend).toMatchObject({ newEvents: 0, relayPartBytes: 0, agentChunkBytes: 0 });
    expect(result.resend.wireBytes).toBeLessThan(OVERHEAD_FIXED_BYTES);
    // 5. A second feed of the same study: every instance readable there, no chunk bytes crossed.
    expect(result.secondFeed).toMatchObject({ events: 36, relayPartBytes: 0, agentChunkBytes: 0, relayDedupedBytes: result.studyBytes });
    expect(result.secondFeed.wireBytes).toBeLessThan(OVERHEAD_FIXED_BYTES + OVERHEAD_PER_INSTANCE_BYTES * result.instances);
    // 6. What the operator sees afterwards: nothing waiting, nothing wrong, on either feed; the first
    //    feed saved nothing (the study was new, and what the killed agent had sent is not counted as
    //    saved by the restarted one), the second saved the whole study.
    const idle = { instancesWaiting: 0, bytesWaiting: 0, studiesWaiting: 0, problem: null, current: null };
    expect(result.finalImaging).toEqual({ pacs: { ...idle, dedupedBytes: 0 }, 'pacs-research': { ...idle, dedupedBytes: result.studyBytes } });
  }, 300_000);

  it('carries a study once when two feeds ship it at the same time, as the PACS sends it, through a cut and a relay SIGKILL', async () => {
    const concurrentDir = makeTempDir('wardline-imaging-two-feeds-');
    try {
      const result = await runImagingCutKill({
        dir: concurrentDir.path,
        study: { singleFrame: 20, multiFrame: 4, frames: 20 },
        cutsAt: [0.4],
        killAt: null,
        killRelayAt: 0.7,
        secondFeedFromStart: true,
        storeWhileLineUp: true,
        timeoutMs: 180_000,
      });
      console.log(`[imaging two feeds] ${JSON.stringify({ ...result, ratio: (result.wireBytes / result.studyBytes).toFixed(4) })}`);
      // Both feeds name every instance, and their chunks crossed once between them.
      expect(result.mismatches).toEqual([]);
      expect(result.verified).toBe(24);
      expect(result.visibleBeforeComplete).toEqual([]);
      expect(result.wireBytes).toBeLessThanOrEqual(1.05 * result.studyBytes + OVERHEAD_FIXED_BYTES + 2 * OVERHEAD_PER_INSTANCE_BYTES * result.instances);
      // ...the claim keeps one feed's shipper off an instance the other is shipping.
      expect(result.chunkBytesByFeed.pacs! + result.chunkBytesByFeed['pacs-research']!).toBeLessThanOrEqual(1.05 * result.studyBytes);
      expect(result.secondFeed.events).toBe(24);
    } finally {
      concurrentDir.remove();
    }
  }, 240_000);
});
