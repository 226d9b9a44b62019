// The installer's errors.

/**
 * Enrolment with the relay failed. Remedy: check the relay's HTTPS address and CA
 * file; a token refused as used or expired needs a new one from the relay
 * operator (`wardline relay enrol-token --hospital ID`). Re-running install is safe.
 */
export class EnrolmentFailedError extends Error {
  override name = 'EnrolmentFailedError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
