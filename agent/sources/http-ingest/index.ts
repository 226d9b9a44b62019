// The HTTP ingest source: what the agent's router, the composition root and the config may use.
export { HTTP_SOURCE, httpIngestConfigShape } from './http-ingest-config.js';
export {
  commitSlices,
  HttpIngestSource,
  ingestRouteOf,
  INGEST_COMMIT_SLICE_BYTES,
  INGEST_COMMIT_SLICE_ROWS,
  isDiskFull,
  MAX_INGEST_BODY_BYTES,
  type HttpIngestLogger,
  type HttpIngestSourceOptions,
  type HttpIngestStats,
} from './http-ingest-source.js';
export { LocalAppAuth, type LocalAppAccess } from './local-app-auth.js';
export { loadLocalAppCredentials, type IngestLimitsConfig, type LocalAppCredentials } from './local-app-config.js';
