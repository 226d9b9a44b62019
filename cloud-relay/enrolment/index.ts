// Agent enrolment at the relay: one-time tokens and the POST /v1/enrol service.
export { EnrolmentTokens, DEFAULT_ENROLMENT_TOKEN_TTL_MS, ENROLMENT_TOKEN_PREFIX, type IssuedEnrolmentToken, type RedeemResult } from './enrolment-tokens.js';
export { EnrolmentService, EnrolmentTokenError, MAX_ENROL_BODY_BYTES, type EnrolmentResponse } from './enrolment-service.js';
export { EnrolmentConfigSchema, type EnrolmentConfig } from './enrolment-config.js';
