// A relay data dir holding what the export tests export: real SQLite files
// written through the stores' own ports (storeBatch, offer, writePart), so the
// export reads exactly what a relay that received these batches would hold.
//   adt      hl7v2 messages (one GB18030-looking body that is not UTF-8: bodyBase64)
//   rows     json rows, one pretty-printed (CR/LF in its raw text), one not JSON at all
//   imaging  blob-ref events naming two instances that share no chunk, one of two chunks
import { join } from 'node:path';
import { MAX_BLOB_PART_BYTES, relayBlobDir, relayDatabaseFile, SqliteBlobStore, SqliteFeedStore } from '../../cloud-relay/store/index.js';
import { BLOB_CHUNK_BYTES, BLOB_REF_CONTENT_TYPE, IMAGING_STREAM, type JournalEvent } from '../../protocol/index.js';
import { generateMinisignKey, type MinisignKey } from '../../runtime/index.js';
import { makeInstance, type TestInstance } from './blob-instance.js';

export const FX_HOSPITAL = 'h1';
export const FX_OTHER_HOSPITAL = 'h2';
export const FX_RELAY_ID = 'relay-test';

export interface ExportFixture {
  dataDir: string;
  store: SqliteFeedStore;
  blobs: SqliteBlobStore;
  key: MinisignKey;
  instances: TestInstance[];
  events: Record<string, JournalEvent[]>;
  close(): Promise<void>;
}

function event(seq: number, stream: string, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): JournalEvent {
  return { seq, stream, key: `k${seq}`, op: 'upsert', tsMs: 1_700_000_000_000 + seq, source: 'test', contentType, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), headers };
}

/** Opens stores in `dataDir` (created) and fills them; `adtEvents` sets the size of the adt feed. */
export async function buildExportFixture(dataDir: string, adtEvents = 50): Promise<ExportFixture> {
  const file = relayDatabaseFile(dataDir);
  const store = SqliteFeedStore.open({ file });
  const blobs = SqliteBlobStore.open({ file, dir: relayBlobDir(dataDir) });
  const adt: JournalEvent[] = [];
  for (let i = 1; i <= adtEvents; i++) {
    adt.push(event(i * 2, 'adt', 'hl7v2', `MSH|^~\\&|HIS|H1|||20240101||ADT^A01|MSG${i}|P|2.5\rPID|1||${100000 + i}||张^三\r`, { controlId: `MSG${i}` }));
  }
  adt.push(event(adtEvents * 2 + 2, 'adt', 'hl7v2', Buffer.from([0x4d, 0x53, 0x48, 0xd5, 0xc5, 0xc8, 0xfd])));
  await store.storeBatch({ hospital: FX_HOSPITAL, feed: 'adt', firstSeq: 1, lastSeq: adtEvents * 2 + 3, events: adt });

  const rows = [
    event(1, 'his.patient', 'json', '{"id":1,"name":"王五","big":12345678901234567890}'),
    event(2, 'his.patient', 'json', '{\r\n  "id": 2,\n  "note": "pretty"\n}'),
    event(3, 'his.patient', 'json', '{not json'),
    { ...event(4, 'his.patient', 'json', ''), op: 'delete' as const },
  ];
  await store.storeBatch({ hospital: FX_HOSPITAL, feed: 'rows', firstSeq: 1, lastSeq: 4, events: rows });

  const instances = [makeInstance(BLOB_CHUNK_BYTES + 70_001, 'export-a'), makeInstance(90_000, 'export-b')];
  for (const instance of instances) {
    const offer = await blobs.offer(FX_HOSPITAL, 'imaging', instance.manifest);
    if ('error' in offer) throw new Error(offer.error);
    for (const [index, chunk] of instance.chunks.entries()) {
      for (let offset = 0; offset < chunk.length; offset += MAX_BLOB_PART_BYTES) {
        const answer = await blobs.writePart(FX_HOSPITAL, instance.manifest.chunks[index]!.sha256, chunk.length, offset, chunk.subarray(offset, offset + MAX_BLOB_PART_BYTES));
        if (answer.error) throw new Error(answer.error);
      }
    }
  }
  const imaging = instances.map((instance, i) => ({ ...event(i + 1, IMAGING_STREAM, BLOB_REF_CONTENT_TYPE, JSON.stringify(instance.body)), key: instance.body.sopInstanceUid }));
  await blobs.recordReferences(
    FX_HOSPITAL,
    'imaging',
    instances.map((instance, i) => ({ seq: i + 1, sha256: instance.manifest.sha256, size: instance.manifest.size, studyUid: instance.body.studyUid, seriesUid: instance.body.seriesUid, sopInstanceUid: instance.body.sopInstanceUid, sopClassUid: instance.body.sopClassUid })),
  );
  await store.storeBatch({ hospital: FX_HOSPITAL, feed: 'imaging', firstSeq: 1, lastSeq: 2, events: imaging, ledgerHead: { index: 7, hash: Buffer.alloc(32, 0xab) } });
  // Another hospital's feed, which no export of h1 may show.
  await store.storeBatch({ hospital: FX_OTHER_HOSPITAL, feed: 'adt', firstSeq: 1, lastSeq: 1, events: [event(1, 'adt', 'hl7v2', 'MSH|other')] });
  return {
    dataDir,
    store,
    blobs,
    key: generateMinisignKey(),
    instances,
    events: { adt, rows, imaging },
    close: async () => {
      await store.close();
      await blobs.close();
    },
  };
}

export const fixtureDbFile = (dataDir: string): string => join(dataDir, 'relay.db');
