// Errors of the agent's store (agent.db). Codes and remedies: agent/errors.ts.
import { schemaTooNewMessage, type SchemaTooNewDetails } from '../../runtime/index.js';
import { AgentError, AgentErrorCode } from '../errors.js';

/**
 * A reader asked for journal positions that have been trimmed: the relay's
 * high-water mark is below what the agent still holds (a relay restored from an
 * older backup, or a feed added after its streams were trimmed). Sending the
 * next range anyway would silently skip events, so the feed stops instead.
 */
export class JournalTrimmedError extends AgentError {
  constructor(readonly afterSeq: number, readonly oldestRetainedSeq: number, options?: { cause?: unknown }) {
    super(
      `the relay holds up to seq ${afterSeq}, but the journal was trimmed up to seq ${oldestRetainedSeq - 1}: ` +
        `events ${afterSeq + 1}..${oldestRetainedSeq - 1} can no longer be sent; this feed is stopped (restore the relay's data or re-export the feed)`,
      AgentErrorCode.JOURNAL_TRIMMED,
      options,
    );
  }
}

/** agent.db was written by a newer agent; opening it with this one could corrupt it, so the agent does not start. */
export class SchemaTooNewError extends AgentError {
  readonly file: string;
  /** The database's schema version (user_version). */
  readonly found: number;
  /** The newest schema version this agent knows. */
  readonly supported: number;
  constructor(details: SchemaTooNewDetails, options?: { cause?: unknown }) {
    super(schemaTooNewMessage('agent', details), AgentErrorCode.SCHEMA_TOO_NEW, options);
    this.file = details.file;
    this.found = details.found;
    this.supported = details.supported;
  }
}
