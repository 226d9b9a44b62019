// The `archive:` section of agent.yaml: how long the hospital keeps its DICOM
// instances on the agent. Default forever: the archive is the hospital's own
// copy, and deleting images is a decision the hospital makes, never a default.
import { z } from 'zod';
import { parseDuration } from '../../runtime/index.js';

/** Shortest retention accepted: a day (an instance must outlive its shipping by far). */
export const MIN_ARCHIVE_RETENTION_MS = 86_400_000;

const retentionSchema = z.any().transform((value: unknown, ctx): number | null => {
  if (value === 'forever') return null;
  const ms = typeof value === 'number' ? (Number.isSafeInteger(value) ? value : undefined) : typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined || ms < MIN_ARCHIVE_RETENTION_MS) {
    ctx.addIssue({ code: 'custom', message: 'expected "forever" or a duration of at least a day such as "3650d" (instances older than it are removed once every feed has them acknowledged)' });
    return z.NEVER;
  }
  return ms;
});

export const ArchiveConfigSchema = z.strictObject({
  /** "forever" (default) or a duration: instances taken longer ago are removed once no feed still owes them. */
  retention: retentionSchema.default(null),
});

export type ArchiveConfig = z.output<typeof ArchiveConfigSchema>;
