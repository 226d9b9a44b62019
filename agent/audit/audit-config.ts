// The `audit:` section of agent.yaml: how long the egress ledger keeps its
// records (see egress-ledger.ts), never less than six months.
import { z } from 'zod';
import { DEFAULT_AUDIT_RETENTION_DAYS, MIN_AUDIT_RETENTION_DAYS } from './egress-ledger.js';

export const AuditConfigSchema = z.strictObject({
  /** Ledger records are kept at least this many days (the ledger is not trimmed at all today). */
  retentionDays: z
    .number()
    .int()
    .min(MIN_AUDIT_RETENTION_DAYS, `expected at least ${MIN_AUDIT_RETENTION_DAYS} days: egress records are kept at least six months`)
    .default(DEFAULT_AUDIT_RETENTION_DAYS),
});

export type AuditConfig = z.output<typeof AuditConfigSchema>;
