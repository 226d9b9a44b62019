// The bounds an MLLP source puts on its peers, as config keys of a source entry
// (sources[i].maxConnections, ...), with their defaults. See mllp-listener.ts,
// failure mode 9, for what each refusal looks like to a sender.
import { z } from 'zod';
import { byteSizeSchema, durationSchema } from '../../../runtime/index.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../hl7/index.js';
import { DEFAULT_MLLP_MAX_BUFFERED_BYTES, MllpByteBudget } from './mllp-byte-budget.js';
import { DEFAULT_MLLP_IDLE_TIMEOUT_MS, DEFAULT_MLLP_MAX_CONNECTIONS, DEFAULT_MLLP_MAX_SEGMENTS } from './mllp-listener.js';

/** The keys, spread into the MLLP source schema. */
export const MLLP_LIMIT_KEYS = {
  /** Open connections at most; one more is closed on accept. */
  maxConnections: z.number().int().positive().default(DEFAULT_MLLP_MAX_CONNECTIONS),
  /** Bytes held in unfinished and unanswered frames across the source's connections ("64MiB"). */
  maxBufferedBytes: byteSizeSchema().default(DEFAULT_MLLP_MAX_BUFFERED_BYTES),
  /** Segments in one message at most; a longer one is answered AR. */
  maxSegments: z.number().int().positive().default(DEFAULT_MLLP_MAX_SEGMENTS),
  /** A connection with nothing in flight is closed after this long without data ("5m"); 0 never. */
  idleTimeout: durationSchema({ minMs: 0 }).default(DEFAULT_MLLP_IDLE_TIMEOUT_MS),
};

/** What is wrong with a source's limits taken together, naming the keys; undefined when nothing is. */
export function mllpLimitsProblem(source: { maxFrameBytes?: number | undefined; maxBufferedBytes: number }): string | undefined {
  return new MllpByteBudget(source.maxBufferedBytes).problemWith(source.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
}
