// The `replication.proofs:` section: how often a feed's window of events is
// closed and compared with the relay's, and how often verified windows are
// checked again (a fault injected at the relay after verification).
import { z } from 'zod';
import { durationSchema } from '../../runtime/index.js';

/** A window closes after this many seqs… */
export const DEFAULT_PROOF_WINDOW_SEQS = 10_000;
/** …or this long after it opened, whichever first (ms). */
export const DEFAULT_PROOF_WINDOW_MS = 60 * 60 * 1000;
/** How often verified windows are compared again (ms). */
export const DEFAULT_PROOF_RECHECK_INTERVAL_MS = 60_000;
/** Verified windows compared again per re-check, round-robin. */
export const DEFAULT_PROOF_RECHECK_WINDOWS = 4;

export const ProofConfigSchema = z.strictObject({
  enabled: z.boolean().default(true),
  windowSeqs: z.number().int().positive().default(DEFAULT_PROOF_WINDOW_SEQS),
  windowMs: durationSchema().default(DEFAULT_PROOF_WINDOW_MS),
  recheckIntervalMs: durationSchema().default(DEFAULT_PROOF_RECHECK_INTERVAL_MS),
  recheckWindows: z.number().int().positive().default(DEFAULT_PROOF_RECHECK_WINDOWS),
});
export type ProofConfig = z.output<typeof ProofConfigSchema>;
