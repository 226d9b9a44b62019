// The bench's imaging section: what the DICOM Storage SCP ingests against what
// this disk can make durable at all. A study goes through `storescu +sd +r` into
// an agent process (dicom-store-study.ts: every instance answered only after its
// file, its archive chunks and its journal event are fsynced); the baseline copies
// the same files' bytes to new files with one fsync each, in this process, on the
// same disk, with nothing else in the way (no network, no DIMSE, no hashing).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchReport } from './bench-report.js';
import { shown } from './bench-report.js';
import { runDicomStoreStudy } from './dicom-store-study.js';

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
  report.record('DICOM ingest, storescu +sd +r → agent', study.mbPerSecond, 'MB/s', `${instances} instances, ${shown(study.bytes / 1e6)} MB in ${shown(study.seconds)} s; each C-STORE answered after file, archive chunks and journal are fsynced; storescu exit ${study.storescuExit}, ${exact ? 'every instance journaled and downloaded byte-exact' : `NOT EXACT: ${study.journaledExact} journaled, ${study.downloadedExact} downloaded exact`}`);
  report.record('baseline: copy the same files, fsync each', copy.mbPerSecond, 'MB/s', 'read, write, fsync, close per file, in one process, best of 3');
  report.record('DICOM ingest / fsynced copy', (study.mbPerSecond / copy.mbPerSecond) * 100, '%');
  report.record('agent peak RSS during the study', study.peakRssBytes / 2 ** 20, 'MiB', 'VmHWM of the agent process');
  report.record('C-ECHO, slowest while storing', study.echoMaxMs, 'ms', `echoscu run every ~1 s (${study.echoSamples} samples), process start included`);
  report.check('DICOM study stored byte-exact, RSS < 300 MB, C-ECHO < 1 s', 'all', `${exact && study.storescuExit === 0 ? 'exact' : 'NOT exact'}, ${shown(study.peakRssBytes / 1e6)} MB, ${shown(study.echoMaxMs)} ms`, exact && study.storescuExit === 0 && study.peakRssBytes < 300e6 && study.echoMaxMs < 1000);
  rmSync(dir, { recursive: true, force: true });
}
