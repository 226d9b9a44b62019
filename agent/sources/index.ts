// The agent's sources: the port (source.ts) and one folder per kind. What the
// composition root, the HTTP router, health (the admission check) and operations
// (the status shape) may use.
export type { AdmissionCheck, Source, SourceAddress, SourceKind, SourceParts, SourceStatus } from './source.js';
export { REJECTION_KINDS, hl7RejectionKind, httpRejectionKind, type RejectionKind } from './rejection-kind.js';
export * from './mllp/index.js';
export * from './http-ingest/index.js';
export { criticalSourceNames, refineSources, SourceConfigSchema, SourcesConfigSchema, type SourceConfig } from './source-config.js';
