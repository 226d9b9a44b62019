// What every change-capture source shares: config keys, the row-to-event mapping,
// the transaction buffer (memory, then staged on disk), the status shape, the meter
// and the errors. Each kind (postgres/, mysql/, sql-poll/) builds on these.
export * from './capture-config.js';
export * from './capture-status.js';
export * from './capture-source.js';
export * from './row-event.js';
export { TransactionBuffer, type TransactionCommit } from './transaction-buffer.js';
export { CaptureMeter } from './capture-meter.js';
export { CaptureSetupError, CapturePositionLostError } from './capture-errors.js';
export { loadCapturePasswords } from './capture-secrets.js';
export { CaptureBackoff, ADMISSION_RETRY_MS } from './capture-backoff.js';
