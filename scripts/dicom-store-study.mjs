// The full study-store run: `storescu +sd +r` of a 1,000-instance study (~500 MB)
// into an agent process. Prints instances, MB, MB/s, the agent's peak RSS, the
// slowest C-ECHO while it ran, and whether every instance was journaled and
// downloads byte for byte as sent. Fails (exit 1) past 300 MB RSS or a 1 s echo.
// `npm test` runs the same at 60 instances (test/integration/dicom-store-study.int.test.ts).
//
//   npm run build && node scripts/dicom-store-study.mjs [--instances 1000] [--matrix 512]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(repo, 'dist/test/bench/dicom-store-study.js');
if (!existsSync(built)) {
  process.stderr.write('dicom-store-study: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const { runDicomStoreStudy } = await import(built);
const { makeTempDir } = await import(join(repo, 'dist/test/support/temp-dir.js'));
const dir = makeTempDir('wardline-dicom-study-');
const instances = Number(arg('instances', 1000));
const result = await runDicomStoreStudy({ dir: dir.path, instances, matrix: Number(arg('matrix', 512)), log: (line) => process.stderr.write(`${line}\n`) });
const mib = (bytes) => Math.round(bytes / 2 ** 20);
process.stdout.write(
  `${JSON.stringify(
    {
      instances: result.instances,
      MB: Math.round(result.bytes / 1e6),
      seconds: Number(result.seconds.toFixed(1)),
      MBPerSecond: Number(result.mbPerSecond.toFixed(1)),
      peakRssMiB: mib(result.peakRssBytes),
      maxSampledRssMiB: mib(result.maxSampledRssBytes),
      echoSamples: result.echoSamples,
      echoMaxMs: Math.round(result.echoMaxMs),
      journalRows: result.journalRows,
      journaledExact: result.journaledExact,
      downloadedExact: result.downloadedExact,
      sampleDatasetEqual: result.sampleDatasetEqual,
      sampleDumpEqual: result.sampleDumpEqual,
      storescuExit: result.storescuExit,
    },
    null,
    2,
  )}\n`,
);
const failures = [
  result.storescuExit !== 0 && `storescu exited ${result.storescuExit} (a store was not answered Success)`,
  result.journalRows !== instances && `${result.journalRows} events journaled for ${instances} instances`,
  result.journaledExact !== instances && `${instances - result.journaledExact} journal events do not name the bytes sent`,
  result.downloadedExact !== instances && `${instances - result.downloadedExact} instances do not download as sent`,
  !(result.sampleDatasetEqual && result.sampleDumpEqual) && 'the downloaded sample differs from the original (dataset bytes or dcmdump)',
  result.peakRssBytes >= 300e6 && `agent peak RSS ${mib(result.peakRssBytes)} MiB ≥ 300 MB`,
  result.echoMaxMs >= 1000 && `a C-ECHO took ${Math.round(result.echoMaxMs)} ms (≥ 1 s)`,
].filter(Boolean);
if (failures.length > 0) {
  process.stderr.write(`FAILED:\n${failures.join('\n')}\n(agent data kept in ${dir.path})\n`);
  process.exit(1);
}
dir.remove();
