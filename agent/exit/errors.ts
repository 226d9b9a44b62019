// Errors of the exit: a tampered export, a signature that does not verify, a fetch
// that failed. Codes and remedies: agent/errors.ts (WL_A032–WL_A035).
import { AgentError, AgentErrorCode } from '../errors.js';

/** A file of an export does not match what the signed manifest says; `file` names it (relative to the export). */
export class ExportTamperedError extends AgentError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`, AgentErrorCode.EXPORT_TAMPERED);
  }
}

/** The manifest's signature does not verify (altered manifest or signature, another key); `file` names the file at fault where it is known. */
export class ExportSignatureError extends AgentError {
  constructor(
    readonly file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, AgentErrorCode.EXPORT_SIGNATURE, options);
  }
}

/** The relay answered UNIMPLEMENTED to Export: it predates export-v1. */
export class ExportRelayTooOldError extends AgentError {
  constructor(readonly address: string) {
    super(`the relay at ${address} does not serve exports (no "export-v1"): ask its operator to upgrade the relay to a Wardline release with the signed export`, AgentErrorCode.EXPORT_RELAY_TOO_OLD);
  }
}

/** Fetching an export failed; nothing that looks whole was left behind. */
export class ExportFetchError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.EXPORT_FETCH, options);
  }
}
