// Clinical HL7 behind a bulk imaging feed that saturates the uplink's cap: a
// relay and an agent as real processes (the line through a FaultProxy, only to
// count the bytes it carries), a study sent by storescu into the agent's DICOM
// SCP (feed `pacs`, class bulk), then HL7 by MLLP into the clinical feed (class
// clinical) one message every 300 ms. Held to the bounds the bandwidth tests
// already hold a bulk JSON feed to:
//  - bandwidth.int.test.ts (b): each message reaches the vendor in less than a
//    fifth of the time the bulk backlog needs at the cap (which is > 10 s);
//  - link-hold-bound.int.test.ts: while a message waits, at most about
//    maxInFlightBytes (by default one second of the rate) cross the line before
//    it: blob parts queue behind the clinical class like bulk batches do.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hl7Corpus, MllpSender } from '../../simulator/index.js';
import { storeStudy, writeStudy } from '../support/imaging-cut-kill.js';
import { freePort } from '../support/free-port.js';
import { startProxiedPair, type ProxiedPair } from '../support/link-proxied-pair.js';
import { until } from '../support/until.js';
import { PAIR_FEED, PAIR_VENDOR_KEY } from '../support/wardline-pair.js';

const CAP_BYTES_PER_SECOND = 200_000;
/** The default in-flight cap: one second of the rate in force. */
const IN_FLIGHT_BYTES = CAP_BYTES_PER_SECOND;
const MESSAGES = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('clinical HL7 behind a bulk imaging feed at the cap', () => {
  let line: ProxiedPair;
  let dicomPort: number;

  beforeAll(async () => {
    dicomPort = await freePort();
    line = await startProxiedPair('imaging-clinical', {
      pairFeedClass: 'clinical',
      extraSources: [{ kind: 'dicom', name: 'pacs', listen: `127.0.0.1:${dicomPort}`, aeTitle: 'WARDLINE', acceptCallingAeTitles: ['MODALITY'] }],
      extraFeeds: [{ name: 'pacs', streams: ['imaging'], class: 'bulk' }],
      agentSections: { bandwidth: { rate: `${CAP_BYTES_PER_SECOND}B/s` } },
    });
  }, 60_000);

  afterAll(async () => {
    await line?.stop();
  });

  it('reaches the vendor ahead of the imaging backlog', async () => {
    // 16 × 0.5 MiB + 1 × 10 MiB ≈ 18 MB: ~90 s at the cap, far more than the measurement takes.
    const study = writeStudy(join(line.dir.path, 'study'), { singleFrame: 16, multiFrame: 1, frames: 20 });
    await storeStudy(dicomPort, study.paths);
    const pacs = async () => (await line.pair.agentStatus()).feeds.find((f) => f.feed === 'pacs')!;
    // The precondition: the imaging feed fills the cap (chunk bytes over a second).
    await until(
      'the imaging feed to saturate the cap',
      async () => {
        const before = (await pacs()).imaging!.chunkBytesSent;
        await sleep(1000);
        return (await pacs()).imaging!.chunkBytesSent - before;
      },
      (rate) => rate > 0.7 * CAP_BYTES_PER_SECOND,
      { timeoutMs: 15_000, pollMs: 0 },
    );
    const imagingBefore = (await pacs()).imaging!;
    const bulkDrainSeconds = imagingBefore.bytesWaiting / CAP_BYTES_PER_SECOND;

    const corpus = new Hl7Corpus({ seed: 'imaging-clinical', patients: 50 });
    const sender = new MllpSender({ host: '127.0.0.1', port: line.pair.ports.mllp, ackTimeoutMs: 5000, reconnectDelayMs: 100 });
    const waits: { waitMs: number; lineBytes: number }[] = [];
    let cursor = 0;
    try {
      for (let i = 0; i < MESSAGES; i++) {
        const message = corpus.next();
        const startedMs = Date.now();
        const lineBytesAtStart = line.proxy.stats.bytesToTarget;
        const ack = await sender.send(message.bytes, message.controlId);
        expect(ack.code).toBe('AA');
        for (;;) {
          const response = await fetch(`${line.pair.relayHttp}/v1/feeds/${PAIR_FEED}/events?after=${cursor}&limit=100`, { headers: { authorization: `Bearer ${PAIR_VENDOR_KEY}` } });
          const rows = (await response.text()).split('\n').filter((row) => row.length > 0).map((row) => JSON.parse(row) as { seq: number; headers: Record<string, string> });
          if (rows.length > 0) cursor = rows.at(-1)!.seq;
          if (rows.some((row) => row.headers.controlId === message.controlId)) break;
          await sleep(5);
        }
        waits.push({ waitMs: Date.now() - startedMs, lineBytes: line.proxy.stats.bytesToTarget - lineBytesAtStart });
        await sleep(300);
      }
    } finally {
      await sender.close();
    }
    const sortedMs = waits.map((w) => w.waitMs).sort((a, b) => a - b);
    const sortedBytes = waits.map((w) => w.lineBytes).sort((a, b) => a - b);
    const imagingAfter = (await pacs()).imaging!;
    console.log(
      `[imaging clinical] cap ${CAP_BYTES_PER_SECOND} B/s, imaging backlog ${imagingBefore.bytesWaiting} B (≈ ${bulkDrainSeconds.toFixed(0)} s at the cap): ` +
        `HL7 ingest-to-vendor median ${sortedMs[Math.floor(MESSAGES / 2)]} ms, max ${sortedMs.at(-1)} ms (${waits.map((w) => w.waitMs).join(', ')} ms); ` +
        `bytes across the line meanwhile median ${sortedBytes[Math.floor(MESSAGES / 2)]} B, max ${sortedBytes.at(-1)} B; ` +
        `imaging sent ${imagingAfter.chunkBytesSent - imagingBefore.chunkBytesSent} chunk bytes meanwhile`,
    );
    // bandwidth.int.test.ts (b): relative to the bulk wait, not a wall-clock limit.
    expect(bulkDrainSeconds).toBeGreaterThan(10);
    expect(sortedMs.at(-1)!).toBeLessThan((bulkDrainSeconds * 1000) / 5);
    // link-hold-bound.int.test.ts: about one in-flight window ahead of each message.
    expect(sortedBytes[Math.floor(MESSAGES / 2)]!).toBeLessThanOrEqual(IN_FLIGHT_BYTES * 1.1);
    expect(sortedBytes.at(-1)!).toBeLessThanOrEqual(IN_FLIGHT_BYTES * 1.25);
    // Imaging kept going around the clinical messages.
    expect(imagingAfter.chunkBytesSent).toBeGreaterThan(imagingBefore.chunkBytesSent);
    expect(imagingAfter.bytesWaiting).toBeGreaterThan(0);
  }, 90_000);
});
