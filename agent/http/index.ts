// The agent's HTTP side (router, operator and admin auth, routes): what others may use.
// The composition root builds the server; config parts read the schemas; the CLI and
// installer hash admin passwords.
export { AgentHttpServer } from './agent-http-server.js';
export { RequestGuard, AllowedHostsSchema } from './request-guard.js';
export { AdminConfigSchema, loadAdminCredentials, tokenDigest, type AdminCredentials } from './admin-config.js';
export { HttpTlsSchema, loadHttpTls, type HttpTls } from './http-tls.js';
export { hashPassword } from './admin-password.js';
export { AdminAuth } from './admin-auth.js';
export { OperatorRoutes } from './operator-routes.js';
export { createFeedAdminRoutes, MAX_REASON_LENGTH, type AdminRequest, type AdminRequestHandler, type AdminResponse } from './feed-control-routes.js';
export { createInboundRoutes, type InboundRoutesOptions, type InboundControlTarget } from './inbound-routes.js';
export { BodyTooLargeError } from './errors.js';
export { sendError, sendJson } from './json-response.js';
export { readBodyBytes } from './request-body.js';
