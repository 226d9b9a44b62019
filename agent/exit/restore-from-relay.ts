// `wardline agent restore --from-relay`: fetches the hospital's export over the
// agent's own relay link (the Export RPC) into a temporary directory beside the
// data directory, then restores from it exactly as from --from DIR, and removes
// it. The fetch is a port (ExportFetcher): relayExportFetcher is fetchExport over
// the agent's relay link; tests may hand in another.
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LoadedAgentConfig } from '../config.js';
import { RestoreFromRelayError } from './errors.js';
import { fetchExport } from './export-fetcher.js';
import type { ExportVerification } from './export-verifier.js';
import { exportRelaySettings } from './export-relay-settings.js';
import { restoreAgent, type RestoreOptions, type RestoreSummary } from './restore.js';

/** Fetches the hospital's export into `outDir` (empty) over the relay link of `relay`; resolves with its verification when it verified it. */
export type ExportFetcher = (request: { relay: string; outDir: string }) => Promise<ExportVerification | void>;

/**
 * The fetcher --from-relay uses: fetchExport over relays[] entry `relay` of the agent
 * config (its address, TLS and secret, as the replication link uses them).
 */
export function relayExportFetcher(config: LoadedAgentConfig, trustedPublicKey?: string): ExportFetcher {
  return async ({ relay, outDir }) => {
    // fetchExport verifies what it received before it names the directory: the restore need not do it again.
    return (await fetchExport({ ...exportRelaySettings(config, relay), outDir, ...(trustedPublicKey === undefined ? {} : { trustedPublicKey }) })).verification;
  };
}

/** Restores from the export `fetch` brings over the backup feed's relay; the fetched copy is removed afterwards. */
export async function restoreFromRelay(options: Omit<RestoreOptions, 'from'>, fetch: ExportFetcher): Promise<RestoreSummary> {
  const backup = options.config.feeds.find((f) => f.backup);
  if (!backup) return restoreAgent({ ...options, from: '' });
  const scratch = mkdtempSync(join(dirname(options.config.dataDir), '.wardline-restore-'));
  try {
    const outDir = join(scratch, 'export');
    let verified: ExportVerification | void;
    try {
      verified = await fetch({ relay: backup.relay, outDir });
    } catch (error) {
      if (error instanceof RestoreFromRelayError) throw error;
      throw new RestoreFromRelayError(`fetching the export from relay ${backup.relay} failed: ${(error as Error).message}`, { cause: error });
    }
    return await restoreAgent({ ...options, from: outDir, ...(verified ? { verified } : {}) });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
