// PostgreSQL schema version 6: sink cursors and publishing leases.
import type { PgMigration } from '../pg-migrations.js';

export const SINKS_SCHEMA: PgMigration = {
  version: 6,
  description: 'sink cursors and publishing leases',
  sql: `
    SELECT 1;
  `,
};
