// The feed pump with a real DICOM de-identifier: the relay only ever receives the
// de-identified instance and a body describing it; an instance the de-identifier
// cannot read holds the feed with its coded reason and nothing of it is shipped.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IMAGING_STREAM, decodeEvents, pb, type ImagingInstanceBody } from '../../../protocol/index.js';
import { Uplink } from '../../../agent/bandwidth/index.js';
import { FileInstanceArchive } from '../../../agent/imaging/index.js';
import { createDicomDeidentifier, DicomDeidErrorCode } from '../../../agent/policy/dicom/index.js';
import { DicomPolicyConfigSchema } from '../../../agent/policy/policy-config.js';
import { FeedPump } from '../../../agent/replication/feed-pump.js';
import { Journal, openAgentDatabase, type SqliteDatabase } from '../../../agent/store/index.js';
import { testUids, writeDicomFile } from '../../support/dicom-files.js';
import { journalArchivedInstance } from '../../support/blob-instance.js';
import { FakeRelay } from '../../support/fake-relay-transport.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';

const CLASSES = ['clinical', 'standard', 'bulk'];
const unlimited = { rateBytesPerSecond: null, windowsInForce: [], blocked: [], nextChange: null };
const KEY = { id: 'k1', secret: Buffer.alloc(32, 3) };

describe('a de-identified imaging feed in the pump', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  let archive: FileInstanceArchive;
  const stops: (() => void)[] = [];

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

  async function journalInstance(path: string, instance: number): Promise<ImagingInstanceBody> {
    const uids = testUids(5);
    return journalArchivedInstance(journal, archive, path, {
      studyUid: uids.studyUid,
      seriesUid: uids.seriesUid(1),
      sopInstanceUid: uids.sopInstanceUid(1, instance),
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      patientId: 'MRN-4711',
      modality: 'CT',
      studyDate: '20261201',
    });
  }

  function writeInstance(instance: number): string {
    const uids = testUids(5);
    const path = join(dir.path, `i${instance}.dcm`);
    writeDicomFile(path, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, instance), patientId: 'MRN-4711', patientName: '李四', charset: 'GB18030' });
    return path;
  }

  function pumpOn(relay: FakeRelay) {
    const deidentify = createDicomDeidentifier({ config: DicomPolicyConfigSchema.parse({}), key: KEY, archive, workDir: join(dir.path, 'deid') });
    const uplink = new Uplink({ classes: CLASSES, policy: unlimited, maxInFlightBytes: 256 * 1024 });
    const session = relay.session({ onAck: (_feed, seq, duplicate) => pump.onAck(seq, duplicate), onNack: (_feed, expected) => pump.onNack(expected) });
    const controller = new AbortController();
    const pump: FeedPump = new FeedPump({
      spec: { name: 'ct', streams: [IMAGING_STREAM], policyVersion: 1, class: 'bulk', deidentify },
      journal,
      uplink,
      codec: 'none',
      limits: { maxEvents: 1000, maxBytes: 1 << 20, maxScan: 20_000 },
      maxInFlight: 4,
      emptyBatchIntervalMs: 60_000,
      savedAckedSeq: 0,
      clock: Date.now,
      archive,
    });
    pump.reset(0);
    pump.start({ session, signal: controller.signal, maxBatchBytes: 1 << 20 });
    const unsubscribe = journal.onCommit(() => pump.wake());
    stops.push(() => {
      controller.abort();
      unsubscribe();
      uplink.close();
    });
    return { pump, session };
  }

  it('ships only the de-identified instances; the events name them, never an original UID or the patient', async () => {
    const originals = [await journalInstance(writeInstance(1), 1), await journalInstance(writeInstance(2), 2)];
    const relay = new FakeRelay();
    const { pump, session } = pumpOn(relay);
    await until('both acked', () => pump.status().ackedSeq, (seq) => seq === 2, { timeoutMs: 30_000 });
    for (const original of originals) expect(relay.completeInstances.has(original.sha256)).toBe(false);
    expect(relay.completeInstances.size).toBe(2);
    const events = session.sent.flatMap((batch) => decodeEvents({ ...batch, codec: pb.Codec.CODEC_NONE }));
    const bodies = events.map((e) => JSON.parse(e.body.toString()) as ImagingInstanceBody);
    expect(new Set(bodies.map((b) => b.studyUid)).size).toBe(1);
    expect(bodies[0]!.studyUid).not.toBe(originals[0]!.studyUid);
    for (const [i, event] of events.entries()) {
      expect(relay.completeInstances.has(bodies[i]!.sha256)).toBe(true);
      expect(bodies[i]!.deidentified).toEqual({ method: 'DICOM PS3.15 Annex E: Basic Application Confidentiality Profile', burnedInAnnotation: 'UNKNOWN' });
      expect(event.key).toBe(bodies[i]!.sopInstanceUid);
      const text = JSON.stringify({ key: event.key, headers: event.headers, body: bodies[i] });
      for (const original of originals) {
        expect(text).not.toContain(original.sopInstanceUid);
        expect(text).not.toContain(original.studyUid);
      }
      expect(text).not.toContain('MRN-4711');
    }
    const shipped = Buffer.concat([...relay.chunks.values()].map((c) => c.bytes));
    expect(shipped.includes(Buffer.from('MRN-4711'))).toBe(false);
    expect(shipped.includes(Buffer.from(originals[0]!.studyUid))).toBe(false);
  });

  it('holds the feed with the coded reason when an instance cannot be read, and ships nothing of it', async () => {
    const path = writeInstance(1);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, 300)); // ends inside the dataset
    await journalInstance(path, 1);
    const relay = new FakeRelay();
    const { pump, session } = pumpOn(relay);
    const problem = await until('held', () => pump.status().imaging?.problem, (p) => p != null, { timeoutMs: 30_000 });
    expect(problem!.code).toBe(DicomDeidErrorCode.UNREADABLE);
    expect(problem!.message).toContain(testUids(5).sopInstanceUid(1, 1));
    expect(pump.status().blocked).toContain(DicomDeidErrorCode.UNREADABLE);
    expect(relay.offers).toEqual([]);
    expect(session.sent).toEqual([]);
    expect(pump.status().ackedSeq).toBe(0);
  });
});
