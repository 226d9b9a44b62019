// A de-identified imaging feed end to end: dcmtk's storescu sends a study to a
// real agent's DICOM SCP, the feed's `policy.dicom` de-identifies each instance
// as it ships, and a real relay stores it. Then every file under the relay's data
// dir is searched, byte for byte, for what the Basic Profile removes or replaces
// (the GB18030 name too): none of it is there; the relay's copies are valid
// Part-10 files whose remapped Study Instance UID is the same in every instance.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import iconv from 'iconv-lite';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { rotateKey } from '../../agent/policy/index.js';
import { parseDataset, parseFileMeta, type DicomElement } from '../../agent/policy/dicom/dicom-dataset.js';
import { parseRelayConfig, startRelay, type RelayHandle } from '../../cloud-relay/index.js';
import { SqliteBlobStore, relayBlobDir } from '../../cloud-relay/store/index.js';
import { parseImagingInstanceBody, type ImagingInstanceBody } from '../../protocol/index.js';
import { SECONDARY_CAPTURE_STORAGE, testUids, writeDicomFile, writeDicomStudy, type DicomElement as DicomFileElement } from '../support/dicom-files.js';
import { readWholeFeed } from '../support/read-feed.js';
import { makeTempDir } from '../support/temp-dir.js';

// Asynchronous: the agent runs in this process and must keep answering while dcmtk waits.
const run = promisify(execFile);
const quiet = pino({ level: 'silent' });
const HOSPITAL = 'deid-hospital';
const SECRET = 'deid-hospital-secret-0001';
const VENDOR_KEY = 'deid-vendor-key-000000001';
const FEED = 'research-imaging';
const NAME = '王小明';
const PATIENT_ID = 'MRN-20261202-77';
const INSTITUTION = '上海瑞金医院';
const ACCESSION = 'ACC-5550123';
const REFERRING = 'ZHAO^REFERRER';
const BIRTH_DATE = '19690317';
const STUDY_DATE = '20261119';
const STUDY = 41;

function allFiles(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const path = join(root, name);
    return statSync(path).isDirectory() ? allFiles(path) : [path];
  });
}

function text(elements: readonly DicomElement[], tag: number): string | undefined {
  return elements.find((e) => e.tag === tag)?.value?.toString('latin1').replace(/[\0 ]+$/, '');
}

describe('a de-identified imaging feed (PS3.15 Basic Profile) from a DICOM SCP to the relay', () => {
  const dir = makeTempDir('wardline-deid-');
  const relayData = join(dir.path, 'relay-data');
  const uids = testUids(STUDY);
  // Three CT images, and a screen capture (secondary capture, no Burned In Annotation) in a second series.
  const sopUids = [...[1, 2, 3].map((i) => uids.sopInstanceUid(1, i)), uids.sopInstanceUid(2, 1)];
  let relay: RelayHandle;
  let agent: RunningAgent;
  let relayHttp: string;
  let bodies: ImagingInstanceBody[];

  beforeAll(async () => {
    relay = await startRelay(
      parseRelayConfig({
        dataDir: relayData,
        allowPlaintext: true,
        grpc: { listen: '127.0.0.1:0' },
        http: { listen: '127.0.0.1:0' },
        hospitals: [{ id: HOSPITAL, secret: SECRET }],
        vendors: [{ name: 'vendor', key: VENDOR_KEY, grants: [{ hospital: HOSPITAL, feeds: [FEED] }] }],
        log: { level: 'silent' },
      }),
      { logger: quiet },
    );
    relayHttp = `http://127.0.0.1:${relay.httpPort}`;
    rotateKey({ dir: join(dir.path, 'keys'), kind: 'pseudonym', retainRetiredMs: 86_400_000 });
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: ${HOSPITAL} }
dataDir: ./agent-data
http: { listen: "127.0.0.1:0" }
keys: { dir: ./keys }
sources:
  - { kind: dicom, name: pacs, listen: "127.0.0.1:0", aeTitle: WARDLINE, acceptCallingAeTitles: [MODALITY] }
relays: [{ name: cloud, address: "127.0.0.1:${relay.grpcPort}", secret: "${SECRET}", allowPlaintext: true }]
feeds:
  - name: ${FEED}
    relay: cloud
    streams: [imaging]
    policy:
      default: keep
      key: keep
      dicom: { profile: basic, keepPrivateTags: ['(0029,"ACME_SAFE",01)'] }
replication: { backoff: { initialMs: 100, maxMs: 500 } }
`,
    );
    agent = await startAgent(file, { logger: quiet });

    const studyDir = join(dir.path, 'study');
    mkdirSync(studyDir);
    const identifying: DicomFileElement[] = [
        { tag: '00080020', vr: 'DA', value: STUDY_DATE },
        { tag: '00080050', vr: 'SH', value: ACCESSION },
        { tag: '00080080', vr: 'LO', value: INSTITUTION },
        { tag: '00080090', vr: 'PN', value: REFERRING },
        { tag: '00081030', vr: 'LO', value: `CT CHEST ${NAME}` },
        { tag: '00100030', vr: 'DA', value: BIRTH_DATE },
        { tag: '00200052', vr: 'UI', value: `${uids.studyUid}.500` },
        { tag: '00290010', vr: 'LO', value: 'ACME_SAFE' },
        { tag: '00291001', vr: 'LO', value: 'KEPT-PRIVATE' },
        { tag: '00291002', vr: 'LO', value: 'DROPPED-PRIVATE' },
    ];
    const study = writeDicomStudy(studyDir, { study: STUDY, perSeries: 3, patientName: NAME, charset: 'GB18030', patientId: PATIENT_ID, extra: identifying });
    const capture = join(studyDir, 's2-i1.dcm');
    writeDicomFile(capture, {
      studyUid: uids.studyUid,
      seriesUid: uids.seriesUid(2),
      sopInstanceUid: uids.sopInstanceUid(2, 1),
      sopClassUid: SECONDARY_CAPTURE_STORAGE,
      modality: 'OT',
      patientName: NAME,
      charset: 'GB18030',
      patientId: PATIENT_ID,
      extra: identifying,
    });
    await run('storescu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(agent.sourcePorts.get('pacs')!), ...study.paths, capture]);

    const deadline = Date.now() + 60_000;
    for (;;) {
      const events = await readWholeFeed(relayHttp, FEED, VENDOR_KEY);
      if (events.length === 4) {
        bodies = events.map((e) => parseImagingInstanceBody(Buffer.from(e.bodyBase64 ?? JSON.stringify(e.body), e.bodyBase64 ? 'base64' : 'utf8')));
        break;
      }
      if (Date.now() > deadline) throw new Error(`the relay holds ${events.length} of 4 events; agent status: ${JSON.stringify(agent.status().feeds)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await relay?.stop();
    dir.remove();
  });

  /** The relay's copy of an instance, reassembled from its blob store. */
  async function relayCopy(body: ImagingInstanceBody): Promise<Buffer> {
    const store = SqliteBlobStore.open({ file: join(relayData, 'relay.db'), dir: relayBlobDir(relayData) });
    try {
      const opened = await store.openInstance(HOSPITAL, body.sha256);
      expect(opened, `instance ${body.sha256} complete at the relay`).toBeDefined();
      const parts: Buffer[] = [];
      for await (const chunk of opened!.stream) parts.push(chunk as Buffer);
      return Buffer.concat(parts);
    } finally {
      await store.close();
    }
  }

  it('leaves nothing the Basic Profile removes or replaces anywhere in the relay\'s storage', () => {
    const needles: [string, Buffer][] = [
      ['patient name (GB18030)', iconv.encode(NAME, 'gb18030')],
      ['patient name (UTF-8)', Buffer.from(NAME, 'utf8')],
      ['patient ID', Buffer.from(PATIENT_ID)],
      ['institution (GB18030)', iconv.encode(INSTITUTION, 'gb18030')],
      ['institution (UTF-8)', Buffer.from(INSTITUTION, 'utf8')],
      ['accession number', Buffer.from(ACCESSION)],
      ['referring physician', Buffer.from(REFERRING)],
      ['birth date', Buffer.from(BIRTH_DATE)],
      ['study date', Buffer.from(STUDY_DATE)],
      ['study instance UID', Buffer.from(uids.studyUid)],
      ['series instance UID', Buffer.from(uids.seriesUid(1))],
      ['series instance UID', Buffer.from(uids.seriesUid(2))],
      ['a private attribute not listed', Buffer.from('DROPPED-PRIVATE')],
      ...sopUids.map((uid): [string, Buffer] => [`SOP instance UID ${uid}`, Buffer.from(uid)]),
    ];
    // The search finds what is there: the agent's own archive holds the originals.
    const archived = allFiles(join(dir.path, 'agent-data', 'archive')).map((f) => readFileSync(f));
    for (const [what, needle] of needles.filter(([what]) => !what.includes('UTF-8'))) expect(archived.some((bytes) => bytes.includes(needle)), `${what} in the agent's archive`).toBe(true);
    const files = allFiles(relayData);
    expect(files.some((f) => f.startsWith(relayBlobDir(relayData)))).toBe(true);
    const found: string[] = [];
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const [what, needle] of needles) if (bytes.includes(needle)) found.push(`${what} in ${file.slice(relayData.length)}`);
    }
    expect(found).toEqual([]);
  });

  it('stores valid Part-10 copies whose remapped UIDs hold together across the study and differ from the originals', async () => {
    const studies = new Set<string>();
    for (const body of bodies) {
      const copy = await relayCopy(body);
      const path = join(dir.path, `${body.sopInstanceUid}.dcm`);
      writeFileSync(path, copy);
      const { stderr } = await run('dcmdump', ['-q', '+E', path]);
      expect(stderr).toBe('');
      const meta = parseFileMeta(copy, true);
      const dataset = parseDataset(copy, meta.end, false, true).elements;
      const study = text(dataset, 0x0020000d)!;
      studies.add(study);
      expect(study).toMatch(/^2\.25\.\d+$/);
      expect(study).toBe(body.studyUid);
      expect(text(dataset, 0x00080018)).toBe(body.sopInstanceUid);
      expect(text(meta.elements, 0x00020003)).toBe(body.sopInstanceUid);
      expect(sopUids).not.toContain(body.sopInstanceUid);
      expect(text(dataset, 0x00200052)).toMatch(/^2\.25\.\d+$/);
      expect(text(dataset, 0x00120062)).toBe('YES');
      expect(text(dataset, 0x00120063)).toContain('Basic Application Confidentiality Profile');
      expect(text(dataset, 0x00291001)).toBe('KEPT-PRIVATE');
      // The screen capture's pixels may carry the patient's name: flagged, not claimed clean.
      const capture = body.sopClassUid === SECONDARY_CAPTURE_STORAGE;
      expect(body.deidentified).toEqual({ method: 'DICOM PS3.15 Annex E: Basic Application Confidentiality Profile', burnedInAnnotation: capture ? 'YES' : 'UNKNOWN' });
      expect(body.patientId).toMatch(/^ps:/);
    }
    expect(studies.size).toBe(1);
    expect([...studies][0]).not.toBe(uids.studyUid);
    expect(new Set(bodies.map((b) => b.sopInstanceUid)).size).toBe(4);
    expect(new Set(bodies.map((b) => b.seriesUid)).size).toBe(2);
    expect(bodies.filter((b) => b.deidentified?.burnedInAnnotation === 'YES')).toHaveLength(1);
  });
});
