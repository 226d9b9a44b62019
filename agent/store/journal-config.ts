// The `journal:` section of agent.yaml: how long the journal keeps what every
// feed has acknowledged, how long retransmission keys are kept, and how it is
// trimmed (see journal-trimmer.ts), with the conversion to the trimmer's options.
import { z } from 'zod';
import { durationSchema } from '../../runtime/index.js';
import { DEFAULT_DEDUPE_RETENTION_MS, DEFAULT_JOURNAL_RETENTION_MS, DEFAULT_TRIM_CHUNK_ROWS, DEFAULT_TRIM_INTERVAL_MS, type JournalTrimmerOptions } from './journal-trimmer.js';

export const JournalConfigSchema = z.strictObject({
  /** Events every feed has acknowledged are still kept this long after their commit. */
  retention: durationSchema().default(DEFAULT_JOURNAL_RETENTION_MS),
  /** HL7 / Idempotency-Key retransmission keys are kept this long. */
  dedupeRetention: durationSchema().default(DEFAULT_DEDUPE_RETENTION_MS),
  trimIntervalMs: durationSchema({ minMs: 100 }).default(DEFAULT_TRIM_INTERVAL_MS),
  trimChunkRows: z.number().int().min(100).max(100_000).default(DEFAULT_TRIM_CHUNK_ROWS),
});

export type JournalConfig = z.output<typeof JournalConfigSchema>;

/** The trimmer's options the `journal:` section decides. */
export function journalTrimmerTuning(journal: JournalConfig): Pick<JournalTrimmerOptions, 'retentionMs' | 'dedupeRetentionMs' | 'chunkRows'> {
  return { retentionMs: journal.retention, dedupeRetentionMs: journal.dedupeRetention, chunkRows: journal.trimChunkRows };
}
