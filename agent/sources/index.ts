// The agent's sources: the port (source.ts), one folder per kind, the shared
// change-capture parts (database/) and the factory by kind (create-source.ts). What the
// composition root, the HTTP router, health (the admission check) and operations
// (the status shape) may use.
export type { AdmissionCheck, Source, SourceAddress, SourceKind, SourceParts, SourceStatus } from './source.js';
export { REJECTION_KINDS, hl7RejectionKind, httpRejectionKind, type RejectionKind } from './rejection-kind.js';
export * from './mllp/index.js';
export * from './http-ingest/index.js';
export { criticalSourceNames, mllpSources, refineSources, SourceConfigSchema, SourcesConfigSchema, type SourceConfig } from './source-config.js';
export * from './database/index.js';
export * from './postgres/index.js';
export * from './mysql/index.js';
export * from './sql-poll/index.js';
export { createSource, type SourceBuildParts } from './create-source.js';
