// The relay's PostgreSQL schema, in order. Table and column names are those of
// relay.db (cloud-relay/store/migrations.ts and the inbound and blob stores'
// migrations there), with PostgreSQL's types: BLOB → BYTEA, INTEGER → BIGINT,
// 0/1 flags stay integers (SMALLINT). `wardline relay migrate-store` copies
// relay.db into it table by table, so a name kept the same is a copy that
// needs no mapping.
import { latestSchemaVersion } from '../../../runtime/index.js';
import type { PgMigration } from './pg-migrations.js';
import { BLOBS_SCHEMA, ENROLMENT_SCHEMA, FEEDS_SCHEMA, INBOUND_SCHEMA, PROCESSES_SCHEMA, RETENTION_SCHEMA, SIGNING_KEY_SCHEMA, SINKS_SCHEMA, CONSUMERS_SCHEMA } from './schema/index.js';

export const PG_MIGRATIONS: readonly PgMigration[] = [FEEDS_SCHEMA, INBOUND_SCHEMA, BLOBS_SCHEMA, ENROLMENT_SCHEMA, PROCESSES_SCHEMA, SINKS_SCHEMA, SIGNING_KEY_SCHEMA, RETENTION_SCHEMA, CONSUMERS_SCHEMA];

/** The PostgreSQL schema version this build writes. */
export const PG_SCHEMA_VERSION = latestSchemaVersion(PG_MIGRATIONS);
