// Errors of bandwidth control. Both are configuration mistakes: the config schema
// turns them into a message naming the key, the value and the file.

/** A rate that cannot be read ("20Mb/s" is ambiguous, "fast" is not a rate). */
export class InvalidRateError extends Error {
  override name = 'InvalidRateError';
  constructor(
    readonly input: string | number,
    message: string,
  ) {
    super(message);
  }
}

/** A time of day or a list of days in a timetable window that cannot be read. */
export class InvalidTimetableError extends Error {
  override name = 'InvalidTimetableError';
  constructor(
    readonly input: unknown,
    message: string,
  ) {
    super(message);
  }
}
