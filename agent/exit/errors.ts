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

// Restore (restore.ts): refusals before anything is written.

/** The data directory already holds files; `entries` names some of them. */
export class RestoreDataDirInUseError extends AgentError {
  constructor(
    readonly dataDir: string,
    readonly entries: readonly string[],
  ) {
    super(
      `${dataDir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): restoring there would mix two agents; give an empty dataDir, or --force to replace it`,
      AgentErrorCode.RESTORE_DATA_DIR_IN_USE,
    );
  }
}

/** A backup envelope does not decrypt with the keyring; `keyId` is the key it was encrypted with. */
export class RestoreWrongKeysError extends AgentError {
  constructor(
    readonly keyId: string,
    readonly seq: number,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`the backup feed's event ${seq} was encrypted with key ${keyId}, which ${problem}: nothing was restored`, AgentErrorCode.RESTORE_WRONG_KEYS, options);
  }
}

/** The export has no usable backup feed for this config, or an envelope in it is malformed. */
export class RestoreExportUnusableError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.RESTORE_EXPORT_UNUSABLE, options);
  }
}

/** --from-relay could not fetch the export. */
export class RestoreFromRelayError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, AgentErrorCode.RESTORE_FROM_RELAY, options);
  }
}
