// Errors of the egress ledger and its audit commands. Codes and remedies: agent/errors.ts.
import { AgentError, AgentErrorCode } from '../errors.js';

/** Thrown for a value JSON cannot represent exactly (NaN, Infinity, a function, a bigint); the message names where it is. */
export class CanonicalJsonError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.CANONICAL_JSON, options);
  }
}

/** A line of an export (or a row) that is not a well-formed record; the message says what is wrong with it. */
export class LedgerFormatError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.LEDGER_FORMAT, options);
  }
}

/** Why an agent.db has no ledger the audit commands can read. */
export type LedgerUnavailableReason = 'missing-file' | 'no-ledger';

/** The audit commands were pointed at an agent.db that does not exist, or that no agent with the ledger has opened yet. */
export class LedgerUnavailableError extends AgentError {
  /** reason: missing-file, check dataDir; no-ledger, start the agent once with this version. */
  constructor(readonly file: string, readonly reason: LedgerUnavailableReason) {
    super(
      reason === 'missing-file'
        ? `${file} does not exist: check dataDir in the agent's config`
        : `${file} has no egress ledger: it was last opened by an agent older than the ledger; start the agent once with this version`,
      AgentErrorCode.LEDGER_UNAVAILABLE,
    );
  }
}
