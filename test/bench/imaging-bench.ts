// The bench's imaging section: what the DICOM Storage SCP ingests against what
// this disk can make durable at all. A study goes through `storescu +sd +r` into
// an agent process (dicom-store-study.ts: every instance answered only after its
// archive chunks and its journal event are fsynced); the baseline copies
// the same files' bytes to new files with one fsync each, in this process, on the
// same disk, with nothing else in the way (no network, no DIMSE, no hashing).
//
// Replication (10b): a study stored with the relay down, then the relay started;
// from the first ack to the imaging feed's last, every chunk goes as BlobParts
// ahead of its blob-ref batch. The baseline streams the same bytes, cut into the
// same 64 KiB parts, as pre-built batches (codec none: pixel data does not
// compress) over a bare grpc-js Replicate call to a server that acks at once.
import { execFile } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { BLOB_PART_BYTES } from '../../agent/replication/blob-shipper.js';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import { IMAGING_STREAM, type JournalEvent } from '../../protocol/index.js';
import { writeDicomStudy } from '../support/dicom-files.js';
import { freePort } from '../support/free-port.js';
import { until } from '../support/until.js';
import { WardlinePair } from '../support/wardline-pair.js';
import type { BenchReport } from './bench-report.js';
import { shown } from './bench-report.js';
import { runDicomStoreStudy } from './dicom-store-study.js';
import { measureBareGrpcStream, preEncodeBatches } from './grpc-baseline.js';

const IMAGING_FEED = 'imaging';

export interface ImagingBenchOptions {
  dir: string;
  /** Instances in the study (512 KiB of pixels each); default 200 (~105 MB). */
  instances?: number;
}

/** MB/s of copying `paths` into `dir`: read, write, fsync and close each file; best of `runs`. */
export function measureFsyncedCopy(paths: readonly string[], dir: string, runs = 3): { mbPerSecond: number; bytes: number } {
  let best = 0;
  let bytes = 0;
  for (let run = 0; run < runs; run++) {
    const target = join(dir, `copy-${run}`);
    mkdirSync(target, { recursive: true });
    bytes = 0;
    const start = performance.now();
    for (const path of paths) {
      const data = readFileSync(path);
      const fd = openSync(join(target, basename(path)), 'w');
      try {
        writeSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      bytes += data.length;
    }
    best = Math.max(best, bytes / 1e6 / ((performance.now() - start) / 1000));
    rmSync(target, { recursive: true, force: true });
  }
  return { mbPerSecond: best, bytes };
}

/** Section 10a: DICOM ingest against the fsynced copy of the same bytes. */
export async function measureImagingIngest(report: BenchReport, options: ImagingBenchOptions): Promise<void> {
  const instances = options.instances ?? 200;
  report.begin(`10. Imaging: ${instances} instances through the DICOM Storage SCP`);
  const dir = join(options.dir, 'imaging');
  mkdirSync(dir, { recursive: true });
  const study = await runDicomStoreStudy({ dir, instances, log: (line) => process.stderr.write(`  ${line}\n`) });
  const copy = measureFsyncedCopy(study.paths, dir);
  const exact = study.journalRows === instances && study.journaledExact === instances && study.downloadedExact === instances;
  report.record('DICOM ingest, storescu +sd +r → agent', study.mbPerSecond, 'MB/s', `${instances} instances, ${shown(study.bytes / 1e6)} MB in ${shown(study.seconds)} s; each C-STORE answered after its archive chunk, chunk directory, archive book and journal commit are fsynced (5 fsyncs, one instance at a time); storescu exit ${study.storescuExit}, ${exact ? 'every instance journaled and downloaded byte-exact' : `NOT EXACT: ${study.journaledExact} journaled, ${study.downloadedExact} downloaded exact`}`);
  report.record('baseline: copy the same files, fsync each', copy.mbPerSecond, 'MB/s', 'read, write, fsync, close per file, in one process, best of 3');
  report.record('DICOM ingest / fsynced copy', (study.mbPerSecond / copy.mbPerSecond) * 100, '%');
  report.record('agent peak RSS during the study', study.peakRssBytes / 2 ** 20, 'MiB', 'VmHWM of the agent process');
  report.record('C-ECHO, slowest while storing', study.echoMaxMs, 'ms', `echoscu run every ~1 s (${study.echoSamples} samples), process start included`);
  report.check('DICOM study stored byte-exact, RSS < 300 MB, C-ECHO < 1 s', 'all', `${exact && study.storescuExit === 0 ? 'exact' : 'NOT exact'}, ${shown(study.peakRssBytes / 1e6)} MB, ${shown(study.echoMaxMs)} ms`, exact && study.storescuExit === 0 && study.peakRssBytes < 300e6 && study.echoMaxMs < 1000);
  rmSync(dir, { recursive: true, force: true });
}

/** Section 10b: an imaging feed's backlog replicated to a relay against a bare grpc-js stream of the same bytes. */
export async function measureImagingReplication(report: BenchReport, options: ImagingBenchOptions): Promise<void> {
  const instances = options.instances ?? 200;
  report.begin(`10b. Imaging replication: ${instances} instances, agent archive → relay`);
  const dir = join(options.dir, 'imaging-replication');
  mkdirSync(join(dir, 'study'), { recursive: true });
  const study = writeDicomStudy(join(dir, 'study'), { study: 78, series: 10, perSeries: Math.max(1, Math.round(instances / 10)), rows: 512, columns: 512 });
  const dicomPort = await freePort();
  const pair = await WardlinePair.create(dir, {
    hospital: 'bench-imaging',
    logLevel: 'warn',
    extraFeeds: [{ name: IMAGING_FEED, streams: [IMAGING_STREAM] }],
    extraSources: [{ kind: 'dicom', name: 'pacs', listen: `127.0.0.1:${dicomPort}`, aeTitle: 'WARDLINE' }],
  });
  try {
    await pair.startAgent();
    await promisify(execFile)('storescu', ['+sd', '+r', '-aet', 'MODALITY', '-aec', 'WARDLINE', '127.0.0.1', String(dicomPort), join(dir, 'study')]);
    const piled = await pair.agentStatus();
    const feedOf = (s: AgentStatus) => s.feeds.find((f) => f.feed === IMAGING_FEED)!;
    const start = performance.now();
    await pair.startRelay();
    // The clock starts once the link streams: one batch can name every instance, so its ack is also the last.
    await until('the link to stream', () => pair.agentStatus(), (s) => s.links[0]!.state === 'streaming', { timeoutMs: 120_000, pollMs: 10 });
    const streamingAt = performance.now();
    const drained = await until('the imaging feed to drain', () => pair.agentStatus(), (s) => feedOf(s).ackedSeq >= piled.journal.headSeq, { timeoutMs: 600_000, pollMs: 50 });
    const seconds = (performance.now() - streamingAt) / 1000;
    const rate = study.bytes / 1e6 / seconds;
    report.record('imaging feed, archive → relay durable ack', rate, 'MB/s', `${study.paths.length} instances, ${shown(study.bytes / 1e6)} MB from the link streaming to the last ack in ${shown(seconds)} s (${shown((performance.now() - start) / 1000)} s from relay process start); acked seq ${feedOf(drained).ackedSeq}`);

    // The same bytes as BlobPart-sized bodies in pre-built batches over a bare stream.
    const events: JournalEvent[] = [];
    let seq = 1;
    for (const path of study.paths) {
      const bytes = readFileSync(path);
      for (let at = 0; at < bytes.length; at += BLOB_PART_BYTES) {
        events.push({ seq: seq++, stream: IMAGING_STREAM, key: basename(path), op: 'upsert', tsMs: Date.now(), source: 'pacs', contentType: 'application/octet-stream', body: bytes.subarray(at, at + BLOB_PART_BYTES), headers: {} });
      }
    }
    const { batches } = await preEncodeBatches(events, { feed: IMAGING_FEED, codec: 'none' });
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const bare = await measureBareGrpcStream(batches);
      runs.push(bare.payloadBytes / 1e6 / bare.seconds);
    }
    runs.sort((a, b) => a - b);
    const bareRate = report.record('baseline: bare grpc-js stream of the same bytes', runs[1]!, 'MB/s', `median of 3; ${batches.length} batches of 64 KiB parts, codec none, the agent's window, acked unread`);
    report.record('imaging replication / bare stream', (rate / bareRate) * 100, '%');
  } finally {
    await pair.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
