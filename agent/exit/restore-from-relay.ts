// `wardline agent restore --from-relay`: fetches the hospital's export over the
// agent's own relay link (the Export RPC) into a temporary directory beside the
// data directory, then restores from it exactly as from --from DIR, and removes
// it. The fetch itself is a port (ExportFetcher), handed in by the CLI, so this
// file needs no gRPC.
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RestoreFromRelayError } from './errors.js';
import { restoreAgent, type RestoreOptions, type RestoreSummary } from './restore.js';

/** Fetches the hospital's export into `outDir` (empty) over the relay link of `relay`. */
export type ExportFetcher = (request: { relay: string; outDir: string }) => Promise<void>;

/** What --from-relay uses while this build has no Export RPC fetch: a refusal that says what to do instead. */
export const exportFetchUnavailable: ExportFetcher = () =>
  Promise.reject(new RestoreFromRelayError('this build cannot fetch an export over the relay link yet: run `wardline relay export --hospital H --out DIR` at the relay, then `wardline agent restore --from DIR`'));

/** Restores from the export `fetch` brings over the backup feed's relay; the fetched copy is removed afterwards. */
export async function restoreFromRelay(options: Omit<RestoreOptions, 'from'>, fetch: ExportFetcher): Promise<RestoreSummary> {
  const backup = options.config.feeds.find((f) => f.backup);
  if (!backup) return restoreAgent({ ...options, from: '' });
  const scratch = mkdtempSync(join(dirname(options.config.dataDir), '.wardline-restore-'));
  try {
    const outDir = join(scratch, 'export');
    try {
      await fetch({ relay: backup.relay, outDir });
    } catch (error) {
      if (error instanceof RestoreFromRelayError) throw error;
      throw new RestoreFromRelayError(`fetching the export from relay ${backup.relay} failed: ${(error as Error).message}`, { cause: error });
    }
    return await restoreAgent({ ...options, from: outDir });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
