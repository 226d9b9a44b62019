// Why an export was refused or failed. Codes and remedies: cloud-relay/errors.ts (WL_EXPORT_*).
import { RelayError, RelayErrorCode } from '../errors.js';

/** The hospital is not one the relay config lists. */
export class ExportUnknownHospitalError extends RelayError {
  constructor(
    readonly hospital: string,
    known: readonly string[],
  ) {
    super(`hospital "${hospital}" is not in hospitals[] of the relay config (it lists: ${known.length ? known.join(', ') : 'none'})`, RelayErrorCode.EXPORT_UNKNOWN_HOSPITAL);
  }
}

/** A feed asked for that the relay holds nothing of for the hospital. */
export class ExportUnknownFeedError extends RelayError {
  constructor(
    readonly hospital: string,
    readonly feed: string,
    held: readonly string[],
    revoked: boolean,
  ) {
    super(
      revoked
        ? `feed "${feed}" of hospital "${hospital}" was revoked: the relay erased its events, there is nothing of it to export`
        : `the relay holds no feed "${feed}" for hospital "${hospital}" (it holds: ${held.length ? held.join(', ') : 'none'})`,
      RelayErrorCode.EXPORT_UNKNOWN_FEED,
    );
  }
}

/** The output directory exists and is not an empty directory. */
export class ExportOutDirError extends RelayError {
  constructor(
    readonly outDir: string,
    why: string,
  ) {
    super(`--out ${outDir}: ${why}; name a new or empty directory`, RelayErrorCode.EXPORT_OUT_DIR);
  }
}

/** A chunk a stored event names is missing or does not match its hash. */
export class ExportBlobDamagedError extends RelayError {
  constructor(
    readonly hospital: string,
    readonly instanceSha256: string,
    why: string,
  ) {
    super(`imaging instance ${instanceSha256} of hospital "${hospital}": ${why}; nothing was exported`, RelayErrorCode.EXPORT_BLOB_DAMAGED);
  }
}

/** No relay database where the config says. */
export class ExportNoDatabaseError extends RelayError {
  constructor(readonly file: string) {
    super(`no relay database at ${file}: has a relay with this config (dataDir) ever started?`, RelayErrorCode.EXPORT_NO_DATABASE);
  }
}
