// The hospital's exit, agent side: verifying a relay's signed export offline and fetching one over the Export RPC.
export { verifyExport, type ExportVerification, type ExportVerifyOptions } from './export-verifier.js';
export { ExportFetchError, ExportRelayTooOldError, ExportSignatureError, ExportTamperedError } from './errors.js';
export { fetchExport, DEFAULT_EXPORT_DEADLINE_MS, type FetchExportOptions, type FetchedExport } from './export-fetcher.js';
export { exportRelaySettings, type ExportRelaySettings } from './export-relay-settings.js';
// Backup feed and restore: a fresh agent rebuilt from the relay's backup feed.
export { BACKUP_CONTENT_TYPE, BACKUP_SOURCE, BACKUP_STREAM, openBackupEvent, sealBackupRecord, type BackupDedupeKey, type BackupPosition, type BackupRecord } from './backup-envelope.js';
export { JournalBackupSealer } from './backup-sealer.js';
export { backupFeedIssues, backupFeedKey, backupSealers, type BackupFeedEntry, type BackupSealersConfig } from './backup-feed.js';
export { RestoreDataDirInUseError, RestoreExportUnusableError, RestoreFromRelayError, RestoreWrongKeysError } from './errors.js';
export { restoreAgent, checkDataDir, AGENT_DB_FILE, RESTORE_TRANSACTION_EVENTS, type RestoreConfig, type RestoreOptions, type RestoreSummary } from './restore.js';
export { relayExportFetcher, restoreFromRelay, type ExportFetcher } from './restore-from-relay.js';
