// Agent enrolment at the relay: one-time tokens (a port, in relay.db or PostgreSQL) and the POST /v1/enrol service.
export {
  DEFAULT_ENROLMENT_TOKEN_TTL_MS,
  ENROLMENT_TOKEN_PREFIX,
  newEnrolmentToken,
  tokenDigest,
  type EnrolmentTokenStore,
  type IssuedEnrolmentToken,
  type RedeemResult,
} from './enrolment-token-store.js';
export { SqliteEnrolmentTokens } from './sqlite-enrolment-tokens.js';
export { PostgresEnrolmentTokens, type PostgresEnrolmentTokensOptions } from './postgres-enrolment-tokens.js';
export { openEnrolmentTokensOfStore, type OpenedEnrolmentTokens } from './enrolment-tokens-of-store.js';
export { EnrolmentService, EnrolmentTokenError, MAX_ENROL_BODY_BYTES, type EnrolmentResponse } from './enrolment-service.js';
export { EnrolmentConfigSchema, type EnrolmentConfig } from './enrolment-config.js';
