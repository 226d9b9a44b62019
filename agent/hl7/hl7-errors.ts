import { AgentError, AgentErrorCode } from '../errors.js';

/**
 * HL7 table 0357 (message error condition codes) as sent in ERR-3, with what the
 * sending system's operator should do about each. Only the codes Wardline emits
 * are listed.
 */
export const Hl7ErrorCode = {
  /** Segment sequence error: the message does not start with MSH, or a line is not a segment. Fix the sender's message layout. */
  SEGMENT_SEQUENCE: '100',
  /** Required field missing (MSH-9, MSH-10, or the field a stream is keyed by). Fill the field on the sender, or change the stream mapping. */
  REQUIRED_FIELD_MISSING: '101',
  /** Data type error, e.g. unusable delimiters in MSH-1/MSH-2. Fix the sender's MSH. */
  DATA_TYPE: '102',
  /** Table value not found, e.g. a character set in MSH-18 the agent cannot decode. Send UTF-8, GB18030 or GBK, or declare the charset correctly. */
  TABLE_VALUE_NOT_FOUND: '103',
  /** Unsupported message type. Map the type in the agent's HL7 mapping. */
  UNSUPPORTED_MESSAGE_TYPE: '200',
  /** Unsupported version id in MSH-12. */
  UNSUPPORTED_VERSION: '203',
  /** Application internal error: the agent could not take the message for a reason of its own (storage, admission, size limit). Check the agent's log and dashboard; resend later. */
  APPLICATION_INTERNAL_ERROR: '207',
} as const;
export type Hl7ErrorCode = (typeof Hl7ErrorCode)[keyof typeof Hl7ErrorCode];

/** The standard text for each code, sent as ERR-3.2 beside the code. */
export const HL7_ERROR_TEXT: Readonly<Record<Hl7ErrorCode, string>> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '203': 'Unsupported version id',
  '207': 'Application internal error',
};

/**
 * Where in a message an error was found, as ERR-2 (v2.5 ERL) reports it. Numbers are
 * 1-based HL7 positions; `sequence` is the occurrence of the segment (the third OBX is 3).
 */
export interface Hl7ErrorLocation {
  segment: string;
  sequence?: number;
  field?: number;
  repetition?: number;
  component?: number;
  subcomponent?: number;
}

/**
 * A message the agent cannot take as sent. The listener answers it with an AE
 * acknowledgement whose ERR segment carries `hl7Code`, `location` and `message`,
 * and goes on serving the connection. Its agent `code` is HL7_REJECTED for every
 * HL7 condition; `hl7Code` says which.
 */
export class Hl7Error extends AgentError {
  /** ERR-4 severity (HL7 table 0516); always "E": the message was not accepted. */
  readonly severity = 'E' as const;
  readonly location: Hl7ErrorLocation | undefined;

  constructor(readonly hl7Code: Hl7ErrorCode, message: string, options: { location?: Hl7ErrorLocation; cause?: unknown } = {}) {
    super(message, AgentErrorCode.HL7_REJECTED, options.cause === undefined ? undefined : { cause: options.cause });
    this.location = options.location;
  }
}

/**
 * A parsed message the stream mapping cannot place: none of its rule's key paths
 * holds a value. Answered AE 101 naming the paths, so the sender's operator knows
 * which field to fill (or the hospital which mapping to change).
 */
export class Hl7MappingError extends Hl7Error {

  constructor(
    /** The message type as received, e.g. "ADT^A01". */
    readonly messageType: string,
    /** The stream the matching rule would have written to. */
    readonly stream: string,
    /** The key paths tried, in order, e.g. ["OBR-3.1", "ORC-3.1"]. */
    readonly keyPaths: readonly string[],
    location?: Hl7ErrorLocation,
  ) {
    super(
      Hl7ErrorCode.REQUIRED_FIELD_MISSING,
      `${messageType} has no value at ${keyPaths.join(' or ')}, which stream "${stream}" is keyed by`,
      location === undefined ? {} : { location },
    );
  }
}
