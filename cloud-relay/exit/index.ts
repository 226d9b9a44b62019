// The hospital's exit, relay side: the signed export (protocol/export-format.ts says what it holds).
export { writeExport, EXPORT_WRITE_BYTES, type ExportWriterOptions, type ExportSummary } from './export-writer.js';
export { ExportBlobDamagedError, ExportNoDatabaseError, ExportOutDirError, ExportUnknownFeedError, ExportUnknownHospitalError } from './errors.js';
export { exportFromDataDir, type DataDirExportOptions } from './data-dir-export.js';
