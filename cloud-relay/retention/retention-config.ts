import { z } from 'zod';
import { byteSizeSchema, durationSchema } from '../../runtime/index.js';

/** How often the sweeper applies retention to every feed, ms (10 minutes). */
export const DEFAULT_RETENTION_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

/** One feed's limits: events older than maxAge (ms) and the oldest beyond maxBytes are removed; absent = no limit. */
const RetentionLimits = z
  .object({
    maxAge: durationSchema({ minMs: 60_000 }).optional(),
    maxBytes: byteSizeSchema().optional(),
  })
  .strict();

const FeedRetention = RetentionLimits.extend({
  /** Absent = this feed of every hospital. */
  hospital: z.string().min(1).optional(),
  feed: z.string().min(1),
}).strict();

/** relay.yaml `retention:`; absent or empty keeps every event forever. */
export const RetentionConfig = z
  .object({
    default: RetentionLimits.default({}),
    feeds: z.array(FeedRetention).default([]),
    sweepIntervalMs: durationSchema({ minMs: 1_000 }).default(DEFAULT_RETENTION_SWEEP_INTERVAL_MS),
  })
  .strict();

export type RetentionConfig = z.infer<typeof RetentionConfig>;
export type RetentionLimits = z.infer<typeof RetentionLimits>;
