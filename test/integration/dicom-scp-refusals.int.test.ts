// The DICOM Storage SCP's refusals and its pass-through, in a real agent with dcmtk
// (and, for datasets dcmtk will not send, a raw SCU) as the modality:
//  - disk critical: C-STORE answered 0xA700 Out of Resources, nothing journaled or
//    left on disk; once the disk recovers the next store succeeds;
//  - a dataset that cannot be parsed: 0xC000 Cannot Understand, and the same
//    association then stores a good instance;
//  - an instance downloaded from the agent's study route is the instance sent:
//    the dataset byte for byte, and dcmdump prints the same.
// The disk's figures come from a probe the test sets: the SCP's refusal depends on
// the disk state only (disk-budget.int.test.ts fills a real tiny filesystem).
// A last block: a source marked critical (still admitted at critical) on a real,
// tiny filesystem filled to the last block gets 0xA700 from the failed write
// instead, keeps serving, and stores again once there is room.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskProbe, DiskReading } from '../../agent/health/index.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { CT_IMAGE_STORAGE, testUids, writeDicomFile } from '../support/dicom-files.js';
import { datasetOf, implicitLengthOffset, rawStoreOf, sendRawStores } from '../support/raw-dataset-scu.js';
import { makeTempDir } from '../support/temp-dir.js';
import { mountTinyFilesystem, type TinyFilesystem } from '../support/tiny-filesystem.js';

// Asynchronous: the agent runs in this process and must keep answering while dcmtk waits.
const run = promisify(execFile);

class SetFiguresProbe implements DiskProbe {
  percent = 20;
  read(): Promise<DiskReading> {
    const totalBytes = 100e9;
    const usedBytes = (totalBytes * this.percent) / 100;
    return Promise.resolve({ mount: '/set-by-test', filesystem: 'test', type: 'test', totalBytes, usedBytes, freeBytes: totalBytes - usedBytes });
  }
}

/** storescu's outcome: its exit code and everything it printed. */
async function storescu(port: number, paths: string[], extra: string[] = []): Promise<{ code: number; output: string }> {
  return run('storescu', ['-v', ...extra, '-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(port), ...paths]).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
  );
}

/** dcmdump's lines for a file, without the three meta elements that name the writer rather than the instance. */
async function dump(path: string): Promise<string[]> {
  const { stdout } = await run('dcmdump', ['+L', path], { maxBuffer: 16 * 1024 * 1024 });
  return stdout.split('\n').filter((line) => !/^\(0002,(0000|0012|0013)\)/.test(line) && !line.startsWith('# dcmdump'));
}

describe('DICOM Storage SCP: refusals and pass-through', () => {
  const dir = makeTempDir('wardline-dicom-refusals-');
  const dataDir = join(dir.path, 'data');
  const files = join(dir.path, 'files');
  const probe = new SetFiguresProbe();
  const uids = testUids(41);
  let agent: RunningAgent;
  let port: number;
  let url: string;

  const imagingKeys = (): string[] => {
    const db = new Database(join(dataDir, 'agent.db'), { readonly: true });
    try {
      return (db.prepare("SELECT key FROM journal WHERE stream = 'imaging' ORDER BY seq").all() as { key: string }[]).map((r) => r.key);
    } finally {
      db.close();
    }
  };
  const waitForDisk = async (state: string): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (agent.status().disk?.state !== state) {
      if (Date.now() > deadline) throw new Error(`disk never became ${state}: ${JSON.stringify(agent.status().disk)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const instance = (n: number, rows = 64): { path: string; sopInstanceUid: string } => {
    const sopInstanceUid = uids.sopInstanceUid(1, n);
    const path = join(files, `i${n}.dcm`);
    writeDicomFile(path, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid, rows, columns: rows });
    return { path, sopInstanceUid };
  };
  const pacs = () => agent.status().sources.find((s) => s.name === 'pacs')!;

  beforeAll(async () => {
    mkdirSync(files);
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: dicom-refusals }
dataDir: ${dataDir}
http: { listen: "127.0.0.1:0" }
sources:
  - { kind: dicom, name: pacs, listen: "127.0.0.1:0", aeTitle: WARDLINE, acceptCallingAeTitles: [MODALITY] }
disk: { warnAtPercent: 60, criticalAtPercent: 80, hysteresisPercent: 5, sampleIntervalMs: 100 }
`,
    );
    agent = await startAgent(file, { logger: pino({ level: 'silent' }), diskProbe: probe });
    port = agent.sourcePorts.get('pacs')!;
    url = `http://127.0.0.1:${agent.httpPort}`;
  });

  afterAll(async () => {
    await agent?.stop();
    dir.remove();
  });

  it('answers 0xA700 Out of Resources while the disk is critical, keeps nothing, and stores again once it recovers', async () => {
    const refused = instance(1);
    probe.percent = 90;
    await waitForDisk('critical');
    const before = imagingKeys();
    const { code, output } = await storescu(port, [refused.path]);
    expect(output).toMatch(/Received Store Response \(Refused: OutOfResources\)|0xa700/i);
    expect(code).not.toBe(0);
    expect(imagingKeys()).toEqual(before);
    expect(readdirSync(join(dataDir, 'incoming', 'pacs'))).toEqual([]);
    expect(pacs().lastRejection).toMatchObject({ kind: 'disk-full' });
    expect(pacs().lastRejection!.reason).toMatch(/^disk critically full/);

    probe.percent = 20;
    await waitForDisk('ok');
    const again = await storescu(port, [refused.path]);
    expect(again.output).toMatch(/Received Store Response \(Success\)/);
    expect(again.code).toBe(0);
    expect(imagingKeys()).toEqual([...before, refused.sopInstanceUid]);
  });

  it('answers 0xC000 Cannot Understand for a dataset that cannot be parsed, and the same association then stores a good one', async () => {
    const cut = instance(2);
    const short = instance(3);
    const good = instance(4);
    const before = imagingKeys();
    const statuses = await sendRawStores('127.0.0.1', port, 'MODALITY', 'WARDLINE', [
      // (0010,0020) Patient ID claims 65,520 bytes: the dataset ends inside it.
      await rawStoreOf(cut.path, CT_IMAGE_STORAGE, cut.sopInstanceUid, (dataset) => dataset.writeUInt32LE(0xfff0, implicitLengthOffset(dataset, '00100020'))),
      // Pixel Data claims 2 GB; the association carries 8 KB of it.
      await rawStoreOf(short.path, CT_IMAGE_STORAGE, short.sopInstanceUid, (dataset) => dataset.writeUInt32LE(0x7ffffff0, implicitLengthOffset(dataset, '7FE00010'))),
      await rawStoreOf(good.path, CT_IMAGE_STORAGE, good.sopInstanceUid),
    ]);
    expect(statuses).toEqual([0xc000, 0xc000, 0x0000]);
    expect(imagingKeys()).toEqual([...before, good.sopInstanceUid]);
    expect(readdirSync(join(dataDir, 'incoming', 'pacs'))).toEqual([]);
    expect(pacs().lastRejection).toMatchObject({ kind: 'bad-request' });
    // The SCP still serves other associations.
    await run('echoscu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(port)]);
  });

  it('serves a stored instance whose dataset is byte for byte the one sent, and dcmdump prints the same', async () => {
    const sent = instance(5, 512);
    const { code } = await storescu(port, [sent.path]);
    expect(code).toBe(0);
    const response = await fetch(`${url}/v1/studies/${uids.studyUid}/series/${uids.seriesUid(1)}/instances/${sent.sopInstanceUid}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/dicom');
    const downloaded = Buffer.from(await response.arrayBuffer());
    const original = readFileSync(sent.path);
    expect(datasetOf(downloaded).equals(datasetOf(original))).toBe(true);
    const downloadedPath = join(dir.path, 'downloaded.dcm');
    writeFileSync(downloadedPath, downloaded);
    expect(await dump(downloadedPath)).toEqual(await dump(sent.path));
  });
});

describe('DICOM Storage SCP: a critical source on a truly full disk', () => {
  const dir = makeTempDir('wardline-dicom-full-');
  const uids = testUids(42);
  let tiny: TinyFilesystem | undefined;
  let why = '';
  let agent: RunningAgent | undefined;
  let port = 0;

  beforeAll(async () => {
    const mounted = mountTinyFilesystem(dir.path, 32 * 1024 * 1024);
    tiny = mounted.fs;
    why = mounted.why ?? '';
    if (!tiny) return;
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(
      file,
      `hospital: { id: dicom-full }
dataDir: ${join(tiny.path, 'data')}
http: { listen: "127.0.0.1:0" }
sources:
  - { kind: dicom, name: modality, listen: "127.0.0.1:0", aeTitle: WARDLINE, critical: true }
disk: { warnAtPercent: 60, criticalAtPercent: 80, hysteresisPercent: 5, sampleIntervalMs: 100 }
`,
    );
    agent = await startAgent(file, { logger: pino({ level: 'silent' }) });
    port = agent.sourcePorts.get('modality')!;
  });

  afterAll(async () => {
    await agent?.stop();
    tiny?.remove();
    dir.remove();
  });

  it('answers 0xA700 when the instance cannot be written, keeps serving, and stores it once there is room', async (ctx) => {
    if (!tiny || !agent) return ctx.skip(why);
    mkdirSync(join(dir.path, 'files'));
    const path = join(dir.path, 'files', 'big.dcm');
    // 2 MiB of pixels: more than any slack a full ext4 keeps.
    writeDicomFile(path, { studyUid: uids.studyUid, seriesUid: uids.seriesUid(1), sopInstanceUid: uids.sopInstanceUid(1, 1), rows: 1024, columns: 1024 });
    tiny.ballast(Number.POSITIVE_INFINITY);
    const refused = await storescu(port, [path]);
    expect(refused.output).toMatch(/Received Store Response \(Refused: OutOfResources\)|0xa700/i);
    expect(refused.code).not.toBe(0);
    const status = agent.status().sources.find((s) => s.name === 'modality')!;
    expect(status).toMatchObject({ acknowledged: 0, rejected: 1 });
    expect(readdirSync(join(tiny.path, 'data', 'incoming', 'modality'))).toEqual([]);
    await run('echoscu', ['-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(port)]);

    tiny.ballast(0);
    const stored = await storescu(port, [path]);
    expect(stored.output).toMatch(/Received Store Response \(Success\)/);
    expect(agent.status().sources.find((s) => s.name === 'modality')!.acknowledged).toBe(1);
  });
});
