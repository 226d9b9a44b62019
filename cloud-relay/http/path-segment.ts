// One segment of a request path, decoded and checked against what it must be (a
// feed or hospital name, a DICOM UID), so a route never works on a value it has
// not seen whole: a malformed segment is a 400 that names the parameter.
import { BadRequestError } from '../errors.js';

/**
 * `segment` URL-decoded; throws BadRequestError naming `parameter` when it does
 * not decode or does not match `pattern` (`expected` says what it should be).
 */
export function decodePathSegment(segment: string, parameter: string, pattern: { test(value: string): boolean }, expected: string): string {
  let value: string;
  try {
    value = decodeURIComponent(segment);
  } catch {
    throw new BadRequestError(`${parameter}: not a valid URL path segment: ${JSON.stringify(segment)}`, parameter);
  }
  if (!pattern.test(value)) throw new BadRequestError(`${parameter}: expected ${expected}, got ${JSON.stringify(value)}`, parameter);
  return value;
}
