// What agent, relay and vendor clients share. Nothing else under protocol/ is public.
export * from './version.js';
export * from './errors.js';
export * from './event.js';
export * from './batch-codec.js';
export * from './service-definitions.js';
export { pb } from './messages.js';
export * from './vendor-event-json.js';
export * from './vendor-event.js';
export * from './certificate-identity.js';
export * from './batch-decision.js';
export * from './names.js';
export * from './imaging-instance.js';
export * from './merkle-tree.js';
export * from './tree-head.js';
export * from './exit-features.js';
export * from './export-format.js';
export * from './inbound.js';
export * from './inbound-json.js';
