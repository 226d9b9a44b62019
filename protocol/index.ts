// What agent, relay and vendor clients share. Nothing else under protocol/ is public.
export * from './version.js';
export * from './errors.js';
export * from './event.js';
export * from './batch-codec.js';
export * from './service-definitions.js';
export { pb } from './messages.js';
export * from './config-file.js';
export * from './config-units.js';
export * from './vendor-event-json.js';
export * from './openssl-command.js';
export * from './certificate-request.js';
export * from './certificate-identity.js';
export * from './pem-file.js';
export * from './readiness.js';
export * from './json-duplicate-keys.js';
export * from './wardline-logger.js';
export * from './secret-file-check.js';
export * from './private-files.js';
