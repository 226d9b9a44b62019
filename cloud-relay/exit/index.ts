// The hospital's exit at the relay: the signed export (protocol/export-format.ts says what it holds) and the purge with its receipt.
export { FeedPurger, type FeedPurgerDeps, type PurgeRequest, type PurgeResult } from './feed-purge.js';
export { PURGE_RECEIPT_FORMAT, combinedErasure, receiptTrustedComment, signPurgeReceipt, type PurgeReceipt, type PurgedFeedEntry, type SignedPurgeReceipt } from './purge-receipt.js';
export { operatorPurge, type OperatorPurgeAnswer, type OperatorPurgeBody } from './operator-purge.js';
export { writeExport, EXPORT_WRITE_BYTES, type ExportWriterOptions, type ExportSummary } from './export-writer.js';
export { ExportBlobDamagedError, ExportNoDatabaseError, ExportOutDirError, ExportUnknownFeedError, ExportUnknownHospitalError } from './errors.js';
export { exportFromDataDir, type DataDirExportOptions } from './data-dir-export.js';
