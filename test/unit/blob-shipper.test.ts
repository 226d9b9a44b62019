// An imaging feed's pump shipping instances before their batch: a real journal
// and a real file archive (temp dir), a real uplink, the shared fake relay
// (which keeps chunks by hash and refuses a batch naming an incomplete instance).
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BLOB_CHUNK_BYTES, IMAGING_STREAM, decodeEvents, pb, type ImagingInstanceBody } from '../../protocol/index.js';
import { Uplink } from '../../agent/bandwidth/index.js';
import { FileInstanceArchive } from '../../agent/imaging/index.js';
import { BLOB_PART_BYTES } from '../../agent/replication/blob-shipper.js';
import { FeedPump, type ReplicatedFeed } from '../../agent/replication/feed-pump.js';
import { InstanceClaims } from '../../agent/replication/instance-claims.js';
import type { BlobChannel } from '../../agent/replication/relay-transport.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { journalArchivedInstance } from '../support/blob-instance.js';
import { FakeRelay, type FakeRelaySession } from '../support/fake-relay-transport.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const CLASSES = ['clinical', 'standard', 'bulk'];
const waitFor = (condition: () => boolean, timeoutMs: number, describe?: () => unknown) =>
  until(String(condition), condition, Boolean, { timeoutMs, ...(describe ? { describe: () => JSON.stringify(describe()) } : {}) });
const unlimited = { rateBytesPerSecond: null, windowsInForce: [], blocked: [], nextChange: null };

describe('blob shipping in the feed pump', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  let archive: FileInstanceArchive;
  const stops: (() => void)[] = [];
  let n = 0;

  beforeEach(async () => {
    dir = makeTempDir();
    db = openAgentDatabase(join(dir.path, 'agent.db'));
    journal = new Journal(db);
    archive = new FileInstanceArchive({ dir: join(dir.path, 'archive') });
    await archive.open();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await archive.close();
    db.close();
    dir.remove();
  });

  /** Archives `size` random bytes as an instance and journals its blob-ref event. */
  async function addInstance(size: number, studyUid = '1.2.3'): Promise<ImagingInstanceBody> {
    const path = join(dir.path, `in-${n++}.dcm`);
    writeFileSync(path, randomBytes(size));
    return journalArchivedInstance(journal, archive, path, {
      studyUid,
      seriesUid: `${studyUid}.1`,
      sopInstanceUid: `${studyUid}.1.${n}`,
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      patientId: 'P1',
      modality: 'CT',
      studyDate: '20260101',
    });
  }

  function pumpOn(relay: FakeRelay, spec: Partial<ReplicatedFeed> = {}, uplink = new Uplink({ classes: CLASSES, policy: unlimited, maxInFlightBytes: 256 * 1024 }), instanceClaims?: InstanceClaims) {
    const session = relay.session({
      onAck: (_feed, seq, duplicate) => pump.onAck(seq, duplicate),
      onNack: (_feed, expected) => pump.onNack(expected),
    });
    const controller = new AbortController();
    const pump: FeedPump = new FeedPump({
      spec: { name: 'ct', streams: [IMAGING_STREAM], policyVersion: 0, class: 'bulk', ...spec },
      journal,
      uplink,
      codec: 'none',
      limits: { maxEvents: 1000, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 60_000,
      savedAckedSeq: 0,
      clock: Date.now,
      archive,
      ...(instanceClaims ? { instanceClaims } : {}),
    });
    pump.reset(relay.highWater.get(spec.name ?? 'ct') ?? 0);
    const start = (s: FakeRelaySession, signal: AbortSignal) => pump.start({ session: s, signal, maxBatchBytes: 1 << 20 });
    start(session, controller.signal);
    const unsubscribe = journal.onCommit(() => pump.wake());
    stops.push(() => {
      controller.abort();
      unsubscribe();
      uplink.close();
    });
    return { pump, session, controller, uplink };
  }

  it('ships every missing chunk in parts of at most 64 KiB, pipelined, before the batch naming the instance', async () => {
    const relay = new FakeRelay();
    const body = await addInstance(2 * BLOB_CHUNK_BYTES + 12345);
    // Watch how many parts are unanswered at once: pipelined, not one by one.
    let outstanding = 0;
    let most = 0;
    const { pump, session } = pumpOn(relay);
    const channel = session.blobs!;
    const sendPart = channel.sendPart.bind(channel);
    (channel as { sendPart: BlobChannel['sendPart'] }).sendPart = async (request) => {
      most = Math.max(most, ++outstanding);
      try {
        return await sendPart(request);
      } finally {
        outstanding--;
      }
    };
    await waitFor(() => pump.status().ackedSeq === 1, 60_000);
    expect(relay.completeInstances.has(body.sha256)).toBe(true);
    expect(relay.parts.every((p) => p.data.length <= BLOB_PART_BYTES)).toBe(true);
    expect(relay.partBytes).toBe(body.size);
    expect(most).toBeGreaterThan(1);
    // The instance was complete before the batch went: one offer to learn what is missing, one to confirm.
    expect(relay.offers.map((o) => o.manifest.sha256)).toEqual([body.sha256, body.sha256]);
    const imaging = pump.status().imaging!;
    expect(imaging).toMatchObject({ studiesWaiting: 0, instancesWaiting: 0, bytesWaiting: 0, chunksSent: 3, chunkBytesSent: body.size, dedupedBytes: 0, current: null, problem: null, etaSeconds: null });
  });

  it('costs no chunk bytes for a study the relay already holds (sent again, or into a second feed)', async () => {
    const relay = new FakeRelay();
    const body = await addInstance(BLOB_CHUNK_BYTES + 10);
    const first = pumpOn(relay);
    await waitFor(() => first.pump.status().ackedSeq === 1, 60_000);
    const sentBefore = relay.partBytes;
    const second = pumpOn(relay, { name: 'ct-research' });
    await waitFor(() => second.pump.status().ackedSeq === 1, 60_000);
    expect(relay.partBytes).toBe(sentBefore);
    expect(second.pump.status().imaging).toMatchObject({ chunkBytesSent: 0, dedupedBytes: body.size, chunksSent: 0 });
  });

  it('sends each chunk once when two feeds of the relay ship the same instances at the same time', async () => {
    const relay = new FakeRelay();
    const bodies = [await addInstance(2 * BLOB_CHUNK_BYTES + 99), await addInstance(BLOB_CHUNK_BYTES + 7)];
    const claims = new InstanceClaims();
    const uplink = new Uplink({ classes: CLASSES, policy: unlimited, maxInFlightBytes: 256 * 1024 });
    // One uplink and one claim registry, as the replicator of one relay gives its feeds.
    const first = pumpOn(relay, {}, uplink, claims);
    const second = pumpOn(relay, { name: 'ct-research' }, uplink, claims);
    await waitFor(() => first.pump.status().ackedSeq === 2 && second.pump.status().ackedSeq === 2, 60_000, () => [first.pump.status(), second.pump.status()]);
    const size = bodies[0]!.size + bodies[1]!.size;
    // Without the claim both shippers heard the same chunks missing, raced on the same offsets and a feed ended held (WL_A028).
    expect(relay.partBytes).toBe(size);
    expect(first.pump.status().imaging!.chunkBytesSent + second.pump.status().imaging!.chunkBytesSent).toBe(size);
    expect([first.pump.status().imaging!.problem, second.pump.status().imaging!.problem]).toEqual([null, null]);
    expect(claims.size).toBe(0);
  });

  it('counts what waits (studies, instances, bytes) and holds the feed with WL_A028 when the relay does not take blobs', async () => {
    const relay = new FakeRelay({ blobs: false });
    await addInstance(1000, '1.2.3');
    await addInstance(2000, '1.2.3');
    await addInstance(3000, '1.2.4');
    const { pump } = pumpOn(relay);
    await waitFor(() => pump.status().imaging?.problem !== null, 10_000);
    const status = pump.status();
    expect(status.blockedKind).toBe('imaging');
    expect(status.blocked).toContain('upgrade the relay');
    expect(status.imaging).toMatchObject({ studiesWaiting: 2, instancesWaiting: 3, bytesWaiting: 6000 });
    expect(status.imaging!.problem).toMatchObject({ code: 'WL_A028' });
    expect(status.ackedSeq).toBe(0);
  });

  it('holds the feed with WL_A026 naming the instance when an archived chunk is corrupt, sending none of it', async () => {
    const relay = new FakeRelay();
    const body = await addInstance(5000);
    const chunkDir = join(dir.path, 'archive', 'chunks', body.chunks[0]!.sha256.slice(0, 2));
    writeFileSync(join(chunkDir, readdirSync(chunkDir).find((f) => f.startsWith(body.chunks[0]!.sha256))!), randomBytes(5000));
    const { pump } = pumpOn(relay);
    await waitFor(() => pump.status().imaging?.problem !== null, 10_000);
    const problem = pump.status().imaging!.problem!;
    expect(problem.code).toBe('WL_A026');
    expect(problem.message).toContain(body.sopInstanceUid);
    expect(relay.partBytes).toBe(0);
    expect(pump.status().ackedSeq).toBe(0);
  });

  it('resumes a chunk cut short by a lost stream from what the relay holds, sending no part twice but the one cut', async () => {
    const relay = new FakeRelay();
    const body = await addInstance(BLOB_CHUNK_BYTES * 2);
    const first = pumpOn(relay);
    await waitFor(() => relay.partBytes >= BLOB_CHUNK_BYTES / 2, 60_000);
    first.session.close();
    first.controller.abort();
    // The next stream of the same pump (as the replicator would start it).
    const session = relay.session({ onAck: (_f, seq, d) => first.pump.onAck(seq, d), onNack: (_f, e) => first.pump.onNack(e) });
    const controller = new AbortController();
    stops.push(() => controller.abort());
    first.pump.reset(0);
    first.pump.start({ session, signal: controller.signal, maxBatchBytes: 1 << 20 });
    await waitFor(() => first.pump.status().ackedSeq === 1, 60_000, () => ({ status: first.pump.status(), offers: relay.offers.length, parts: relay.parts.length, sent: session.sent.length, closed: String(session.closedWith) }));
    expect(relay.completeInstances.has(body.sha256)).toBe(true);
    // Parts in flight when the stream ended may be answered by the relay after all: at most the in-flight cap again.
    expect(relay.partBytes).toBeLessThanOrEqual(body.size + 256 * 1024);
  });

  it('caps a batch at ~64 MiB of instances so the mark advances within a large study', async () => {
    const relay = new FakeRelay();
    for (let i = 0; i < 3; i++) await addInstance(25 * 1024 * 1024);
    const { pump, session } = pumpOn(relay, {}, new Uplink({ classes: CLASSES, policy: unlimited, maxInFlightBytes: 1 << 20 }));
    await waitFor(() => pump.status().ackedSeq === 3, 60_000);
    expect(session.sent.map((b) => [b.firstSeq, b.lastSeq])).toEqual([
      [1, 2],
      [3, 3],
    ]);
  });

  it('ships the de-identified instance and sends the event body that describes it, never the original', async () => {
    const relay = new FakeRelay();
    const original = await addInstance(3000);
    // The transform's output is another archived instance (as agent/policy/dicom writes one).
    const copyPath = join(dir.path, 'deid.dcm');
    writeFileSync(copyPath, randomBytes(2900));
    const copyManifest = await archive.ingestFile(copyPath);
    const deidentified: ImagingInstanceBody = { ...original, ...copyManifest, patientId: 'PSEUDO', sopInstanceUid: '2.25.1', deidentified: { method: 'basic', burnedInAnnotation: 'NO' } };
    const { pump, session } = pumpOn(relay, { deidentify: async () => deidentified });
    await waitFor(() => pump.status().ackedSeq === 1, 60_000);
    expect(relay.offers.every((o) => o.manifest.sha256 === copyManifest.sha256)).toBe(true);
    expect(relay.completeInstances.has(original.sha256)).toBe(false);
    const [event] = decodeEvents({ ...session.sent[0]!, codec: pb.Codec.CODEC_NONE });
    expect(JSON.parse(event!.body.toString())).toEqual(deidentified);
  });

  it('re-ships from the expected seq after a blob-incomplete nack (the relay lost the instance)', async () => {
    const relay = new FakeRelay();
    const body = await addInstance(4000);
    const { pump, session } = pumpOn(relay);
    // The relay loses the instance between its last chunk's ack and the batch: the batch is refused.
    const send = session.send.bind(session);
    let lost = false;
    session.send = async (batch) => {
      if (!lost) {
        lost = true;
        relay.chunks.clear();
        relay.completeInstances.clear();
      }
      return send(batch);
    };
    await waitFor(() => pump.status().ackedSeq === 1, 60_000);
    expect(session.sent.length).toBe(2);
    expect(pump.status().nacks).toBe(1);
    expect(relay.completeInstances.has(body.sha256)).toBe(true);
    expect(relay.partBytes).toBe(2 * body.size);
  });
});
