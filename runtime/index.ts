// What a Wardline process needs from the machine it runs on, for agent and relay
// alike: config files and their units, SQLite migrations, PEM files and openssl,
// private files and secret-file permissions, the logger, readiness checks.
// Nothing here is part of the wire contract (that is protocol/).
export * from './config-file.js';
export * from './config-units.js';
export * from './openssl-command.js';
export * from './certificate-request.js';
export * from './pem-file.js';
export * from './readiness.js';
export * from './json-duplicate-keys.js';
export * from './wardline-logger.js';
export * from './journal-text-line.js';
export * from './log-format.js';
export * from './secret-file-check.js';
export * from './private-files.js';
export * from './part-lifecycle.js';
export * from './sqlite-migrations.js';
export * from './timers.js';
export * from './listen-failure.js';
export * from './minisign.js';
export * from './signing-key-file.js';
export * from './fsync-directory.js';
