// The cloud relay's public surface: what the CLI, the installer, the demo and tests may
// use. Each name is listed; the parts' internals stay behind their own index files.

// Running a relay (`wardline relay`, `wardline demo`, integration tests).
export { startRelay, RELAY_DB_FILE, RELAY_SIGNING_KEY_NAME, type RelayHandle, type StartRelayOptions } from './main.js';
export {
  RelayConfig,
  loadRelayConfig,
  parseRelayConfig,
  type RelayConfigInput,
  DEFAULT_RELAY_ID,
  MIN_SECRET_LENGTH,
} from './config.js';
export { DEFAULT_GRPC_LISTEN, DEFAULT_MIN_PING_INTERVAL_MS, DEFAULT_PING_INTERVAL_MS, DEFAULT_PING_TIMEOUT_MS, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_UNAUTHENTICATED_STREAMS_PER_PEER } from './grpc/index.js';
export { DEFAULT_HTTP_LISTEN } from './http/index.js';
export { RelayServer, DEFAULT_SHUTDOWN_GRACE_MS, type RelayPorts, type RelayServerOptions } from './relay-server.js';
// What GET /v1/status answers (`wardline audit verify` compares the ledger head).
export type { RelayStatus } from './status/index.js';
export type { ConnectedAgent } from './ingest/index.js';
// The vendor feed API's limits and headers, and the gRPC error trailer.
export { DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT } from './feeds/index.js';
export { HIGH_WATER_HEADER, NEXT_AFTER_HEADER, HOSPITAL_HEADER, DICOM_CONTENT_TYPE, IMAGING_SEQ_HEADER, type ImagingListing, type ImagingListingEntry } from './http/index.js';
export { ERROR_CODE_TRAILER } from './grpc/index.js';
// Stable error codes with their remedies, and the base class every relay error extends.
export { RelayErrorCode, RelayError } from './errors.js';
// Certificates (`wardline cert`, the installer's development CA, TLS tests).
export {
  createCertificateAuthority,
  issueServerCertificate,
  issueClientCertificate,
  CertificateAuthorityError,
  CertificateNameError,
  CsrRejectedError,
  type IssuedCertificate,
} from './tls/index.js';
// Enrolment tokens (`wardline relay enrol-token`).
export {
  DEFAULT_ENROLMENT_TOKEN_TTL_MS,
  openEnrolmentTokensOfStore,
  PostgresEnrolmentTokens,
  SqliteEnrolmentTokens,
  type EnrolmentTokenStore,
  type OpenedEnrolmentTokens,
} from './enrolment/index.js';
// The signed export (`wardline relay export`).
export { exportFromDataDir, type DataDirExportOptions, type ExportSummary } from './exit/index.js';
