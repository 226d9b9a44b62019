// The study-store run (test/bench/dicom-store-study.ts) scaled down: 60 instances
// of 512 KiB through `storescu +sd +r` into an agent process. Every instance is
// journaled once with the bytes the SCP must have written and downloads as such;
// the agent stays under 300 MB resident and answers C-ECHO within a second while
// the study streams in. scripts/dicom-store-study.mjs runs it at 1,000 instances.
import { describe, expect, it } from 'vitest';
import { runDicomStoreStudy } from '../bench/dicom-store-study.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('a study through storescu +sd +r', () => {
  it('stores every instance exactly, in bounded memory, answering C-ECHO meanwhile', async () => {
    const dir = makeTempDir('wardline-dicom-study-');
    try {
      const result = await runDicomStoreStudy({ dir: dir.path, instances: 60 });
      expect(result.storescuExit).toBe(0);
      expect(result).toMatchObject({ instances: 60, journalRows: 60, journaledExact: 60, downloadedExact: 60, sampleDatasetEqual: true, sampleDumpEqual: true });
      expect(result.peakRssBytes).toBeLessThan(300e6);
      expect(result.echoSamples).toBeGreaterThan(0);
      expect(result.echoMaxMs).toBeLessThan(1000);
    } finally {
      dir.remove();
    }
  }, 120_000);
});
