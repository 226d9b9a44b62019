// The agent's sources, one folder per kind: what others may use. Each kind's own
// surface is its folder's index.ts; this lists them together for the composition root.
export { MllpListener, MLLP_LIMIT_KEYS, mllpLimitsProblem, type ControlIdReuse } from './mllp/index.js';
export {
  IngestLane,
  IngestRequestError,
  parseIngestRows,
  LocalAppAuth,
  type LocalAppAccess,
  DEFAULT_MAX_INGEST_BODY_BYTES,
  DEFAULT_MAX_ROWS_PER_REQUEST,
  DEFAULT_MAX_ROW_BYTES,
  DEFAULT_MAX_ROW_DEPTH,
  loadLocalAppCredentials,
  localAppConfigShape,
  type IngestLimitsConfig,
  type LocalAppCredentials,
} from './http-ingest/index.js';
