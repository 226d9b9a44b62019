// PostgreSQL schema version 5: relay processes (heartbeats), stream holders and vendor cursors.
import type { PgMigration } from '../pg-migrations.js';

export const PROCESSES_SCHEMA: PgMigration = {
  version: 5,
  description: 'relay processes (heartbeats), stream holders and vendor cursors',
  sql: `
    SELECT 1;
  `,
};
