// What other parts of the agent may use of HL7 v2 handling.
export {
  MLLP_START,
  MLLP_END,
  MLLP_CR,
  DEFAULT_MAX_FRAME_BYTES,
  MllpFrameTooLargeError,
  MllpFramer,
  MLLP_REFUSED_FRAME_HEAD_BYTES,
  frameMllp,
  type MllpFrame,
} from './mllp-framer.js';
export { DEFAULT_HL7_FALLBACK_CHARSET, decodeHl7, encodeHl7, hl7CharsetEncoding, type DecodedHl7 } from './hl7-charset.js';
export {
  Hl7Message,
  STANDARD_DELIMITERS,
  escapeHl7,
  parseHl7Path,
  readHl7Header,
  unescapeHl7,
  type Hl7Delimiters,
  type Hl7Header,
  type Hl7Path,
} from './hl7-message.js';
export { STORED_HL7_CHARSET, needsMsh18Rewrite, rewriteMsh18, type WireCharset } from './msh18-rewrite.js';
export { hl7ContentDigest } from './hl7-content-digest.js';
export { buildAck, formatHl7Timestamp, DEFAULT_ACK_VERSION, type AckCode, type AckError, type AckOptions } from './hl7-ack.js';
export {
  DEFAULT_HL7_MAPPING,
  checkHl7Mapping,
  mergeMapping,
  resolveHl7Route,
  type Hl7MappingRule,
  type Hl7Route,
} from './hl7-stream-mapping.js';
export { HL7_ERROR_TEXT, Hl7Error, Hl7ErrorCode, Hl7MappingError, type Hl7ErrorLocation } from './hl7-errors.js';
