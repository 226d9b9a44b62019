// The relay's inbound events: what vendors write to a hospital, kept until its
// agent takes them, with the receipts the agent sends back.
export * from './inbound-store.js';
export * from './sqlite-inbound-store.js';
export * from './errors.js';
export * from './inbound-config.js';
export * from './inbound-writer.js';
export * from './inbound-service.js';
export * from './inbound-expiry.js';
export * from './postgres-inbound-store.js';
