// The relay's optional `inbound:` config section: the ceiling over every
// channel's own body limit, how often never-sent events are expired, and how
// long finished events and their receipts are kept for vendors to read.
import { z } from 'zod';
import { durationSchema } from '../../runtime/index.js';

/** No channel takes a body larger than this, whatever its agent declares, in bytes. */
export const DEFAULT_INBOUND_MAX_BODY_BYTES_CEILING = 1_048_576;
/** How often the expiry sweep runs, in milliseconds. */
export const DEFAULT_INBOUND_EXPIRY_SWEEP_MS = 1_000;
/** How long a finished event (final receipt) and its receipts are kept, in milliseconds (30 days). */
export const DEFAULT_INBOUND_RETAIN_FINAL_MS = 30 * 24 * 60 * 60 * 1000;
/** The longest a receipts read may wait for one to arrive (`wait=`), in milliseconds. */
export const MAX_RECEIPTS_WAIT_MS = 30_000;
/** Receipts per read when the vendor gives no `limit`, and the most it may ask for. */
export const DEFAULT_RECEIPTS_LIMIT = 100;
export const MAX_RECEIPTS_LIMIT = 1_000;

export const InboundConfigSchema = z.strictObject({
  /** A ceiling over every channel's maxBodyBytes; a body is never read past it. */
  maxBodyBytes: z.int().positive().max(64 * 1_048_576).default(DEFAULT_INBOUND_MAX_BODY_BYTES_CEILING),
  expirySweepMs: durationSchema({ minMs: 50 }).default(DEFAULT_INBOUND_EXPIRY_SWEEP_MS),
  retainFinalFor: durationSchema({ minMs: 1_000 }).default(DEFAULT_INBOUND_RETAIN_FINAL_MS),
});
export type InboundConfig = z.output<typeof InboundConfigSchema>;

/** The section's defaults, for a relay config without `inbound:`. */
export const DEFAULT_INBOUND_CONFIG: InboundConfig = {
  maxBodyBytes: DEFAULT_INBOUND_MAX_BODY_BYTES_CEILING,
  expirySweepMs: DEFAULT_INBOUND_EXPIRY_SWEEP_MS,
  retainFinalFor: DEFAULT_INBOUND_RETAIN_FINAL_MS,
};
