// The one rule for names both programs exchange or show: hospital ids, relay,
// feed, source, vendor, class and window names (up to 64 characters), and
// stream names (up to 128, as they carry an HL7 message type and a suffix).
// Safe in URLs, file names, label values and log lines; no NUL, no slash, no
// space. The relay accepts exactly what an agent can be configured with, and
// a hospital id fits an X.509 common name (ub-common-name is 64).
import { z } from 'zod';

const NAME_BODY = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';
const STREAM_NAME_BODY = '[A-Za-z0-9][A-Za-z0-9._-]{0,127}';

/** Longest hospital id, relay, feed, source, vendor, class or window name, in characters. */
export const NAME_MAX_LENGTH = 64;
/** Longest stream name, in characters. */
export const STREAM_NAME_MAX_LENGTH = 128;

export const NAME_PATTERN = new RegExp(`^${NAME_BODY}$`);
export const STREAM_NAME_PATTERN = new RegExp(`^${STREAM_NAME_BODY}$`);
/** A stream name as a capturing group, for matching one inside a URL path. */
export const STREAM_NAME_GROUP = `(${STREAM_NAME_BODY})`;

export const NAME_RULE = `expected 1-${NAME_MAX_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit`;
export const STREAM_NAME_RULE = `expected a stream name of 1-${STREAM_NAME_MAX_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit`;

/** A hospital id or a relay, feed, source, vendor, class or window name in a config file. */
export const NameSchema = z.string().regex(NAME_PATTERN, { error: NAME_RULE });
/** A stream name in a config file. */
export const StreamNameSchema = z.string().regex(STREAM_NAME_PATTERN, { error: STREAM_NAME_RULE });
