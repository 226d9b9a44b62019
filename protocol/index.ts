// What agent, relay and vendor clients share. Nothing else under protocol/ is public.
export * from './version.js';
export * from './errors.js';
export * from './event.js';
export * from './batch-codec.js';
export * from './service-definitions.js';
export { pb } from './messages.js';
export * from '../runtime/config-file.js';
export * from '../runtime/config-units.js';
export * from './vendor-event-json.js';
export * from '../runtime/openssl-command.js';
export * from '../runtime/certificate-request.js';
export * from './certificate-identity.js';
export * from '../runtime/pem-file.js';
export * from '../runtime/readiness.js';
export * from '../runtime/json-duplicate-keys.js';
export * from '../runtime/wardline-logger.js';
export * from '../runtime/secret-file-check.js';
export * from '../runtime/private-files.js';
