// The hospital's exit, agent side: verifying a relay's signed export offline and fetching one over the Export RPC.
export { verifyExport, type ExportVerification, type ExportVerifyOptions } from './export-verifier.js';
export { ExportFetchError, ExportRelayTooOldError, ExportSignatureError, ExportTamperedError } from './errors.js';
export { fetchExport, DEFAULT_EXPORT_DEADLINE_MS, type FetchExportOptions, type FetchedExport } from './export-fetcher.js';
export { exportRelaySettings, type ExportRelaySettings } from './export-relay-settings.js';
