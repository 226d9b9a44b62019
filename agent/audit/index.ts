// The egress ledger: what others may use.
export { CanonicalJsonError, LedgerFormatError, LedgerUnavailableError, type LedgerUnavailableReason } from './errors.js';
export { canonicalJson, type JsonObject, type JsonValue } from './canonical-json.js';
export {
  chainNext,
  fromLedgerLine,
  GENESIS_HASH,
  GENESIS_HEAD,
  hashedForm,
  LEDGER_FORMAT_VERSION,
  recordHash,
  toLedgerLine,
  type LedgerEntry,
  type LedgerHead,
  type LedgerRecord,
} from './ledger-record.js';
export {
  ChainVerifier,
  DEFAULT_MAX_PROBLEMS,
  verifyChain,
  type ChainVerification,
  type ChainVerifierOptions,
  type LedgerProblem,
  type LedgerProblemKind,
  type RelayLedgerHead,
  type UnreadableRecord,
} from './chain-verifier.js';
export {
  DEFAULT_AUDIT_RETENTION_DAYS,
  DEFAULT_RECENT_RECORDS,
  EgressLedger,
  INBOUND_RECEIPT_RECORD_TYPE,
  MIN_AUDIT_RETENTION_DAYS,
  type EgressReceiptRecord,
  type ReceiptRecorder,
  type EgressBatchRecord,
  type EgressLedgerOptions,
  type EgressRecorder,
  type LedgerStatus,
} from './egress-ledger.js';
export { exportLedger, readLedgerFile, verifyLedgerFile, type LedgerExportRange, type LedgerExportResult } from './ledger-file.js';
export { openLedgerForAudit, recordAdminAction, type AuditDatabase } from './agent-db-ledger.js';
export { AuditConfigSchema } from './audit-config.js';
export { RESTORE_RECORD_TYPE, restoreAnchor, writeRestoreBase } from './restore-base.js';
