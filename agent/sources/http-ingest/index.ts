// The local-application HTTP ingest source: what others may use. The HTTP server mounts
// its route; the config reads its limits and credentials.
export { IngestLane } from './ingest-lane.js';
export { IngestRequestError, parseIngestRows } from './ingest-rows.js';
export { LocalAppAuth, type LocalAppAccess } from './local-app-auth.js';
export {
  DEFAULT_MAX_INGEST_BODY_BYTES,
  DEFAULT_MAX_ROWS_PER_REQUEST,
  DEFAULT_MAX_ROW_BYTES,
  DEFAULT_MAX_ROW_DEPTH,
  loadLocalAppCredentials,
  localAppConfigShape,
  type IngestLimitsConfig,
  type LocalAppCredentials,
} from './local-app-config.js';
