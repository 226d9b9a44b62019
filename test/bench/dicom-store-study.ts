// A whole study through the agent's DICOM Storage SCP, as a modality sends one:
// `storescu +sd +r` of a directory of Part-10 files into an agent running as its
// own process (the built CLI). While it runs, the agent's resident memory comes
// from /proc and a C-ECHO (`echoscu`) is timed about every second. Afterwards
// every instance is checked: its journal event's SHA-256 is that of the file the
// SCP must have written (its own file meta group, then the dataset exactly as
// sent), every instance downloaded from the agent's study route hashes the same,
// and one downloaded instance prints in dcmdump as the original does.
//
// scripts/dicom-store-study.mjs runs it at 1,000 instances (~500 MB);
// test/integration/dicom-store-study.int.test.ts at 60; `npm run bench` reuses it
// for the imaging ingest figure.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { part10Prefix } from '../../agent/sources/dicom/part10-file-writer.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, CT_IMAGE_STORAGE, writeDicomStudy } from '../support/dicom-files.js';
import { freePort } from '../support/free-port.js';
import { datasetOf } from '../support/raw-dataset-scu.js';
import { WardlineProcess, waitForHttp } from '../support/wardline-process.js';

const run = promisify(execFile);

export interface DicomStoreStudyOptions {
  /** A scratch directory: the study's files, the agent's config, data and log. */
  dir: string;
  /** Instances in the study (10 series when it divides by 10, else 1); default 1,000. */
  instances?: number;
  /** Rows and columns of each (16-bit) image; default 512 (512 KiB of pixels an instance). */
  matrix?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface DicomStoreStudyResult {
  instances: number;
  /** The Part-10 files sent (left in `dir`/study). */
  paths: string[];
  /** Bytes of the Part-10 files storescu sent. */
  bytes: number;
  /** storescu's run, from start to exit. */
  seconds: number;
  mbPerSecond: number;
  /** The agent's peak resident memory (VmHWM) at the end of the run. */
  peakRssBytes: number;
  /** The highest VmRSS sampled while storescu ran. */
  maxSampledRssBytes: number;
  echoSamples: number;
  /** The slowest C-ECHO while storescu ran (echoscu's whole run, process start included). */
  echoMaxMs: number;
  /** Events in the imaging stream (one per instance: none lost, none twice). */
  journalRows: number;
  /** Instances whose journal event names the expected SHA-256 (the file the SCP must have written). */
  journaledExact: number;
  /** Instances downloaded from GET /v1/studies/…/instances/… whose bytes hash as expected. */
  downloadedExact: number;
  /** One downloaded instance: dataset bytes equal to the original's, and dcmdump prints the same. */
  sampleDatasetEqual: boolean;
  sampleDumpEqual: boolean;
  /** storescu's exit code (0: every store answered Success). */
  storescuExit: number;
}

const SERIES = 10;

/** VmHWM and VmRSS of a process, in bytes. */
function memory(pid: number): { hwmBytes: number; rssBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { hwmBytes: kb('VmHWM'), rssBytes: kb('VmRSS') };
}

/** dcmdump's lines, without the meta elements that name the file's writer rather than the instance. */
async function dump(path: string): Promise<string[]> {
  const { stdout } = await run('dcmdump', ['+L', path], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\n').filter((line) => !/^\(0002,(0000|0012|0013)\)/.test(line));
}

export async function runDicomStoreStudy(options: DicomStoreStudyOptions): Promise<DicomStoreStudyResult> {
  const log = options.log ?? (() => undefined);
  const instances = options.instances ?? 1000;
  const matrix = options.matrix ?? 512;
  const studyDir = join(options.dir, 'study');
  mkdirSync(studyDir, { recursive: true });
  const series = instances % SERIES === 0 ? SERIES : 1;
  const study = writeDicomStudy(studyDir, { study: 77, series, perSeries: instances / series, rows: matrix, columns: matrix });
  log(`wrote ${study.paths.length} instances, ${(study.bytes / 1e6).toFixed(0)} MB`);

  // What each journal event must name: the SCP's file meta group, then the dataset as sent.
  const expected = new Map<string, { sha256: string; seriesUid: string; path: string }>();
  let bytes = 0;
  for (const path of study.paths) {
    const file = readFileSync(path);
    bytes += file.length;
    const [, s, i] = /s(\d+)-i(\d+)\.dcm$/.exec(path)!;
    const seriesUid = `${study.studyUid}.${s}`;
    const sopInstanceUid = `${seriesUid}.${i}`;
    const prefix = part10Prefix({ sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid, transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN });
    expected.set(sopInstanceUid, { sha256: createHash('sha256').update(prefix).update(datasetOf(file)).digest('hex'), seriesUid, path });
  }

  const httpPort = await freePort();
  const dicomPort = await freePort();
  const dataDir = join(options.dir, 'data');
  const config = join(options.dir, 'agent.yaml');
  writeFileSync(
    config,
    `hospital: { id: dicom-study-run }
dataDir: ${dataDir}
http: { listen: "127.0.0.1:${httpPort}" }
sources:
  - { kind: dicom, name: pacs, listen: "127.0.0.1:${dicomPort}", aeTitle: WARDLINE, acceptCallingAeTitles: [MODALITY, PROBE] }
log: { level: warn }
`,
  );
  const agent = new WardlineProcess(['agent', 'start', '--config', config], join(options.dir, 'agent.log'));
  const url = `http://127.0.0.1:${httpPort}`;
  try {
    await waitForHttp(`${url}/healthz`, agent);
    const pid = agent.child.pid!;

    let running = true;
    const echoes: number[] = [];
    let maxSampledRssBytes = 0;
    const sampler = (async () => {
      while (running) {
        maxSampledRssBytes = Math.max(maxSampledRssBytes, memory(pid).rssBytes);
        const started = performance.now();
        // A C-ECHO that fails or times out counts as never answered.
        const answered = await run('echoscu', ['-aet', 'PROBE', '-aec', 'WARDLINE', '127.0.0.1', String(dicomPort)], { timeout: 10_000 }).then(
          () => true,
          (error: Error) => (log(`echoscu failed: ${error.message}`), false),
        );
        echoes.push(answered ? performance.now() - started : Infinity);
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - started))));
      }
    })();
    // Held until storescu is done (an agent gone from /proc fails the sampler); rethrown below.
    let samplerFailure: unknown;
    sampler.catch((error: unknown) => void (samplerFailure = error));

    const started = performance.now();
    const storescuExit = await new Promise<number>((resolve, reject) => {
      const child = spawn('storescu', ['+sd', '+r', '-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(dicomPort), studyDir], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
      child.once('error', reject);
      child.once('exit', (code) => {
        if (code !== 0) log(`storescu exited ${code}: ${stderr}`);
        resolve(code ?? -1);
      });
    });
    const seconds = (performance.now() - started) / 1000;
    running = false;
    await sampler.catch(() => undefined);
    if (samplerFailure !== undefined) throw samplerFailure;
    const peakRssBytes = memory(pid).hwmBytes;
    log(`storescu took ${seconds.toFixed(1)} s; agent peak RSS ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB; slowest echo ${Math.max(...echoes).toFixed(0)} ms`);

    const db = new Database(join(dataDir, 'agent.db'), { readonly: true });
    let rows: { key: string; body: Buffer }[];
    try {
      rows = db.prepare("SELECT key, body FROM journal WHERE stream = 'imaging' ORDER BY seq").all() as { key: string; body: Buffer }[];
    } finally {
      db.close();
    }
    const journaled = new Set<string>();
    for (const row of rows) {
      const body = JSON.parse(row.body.toString('utf8')) as { sha256: string; sopInstanceUid: string };
      if (expected.get(row.key)?.sha256 === body.sha256 && body.sopInstanceUid === row.key) journaled.add(row.key);
    }

    let downloadedExact = 0;
    let sample: Buffer | undefined;
    for (const [sopInstanceUid, want] of expected) {
      const response = await fetch(`${url}/v1/studies/${study.studyUid}/series/${want.seriesUid}/instances/${sopInstanceUid}`);
      if (!response.ok) continue;
      const body = Buffer.from(await response.arrayBuffer());
      if (createHash('sha256').update(body).digest('hex') === want.sha256) downloadedExact++;
      sample ??= body;
    }
    const first = expected.values().next().value!;
    let sampleDatasetEqual = false;
    let sampleDumpEqual = false;
    if (sample) {
      const samplePath = join(options.dir, 'downloaded.dcm');
      writeFileSync(samplePath, sample);
      sampleDatasetEqual = datasetOf(sample).equals(datasetOf(readFileSync(first.path)));
      sampleDumpEqual = JSON.stringify(await dump(samplePath)) === JSON.stringify(await dump(first.path));
    }
    return {
      instances: expected.size,
      paths: study.paths,
      bytes,
      seconds,
      mbPerSecond: bytes / 1e6 / seconds,
      peakRssBytes,
      maxSampledRssBytes,
      echoSamples: echoes.length,
      echoMaxMs: Math.max(...echoes),
      journalRows: rows.length,
      journaledExact: journaled.size,
      downloadedExact,
      sampleDatasetEqual,
      sampleDumpEqual,
      storescuExit,
    };
  } finally {
    await agent.kill('SIGTERM');
  }
}
