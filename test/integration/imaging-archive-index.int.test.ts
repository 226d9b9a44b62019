// The study index, the study routes and archive retention on a real agent.db,
// a real archive and real DICOM files: instances go in as the DICOM source puts
// them (archive.ingestFile, then a blob-ref event appended to the journal).
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answerImagingRoute } from '../../agent/http/imaging-routes.js';
import { ArchiveRetention, FileInstanceArchive, StudyBrowser, StudyIndex, type StudyView } from '../../agent/imaging/index.js';
import { FeedAcks, Journal, openAgentDatabase, type SqliteDatabase } from '../../agent/store/index.js';
import { BLOB_REF_CONTENT_TYPE, IMAGING_STREAM, type ImagingInstanceBody } from '../../protocol/index.js';
import { CT_IMAGE_STORAGE, EXPLICIT_VR_LITTLE_ENDIAN, writeDicomStudy } from '../support/dicom-files.js';
import { makeTempDir } from '../support/temp-dir.js';

const feeds = [{ name: 'cloud', relay: 'r1', streams: [IMAGING_STREAM] }];
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('study index, routes and retention', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let journal: Journal;
  let archive: FileInstanceArchive;
  let index: StudyIndex;
  let acks: FeedAcks;
  let server: Server;
  let base: string;
  let now = Date.now();

  beforeEach(async () => {
    temp = makeTempDir('wardline-imaging-index-');
    db = openAgentDatabase(join(temp.path, 'agent.db'));
    journal = new Journal(db, { clock: () => now });
    archive = new FileInstanceArchive({ dir: join(temp.path, 'archive') });
    await archive.open();
    index = new StudyIndex({ db });
    acks = new FeedAcks(db);
    const browser = new StudyBrowser({ index, archive, feeds, ackedSeqs: () => acks.all() });
    server = createServer((req, res) => void answerImagingRoute(browser, req, res, new URL(req.url!, 'http://agent'), silent));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await index.stop();
    await archive.close();
    db.close();
    temp.remove();
  });

  async function take(study: number, perSeries: number): Promise<{ paths: string[]; seqs: number[]; studyUid: string }> {
    const written = writeDicomStudy(temp.path, { study, series: 2, perSeries, rows: 256, columns: 256, patientId: 'P1' });
    const seqs: number[] = [];
    for (const [i, path] of written.paths.entries()) {
      const manifest = await archive.ingestFile(path);
      const s = Math.floor(i / perSeries) + 1;
      const n = (i % perSeries) + 1;
      const body: ImagingInstanceBody = {
        ...manifest, studyUid: written.studyUid, seriesUid: `${written.studyUid}.${s}`, sopInstanceUid: `${written.studyUid}.${s}.${n}`,
        sopClassUid: CT_IMAGE_STORAGE, transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN, patientId: 'P1', modality: 'CT', studyDate: '20261202',
      };
      const result = await journal.append({ source: 'pacs', events: [{ stream: IMAGING_STREAM, key: body.sopInstanceUid, op: 'upsert', contentType: BLOB_REF_CONTENT_TYPE, body: Buffer.from(JSON.stringify(body)), headers: {} }] });
      seqs.push(result.seqs[0]!);
    }
    return { paths: written.paths, seqs, studyUid: written.studyUid };
  }

  it('shows a study with per-feed acks and serves an instance byte for byte', async () => {
    const { paths, seqs, studyUid } = await take(7, 3);
    acks.record('cloud', 'r1', seqs[2]!);
    const view = (await (await fetch(`${base}/v1/studies/${studyUid}`)).json()) as StudyView;
    expect(view.totals.instances).toBe(6);
    expect(view.series).toHaveLength(2);
    expect(view.modalities).toEqual(['CT']);
    expect(view.series[0]!.instances.map((i) => i.acked.cloud)).toEqual([true, true, true]);
    expect(view.series[1]!.instances.map((i) => i.acked.cloud)).toEqual([false, false, false]);
    expect(view.feeds[0]).toMatchObject({ feed: 'cloud', instances: 6, ackedInstances: 3 });

    const original = readFileSync(paths[4]!);
    const res = await fetch(`${base}/v1/studies/${studyUid}/series/${studyUid}.2/instances/${studyUid}.2.2`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/dicom');
    expect(res.headers.get('content-length')).toBe(String(original.length));
    expect(res.headers.get('etag')).toBe(`"${createHash('sha256').update(original).digest('hex')}"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(original)).toBe(true);

    expect((await fetch(`${base}/v1/studies/1.2.3`)).status).toBe(404);
    const bad = await fetch(`${base}/v1/studies/1.2.x`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/studyUid: expected a DICOM UID/);
    expect((await fetch(`${base}/v1/studies/${studyUid}/series/${studyUid}.2/instances/9.9`)).status).toBe(404);
  });

  it('answers 500 naming WL_A026 for a corrupt chunk, never the bytes', async () => {
    const { studyUid } = await take(8, 1);
    const [instance] = index.study(studyUid).length ? index.study(studyUid) : (await index.catchUp(), index.study(studyUid));
    const chunk = join(temp.path, 'archive', 'chunks', instance!.body.chunks[0]!.sha256.slice(0, 2), instance!.body.chunks[0]!.sha256);
    const bytes = readFileSync(chunk);
    bytes[100] = bytes[100]! ^ 1;
    (await import('node:fs')).writeFileSync(chunk, bytes);
    const res = await fetch(`${base}/v1/studies/${studyUid}/series/${instance!.body.seriesUid}/instances/${instance!.body.sopInstanceUid}`);
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('WL_A026');
  });

  it('retention removes only old instances no feed still owes, and logs them', async () => {
    const { seqs, studyUid } = await take(9, 2);
    const logged: string[] = [];
    const retention = new ArchiveRetention({
      index, archive, retentionMs: 86_400_000, feeds: () => feeds, ackedSeqs: () => acks.all(), clock: () => now + 2 * 86_400_000,
      log: { info: (_f, m) => logged.push(m), warn: () => undefined },
    });
    expect((await retention.prune()).removedInstances).toBe(0);
    expect(archive.usage().instances).toBe(4);
    acks.record('cloud', 'r1', seqs[1]!);
    const pass = await retention.prune();
    expect(pass).toMatchObject({ removedInstances: 2, keptOwed: 2 });
    expect(archive.usage().instances).toBe(2);
    expect(index.study(studyUid)).toHaveLength(2);
    expect(logged.filter((m) => m.startsWith('archive retention removed instance'))).toHaveLength(2);
    // A rebuild from the local copy does not bring removed instances back.
    db.prepare('UPDATE imaging_index_cursor SET after_seq = 0').run();
    db.prepare('UPDATE journal_trim_floor SET trimmed_through = 1').run();
    await index.catchUp();
    expect(index.study(studyUid)).toHaveLength(2);
  });
});
