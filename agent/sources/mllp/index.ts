// The MLLP source (HL7 v2 over TCP): what others may use.
export { MllpListener } from './mllp-listener.js';
export { MLLP_LIMIT_KEYS, mllpLimitsProblem } from './mllp-limits-config.js';
export type { ControlIdReuse } from './control-id-reuse-log.js';
